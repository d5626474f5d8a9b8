package lab

import (
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// MaxQuotas are the most a lab file may set each quota to: AWS's, except
// for rules per group, which a lab raises to 100,000 (and so rules × groups
// to 16 × 100,000) so that rule sets at ClassBench scale can be tested,
// and groups per VPC, which AWS raises on request and a lab to 10,000.
var MaxQuotas = Quotas{NACLEntries: 40, SGRules: 100000, SGsPerENI: 16, RulesTimesSGs: 1600000, SGsPerVPC: 10000}

// NeededQuotas returns the smallest quotas l's objects fit, counted as
// Parse counts them (spec §2.4): entries and rules per direction and IP
// family, a prefix-list rule as its list's max entries in each family the
// list holds (both when it is empty), a group reference once in each
// family. Importers raise a lab's quotas to it.
func (l *Lab) NeededQuotas() Quotas {
	var need Quotas
	for _, a := range l.NetworkACLs {
		for _, entries := range [][]nacl.Entry{a.Ingress, a.Egress} {
			var n [2]int
			for _, e := range entries {
				n[family(e.CIDR.Addr())]++
			}
			need.NACLEntries = max(need.NACLEntries, n[0], n[1])
		}
	}
	lists := map[string]*PrefixList{}
	for _, pl := range l.PrefixLists {
		lists[pl.ID] = pl
	}
	type weights [2][2]int // direction (ingress, egress) × family
	byGroup := map[string]weights{}
	for _, g := range l.SecurityGroups {
		var w weights
		for dir, rules := range [2][]sg.Rule{g.Ingress, g.Egress} {
			for _, r := range rules {
				rw := ruleWeight(r, lists[r.PrefixList])
				w[dir][0] += rw[0]
				w[dir][1] += rw[1]
			}
			need.SGRules = max(need.SGRules, w[dir][0], w[dir][1])
		}
		byGroup[g.ID] = w
	}
	for _, e := range l.Interfaces() {
		need.SGsPerENI = max(need.SGsPerENI, len(e.SecurityGroups))
		var total weights
		for _, id := range e.SecurityGroups {
			w := byGroup[id]
			for dir := range w {
				for fam := range w[dir] {
					total[dir][fam] += w[dir][fam]
					need.RulesTimesSGs = max(need.RulesTimesSGs, total[dir][fam])
				}
			}
		}
	}
	need.SGsPerVPC = len(l.SecurityGroups)
	if l.Group(sg.DefaultGroupID) == nil {
		need.SGsPerVPC++ // Parse adds it
	}
	return need
}

// ruleWeight is how much a rule counts toward the rule quotas, by family;
// pl is the rule's prefix list, if it names one the lab has.
func ruleWeight(r sg.Rule, pl *PrefixList) [2]int {
	var w [2]int
	switch {
	case r.CIDR.IsValid():
		w[family(r.CIDR.Addr())] = 1
	case r.Group != "":
		w = [2]int{1, 1}
	case pl != nil:
		for _, c := range pl.CIDRs {
			w[family(c.Addr())] = pl.MaxEntries
		}
		if len(pl.CIDRs) == 0 {
			w = [2]int{pl.MaxEntries, pl.MaxEntries}
		}
	}
	return w
}
