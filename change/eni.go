package change

import (
	"slices"
	"time"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// ModifyNetworkInterfaceAttribute changes one attribute of an interface:
// its security groups (replacing the list), its connection-tracking
// timeouts, or its source/destination check.
type ModifyNetworkInterfaceAttribute struct {
	call
	ec2.ModifyNetworkInterfaceAttributeRequest
}

func (c *ModifyNetworkInterfaceAttribute) Resource() (string, string) {
	return ec2.KindNetworkInterface, c.NetworkInterfaceId
}

// resources are the interface and, when groups are attached, each group:
// attaching a group is acting on it (IAM checks both).
func (c *ModifyNetworkInterfaceAttribute) resources() []Resource {
	out := []Resource{{ec2.KindNetworkInterface, c.NetworkInterfaceId}}
	for _, g := range c.Groups {
		out = append(out, Resource{ec2.KindSecurityGroup, g})
	}
	return out
}

// Attribute names the attribute the request changes ("groups",
// "connection-tracking-specification", "source-dest-check"), or "" when
// it names none or several.
func (c *ModifyNetworkInterfaceAttribute) Attribute() string {
	var names []string
	if c.Groups != nil {
		names = append(names, "groups")
	}
	if c.ConnectionTrackingSpecification != nil {
		names = append(names, "connection-tracking-specification")
	}
	if c.SourceDestCheck != nil {
		names = append(names, "source-dest-check")
	}
	if len(names) != 1 {
		return ""
	}
	return names[0]
}

func (c *ModifyNetworkInterfaceAttribute) apply(l *lab.Lab) (any, error) {
	if c.NetworkInterfaceId == "" {
		return nil, errorf("MissingParameter", "give NetworkInterfaceId")
	}
	e := l.Interface(c.NetworkInterfaceId)
	if e == nil {
		return nil, errorf("InvalidNetworkInterfaceID.NotFound", "the interface %q does not exist: %s", c.NetworkInterfaceId,
			oneOf(l.Interfaces(), func(e *lab.Interface) string { return e.ID }))
	}
	switch c.Attribute() {
	case "groups":
		if len(c.Groups) == 0 {
			return nil, errorf("InvalidParameterValue", "Groups: an interface needs at least one security group")
		}
		for i, g := range c.Groups {
			if l.Group(g) == nil {
				return nil, errorf("InvalidGroup.NotFound", "Groups[%d]: the security group %q does not exist: %s", i, g, oneOf(l.SecurityGroups, func(g *sg.Group) string { return g.ID }))
			}
			if slices.Index(c.Groups, g) < i {
				return nil, errorf("InvalidParameterValue", "Groups[%d]: %s is given twice", i, g)
			}
		}
		e.SecurityGroups = slices.Clone(c.Groups)
	case "connection-tracking-specification":
		s := c.ConnectionTrackingSpecification
		for _, t := range []struct {
			name   string
			v      *int
			dst    *time.Duration
			lo, hi int
		}{
			{"TcpEstablishedTimeout", s.TcpEstablishedTimeout, &e.Conntrack.TCPEstablished, 60, 432000},
			{"UdpStreamTimeout", s.UdpStreamTimeout, &e.Conntrack.UDPStream, 60, 180},
			{"UdpTimeout", s.UdpTimeout, &e.Conntrack.UDP, 30, 60},
		} {
			if t.v == nil {
				continue
			}
			if *t.v < t.lo || *t.v > t.hi {
				return nil, errorf("InvalidParameterValue", "ConnectionTrackingSpecification.%s: %d: use %d-%d seconds", t.name, *t.v, t.lo, t.hi)
			}
			*t.dst = time.Duration(*t.v) * time.Second
		}
	case "source-dest-check":
		e.SourceDestCheck = c.SourceDestCheck.Value
	default:
		return nil, errorf("InvalidParameterCombination", "give exactly one attribute to change: Groups, ConnectionTrackingSpecification or SourceDestCheck")
	}
	return map[string]any{"Return": true}, nil
}
