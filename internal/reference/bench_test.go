package reference

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/internal/classbench"
	"github.com/vpclab/vpclab/verdict"
)

// firstPacketBench loads neurocuts/acl1_10k (9774 rules) as the inbound
// and outbound rules of the ENI under test and draws packets near its
// rules, inbound from the internet and outbound to it.
func firstPacketBench(b *testing.B) (*yLab, []classbench.Rule, []Packet) {
	b.Helper()
	rules := loadClassbench(b, filepath.Join(classbenchDir, "neurocuts", "acl1_10k"))
	rg := rand.New(rand.NewPCG(10_000, 0xbe))
	packets := make([]Packet, 1024)
	for i := range packets {
		packets[i] = cbPacket(rg, rules[rg.IntN(len(rules))], i%2 == 0)
	}
	return cbSGLab(rules), rules, packets
}

// BenchmarkReferenceFirstPacket10k measures the reference judging the first
// packet of a flow against a 10k-rule ClassBench security group: the
// baseline the engine's first-packet speed is measured against. Each
// iteration starts from an empty connection-tracking state (a new
// Evaluator), so every packet is a first packet.
func BenchmarkReferenceFirstPacket10k(b *testing.B) {
	y, _, packets := firstPacketBench(b)
	l, err := y.parse()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev := New(l)
		ev.Judge(packets[i%len(packets)], time.Second)
		i++
	}
}

// BenchmarkEngineFirstPacket10k is the engine on the same lab and packets,
// for the ratio. Each packet gets its own source port and address bits, so
// that it opens a new flow.
func BenchmarkEngineFirstPacket10k(b *testing.B) {
	y, _, packets := firstPacketBench(b)
	l, err := y.parse()
	if err != nil {
		b.Fatal(err)
	}
	eng := dataplane.New(l)
	bufs := make([][]byte, len(packets))
	from := make([]verdict.Port, len(packets))
	for i, p := range packets {
		bufs[i] = wire(p, nil)
		from[i] = verdict.PortInternet
		if p.From != FromInternet {
			from[i], _ = eng.Port(p.From)
		}
	}
	var v verdict.Verdict
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % len(packets)
		// A new flow each time: ports 20-21 (TCP and UDP source port)
		// of an IPv4 packet with a 20-byte header. Checksums are not
		// checked.
		if p := packets[k]; p.Proto == 6 || p.Proto == 17 {
			bufs[k][20], bufs[k][21] = byte(i>>8), byte(i)
		}
		eng.Process(from[k], bufs[k], int64(i)*int64(time.Millisecond), &v)
		i++
	}
}
