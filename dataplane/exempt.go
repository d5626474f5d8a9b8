package dataplane

import (
	"net/netip"

	"github.com/vpclab/vpclab/lab"
)

var (
	limitedBroadcast = netip.AddrFrom4([4]byte{255, 255, 255, 255})
	unspecified4     = netip.AddrFrom4([4]byte{})
)

var linkLocal4 = netip.MustParsePrefix("169.254.0.0/16")
var linkLocal6 = netip.MustParsePrefix("fe80::/10")

// serviceAddrs returns every exempt service address of a lab (lab's
// table), beside each subnet's reserved addresses.
func serviceAddrs(l *lab.Lab) []netip.Addr {
	var out []netip.Addr
	for _, sv := range l.Services() {
		out = append(out, sv.Addrs...)
	}
	return out
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
