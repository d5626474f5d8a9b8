package aws

import (
	"fmt"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// The lab's maxima of the quotas (lab/doc.go): AWS's, except for rules per
// group, which a lab raises to 100,000 (and so rules × groups to 16 ×
// 100,000).
const (
	maxNACLEntries   = 40
	maxSGRules       = 100000
	maxSGsPerENI     = 16
	maxRulesTimesSGs = 1600000
)

// raiseQuotas raises the lab's quotas from AWS's defaults to what the
// imported objects need; an import that needs more than a lab's maxima is
// an error. Counts are per direction and IP family, as a lab counts them:
// a prefix-list rule weighs its list's max entries, a group reference one
// in each family.
func (r *run) raiseQuotas() {
	q := &r.l.Quotas
	var need lab.Quotas
	for _, a := range r.l.NetworkACLs {
		for _, entries := range [][]nacl.Entry{a.Ingress, a.Egress} {
			var n [2]int
			for _, e := range entries {
				n[family(e.CIDR.Addr().Is6())]++
			}
			need.NACLEntries = max(need.NACLEntries, n[0], n[1])
		}
	}
	lists := map[string]*lab.PrefixList{}
	for _, pl := range r.l.PrefixLists {
		lists[pl.ID] = pl
	}
	type weights [2][2]int // direction (ingress, egress) × family
	groupWeight := map[string]weights{}
	for _, g := range r.l.SecurityGroups {
		var w weights
		for dir, rules := range [2][]sg.Rule{g.Ingress, g.Egress} {
			for _, rule := range rules {
				rw := ruleWeight(rule, lists)
				w[dir][0] += rw[0]
				w[dir][1] += rw[1]
			}
			need.SGRules = max(need.SGRules, w[dir][0], w[dir][1])
		}
		groupWeight[g.ID] = w
	}
	for _, e := range r.l.Interfaces() {
		need.SGsPerENI = max(need.SGsPerENI, len(e.SecurityGroups))
		var total weights
		for _, id := range e.SecurityGroups {
			w := groupWeight[id]
			for dir := range w {
				for fam := range w[dir] {
					total[dir][fam] += w[dir][fam]
					need.RulesTimesSGs = max(need.RulesTimesSGs, total[dir][fam])
				}
			}
		}
	}
	for _, c := range []struct {
		what      string
		quota     *int
		need, max int
	}{
		{"network ACL entries per direction and family", &q.NACLEntries, need.NACLEntries, maxNACLEntries},
		{"security group rules per direction and family", &q.SGRules, need.SGRules, maxSGRules},
		{"security groups per interface", &q.SGsPerENI, need.SGsPerENI, maxSGsPerENI},
		{"rules of an interface's groups per direction and family", &q.RulesTimesSGs, need.RulesTimesSGs, maxRulesTimesSGs},
	} {
		if c.need > c.max {
			r.errs.plain = append(r.errs.plain, fmt.Errorf("the VPC needs %d %s: a lab allows at most %d", c.need, c.what, c.max))
		}
		*c.quota = max(*c.quota, min(c.need, c.max))
	}
}

// family indexes per-family counts: 0 for IPv4, 1 for IPv6.
func family(is6 bool) int {
	if is6 {
		return 1
	}
	return 0
}

// ruleWeight is how much a rule counts toward the rule quotas, by family
// (spec §2.4): a CIDR rule once in its family, a group reference once in
// each, a prefix-list rule its list's max entries in each family the list
// holds (both when it is empty).
func ruleWeight(rule sg.Rule, lists map[string]*lab.PrefixList) [2]int {
	var w [2]int
	switch {
	case rule.CIDR.IsValid():
		w[family(rule.CIDR.Addr().Is6())] = 1
	case rule.Group != "":
		w = [2]int{1, 1}
	case lists[rule.PrefixList] != nil:
		pl := lists[rule.PrefixList]
		for _, c := range pl.CIDRs {
			w[family(c.Addr().Is6())] = pl.MaxEntries
		}
		if len(pl.CIDRs) == 0 {
			w = [2]int{pl.MaxEntries, pl.MaxEntries}
		}
	}
	return w
}
