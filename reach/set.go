package reach

import (
	"slices"
	"strconv"
	"strings"
)

// Range is an inclusive range of the 16-bit match value: destination (or
// source) ports for TCP and UDP, type<<8|code for ICMP and ICMPv6.
type Range struct {
	Lo uint16 `json:"lo"`
	Hi uint16 `json:"hi"`
}

// Set is a set of match values: ascending, disjoint, non-adjacent ranges.
// The zero Set is empty.
type Set []Range

// All is every match value.
var All = Set{{0, 0xffff}}

// normalize sorts and merges ranges into a Set.
func normalize(rs []Range) Set {
	if len(rs) == 0 {
		return nil
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b Range) int { return int(a.Lo) - int(b.Lo) })
	out := Set{rs[0]}
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if uint32(r.Lo) <= uint32(last.Hi)+1 {
			last.Hi = max(last.Hi, r.Hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Union returns s ∪ t.
func (s Set) Union(t Set) Set { return normalize(append(slices.Clone(s), t...)) }

// Intersect returns s ∩ t.
func (s Set) Intersect(t Set) Set {
	var out Set
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := max(s[i].Lo, t[j].Lo), min(s[i].Hi, t[j].Hi)
		if lo <= hi {
			out = append(out, Range{lo, hi})
		}
		if s[i].Hi < t[j].Hi {
			i++
		} else {
			j++
		}
	}
	return out
}

// Minus returns s \ t.
func (s Set) Minus(t Set) Set { return s.Intersect(t.Complement()) }

// Complement returns every value not in s.
func (s Set) Complement() Set {
	var out Set
	next := uint32(0)
	for _, r := range s {
		if uint32(r.Lo) > next {
			out = append(out, Range{uint16(next), r.Lo - 1})
		}
		next = uint32(r.Hi) + 1
	}
	if next <= 0xffff {
		out = append(out, Range{uint16(next), 0xffff})
	}
	return out
}

// Contains reports whether v is in s.
func (s Set) Contains(v uint16) bool {
	i, found := slices.BinarySearchFunc(s, v, func(r Range, v uint16) int {
		switch {
		case r.Hi < v:
			return -1
		case r.Lo > v:
			return 1
		}
		return 0
	})
	_ = i
	return found
}

// Covers reports whether t ⊆ s.
func (s Set) Covers(t Set) bool { return len(t.Minus(s)) == 0 }

// Size returns how many values s holds.
func (s Set) Size() int {
	n := 0
	for _, r := range s {
		n += int(r.Hi) - int(r.Lo) + 1
	}
	return n
}

// Ports writes s as ports: "22", "80,443", "1024-65535", "all".
func (s Set) Ports() string {
	if len(s) == 1 && s[0] == All[0] {
		return "all"
	}
	parts := make([]string, len(s))
	for i, r := range s {
		parts[i] = r.ports()
	}
	return strings.Join(parts, ",")
}

func (r Range) ports() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// ICMP writes s as ICMP types and codes: "8", "8/0", "3/0-4", "all".
func (s Set) ICMP() string {
	if len(s) == 1 && s[0] == All[0] {
		return "all"
	}
	var parts []string
	for _, r := range s {
		parts = append(parts, r.icmp()...)
	}
	return strings.Join(parts, ",")
}

// icmp writes a range of type<<8|code values: whole types as "t" or
// "t1-t2", partial ones as "t/c" or "t/c1-c2".
func (r Range) icmp() []string {
	var out []string
	lo, hi := int(r.Lo), int(r.Hi)
	for lo <= hi {
		t := lo >> 8
		if lo&0xff == 0 && hi >= lo|0xff {
			// whole types from t to the last whole one
			last := t
			for (last+1)<<8|0xff <= hi {
				last++
			}
			if last == t {
				out = append(out, strconv.Itoa(t))
			} else {
				out = append(out, strconv.Itoa(t)+"-"+strconv.Itoa(last))
			}
			lo = (last + 1) << 8
			continue
		}
		end := min(hi, lo|0xff)
		c1, c2 := lo&0xff, end&0xff
		if c1 == c2 {
			out = append(out, strconv.Itoa(t)+"/"+strconv.Itoa(c1))
		} else {
			out = append(out, strconv.Itoa(t)+"/"+strconv.Itoa(c1)+"-"+strconv.Itoa(c2))
		}
		lo = end + 1
	}
	return out
}

// piece is one stretch of a stage's answer over the value space: the
// index of the first rule covering [lo, hi], or -1.
type piece struct {
	lo, hi uint16
	idx    int32
}

// cover is one rule's stretch, in priority order.
type cover struct {
	lo, hi uint16
	idx    int32
}

// firstCover paints the value space with the first (lowest-placed) cover
// of each value, -1 where none covers it, in ascending pieces that span
// 0..65535. It is the classifier's first match, answered for every value
// at once.
func firstCover(cs []cover, out []piece) []piece {
	out = out[:0]
	// gaps are the unpainted stretches, ascending; painted pieces are
	// collected unordered and sorted at the end.
	gaps := []Range{{0, 0xffff}}
	for _, c := range cs {
		if len(gaps) == 0 {
			break
		}
		if c.lo > c.hi {
			continue
		}
		var kept []Range
		for _, g := range gaps {
			if g.Hi < c.lo || g.Lo > c.hi {
				kept = append(kept, g)
				continue
			}
			lo, hi := max(g.Lo, c.lo), min(g.Hi, c.hi)
			out = append(out, piece{lo, hi, c.idx})
			if g.Lo < lo {
				kept = append(kept, Range{g.Lo, lo - 1})
			}
			if g.Hi > hi {
				kept = append(kept, Range{hi + 1, g.Hi})
			}
		}
		gaps = kept
	}
	for _, g := range gaps {
		out = append(out, piece{g.Lo, g.Hi, -1})
	}
	slices.SortFunc(out, func(a, b piece) int { return int(a.lo) - int(b.lo) })
	// merge neighbours with one answer
	w := 0
	for _, p := range out {
		if w > 0 && out[w-1].idx == p.idx && uint32(out[w-1].hi)+1 == uint32(p.lo) {
			out[w-1].hi = p.hi
			continue
		}
		out[w] = p
		w++
	}
	return out[:w]
}

// at returns the answer of pieces ps at value v.
func at(ps []piece, v uint16) int32 {
	i, _ := slices.BinarySearchFunc(ps, v, func(p piece, v uint16) int {
		switch {
		case p.hi < v:
			return -1
		case p.lo > v:
			return 1
		}
		return 0
	})
	return ps[i].idx
}
