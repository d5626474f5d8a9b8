package reach

import (
	"net/netip"
	"slices"
)

// blocks cuts the internet (every routed address outside the VPC, of
// family f) into the blocks that the rules of ENI e and its subnet's
// network ACL cannot tell apart: each block is judged at its first
// address and named by its CIDRs.
func (a *analyzer) blocks(e *Endpoint, f int) []addrChoice {
	var prefixes []netip.Prefix
	for _, rs := range a.sgs[e.ENI][fi(f)] {
		for _, r := range rs.rules {
			prefixes = append(prefixes, r.prefixes...)
		}
	}
	for _, ar := range a.acls[e.subnet][fi(f)] {
		for _, en := range ar.entries {
			prefixes = append(prefixes, en.cidr)
		}
	}
	ex := a.exclude[fi(f)]
	prefixes = append(prefixes, ex...)
	zero := netip.IPv4Unspecified()
	if f == 6 {
		zero = netip.IPv6Unspecified()
	}
	cuts := []netip.Addr{zero}
	for _, p := range prefixes {
		p = p.Masked()
		cuts = append(cuts, p.Addr())
		if next := lastAddr(p).Next(); next.IsValid() {
			cuts = append(cuts, next)
		}
	}
	slices.SortFunc(cuts, netip.Addr.Compare)
	cuts = slices.Compact(cuts)
	var out []addrChoice
	for i, c := range cuts {
		if containsAny(ex, c) {
			continue
		}
		var end netip.Addr
		if i+1 < len(cuts) {
			end = cuts[i+1].Prev()
		} else {
			end = lastAddr(netip.PrefixFrom(zero, 0))
		}
		out = append(out, addrChoice{c, rangePrefixes(c, end)})
	}
	return out
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rangePrefixes returns the fewest prefixes covering lo..hi, ascending,
// as strings.
func rangePrefixes(lo, hi netip.Addr) []string {
	var out []string
	for lo.IsValid() && lo.Compare(hi) <= 0 {
		bits := lo.BitLen()
		// the largest block starting at lo that ends at or before hi
		for bits > 0 {
			p := netip.PrefixFrom(lo, bits-1)
			if p.Masked().Addr() != lo || lastAddr(p).Compare(hi) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(lo, bits)
		out = append(out, p.String())
		lo = lastAddr(p).Next()
	}
	return out
}
