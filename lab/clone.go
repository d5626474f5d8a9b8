package lab

import (
	"slices"

	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Clone returns a deep copy of l: changing the copy never changes l.
// (netip values are immutable and copied as they are.)
func (l *Lab) Clone() *Lab {
	c := *l
	c.Subnets = cloneEach(l.Subnets, func(s *Subnet) *Subnet { x := *s; return &x })
	c.NetworkACLs = cloneEach(l.NetworkACLs, func(a *nacl.ACL) *nacl.ACL {
		x := *a
		x.Ingress, x.Egress = slices.Clone(a.Ingress), slices.Clone(a.Egress)
		return &x
	})
	c.PrefixLists = cloneEach(l.PrefixLists, func(p *PrefixList) *PrefixList {
		x := *p
		x.CIDRs = slices.Clone(p.CIDRs)
		return &x
	})
	c.SecurityGroups = cloneEach(l.SecurityGroups, func(g *sg.Group) *sg.Group {
		x := *g
		x.Ingress, x.Egress = slices.Clone(g.Ingress), slices.Clone(g.Egress)
		return &x
	})
	c.Instances = cloneEach(l.Instances, func(in *Instance) *Instance {
		x := *in
		x.Interfaces = cloneEach(in.Interfaces, func(e *Interface) *Interface {
			y := *e
			y.SecondaryIPs, y.IPv6 = slices.Clone(e.SecondaryIPs), slices.Clone(e.IPv6)
			y.SecurityGroups = slices.Clone(e.SecurityGroups)
			return &y
		})
		return &x
	})
	c.Internet.Hosts = slices.Clone(l.Internet.Hosts)
	c.Tags = l.Tags.clone()
	c.FlowLogs = cloneEach(l.FlowLogs, func(f *FlowLog) *FlowLog { x := *f; return &x })
	c.MirrorFilters = cloneEach(l.MirrorFilters, func(f *MirrorFilter) *MirrorFilter {
		x := *f
		x.Ingress, x.Egress = slices.Clone(f.Ingress), slices.Clone(f.Egress)
		return &x
	})
	c.MirrorTargets = cloneEach(l.MirrorTargets, func(t *MirrorTarget) *MirrorTarget { x := *t; return &x })
	c.MirrorSessions = cloneEach(l.MirrorSessions, func(s *MirrorSession) *MirrorSession { x := *s; return &x })
	return &c
}

func cloneEach[T any](s []*T, f func(*T) *T) []*T {
	if s == nil {
		return nil
	}
	out := make([]*T, len(s))
	for i, x := range s {
		out[i] = f(x)
	}
	return out
}
