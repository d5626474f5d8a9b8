package change

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// IPPermission is EC2's IpPermission: one protocol and port range, and any
// number of peers, each of which becomes one rule.
type IPPermission struct {
	IPProtocol       string            `json:"IpProtocol"`
	FromPort         *int              `json:"FromPort,omitempty"`
	ToPort           *int              `json:"ToPort,omitempty"`
	IPRanges         []IPRange         `json:"IpRanges,omitempty"`
	IPv6Ranges       []IPv6Range       `json:"Ipv6Ranges,omitempty"`
	PrefixListIDs    []PrefixListID    `json:"PrefixListIds,omitempty"`
	UserIDGroupPairs []UserIDGroupPair `json:"UserIdGroupPairs,omitempty"`
}

// IPRange is an IPv4 peer.
type IPRange struct {
	CidrIP      string `json:"CidrIp"`
	Description string `json:"Description,omitempty"`
}

// IPv6Range is an IPv6 peer.
type IPv6Range struct {
	CidrIPv6    string `json:"CidrIpv6"`
	Description string `json:"Description,omitempty"`
}

// PrefixListID is a prefix-list peer.
type PrefixListID struct {
	PrefixListID string `json:"PrefixListId"`
	Description  string `json:"Description,omitempty"`
}

// UserIDGroupPair is a security-group peer. UserId and VpcId are accepted
// and must be the lab's own when given.
type UserIDGroupPair struct {
	GroupID     string `json:"GroupId"`
	UserID      string `json:"UserId,omitempty"`
	VpcID       string `json:"VpcId,omitempty"`
	Description string `json:"Description,omitempty"`
}

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
	GroupID       string         `json:"GroupId"`
	IPPermissions []IPPermission `json:"IpPermissions"`
	egress        bool
}

func (c *AuthorizeSecurityGroup) Action() string {
	if c.egress {
		return "ec2:AuthorizeSecurityGroupEgress"
	}
	return "ec2:AuthorizeSecurityGroupIngress"
}

func (c *AuthorizeSecurityGroup) Resource() (string, string) { return "security-group", c.GroupID }

func (c *AuthorizeSecurityGroup) apply(l *lab.Lab) (any, error) {
	g, err := group(l, c.GroupID)
	if err != nil {
		return nil, err
	}
	rules, err := permissionRules(l, c.IPPermissions)
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
				return nil, errorf("InvalidPermission.Duplicate", "the specified rule %q already exists in %s (%s)", describeRule(r), g.ID, direction(c.egress))
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
	GroupID              string         `json:"GroupId"`
	IPPermissions        []IPPermission `json:"IpPermissions,omitempty"`
	SecurityGroupRuleIDs []string       `json:"SecurityGroupRuleIds,omitempty"`
	egress               bool
}

func (c *RevokeSecurityGroup) Action() string {
	if c.egress {
		return "ec2:RevokeSecurityGroupEgress"
	}
	return "ec2:RevokeSecurityGroupIngress"
}

func (c *RevokeSecurityGroup) Resource() (string, string) { return "security-group", c.GroupID }

func (c *RevokeSecurityGroup) apply(l *lab.Lab) (any, error) {
	g, err := group(l, c.GroupID)
	if err != nil {
		return nil, err
	}
	if len(c.IPPermissions) == 0 && len(c.SecurityGroupRuleIDs) == 0 {
		return nil, errorf("MissingParameter", "give IpPermissions or SecurityGroupRuleIds: the rules to revoke")
	}
	list := &g.Ingress
	if c.egress {
		list = &g.Egress
	}
	remove := make([]bool, len(*list))
	for _, id := range c.SecurityGroupRuleIDs {
		i := slicesIndex(*list, func(r sg.Rule) bool { return r.ID == id })
		if i < 0 {
			return nil, errorf("InvalidSecurityGroupRuleId.NotFound", "%s has no %s rule %s", g.ID, direction(c.egress), id)
		}
		remove[i] = true
	}
	var rules []sg.Rule
	if len(c.IPPermissions) > 0 {
		if rules, err = permissionRules(l, c.IPPermissions); err != nil {
			return nil, err
		}
	}
	for _, r := range rules {
		i := slicesIndex(*list, func(old sg.Rule) bool { return sameRule(old, r) })
		if i < 0 {
			return nil, errorf("InvalidPermission.NotFound", "%s has no %s rule %q", g.ID, direction(c.egress), describeRule(r))
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

// permissionRules turns IpPermissions into rules, one per peer.
func permissionRules(l *lab.Lab, perms []IPPermission) ([]sg.Rule, error) {
	var rules []sg.Rule
	for i, p := range perms {
		base, err := permissionTraffic(p, i)
		if err != nil {
			return nil, err
		}
		n := len(rules)
		for _, r := range p.IPRanges {
			c, err := cidr(r.CidrIP, false, fmt.Sprintf("IpPermissions[%d].IpRanges.CidrIp", i))
			if err != nil {
				return nil, err
			}
			x := base
			x.CIDR, x.Description = c, r.Description
			rules = append(rules, x)
		}
		for _, r := range p.IPv6Ranges {
			c, err := cidr(r.CidrIPv6, true, fmt.Sprintf("IpPermissions[%d].Ipv6Ranges.CidrIpv6", i))
			if err != nil {
				return nil, err
			}
			x := base
			x.CIDR, x.Description = c, r.Description
			rules = append(rules, x)
		}
		for _, r := range p.PrefixListIDs {
			if l.PrefixList(r.PrefixListID) == nil {
				return nil, errorf("InvalidPrefixListId.NotFound", "IpPermissions[%d]: the prefix list %q does not exist: %s", i, r.PrefixListID,
					oneOf(l.PrefixLists, func(p *lab.PrefixList) string { return p.ID }))
			}
			x := base
			x.PrefixList, x.Description = r.PrefixListID, r.Description
			rules = append(rules, x)
		}
		for _, r := range p.UserIDGroupPairs {
			switch {
			case r.UserID != "" && r.UserID != l.VPC.AccountID:
				return nil, errorf("InvalidParameterValue", "IpPermissions[%d]: group %s of account %s: a lab has one account, %s (groups of peered accounts are not modelled)", i, r.GroupID, r.UserID, l.VPC.AccountID)
			case r.VpcID != "" && r.VpcID != l.VPC.ID:
				return nil, errorf("InvalidParameterValue", "IpPermissions[%d]: group %s of %s: a lab has one VPC, %s", i, r.GroupID, r.VpcID, l.VPC.ID)
			case l.Group(r.GroupID) == nil:
				return nil, errorf("InvalidGroup.NotFound", "IpPermissions[%d]: the security group %q does not exist", i, r.GroupID)
			}
			x := base
			x.Group, x.Description = r.GroupID, r.Description
			rules = append(rules, x)
		}
		if len(rules) == n {
			return nil, errorf("MissingParameter", "IpPermissions[%d] names no peer: give IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs", i)
		}
	}
	if len(perms) == 0 {
		return nil, errorf("MissingParameter", "give IpPermissions")
	}
	return rules, nil
}

// permissionTraffic reads the protocol and ports of a permission as EC2
// does: ports for TCP and UDP, ICMP type in FromPort and code in ToPort.
func permissionTraffic(p IPPermission, i int) (sg.Rule, error) {
	r := sg.Rule{FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}
	proto, ok := protocol(p.IPProtocol)
	if !ok {
		return r, errorf("InvalidParameterValue", "IpPermissions[%d].IpProtocol: %q is not a protocol: use tcp, udp, icmp, icmpv6, -1 or a number 0-255", i, p.IPProtocol)
	}
	r.Protocol = proto
	switch {
	case sg.PortsMatter(proto):
		if p.FromPort == nil || p.ToPort == nil {
			return r, errorf("MissingParameter", "IpPermissions[%d]: %s needs FromPort and ToPort", i, p.IPProtocol)
		}
		from, to := *p.FromPort, *p.ToPort
		if from == -1 && to == -1 {
			from, to = 0, 65535
		}
		if from < 0 || to > 65535 || from > to {
			return r, errorf("InvalidParameterValue", "IpPermissions[%d]: ports %d-%d: use 0-65535, FromPort not above ToPort", i, from, to)
		}
		r.FromPort, r.ToPort = from, to
	case sg.ICMPMatters(proto):
		if p.FromPort != nil {
			r.ICMPType = *p.FromPort
		}
		if p.ToPort != nil {
			r.ICMPCode = *p.ToPort
		}
		if r.ICMPType < -1 || r.ICMPType > 255 || r.ICMPCode < -1 || r.ICMPCode > 255 || (r.ICMPType == -1 && r.ICMPCode != -1) {
			return r, errorf("InvalidParameterValue", "IpPermissions[%d]: ICMP type %d code %d: each is -1 (any) or 0-255, and any type needs any code", i, r.ICMPType, r.ICMPCode)
		}
	}
	return r, nil
}

// protocol reads EC2's protocol: a name, -1 or a number.
func protocol(s string) (int, bool) {
	switch strings.ToLower(s) {
	case "-1", "all":
		return sg.ProtoAll, true
	case "tcp":
		return sg.ProtoTCP, true
	case "udp":
		return sg.ProtoUDP, true
	case "icmp":
		return sg.ProtoICMP, true
	case "icmpv6":
		return sg.ProtoICMPv6, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}

func protoText(p int) string {
	switch p {
	case sg.ProtoAll:
		return "-1"
	case sg.ProtoTCP:
		return "tcp"
	case sg.ProtoUDP:
		return "udp"
	case sg.ProtoICMP:
		return "icmp"
	case sg.ProtoICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(p)
}

func cidr(s string, v6 bool, field string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		fam := "an IPv4"
		if v6 {
			fam = "an IPv6"
		}
		return netip.Prefix{}, errorf("InvalidParameterValue", "%s: %q is not %s CIDR", field, s, fam)
	}
	return p.Masked(), nil
}

// sameRule reports two rules that allow the same traffic from the same
// peer (EC2's duplicate test; descriptions and ids do not count).
func sameRule(a, b sg.Rule) bool {
	return a.Protocol == b.Protocol && a.FromPort == b.FromPort && a.ToPort == b.ToPort &&
		a.ICMPType == b.ICMPType && a.ICMPCode == b.ICMPCode &&
		a.CIDR == b.CIDR && a.Group == b.Group && a.PrefixList == b.PrefixList
}

func describeRule(r sg.Rule) string {
	s := protoText(r.Protocol)
	switch {
	case sg.PortsMatter(r.Protocol):
		s += " " + strconv.Itoa(r.FromPort) + "-" + strconv.Itoa(r.ToPort)
	case sg.ICMPMatters(r.Protocol):
		s += " type " + strconv.Itoa(r.ICMPType) + " code " + strconv.Itoa(r.ICMPCode)
	}
	switch {
	case r.Group != "":
		return s + " group " + r.Group
	case r.PrefixList != "":
		return s + " prefix list " + r.PrefixList
	}
	return s + " " + r.CIDR.String()
}

func ruleResponse(groupID string, egress bool, r sg.Rule) SecurityGroupRule {
	out := SecurityGroupRule{SecurityGroupRuleID: r.ID, GroupID: groupID, IsEgress: egress,
		IPProtocol: protoText(r.Protocol), FromPort: -1, ToPort: -1, PrefixListID: r.PrefixList,
		ReferencedGroupID: r.Group, Description: r.Description}
	switch {
	case sg.PortsMatter(r.Protocol):
		out.FromPort, out.ToPort = r.FromPort, r.ToPort
	case sg.ICMPMatters(r.Protocol):
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
