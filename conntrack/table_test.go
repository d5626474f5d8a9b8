package conntrack

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpclab/vpclab/packet"
)

// manyKey returns the i-th of many distinct TCP keys (i < 2²⁴), cheaply:
// 10.x.y.z:443 <-> 10.200.0.1:40000.
func manyKey(i int) Key {
	return Key{
		Lo:     [16]byte{10: 0xff, 11: 0xff, 12: 10, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)},
		Hi:     [16]byte{10: 0xff, 11: 0xff, 12: 10, 13: 200, 15: 1},
		LoPort: 443, HiPort: 40000, Proto: packet.ProtoTCP, IPv4: true,
	}
}

func TestAllowance(t *testing.T) {
	a := NewAllowance(3)
	eni1, eni2 := NewTable(a, testTimeouts()), NewTable(a, testTimeouts())
	udp := func(i int) *Key { k := manyKey(i); k.Proto = packet.ProtoUDP; return &k }
	now := int64(0)
	for i, tb := range []*Table{eni1, eni1, eni2} {
		if !insert(tb, udp(i), true, 0, now) {
			t.Fatalf("insert %d refused", i)
		}
	}
	if a.InUse() != 3 || a.Available() != 0 || a.Exceeded() != 0 {
		t.Fatalf("InUse %d Available %d Exceeded %d, want 3 0 0", a.InUse(), a.Available(), a.Exceeded())
	}
	if insert(eni2, udp(3), true, 0, now) || insert(eni1, udp(4), true, 0, now) {
		t.Fatal("insert beyond the allowance accepted")
	}
	if a.Exceeded() != 2 || eni2.Len() != 1 {
		t.Fatalf("Exceeded %d Len %d, want 2 1", a.Exceeded(), eni2.Len())
	}
	// Existing flows keep working, and their inserts need no allowance.
	if !lookup(eni1, udp(0), false, 0, now) || !insert(eni1, udp(1), false, 0, now) {
		t.Error("existing flow refused when the allowance is used up")
	}
	a.NoteExceeded()
	if a.Exceeded() != 3 {
		t.Errorf("Exceeded %d after NoteExceeded, want 3", a.Exceeded())
	}

	// Expired entries give their allowance back: Insert reclaims its own.
	now += 31 * sec
	if !insert(eni2, udp(5), true, 0, now) || a.InUse() != 3 {
		t.Errorf("insert after expiry: InUse %d, want 3", a.InUse())
	}
	// eni1's expired entries come back when it expires them.
	if n := eni1.Expire(now, 10); n != 2 || a.Available() != 2 {
		t.Errorf("Expire removed %d, Available %d, want 2 2", n, a.Available())
	}

	a.SetMax(1)
	if a.Available() != 0 || insert(eni1, udp(6), true, 0, now) {
		t.Error("lowered max: want no allowance available")
	}
	a.SetMax(10)

	b := NewAllowance(5)
	eni2.SetAllowance(b)
	if a.InUse() != 0 || b.InUse() != 1 {
		t.Errorf("moved table: InUse %d and %d, want 0 and 1", a.InUse(), b.InUse())
	}
	eni2.Flush()
	if b.InUse() != 0 || eni2.Len() != 0 || lookup(eni2, udp(5), true, 0, now) {
		t.Error("Flush kept entries or allowance")
	}
	if !insert(eni2, udp(5), true, 0, now) || !lookup(eni2, udp(5), false, 0, now) {
		t.Error("table unusable after Flush")
	}
}

func TestExpireBudget(t *testing.T) {
	tb := newTable(testTimeouts())
	for i := range 100 {
		k := manyKey(i)
		k.Proto = packet.ProtoUDP
		insert(tb, &k, true, 0, 0)
	}
	live := manyKey(1000)
	insert(tb, &live, true, ack, 0)
	now := 31 * sec
	if n := tb.Expire(now, 10); n != 10 || tb.Len() != 91 {
		t.Fatalf("Expire(10) removed %d, Len %d, want 10 91", n, tb.Len())
	}
	if n := tb.Expire(now, 0); n != 0 {
		t.Fatalf("Expire(0) removed %d", n)
	}
	if n := tb.Expire(now, 1000); n != 90 || tb.Len() != 1 || tb.allow.InUse() != 1 {
		t.Fatalf("Expire(1000) removed %d, Len %d, InUse %d, want 90 1 1", n, tb.Len(), tb.allow.InUse())
	}
	if !lookup(tb, &live, true, ack, now) {
		t.Error("Expire removed a live entry")
	}
}

func TestEntries(t *testing.T) {
	tb := newTable(testTimeouts())
	k := manyKey(1)
	insert(tb, &k, false, syn, 0)
	u := manyKey(2)
	u.Proto = packet.ProtoUDP
	insert(tb, &u, true, 0, 0)
	now := 20 * sec
	lookup(tb, &k, true, synAck, now)
	got := tb.Entries(now)
	if len(got) != 2 {
		t.Fatalf("Entries: %v", got)
	}
	want := map[Key]EntryInfo{
		k: {Key: k, OrigLo: false, State: SynRecv, Idle: 0, Expires: 60 * time.Second},
		u: {Key: u, OrigLo: true, State: UDPUnreplied, Idle: 20 * time.Second, Expires: 10 * time.Second},
	}
	for _, e := range got {
		if e != want[e.Key] {
			t.Errorf("entry %+v, want %+v", e, want[e.Key])
		}
	}
	if got := tb.Entries(31 * sec); len(got) != 1 || got[0].Key != k {
		t.Errorf("Entries after the UDP flow expired: %v", got)
	}
}

func TestRefreshGrain(t *testing.T) {
	tb := newTable(testTimeouts())
	k := manyKey(1)
	insert(tb, &k, true, ack, 0)
	half := int64(time.Millisecond / 2)
	lookup(tb, &k, true, ack, half)
	if e, _ := get(tb, &k, half); e.Idle != time.Duration(half) {
		t.Errorf("idle %v after a lookup 0.5 ms on, want 0.5ms (no store)", e.Idle)
	}
	lookup(tb, &k, true, ack, 2*half)
	if e, _ := get(tb, &k, 2*half); e.Idle != 0 {
		t.Errorf("idle %v after a lookup 1 ms on, want 0", e.Idle)
	}
}

func TestPresize(t *testing.T) {
	for _, c := range []struct {
		allowance int
		buckets   int
	}{
		{1, minBuckets},
		{48, minBuckets},
		{49, 2 * minBuckets},
		{1000, 2048},
		{1536, 2048},
		{3072, presizeBuckets},
		{1537, 4096},
		{100_000, presizeBuckets},
		{math.MaxInt, presizeBuckets},
	} {
		tb := NewTable(NewAllowance(c.allowance), testTimeouts())
		if b, _ := chainStats(tb); b != c.buckets {
			t.Errorf("allowance %d: %d buckets, want %d", c.allowance, b, c.buckets)
		}
		// Filling the allowance starts no doubling, and Flush keeps the size.
		for i := range min(c.allowance, 2000) {
			k := manyKey(i)
			insert(tb, &k, true, ack, 0)
		}
		if tb.growing != nil || len(tb.view.Load().heads) != c.buckets {
			t.Errorf("allowance %d: the bucket array grew within the allowance", c.allowance)
		}
		tb.Flush()
		if b, _ := chainStats(tb); b != c.buckets {
			t.Errorf("allowance %d: %d buckets after Flush, want %d", c.allowance, b, c.buckets)
		}
	}
	if b, _ := chainStats(NewTable(nil, testTimeouts())); b != presizeBuckets {
		t.Errorf("a table without allowance starts with %d buckets, want %d", b, presizeBuckets)
	}
}

// Prefetch reads ahead only in a table too large for the caches, and
// there reads the first entry of the key's chain.
func TestPrefetch(t *testing.T) {
	small := NewTable(NewAllowance(100), testTimeouts())
	big := NewTable(NewAllowance(100), testTimeouts())
	big.view.Store(newView(prefetchBuckets, 0, nil, big.mem))
	var k, miss Packed
	km, kmiss := manyKey(1), manyKey(2)
	km.Pack(&k)
	kmiss.Pack(&miss)
	for _, tb := range []*Table{small, big} {
		if got := tb.Prefetch(&k); got != 0 {
			t.Errorf("Prefetch in an empty table read %x", got)
		}
		tb.Insert(&k, true, syn, 0)
	}
	if got := small.Prefetch(&k); got != 0 {
		t.Errorf("Prefetch read %x in a table of %d buckets", got, minBuckets)
	}
	if got, want := big.Prefetch(&k), big.view.Load().entry(1).ctl.Load(); got != want || got == 0 {
		t.Errorf("Prefetch read %x, want the entry's control word %x", got, want)
	}
	if _, hit := big.Lookup(&k, false, synAck, 1); !hit {
		t.Error("Lookup missed after Prefetch")
	}
	if _, hit := big.Lookup(&miss, false, ack, 1); hit {
		t.Error("Lookup hit another flow after Prefetch")
	}

	// The batch read-ahead changes nothing either, in a table of either
	// size, for a key present or absent.
	for _, tb := range []*Table{small, big} {
		before := tb.Entries(2)
		for _, p := range []*Packed{&k, &miss} {
			tb.PrefetchBucket(p)
			tb.PrefetchEntry(p)
			tb.PrefetchChain(p)
		}
		if after := tb.Entries(2); len(after) != 1 || after[0] != before[0] {
			t.Errorf("read-ahead changed the entries: %+v, then %+v", before, after)
		}
		if _, hit := tb.Lookup(&k, true, ack, 2); !hit {
			t.Error("Lookup missed after the read-ahead")
		}
		if _, hit := tb.Lookup(&miss, true, ack, 2); hit {
			t.Error("Lookup hit another flow after the read-ahead")
		}
	}
}

// Insert removes the expired entries at the expiry cursor up to the
// first live one after them: one per new flow in a steady state, a whole
// run (up to 8) after a burst of expiries.
func TestInsertReapsRuns(t *testing.T) {
	tb := newTable(testTimeouts())
	for i := range 20 {
		k := manyKey(i)
		k.Proto = packet.ProtoUDP
		insert(tb, &k, true, 0, 0) // expires at 30 s
	}
	k := manyKey(100)
	insert(tb, &k, true, 0, 31*sec)
	if got, want := tb.Len(), 20-insertScan+1; got != want {
		t.Errorf("after a burst of expiries, Insert left %d entries, want %d", got, want)
	}

	tb = newTable(testTimeouts())
	for i := range 3 {
		k := manyKey(i)
		if i != 1 {
			k.Proto = packet.ProtoUDP // 0 and 2 expire at 30 s, 1 lives on
		}
		insert(tb, &k, true, ack, 0)
	}
	// The cursor is back at slot 1 (it wrapped on each Insert above).
	k = manyKey(100)
	insert(tb, &k, true, 0, 31*sec)
	if got := tb.Len(); got != 3 {
		t.Errorf("Insert left %d entries, want 3: it removes the expired one at the cursor, then stops at the live one", got)
	}
	if n := tb.Expire(31*sec, 10); n != 1 || tb.Len() != 2 {
		t.Errorf("Expire removed %d, Len %d, want 1 2", n, tb.Len())
	}
}

// chainStats returns the number of buckets and the longest chain.
func chainStats(tb *Table) (buckets, longest int) {
	v := tb.view.Load()
	for b := range v.heads {
		n := 0
		for i := v.head(uint32(b)); i&endBit == 0; i = v.entry(i).next[v.link].Load() {
			n++
		}
		longest = max(longest, n)
	}
	return len(v.heads), longest
}

func TestGrowAndReuse(t *testing.T) {
	n := 20000
	if raceEnabled {
		n = 4000
	}
	// A small allowance at the start keeps the bucket array small, so that
	// it has to grow; raising it afterwards does not resize anything.
	a := NewAllowance(minBuckets / 2)
	tb := NewTable(a, testTimeouts())
	a.SetMax(math.MaxInt)
	if b, _ := chainStats(tb); b != minBuckets {
		t.Fatalf("a table for %d flows starts with %d buckets, want %d", minBuckets/2, b, minBuckets)
	}
	growingInserts := 0
	for i := range n {
		k := manyKey(i)
		if i%2 == 0 {
			k.Proto = packet.ProtoUDP // expires after 30 s
		}
		insert(tb, &k, true, ack, 0)
		if tb.growing != nil {
			growingInserts++
		}
	}
	if growingInserts < n/growStep {
		t.Errorf("the bucket array grew during %d inserts only: not incrementally", growingInserts)
	}
	buckets, longest := chainStats(tb)
	t.Logf("%d flows: %d buckets, longest chain %d", n, buckets, longest)
	if buckets < n*4/3 || longest > 12 {
		t.Errorf("%d flows: %d buckets, longest chain %d", n, buckets, longest)
	}
	now := 31 * sec
	if got := tb.Expire(now, n); got != n/2 {
		t.Fatalf("expired %d, want %d", got, n/2)
	}
	// New flows reuse the freed slots; everything live is still found.
	for i := n; i < n+n/2; i++ {
		k := manyKey(i)
		insert(tb, &k, true, ack, now)
	}
	if int(tb.used)-1 != n {
		t.Errorf("%d slots used, want %d (freed slots reused)", tb.used-1, n)
	}
	for i := range n + n/2 {
		k := manyKey(i)
		if hit := lookup(tb, &k, true, ack, now); hit != (i%2 == 1 || i >= n) {
			t.Fatalf("flow %d: hit %v", i, hit)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tb := newTable(testTimeouts())
	var k, miss Packed
	km, kmiss := manyKey(1), manyKey(2)
	km.Pack(&k)
	kmiss.Pack(&miss)
	tb.Insert(&k, true, syn, 0)
	now := int64(0)
	hit := testing.AllocsPerRun(1000, func() {
		now += int64(time.Millisecond)
		if _, hit := tb.Lookup(&k, false, synAck, now); !hit {
			t.Fatal("miss")
		}
		if _, live := tb.Get(&k, now); !live {
			t.Fatal("Get: miss")
		}
	})
	missed := testing.AllocsPerRun(1000, func() {
		if _, hit := tb.Lookup(&miss, false, ack, now); hit {
			t.Fatal("hit")
		}
	})
	if hit != 0 || missed != 0 {
		t.Errorf("Lookup or Get allocates: %v per hit, %v per miss", hit, missed)
	}
	if n := testing.AllocsPerRun(1000, func() { tb.Prefetch(&k); tb.Prefetch(&miss) }); n != 0 {
		t.Errorf("Prefetch allocates: %v", n)
	}
	readAheadMask = 0
	n := testing.AllocsPerRun(1000, func() { tb.PrefetchBucket(&k); tb.PrefetchEntry(&k); tb.PrefetchEntry(&miss); tb.PrefetchChain(&miss) })
	readAheadMask = prefetchBuckets - 1
	if n != 0 {
		t.Errorf("PrefetchBucket, PrefetchEntry or PrefetchChain allocates: %v", n)
	}
	var key Key
	var p Packed
	if n := testing.AllocsPerRun(100, func() {
		MakeKey(a6, b6, packet.ProtoTCP, 1, 2, 0, 0, 0)
		key.Set(a4, b4, packet.ProtoICMP, 0, 0, 8, 0, 1)
		key.Set(b6, a6, packet.ProtoICMPv6, 0, 0, 1, 4, 0)
		key.Set(a6.WithZone("eth0"), b6, packet.ProtoUDP, 1, 2, 0, 0, 0)
		key.Pack(&p)
		p.Set(a6, b6, packet.ProtoTCP, 1, 2, 0, 0, 0)
	}); n != 0 {
		t.Errorf("MakeKey, Set or Pack allocates: %v", n)
	}
}

// TestConcurrentLookups runs lock-free readers against a writer that
// inserts, expires, reuses slots, replaces entries in place (expired ones,
// and TCP tuples reopened by a SYN) and grows the table. Readers check that every flow known to be live hits (no false miss,
// even across a rehash or a recycle) and that a flow never inserted never
// hits (no wrong hit). Run it with -race.
//
// "grow" lets the table grow, so readers race rehashes; "long chains" keeps
// 8 buckets, so readers walk chains of some 70 entries being recycled.
func TestConcurrentLookups(t *testing.T) {
	t.Run("grow", func(t *testing.T) { testConcurrentLookups(t, 0, 1000) })
	t.Run("long chains", func(t *testing.T) { testConcurrentLookups(t, 8, 1000) })
}

func testConcurrentLookups(t *testing.T, maxBuckets, rounds int) {
	if testing.Short() || raceEnabled {
		rounds /= 4
	}
	// Read ahead at every size, so that readers race writers with it too.
	readAheadMask = 0
	t.Cleanup(func() { readAheadMask = prefetchBuckets - 1 })
	const (
		stablePerRound = 8  // TCP, 5-day timeout: live to the end
		churnPerRound  = 64 // UDP, 30 s: expire every round
		reopened       = 16 // TCP: reset and reopened every round
		never          = 1 << 22
	)
	reopenKey := func(j int) Key { return manyKey(1<<23 + 1<<20 + j) }
	tb := NewTable(nil, testTimeouts())
	if maxBuckets != 0 {
		tb.view.Store(newView(maxBuckets, 0, nil, tb.mem))
		tb.maxBuckets = maxBuckets
	}
	var clock, stable atomic.Int64
	var done atomic.Bool
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			n := 0
			for ; !done.Load(); n++ {
				now := clock.Load()
				switch i := rng.IntN(4); {
				case i == 0 && stable.Load() > 0:
					j := rng.IntN(int(stable.Load()))
					k := manyKey(j)
					p := packed(&k)
					tb.PrefetchBucket(p)
					tb.PrefetchEntry(p)
					tb.PrefetchChain(p)
					if !lookup(tb, &k, n%2 == 0, ack, now) {
						t.Errorf("live flow %d missed", j)
						return
					}
					if e, ok := get(tb, &k, now); !ok || e.Key != k || e.State != Established {
						t.Errorf("Get %v: %+v %v", k, e, ok)
						return
					}
				case i == 1:
					k := manyKey(never + rng.IntN(1<<16))
					if lookup(tb, &k, true, ack, now) {
						t.Errorf("flow %v never inserted, but hit", k)
						return
					}
				case i == 2: // any answer, but race the writer's CAS
					k := reopenKey(rng.IntN(reopened))
					lookup(tb, &k, n%2 == 0, ack, now)
				default: // any answer, but race the recycling
					k := manyKey(1<<23 + rng.IntN(churnPerRound*8))
					k.Proto = packet.ProtoUDP
					p := packed(&k)
					tb.Prefetch(p)
					tb.PrefetchBucket(p)
					tb.PrefetchEntry(p)
					tb.PrefetchChain(p)
					lookup(tb, &k, n%2 == 0, 0, now)
				}
			}
			t.Logf("reader %d: %d lookups", r, n)
		}()
	}

	var now int64
	nStable := 0
	for r := range rounds {
		// With fixed buckets, stop at 64 stable flows: chains then hold
		// about (64 + 512 + 16) / 8 entries.
		for range stablePerRound {
			if maxBuckets != 0 && nStable == 64 {
				break
			}
			k := manyKey(nStable)
			insert(tb, &k, true, ack, now)
			nStable++
		}
		stable.Store(int64(nStable))
		for j := range churnPerRound {
			// Keys cycle over 8 rounds: some reuse an expired entry of
			// the same key in place, most take a recycled slot.
			k := manyKey(1<<23 + (r%8)*churnPerRound + j)
			k.Proto = packet.ProtoUDP
			insert(tb, &k, j%2 == 0, 0, now)
		}
		for j := range reopened {
			k := reopenKey(j)
			insert(tb, &k, j%2 == 0, syn, now) // reopens the CLOSE entry in place
			lookup(tb, &k, j%2 != 0, synAck, now)
			lookup(tb, &k, j%2 == 0, rst, now)
		}
		if r%16 == 0 {
			runtime.Gosched()
		}
		now += 31 * sec
		clock.Store(now)
		tb.Expire(now, churnPerRound/2) // leave some for Insert to reap or replace
	}
	done.Store(true)
	wg.Wait()
	if got, want := tb.Len(), nStable+reopened; got < want || got > want+8*churnPerRound {
		t.Errorf("Len %d, want %d stable flows and a few expired ones", got, want)
	}
}

func TestMemoryPerFlow(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("inserts a million flows")
	}
	const n = 1_000_000
	per := bytesPerFlow(n)
	t.Logf("%.1f bytes per flow at %d flows", per, n)
	if per > 192 {
		t.Errorf("%.1f bytes per flow, want ≤ 192", per)
	}
}

// bytesPerFlow returns the heap the table of n flows holds, per flow.
// settle collects garbage and waits for the cleanups that unmap the
// regions of unreachable bucket arrays to run (they run after a collection,
// in their own goroutine): until OffHeapBytes holds still.
func settle() {
	runtime.GC()
	for last, still := OffHeapBytes(), 0; still < 5; {
		time.Sleep(time.Millisecond)
		if n := OffHeapBytes(); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
}

func bytesPerFlow(n int) float64 {
	var before, after runtime.MemStats
	settle()
	runtime.ReadMemStats(&before)
	offBefore := OffHeapBytes()
	tb := NewTable(NewAllowance(n), testTimeouts())
	for i := range n {
		k := manyKey(i)
		insert(tb, &k, true, syn, 0)
	}
	settle()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc-before.HeapAlloc) + OffHeapBytes() - offBefore
	runtime.KeepAlive(tb)
	return float64(held) / float64(n)
}

// TestAgainstModel runs random packets, inserts, expiries and clock steps
// against the table and against a plain map that anyone can check by eye,
// and compares every answer. The pool of flows is large enough for the
// table to grow and recycle slots many times.
// A partitioned table (4 parts) runs the same sequence.
func TestAgainstModel(t *testing.T) {
	for _, parts := range []int{1, 4} {
		t.Run(fmt.Sprintf("parts=%d", parts), func(t *testing.T) { testAgainstModel(t, parts) })
	}
}

func testAgainstModel(t *testing.T, parts int) {
	type modelEntry struct {
		s    cstate
		last int64
	}
	ops := 200_000
	if testing.Short() || raceEnabled {
		ops = 20_000
	}
	rng := rand.New(rand.NewPCG(7, 7))
	pool := make([]Key, 3000)
	for i := range pool {
		pool[i] = manyKey(i)
		pool[i].Proto = []uint8{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, 47}[i%4]
	}
	to := testTimeouts()
	to.TCPEstablished = 90 * time.Second
	tb := NewPartitionedTable(nil, to, parts)
	if tb.Parts() != parts {
		t.Fatalf("%d parts, want %d", tb.Parts(), parts)
	}
	timeout := to.table()
	model := map[Key]*modelEntry{}
	live := func(m *modelEntry, now int64) bool { return m != nil && now-m.last <= timeout[m.s.kind()] }
	flagSets := []uint8{syn, synAck, ack, finAck, rst, rstAck, 0}
	var now int64
	for op := range ops {
		k := pool[rng.IntN(len(pool))]
		fromLo, flags := rng.IntN(2) == 0, flagSets[rng.IntN(len(flagSets))]
		m := model[k]
		switch r := rng.IntN(100); {
		case r < 50:
			want := live(m, now) && !m.s.reopens(flags)
			if want {
				if now-m.last >= refreshGrain {
					m.last = now
				}
				m.s = m.s.next(fromLo, flags)
			}
			if got := lookup(tb, &k, fromLo, flags, now); got != want {
				t.Fatalf("op %d: Lookup %v = %v, model says %v (%+v)", op, k, got, want, m)
			}
		case r < 80:
			if live(m, now) && !m.s.reopens(flags) {
				m.s = m.s.next(fromLo, flags)
			} else {
				m = &modelEntry{s: initial(k.Proto, fromLo, flags)}
				model[k] = m
			}
			m.last = now
			insert(tb, &k, fromLo, flags, now)
		case r < 98:
			tb.Expire(now, rng.IntN(50))
		default:
			now += rng.Int64N(int64(time.Second))
		}
		if e, ok := get(tb, &k, now); ok != live(m, now) || ok && (e.State != m.s.kind() || e.OrigLo != (m.s&origLo != 0)) {
			t.Fatalf("op %d: Get %v = %+v %v, model %+v", op, k, e, ok, m)
		}
	}
	for _, pt := range append([]*Table{tb}, tb.parts...)[min(len(tb.parts), 1):] {
		t.Logf("%d buckets, %d slots, %d entries", len(pt.view.Load().heads), pt.used-1, pt.Len())
	}
	// After a full expiry, the table holds exactly the model's live flows.
	tb.Expire(now, len(pool))
	n := 0
	for _, m := range model {
		if live(m, now) {
			n++
		}
	}
	if tb.Len() != n || len(tb.Entries(now)) != n {
		t.Errorf("Len %d, Entries %d, model has %d live flows", tb.Len(), len(tb.Entries(now)), n)
	}
}

// A tag lives in the entry: it starts at 0, survives state changes, is
// read back by the next lookup, and is never written into an entry that
// changed under the caller.
func TestTag(t *testing.T) {
	tb := NewTable(NewAllowance(10), testTimeouts())
	k, lo := MakeKey(netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 6, 1000, 80, 0, 0, 0)
	if !insert(tb, &k, lo, 0x02, 0) {
		t.Fatal("insert refused")
	}
	r, hit := tb.Lookup(packed(&k), lo, 0x02, 1)
	if !hit || r.Tag() != 0 {
		t.Fatalf("new entry: hit=%v tag=%#x, want a hit with tag 0", hit, r.Tag())
	}
	r.SetTag(0xabcdef)
	// The SYN-ACK changes the state; the tag stays.
	r, hit = tb.Lookup(packed(&k), !lo, 0x12, 2)
	if !hit || r.Tag() != 0xabcdef {
		t.Fatalf("after SetTag: hit=%v tag=%#x, want 0xabcdef", hit, r.Tag())
	}
	stale := r
	if _, hit = tb.Lookup(packed(&k), lo, 0x10, 3); !hit { // ACK: ESTABLISHED
		t.Fatal("ack missed")
	}
	stale.SetTag(0x1) // the entry changed since: no effect
	if r, _ = tb.Lookup(packed(&k), lo, 0x10, 4); r.Tag() != 0xabcdef {
		t.Errorf("a stale SetTag wrote the tag: %#x", r.Tag())
	}
}

// packed, lookup, insert and get call the table's methods with a Key,
// packed first: the tests name flows by Key.
func packed(k *Key) *Packed {
	var p Packed
	k.Pack(&p)
	return &p
}

func lookup(t *Table, k *Key, fromLo bool, tcpFlags uint8, now int64) bool {
	_, hit := t.Lookup(packed(k), fromLo, tcpFlags, now)
	return hit
}

func insert(t *Table, k *Key, fromLo bool, tcpFlags uint8, now int64) bool {
	return t.Insert(packed(k), fromLo, tcpFlags, now)
}

func get(t *Table, k *Key, now int64) (EntryInfo, bool) { return t.Get(packed(k), now) }

// The bucket array stops doubling once it has a bucket for every flow the
// allowance permits: a full table's load stays at most 1, its heads at 4
// bytes a flow. Raising the allowance lets it grow again.
func TestGrowthStopsAtAllowance(t *testing.T) {
	for _, c := range []struct {
		allowance, flows, buckets int
	}{
		{4096, 4096, 4096},          // presized at 4 Ki: full at load 1, no doubling
		{5000, 5000, 8192},          // one doubling reaches 5,000
		{math.MaxInt, 4096, 8192},   // no allowance: doubles at load 3/4
		{1 << 14, 1 << 14, 1 << 14}, // grows from 4 Ki to the allowance, no further
	} {
		tb := NewTable(NewAllowance(c.allowance), testTimeouts())
		for i := range c.flows {
			k := manyKey(i)
			insert(tb, &k, true, ack, 0)
		}
		for tb.growing != nil { // let a doubling under way finish
			k := manyKey(0)
			insert(tb, &k, true, ack, 0)
		}
		if b := len(tb.view.Load().heads); b != c.buckets {
			t.Errorf("allowance %d, %d flows: %d buckets, want %d", c.allowance, c.flows, b, c.buckets)
		}
		for i := range c.flows {
			k := manyKey(i)
			if _, hit := tb.Lookup(packed(&k), true, ack, 1); !hit {
				t.Fatalf("allowance %d: flow %d missing", c.allowance, i)
			}
		}
	}
	// A raised allowance: the next inserts double the array again.
	a := NewAllowance(4096)
	tb := NewTable(a, testTimeouts())
	for i := range 4096 {
		k := manyKey(i)
		insert(tb, &k, true, ack, 0)
	}
	a.SetMax(1 << 20)
	for i := 4096; i < 4096+2*growStep*4096/growStep; i++ {
		k := manyKey(i)
		insert(tb, &k, true, ack, 0)
	}
	if b := len(tb.view.Load().heads); b <= 4096 {
		t.Errorf("allowance raised: still %d buckets with %d flows", b, tb.Len())
	}
}

// TestPresizeFor: Presize gives an empty table the bucket array it would
// grow to for the flows it is told of (no more than its allowance), which
// then holds them without doubling; a table holding flows keeps its array,
// and a partitioned table presizes each part for its share.
func TestPresizeFor(t *testing.T) {
	for _, c := range []struct {
		allowance, flows, buckets int
	}{
		{math.MaxInt, 100_000, 1 << 18},     // 3/4 of 2^17 is below 100,000
		{math.MaxInt, 3000, presizeBuckets}, // no larger than it starts: no change
		{20_000, 100_000, 1 << 15},          // the allowance's: growth stops there too
	} {
		tb := NewTable(NewAllowance(c.allowance), testTimeouts())
		if got := tb.Presize(c.flows); got != (c.buckets != presizeBuckets) {
			t.Errorf("allowance %d, Presize(%d) = %v", c.allowance, c.flows, got)
		}
		if b := len(tb.view.Load().heads); b != c.buckets {
			t.Fatalf("allowance %d, Presize(%d): %d buckets, want %d", c.allowance, c.flows, b, c.buckets)
		}
		for i := range min(c.flows, c.allowance) {
			k := manyKey(i)
			if !insert(tb, &k, true, ack, 0) {
				t.Fatalf("allowance %d: insert %d refused", c.allowance, i)
			}
			if tb.growing != nil {
				t.Fatalf("allowance %d, presized for %d flows: doubling at flow %d", c.allowance, c.flows, i)
			}
		}
		for i := range min(c.flows, c.allowance) {
			k := manyKey(i)
			if _, hit := tb.Lookup(packed(&k), true, ack, 1); !hit {
				t.Fatalf("allowance %d: flow %d missing", c.allowance, i)
			}
		}
		if tb.Presize(4 * c.flows) {
			t.Errorf("allowance %d: Presize of a table holding flows: true", c.allowance)
		}
	}
	pt := NewPartitionedTable(nil, testTimeouts(), 4)
	if !pt.Presize(90_000) {
		t.Fatal("Presize of a partitioned table: false")
	}
	for i, p := range pt.parts {
		if b := len(p.view.Load().heads); b != 1<<15 { // 22,500 flows a part
			t.Errorf("part %d: %d buckets, want %d", i, b, 1<<15)
		}
	}
}
