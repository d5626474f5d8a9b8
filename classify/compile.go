package classify

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"slices"
)

// Compile builds the classifier for IP family 4 or 6 from rules in
// priority order. It keeps no reference to rules. It panics if family is
// neither 4 nor 6.
func Compile(family int, rules []Rule) *Classifier {
	if family != 4 && family != 6 {
		panic("classify: Compile: family must be 4 or 6")
	}
	c := &Classifier{family: family, n: len(rules)}

	// spans[i] is rule i's address ranges, nil if the rule can never match.
	spans := make([][]span, len(rules))
	var named [256]bool
	for i, r := range rules {
		if r.Proto < -1 || r.Proto > 255 || r.Lo > r.Hi {
			continue
		}
		for _, p := range r.Prefixes {
			if s, ok := prefixSpan(family, p); ok {
				spans[i] = append(spans[i], s)
			}
		}
		if spans[i] != nil && r.Proto >= 0 {
			named[r.Proto] = true
		}
	}

	// One table per named protocol, and one of the any-protocol rules
	// shared by all other protocols, built only if some protocol uses it:
	// so at most 256 tables, and a uint8 indexes them.
	anyTable := -1
	for p := range 256 {
		if named[p] {
			c.byProto[p] = uint8(len(c.tables))
			c.tables = append(c.tables, buildTable(family, rules, spans, p))
			continue
		}
		if anyTable < 0 {
			anyTable = len(c.tables)
			c.tables = append(c.tables, buildTable(family, rules, spans, -1))
		}
		c.byProto[p] = uint8(anyTable)
	}
	return c
}

// span is an inclusive range of one dimension.
type span struct{ lo, hi u128 }

// prefixSpan returns the addresses of p as a span, if p is a valid prefix
// of the family.
func prefixSpan(family int, p netip.Prefix) (span, bool) {
	if !p.IsValid() || (family == 4) != p.Addr().Is4() {
		return span{}, false
	}
	lo := addrKey(p.Masked().Addr())
	host := lowOnes(p.Addr().BitLen() - p.Bits())
	return span{lo, u128{lo.hi | host.hi, lo.lo | host.lo}}, true
}

// lowOnes returns the number whose n low bits are set (0 <= n <= 128).
func lowOnes(n int) u128 {
	if n >= 64 {
		return u128{hi: 1<<(n-64) - 1, lo: math.MaxUint64}
	}
	return u128{lo: 1<<n - 1}
}

func (a u128) cmp(b u128) int {
	if c := cmp.Compare(a.hi, b.hi); c != 0 {
		return c
	}
	return cmp.Compare(a.lo, b.lo)
}

// buildTable builds the table for packets of protocol proto (-1: a protocol
// no rule names) from the rules that can match them.
func buildTable(family int, rules []Rule, spans [][]span, proto int) table {
	t := table{fixed: -1}
	for i, s := range spans {
		if s != nil && (rules[i].Proto == -1 || rules[i].Proto == proto) {
			t.rules = append(t.rules, int32(i))
		}
	}
	if len(t.rules) == 0 {
		return t // ShapeNone
	}
	t.fixed = varies
	b := newBuilder(len(t.rules))
	t.shape = ShapeWord
	if len(b.cur) > 1 {
		t.shape, t.sumWords = ShapeBitmap, len(b.sum)
	}
	b.sumWords = t.sumWords

	addrMax := u128{lo: math.MaxUint32}
	if family == 6 {
		addrMax = u128{math.MaxUint64, math.MaxUint64}
	}
	var ev []event
	for j, i := range t.rules {
		for _, s := range spans[i] {
			ev = addSpan(ev, j, s, addrMax)
		}
	}
	starts, sets := b.sweep(ev)
	t.addrSet = sets
	if family == 4 {
		t.addr4 = make([]uint32, len(starts))
		for i, s := range starts {
			t.addr4[i] = uint32(s.lo)
		}
	} else {
		t.addr6 = slices.Clone(starts)
	}

	ev = ev[:0]
	for j, i := range t.rules {
		r := &rules[i]
		ev = addSpan(ev, j, span{u128{lo: uint64(r.Lo)}, u128{lo: uint64(r.Hi)}}, u128{lo: math.MaxUint16})
	}
	starts, t.valSet = b.sweep(ev)
	t.val = make([]uint16, len(starts))
	for i, s := range starts {
		t.val[i] = uint16(s.lo)
	}
	t.pool = slices.Clone(b.pool)
	t.index()

	for j, i := range t.rules {
		if !rules[i].Mark {
			continue
		}
		if t.shape == ShapeWord {
			t.markWord |= 1 << j
			continue
		}
		if t.markBits == nil {
			t.markSum, t.markBits = make([]uint64, t.sumWords), make([]uint64, len(b.cur))
		}
		t.markBits[j/64] |= 1 << (j % 64)
		t.markSum[j/64/64] |= 1 << (j / 64 % 64)
	}
	if t.shape == ShapeBitmap && t.markBits == nil {
		t.markSum = make([]uint64, t.sumWords) // no marked rule: anyMarked visits nothing
	}
	if len(t.addrSet) == 1 && len(t.valSet) == 1 {
		// The same answer for every packet: Match need not search.
		var fixed int
		a, v := t.pool[t.addrSet[0]:], t.pool[t.valSet[0]:]
		if t.shape == ShapeWord {
			fixed = -1
			if m := a[0] & v[0]; m != 0 {
				fixed = int(t.rules[bits.TrailingZeros64(m)])
				t.fixedMarked = m&t.markWord != 0
			}
		} else if fixed = t.matchBitmap(a, v); fixed >= 0 {
			t.fixedMarked = t.anyMarked(a, v)
		}
		t.fixed = int32(fixed)
	}
	return t
}

// Dimensions at least this long are indexed (table.idx4, table.idxVal).
const (
	indexAddrMin = 64
	indexValMin  = 32
)

// index builds the indexes of the table's long dimensions: about one entry
// per 8 to 16 address intervals (a cache line of them; at most 2^16
// entries), one per 256 values. A finer address index saves a probe or two
// but, larger, costs more cache misses than it saves when the first packet
// runs with conntrack's tables in the caches.
func (t *table) index() {
	if n := len(t.addr4); n >= indexAddrMin {
		k := min(bits.Len(uint(n))-4, 16)
		t.idx4Bits = uint8(k)
		t.idx4 = make([]uint32, 1<<k+1)
		for h := range 1 << k {
			t.idx4[h] = uint32(search(t.addr4, uint32(h)<<(32-k)))
		}
		t.idx4[1<<k] = uint32(n - 1)
	}
	if n := len(t.val); n >= indexValMin {
		t.idxVal = make([]uint16, 257)
		for h := range 256 {
			t.idxVal[h] = uint16(search(t.val, uint16(h)<<8))
		}
		t.idxVal[256] = uint16(n - 1)
	}
}

// event opens (at the span's first point) or closes (one past its last)
// a span of the table's rule number rule.
type event struct {
	at   u128
	rule int32
	open bool
}

// addSpan appends the events of rule's span s in a dimension whose last
// point is max; a span that runs to max never closes.
func addSpan(ev []event, rule int, s span, max u128) []event {
	ev = append(ev, event{s.lo, int32(rule), true})
	if s.hi != max {
		next := u128{s.hi.hi, s.hi.lo + 1}
		if next.lo == 0 {
			next.hi++
		}
		ev = append(ev, event{next, int32(rule), false})
	}
	return ev
}

// builder sweeps the dimensions of one table and keeps their rule sets,
// deduplicated, in one pool.
type builder struct {
	cur      []uint64 // the set at the sweep's position, one bit per rule
	sum      []uint64 // one bit per non-zero word of cur
	count    []int32  // per rule, how many of its spans hold the position
	sumWords int      // summary words stored per set; 0 in ShapeWord
	pool     []uint64
	seen     map[string]uint32 // encoded set → its offset in pool
	enc      []uint64          // scratch: the encoded set
	key      []byte            // scratch: enc as bytes
}

func newBuilder(rules int) *builder {
	words := (rules + 63) / 64
	return &builder{
		cur:   make([]uint64, words),
		sum:   make([]uint64, (words+63)/64),
		count: make([]int32, rules),
		seen:  make(map[string]uint32),
	}
}

// sweep cuts a dimension at the events' points into intervals and returns
// each interval's first point and the offset of its rule set in the pool.
// The first interval starts at 0; neighbours never have equal sets.
func (b *builder) sweep(ev []event) (starts []u128, sets []uint32) {
	slices.SortFunc(ev, func(x, y event) int { return x.at.cmp(y.at) })
	clear(b.cur)
	clear(b.sum)
	clear(b.count)
	var at u128
	for i := 0; ; {
		for ; i < len(ev) && ev[i].at == at; i++ {
			b.apply(ev[i])
		}
		if set := b.intern(); len(sets) == 0 || sets[len(sets)-1] != set {
			starts = append(starts, at)
			sets = append(sets, set)
		}
		if i == len(ev) {
			return starts, slices.Clone(sets)
		}
		at = ev[i].at
	}
}

// apply updates the current set for one event. A rule's spans may
// overlap, so a rule leaves the set only when its last span closes.
func (b *builder) apply(e event) {
	w, bit := e.rule/64, uint64(1)<<(e.rule%64)
	if e.open {
		if b.count[e.rule]++; b.count[e.rule] == 1 {
			b.cur[w] |= bit
			b.sum[w/64] |= 1 << (w % 64)
		}
		return
	}
	if b.count[e.rule]--; b.count[e.rule] == 0 {
		if b.cur[w] &^= bit; b.cur[w] == 0 {
			b.sum[w/64] &^= 1 << (w % 64)
		}
	}
}

// intern returns the pool offset of the current set, adding it if new.
func (b *builder) intern() uint32 {
	enc := b.enc[:0]
	if b.sumWords == 0 {
		enc = append(enc, b.cur[0])
	} else {
		enc = append(enc, b.sum...)
		for k, s := range b.sum {
			for ; s != 0; s &= s - 1 {
				enc = append(enc, b.cur[k*64+bits.TrailingZeros64(s)])
			}
		}
	}
	key := b.key[:0]
	for _, w := range enc {
		key = binary.LittleEndian.AppendUint64(key, w)
	}
	b.enc, b.key = enc, key
	if off, ok := b.seen[string(key)]; ok {
		return off
	}
	off := uint32(len(b.pool))
	b.pool = append(b.pool, enc...)
	b.seen[string(key)] = off
	return off
}
