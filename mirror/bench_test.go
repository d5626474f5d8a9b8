package mirror

import (
	"strconv"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// BenchmarkOffer measures the packet path's cost: a port without
// sessions, and a mirrored packet through a filter of AWS's ten rules
// whose last accepts it (the copy is taken off the queue without the
// consumer's work, which runs on its own goroutine).
func BenchmarkOffer(b *testing.B) {
	var rules []lab.MirrorRule
	for n := 1; n < 10; n++ {
		rules = append(rules, dportRule(n, false, packet.ProtoUDP, 1000*n, 1000*n+9))
	}
	rules = append(rules, allRule(100, true))
	f := &lab.MirrorFilter{ID: "tmf-ten", Egress: rules, Line: 1}
	l := newLab(b, []*lab.MirrorFilter{f}, []*lab.MirrorTarget{eniTarget("tmt-tap", "eni-tap1")},
		[]*lab.MirrorSession{newSession("tms-web", 1, "eni-web1", "tmt-tap", "tmf-ten", 1, 0)})
	m, err := New(l, fixedPorts, Options{Sink: &nopSink{}, QueueSlots: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	r, discard := m.tab.Load().ring, func(*meta, []byte, int) {}
	for _, size := range []int{64, 1500} {
		pl := size - 40
		buf, p := pkt(b, tcp(web1, db1, 40000, 443, pl))
		v := &verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, From: portWeb1, To: portDB1}
		b.Run("no-session/"+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				m.Offer(portDB1, Egress, v, p, nil, buf, 0)
			}
		})
		b.Run("mirrored/"+strconv.Itoa(size), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				m.Offer(portWeb1, Egress, v, p, nil, buf, 0)
				r.Get(discard)
			}
		})
	}
}

// BenchmarkSuperPacket measures a 64 KiB TCP super-packet of 9000-byte
// segments mirrored with packet_length 128 (the e2e benchmark's session)
// to a Sink that takes 64 mirror packets a frame: the packet path's Offer
// alone, and Offer with the consumer's work (Drain).
func BenchmarkSuperPacket(b *testing.B) {
	sink := &gsoSink{max: MaxGSOSegments}
	m, err := New(mirrorAll(b, 128), fixedPorts, Options{Sink: sink, QueueSlots: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	h, super := gsoPacket(b, tcp(web1, db1, 40000, 5432, 65535-40), 8948, packet.TCPAck, false)
	vnet := make([]byte, tun.VirtioNetHdrLen)
	h.Encode(vnet)
	var p packet.Parsed
	p.Decode(super)
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	r, discard := m.tab.Load().ring, func(*meta, []byte, int) {}
	b.Run("offer", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(super)))
		for b.Loop() {
			m.Offer(portWeb1, Egress, v, &p, vnet, super, 0)
			r.Get(discard)
		}
	})
	b.Run("offer+drain", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(super)))
		for b.Loop() {
			m.Offer(portWeb1, Egress, v, &p, vnet, super, 0)
			m.Drain()
		}
	})
}
