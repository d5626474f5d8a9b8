package bench

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/replay"
)

// replayFlows is the number of packets (each the first of a new tracked
// flow) in the captures of the replay benchmarks.
const replayFlows = 1 << 19

// replayRule lets the replay's sources (198.18.0.0/15, the benchmarking
// block) reach the server on 5432: a tracked flow, as the rule names no
// all-addresses block.
const replayRule = "{protocol: tcp, ports: 5432, cidr: 198.18.0.0/15}"

// newFlowCapture writes pkts as a raw-IP pcap, one microsecond apart.
func newFlowCapture(tb testing.TB, pkts [][]byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, 65535, pcap.LinkTypeRaw)
	if err != nil {
		tb.Fatal(err)
	}
	for i, p := range pkts {
		if err := w.WritePacket(epoch+int64(i)*1000, p, len(p)); err != nil {
			tb.Fatal(err)
		}
	}
	return buf.Bytes()
}

// capture10 is SYNs from random hosts of 198.18.0.0/15 to the server.
func capture10(tb testing.TB) []byte {
	rng := rand.New(rand.NewPCG(7, 8))
	pkts := make([][]byte, replayFlows)
	for i := range pkts {
		a := 198<<24 | 18<<16 | rng.Uint32()&(1<<17-1)
		src := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
		pkts[i] = tcp(src, server, uint16(1024+rng.IntN(60000)), 5432, packet.TCPSyn)
	}
	return newFlowCapture(tb, pkts)
}

// capture10k is tracked first packets allowed by the 10k ClassBench set,
// each given a source port of its own so that every packet opens a flow.
func capture10k(tb testing.TB, rules []string, pkts [][]byte) []byte {
	pkts = trackedOnly(tb, rules, pkts)
	out := make([][]byte, replayFlows)
	for i := range out {
		p := append([]byte(nil), pkts[i%len(pkts)]...)
		sport := uint16(1024 + i/len(pkts))
		p[20], p[21] = byte(sport>>8), byte(sport)
		out[i] = p
	}
	return newFlowCapture(tb, out)
}

// benchReplayFile replays capture from memory through a pcap reader on
// cores cores, a fresh engine of the lab with extra rules each time, and
// reports packets per second.
func benchReplayFile(b *testing.B, extra []string, capture []byte, cores int) {
	benchReplay(b, func() *dataplane.Engine { return engine(b, extra) }, capture, cores, checkTracked)
}

// benchReplay is benchReplayFile with the engine made by newEngine and
// checked after each run by check.
func benchReplay(b *testing.B, newEngine func() *dataplane.Engine, capture []byte, cores int, check func(*testing.B, *dataplane.Engine)) {
	b.ReportAllocs()
	var pkts int64
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		e := newEngine()
		c, err := pcap.NewReader(bytes.NewReader(capture), "bench.pcap")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		before := processCPU(b)
		s, err := replay.RunParallel(e, c, cores, replay.Options{})
		cpu += processCPU(b) - before
		if err != nil {
			b.Fatal(err)
		}
		if s.Allowed != s.Packets || s.Packets != replayFlows {
			b.Fatalf("%d of %d packets allowed, want all %d", s.Allowed, s.Packets, replayFlows)
		}
		pkts += s.Packets
		b.StopTimer()
		check(b, e)
		b.StartTimer()
	}
	b.ReportMetric(float64(pkts)/b.Elapsed().Seconds(), "pkts/s")
	// The CPU time the process spent per packet, on every core: on a
	// machine shared with other work, where the wall-clock rate of two
	// cores depends on whether a second core was free, this says whether
	// two workers cost more CPU per packet than one (contention) or only
	// waited for a core.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(pkts), "cpu-ns/pkt")
}

// processCPU returns the CPU time (user and system) the process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func checkTracked(b *testing.B, e *dataplane.Engine) {
	if n := e.Snapshot().Table(mustPort(b, e, "eni-server")).Len(); n < replayFlows/2 {
		b.Fatalf("the server's table holds %d entries after %d new flows: not tracked", n, replayFlows)
	}
}

// BenchmarkReplayReader reads the capture of BenchmarkReplayFile10 to its
// end, judging nothing: the baseline of the replay benchmarks.
func BenchmarkReplayReader(b *testing.B) {
	capture := capture10(b)
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		c, err := pcap.NewReader(bytes.NewReader(capture), "bench.pcap")
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := c.Next(); err != nil {
				break
			}
		}
		n += c.Frames()
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
}

// BenchmarkReplayFile10: a capture of 512k first packets of tracked flows
// (from 128k internet hosts to the server, 10 rules), through the pcap
// reader and the engine, on one core and on two. RunParallel shards by
// ENI; the one server's flows are too many for one worker, so it splits
// them over both, which then share its conntrack table (its writer lock
// and cache lines: BenchmarkReplayFile10TwoENIs gives each worker a table
// of its own).
func BenchmarkReplayFile10(b *testing.B) {
	extra := append([]string{replayRule}, TenRules...)
	capture := capture10(b)
	b.Run("cores=1", func(b *testing.B) { benchReplayFile(b, extra, capture, 1) })
	b.Run("cores=2", func(b *testing.B) { benchReplayFile(b, extra, capture, 2) })
}

// server2 is the second server of the two-ENI lab (twoServers).
var server2 = netip.MustParseAddr("10.0.1.11")

// twoServers is the benchmark lab with a second server, another instance
// of sg-server's at server2.
func twoServers(tb testing.TB, extra []string) *dataplane.Engine {
	tb.Helper()
	text := strings.Replace(Lab(extra), "instances:\n", "instances:\n  - {name: server2, subnet: subnet-server, ip: 10.0.1.11, security_groups: [sg-server], conntrack_allowance: 4000000}\n", 1)
	l, err := labfile.Parse("bench.yaml", []byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	return dataplane.New(l)
}

// captureSplit is capture10's SYNs, each to the server or to server2 at
// random: RunParallel shards by ENI, so on two cores each worker judges
// the flows of one server (it fails if the lab e would not).
func captureSplit(tb testing.TB, e *dataplane.Engine) []byte {
	tb.Helper()
	rng := rand.New(rand.NewPCG(7, 8))
	pkts := make([][]byte, 0, replayFlows)
	for len(pkts) < replayFlows {
		a := 198<<24 | 18<<16 | rng.Uint32()&(1<<17-1)
		src := netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)})
		dst := server
		if rng.IntN(2) == 1 {
			dst = server2
		}
		pkts = append(pkts, tcp(src, dst, uint16(1024+rng.IntN(60000)), 5432, packet.TCPSyn))
	}
	host := netip.MustParseAddr("198.18.0.1")
	if replay.ShardOf(e, tcp(host, server, 1, 5432, packet.TCPSyn), 2) == replay.ShardOf(e, tcp(host, server2, 1, 5432, packet.TCPSyn), 2) {
		tb.Fatal("the two servers' flows go to one worker of two")
	}
	return newFlowCapture(tb, pkts)
}

// BenchmarkReplayFile10TwoENIs is BenchmarkReplayFile10 with the flows
// split between two servers, so that on two cores each worker judges one
// server's flows and no conntrack table is written by both: the case the
// two-core goal (≥ 1.8× one core) is measured on.
func BenchmarkReplayFile10TwoENIs(b *testing.B) {
	extra := append([]string{replayRule}, TenRules...)
	capture := captureSplit(b, twoServers(b, extra))
	for _, cores := range []int{1, 2} {
		b.Run(fmt.Sprintf("cores=%d", cores), func(b *testing.B) {
			benchReplay(b, func() *dataplane.Engine { return twoServers(b, extra) }, capture, cores, func(b *testing.B, e *dataplane.Engine) {
				snap := e.Snapshot()
				if n := snap.Table(mustPort(b, e, "eni-server")).Len() + snap.Table(mustPort(b, e, "eni-server2")).Len(); n < replayFlows/2 {
					b.Fatalf("the servers' tables hold %d entries after %d new flows: not tracked", n, replayFlows)
				}
			})
		})
	}
}

// BenchmarkReplayFile10k is BenchmarkReplayFile10 with the 10k ClassBench
// rules (tracked first packets they allow), on one core.
func BenchmarkReplayFile10k(b *testing.B) {
	rules := classBench10k(b)
	extra := ClassBenchRules(rules)
	capture := capture10k(b, extra, firstPackets10k(b, rules, 8192))
	benchReplayFile(b, extra, capture, 1)
}
