package dataplane

import (
	"net/netip"

	"github.com/vpclab/vpclab/lab"
)

// Service addresses that no security group or network ACL filters
// (spec §6), beside each subnet's four reserved addresses.
var fixedServiceAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.253"), // Amazon DNS
	netip.MustParseAddr("fd00:ec2::253"),
	netip.MustParseAddr("169.254.169.254"), // instance metadata
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("169.254.169.123"), // Amazon Time Sync
	netip.MustParseAddr("fd00:ec2::123"),
	netip.MustParseAddr("169.254.170.2"),   // ECS task metadata
	netip.MustParseAddr("169.254.169.250"), // Windows license activation
	netip.MustParseAddr("169.254.169.251"),
}

var (
	limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	unspecified4     = netip.AddrFrom4([4]byte{})
)

var linkLocal4 = netip.MustParsePrefix("169.254.0.0/16")
var linkLocal6 = netip.MustParsePrefix("fe80::/10")

// serviceAddrs returns every exempt service address of a lab: the fixed
// ones and the DNS server at the VPC's base + 2.
func serviceAddrs(l *lab.Lab) []netip.Addr {
	dns := l.VPC.CIDR.Masked().Addr().Next().Next()
	return append([]netip.Addr{dns}, fixedServiceAddrs...)
}

// IsServiceAddr reports whether a is one of the snapshot's VPC service
// addresses (including each subnet's reserved addresses).
func (s *Snapshot) IsServiceAddr(a netip.Addr) bool {
	d, ok := s.dests.get(a)
	return ok && d.kind == destService
}

// isDHCP reports whether a packet is a DHCP client message to the limited
// broadcast address (the other DHCP destination, the router, is a
// service address already).
func isDHCPBroadcast(proto uint8, sport, dport uint16) bool {
	return proto == 17 && sport == 68 && dport == 67
}
