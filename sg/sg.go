// Package sg holds the security-group model: plain rule types as a lab file
// or an AWS API describes them, their validation, and their compilation into
// the per-ENI lookup structures that the dataplane runs.
//
// Security groups only allow (spec §2.1): a packet passes a direction when
// any rule of any group on the ENI allows it. The compiled form answers that
// question, and which rule matched, without scanning rules one by one.
package sg

import (
	"net/netip"

	"github.com/vpclab/vpclab/packet"
)

// Rule is one inbound or outbound rule of a security group. Exactly one of
// CIDR, Group and PrefixList names the peer.
type Rule struct {
	// ID is the rule's id (sgr-…) when the source gave one, else empty.
	ID string
	// Protocol is an IANA protocol number, or -1 for all (EC2's "-1").
	Protocol int
	// FromPort..ToPort is the inclusive destination-port range, used only
	// for TCP and UDP; 0..65535 means all ports.
	FromPort, ToPort int
	// ICMPType and ICMPCode restrict ICMP and ICMPv6 rules; -1 means any.
	// A type of -1 requires a code of -1.
	ICMPType, ICMPCode int
	// CIDR is the peer as an address block, host bits cleared.
	CIDR netip.Prefix
	// Group is the peer as a referenced security group's id.
	Group string
	// PrefixList is the peer as a prefix list's id.
	PrefixList string
	// Description is free text from the source.
	Description string
	// Line is the line in the source file that defined the rule (0 if none).
	Line int
}

// Group is a security group.
type Group struct {
	ID          string
	Description string
	Ingress     []Rule
	Egress      []Rule
	// Line is the line in the source file that defined the group (0 for
	// groups that exist without being written, such as the default group).
	Line int
}

// DefaultGroupID is the id of the VPC's default security group.
const DefaultGroupID = "default"

// PortsMatter reports whether a rule of protocol p restricts ports
// (TCP and UDP only; spec §2.2).
func PortsMatter(p int) bool { return p == packet.ProtoTCP || p == packet.ProtoUDP }

// ICMPMatters reports whether a rule of protocol p restricts ICMP type/code.
func ICMPMatters(p int) bool { return p == packet.ProtoICMP || p == packet.ProtoICMPv6 }

// AnyTraffic returns a rule allowing every protocol, port and ICMP type,
// with no peer set.
func AnyTraffic() Rule {
	return Rule{Protocol: -1, FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}
}

// DefaultEgress returns the outbound rules AWS gives a new group:
// everything to 0.0.0.0/0, and to ::/0 when the VPC has IPv6.
func DefaultEgress(ipv6 bool) []Rule {
	v4 := AnyTraffic()
	v4.CIDR = netip.MustParsePrefix("0.0.0.0/0")
	if !ipv6 {
		return []Rule{v4}
	}
	v6 := AnyTraffic()
	v6.CIDR = netip.MustParsePrefix("::/0")
	return []Rule{v4, v6}
}

// DefaultIngress returns the inbound rule of a VPC's default group, whose
// id is given: everything from the group's own members.
func DefaultIngress(group string) []Rule {
	r := AnyTraffic()
	r.Group = group
	return []Rule{r}
}
