package reference

import (
	"net/netip"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

// place is where a packet is routed.
type place int

const (
	toNowhere place = iota
	toENI
	toService
	toInternet
)

// serviceAddrs are the fixed addresses of the VPC services that no security
// group or network ACL filters (§6). The VPC's DNS at base + 2 and each
// subnet's reserved addresses come on top (isServiceAddr).
var serviceAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.253"), // Amazon DNS
	netip.MustParseAddr("fd00:ec2::253"),
	netip.MustParseAddr("169.254.169.254"), // instance metadata (IMDS)
	netip.MustParseAddr("fd00:ec2::254"),
	netip.MustParseAddr("169.254.169.123"), // Amazon Time Sync (NTP)
	netip.MustParseAddr("fd00:ec2::123"),
	netip.MustParseAddr("169.254.170.2"),   // ECS task metadata
	netip.MustParseAddr("169.254.169.250"), // Windows license activation
	netip.MustParseAddr("169.254.169.251"),
}

var (
	limitedBroadcast = netip.MustParseAddr("255.255.255.255")
	linkLocal4       = netip.MustParsePrefix("169.254.0.0/16")
	linkLocal6       = netip.MustParsePrefix("fe80::/10")
)

// route finds where p goes: to an ENI (returned), a VPC service, the
// internet, or nowhere, with the reason (a Code other than CodeNone).
// src is the sending ENI, nil when the packet does not come from one.
func (ev *Evaluator) route(p Packet, src *lab.Interface) (*lab.Interface, place, verdict.Code) {
	l := ev.lab
	// An address of an ENI: primary, secondary or IPv6 (§1).
	for _, e := range l.Interfaces() {
		for _, a := range e.Addrs() {
			if a == p.Dst {
				return e, toENI, verdict.CodeNone
			}
		}
	}
	// A VPC service address (§6).
	if ev.isServiceAddr(p.Dst) {
		return nil, toService, verdict.CodeNone
	}
	// §6: a subnet's last address (broadcast) is reserved and never
	// delivered: a VPC has no broadcast. Reading: the same for the last
	// address of a subnet's IPv6 block, which AWS reserves too.
	for _, s := range l.Subnets {
		for _, block := range []netip.Prefix{s.CIDR, s.IPv6CIDR} {
			if block.IsValid() && lastAddr(block) == p.Dst {
				return nil, toNowhere, verdict.CodeNoBroadcast
			}
		}
	}
	// §6 DHCP: a client's UDP 68 → 67 request to 255.255.255.255 goes to
	// the VPC's DHCP service (the other destination, the router address,
	// is a service address already).
	if p.Dst == limitedBroadcast && src != nil && p.Proto == 17 && p.SrcPort == 68 && p.DstPort == 67 {
		return nil, toService, verdict.CodeNone
	}
	// §8: broadcast and multicast are dropped.
	if p.Dst == limitedBroadcast || p.Dst.IsMulticast() {
		return nil, toNowhere, verdict.CodeNoBroadcast
	}
	// Inside the VPC but nobody's: nothing takes it.
	if ev.inVPC(p.Dst) {
		return nil, toNowhere, verdict.CodeCannotRoute
	}
	// §6 Policy: the rest of 169.254.0.0/16 is link-local and not routed.
	// Reading: fe80::/10, its IPv6 counterpart, likewise.
	if linkLocal4.Contains(p.Dst) || linkLocal6.Contains(p.Dst) {
		return nil, toNowhere, verdict.CodeLinkLocal
	}
	// Anything else lies behind the internet gateway.
	return nil, toInternet, verdict.CodeNone
}

// isServiceAddr reports whether a is the address of a VPC service (§6): the
// fixed ones, the DNS server at the VPC's base + 2, and each subnet's first
// four addresses (network, router, DNS, reserved), IPv4 and IPv6.
func (ev *Evaluator) isServiceAddr(a netip.Addr) bool {
	l := ev.lab
	for _, s := range serviceAddrs {
		if s == a {
			return true
		}
	}
	if l.VPC.CIDR.Masked().Addr().Next().Next() == a {
		return true
	}
	for _, s := range l.Subnets {
		for _, block := range []netip.Prefix{s.CIDR, s.IPv6CIDR} {
			if !block.IsValid() {
				continue
			}
			first := block.Masked().Addr()
			for i := 0; i < 4; i++ {
				if first == a {
					return true
				}
				first = first.Next()
			}
		}
	}
	return false
}

// inVPC reports whether a lies in one of the VPC's blocks.
func (ev *Evaluator) inVPC(a netip.Addr) bool {
	v := ev.lab.VPC
	return v.CIDR.Contains(a) || (v.IPv6CIDR.IsValid() && v.IPv6CIDR.Contains(a))
}

// lastAddr returns the last address of block.
func lastAddr(block netip.Prefix) netip.Addr {
	b := block.Masked().Addr().AsSlice()
	for i := block.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
