package live

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// dg describes a UDP datagram for udpFrame. The zero value of each field
// is the common case: IPv4 10.0.1.10:40000 → 10.0.2.10:5201, TTL 63, DF,
// id 0, 64 bytes of payload, a partial checksum as the kernel leaves it.
type dg struct {
	src, dst     string
	sport, dport uint16
	id           uint16 // IPv4 id; the k-th of a run gets id+k from udpRun
	payload      int
	ttl, tos     byte
	noDF         bool
	mf           bool   // IPv4 more fragments
	options      bool   // IPv4 with 4 bytes of options (IHL 6)
	flow         uint32 // IPv6 flow label
	csum         csumMode
	gso          bool // a virtio header saying GSO_UDP_L4 (one segment)
	seed         byte // first payload byte; the others count up from it
}

type csumMode int

const (
	csumPartial  csumMode = iota // NEEDS_CSUM, the pseudo-header sum in the field
	csumComplete                 // a correct, complete checksum
	csumBad                      // a complete checksum, off by one
	csumZero                     // no checksum (IPv4)
	csumOffset                   // NEEDS_CSUM with a csum_offset that is not UDP's
)

// udpFrame writes the frame of datagram g into b and returns its length.
func udpFrame(b []byte, g dg) int {
	src, dst := g.src, g.dst
	if src == "" {
		src, dst = "10.0.1.10", "10.0.2.10"
	}
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	sport, dport := g.sport, g.dport
	if sport == 0 {
		sport, dport = 40000, 5201
	}
	payload := g.payload
	if payload == 0 {
		payload = 64
	}
	ttl := g.ttl
	if ttl == 0 {
		ttl = 63
	}
	l4 := 20
	switch {
	case s.Is6():
		l4 = 40
	case g.options:
		l4 = 24
	}
	total := l4 + udpHdrLen + payload
	clear(b[:tun.VirtioNetHdrLen+total])
	ip := b[tun.VirtioNetHdrLen : tun.VirtioNetHdrLen+total]
	if s.Is6() {
		binary.BigEndian.PutUint32(ip[0:], 6<<28|uint32(g.tos)<<20|g.flow&0xfffff)
		binary.BigEndian.PutUint16(ip[4:], uint16(total-40))
		ip[6], ip[7] = 17, ttl
		a, z := s.As16(), d.As16()
		copy(ip[8:], a[:])
		copy(ip[24:], z[:])
	} else {
		ip[0], ip[1] = 0x40|byte(l4/4), g.tos
		binary.BigEndian.PutUint16(ip[2:], uint16(total))
		binary.BigEndian.PutUint16(ip[4:], g.id)
		if !g.noDF {
			ip[6] = 0x40
		}
		if g.mf {
			ip[6] |= 0x20
		}
		ip[8], ip[9] = ttl, 17
		a, z := s.As4(), d.As4()
		copy(ip[12:], a[:])
		copy(ip[16:], z[:])
		binary.BigEndian.PutUint16(ip[10:], ^checksum.Checksum(ip[:l4], 0))
	}
	u := ip[l4:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	for i := range payload {
		u[udpHdrLen+i] = g.seed + byte(i)
	}
	pseudo := tun.PseudoHeaderSum(ip, packet.ProtoUDP, uint16(len(u)))
	h := tun.VirtioNetHdr{}
	switch g.csum {
	case csumPartial, csumOffset:
		binary.BigEndian.PutUint16(u[6:], pseudo)
		h = tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, CsumStart: uint16(l4), CsumOffset: 6}
		if g.csum == csumOffset {
			h.CsumOffset = 4
		}
	case csumComplete, csumBad:
		sum := ^checksum.Checksum(u, pseudo)
		if sum == 0 {
			sum = 0xffff
		}
		if g.csum == csumBad {
			sum++
		}
		binary.BigEndian.PutUint16(u[6:], sum)
	}
	if g.gso {
		h.GSOType, h.GSOSize, h.HdrLen = tun.GSOUDPL4, uint16(payload), uint16(l4+udpHdrLen)
	}
	h.Encode(b)
	return tun.VirtioNetHdrLen + total
}

// frames makes the frames of gs, each in a buffer of its own.
func frames(gs ...dg) [][]byte {
	out := make([][]byte, len(gs))
	for i, g := range gs {
		b := make([]byte, tun.MaxFrameSize)
		out[i] = b[:udpFrame(b, g)]
	}
	return out
}

// udpRun returns n copies of g as the k-th datagram of a run: ids g.id+k,
// payloads seeded by k.
func udpRun(g dg, n int) []dg {
	out := make([]dg, n)
	for k := range out {
		out[k] = g
		out[k].id = g.id + uint16(k)
		out[k].seed = g.seed + byte(k*7)
	}
	return out
}

// cat concatenates lists of datagrams.
func cat(lists ...[]dg) []dg { return slices.Concat(lists...) }

// complete returns a copy of frame's IP packet with its checksum
// completed if the frame left it to the device: the datagram a receiver
// gets.
func complete(t *testing.T, frame []byte) []byte {
	t.Helper()
	var h tun.VirtioNetHdr
	h.Decode(frame)
	pkt := bytes.Clone(frame[tun.VirtioNetHdrLen:])
	if err := tun.CompleteChecksum(h, pkt); err != nil {
		t.Fatal(err)
	}
	return pkt
}

// split cuts frame back into the datagrams a receiver gets: with
// tun.GSOSplit if it is a super-packet, else its packet with its checksum
// completed.
func split(t *testing.T, frame []byte) [][]byte {
	t.Helper()
	var h tun.VirtioNetHdr
	h.Decode(frame)
	if !h.IsGSO() {
		return [][]byte{complete(t, frame)}
	}
	bufs, sizes := make([][]byte, maxMergeSegments), make([]int, maxMergeSegments)
	for i := range bufs {
		bufs[i] = make([]byte, tun.MaxFrameSize)
	}
	n, err := tun.GSOSplit(h, frame[tun.VirtioNetHdrLen:], bufs, sizes, 0)
	if err != nil {
		t.Fatalf("splitting %+v: %v", h, err)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = bufs[i][:sizes[i]]
	}
	return out
}

// checkDatagram fails unless pkt, an IP packet, has a correct IPv4 header
// checksum and UDP checksum.
func checkDatagram(t *testing.T, pkt []byte) {
	t.Helper()
	l4 := 40
	if pkt[0]>>4 == 4 {
		l4 = int(pkt[0]&0x0f) * 4
		if checksum.Checksum(pkt[:l4], 0) != 0xffff {
			t.Errorf("IPv4 header checksum wrong: % x", pkt[:l4])
		}
	}
	u := pkt[l4:]
	if checksum.Checksum(u, tun.PseudoHeaderSum(pkt, packet.ProtoUDP, uint16(len(u)))) != 0xffff {
		t.Errorf("UDP checksum wrong: % x", u[:udpHdrLen])
	}
}

// coalesceAll runs coalesce over in as flush does and returns the frames
// it gives, copied, with their counts.
func coalesceAll(t *testing.T, in [][]byte, offl tun.Offload) (out [][]byte, counts []int) {
	t.Helper()
	m := newCoalescer(tun.IdealBatchSize)
	for rest := slices.Clone(in); len(rest) > 0; {
		n, used := m.coalesce(rest, offl)
		if n == 0 || used == 0 {
			t.Fatalf("coalesce made no progress on %d frames (n %d, used %d)", len(rest), n, used)
		}
		for i := range n {
			out = append(out, bytes.Clone(rest[i]))
		}
		counts = append(counts, m.counts[:n]...)
		rest = rest[used:]
	}
	return out, counts
}

// TestCoalesceRules: which runs merge. want lists the number of datagrams
// of each frame coalesce gives; and, whatever it merged, cutting its
// frames back gives the datagrams given, byte for byte but for the IPv4
// ids of DF datagrams and the checksums the device was to complete, in
// their order.
func TestCoalesceRules(t *testing.T) {
	a := dg{}
	b := dg{dport: 5202, sport: 40000}
	six := dg{src: "2001:db8::10", dst: "2001:db8:1::10"}
	for _, c := range []struct {
		name string
		in   []dg
		offl tun.Offload
		want []int
	}{
		{"one flow", udpRun(a, 5), tun.DefaultOffloads, []int{5}},
		{"one datagram", udpRun(a, 1), tun.DefaultOffloads, []int{1}},
		{"IPv6", udpRun(six, 5), tun.DefaultOffloads, []int{5}},
		{"IPv4 without USO4", udpRun(a, 5), tun.DefaultOffloads &^ tun.OffloadUSO4, []int{1, 1, 1, 1, 1}},
		{"IPv6 without USO6", udpRun(six, 3), tun.DefaultOffloads &^ tun.OffloadUSO6, []int{1, 1, 1}},
		{"two flows in turn", cat(udpRun(a, 2), udpRun(b, 3), udpRun(dg{id: 2}, 2)), tun.DefaultOffloads, []int{2, 3, 2}},
		{"two flows interleaved", []dg{a, b, {id: 1}, {dport: 5202, sport: 40000, id: 1}}, tun.DefaultOffloads, []int{1, 1, 1, 1}},
		{"other source", []dg{a, {src: "10.0.1.11", dst: "10.0.2.10", id: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"other source port", []dg{a, {sport: 40001, dport: 5201, id: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"other TTL", []dg{a, {ttl: 62, id: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"other TOS", []dg{a, {tos: 0x10, id: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"DF and not", []dg{a, {noDF: true, id: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"ids not consecutive without DF", []dg{{noDF: true, id: 5}, {noDF: true, id: 7}}, tun.DefaultOffloads, []int{1, 1}},
		{"ids consecutive without DF", udpRun(dg{noDF: true, id: 0xfffe}, 4), tun.DefaultOffloads, []int{4}},
		{"DF, ids all zero", []dg{a, a, a}, tun.DefaultOffloads, []int{3}},
		{"IPv4 options", udpRun(dg{options: true}, 3), tun.DefaultOffloads, []int{1, 1, 1}},
		{"fragments", udpRun(dg{mf: true, noDF: true}, 3), tun.DefaultOffloads, []int{1, 1, 1}},
		{"a GSO frame", cat(udpRun(a, 2), []dg{{gso: true, id: 2}}, udpRun(dg{id: 3}, 2)), tun.DefaultOffloads, []int{2, 1, 2}},
		{"complete checksums", udpRun(dg{csum: csumComplete}, 3), tun.DefaultOffloads, []int{3}},
		{"partial and complete", []dg{a, {csum: csumComplete, id: 1}, {id: 2}}, tun.DefaultOffloads, []int{3}},
		{"a bad checksum", []dg{a, {csum: csumBad, id: 1}, {id: 2}, {id: 3}}, tun.DefaultOffloads, []int{1, 1, 2}},
		{"no checksum", []dg{{csum: csumZero}, {csum: csumZero, id: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"csum_offset not UDP's", []dg{{csum: csumOffset}, {csum: csumOffset, id: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"shorter last", []dg{a, {id: 1}, {id: 2, payload: 10}, {id: 3, payload: 10}}, tun.DefaultOffloads, []int{3, 1}},
		{"longer next", []dg{{payload: 10}, {id: 1, payload: 10}, {id: 2}, {id: 3}}, tun.DefaultOffloads, []int{2, 2}},
		{"IPv6 other flow label", []dg{six, {src: six.src, dst: six.dst, flow: 7}}, tun.DefaultOffloads, []int{1, 1}},
		{"IPv6 other hop limit", []dg{six, {src: six.src, dst: six.dst, ttl: 5}}, tun.DefaultOffloads, []int{1, 1}},
		{"IPv4 then IPv6", []dg{a, six}, tun.DefaultOffloads, []int{1, 1}},
		{"64 segments at most", udpRun(a, 70), tun.DefaultOffloads, []int{64, 6}},
		// 28 + 32×2000 bytes fit in 65535, 33 do not.
		{"65535 bytes at most", udpRun(dg{payload: 2000}, 40), tun.DefaultOffloads, []int{32, 8}},
		// Merged frames of 64038 bytes: two fill the arena.
		{"arena full", udpRun(dg{payload: 2000}, 128), tun.DefaultOffloads, []int{32, 32, 32, 32}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := frames(c.in...)
			out, counts := coalesceAll(t, in, c.offl)
			if !slices.Equal(counts, c.want) {
				t.Fatalf("frames of %v datagrams, want %v", counts, c.want)
			}
			var got [][]byte
			for i, fr := range out {
				segs := split(t, fr)
				if len(segs) != counts[i] {
					t.Fatalf("frame %d cut into %d datagrams, counted %d", i, len(segs), counts[i])
				}
				if counts[i] == 1 && !bytes.Equal(fr, in[len(got)]) {
					t.Errorf("frame %d, not merged, was changed", i)
				}
				got = append(got, segs...)
			}
			if len(got) != len(in) {
				t.Fatalf("%d datagrams out, %d in", len(got), len(in))
			}
			for i, pkt := range got {
				want := complete(t, in[i])
				if want[0]>>4 == 4 && want[6]&0x40 != 0 && !bytes.Equal(pkt[4:6], want[4:6]) {
					// A DF datagram's id may change (RFC 6864): compare
					// the rest, with the header checksum it then has.
					copy(want[4:6], pkt[4:6])
					want[10], want[11] = 0, 0
					binary.BigEndian.PutUint16(want[10:], ^checksum.Checksum(want[:20], 0))
				}
				if !bytes.Equal(pkt, want) {
					t.Errorf("datagram %d:\n got % x\nwant % x", i, pkt, want)
				}
				if m := c.in[i].csum; m == csumPartial || m == csumComplete {
					checkDatagram(t, pkt)
				}
			}
		})
	}
}

// TestCoalesceFrame: the merged frame's virtio header and its IP and UDP
// headers, for IPv4 and IPv6.
func TestCoalesceFrame(t *testing.T) {
	for _, g := range []dg{{id: 100}, {src: "2001:db8::10", dst: "2001:db8:1::10"}} {
		gs := udpRun(g, 10)
		gs[9].payload = 20
		in := frames(gs...)
		out, counts := coalesceAll(t, in, tun.DefaultOffloads)
		if len(out) != 1 || counts[0] != 10 {
			t.Fatalf("%s: %d frames (%v), want one of 10 datagrams", g.src, len(out), counts)
		}
		fr := out[0]
		l4 := 20
		if g.src != "" {
			l4 = 40
		}
		var h tun.VirtioNetHdr
		h.Decode(fr)
		want := tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, GSOType: tun.GSOUDPL4,
			HdrLen: uint16(l4 + 8), GSOSize: 64, CsumStart: uint16(l4), CsumOffset: 6}
		if h != want {
			t.Errorf("%s: virtio header %+v, want %+v", g.src, h, want)
		}
		pkt := fr[tun.VirtioNetHdrLen:]
		if wantLen := l4 + 8 + 9*64 + 20; len(pkt) != wantLen {
			t.Fatalf("%s: %d IP bytes, want %d", g.src, len(pkt), wantLen)
		}
		if !bytes.Equal(pkt[:l4+4], func() []byte {
			// The first datagram's headers but for the lengths and the
			// IPv4 header checksum.
			w := bytes.Clone(in[0][tun.VirtioNetHdrLen : tun.VirtioNetHdrLen+l4+4])
			if l4 == 20 {
				binary.BigEndian.PutUint16(w[2:], uint16(len(pkt)))
				w[10], w[11] = 0, 0
				binary.BigEndian.PutUint16(w[10:], ^checksum.Checksum(w[:20], 0))
			} else {
				binary.BigEndian.PutUint16(w[4:], uint16(len(pkt)-40))
			}
			return w
		}()) {
			t.Errorf("%s: headers % x", g.src, pkt[:l4+4])
		}
		ulen := binary.BigEndian.Uint16(pkt[l4+4:])
		if int(ulen) != len(pkt)-l4 {
			t.Errorf("%s: UDP length %d, want %d", g.src, ulen, len(pkt)-l4)
		}
		if sum, want := binary.BigEndian.Uint16(pkt[l4+6:]), tun.PseudoHeaderSum(pkt, packet.ProtoUDP, ulen); sum != want {
			t.Errorf("%s: UDP checksum field %#04x, want the pseudo-header sum %#04x", g.src, sum, want)
		}
	}
}

// failGSO is a tun.Device that refuses every GSO frame and keeps the
// others.
type failGSO struct{ frames [][]byte }

func (d *failGSO) Read([][]byte, []int, int) (int, error) { panic("not read") }
func (d *failGSO) Write(bufs [][]byte, _ int) (int, error) {
	for i, b := range bufs {
		var h tun.VirtioNetHdr
		h.Decode(b)
		if h.IsGSO() {
			return i, errors.New("refused")
		}
		d.frames = append(d.frames, bytes.Clone(b))
	}
	return len(bufs), nil
}
func (d *failGSO) BatchSize() int { return 4 }
func (d *failGSO) Name() string   { return "fail" }
func (d *failGSO) Close() error   { return nil }

// TestForwardCoalesced: a batch of UDP datagrams from a to b, three
// flows in turn, reaches b as one super-packet per flow when b takes
// them, the datagrams as they were sent (TTL decremented) and in order;
// as they are when b does not; the counters count datagrams; a refused
// super-packet counts as the datagrams it holds.
func TestForwardCoalesced(t *testing.T) {
	x, a, b := memLab(t)
	f := newForwarder(x, a)
	f.bufs, f.sizes = make([][]byte, 12), make([]int, 12)
	f.merge = newCoalescer(12)
	for i := range f.bufs {
		f.bufs[i] = make([]byte, frameSize)
	}
	for i := range f.out {
		f.out[i] = make([][]byte, 0, len(f.bufs))
	}
	gs := cat(udpRun(dg{ttl: 64}, 4), udpRun(dg{ttl: 64, sport: 40001, dport: 5201}, 4), udpRun(dg{ttl: 64, id: 4}, 4))
	fill := func() (want [][]byte) {
		for i, g := range gs {
			f.sizes[i] = udpFrame(f.bufs[i], g)
			g.ttl--
			w := make([]byte, tun.MaxFrameSize)
			want = append(want, complete(t, w[:udpFrame(w, g)]))
		}
		return want
	}
	for _, offl := range []tun.Offload{tun.DefaultOffloads, 0} {
		t.Run(offl.String(), func(t *testing.T) {
			b.Offloads = offl
			mem := &memDevice{keep: true}
			b.dev = mem
			want := fill()
			before := a.Counters.Load().AllowedPackets
			f.batch(len(gs), 0)
			if got := a.Counters.Load().AllowedPackets - before; got != uint64(len(gs)) {
				t.Errorf("%d packets counted, want %d", got, len(gs))
			}
			wantFrames := len(gs)
			if offl != 0 {
				wantFrames = 3
			}
			if len(mem.frames) != wantFrames {
				t.Fatalf("%d frames written to b, want %d", len(mem.frames), wantFrames)
			}
			var got [][]byte
			for _, fr := range mem.frames {
				got = append(got, split(t, fr)...)
			}
			if len(got) != len(want) {
				t.Fatalf("%d datagrams, want %d", len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("datagram %d:\n got % x\nwant % x", i, got[i], want[i])
				}
			}
		})
	}

	b.Offloads = tun.DefaultOffloads
	fail := &failGSO{}
	b.dev = fail
	fill()
	f.sizes[4] = udpFrame(f.bufs[4], dg{ttl: 64, sport: 40001, dport: 5201, csum: csumBad}) // not merged
	f.batch(len(gs), 0)
	// Super-packets of 4, 3 (after the bad one) and 4 datagrams, refused.
	if s := a.Counters.Load(); s.WriteErrors != 4+3+4 {
		t.Errorf("%d write errors, want 11 (the datagrams of the refused super-packets)", s.WriteErrors)
	}
	if len(fail.frames) != 1 {
		t.Errorf("%d frames written, want 1 (the datagram with a bad checksum, not merged)", len(fail.frames))
	}
}

// TestCoalesceNoAllocs: merging allocates nothing once the arena is made.
func TestCoalesceNoAllocs(t *testing.T) {
	in := frames(cat(udpRun(dg{}, 70), udpRun(dg{sport: 40001, dport: 5201, payload: 1400}, 50),
		[]dg{{sport: 40002, dport: 5201}}, udpRun(dg{}, 7))...)
	m := newCoalescer(tun.IdealBatchSize)
	batch := make([][]byte, len(in))
	run := func() {
		copy(batch, in)
		for rest := batch; len(rest) > 0; {
			_, used := m.coalesce(rest, tun.DefaultOffloads)
			rest = rest[used:]
		}
	}
	run()
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
}

func BenchmarkCoalesce(b *testing.B) {
	in := frames(udpRun(dg{}, tun.IdealBatchSize)...)
	m := newCoalescer(tun.IdealBatchSize)
	batch := make([][]byte, len(in))
	b.SetBytes(int64(len(in) * len(in[0])))
	for b.Loop() {
		copy(batch, in)
		for rest := batch; len(rest) > 0; {
			_, used := m.coalesce(rest, tun.DefaultOffloads)
			rest = rest[used:]
		}
	}
}
