package lab

import (
	"cmp"
	"fmt"
	"slices"
)

// This file finds the duplicate instance names and interface ids of a
// lab by sorting, for Check: maps of 60,000 names cost as much memory as
// the lab's model.

// ifaceAt is where an interface is: instance i's interface j.
type ifaceAt struct{ i, j int32 }

// claimSrc is who claims an address: interface f (in validator.ifaces)
// by its primary address (k -1), its secondary address k (k ≥ 0) or its
// IPv6 address -2-k; or, with f -1, internet host k.
type claimSrc struct{ f, k int32 }

// sortedIDs is a set of ids, sorted.
type sortedIDs []string

func (s sortedIDs) has(id string) bool {
	_, ok := slices.BinarySearch(s, id)
	return ok
}

func (s sortedIDs) all() []string { return s }

// firstEqual returns, for each i of n, the least index whose key equals
// i's when it is less than i, else -1, of those that take part (a valid
// name).
func firstEqual(n int, key func(i int) string, takes func(i int) bool) []int32 {
	first := make([]int32, n)
	idx := make([]int32, 0, n)
	for i := range n {
		first[i] = -1
		if takes(i) {
			idx = append(idx, int32(i))
		}
	}
	k := func(i int32) string { return key(int(i)) }
	slices.SortFunc(idx, func(a, b int32) int {
		if c := cmp.Compare(k(a), k(b)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for s := 0; s < len(idx); {
		e := s + 1
		for e < len(idx) && k(idx[e]) == k(idx[s]) {
			first[idx[e]] = idx[s]
			e++
		}
		s = e
	}
	return first
}

// indexInstances finds the duplicate instance names and interface ids,
// as Check's instances section takes them: a name or id counts when it
// is valid, and so does the id eni-<name> a one-interface instance
// implies.
func (v *validator) indexInstances() {
	ins := v.l.Instances
	v.instFirst = firstEqual(len(ins), func(i int) string { return ins[i].Name },
		func(i int) bool { return ins[i].Name != "" && ValidID(ins[i].Name) })
	v.ifaces = v.ifaces[:0]
	for i, in := range ins {
		for j := range in.Interfaces {
			v.ifaces = append(v.ifaces, ifaceAt{int32(i), int32(j)})
		}
	}
	id := func(f int) string { at := v.ifaces[f]; return ins[at.i].Interfaces[at.j].ID }
	counts := func(f int) bool {
		at := v.ifaces[f]
		in := ins[at.i]
		e := in.Interfaces[at.j]
		implied := e.ID == "eni-"+in.Name && ValidID(in.Name)
		return implied || e.ID != "" && ValidID(e.ID)
	}
	v.eniFirst = firstEqual(len(v.ifaces), id, counts)
	v.enis = v.enis[:0]
	for f := range v.ifaces {
		if v.eniFirst[f] < 0 && counts(f) {
			v.enis = append(v.enis, id(f))
		}
	}
	slices.Sort(v.enis)
	v.iface1 = 0
}

// ifaceOf returns interface f of v.ifaces and its path.
func (v *validator) ifaceOf(f int) (*Interface, string) {
	at := v.ifaces[f]
	in := v.l.Instances[at.i]
	e := in.Interfaces[at.j]
	return e, itemPath(itemPath("instances", int(at.i), in.Name)+".interfaces", int(at.j), e.ID)
}

// claimer returns who src is, and where: the owner, line and field of
// the address as Check names them.
func (v *validator) claimer(src claimSrc) (owner string, line int, field string) {
	if src.f < 0 {
		return "internet.hosts", 0, fmt.Sprintf("internet.hosts[%d]", src.k)
	}
	e, path := v.ifaceOf(int(src.f))
	switch {
	case src.k == -1:
		field = path + ".ip"
	case src.k >= 0:
		field = fmt.Sprintf("%s.secondary_ips[%d]", path, src.k)
	default:
		field = fmt.Sprintf("%s.ipv6[%d]", path, -2-src.k)
	}
	return e.ID, e.Line, field
}
