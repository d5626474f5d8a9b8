package conntrack

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

const (
	chunkShift = 8
	chunkLen   = 1 << chunkShift // entries per slab chunk: 16 KiB

	// endBit marks the end of a chain: the last link is endBit|bucket, so a
	// reader that strayed into another chain (its entry was recycled under
	// it) notices at the end (Linux's hlist_nulls). Slot indices are below
	// it, and start at 1: slot 0 is never used, so that a zero head means
	// an empty bucket and a new bucket array needs no initialising.
	endBit   = 1 << 31
	noSlot   = endBit // end of the free list
	maxSlots = endBit

	minBuckets = 64
	// presizeBuckets bounds the bucket array a new table starts with:
	// enough for the allowance (at the 3/4 load that starts a doubling),
	// but no more than 16 KiB of heads, which stay in the CPU's caches. A
	// larger array spreads a small table's heads over more cache lines
	// than its flows need: 64 Ki buckets made each head a cache miss in
	// BenchmarkFirstPacket10 (1,000 flows), and a lab of many ENIs would
	// pay for flows it never sees. A table that outgrows it doubles as
	// before.
	presizeBuckets = 1 << 12
	// prefetchBuckets is the smallest bucket array Prefetch and the
	// batch read-ahead read ahead in: some 12 Ki flows, 768 KiB of
	// entries, more than a core's L2.
	prefetchBuckets = 1 << 14

	growStep = 8    // slots each Insert chains into a growing bucket array
	maxSteps = 1024 // a longer walk is taken for interference and restarted

	// refreshGrain: Lookup stores a new last-seen time only when it moved at
	// least this much, so steady traffic does not write the entry per packet.
	refreshGrain = int64(time.Millisecond)

	insertScan  = 8  // slots each Insert examines for expired entries
	reclaimScan = 64 // slots an Insert examines when the allowance is used up
	expireScan  = 16 // slots Expire may examine per entry of its budget
)

// entry is one tracked flow: 64 bytes, one cache line, no pointers. Every
// field is atomic because lock-free readers read it while writers recycle it.
type entry struct {
	// ctl is seq<<32 | cstate. The state (0 for a free slot) changes by CAS,
	// so a reader's transition never lands on a recycled slot; seq grows
	// each time the slot is freed or filled, so a reader that read the key
	// and the link between two equal seqs read one flow's.
	ctl atomic.Uint64
	// last is the virtual time of the last packet, ns. Readers store it
	// without CAS: one that races a recycle stores its packet's time, a
	// current one, into the new flow's entry, which is harmless.
	last atomic.Int64
	// next links the entry into its bucket's chain: next[view.link] for the
	// current bucket array. The other link is the previous array's, left
	// intact for readers still walking it until the next doubling chains
	// the array after through it. next[0] also links free slots.
	next [2]atomic.Uint32
	key  [5]atomic.Uint64 // keyWords
}

func (e *entry) words() (w keyWords) {
	for i := range w {
		w[i] = e.key[i].Load()
	}
	return w
}

// hash returns the hash of e's key, valid for a bucket array of mask+1
// buckets: from the bits the key carries when they are enough.
func (e *entry) hash(mask uint32) uint64 {
	if mask <= hashLow {
		return e.key[4].Load() >> hashShift
	}
	w := e.words()
	return w.bucketHash(mask)
}

type chunk [chunkLen]entry

// view is what a reader needs: a bucket array and the slab's chunks. A
// published view's fields never change (its heads and entries do,
// atomically); writers publish a new view to grow either.
type view struct {
	heads  []atomic.Uint32 // first slot of each chain; 0 or endBit|bucket if empty
	mask   uint32
	link   uint8 // the entry.next field these heads chain through: 0 or 1
	chunks []*chunk
	// hmem and mem keep the memory of heads and of chunks mapped outside
	// the Go heap (mem.go) mapped while the view is in use.
	hmem *headsMem
	mem  *regions
}

func newView(buckets int, link uint8, chunks []*chunk, mem *regions) *view {
	heads, hmem := newHeads(buckets)
	return &view{heads: heads, mask: uint32(buckets - 1), link: link, chunks: chunks, hmem: hmem, mem: mem}
}

// entry returns slot i. It computes the address from the chunk's with
// unsafe.Add rather than indexing the chunk: &c[j] makes the compiler check
// c for nil by reading c's first byte, which, in a large table, is a cache
// line of another entry, and a miss the read-ahead never started (the
// caller's first read of the entry makes the check).
func (v *view) entry(i uint32) *entry {
	c := v.chunks[i>>chunkShift]
	return (*entry)(unsafe.Add(unsafe.Pointer(c), uintptr(i&(chunkLen-1))*unsafe.Sizeof(entry{})))
}

// head returns the first link of bucket b's chain.
func (v *view) head(b uint32) uint32 {
	if i := v.heads[b].Load(); i != 0 {
		return i
	}
	return endBit | b
}

// push links slot i, holding a flow of hash h, at the head of its chain.
// Only for a view readers do not see yet: see Insert for a published one.
func (v *view) push(i uint32, e *entry, h uint64) {
	b := uint32(h) & v.mask
	store32(&e.next[v.link&1], v.head(b))
	store32(&v.heads[b], i)
}

// unlink removes slot i, holding a flow of hash h, from its chain. Readers
// on e go on along its link, which stays as it was.
func (v *view) unlink(i uint32, e *entry, h uint64) {
	p := &v.heads[uint32(h)&v.mask]
	for j := p.Load(); j != i; j = p.Load() {
		if j == 0 || j&endBit != 0 {
			panic("conntrack: entry missing from its chain")
		}
		p = &v.entry(j).next[v.link&1]
	}
	store32(p, e.next[v.link&1].Load())
}

// Table is the connection-tracking table of one ENI. Lookup and Get are
// lock-free and may run concurrently with each other and with the writers
// (Insert, Expire, Flush, SetAllowance), which serialise on a mutex.
type Table struct {
	// parts, if not nil, are the sub-tables of a partitioned table
	// (NewPartitionedTable), which has no entries of its own: a flow is in
	// parts[hash>>partShift]. Set once.
	parts      []*Table
	partShift  uint8
	expireNext atomic.Uint32 // the part Expire starts with next

	// Read on every lookup.
	view     atomic.Pointer[view]
	timeouts atomic.Pointer[timeoutTable]

	_ [64]byte // keep the writers' fields off the readers' cache lines

	n      atomic.Int64 // entries held, live or expired
	mu     sync.Mutex   // serialises writers; guards the fields below
	allow  *Allowance
	free   uint32 // first free slot, linked through next[0]; noSlot if none
	used   uint32 // slots [1, used) have been handed out
	cursor uint32 // next slot the expiry scan examines
	// growing is the bucket array readers will use next, being built while
	// they use the current one; nil if none. Slots [1, moved) are chained
	// in it too.
	growing *view
	moved   uint32
	// maxBuckets, if not 0, stops the bucket array growing: tests use it
	// to make long chains for readers to walk while writers recycle.
	maxBuckets int
	// share is how many tables the allowance's flows are expected to
	// split between as far as sizing goes: the parts of a partitioned
	// table, each sized for max/share flows; 1 otherwise.
	share int64
	// mem owns the slab's mapped regions; spare holds the chunks of the
	// last one not yet in the slab.
	mem   *regions
	spare []*chunk

	_ [64]byte // keep the writers' fields off the next table's (a partitioned table's parts are allocated together)
}

// NewTable returns an empty table that draws entries from a (unlimited if
// nil) and expires them after the idle timeouts t.
func NewTable(a *Allowance, t Timeouts) *Table {
	if a == nil {
		a = NewAllowance(math.MaxInt)
	}
	return newPart(a, t, 1)
}

// newPart returns an empty table sized for 1/share of a's flows.
func newPart(a *Allowance, t Timeouts, share int64) *Table {
	tb := &Table{allow: a, free: noSlot, used: 1, cursor: 1, share: share}
	tb.mem = newRegions()
	tb.view.Store(newView(initialBuckets(tb.maxFlows()), 0, nil, tb.mem))
	tb.timeouts.Store(t.table())
	return tb
}

// maxFlows is the most flows the table is sized for: its share of the
// allowance.
func (t *Table) maxFlows() int64 { return t.allow.max.Load() / t.share }

// initialBuckets returns the size of a new table's bucket array for an
// allowance of max flows: the power of two that holds max flows below the
// 3/4 load that starts a doubling, between minBuckets and presizeBuckets.
func initialBuckets(max int64) int {
	n := minBuckets
	for n < presizeBuckets && int64(n)/4*3 < max {
		n *= 2
	}
	return n
}

// Presize gives an empty table the bucket array it would have grown to by
// the time it held flows flows (at most its allowance), so that a run
// known to bring many new flows (a replay, whose sample estimates them)
// does not pay for doubling the array again and again: the rehashing
// that growth does a few slots per Insert, and the arrays it leaves for
// the collector. A table whose slab has handed out a slot since it was
// made or flushed keeps its array: Presize reports whether it made one. A partitioned table presizes each
// part for its share of the flows.
func (t *Table) Presize(flows int) bool {
	if t.parts != nil {
		share := (flows + len(t.parts) - 1) / len(t.parts)
		done := false
		for _, pt := range t.parts {
			done = pt.Presize(share) || done
		}
		return done
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.view.Load()
	if t.used != 1 || t.growing != nil || t.maxBuckets != 0 {
		return false
	}
	want, limit := min(int64(flows), t.maxFlows()), t.maxFlows()
	n := len(v.heads)
	for int64(n) < limit && int64(n)/4*3 < want && n < maxSlots/2 {
		n *= 2
	}
	if n == len(v.heads) {
		return false
	}
	t.view.Store(newView(n, v.link, v.chunks, t.mem))
	return true
}

// Buckets returns the size of the table's bucket array (of every part's
// together): the heads lookups start from, 4 bytes each.
func (t *Table) Buckets() int {
	if t.parts != nil {
		n := 0
		for _, pt := range t.parts {
			n += pt.Buckets()
		}
		return n
	}
	return len(t.view.Load().heads)
}

// SetTimeouts replaces the idle timeouts. They apply to every entry, live
// ones included, from the next packet or expiry scan on; it is safe to call
// concurrently with Lookup.
func (t *Table) SetTimeouts(to Timeouts) {
	for _, pt := range t.parts {
		pt.SetTimeouts(to)
	}
	t.timeouts.Store(to.table())
}

// SetAllowance moves the table's entries to allowance a (unlimited if nil):
// the ENI moved to another instance. a may end up above its maximum; it then
// refuses new flows until enough have expired.
func (t *Table) SetAllowance(a *Allowance) {
	if a == nil {
		a = NewAllowance(math.MaxInt)
	}
	for _, pt := range t.parts {
		pt.SetAllowance(a)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.n.Load()
	t.allow.release(n)
	a.inUse.Add(n)
	t.allow = a
}

// Len returns the number of entries held, including expired ones that no
// Expire or Insert has removed yet.
func (t *Table) Len() int {
	n := t.n.Load()
	for _, pt := range t.parts {
		n += pt.n.Load()
	}
	return int(n)
}

// Lookup finds the live entry of the flow p packs, as of now (virtual time,
// ns). On a hit it advances the entry's state with this packet, which
// travels from the Lo side if fromLo and carries tcpFlags (TCP header flag
// bits; ignored unless the flow is TCP), refreshes its idle timer and
// returns a reference to the entry, through which the caller may read and
// set its tag. A SYN without ACK on a TIME_WAIT or CLOSE entry opens a new
// connection on the tuple: Lookup reports a miss and leaves the entry to
// Insert.
//
// Build p once per packet with Packed.Set (or Key.Pack) and look it up in
// as many tables as the packet crosses. Lookup takes no lock, does not
// allocate and may run concurrently with anything. Its idle-timer refresh
// has a 1 ms grain.
func (t *Table) Lookup(p *Packed, fromLo bool, tcpFlags uint8, now int64) (Ref, bool) {
	if t.parts != nil {
		t = t.part(p)
	}
	for {
		e, c, last := t.find(&p.w, p.h)
		if e == nil {
			return Ref{}, false
		}
		s := cstate(c)
		if now-last >= t.timeouts.Load()[s.kind()] || s.reopens(tcpFlags) {
			return Ref{}, false
		}
		if !s.steady(tcpFlags) {
			if ns := s.next(fromLo, tcpFlags); ns != s {
				if !e.ctl.CompareAndSwap(c, c&^0xff|uint64(ns)) {
					continue // another packet of the flow, or a writer, changed it first
				}
				c = c&^0xff | uint64(ns)
			}
		}
		if now-last >= refreshGrain {
			store64i(&e.last, now)
		}
		return Ref{e: e, ctl: c}, true
	}
}

// Prefetch starts reading the bucket head and the first entry that a
// Lookup of p will read, and returns without waiting for them, so that the
// caller can look p up in another table meanwhile: a packet between two
// ENIs crosses both of their tables, and in a large table each of those
// reads is a cache miss. It changes nothing, takes no lock and may run
// concurrently with anything; the value it returns means nothing (it keeps
// the loads from being dropped). A small table, which stays in the
// caches, is left alone: there the loads would only cost.
func (t *Table) Prefetch(p *Packed) uint64 {
	if t.parts != nil {
		t = t.part(p)
	}
	v := t.view.Load()
	if v.mask < prefetchBuckets-1 {
		return 0
	}
	e := v.firstEntry(p)
	if e == nil {
		return 0
	}
	return e.ctl.Load()
}

// firstEntry returns the first entry of p's chain in v, nil if the chain
// is empty (or a writer has just moved its head past the slab): the
// read-ahead's second step, which changes nothing.
func (v *view) firstEntry(p *Packed) *entry {
	i := v.heads[uint32(p.h)&v.mask].Load()
	if i == 0 || i&endBit != 0 || int(i>>chunkShift) >= len(v.chunks) {
		return nil
	}
	return v.entry(i)
}

// PrefetchBucket, PrefetchEntry and PrefetchChain read ahead for a batch
// of packets: the caller calls PrefetchBucket for every packet of the
// batch, then PrefetchEntry for every packet, then PrefetchChain, then
// looks them up, so that the cache misses of the whole batch (a bucket
// head, then an entry, sometimes a second entry, per packet and table)
// are in flight together instead of one after another. Like
// Prefetch, they change nothing, take no lock, may run concurrently with
// anything, and leave a small table, which stays in the caches, alone.
// On amd64 they use the PREFETCHT0 instruction, which, unlike a load, does
// not hold up the instructions after it until its line arrives
// (BenchmarkLookupPair/batch).

// readAheadMask is the smallest bucket mask PrefetchBucket and
// PrefetchEntry read ahead at; tests lower it to race them on small tables.
var readAheadMask uint32 = prefetchBuckets - 1

// PrefetchBucket starts reading the bucket head a Lookup of p reads first.
func (t *Table) PrefetchBucket(p *Packed) {
	if t.parts != nil {
		t = t.part(p)
	}
	v := t.view.Load()
	if v.mask < readAheadMask {
		return
	}
	prefetch(unsafe.Pointer(&v.heads[uint32(p.h)&v.mask]))
}

// PrefetchEntry reads p's bucket head, which a PrefetchBucket of p should
// have brought in a while before, and starts reading the first entry of
// its chain.
func (t *Table) PrefetchEntry(p *Packed) {
	if t.parts != nil {
		t = t.part(p)
	}
	v := t.view.Load()
	if v.mask < readAheadMask {
		return
	}
	if e := v.firstEntry(p); e != nil {
		prefetch(unsafe.Pointer(e))
	}
}

// PrefetchChain reads the first entry of p's chain, which a PrefetchEntry
// of p should have brought in a while before, and if it holds another
// flow starts reading the next entry: a batch's third pass, for the
// lookups whose flow is not first in its chain (about one in five at the
// load the bucket array keeps), which would otherwise wait for that
// entry one after another.
func (t *Table) PrefetchChain(p *Packed) {
	if t.parts != nil {
		t = t.part(p)
	}
	v := t.view.Load()
	if v.mask < readAheadMask {
		return
	}
	e := v.firstEntry(p)
	if e == nil {
		return
	}
	if e.key[4].Load() == p.w[4] && e.key[1].Load() == p.w[1] && e.key[3].Load() == p.w[3] {
		return // most likely the flow: the read-ahead need not be sure
	}
	i := e.next[v.link&1].Load()
	if i&endBit != 0 || int(i>>chunkShift) >= len(v.chunks) {
		return
	}
	prefetch(unsafe.Pointer(v.entry(i)))
}

// tagShift and TagMask place an entry's tag in its control word, between
// the state (low 8 bits) and the sequence number (high 32).
const (
	tagShift = 8
	TagMask  = 1<<24 - 1
)

// Ref is an entry as a lookup saw it.
type Ref struct {
	e   *entry
	ctl uint64
}

// Tag returns the entry's tag: 24 bits the caller may keep in an entry, a
// cache of its own (the dataplane keeps network-ACL verdicts there). A new
// entry's tag is 0.
func (r Ref) Tag() uint32 { return uint32(r.ctl>>tagShift) & TagMask }

// SetTag stores tag (masked to 24 bits) in the entry if the entry has not
// changed since the lookup; otherwise it does nothing, and the tag stays
// what it was. It never touches an entry recycled for another flow.
func (r Ref) SetTag(tag uint32) {
	if r.e != nil {
		r.e.ctl.CompareAndSwap(r.ctl, r.ctl&^(TagMask<<tagShift)|uint64(tag&TagMask)<<tagShift)
	}
}

// find returns the entry holding w, with its control word and last-seen
// time as read while it held w, or nil. It takes no lock: when a writer
// interferes (recycles an entry on the way, or publishes a new view before a
// miss is certain), it walks again.
func (t *Table) find(w *keyWords, h uint64) (*entry, uint64, int64) {
walk:
	for {
		v := t.view.Load()
		b := uint32(h) & v.mask
		i := v.head(b)
		for steps := 0; i&endBit == 0; steps++ {
			if int(i>>chunkShift) >= len(v.chunks) || steps == maxSteps {
				continue walk
			}
			e := v.entry(i)
			c := e.ctl.Load()
			if cstate(c) == 0 {
				continue walk // a free slot: this walk left its chain
			}
			// Compare the most distinctive words first: ports, then the
			// low halves of the addresses (all of an IPv4 address).
			match := e.key[4].Load() == w[4] && e.key[1].Load() == w[1] &&
				e.key[3].Load() == w[3] && e.key[0].Load() == w[0] && e.key[2].Load() == w[2]
			var last int64
			if match {
				last = e.last.Load()
			}
			i = e.next[v.link&1].Load()
			c2 := e.ctl.Load()
			if c2>>32 != c>>32 {
				continue walk // recycled while we read it
			}
			if match {
				return e, c2, last
			}
		}
		if i == endBit|b && t.view.Load() == v {
			return nil, 0, 0
		}
	}
}

// Insert records a new flow, packed in p, whose first packet travels from
// the Lo side if fromLo with tcpFlags; that side is the flow's originator. A
// TCP flow first seen mid-connection starts as in Linux's loose mode: a
// SYN-ACK starts SYN_RECV, opened by the other side; a FIN, FIN_WAIT; a RST,
// CLOSE; any other segment, ESTABLISHED. An entry of the flow that has
// expired, or that a SYN reopens (TIME_WAIT, CLOSE), is replaced in place; a
// live one is advanced
// with the packet as Lookup would.
//
// Insert reports false and counts Allowance.Exceeded when the allowance is
// used up. It takes the table's writer lock, and first removes a few expired
// entries (more when the allowance is used up), so that expiry keeps pace
// with new flows a little at a time. Lookups never wait for it.
func (t *Table) Insert(p *Packed, fromLo bool, tcpFlags uint8, now int64) bool {
	if t.parts != nil {
		t = t.part(p)
	}
	w, h := &p.w, p.h
	proto := uint8(w[4] >> 32)
	t.mu.Lock()
	defer t.mu.Unlock()
	// The places of the expired entries removed here go back to the
	// allowance, but for one that the new entry may take over: a counter
	// shared by the instance's ENIs is cheaper written once than twice.
	reaped := t.reapHeld(now, insertScan, insertScan, true)
	held := reaped > 0 && t.allow.inUse.Load() <= t.allow.max.Load()
	if held {
		reaped--
	}
	t.giveBack(reaped)

	if e := t.findLocked(w, h); e != nil {
		// Readers may CAS the state meanwhile: loop until ours lands.
		timeout := t.timeouts.Load()
		for {
			c := e.ctl.Load()
			s := cstate(c)
			ns := initial(proto, fromLo, tcpFlags) // a new flow on an old tuple
			if now-e.last.Load() < timeout[s.kind()] && !s.reopens(tcpFlags) {
				ns = s.next(fromLo, tcpFlags) // the flow is live: this is one more packet
			}
			if e.ctl.CompareAndSwap(c, c&^0xff|uint64(ns)) {
				break
			}
		}
		store64i(&e.last, now)
		t.giveBack(b2i(held))
		return true
	}

	if !held && !t.allow.take() && (t.reap(now, 1, reclaimScan) == 0 || !t.allow.take()) {
		t.allow.exceeded.Add(1)
		return false
	}
	i, e := t.alloc()
	if e == nil {
		t.allow.release(1)
		t.allow.exceeded.Add(1)
		return false
	}
	v := t.view.Load()
	for j := range w {
		// A recycled slot often holds words of the new key already (the
		// zero halves of IPv4 addresses, a busy server's address): an
		// atomic store is an XCHG on amd64, a load is a plain read.
		if e.key[j].Load() != w[j] {
			store64(&e.key[j], w[j])
		}
	}
	store64i(&e.last, now)
	if e.next[v.link^1].Load() != endBit {
		store32(&e.next[v.link^1], endBit) // readers of an older view end there and walk again
	}
	b := uint32(h) & v.mask
	store32(&e.next[v.link], v.head(b))
	store64(&e.ctl, (e.ctl.Load()>>32+1)<<32|uint64(initial(proto, fromLo, tcpFlags)))
	store32(&v.heads[b], i) // publish
	if g := t.growing; g != nil && i < t.moved {
		g.push(i, e, h)
	}
	if !held {
		t.n.Add(1) // a held place was counted in n already
	}
	t.grow()
	return true
}

// findLocked returns the entry holding w. The caller holds t.mu, so chains
// are stable.
func (t *Table) findLocked(w *keyWords, h uint64) *entry {
	v := t.view.Load()
	for i := v.head(uint32(h) & v.mask); i&endBit == 0; {
		e := v.entry(i)
		// Word by word, the most distinctive first (the last carries hash
		// bits): comparing the arrays whole is a call to memequal.
		if e.key[4].Load() == w[4] && e.key[1].Load() == w[1] && e.key[3].Load() == w[3] &&
			e.key[0].Load() == w[0] && e.key[2].Load() == w[2] {
			return e
		}
		i = e.next[v.link&1].Load()
	}
	return nil
}

// alloc returns a free slot, from the free list or a fresh one, adding a
// chunk to the slab when needed; nil when the table has 2³¹ slots.
func (t *Table) alloc() (uint32, *entry) {
	v := t.view.Load()
	if i := t.free; i != noSlot {
		e := v.entry(i)
		t.free = e.next[0].Load()
		return i, e
	}
	i := t.used
	if i == maxSlots {
		return 0, nil
	}
	if int(i>>chunkShift) == len(v.chunks) {
		nv := *v
		// append may fill the shared array past len(v.chunks): readers of
		// v never look there.
		nv.chunks = append(v.chunks, t.newChunk(len(v.chunks)))
		t.view.Store(&nv)
		v = &nv
		if t.growing != nil {
			t.growing.chunks = v.chunks
		}
	}
	t.used++
	return i, v.entry(i)
}

// newChunk returns a zeroed chunk to be the slab's n-th: from the Go heap
// for the first bigSlab, then from mapped regions where they can be had
// (mem.go).
func (t *Table) newChunk(n int) *chunk {
	if n >= bigSlab && len(t.spare) == 0 {
		t.spare = t.mem.chunks()
	}
	if len(t.spare) > 0 {
		c := t.spare[0]
		t.spare = t.spare[1:]
		return c
	}
	return new(chunk)
}

// grow doubles the bucket array, a little at a time. When the load passes
// 3/4, unless the array has a bucket for every flow the allowance permits
// already (the load then stays at most 1, and the heads at 4 bytes a
// flow, however full the table gets), it starts a new array chained through the link field the current one
// does not use; each call then chains growStep more slots into it, and once
// every slot is in, publishes it. Readers go on walking the current array,
// whose chains this never touches, and no Insert does more than growStep
// slots of this work. Inserts and removals meanwhile keep both arrays up to
// date for the slots already moved.
func (t *Table) grow() {
	v := t.view.Load()
	if t.growing == nil {
		if t.n.Load() <= int64(len(v.heads))/4*3 || t.maxBuckets != 0 && len(v.heads) >= t.maxBuckets ||
			int64(len(v.heads)) >= t.maxFlows() {
			return
		}
		t.growing, t.moved = newView(2*len(v.heads), v.link^1, v.chunks, t.mem), 1
	}
	g := t.growing
	for end := min(t.moved+growStep, t.used); t.moved < end; t.moved++ {
		e := v.entry(t.moved)
		if cstate(e.ctl.Load()) != 0 {
			g.push(t.moved, e, e.hash(g.mask))
		}
	}
	if t.moved == t.used {
		t.view.Store(g)
		t.growing = nil
	}
}

// reap examines up to scan slots from the expiry cursor, removing up to max
// expired entries and giving their places back. It returns how many it
// removed.
func (t *Table) reap(now int64, max, scan int) int {
	removed := t.reapHeld(now, max, scan, false)
	t.giveBack(removed)
	return removed
}

// giveBack returns the places of n removed entries to the count and the
// allowance.
func (t *Table) giveBack(n int) {
	if n > 0 {
		t.n.Add(-int64(n))
		t.allow.release(int64(n))
	}
}

// reapHeld is reap that keeps the removed entries' places: the caller
// gives them back. If runs, it stops at the first live entry after one it
// removed: Insert's way of keeping pace with new flows cheaply. In a
// steady state the cursor finds the oldest entries, one expired per new
// flow, and need not look further; after a burst of expiries the expired
// entries lie in runs, which it removes whole.
func (t *Table) reapHeld(now int64, max, scan int, runs bool) int {
	scan = min(scan, int(t.used)-1)
	v := t.view.Load()
	timeout := t.timeouts.Load()
	removed := 0
	for ; scan > 0 && removed < max; scan-- {
		i := t.cursor
		if t.cursor++; t.cursor >= t.used {
			t.cursor = 1
		}
		e := v.entry(i)
		if s := cstate(e.ctl.Load()); s != 0 && now-e.last.Load() >= timeout[s.kind()] {
			t.remove(v, i, e)
			removed++
		} else if runs && removed > 0 {
			break
		}
	}
	return removed
}

// remove unlinks slot i and frees it; the caller gives its place back.
func (t *Table) remove(v *view, i uint32, e *entry) {
	g := t.growing
	if g != nil && i >= t.moved {
		g = nil
	}
	mask := v.mask
	if g != nil {
		mask = g.mask
	}
	h := e.hash(mask)
	v.unlink(i, e, h)
	if g != nil {
		g.unlink(i, e, h)
	}
	store64(&e.ctl, (e.ctl.Load()>>32+1)<<32) // free: readers on e walk again
	store32(&e.next[0], t.free)
	t.free = i
}

// Expire removes up to budget expired entries, examining at most 16 slots
// per unit of budget and never more than one pass over the table, so each
// call is short; call it now and then (e.g. once per batch) to return the
// allowance of idle flows. It returns how many entries it removed. A
// partitioned table splits the budget between its parts (expireParts).
func (t *Table) Expire(now int64, budget int) int {
	if budget <= 0 {
		return 0
	}
	if t.parts != nil {
		return t.expireParts(now, budget)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reap(now, budget, min(budget, maxSlots)*expireScan)
}

// Flush removes every entry (the ENI was removed) and returns their
// allowance.
func (t *Table) Flush() {
	for _, pt := range t.parts {
		pt.Flush()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.view.Load()
	if v == nil {
		return // a partitioned table's own
	}
	t.view.Store(newView(initialBuckets(t.maxFlows()), v.link, v.chunks, t.mem))
	for i := uint32(1); i < t.used; i++ {
		e := v.entry(i)
		if c := e.ctl.Load(); cstate(c) != 0 {
			e.ctl.Store((c>>32 + 1) << 32)
		}
	}
	t.free, t.used, t.cursor, t.growing = noSlot, 1, 1, nil
	t.allow.release(t.n.Swap(0))
}

// ClearTags sets every entry's tag to 0. A lookup that raced it may still
// set a tag it computed before; callers that version their tags (as the
// dataplane does with its policy generation) are unaffected.
func (t *Table) ClearTags() {
	for _, pt := range t.parts {
		pt.ClearTags()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.view.Load()
	for i := uint32(1); i < t.used; i++ {
		e := v.entry(i)
		for {
			c := e.ctl.Load()
			if c&(TagMask<<tagShift) == 0 || e.ctl.CompareAndSwap(c, c&^(TagMask<<tagShift)) {
				break
			}
		}
	}
}

// EntryInfo describes one live entry, for status and explain.
type EntryInfo struct {
	Key     Key
	OrigLo  bool // the flow was opened from the Lo side
	State   State
	Idle    time.Duration // since the last packet
	Expires time.Duration // idle time left before the entry expires
}

func makeInfo(w *keyWords, s cstate, last, now int64, timeout *timeoutTable) (EntryInfo, bool) {
	idle := now - last
	left := timeout[s.kind()] - idle
	return EntryInfo{
		Key:     w.key(),
		OrigLo:  s&origLo != 0,
		State:   s.kind(),
		Idle:    time.Duration(idle),
		Expires: time.Duration(left),
	}, left > 0
}

// Get returns the live entry of the flow p packs, as of now, without
// touching it. It is lock-free; explain and the related-ICMP check use it.
func (t *Table) Get(p *Packed, now int64) (EntryInfo, bool) {
	if t.parts != nil {
		t = t.part(p)
	}
	w := &p.w
	e, c, last := t.find(w, p.h)
	if e == nil {
		return EntryInfo{}, false
	}
	if info, ok := makeInfo(w, cstate(c), last, now, t.timeouts.Load()); ok {
		return info, true
	}
	return EntryInfo{}, false
}

// Entries returns the live entries as of now, in no particular order. It
// holds the writer lock while it copies them; keep it off the packet path.
func (t *Table) Entries(now int64) []EntryInfo {
	if t.parts != nil {
		var out []EntryInfo
		for _, pt := range t.parts {
			out = append(out, pt.Entries(now)...)
		}
		return out
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	v := t.view.Load()
	timeout := t.timeouts.Load()
	out := make([]EntryInfo, 0, t.n.Load())
	for i := uint32(1); i < t.used; i++ {
		e := v.entry(i)
		if s := cstate(e.ctl.Load()); s != 0 {
			w := e.words()
			if info, ok := makeInfo(&w, s, e.last.Load(), now, timeout); ok {
				out = append(out, info)
			}
		}
	}
	return out
}
