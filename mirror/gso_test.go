package mirror

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// gsoFrame is one frame a gsoSink was sent.
type gsoFrame struct {
	hdr  tun.VirtioNetHdr
	pkt  []byte // without the virtio header
	segs int
}

// gsoSink is a Sink that takes up to max mirror packets per frame and
// keeps the frames. unflushed counts the frames sent since the last Flush.
type gsoSink struct {
	max       int
	keep      bool
	frames    []gsoFrame
	sent      int
	flushes   int
	unflushed int
}

func (g *gsoSink) Send(_ *Session, frame []byte, segs int) {
	g.sent += segs
	g.unflushed++
	if !g.keep {
		return
	}
	var h tun.VirtioNetHdr
	h.Decode(frame)
	g.frames = append(g.frames, gsoFrame{h, bytes.Clone(frame[tun.VirtioNetHdrLen:]), segs})
}

func (g *gsoSink) Flush()                   { g.flushes++; g.unflushed = 0 }
func (g *gsoSink) MaxSegments(*Session) int { return g.max }

// unpack checks frame f as a TUN device's kernel would take it and cuts
// it into its mirror packets with tun.GSOSplit, then checks each packet's
// UDP checksum and sets it to 0, as the unbatched path leaves it.
func unpack(t *testing.T, i int, f gsoFrame) [][]byte {
	t.Helper()
	if f.segs == 1 {
		if f.hdr != (tun.VirtioNetHdr{}) {
			t.Fatalf("frame %d: one mirror packet with virtio header %+v", i, f.hdr)
		}
		return [][]byte{f.pkt}
	}
	b := f.pkt
	want := tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, GSOType: tun.GSOUDPL4, HdrLen: 28,
		GSOSize: f.hdr.GSOSize, CsumStart: 20, CsumOffset: 6}
	if f.hdr != want || f.hdr.GSOSize == 0 {
		t.Fatalf("frame %d: virtio header %+v, want %+v", i, f.hdr, want)
	}
	if f.segs < 2 || f.segs > MaxGSOSegments || len(b) > 65535 {
		t.Fatalf("frame %d: %d mirror packets in %d bytes; want 2-%d in at most 65535", i, f.segs, len(b), MaxGSOSegments)
	}
	payload := len(b) - 28
	if payload <= int(f.hdr.GSOSize) || payload > int(f.hdr.GSOSize)*f.segs || payload <= int(f.hdr.GSOSize)*(f.segs-1) {
		t.Fatalf("frame %d: %d payload bytes do not make %d segments of %d (the kernel's USO rules)", i, payload, f.segs, f.hdr.GSOSize)
	}
	if int(binary.BigEndian.Uint16(b[2:])) != len(b) || int(binary.BigEndian.Uint16(b[24:])) != len(b)-20 || sum16(b[:20], 0) != 0xffff {
		t.Fatalf("frame %d: outer lengths %d/%d or header checksum wrong for %d bytes", i, binary.BigEndian.Uint16(b[2:]), binary.BigEndian.Uint16(b[24:]), len(b))
	}
	if got, want := binary.BigEndian.Uint16(b[26:]), uint16(sum16(b[12:20], uint32(packet.ProtoUDP)+uint32(len(b)-20))); got != want {
		t.Fatalf("frame %d: UDP checksum field %#04x, want the pseudo-header sum %#04x", i, got, want)
	}
	bufs := make([][]byte, f.segs)
	for j := range bufs {
		bufs[j] = make([]byte, 65535)
	}
	sizes := make([]int, f.segs)
	n, err := tun.GSOSplit(f.hdr, b, bufs, sizes, 0)
	if err != nil || n != f.segs {
		t.Fatalf("frame %d: GSOSplit: %d segments, %v; want %d", i, n, err, f.segs)
	}
	out := make([][]byte, n)
	for j := range n {
		p := bufs[j][:sizes[j]]
		if binary.BigEndian.Uint16(p[26:]) == 0 || !l4ChecksumOK(p) {
			t.Fatalf("frame %d, packet %d: UDP checksum %#04x does not verify", i, j, binary.BigEndian.Uint16(p[26:]))
		}
		p[26], p[27] = 0, 0
		out[j] = p
	}
	return out
}

// offer is one packet to mirror at web1.
type offer struct {
	dir  Direction
	spec packet.Spec
}

// mirrorBoth offers the packets to two mirrors of the same lab, one whose
// Sink takes one mirror packet at a time and one whose Sink takes up to
// 64, draining both every drainEvery packets, and returns the mirror
// packets of the first, the frames of the second and both mirrors'
// counters.
func mirrorBoth(t *testing.T, plen int, offers []offer, drainEvery int) ([]sent, *gsoSink, SessionStats, SessionStats) {
	t.Helper()
	plain, gso := &collector{}, &gsoSink{max: MaxGSOSegments, keep: true}
	m1, err := New(mirrorAll(t, plen), fixedPorts, Options{Sink: plain, QueueSlots: drainEvery})
	if err != nil {
		t.Fatal(err)
	}
	defer m1.Close()
	m2, err := New(mirrorAll(t, plen), fixedPorts, Options{Sink: gso, QueueSlots: drainEvery})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	for i, o := range offers {
		b, p := pkt(t, o.spec)
		v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
		if o.dir == Ingress {
			v.From, v.To = portDB1, portWeb1
		}
		if !m1.Offer(portWeb1, o.dir, v, p, nil, b, 0) || !m2.Offer(portWeb1, o.dir, v, p, nil, b, 0) {
			t.Fatalf("packet %d not mirrored", i)
		}
		if (i+1)%drainEvery == 0 || i == len(offers)-1 {
			m1.Drain()
			m2.Drain()
			if gso.unflushed != 0 {
				t.Fatalf("%d frames sent after the last Flush", gso.unflushed)
			}
		}
	}
	return plain.take(), gso, m1.Stats()[0], m2.Stats()[0]
}

// TestCoalesceOneFlow: the copies of one flow become UDP GSO frames of up
// to 64 mirror packets of one length (the last may be shorter) and at
// most 65535 bytes; cut apart they are the unbatched path's mirror
// packets byte for byte but for the UDP checksum, which is valid.
func TestCoalesceOneFlow(t *testing.T) {
	flow := func(payload int) offer { return offer{Egress, tcp(web1, db1, 40000, 80, payload)} }
	repeat := func(n, payload int) []offer {
		var out []offer
		for range n {
			out = append(out, flow(payload))
		}
		return out
	}
	tests := []struct {
		name   string
		plen   int
		offers []offer
		segs   []int // mirror packets per frame
	}{
		{"truncated to 128", 128,
			append(append(append(append(repeat(70, 1400), flow(0)), repeat(10, 1400)...), flow(50)), flow(1400)),
			[]int{64, 7, 11, 1}},
		{"whole 1500-byte packets", 0, repeat(100, 1460), []int{43, 43, 14}}, // 43 × 1522 bytes of UDP payload fit 65535
		{"longer after shorter", 0, append(repeat(3, 100), repeat(3, 200)...), []int{3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, gso, st1, st2 := mirrorBoth(t, tt.plen, tt.offers, 256)
			var got [][]byte
			var segs []int
			for i, f := range gso.frames {
				segs = append(segs, f.segs)
				got = append(got, unpack(t, i, f)...)
			}
			if fmt.Sprint(segs) != fmt.Sprint(tt.segs) {
				t.Errorf("frames of %v mirror packets, want %v", segs, tt.segs)
			}
			if len(got) != len(plain) {
				t.Fatalf("%d mirror packets coalesced, %d unbatched", len(got), len(plain))
			}
			for i := range got {
				if !bytes.Equal(got[i], plain[i].pkt) {
					t.Fatalf("mirror packet %d:\n coalesced % x\n unbatched % x", i, got[i], plain[i].pkt)
				}
			}
			if st1 != st2 || st2.Mirrored != uint64(len(tt.offers)) || gso.sent != len(tt.offers) || gso.flushes == 0 {
				t.Errorf("counters: unbatched %+v, coalesced %+v; sink got %d in %d flushes", st1, st2, gso.sent, gso.flushes)
			}
		})
	}
}

// TestCoalesceInterleaved: copies of several flows, both directions,
// interleaved at random, with more flows than super-packets being filled
// at once: each flow's mirror packets come out in order and as the
// unbatched path makes them (IPv4 ids aside: they are given as frames are
// sent, all distinct), and the counters agree.
func TestCoalesceInterleaved(t *testing.T) {
	for _, flows := range []int{3, 20} {
		t.Run(fmt.Sprintf("%d connections", flows), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(flows)))
			var offers []offer
			for range 2000 {
				c := uint16(rng.IntN(flows))
				payload := []int{1400, 1400, 1400, 1400, 0, 30}[rng.IntN(6)]
				if rng.IntN(2) == 0 {
					offers = append(offers, offer{Egress, tcp(web1, db1, 40000+c, 80, payload)})
				} else {
					offers = append(offers, offer{Ingress, tcp(db1, web1, 80, 40000+c, payload)})
				}
			}
			plain, gso, st1, st2 := mirrorBoth(t, 128, offers, 512)
			norm := func(b []byte) []byte { // no id, no header checksum
				b = bytes.Clone(b)
				b[4], b[5], b[10], b[11] = 0, 0, 0, 0
				return b
			}
			byPort := func(pkts [][]byte) map[uint16][][]byte {
				m := map[uint16][][]byte{}
				for _, p := range pkts {
					sport := binary.BigEndian.Uint16(p[20:])
					m[sport] = append(m[sport], norm(p))
				}
				return m
			}
			var got, want [][]byte
			ids := map[uint16]bool{}
			for i, f := range gso.frames {
				for _, p := range unpack(t, i, f) {
					id := binary.BigEndian.Uint16(p[4:])
					if ids[id] {
						t.Fatalf("IPv4 id %d given twice", id)
					}
					ids[id] = true
					got = append(got, p)
				}
			}
			for _, s := range plain {
				want = append(want, s.pkt)
			}
			g, w := byPort(got), byPort(want)
			if len(g) != len(w) {
				t.Fatalf("%d outer flows coalesced, %d unbatched", len(g), len(w))
			}
			for port, ps := range w {
				if len(g[port]) != len(ps) {
					t.Fatalf("port %d: %d mirror packets coalesced, %d unbatched", port, len(g[port]), len(ps))
				}
				for i := range ps {
					if !bytes.Equal(g[port][i], ps[i]) {
						t.Fatalf("port %d, mirror packet %d differs:\n coalesced % x\n unbatched % x", port, i, g[port][i], ps[i])
					}
				}
			}
			if st1 != st2 || st2.Mirrored != uint64(len(offers)) {
				t.Errorf("counters: unbatched %+v, coalesced %+v", st1, st2)
			}
			if flows <= maxPending/2 && len(gso.frames)*3 > len(offers) {
				t.Errorf("%d mirror packets in %d frames: hardly coalesced", len(offers), len(gso.frames))
			}
			t.Logf("%d mirror packets in %d frames", len(offers), len(gso.frames))
		})
	}
}

// TestCoalesceOnlyENITargets: a file target gets one record per mirror
// packet whatever the Sink takes, and a Sink's MaxSegments is bounded.
func TestCoalesceOnlyENITargets(t *testing.T) {
	l := fileLab(t, t.TempDir()+"/a.pcap")
	m, err := New(l, fixedPorts, Options{Sink: &gsoSink{max: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, s := range m.tab.Load().sessions {
		if s.segs != 1 {
			t.Errorf("file target session %s coalesces %d", s.ID, s.segs)
		}
	}
	m2, err := New(mirrorAll(t, 0), fixedPorts, Options{Sink: &gsoSink{max: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if s := m2.tab.Load().sessions[0]; s.segs != MaxGSOSegments {
		t.Errorf("MaxSegments 1000 gives %d, want %d", s.segs, MaxGSOSegments)
	}
}

// gsoPacket builds a super-packet as a TUN device hands it over: one
// header for the whole payload (IPv4 id 0xfff0, TCP sequence 1000 and
// flags), the L4 checksum field holding the pseudo-header sum
// (NEEDS_CSUM), and its virtio header.
func gsoPacket(t testing.TB, s packet.Spec, mss int, flags uint8, ecn bool) (tun.VirtioNetHdr, []byte) {
	t.Helper()
	if s.Src.Is4() {
		s.FragID = 0xfff0 // the ids wrap
	}
	b, _ := pkt(t, s)
	off, at, pseudo := l4(b)
	h := tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, GSOSize: uint16(mss), CsumStart: uint16(off), CsumOffset: uint16(at - off)}
	switch {
	case s.Proto == packet.ProtoUDP:
		h.GSOType, h.HdrLen = tun.GSOUDPL4, uint16(off+8)
	case s.Src.Is4():
		h.GSOType, h.HdrLen = tun.GSOTCPv4, uint16(off+20)
	default:
		h.GSOType, h.HdrLen = tun.GSOTCPv6, uint16(off+20)
	}
	if s.Proto == packet.ProtoTCP {
		binary.BigEndian.PutUint32(b[off+4:], 1000)
		b[off+13] = flags
		if ecn {
			h.GSOType |= tun.GSOECN
		}
	}
	binary.BigEndian.PutUint16(b[at:], uint16(sum16(nil, pseudo)))
	return h, b
}

// TestCutSuperPackets: a super-packet whose segments a session cuts is
// queued as its headers and each segment's kept bytes only, and its
// copies are the old path's (tun.GSOSplit, then the cut) byte for byte,
// but for the L4 checksum of a cut segment, which holds the segment's
// pseudo-header sum.
func TestCutSuperPackets(t *testing.T) {
	v6a, v6b := web1v6, netip.MustParseAddr("2600:1f18:aa:bb01::20")
	all := uint8(packet.TCPAck | packet.TCPPsh | packet.TCPFin | tcpCWR)
	tests := []struct {
		name    string
		spec    packet.Spec
		mss     int
		flags   uint8
		ecn     bool
		plens   []int
		cutPath bool // queued cut (else whole, split by the consumer)
	}{
		{"TCPv4", tcp(web1, db1, 40000, 5432, 4500), 1000, all, true, []int{35, 60, 200, 14 + 40 + 999}, true},
		{"TCPv4 64 KiB at 9000-byte segments", tcp(web1, db1, 40000, 5432, 65535-40), 8948, packet.TCPAck, false, []int{128}, true},
		{"TCPv6", tcp(v6a, v6b, 40000, 80, 3000), 1200, packet.TCPAck | packet.TCPPsh, false, []int{55, 100, 300}, true},
		{"UDPv4 (USO)", udp(web1, db1, 5000, 6000, 3000), 1000, 0, false, []int{60, 100}, true},
		{"UDPv6 (USO)", udp(v6a, v6b, 5000, 6000, 2500), 800, 0, false, []int{120}, true},
		{"whole segments", tcp(web1, db1, 40000, 5432, 4500), 1000, all, false, []int{0, 14 + 40 + 1000}, false},
		{"more segments than Offer gathers", tcp(web1, db1, 40000, 5432, 60000), 400, packet.TCPAck, false, []int{100}, false},
	}
	for _, tt := range tests {
		for _, plen := range tt.plens {
			t.Run(fmt.Sprintf("%s/%d", tt.name, plen), func(t *testing.T) {
				h, b := gsoPacket(t, tt.spec, tt.mss, tt.flags, tt.ecn)
				orig := bytes.Clone(b)
				vnet := make([]byte, tun.VirtioNetHdrLen)
				h.Encode(vnet)
				var p packet.Parsed
				if r := p.Decode(b); r != packet.OK {
					t.Fatal(r)
				}
				// The old path's copies: the segments, then the cut.
				bufs := make([][]byte, 200)
				for i := range bufs {
					bufs[i] = make([]byte, 10000)
				}
				sizes := make([]int, len(bufs))
				n, err := tun.GSOSplit(h, b, bufs, sizes, 0)
				if err != nil {
					t.Fatal(err)
				}
				floor := 35
				if tt.spec.Src.Is6() {
					floor = 55
				}
				keep := DefaultMTU - 36 - 14
				if plen > 0 {
					keep = max(plen, floor) - 14
				}
				_, at, _ := l4(b)
				var want [][]byte
				var wantBytes, wantCut uint64
				for i := range n {
					seg := bufs[i][:sizes[i]]
					w := bytes.Clone(seg[:min(len(seg), keep)])
					if len(seg) > keep {
						wantCut++
						if tt.cutPath && at+2 <= len(w) {
							_, _, pseudo := l4(seg)
							binary.BigEndian.PutUint16(w[at:], uint16(sum16(nil, pseudo)))
						}
					}
					want = append(want, w)
					wantBytes += uint64(36 + 14 + len(w))
				}
				// What Offer queues: the headers and each segment's kept payload.
				hlen := int(h.HdrLen)
				queued := hlen
				for i := range n {
					queued += min(sizes[i]-hlen, max(keep-hlen, 0))
				}

				sink := &collector{}
				m, err := New(mirrorAll(t, plen), fixedPorts, Options{Sink: sink, QueueSlots: 4})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
				if !m.Offer(portWeb1, Egress, v, &p, vnet, b, 0) {
					t.Fatal("not mirrored")
				}
				m.tab.Load().ring.Get(func(md *meta, data []byte, _ int) {
					switch {
					case tt.cutPath && (md.hlen == 0 || len(data) != queued):
						t.Errorf("queued %d bytes (headers %d), want %d: the headers and %d bytes of each segment", len(data), md.hlen, queued, max(keep-hlen, 0))
					case !tt.cutPath && (md.hlen != 0 || len(data) != len(b)):
						t.Errorf("queued %d bytes cut at %d, want the whole super-packet", len(data), md.hlen)
					}
				})
				if !m.Offer(portWeb1, Egress, v, &p, vnet, b, 0) {
					t.Fatal("not mirrored")
				}
				m.Drain()
				got := sink.take()
				if len(got) != n {
					t.Fatalf("%d copies, want %d", len(got), n)
				}
				for i, c := range got {
					if inner := decode(t, c.pkt).inner; !bytes.Equal(inner, want[i]) {
						t.Errorf("copy %d:\n got  % x\n want % x", i, inner, want[i])
					}
				}
				if st := m.Stats()[0]; st.Mirrored != uint64(n) || st.Truncated != wantCut || st.Bytes != wantBytes || st.Failed != 0 {
					t.Errorf("stats %+v, want %d mirrored, %d truncated, %d bytes", st, n, wantCut, wantBytes)
				}
				if !bytes.Equal(b, orig) {
					t.Error("the super-packet was changed")
				}
			})
		}
	}
}

// TestCoalesceNoAllocs: in steady state neither Offer of a super-packet
// queued cut nor the consumer coalescing for a Sink allocates.
func TestCoalesceNoAllocs(t *testing.T) {
	sink := &gsoSink{max: MaxGSOSegments}
	m, err := New(mirrorAll(t, 128), fixedPorts, Options{Sink: sink, QueueSlots: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h, super := gsoPacket(t, tcp(web1, db1, 40000, 5432, 65535-40), 8948, packet.TCPAck, false)
	vnet := make([]byte, tun.VirtioNetHdrLen)
	h.Encode(vnet)
	var sp packet.Parsed
	sp.Decode(super)
	ack, ap := pkt(t, tcp(db1, web1, 5432, 40000, 0))
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	back := &verdict.Verdict{Allowed: true, From: portDB1, To: portWeb1}
	round := func() {
		for range 4 {
			m.Offer(portWeb1, Egress, v, &sp, vnet, super, 0)
			m.Offer(portWeb1, Ingress, back, ap, nil, ack, 0)
		}
		m.Drain()
	}
	round() // the consumer's buffers are made once
	r, discard := m.tab.Load().ring, func(*meta, []byte, int) {}
	if n := testing.AllocsPerRun(1000, func() {
		if !m.Offer(portWeb1, Egress, v, &sp, vnet, super, 0) {
			t.Fatal("not mirrored")
		}
		r.Get(discard)
	}); n != 0 {
		t.Errorf("Offer of a super-packet queued cut allocates %v times", n)
	}
	sent := sink.sent
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Errorf("Offer and Drain, coalescing, allocate %v times", n)
	}
	if sink.sent == sent || sink.unflushed != 0 {
		t.Errorf("the sink got %d mirror packets, %d frames unflushed", sink.sent-sent, sink.unflushed)
	}
}
