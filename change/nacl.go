package change

import (
	"strings"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
)

// NetworkACLEntry is CreateNetworkAclEntry or ReplaceNetworkAclEntry.
type NetworkACLEntry struct {
	call
	ec2.NetworkAclEntryRequest
	replace bool // ReplaceNetworkAclEntry
}

func (c *NetworkACLEntry) Resource() (string, string) { return ec2.KindNetworkACL, c.NetworkAclId }

func (c *NetworkACLEntry) apply(l *lab.Lab) (any, error) {
	a, err := acl(l, c.NetworkAclId)
	if err != nil {
		return nil, err
	}
	e, err := ec2.Entry(c.NetworkAclEntry, "")
	if err != nil {
		return nil, fromEC2(err)
	}
	list := &a.Ingress
	if c.Egress {
		list = &a.Egress
	}
	i := slicesIndex(*list, func(x nacl.Entry) bool { return x.Rule == c.RuleNumber })
	switch {
	case !c.replace && i >= 0:
		return nil, errorf("NetworkAclEntryAlreadyExists", "%s already has %s rule %d: replace it with ReplaceNetworkAclEntry", a.ID, direction(c.Egress), c.RuleNumber)
	case c.replace && i < 0:
		return nil, errorf("InvalidNetworkAclEntry.NotFound", "%s has no %s rule %d to replace", a.ID, direction(c.Egress), c.RuleNumber)
	case i >= 0:
		(*list)[i] = e
	default:
		*list = append(*list, e)
	}
	return map[string]any{"Return": true}, nil
}

// DeleteNetworkACLEntry is DeleteNetworkAclEntry.
type DeleteNetworkACLEntry struct {
	call
	ec2.DeleteNetworkAclEntryRequest
}

func (c *DeleteNetworkACLEntry) Resource() (string, string) {
	return ec2.KindNetworkACL, c.NetworkAclId
}

func (c *DeleteNetworkACLEntry) apply(l *lab.Lab) (any, error) {
	a, err := acl(l, c.NetworkAclId)
	if err != nil {
		return nil, err
	}
	if err := ec2.CheckRuleNumber(c.RuleNumber, "RuleNumber"); err != nil {
		return nil, fromEC2(err)
	}
	list := &a.Ingress
	if c.Egress {
		list = &a.Egress
	}
	i := slicesIndex(*list, func(x nacl.Entry) bool { return x.Rule == c.RuleNumber })
	if i < 0 {
		return nil, errorf("InvalidNetworkAclEntry.NotFound", "%s has no %s rule %d", a.ID, direction(c.Egress), c.RuleNumber)
	}
	*list = append((*list)[:i:i], (*list)[i+1:]...)
	return map[string]any{"Return": true}, nil
}

// ReplaceNetworkACLAssociation is ReplaceNetworkAclAssociation. A lab's
// association ids are AssociationID(subnet); SubnetId may be given instead
// (a vpclab extension).
type ReplaceNetworkACLAssociation struct {
	call
	ec2.ReplaceNetworkAclAssociationRequest
}

// AssociationID is the id of the association of a subnet with its ACL.
func AssociationID(subnet string) string { return "aclassoc-" + subnet }

func (c *ReplaceNetworkACLAssociation) Resource() (string, string) {
	return ec2.KindNetworkACL, c.NetworkAclId
}

func (c *ReplaceNetworkACLAssociation) apply(l *lab.Lab) (any, error) {
	subnet := c.SubnetId
	if c.AssociationId != "" {
		s, ok := strings.CutPrefix(c.AssociationId, "aclassoc-")
		if !ok || (subnet != "" && s != subnet) {
			return nil, errorf("InvalidAssociationID.NotFound", "%q is not an association of the lab: they are aclassoc-<subnet id>", c.AssociationId)
		}
		subnet = s
	}
	if subnet == "" {
		return nil, errorf("MissingParameter", "give AssociationId (aclassoc-<subnet id>) or SubnetId")
	}
	s := l.Subnet(subnet)
	if s == nil {
		return nil, errorf("InvalidAssociationID.NotFound", "no subnet %q: %s", subnet, oneOf(l.Subnets, func(s *lab.Subnet) string { return s.ID }))
	}
	if _, err := acl(l, c.NetworkAclId); err != nil {
		return nil, err
	}
	s.NetworkACL = c.NetworkAclId
	return map[string]any{"NewAssociationId": AssociationID(s.ID)}, nil
}

func acl(l *lab.Lab, id string) (*nacl.ACL, error) {
	if id == "" {
		return nil, errorf("MissingParameter", "give NetworkAclId")
	}
	a := l.ACL(id)
	if a == nil {
		return nil, errorf("InvalidNetworkAclID.NotFound", "the network ACL %q does not exist: %s", id, oneOf(l.NetworkACLs, func(a *nacl.ACL) string { return a.ID }))
	}
	return a, nil
}
