package conntrack

import (
	"fmt"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpclab/vpclab/packet"
)

// tableOf returns a table tracking n flows (manyKey(0..n-1)), ESTABLISHED.
func tableOf(n int) *Table {
	tb := NewTable(nil, testTimeouts())
	for i := range n {
		k := manyKey(i)
		tb.Insert(packed(&k), true, ack, 0)
	}
	return tb
}

var sizes = []struct {
	name string
	n    int
}{{"1k", 1 << 10}, {"1M", 1 << 20}}

// BenchmarkLookupHit looks up live flows in turn: with 1M flows most
// lookups miss the CPU caches, as on a busy ENI.
func BenchmarkLookupHit(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			tb := tableOf(sz.n)
			keys := make([]Key, sz.n)
			for i := range keys {
				keys[i] = manyKey(i)
			}
			var p Packed
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				keys[i&(sz.n-1)].Pack(&p)
				if _, hit := tb.Lookup(&p, i&1 == 0, ack, int64(i)); !hit {
					b.Fatal("miss")
				}
			}
		})
	}
	b.Run("one flow", func(b *testing.B) {
		tb := tableOf(1)
		k := manyKey(0)
		var p Packed
		b.ReportAllocs()
		for i := range b.N {
			k.Pack(&p)
			if _, hit := tb.Lookup(&p, i&1 == 0, ack, int64(i)); !hit {
				b.Fatal("miss")
			}
		}
	})
}

// BenchmarkLookupMiss looks up flows that are not tracked, as for every
// packet of an untracked flow.
func BenchmarkLookupMiss(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			tb := tableOf(sz.n)
			keys := make([]Key, sz.n)
			for i := range keys {
				keys[i] = manyKey(i)
				keys[i].Proto = packet.ProtoUDP
			}
			var p Packed
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				keys[i&(sz.n-1)].Pack(&p)
				if _, hit := tb.Lookup(&p, true, 0, 0); hit {
					b.Fatal("hit")
				}
			}
		})
	}
}

func BenchmarkMakeKey(b *testing.B) {
	b.ReportAllocs()
	for i := range b.N {
		MakeKey(a4, b4, packet.ProtoTCP, uint16(i), 443, 0, 0, 0)
	}
}

// BenchmarkSetAndLookup is the dataplane's per-packet cost: build the key
// of a packet in a reused Packed, then look it up (a hit).
func BenchmarkSetAndLookup(b *testing.B) {
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
	}{{"v4", a4, b4}, {"v6", a6, b6}} {
		b.Run(tc.name, func(b *testing.B) {
			tb := NewTable(nil, testTimeouts())
			var k Packed
			tb.Insert(&k, k.Set(tc.src, tc.dst, packet.ProtoTCP, 40000, 443, 0, 0, 0), ack, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				fromLo := k.Set(tc.dst, tc.src, packet.ProtoTCP, 443, 40000, 0, 0, 0)
				if _, hit := tb.Lookup(&k, fromLo, ack, int64(i)); !hit {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkInsert inserts new flows. "churn": UDP flows expiring 30 s after
// their insert, one new flow every 30s/2¹⁶ of virtual time, so about 65k
// are live and each Insert also expires old ones. "grow": flows that stay,
// up to 1M (then a Flush, untimed), so the cost includes the doublings.
func BenchmarkInsert(b *testing.B) {
	b.Run("churn", func(b *testing.B) {
		tb := NewTable(nil, testTimeouts())
		step := int64(30*time.Second) >> 16
		b.ReportAllocs()
		defer startCPU().report(b)
		for i := range b.N {
			k := manyKey(i & (1<<24 - 1))
			k.Proto = packet.ProtoUDP
			var p Packed
			k.Pack(&p)
			if !tb.Insert(&p, true, 0, int64(i)*step) {
				b.Fatal("refused")
			}
		}
		b.ReportMetric(float64(tb.Len()), "flows")
	})
	b.Run("grow", func(b *testing.B) {
		tb := NewTable(nil, testTimeouts())
		b.ReportAllocs()
		defer startCPU().report(b)
		for i := range b.N {
			if i&(1<<20-1) == 0 && i > 0 {
				b.StopTimer()
				tb.Flush()
				b.StartTimer()
			}
			k := manyKey(i & (1<<20 - 1))
			var p Packed
			k.Pack(&p)
			tb.Insert(&p, true, syn, 0)
		}
	})
}

// BenchmarkMemory reports the heap a table of 1M flows holds per flow.
func BenchmarkMemory(b *testing.B) {
	var per float64
	for range b.N {
		per = bytesPerFlow(1 << 20)
	}
	b.ReportMetric(per, "bytes/flow")
}

// BenchmarkMapBaseline looks the same keys up in a plain Go map, with no
// synchronisation and no state: the scale for LookupHit's figures on a
// given machine.
func BenchmarkMapBaseline(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name, func(b *testing.B) {
			m := make(map[Key]uint32, sz.n)
			keys := make([]Key, sz.n)
			for i := range keys {
				keys[i] = manyKey(i)
				m[keys[i]] = uint32(i)
			}
			b.ResetTimer()
			for i := range b.N {
				if _, ok := m[keys[i&(sz.n-1)]]; !ok {
					b.Fatal("miss")
				}
			}
		})
	}
}

// BenchmarkLookupPair looks a packet's flow up in two tables of 1M flows
// each, as the dataplane does for a packet between two ENIs, in a random
// order of flows: every read of either table is a cache miss. "none"
// reads ahead in neither table, "prefetch" in the second one (Prefetch)
// before the first one's lookup, as the dataplane's ProcessParsed does;
// "batch" takes 64 packets at a time, as its ProcessBatch does:
// PrefetchBucket in both tables for each, then PrefetchEntry for each,
// then PrefetchChain, then the lookups.
func BenchmarkLookupPair(b *testing.B) {
	const n = 1 << 20
	ta, tb := tableOf(n), tableOf(n)
	keys := make([]Packed, 1<<16)
	for i := range keys {
		k := manyKey(int(uint32(i) * 2654435761 % n))
		k.Pack(&keys[i])
	}
	b.Run("batch", func(b *testing.B) {
		const batch = 64
		b.ReportAllocs()
		defer startCPU().report(b)
		i := 0
		for done := 0; done < b.N; done += batch {
			ps := keys[i&(len(keys)-1):][:batch]
			for j := range ps {
				ta.PrefetchBucket(&ps[j])
				tb.PrefetchBucket(&ps[j])
			}
			for j := range ps {
				ta.PrefetchEntry(&ps[j])
				tb.PrefetchEntry(&ps[j])
			}
			for j := range ps {
				ta.PrefetchChain(&ps[j])
				tb.PrefetchChain(&ps[j])
			}
			for j := range ps {
				_, hitA := ta.Lookup(&ps[j], true, ack, int64(i))
				_, hitB := tb.Lookup(&ps[j], true, ack, int64(i))
				if !hitA || !hitB {
					b.Fatal("miss")
				}
			}
			i += batch
		}
	})
	for _, mode := range []string{"none", "prefetch"} {
		b.Run(mode, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := &keys[i&(len(keys)-1)]
				if mode == "prefetch" {
					tb.Prefetch(p)
				}
				_, hitA := ta.Lookup(p, true, ack, int64(i))
				_, hitB := tb.Lookup(p, true, ack, int64(i))
				if !hitA || !hitB {
					b.Fatal("miss")
				}
				i++
			}
		})
	}
}

// cpuClock measures the CPU time of a benchmark: the goroutine stays on
// its thread meanwhile, and report gives the thread's CPU time per op as
// cpu-ns/op beside ns/op. On a machine shared with other work, wall time
// also counts the time the thread waited for a core.
type cpuClock struct{ start int64 }

func startCPU() cpuClock {
	runtime.LockOSThread()
	return cpuClock{threadCPU()}
}

func (c cpuClock) report(b *testing.B) {
	end := threadCPU()
	runtime.UnlockOSThread()
	if c.start >= 0 && end >= 0 && b.N > 0 {
		b.ReportMetric(float64(end-c.start)/float64(b.N), "cpu-ns/op")
	}
}

// BenchmarkInsertParallel inserts new flows from every core into one table
// (as cores replaying the flows of one ENI do), UDP flows expiring as in
// BenchmarkInsert/churn: "parts=1" is a plain table, one writer lock;
// "parts=4" a NewPartitionedTable of 4 parts; "/shard" gives each core
// only the flows of its Shard, as a replay split by Shard would, "/any"
// gives every core flows of every part. ns/op is per insert, all cores
// together.
func BenchmarkInsertParallel(b *testing.B) {
	procs := runtime.GOMAXPROCS(0)
	const perCore = 1 << 17
	for _, split := range []string{"shard", "any"} {
		// keys[c] are core c's flows.
		keys := make([][]Packed, procs)
		for i, c := 0, 0; c < procs; i++ {
			k := manyKey(i)
			k.Hi[14] = byte(i >> 24)
			k.Proto = packet.ProtoUDP
			var p Packed
			k.Pack(&p)
			sh := i % procs
			if split == "shard" {
				sh = p.Shard(procs)
			}
			if len(keys[sh]) < perCore {
				keys[sh] = append(keys[sh], p)
			}
			for c < procs && len(keys[c]) == perCore {
				c++
			}
		}
		for _, parts := range []int{1, 4} {
			b.Run(fmt.Sprintf("parts=%d/%s", parts, split), func(b *testing.B) {
				tb := NewPartitionedTable(nil, testTimeouts(), parts)
				step := int64(30*time.Second) >> 16
				var cores atomic.Int64
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					ks := keys[(cores.Add(1)-1)%int64(procs)]
					for i := int64(0); pb.Next(); i++ {
						if !tb.Insert(&ks[i&(perCore-1)], true, 0, i*step) {
							b.Error("refused")
							return
						}
					}
				})
			})
		}
	}
}
