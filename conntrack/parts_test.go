package conntrack

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vpclab/vpclab/packet"
)

func TestPartitionedParts(t *testing.T) {
	for _, c := range []struct{ ask, want int }{{0, 1}, {1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {1000, maxParts}} {
		if got := NewPartitionedTable(nil, testTimeouts(), c.ask).Parts(); got != c.want {
			t.Errorf("NewPartitionedTable(%d): %d parts, want %d", c.ask, got, c.want)
		}
	}
	if got := NewTable(nil, testTimeouts()).Parts(); got != 1 {
		t.Errorf("NewTable: %d parts, want 1", got)
	}
}

// A partitioned table spreads flows over its parts, keeps one allowance
// for all of them, and its whole-table methods cover every part.
func TestPartitionedTable(t *testing.T) {
	const n = 4000
	a := NewAllowance(n)
	tb := NewPartitionedTable(a, testTimeouts(), 4)
	udp := func(i int) *Key { k := manyKey(i); k.Proto = packet.ProtoUDP; return &k }
	for i := range n {
		if !insert(tb, udp(i), true, 0, 0) {
			t.Fatalf("insert %d refused", i)
		}
	}
	// The allowance holds across the parts.
	if insert(tb, udp(n), true, 0, 0) || a.Exceeded() != 1 {
		t.Errorf("insert past the allowance: accepted, or Exceeded %d, want 1", a.Exceeded())
	}
	if tb.Len() != n || a.InUse() != n || len(tb.Entries(0)) != n {
		t.Errorf("Len %d, InUse %d, Entries %d, want %d", tb.Len(), a.InUse(), len(tb.Entries(0)), n)
	}
	for i, pt := range tb.parts {
		// Each part holds about a quarter and is sized for a quarter.
		if l := pt.Len(); l < n/8 || l > n/2 {
			t.Errorf("part %d holds %d of %d flows", i, l, n)
		}
		if b := len(pt.view.Load().heads); b > 2048 {
			t.Errorf("part %d: %d buckets for its share of %d flows", i, b, n)
		}
	}
	for i := range n {
		if !lookup(tb, udp(i), false, 0, 1) {
			t.Fatalf("flow %d missing", i)
		}
		if _, ok := get(tb, udp(i), 1); !ok {
			t.Fatalf("Get flow %d: missing", i)
		}
	}
	var v uint64
	for i := range 64 {
		p := packed(udp(i))
		v += tb.Prefetch(p)
		tb.PrefetchBucket(p)
		tb.PrefetchEntry(p)
		tb.PrefetchChain(p)
	}
	_ = v

	// SetTimeouts reaches every part: with a 1 s UDP timeout every flow
	// has expired at 2 s, and an Expire with budget n removes them all.
	to := testTimeouts()
	to.UDP, to.UDPStream = 1e9, 1e9
	tb.SetTimeouts(to)
	if lookup(tb, udp(0), false, 0, 2e9) {
		t.Error("flow live after the new timeout")
	}
	if got := tb.Expire(2e9, n); got != n || tb.Len() != 0 || a.InUse() != 0 {
		t.Errorf("Expire removed %d, Len %d, InUse %d; want %d, 0, 0", got, tb.Len(), a.InUse(), n)
	}

	// SetAllowance and Flush move and return every part's places.
	tb.SetTimeouts(testTimeouts())
	for i := range 100 {
		insert(tb, udp(i), true, 0, 3e9)
	}
	b := NewAllowance(1000)
	tb.SetAllowance(b)
	if a.InUse() != 0 || b.InUse() != 100 {
		t.Errorf("after SetAllowance: old InUse %d, new %d; want 0, 100", a.InUse(), b.InUse())
	}
	tb.Flush()
	if tb.Len() != 0 || b.InUse() != 0 || lookup(tb, udp(1), true, 0, 3e9) {
		t.Errorf("after Flush: Len %d, InUse %d", tb.Len(), b.InUse())
	}
	insert(tb, udp(1), true, 0, 3e9)
	ref, hit := tb.Lookup(packed(udp(1)), true, 0, 3e9)
	if !hit {
		t.Fatal("no hit after Flush and insert")
	}
	ref.SetTag(5)
	tb.ClearTags()
	if ref, _ := tb.Lookup(packed(udp(1)), true, 0, 3e9); ref.Tag() != 0 {
		t.Errorf("tag %d after ClearTags", ref.Tag())
	}
	if allocs := testing.AllocsPerRun(100, func() { tb.Lookup(packed(udp(1)), true, 0, 3e9) }); allocs != 0 {
		t.Errorf("Lookup allocates %v times", allocs)
	}
}

// Writers on several goroutines insert and expire flows of one
// partitioned table while readers look them up: every flow inserted is
// found, no reader hits a flow never inserted, and the counts add up.
// Run it with -race.
func TestPartitionedConcurrentWriters(t *testing.T) {
	for _, parts := range []int{1, 4} {
		t.Run(fmt.Sprintf("parts=%d", parts), func(t *testing.T) { testConcurrentWriters(t, parts) })
	}
}

func testConcurrentWriters(t *testing.T, parts int) {
	const writers = 4
	per := 20_000
	if raceEnabled || testing.Short() {
		per = 3000
	}
	a := NewAllowance(writers * per)
	tb := NewPartitionedTable(a, testTimeouts(), parts)
	key := func(w, i int) *Key {
		k := manyKey(i)
		k.Hi[13] = byte(w) // each writer its own flows
		return &k
	}
	var done atomic.Int32
	var inserted [writers]atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer done.Add(1)
			for i := range per {
				if !insert(tb, key(w, i), true, ack, 0) {
					t.Errorf("writer %d: insert %d refused", w, i)
					return
				}
				inserted[w].Store(int64(i + 1))
				if i%512 == 0 {
					tb.Expire(0, 8) // nothing has expired: removes nothing
				}
			}
		}()
	}
	for r := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; done.Load() < writers; i++ {
				w := (i + r) % writers
				n := inserted[w].Load()
				if n == 0 {
					continue
				}
				if !lookup(tb, key(w, int(uint64(i)*2654435761%uint64(n))), true, ack, 0) {
					t.Errorf("reader: writer %d's flow missing", w)
					return
				}
				if lookup(tb, key(w, per+i%1000), true, ack, 0) {
					t.Errorf("reader: hit a flow never inserted")
					return
				}
			}
		}()
	}
	wg.Wait()
	if tb.Len() != writers*per || a.InUse() != writers*per {
		t.Errorf("Len %d, InUse %d, want %d", tb.Len(), a.InUse(), writers*per)
	}
	for w := range writers {
		for i := range per {
			if !lookup(tb, key(w, i), true, ack, 0) {
				t.Fatalf("writer %d's flow %d missing", w, i)
			}
		}
	}
}

// Shard agrees with the part a partitioned table chooses: with n a power
// of two no larger than the parts, a shard's flows fall in its own parts.
func TestShard(t *testing.T) {
	tb := NewPartitionedTable(nil, testTimeouts(), 8)
	index := map[*Table]int{}
	for i, pt := range tb.parts {
		index[pt] = i
	}
	seen := map[int]bool{}
	for i := range 10_000 {
		p := packed(udpKey(i))
		part := index[tb.part(p)]
		for _, n := range []int{1, 2, 4, 8} {
			if got, want := p.Shard(n), part*n/8; got != want {
				t.Fatalf("flow %d in part %d: Shard(%d) = %d, want %d", i, part, n, got, want)
			}
		}
		if s := p.Shard(3); s < 0 || s >= 3 {
			t.Fatalf("Shard(3) = %d", s)
		}
		seen[p.Shard(3)] = true
	}
	if len(seen) != 3 {
		t.Errorf("Shard(3) used %d of 3 shards", len(seen))
	}
	if s := (&Packed{}).Shard(0); s != 0 {
		t.Errorf("Shard(0) = %d", s)
	}
}

// PairShard, and PairShard4 and PairShard6 on the words of a packet's
// header, agree with Shard on the flow between two addresses, whatever its
// ports, protocol and direction: every flow between two hosts is in one
// part.
func TestPairShard(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	addr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{10, byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
	}
	for i := range 10_000 {
		v6 := i%2 == 1
		a, b := addr(v6), addr(v6)
		var p Packed
		k, _ := MakeKey(a, b, packet.ProtoUDP, uint16(rng.Uint32()), uint16(rng.Uint32()), 0, 0, 0)
		k.Pack(&p)
		for _, n := range []int{1, 2, 3, 4, 8} {
			want := p.Shard(n)
			if got := PairShard(a, b, n); got != want {
				t.Fatalf("PairShard(%v, %v, %d) = %d, Shard = %d", a, b, n, got, want)
			}
			if got := PairShard(b, a, n); got != want {
				t.Fatalf("PairShard(%v, %v, %d) = %d, the other way %d", b, a, n, got, want)
			}
			var got int
			if v6 {
				x, y := a.As16(), b.As16()
				got = PairShard6(binary.BigEndian.Uint64(x[:8])^binary.BigEndian.Uint64(x[8:])^
					binary.BigEndian.Uint64(y[:8])^binary.BigEndian.Uint64(y[8:]), n)
			} else {
				x, y := a.As4(), b.As4()
				got = PairShard4(binary.BigEndian.Uint32(x[:])^binary.BigEndian.Uint32(y[:]), n)
			}
			if got != want {
				t.Fatalf("PairShard4/6 of %v and %v over %d = %d, Shard = %d", a, b, n, got, want)
			}
		}
	}
}

func udpKey(i int) *Key {
	k := manyKey(i)
	k.Proto = packet.ProtoUDP
	return &k
}
