package change

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// SecurityGroupRule is EC2's description of one rule, returned by
// authorize calls.
type SecurityGroupRule struct {
	SecurityGroupRuleID string `json:"SecurityGroupRuleId"`
	GroupID             string `json:"GroupId"`
	IsEgress            bool   `json:"IsEgress"`
	IPProtocol          string `json:"IpProtocol"`
	FromPort            int    `json:"FromPort"`
	ToPort              int    `json:"ToPort"`
	CidrIPv4            string `json:"CidrIpv4,omitempty"`
	CidrIPv6            string `json:"CidrIpv6,omitempty"`
	PrefixListID        string `json:"PrefixListId,omitempty"`
	ReferencedGroupID   string `json:"ReferencedGroupId,omitempty"`
	Description         string `json:"Description,omitempty"`
}

// AuthorizeSecurityGroup is AuthorizeSecurityGroupIngress or -Egress.
type AuthorizeSecurityGroup struct {
	call
	ec2.AuthorizeSecurityGroupRequest
	egress bool
}

func (c *AuthorizeSecurityGroup) Resource() (string, string) { return ec2.KindSecurityGroup, c.GroupId }

func (c *AuthorizeSecurityGroup) apply(l *lab.Lab) (any, error) {
	g, err := group(l, c.GroupId)
	if err != nil {
		return nil, err
	}
	perms, err := withShorthand(c.IpPermissions, c.Shorthand)
	if err != nil {
		return nil, err
	}
	rules, err := permissionRules(l, perms)
	if err != nil {
		return nil, err
	}
	list := &g.Ingress
	if c.egress {
		list = &g.Egress
	}
	out := make([]SecurityGroupRule, 0, len(rules))
	for _, r := range rules {
		for _, old := range *list {
			if sameRule(old, r) {
				return nil, errorf("InvalidPermission.Duplicate", "the specified rule %q already exists in %s (%s)", ec2.DescribeRule(r), g.ID, direction(c.egress))
			}
		}
		r.ID = newID("sgr-")
		*list = append(*list, r)
		out = append(out, ruleResponse(g.ID, c.egress, r))
	}
	return map[string]any{"Return": true, "SecurityGroupRules": out}, nil
}

// RevokeSecurityGroup is RevokeSecurityGroupIngress or -Egress: rules named
// by id, or described by IpPermissions.
type RevokeSecurityGroup struct {
	call
	ec2.RevokeSecurityGroupRequest
	egress bool
}

func (c *RevokeSecurityGroup) Resource() (string, string) { return ec2.KindSecurityGroup, c.GroupId }

func (c *RevokeSecurityGroup) apply(l *lab.Lab) (any, error) {
	g, err := group(l, c.GroupId)
	if err != nil {
		return nil, err
	}
	perms, err := withShorthand(c.IpPermissions, c.Shorthand)
	if err != nil {
		return nil, err
	}
	if len(perms) == 0 && len(c.SecurityGroupRuleIds) == 0 {
		return nil, errorf("MissingParameter", "give IpPermissions or SecurityGroupRuleIds: the rules to revoke")
	}
	list := &g.Ingress
	if c.egress {
		list = &g.Egress
	}
	remove := make([]bool, len(*list))
	for _, id := range c.SecurityGroupRuleIds {
		i := slicesIndex(*list, func(r sg.Rule) bool { return RuleID(g.ID, c.egress, r) == id })
		if i < 0 {
			return nil, errorf("InvalidSecurityGroupRuleId.NotFound", "%s has no %s rule %s", g.ID, direction(c.egress), id)
		}
		remove[i] = true
	}
	var rules []sg.Rule
	if len(perms) > 0 {
		if rules, err = permissionRules(l, perms); err != nil {
			return nil, err
		}
	}
	for _, r := range rules {
		i := slicesIndex(*list, func(old sg.Rule) bool { return sameRule(old, r) })
		if i < 0 {
			return nil, errorf("InvalidPermission.NotFound", "%s has no %s rule %q", g.ID, direction(c.egress), ec2.DescribeRule(r))
		}
		remove[i] = true
	}
	kept := (*list)[:0:0]
	for i, r := range *list {
		if !remove[i] {
			kept = append(kept, r)
		}
	}
	*list = kept
	return map[string]any{"Return": true}, nil
}

// withShorthand adds the permission of EC2's older top-level parameters
// (IpProtocol, FromPort, ToPort, CidrIp, SourceSecurityGroupName) to
// perms; the two forms do not mix, as in EC2.
func withShorthand(perms []ec2.IpPermission, s ec2.Shorthand) ([]ec2.IpPermission, error) {
	p, ok := s.Permission()
	switch {
	case !ok:
		return perms, nil
	case len(perms) > 0:
		return nil, errorf("InvalidParameterCombination", "give IpPermissions or IpProtocol/FromPort/ToPort/CidrIp/SourceSecurityGroupName, not both")
	}
	return []ec2.IpPermission{p}, nil
}

func slicesIndex[T any](s []T, f func(T) bool) int {
	for i, x := range s {
		if f(x) {
			return i
		}
	}
	return -1
}

func direction(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

func group(l *lab.Lab, id string) (*sg.Group, error) {
	if id == "" {
		return nil, errorf("MissingParameter", "give GroupId")
	}
	g := l.Group(id)
	if g == nil {
		return nil, errorf("InvalidGroup.NotFound", "the security group %q does not exist: %s", id, oneOf(l.SecurityGroups, func(g *sg.Group) string { return g.ID }))
	}
	return g, nil
}

// permissionRules turns IpPermissions into rules, one per peer, and
// checks that the peers are the lab's.
func permissionRules(l *lab.Lab, perms []ec2.IpPermission) ([]sg.Rule, error) {
	for i, p := range perms {
		for _, r := range p.PrefixListIds {
			if r.PrefixListId != "" && l.PrefixList(r.PrefixListId) == nil {
				return nil, errorf("InvalidPrefixListId.NotFound", "IpPermissions[%d]: the prefix list %q does not exist: %s", i, r.PrefixListId,
					oneOf(l.PrefixLists, func(p *lab.PrefixList) string { return p.ID }))
			}
		}
		for _, r := range p.UserIdGroupPairs {
			switch {
			case r.UserId != "" && r.UserId != l.VPC.AccountID:
				return nil, errorf("InvalidParameterValue", "IpPermissions[%d]: group %s of account %s: a lab has one account, %s (groups of peered accounts are not modelled)", i, r.GroupId, r.UserId, l.VPC.AccountID)
			case r.VpcId != "" && r.VpcId != l.VPC.ID, r.VpcPeeringConnectionId != "":
				return nil, errorf("InvalidParameterValue", "IpPermissions[%d]: group %s of %s: a lab has one VPC, %s", i, r.GroupId, cmp.Or(r.VpcId, r.VpcPeeringConnectionId), l.VPC.ID)
			case r.GroupId != "" && l.Group(r.GroupId) == nil:
				return nil, errorf("InvalidGroup.NotFound", "IpPermissions[%d]: the security group %q does not exist", i, r.GroupId)
			}
		}
	}
	rules, err := ec2.PermissionRules(perms)
	if err != nil {
		return nil, fromEC2(err)
	}
	return rules, nil
}

// sameRule reports two rules that allow the same traffic from the same
// peer (EC2's duplicate test; descriptions and ids do not count).
func sameRule(a, b sg.Rule) bool {
	return a.Protocol == b.Protocol && a.FromPort == b.FromPort && a.ToPort == b.ToPort &&
		a.ICMPType == b.ICMPType && a.ICMPCode == b.ICMPCode &&
		a.CIDR == b.CIDR && a.Group == b.Group && a.PrefixList == b.PrefixList
}

// RuleID is the id of rule r of a group in the direction given: the id
// it has (every rule an API call adds has one), else one derived from
// the group, the direction and what the rule allows, so that a rule of a
// lab file that names no id has one describe calls show and revoke calls
// take, the same for as long as the rule exists.
func RuleID(groupID string, egress bool, r sg.Rule) string {
	if r.ID != "" {
		return r.ID
	}
	h := sha256.Sum256([]byte(groupID + "\x00" + direction(egress) + "\x00" + ec2.DescribeRule(r)))
	return "sgr-" + hex.EncodeToString(h[:9])[:17]
}

// Rule is EC2's description of rule r of a group, in the direction
// given, as DescribeSecurityGroupRules shows it.
func Rule(groupID string, egress bool, r sg.Rule) SecurityGroupRule {
	return ruleResponse(groupID, egress, r)
}

func ruleResponse(groupID string, egress bool, r sg.Rule) SecurityGroupRule {
	out := SecurityGroupRule{SecurityGroupRuleID: RuleID(groupID, egress, r), GroupID: groupID, IsEgress: egress,
		IPProtocol: ec2.APIProtocol(r.Protocol), FromPort: -1, ToPort: -1, PrefixListID: r.PrefixList,
		ReferencedGroupID: r.Group, Description: r.Description}
	switch {
	case ec2.PortsMatter(r.Protocol):
		out.FromPort, out.ToPort = r.FromPort, r.ToPort
	case ec2.ICMPMatters(r.Protocol):
		out.FromPort, out.ToPort = r.ICMPType, r.ICMPCode
	}
	if r.CIDR.IsValid() {
		if r.CIDR.Addr().Is4() {
			out.CidrIPv4 = r.CIDR.String()
		} else {
			out.CidrIPv6 = r.CIDR.String()
		}
	}
	return out
}

// newID returns prefix and 17 random hex digits, as EC2's ids.
func newID(prefix string) string {
	var b [9]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])[:17]
}
