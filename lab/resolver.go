package lab

import (
	"net/netip"

	"github.com/vpclab/vpclab/sg"
)

// Resolver answers the security-group compiler's questions about a lab
// (sg.Resolver): a prefix list's blocks, and the private addresses of a
// group's members: every ENI with the group attached, its primary IPv4
// and IPv6 addresses, and its secondary IPv4 addresses when
// Settings.SecondaryIPsInGroupRefs says so (spec §2.2).
type Resolver struct {
	l       *Lab
	members map[string][]netip.Addr
}

// NewResolver returns the resolver of l, which must not change while the
// resolver is in use.
func NewResolver(l *Lab) *Resolver {
	r := &Resolver{l: l, members: map[string][]netip.Addr{}}
	for _, e := range l.Interfaces() {
		addrs := []netip.Addr{e.IP}
		if l.Settings.SecondaryIPsInGroupRefs {
			addrs = append(addrs, e.SecondaryIPs...)
		}
		addrs = append(addrs, e.IPv6...)
		for _, g := range e.SecurityGroups {
			r.members[g] = append(r.members[g], addrs...)
		}
	}
	return r
}

var _ sg.Resolver = (*Resolver)(nil)

// PrefixList returns the blocks of prefix list id (nil if there is none).
func (r *Resolver) PrefixList(id string) []netip.Prefix {
	if p := r.l.PrefixList(id); p != nil {
		return p.CIDRs
	}
	return nil
}

// Members returns the addresses a reference to group matches.
func (r *Resolver) Members(group string) []netip.Addr { return r.members[group] }
