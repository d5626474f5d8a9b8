// Package nacl holds the network-ACL model: numbered allow/deny entries per
// direction, their validation, and their compilation into first-match lookup
// structures for the dataplane.
//
// Entries are read in ascending rule number and the first match decides
// (spec §4.1); when none matches, the implicit deny decides, shown as rule
// 32767 for IPv4 and 32768 for IPv6 (spec §4.2).
package nacl

import "net/netip"

// Rule numbers with a fixed meaning.
const (
	MinRule          = 1
	MaxRule          = 32766
	ImplicitDenyIPv4 = 32767
	ImplicitDenyIPv6 = 32768
)

// DefaultACLID is the id of the VPC's default network ACL.
const DefaultACLID = "default"

// Entry is one numbered entry of a network ACL.
type Entry struct {
	// Rule is the entry's number, 1..32766.
	Rule int
	// Allow is true for allow, false for deny.
	Allow bool
	// Protocol is an IANA protocol number, or -1 for all.
	Protocol int
	// CIDR is the peer block (source for inbound, destination for
	// outbound), host bits cleared; IPv4 entries never match IPv6 packets.
	CIDR netip.Prefix
	// FromPort..ToPort is the inclusive destination-port range for TCP and
	// UDP; 0..65535 means all.
	FromPort, ToPort int
	// ICMPType and ICMPCode restrict ICMP/ICMPv6 entries; -1 means any.
	ICMPType, ICMPCode int
	// Line is the line in the source file that defined the entry.
	Line int
}

// ACL is a network ACL.
type ACL struct {
	ID      string
	Ingress []Entry
	Egress  []Entry
	Line    int
}

// ImplicitDeny returns the rule number AWS shows for the catch-all deny of
// the given IP family (4 or 6).
func ImplicitDeny(family int) int {
	if family == 6 {
		return ImplicitDenyIPv6
	}
	return ImplicitDenyIPv4
}

// The blocks of all IPv4 and all IPv6 addresses.
var (
	AnyIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	AnyIPv6 = netip.MustParsePrefix("::/0")
)

// DefaultEntries returns the entries of AWS's default network ACL in one
// direction: rule 100 allows all IPv4 traffic, and rule 101 all IPv6
// traffic when the VPC has IPv6.
func DefaultEntries(ipv6 bool) []Entry {
	entries := []Entry{{Rule: 100, Allow: true, Protocol: -1, CIDR: AnyIPv4,
		FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}}
	if ipv6 {
		e := entries[0]
		e.Rule, e.CIDR = 101, AnyIPv6
		entries = append(entries, e)
	}
	return entries
}
