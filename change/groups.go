package change

import (
	"regexp"
	"slices"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// CreateSecurityGroup is EC2's CreateSecurityGroup: a group with no
// inbound rules and AWS's default outbound rules (everything out, to
// ::/0 too when the VPC has IPv6). In a lab a group's name is its id.
type CreateSecurityGroup struct {
	call
	ec2.CreateSecurityGroupRequest
}

func (c *CreateSecurityGroup) Resource() (string, string) {
	return ec2.KindSecurityGroup, c.GroupName
}

// groupName is what a lab id may be (lab's own pattern), and so a group
// name made over the API.
var groupName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (c *CreateSecurityGroup) apply(l *lab.Lab) (any, error) {
	switch {
	case c.GroupName == "":
		return nil, errorf("MissingParameter", "give GroupName")
	case c.Description == "":
		return nil, errorf("MissingParameter", "give GroupDescription (Description)")
	case !groupName.MatchString(c.GroupName):
		return nil, errorf("InvalidParameterValue", "GroupName %q: in a lab a group's name is its id: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", c.GroupName)
	case c.VpcId != "" && c.VpcId != l.VPC.ID:
		return nil, errorf("InvalidVpcID.NotFound", "the VPC %q does not exist: the lab's is %s", c.VpcId, l.VPC.ID)
	case l.Group(c.GroupName) != nil:
		return nil, errorf("InvalidGroup.Duplicate", "the security group %q already exists in %s", c.GroupName, l.VPC.ID)
	}
	l.SecurityGroups = append(l.SecurityGroups, &sg.Group{ID: c.GroupName, Description: c.Description,
		Egress: sg.DefaultEgress(l.VPC.IPv6CIDR.IsValid())})
	if err := tagSpecs(l, c.GroupName, c.TagSpecifications); err != nil {
		return nil, err
	}
	return map[string]any{"GroupId": c.GroupName}, nil
}

// DeleteSecurityGroup is EC2's DeleteSecurityGroup, refused with
// DependencyViolation while an interface has the group or a rule of
// another group names it, and with CannotDelete for the default group.
type DeleteSecurityGroup struct {
	call
	ec2.DeleteSecurityGroupRequest
}

func (c *DeleteSecurityGroup) id() string {
	if c.GroupId != "" {
		return c.GroupId
	}
	return c.GroupName
}

func (c *DeleteSecurityGroup) Resource() (string, string) { return ec2.KindSecurityGroup, c.id() }

func (c *DeleteSecurityGroup) apply(l *lab.Lab) (any, error) {
	if c.GroupId != "" && c.GroupName != "" && c.GroupId != c.GroupName {
		return nil, errorf("InvalidParameterCombination", "give GroupId or GroupName, not both")
	}
	g, err := group(l, c.id())
	if err != nil {
		return nil, err
	}
	if g.ID == sg.DefaultGroupID {
		return nil, errorf("CannotDelete", "the default security group of %s cannot be deleted", l.VPC.ID)
	}
	for _, e := range l.Interfaces() {
		if slices.Contains(e.SecurityGroups, g.ID) {
			return nil, errorf("DependencyViolation", "resource %s has a dependent object: the interface %s (instance %s) has it", g.ID, e.ID, e.Instance)
		}
	}
	for _, o := range l.SecurityGroups {
		if o == g {
			continue
		}
		for _, r := range slices.Concat(o.Ingress, o.Egress) {
			if r.Group == g.ID {
				return nil, errorf("DependencyViolation", "resource %s has a dependent object: a rule of %s names it (%s)", g.ID, o.ID, ec2.DescribeRule(r))
			}
		}
	}
	l.SecurityGroups = slices.DeleteFunc(l.SecurityGroups, func(x *sg.Group) bool { return x == g })
	return map[string]any{"Return": true, "GroupId": g.ID}, nil
}
