package classify

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
)

// benchFiles are the 10k ClassBench sets, one of each kind.
var benchFiles = []string{"neurocuts/acl1_10k", "neurocuts/fw1_10k", "neurocuts/ipc1_10k"}

// benchPackets returns packets near the rules, as TestClassBench draws
// them, in a fixed order.
func benchPackets(family int, rules []Rule) []packet {
	rng := rand.New(rand.NewPCG(7, 7))
	packets := make([]packet, 4096)
	for i := range packets {
		packets[i] = nearPacket(rng, family, rules)
	}
	return packets
}

// sgRules10 is a plausible security group's inbound rules.
func sgRules10() []Rule {
	p := func(s ...string) []netip.Prefix {
		ps := make([]netip.Prefix, len(s))
		for i := range s {
			ps[i] = netip.MustParsePrefix(s[i])
		}
		return ps
	}
	return []Rule{
		{Prefixes: p("0.0.0.0/0"), Proto: 6, Lo: 443, Hi: 443},
		{Prefixes: p("0.0.0.0/0"), Proto: 6, Lo: 80, Hi: 80},
		{Prefixes: p("203.0.113.0/24", "198.51.100.7/32"), Proto: 6, Lo: 22, Hi: 22},
		{Prefixes: p("10.0.0.0/16"), Proto: 17, Lo: 53, Hi: 53},
		{Prefixes: p("10.0.0.0/16"), Proto: 6, Lo: 53, Hi: 53},
		{Prefixes: p("10.0.1.10/32", "10.0.1.11/32", "10.0.2.37/32"), Proto: 6, Lo: 5432, Hi: 5432},
		{Prefixes: p("0.0.0.0/0"), Proto: 1, Lo: 8 << 8, Hi: 8<<8 | 255},
		{Prefixes: p("0.0.0.0/0"), Proto: 1, Lo: 3 << 8, Hi: 3<<8 | 255},
		{Prefixes: p("10.0.0.0/16"), Proto: 6, Lo: 32768, Hi: 60999},
		{Prefixes: p("10.0.3.0/24"), Proto: -1, Lo: 0, Hi: 65535},
	}
}

func benchMatch(b *testing.B, c *Classifier, packets []packet) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pk := &packets[i%len(packets)]
		c.Match(pk.proto, pk.addr, pk.val)
		i++
	}
}

func BenchmarkMatch10(b *testing.B) {
	rules := sgRules10()
	benchMatch(b, Compile(4, rules), benchPackets(4, rules))
}

func BenchmarkMatch10k(b *testing.B) {
	for _, name := range benchFiles {
		rules := loadClassBench(b, name)
		b.Run(name[len("neurocuts/"):], func(b *testing.B) {
			var c *Classifier
			heap := retained(func() { c = Compile(4, rules) })
			benchMatch(b, c, benchPackets(4, rules))
			b.ReportMetric(float64(heap), "heap-B")
		})
	}
}

// BenchmarkLinear10k is the baseline: the reference scan of the same rules
// and packets as BenchmarkMatch10k.
func BenchmarkLinear10k(b *testing.B) {
	for _, name := range benchFiles {
		rules := loadClassBench(b, name)
		b.Run(name[len("neurocuts/"):], func(b *testing.B) {
			packets := benchPackets(4, rules)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				pk := &packets[i%len(packets)]
				linear(4, rules, pk.proto, pk.addr, pk.val)
				i++
			}
		})
	}
}

func BenchmarkCompile10k(b *testing.B) {
	for _, name := range benchFiles {
		rules := loadClassBench(b, name)
		b.Run(name[len("neurocuts/"):], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Compile(4, rules)
			}
		})
	}
}

// retained returns the heap bytes that build leaves reachable.
func retained(build func()) int64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	build()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}
