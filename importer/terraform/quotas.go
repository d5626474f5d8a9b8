package terraform

import (
	"fmt"

	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// The most a lab file may set each quota to (lab/doc.go).
const (
	maxNACLEntries   = 40
	maxSGRules       = 100000
	maxSGsPerENI     = 16
	maxRulesTimesSGs = 1600000
)

// raiseQuotas raises the lab's quotas, AWS's defaults, to what the
// imported objects need, counting as lab.Parse counts (spec §2.4): rules
// and entries per direction and IP family, a prefix-list rule as its
// list's max entries in each family the list holds, a group reference once
// in each family. A need beyond what a lab allows is an error.
func (b *builder) raiseQuotas() {
	q := &b.l.Quotas
	for _, acl := range b.l.NetworkACLs {
		for _, entries := range [][]nacl.Entry{acl.Ingress, acl.Egress} {
			var n [2]int
			for _, e := range entries {
				n[family(e.CIDR.Addr().Is6())]++
			}
			q.NACLEntries = max(q.NACLEntries, n[0], n[1])
		}
	}
	weights := map[string][2][2]int{} // group → direction → family
	for _, g := range b.l.SecurityGroups {
		var w [2][2]int
		for dir, rules := range [][]sg.Rule{g.Ingress, g.Egress} {
			for _, r := range rules {
				rw := b.weight(r)
				w[dir][0] += rw[0]
				w[dir][1] += rw[1]
			}
			q.SGRules = max(q.SGRules, w[dir][0], w[dir][1])
		}
		weights[g.ID] = w
	}
	for _, e := range b.l.Interfaces() {
		q.SGsPerENI = max(q.SGsPerENI, len(e.SecurityGroups))
		var total [2][2]int
		for _, gid := range e.SecurityGroups {
			w := weights[gid]
			for dir := range w {
				for fam := range w[dir] {
					total[dir][fam] += w[dir][fam]
				}
			}
		}
		for dir := range total {
			q.RulesTimesSGs = max(q.RulesTimesSGs, total[dir][0], total[dir][1])
		}
	}
	limits := []struct {
		need, most int
		what       string
	}{
		{q.NACLEntries, maxNACLEntries, "network ACL entries per direction and family"},
		{q.SGRules, maxSGRules, "security group rules per direction and family"},
		{q.SGsPerENI, maxSGsPerENI, "security groups per interface"},
		{q.RulesTimesSGs, maxRulesTimesSGs, "rules of an interface's groups together, per direction and family"},
	}
	for _, l := range limits {
		if l.need > l.most {
			b.errs = append(b.errs, fmt.Errorf("%s: the state needs %d %s: a lab allows at most %d", b.source, l.need, l.what, l.most))
		}
	}
}

// weight returns how much a rule counts toward the rule quotas, by family
// (IPv4, IPv6), as lab.Parse counts it.
func (b *builder) weight(r sg.Rule) [2]int {
	var w [2]int
	switch {
	case r.CIDR.IsValid():
		w[family(r.CIDR.Addr().Is6())] = 1
	case r.Group != "":
		w = [2]int{1, 1}
	case b.prefixLists[r.PrefixList] != nil:
		pl := b.prefixLists[r.PrefixList]
		for _, c := range pl.CIDRs {
			w[family(c.Addr().Is6())] = pl.MaxEntries
		}
		if len(pl.CIDRs) == 0 {
			w = [2]int{pl.MaxEntries, pl.MaxEntries}
		}
	}
	return w
}

// family indexes per-family counts: 0 for IPv4, 1 for IPv6.
func family(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}
