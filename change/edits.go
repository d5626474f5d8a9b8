package change

import (
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// CreateNetworkAcl is EC2's CreateNetworkAcl: an ACL with no entries of
// its own, so only the implicit denies: it denies everything until
// entries are added.
type CreateNetworkAcl struct {
	call
	ec2.CreateNetworkAclRequest
}

func (c *CreateNetworkAcl) Resource() (string, string) {
	if c.VpcId == "" {
		return ec2.KindVPC, "*"
	}
	return ec2.KindVPC, c.VpcId
}

func (c *CreateNetworkAcl) apply(l *lab.Lab) (any, error) {
	switch {
	case c.VpcId == "":
		return nil, errorf("MissingParameter", "give VpcId")
	case c.VpcId != l.VPC.ID:
		return nil, errorf("InvalidVpcID.NotFound", "the VPC %q does not exist: the lab's is %s", c.VpcId, l.VPC.ID)
	}
	id := newID("acl-")
	l.NetworkACLs = append(l.NetworkACLs, &nacl.ACL{ID: id})
	if err := tagSpecs(l, id, c.TagSpecifications); err != nil {
		return nil, err
	}
	return map[string]any{"NetworkAclId": id}, nil
}

// DeleteNetworkAcl is EC2's DeleteNetworkAcl, refused for the default ACL
// and, with DependencyViolation, while a subnet uses the ACL.
type DeleteNetworkAcl struct {
	call
	ec2.DeleteNetworkAclRequest
}

func (c *DeleteNetworkAcl) Resource() (string, string) { return ec2.KindNetworkACL, c.NetworkAclId }

func (c *DeleteNetworkAcl) apply(l *lab.Lab) (any, error) {
	a, err := acl(l, c.NetworkAclId)
	if err != nil {
		return nil, err
	}
	if a.ID == nacl.DefaultACLID {
		return nil, errorf("InvalidParameterValue", "cannot delete the default network ACL %s", a.ID)
	}
	for _, s := range l.Subnets {
		if s.NetworkACL == a.ID {
			return nil, errorf("DependencyViolation", "the network ACL '%s' has dependencies and cannot be deleted: subnet %s uses it", a.ID, s.ID)
		}
	}
	i := slicesIndex(l.NetworkACLs, func(x *nacl.ACL) bool { return x == a })
	l.NetworkACLs = append(l.NetworkACLs[:i:i], l.NetworkACLs[i+1:]...)
	return map[string]any{"Return": true}, nil
}

// ModifySecurityGroupRules is EC2's ModifySecurityGroupRules: each rule,
// by id, replaced by a new one in the same direction, keeping its id.
type ModifySecurityGroupRules struct {
	call
	ec2.ModifySecurityGroupRulesRequest
}

func (c *ModifySecurityGroupRules) Resource() (string, string) {
	return ec2.KindSecurityGroup, c.GroupId
}

func (c *ModifySecurityGroupRules) apply(l *lab.Lab) (any, error) {
	g, err := group(l, c.GroupId)
	if err != nil {
		return nil, err
	}
	if len(c.SecurityGroupRules) == 0 {
		return nil, errorf("MissingParameter", "give SecurityGroupRules: the rules to modify")
	}
	for i, u := range c.SecurityGroupRules {
		list, j, egress := findRule(g, u.SecurityGroupRuleId)
		if j < 0 {
			return nil, errorf("InvalidSecurityGroupRuleId.NotFound", "SecurityGroupRules[%d]: %s has no rule %s", i, g.ID, u.SecurityGroupRuleId)
		}
		rules, err := permissionRules(l, []ec2.IpPermission{u.SecurityGroupRule.Permission()})
		if err != nil {
			return nil, err
		}
		if len(rules) != 1 {
			return nil, errorf("MissingParameter", "SecurityGroupRules[%d]: give one peer: CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupId", i)
		}
		r := rules[0]
		r.ID = u.SecurityGroupRuleId
		for k, old := range *list {
			if k != j && sameRule(old, r) {
				return nil, errorf("InvalidPermission.Duplicate", "the specified rule %q already exists in %s (%s)", ec2.DescribeRule(r), g.ID, direction(egress))
			}
		}
		(*list)[j] = r
	}
	return map[string]any{"Return": true}, nil
}

// findRule finds the rule of g whose id (RuleID) is id: its list, index
// and direction; index -1 when there is none.
func findRule(g *sg.Group, id string) (*[]sg.Rule, int, bool) {
	if i := slicesIndex(g.Ingress, func(r sg.Rule) bool { return RuleID(g.ID, false, r) == id }); i >= 0 {
		return &g.Ingress, i, false
	}
	if i := slicesIndex(g.Egress, func(r sg.Rule) bool { return RuleID(g.ID, true, r) == id }); i >= 0 {
		return &g.Egress, i, true
	}
	return nil, -1, false
}

// UpdateSecurityGroupRuleDescriptions is EC2's
// UpdateSecurityGroupRuleDescriptionsIngress or -Egress: the rules named
// by id, or matched by IpPermissions, take the descriptions given.
type UpdateSecurityGroupRuleDescriptions struct {
	call
	ec2.UpdateSecurityGroupRuleDescriptionsRequest
	egress bool
}

func (c *UpdateSecurityGroupRuleDescriptions) id() string {
	if c.GroupId != "" {
		return c.GroupId
	}
	return c.GroupName
}

func (c *UpdateSecurityGroupRuleDescriptions) Resource() (string, string) {
	return ec2.KindSecurityGroup, c.id()
}

func (c *UpdateSecurityGroupRuleDescriptions) apply(l *lab.Lab) (any, error) {
	g, err := group(l, c.id())
	if err != nil {
		return nil, err
	}
	if len(c.IpPermissions) == 0 && len(c.SecurityGroupRuleDescriptions) == 0 {
		return nil, errorf("MissingParameter", "give IpPermissions or SecurityGroupRuleDescriptions")
	}
	list := &g.Ingress
	if c.egress {
		list = &g.Egress
	}
	for i, d := range c.SecurityGroupRuleDescriptions {
		j := slicesIndex(*list, func(r sg.Rule) bool { return RuleID(g.ID, c.egress, r) == d.SecurityGroupRuleId })
		if j < 0 {
			return nil, errorf("InvalidSecurityGroupRuleId.NotFound", "SecurityGroupRuleDescriptions[%d]: %s has no %s rule %s", i, g.ID, direction(c.egress), d.SecurityGroupRuleId)
		}
		keepID(g.ID, c.egress, &(*list)[j])
		(*list)[j].Description = d.Description
	}
	rules, err := permissionRules(l, c.IpPermissions)
	if len(c.IpPermissions) == 0 {
		rules, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		j := slicesIndex(*list, func(old sg.Rule) bool { return sameRule(old, r) })
		if j < 0 {
			return nil, errorf("InvalidPermission.NotFound", "%s has no %s rule %q", g.ID, direction(c.egress), ec2.DescribeRule(r))
		}
		keepID(g.ID, c.egress, &(*list)[j])
		(*list)[j].Description = r.Description
	}
	return map[string]any{"Return": true}, nil
}

// keepID fixes a rule's derived id before it changes what the id is
// derived from.
func keepID(groupID string, egress bool, r *sg.Rule) { r.ID = RuleID(groupID, egress, *r) }
