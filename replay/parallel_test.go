package replay

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/pcap/pcaptest"
	"github.com/vpclab/vpclab/verdict"
)

// manyFlows is a capture of the example lab: n TCP flows from the
// internet and between instances (web1's and app1's, which RunParallel
// gives different workers), each SYN, SYN-ACK, ACK, with ICMP and
// denied packets among them, interleaved at random.
func manyFlows(t testing.TB, n int) []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	db1 := netip.MustParseAddr("10.0.3.10")
	type flow struct{ pkts [][]byte }
	var flows []flow
	for i := range n {
		src := netip.AddrFrom4([4]byte{198, 51, byte(i >> 8), byte(i)})
		dst, dport := web1, uint16(443)
		switch i % 4 {
		case 1:
			src, dst, dport = web1, app1, 8080
		case 2:
			src, dst, dport = office, web1, uint16(22+i%3) // some denied
		case 3:
			src, dst, dport = app1, db1, 5432 // another ENI's worker
		}
		sport := uint16(1024 + i%60000)
		flows = append(flows, flow{[][]byte{
			ipPacket(t, tcp(src, dst, sport, dport, packet.TCPSyn)),
			ipPacket(t, tcp(dst, src, dport, sport, packet.TCPSyn|packet.TCPAck)),
			ipPacket(t, tcp(src, dst, sport, dport, packet.TCPAck)),
			ipPacket(t, icmp(src, dst, 8, uint16(i))),
		}})
	}
	var recs []record
	for len(flows) > 0 {
		k := rng.IntN(len(flows))
		f := &flows[k]
		recs = append(recs, record{Time: baseTime.Add(time.Duration(len(recs)) * time.Microsecond), Data: pcaptest.Ethernet(t, f.pkts[0])})
		if f.pkts = f.pkts[1:]; len(f.pkts) == 0 {
			flows[k] = flows[len(flows)-1]
			flows = flows[:len(flows)-1]
		}
	}
	return pcaptest.Pcap(t, layers.LinkTypeEthernet, recs)
}

// oneENIFlows is manyFlows with every flow between web1 and the
// internet: SYN, SYN-ACK, ACK, some to ports sg-web does not open.
func oneENIFlows(t testing.TB, n int) []byte {
	rng := rand.New(rand.NewPCG(11, 12))
	type flow struct{ pkts [][]byte }
	var flows []flow
	for i := range n {
		src := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		sport, dport := uint16(1024+i%60000), uint16(443)
		if i%5 == 0 {
			dport = 8443 // denied
		}
		flows = append(flows, flow{[][]byte{
			ipPacket(t, tcp(src, web1, sport, dport, packet.TCPSyn)),
			ipPacket(t, tcp(web1, src, dport, sport, packet.TCPSyn|packet.TCPAck)),
			ipPacket(t, tcp(src, web1, sport, dport, packet.TCPAck)),
		}})
	}
	var recs []record
	for len(flows) > 0 {
		k := rng.IntN(len(flows))
		f := &flows[k]
		recs = append(recs, record{Time: baseTime.Add(time.Duration(len(recs)) * time.Microsecond), Data: pcaptest.Ethernet(t, f.pkts[0])})
		if f.pkts = f.pkts[1:]; len(f.pkts) == 0 {
			flows[k] = flows[len(flows)-1]
			flows = flows[:len(flows)-1]
		}
	}
	return pcaptest.Pcap(t, layers.LinkTypeEthernet, recs)
}

// runCapture replays capture on cores cores; with spread, it checks that
// at least two of them judged packets.
func runCapture(t *testing.T, capture []byte, cores int, spread bool) *Summary {
	t.Helper()
	c, err := pcap.NewReader(bytes.NewReader(capture), "flows.pcap")
	if err != nil {
		t.Fatal(err)
	}
	s, err := RunParallel(exampleEngine(), c, cores, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Cores != max(cores, 1) {
		t.Errorf("summary says %d cores, ran on %d", s.Cores, cores)
	}
	if cores > 1 {
		var sum int64
		busy := 0
		for _, n := range s.CorePackets {
			sum += n
			if n > 0 {
				busy++
			}
		}
		if len(s.CorePackets) != cores || sum != s.Packets || spread && busy < 2 {
			t.Errorf("on %d cores, packets per core %v: want %d cores, at least two busy, %d packets in all", cores, s.CorePackets, cores, s.Packets)
		}
	}
	s.WallSeconds, s.PPS, s.Cores, s.CorePackets = 0, 0, 0, nil
	return s
}

// TestParallelSameVerdicts: two and three cores count the same verdicts as
// one, on a capture of interleaved flows of two ENIs (sharded by ENI on two
// cores, web1's split on three), on flows of web1 alone (split among the
// cores), and on the example scenario.
func TestParallelSameVerdicts(t *testing.T) {
	sc := exampleScenario(t)
	for name, capture := range map[string][]byte{
		"flows":    manyFlows(t, 3000),
		"one ENI":  oneENIFlows(t, 3000),
		"scenario": pcaptest.Pcap(t, layers.LinkTypeEthernet, sc.recs),
	} {
		one := runCapture(t, capture, 1, false)
		if one.Allowed == 0 || one.Denied == 0 {
			t.Fatalf("%s: want allowed and denied packets: %s", name, mustJSON(t, one))
		}
		for _, cores := range []int{2, 3} {
			if got := runCapture(t, capture, cores, name != "scenario"); !equalJSON(t, got, one) {
				t.Errorf("%s on %d cores:\n%s\none core:\n%s", name, cores, mustJSON(t, got), mustJSON(t, one))
			}
		}
	}
}

func TestParallelRefusesPerPacketOutputs(t *testing.T) {
	c, err := pcap.NewReader(bytes.NewReader(manyFlows(t, 10)), "flows.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := RunParallel(exampleEngine(), c, 2, Options{Verdicts: &bytes.Buffer{}}); err == nil {
		t.Error("verdicts on two cores: no error")
	}
}

func TestParallelAllocations(t *testing.T) {
	small, large := manyFlows(t, 50), manyFlows(t, 500)
	allocs := func(b []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			c, err := pcap.NewReader(bytes.NewReader(b), "allocs.pcap")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := RunParallel(exampleEngine(), c, 2, Options{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	a, b := allocs(small), allocs(large)
	t.Logf("allocations: %.0f for 200 packets, %.0f for 2000 (on two cores)", a, b)
	if b-a > 20 {
		t.Errorf("%.0f allocations for 200 packets, %.0f for 2000: RunParallel allocates per packet", a, b)
	}
}

// TestShardByENI: RunParallel's workers own ENIs. Everything an ENI
// exchanges with the internet goes to its worker, both ways; a flow
// between two ENIs goes to the lower one's, both ways; and the ENIs of the
// example lab spread over the workers.
func TestShardByENI(t *testing.T) {
	e := exampleEngine()
	pw, pa := port(t, e, web1), port(t, e, app1)
	for _, workers := range []int{2, 3} {
		used := map[int]bool{}
		for _, a := range []netip.Addr{web1, app1} {
			w := ShardOf(e, ipPacket(t, tcp(office, a, 1024, 443, packet.TCPSyn)), workers)
			used[w] = true
			for i := range 50 {
				host := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)})
				in := ipPacket(t, tcp(host, a, uint16(1024+i), 443, packet.TCPSyn))
				out := ipPacket(t, tcp(a, host, 443, uint16(1024+i), packet.TCPSyn|packet.TCPAck))
				if got, back := ShardOf(e, in, workers), ShardOf(e, out, workers); got != w || back != w {
					t.Errorf("%d workers: %v↔%v goes to workers %d and %d, want %d (the ENI's)", workers, host, a, got, back, w)
				}
			}
		}
		if len(used) != 2 {
			t.Errorf("%d workers: the two ENIs share one worker", workers)
		}
		lower := int(min(pw, pa)) % workers
		there := ipPacket(t, tcp(web1, app1, 49152, 8080, packet.TCPSyn))
		back := ipPacket(t, tcp(app1, web1, 8080, 49152, packet.TCPSyn|packet.TCPAck))
		if a, b := ShardOf(e, there, workers), ShardOf(e, back, workers); a != lower || b != lower {
			t.Errorf("%d workers: web1↔app1 goes to workers %d and %d, want %d", workers, a, b, lower)
		}
	}
}

// port returns the port of the ENI owning a.
func port(t *testing.T, e *dataplane.Engine, a netip.Addr) verdict.Port {
	t.Helper()
	p := e.SourcePort(a)
	if p < 0 {
		t.Fatalf("%v is no ENI's", a)
	}
	return p
}

// TestPlan: newPlan gives each ENI a worker of its own while that evens
// out the load, and splits an ENI too busy for one worker among all.
func TestPlan(t *testing.T) {
	for _, c := range []struct {
		counts  []int64
		other   int64
		workers int
		want    []int32
	}{
		{[]int64{100}, 0, 2, []int32{splitENI}},              // one busy ENI: split
		{[]int64{50, 50}, 0, 2, []int32{0, 1}},               // one each
		{[]int64{0, 60, 40}, 0, 2, []int32{0, 0, 1}},         // unseen port 0 keeps its default
		{[]int64{75, 25}, 0, 2, []int32{0, 1}},               // splitting 75 would cost more
		{[]int64{10, 80, 10}, 0, 2, []int32{0, splitENI, 1}}, // the busy one split
		{[]int64{30, 30, 30, 10}, 0, 3, []int32{0, 1, 2, 0}}, // busiest first, to the least loaded
		{[]int64{5, 5}, 100, 2, []int32{0, 1}},               // packets of no ENI spread evenly
	} {
		p := newPlan(c.counts, c.other, c.workers)
		if !slices.Equal(p.owner, c.want) {
			t.Errorf("newPlan(%v, %d, %d) = %v, want %v", c.counts, c.other, c.workers, p.owner, c.want)
		}
	}
	// A split ENI's packets go by address pair: both ways to one worker,
	// and the pairs over every worker.
	p := newPlan([]int64{100}, 0, 2)
	used := map[int]bool{}
	for i := range 64 {
		host := netip.AddrFrom4([4]byte{198, 18, 0, byte(i)})
		in := ipPacket(t, tcp(host, web1, 1024, 443, packet.TCPSyn))
		out := ipPacket(t, tcp(web1, host, 443, 1024, packet.TCPSyn|packet.TCPAck))
		w := p.worker(0, in)
		if p.worker(0, out) != w {
			t.Fatalf("%v↔web1: the two directions go to two workers", host)
		}
		used[w] = true
	}
	if len(used) != 2 {
		t.Errorf("a split ENI's flows went to %d workers of 2", len(used))
	}
}

// A split ENI's workers write only their own parts of its table: the
// worker hostShard gives a packet is conntrack's PairShard of its
// addresses, which names the parts its flow is in; and RunParallel
// partitions the table of the ENI it splits.
func TestSplitENIPartitioned(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		var src, dst netip.Addr
		if i%2 == 0 {
			src = netip.AddrFrom4([4]byte{198, 18, byte(rng.Uint32()), byte(rng.Uint32())})
			dst = netip.AddrFrom4([4]byte{10, 0, 1, byte(rng.Uint32())})
		} else {
			var a, b [16]byte
			for j := range a {
				a[j], b[j] = byte(rng.Uint32()), byte(rng.Uint32())
			}
			src, dst = netip.AddrFrom16(a), netip.AddrFrom16(b)
		}
		b := ipPacket(t, tcp(src, dst, 1024, 53, packet.TCPSyn))
		for _, n := range []int{2, 3, 4} {
			if got, want := hostShard(b, n), conntrack.PairShard(src, dst, n); got != want {
				t.Fatalf("%v→%v: hostShard(…, %d) = %d, conntrack.PairShard = %d", src, dst, n, got, want)
			}
		}
	}
	for _, cores := range []int{2, 3} {
		e := exampleEngine()
		c, err := pcap.NewReader(bytes.NewReader(oneENIFlows(t, 3000)), "one.pcap")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := RunParallel(e, c, cores, Options{}); err != nil {
			t.Fatal(err)
		}
		tb := e.Snapshot().Table(e.SourcePort(web1))
		if want := conntrack.PartCount(cores); tb.Parts() != want || tb.Len() == 0 {
			t.Errorf("on %d cores, web1's table has %d parts and %d entries, want %d parts and entries", cores, tb.Parts(), tb.Len(), want)
		}
	}
}

// presize sizes the tables for the flows the first packets promise: 20k
// flows of web1, three packets each, get buckets for at least 20k flows
// (not the 4 Ki a table starts with), and a capture of unknown size
// (read from a pipe) none.
func TestPresize(t *testing.T) {
	capture := oneENIFlows(t, 20_000)
	for _, sized := range []bool{true, false} {
		var r io.Reader = bytes.NewReader(capture)
		if !sized {
			r = struct{ io.Reader }{r} // no Size method
		}
		c, err := pcap.NewReader(r, "flows.pcap")
		if err != nil {
			t.Fatal(err)
		}
		e := exampleEngine()
		tb := e.Snapshot().Table(e.SourcePort(web1))
		before := tb.Buckets()
		var pkts [][]byte
		for range batchLen {
			fr, err := c.Next()
			if err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, bytes.Clone(fr.Data))
		}
		presize(e.Snapshot(), c, pkts)
		got := tb.Buckets()
		t.Logf("size known %v: %d buckets, %d before", sized, got, before)
		switch {
		case sized && (got < 20_000*4/3 || got > 1<<19):
			t.Errorf("presized for 20k flows: %d buckets, want 32 Ki to 512 Ki", got)
		case !sized && got != before:
			t.Errorf("a capture of unknown size: %d buckets, was %d", got, before)
		}
	}
}
