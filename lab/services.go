package lab

import "net/netip"

// Service is one of the VPC's built-in services whose traffic with an ENI
// no security group or network ACL filters (spec §6), with its addresses.
// Each subnet's four reserved addresses (network, router, DNS, reserved)
// are exempt too; Subnet.Reserved lists them.
type Service struct {
	Name  string
	Addrs []netip.Addr
}

// fixedServices are the services at the same addresses in every VPC;
// Amazon DNS also answers at the VPC's base + 2.
var fixedServices = []Service{
	{"Amazon DNS", []netip.Addr{netip.MustParseAddr("169.254.169.253"), netip.MustParseAddr("fd00:ec2::253")}},
	{"instance metadata (IMDS)", []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}},
	{"Amazon Time Sync (NTP)", []netip.Addr{netip.MustParseAddr("169.254.169.123"), netip.MustParseAddr("fd00:ec2::123")}},
	{"ECS task metadata", []netip.Addr{netip.MustParseAddr("169.254.170.2")}},
	{"Windows license activation", []netip.Addr{netip.MustParseAddr("169.254.169.250"), netip.MustParseAddr("169.254.169.251")}},
}

// Services returns the lab's exempt services: Amazon DNS at the VPC's
// base + 2 and its fixed addresses, and the other fixed ones. This is the
// one table of them.
func (l *Lab) Services() []Service {
	out := make([]Service, len(fixedServices))
	copy(out, fixedServices)
	dns := l.VPC.CIDR.Masked().Addr().Next().Next()
	out[0].Addrs = append([]netip.Addr{dns}, out[0].Addrs...)
	return out
}

// Reserved returns the subnet's reserved addresses of each of its blocks:
// the first four (network, router, DNS, reserved), which are exempt, then
// the last (broadcast), which is never delivered.
func (s *Subnet) Reserved() []netip.Addr {
	var out []netip.Addr
	for _, c := range []netip.Prefix{s.CIDR, s.IPv6CIDR} {
		if !c.IsValid() {
			continue
		}
		a := c.Masked().Addr()
		for range 4 {
			out = append(out, a)
			a = a.Next()
		}
	}
	return out
}
