// Package classify is the rule-lookup engine that security groups and
// network ACLs compile into. It owns one question: given rules in priority
// order and a packet's protocol, peer address and 16-bit match value
// (destination port, or ICMP type<<8|code), which is the first rule that
// matches? Security groups ask whether any rule matches (the first one will
// do); network ACLs want the first by ascending rule number. Both models
// lower their rules to Rule and keep the index-to-rule mapping themselves.
//
// A Classifier is built once by Compile, is immutable afterwards, and is
// safe for any number of concurrent Match calls without locks. Match does
// not allocate and never scans the rules one by one.
//
// # Design
//
// Rules are partitioned by protocol: each protocol named by some rule gets
// a table of its own rules plus the any-protocol (-1) rules; every other
// protocol shares the table of any-protocol rules. A table is a
// two-dimensional bit-vector classifier (Lakshman and Stiliadis, SIGCOMM
// 1998). Each dimension (peer address, match value) is cut at rule
// boundaries into elementary intervals; each interval carries the set of
// the table's rules that cover it, as a bitset in which bit i is the
// table's i-th rule in priority order. Match finds the address interval and
// the value interval by binary search, ANDs the two sets and returns the
// lowest set bit: the first rule that matches in both dimensions.
//
// Sets are deduplicated, adjacent intervals with equal sets are merged, and
// the representation follows the data (see Shape): a table of at most 64
// rules stores one word per set; a larger table stores a two-level bitmap:
// summary words with one bit per 64-rule word, as in the Aggregated Bit
// Vector scheme (Baboescu and Varghese, SIGCOMM 2001), followed by only the
// non-zero words. Match then visits only the words in which both
// dimensions have rules, and memory grows with the rules that cover each
// interval, not with all the rules.
// A dimension in which every rule covers the whole space has one interval,
// and its search ends before the first probe; a table with one interval in
// both (an allow-all network ACL, an all-traffic rule) keeps its answer and
// is not searched at all. A long dimension has an index by the top bits of
// the address (or value), so that a search starts within a cache line of
// intervals.
//
// Rules may be marked (Rule.Mark): MatchMarked also says whether a marked
// rule matches, from the same two interval sets (security groups mark the
// rules that can make a flow untracked).
package classify

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
)

// Rule is one rule of a classifier. Rules are given in priority order:
// index 0 is the highest priority (for a network ACL, the lowest number).
type Rule struct {
	// Prefixes are the peer address blocks; the rule covers their union.
	// Prefixes of the other family than the classifier's are ignored, and a
	// rule with none of its family never matches. Host bits are ignored.
	Prefixes []netip.Prefix
	// Proto is an IANA protocol number (0..255), or -1 for any protocol.
	// Other values never match.
	Proto int
	// Lo..Hi is the inclusive range of the 16-bit match value: the
	// destination port for TCP and UDP, type<<8|code for ICMP and ICMPv6
	// ("type t, any code" is t<<8..t<<8|255), 0..65535 for anything else.
	// A rule with Lo > Hi never matches.
	Lo, Hi uint16
	// Mark puts the rule in the set MatchMarked asks about (for security
	// groups, the rules whose peer is every address).
	Mark bool
}

// Shape names the lookup structure a classifier uses for one protocol,
// chosen from the rules at Compile time.
type Shape uint8

const (
	// ShapeNone: no rule can match the protocol; Match returns -1 at once.
	ShapeNone Shape = iota
	// ShapeWord: at most 64 rules; each interval's rule set is one word.
	ShapeWord
	// ShapeBitmap: more than 64 rules; each interval's rule set is a
	// two-level bitmap (summary words, then the non-zero words).
	ShapeBitmap
)

// String returns the shape's name: "none", "word" or "bitmap".
func (s Shape) String() string {
	switch s {
	case ShapeNone:
		return "none"
	case ShapeWord:
		return "word"
	case ShapeBitmap:
		return "bitmap"
	}
	return "Shape(" + strconv.Itoa(int(s)) + ")"
}

// Classifier finds the first matching rule for a packet of one IP family.
// Build one with Compile; it is immutable afterwards and safe for
// concurrent use without locks.
type Classifier struct {
	family  int
	n       int
	byProto [256]uint8 // protocol → index in tables; at most 256 tables are built
	tables  []table
}

// table is the classifier for the rules that one protocol can match.
type table struct {
	// fixed is the answer for every address of the family when it does
	// not depend on the address or the value (no rule, or one interval in
	// each dimension: an allow-all ACL, an all-traffic rule), else varies;
	// fixedMarked is MatchMarked's second answer then.
	fixed       int32
	fixedMarked bool
	shape       Shape
	// rules maps a bit position (the table's rule order) to the index of
	// the rule given to Compile.
	rules []int32
	// Address dimension: interval start addresses, ascending, the first
	// one zero; only the one of the classifier's family is set.
	addr4 []uint32
	addr6 []u128
	// Value dimension: interval start values, ascending, the first zero.
	val []uint16
	// Indexes of long dimensions (nil for short ones): idx4[h] is the
	// interval holding the first IPv4 address whose top idx4Bits bits are
	// h (with one entry past the last), so a search starts within a few
	// intervals; idxVal is the same for values, by their top 8 bits.
	idx4     []uint32
	idx4Bits uint8
	idxVal   []uint16
	// addrSet[i] and valSet[i] locate interval i's rule set in pool. In
	// ShapeWord a set is the single word pool[off]; in ShapeBitmap it is
	// sumWords summary words at pool[off:], then one word per summary bit.
	addrSet, valSet []uint32
	pool            []uint64
	sumWords        int
	// The marked rules by bit position: in ShapeWord, markWord; in
	// ShapeBitmap, markSum (one bit per 64-rule word holding a marked
	// rule, as the summaries) and markBits (one word per 64 rules).
	markWord          uint64
	markSum, markBits []uint64
}

// varies is table.fixed for a table whose answer depends on the packet.
const varies = -2

// Len returns the number of rules given to Compile. Match returns indices
// below it.
func (c *Classifier) Len() int { return c.n }

// Shape reports the lookup structure Match uses for packets of protocol
// proto.
func (c *Classifier) Shape(proto uint8) Shape { return c.tables[c.byProto[proto]].shape }

// Match returns the index of the first (lowest-indexed) rule whose Proto is
// -1 or proto, whose prefixes contain addr and whose Lo..Hi contains val,
// or -1 if there is none. An addr of the other family never matches; an
// IPv4 address must be a 4-byte address (netip.AddrFrom4), since an
// IPv4-mapped IPv6 address is IPv6. A zone on addr is ignored.
//
// Match does not allocate and takes no locks.
func (c *Classifier) Match(proto uint8, addr netip.Addr, val uint16) int {
	t := &c.tables[c.byProto[proto]]
	if t.fixed != varies {
		if t.fixed < 0 || !c.ofFamily(addr) {
			return -1
		}
		return int(t.fixed)
	}
	// The searches are written out here (and in MatchMarked), not called:
	// a call would cost more than a short search.
	var ai, vi int
	if c.family == 4 {
		if !addr.Is4() {
			return -1
		}
		a := addr.As4()
		if k := binary.BigEndian.Uint32(a[:]); t.idx4 == nil {
			ai = search(t.addr4, k)
		} else {
			ai = t.searchIndexed4(k)
		}
	} else {
		if !addr.Is6() {
			return -1
		}
		ai = search6(t.addr6, addrKey(addr))
	}
	if t.idxVal == nil {
		vi = search(t.val, val)
	} else {
		vi = t.searchIndexedVal(val)
	}
	oa, ov := t.addrSet[ai], t.valSet[vi]
	if t.shape == ShapeWord {
		m := t.pool[oa] & t.pool[ov]
		if m == 0 {
			return -1
		}
		return int(t.rules[bits.TrailingZeros64(m)])
	}
	return t.matchBitmap(t.pool[oa:], t.pool[ov:])
}

// MatchMarked is Match, and also reports whether any matching rule (the
// first or a later one) is marked (Rule.Mark): one lookup answers both
// questions. It does not allocate and takes no locks. In a table of more
// than 64 rules (ShapeBitmap) a packet that matches but no marked rule
// makes it visit every word the two sets share with a marked rule: with
// many marked rules, a classifier of them alone answers sooner.
func (c *Classifier) MatchMarked(proto uint8, addr netip.Addr, val uint16) (first int, marked bool) {
	t := &c.tables[c.byProto[proto]]
	if t.fixed != varies {
		if t.fixed < 0 || !c.ofFamily(addr) {
			return -1, false
		}
		return int(t.fixed), t.fixedMarked
	}
	var ai, vi int
	if c.family == 4 {
		if !addr.Is4() {
			return -1, false
		}
		a := addr.As4()
		if k := binary.BigEndian.Uint32(a[:]); t.idx4 == nil {
			ai = search(t.addr4, k)
		} else {
			ai = t.searchIndexed4(k)
		}
	} else {
		if !addr.Is6() {
			return -1, false
		}
		ai = search6(t.addr6, addrKey(addr))
	}
	if t.idxVal == nil {
		vi = search(t.val, val)
	} else {
		vi = t.searchIndexedVal(val)
	}
	oa, ov := t.addrSet[ai], t.valSet[vi]
	if t.shape == ShapeWord {
		m := t.pool[oa] & t.pool[ov]
		if m == 0 {
			return -1, false
		}
		return int(t.rules[bits.TrailingZeros64(m)]), m&t.markWord != 0
	}
	a, v := t.pool[oa:], t.pool[ov:]
	first = t.matchBitmap(a, v)
	return first, first >= 0 && t.anyMarked(a, v)
}

// ofFamily reports whether addr is of the classifier's family (a 4-byte
// IPv4 address, or an IPv6 address).
func (c *Classifier) ofFamily(addr netip.Addr) bool {
	if c.family == 4 {
		return addr.Is4()
	}
	return addr.Is6()
}

// anyMarked reports whether the two-level sets a and v have a marked rule
// in common, visiting only the words that hold one.
func (t *table) anyMarked(a, v []uint64) bool {
	s := t.sumWords
	ra, rv := s, s
	for k := range s {
		sa, sv := a[k], v[k]
		for both := sa & sv & t.markSum[k]; both != 0; both &= both - 1 {
			b := bits.TrailingZeros64(both)
			below := uint64(1)<<b - 1
			if a[ra+bits.OnesCount64(sa&below)]&v[rv+bits.OnesCount64(sv&below)]&t.markBits[k*64+b] != 0 {
				return true
			}
		}
		ra += bits.OnesCount64(sa)
		rv += bits.OnesCount64(sv)
	}
	return false
}

// matchBitmap returns the first rule in both two-level sets a and v. The
// summaries say which words are non-zero; ra and rv track where the current
// summary word's packed words start.
func (t *table) matchBitmap(a, v []uint64) int {
	s := t.sumWords
	ra, rv := s, s
	for k := range s {
		sa, sv := a[k], v[k]
		for both := sa & sv; both != 0; both &= both - 1 {
			b := bits.TrailingZeros64(both)
			below := uint64(1)<<b - 1
			if m := a[ra+bits.OnesCount64(sa&below)] & v[rv+bits.OnesCount64(sv&below)]; m != 0 {
				return int(t.rules[(k*64+b)*64+bits.TrailingZeros64(m)])
			}
		}
		ra += bits.OnesCount64(sa)
		rv += bits.OnesCount64(sv)
	}
	return -1
}

// searchIndexed4 is search(t.addr4, a) through the index idx4.
func (t *table) searchIndexed4(a uint32) int {
	h := a >> (32 - t.idx4Bits)
	lo, hi := t.idx4[h], t.idx4[h+1]
	return int(lo) + search(t.addr4[lo:hi+1], a)
}

// searchIndexedVal is search(t.val, v) through the index idxVal.
func (t *table) searchIndexedVal(v uint16) int {
	h := v >> 8
	lo, hi := t.idxVal[h], t.idxVal[h+1]
	return int(lo) + search(t.val[lo:hi+1], v)
}

// search returns the index of the interval holding k: the last i with
// b[i] <= k. b is ascending and b[0] is 0.
func search[K uint16 | uint32](b []K, k K) int {
	lo, n := 0, len(b)
	for n > 1 {
		half := n / 2
		if b[lo+half] <= k {
			lo += half
		}
		n -= half
	}
	return lo
}

// search6 is search for IPv6 addresses.
func search6(b []u128, k u128) int {
	lo, n := 0, len(b)
	for n > 1 {
		half := n / 2
		if m := b[lo+half]; m.hi < k.hi || m.hi == k.hi && m.lo <= k.lo {
			lo += half
		}
		n -= half
	}
	return lo
}

// u128 is an IPv6 address as a 128-bit unsigned integer.
type u128 struct{ hi, lo uint64 }

// addrKey returns addr as a number: an IPv4 address in the low 32 bits,
// an IPv6 address in all 128.
func addrKey(addr netip.Addr) u128 {
	if addr.Is4() {
		a := addr.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(a[:]))}
	}
	a := addr.As16()
	return u128{binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(a[8:])}
}
