package tun_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/tun/tuntest"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// coalesceAll runs coalesce over in as flush does and returns the frames
// it gives, copied, with their counts.
func coalesceAll(t *testing.T, in [][]byte, offl tun.Offload) (out [][]byte, counts []int) {
	t.Helper()
	m := tun.NewCoalescer(tun.IdealBatchSize)
	for rest := slices.Clone(in); len(rest) > 0; {
		n, used := m.Coalesce(rest, offl)
		if n == 0 || used == 0 {
			t.Fatalf("coalesce made no progress on %d frames (n %d, used %d)", len(rest), n, used)
		}
		for i := range n {
			out = append(out, bytes.Clone(rest[i]))
		}
		counts = append(counts, m.Counts()[:n]...)
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
	a := tuntest.UDP{}
	b := tuntest.UDP{DPort: 5202, SPort: 40000}
	six := tuntest.UDP{Src: "2001:db8::10", Dst: "2001:db8:1::10"}
	for _, c := range []struct {
		name string
		in   []tuntest.UDP
		offl tun.Offload
		want []int
	}{
		{"one flow", tuntest.Run(a, 5), tun.DefaultOffloads, []int{5}},
		{"one datagram", tuntest.Run(a, 1), tun.DefaultOffloads, []int{1}},
		{"IPv6", tuntest.Run(six, 5), tun.DefaultOffloads, []int{5}},
		{"IPv4 without USO4", tuntest.Run(a, 5), tun.DefaultOffloads &^ tun.OffloadUSO4, []int{1, 1, 1, 1, 1}},
		{"IPv6 without USO6", tuntest.Run(six, 3), tun.DefaultOffloads &^ tun.OffloadUSO6, []int{1, 1, 1}},
		{"two flows in turn", tuntest.Cat(tuntest.Run(a, 2), tuntest.Run(b, 3), tuntest.Run(tuntest.UDP{ID: 2}, 2)), tun.DefaultOffloads, []int{2, 3, 2}},
		{"two flows interleaved", []tuntest.UDP{a, b, {ID: 1}, {DPort: 5202, SPort: 40000, ID: 1}}, tun.DefaultOffloads, []int{1, 1, 1, 1}},
		{"other source", []tuntest.UDP{a, {Src: "10.0.1.11", Dst: "10.0.2.10", ID: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"other source port", []tuntest.UDP{a, {SPort: 40001, DPort: 5201, ID: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"other TTL", []tuntest.UDP{a, {TTL: 62, ID: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"other TOS", []tuntest.UDP{a, {TOS: 0x10, ID: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"DF and not", []tuntest.UDP{a, {NoDF: true, ID: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"ids not consecutive without DF", []tuntest.UDP{{NoDF: true, ID: 5}, {NoDF: true, ID: 7}}, tun.DefaultOffloads, []int{1, 1}},
		{"ids consecutive without DF", tuntest.Run(tuntest.UDP{NoDF: true, ID: 0xfffe}, 4), tun.DefaultOffloads, []int{4}},
		{"DF, ids all zero", []tuntest.UDP{a, a, a}, tun.DefaultOffloads, []int{3}},
		{"IPv4 options", tuntest.Run(tuntest.UDP{Options: true}, 3), tun.DefaultOffloads, []int{1, 1, 1}},
		{"fragments", tuntest.Run(tuntest.UDP{MF: true, NoDF: true}, 3), tun.DefaultOffloads, []int{1, 1, 1}},
		{"a GSO frame", tuntest.Cat(tuntest.Run(a, 2), []tuntest.UDP{{GSO: true, ID: 2}}, tuntest.Run(tuntest.UDP{ID: 3}, 2)), tun.DefaultOffloads, []int{2, 1, 2}},
		{"complete checksums", tuntest.Run(tuntest.UDP{Csum: tuntest.CsumComplete}, 3), tun.DefaultOffloads, []int{3}},
		{"partial and complete", []tuntest.UDP{a, {Csum: tuntest.CsumComplete, ID: 1}, {ID: 2}}, tun.DefaultOffloads, []int{3}},
		{"a bad checksum", []tuntest.UDP{a, {Csum: tuntest.CsumBad, ID: 1}, {ID: 2}, {ID: 3}}, tun.DefaultOffloads, []int{1, 1, 2}},
		{"no checksum", []tuntest.UDP{{Csum: tuntest.CsumZero}, {Csum: tuntest.CsumZero, ID: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"csum_offset not UDP's", []tuntest.UDP{{Csum: tuntest.CsumOffset}, {Csum: tuntest.CsumOffset, ID: 1}}, tun.DefaultOffloads, []int{1, 1}},
		{"shorter last", []tuntest.UDP{a, {ID: 1}, {ID: 2, Payload: 10}, {ID: 3, Payload: 10}}, tun.DefaultOffloads, []int{3, 1}},
		{"longer next", []tuntest.UDP{{Payload: 10}, {ID: 1, Payload: 10}, {ID: 2}, {ID: 3}}, tun.DefaultOffloads, []int{2, 2}},
		{"IPv6 other flow label", []tuntest.UDP{six, {Src: six.Src, Dst: six.Dst, Flow: 7}}, tun.DefaultOffloads, []int{1, 1}},
		{"IPv6 other hop limit", []tuntest.UDP{six, {Src: six.Src, Dst: six.Dst, TTL: 5}}, tun.DefaultOffloads, []int{1, 1}},
		{"IPv4 then IPv6", []tuntest.UDP{a, six}, tun.DefaultOffloads, []int{1, 1}},
		{"64 segments at most", tuntest.Run(a, 70), tun.DefaultOffloads, []int{64, 6}},
		// 28 + 32×2000 bytes fit in 65535, 33 do not.
		{"65535 bytes at most", tuntest.Run(tuntest.UDP{Payload: 2000}, 40), tun.DefaultOffloads, []int{32, 8}},
		// Merged frames of 64038 bytes: two fill the arena.
		{"arena full", tuntest.Run(tuntest.UDP{Payload: 2000}, 128), tun.DefaultOffloads, []int{32, 32, 32, 32}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := tuntest.Frames(c.in...)
			out, counts := coalesceAll(t, in, c.offl)
			if !slices.Equal(counts, c.want) {
				t.Fatalf("frames of %v datagrams, want %v", counts, c.want)
			}
			var got [][]byte
			for i, fr := range out {
				segs := tuntest.Split(t, fr)
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
				want := tuntest.Complete(t, in[i])
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
				if m := c.in[i].Csum; m == tuntest.CsumPartial || m == tuntest.CsumComplete {
					tuntest.CheckDatagram(t, pkt)
				}
			}
		})
	}
}

// TestCoalesceFrame: the merged frame's virtio header and its IP and UDP
// headers, for IPv4 and IPv6.
func TestCoalesceFrame(t *testing.T) {
	for _, g := range []tuntest.UDP{{ID: 100}, {Src: "2001:db8::10", Dst: "2001:db8:1::10"}} {
		gs := tuntest.Run(g, 10)
		gs[9].Payload = 20
		in := tuntest.Frames(gs...)
		out, counts := coalesceAll(t, in, tun.DefaultOffloads)
		if len(out) != 1 || counts[0] != 10 {
			t.Fatalf("%s: %d frames (%v), want one of 10 datagrams", g.Src, len(out), counts)
		}
		fr := out[0]
		l4 := 20
		if g.Src != "" {
			l4 = 40
		}
		var h tun.VirtioNetHdr
		h.Decode(fr)
		want := tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, GSOType: tun.GSOUDPL4,
			HdrLen: uint16(l4 + 8), GSOSize: 64, CsumStart: uint16(l4), CsumOffset: 6}
		if h != want {
			t.Errorf("%s: virtio header %+v, want %+v", g.Src, h, want)
		}
		pkt := fr[tun.VirtioNetHdrLen:]
		if wantLen := l4 + 8 + 9*64 + 20; len(pkt) != wantLen {
			t.Fatalf("%s: %d IP bytes, want %d", g.Src, len(pkt), wantLen)
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
			t.Errorf("%s: headers % x", g.Src, pkt[:l4+4])
		}
		ulen := binary.BigEndian.Uint16(pkt[l4+4:])
		if int(ulen) != len(pkt)-l4 {
			t.Errorf("%s: UDP length %d, want %d", g.Src, ulen, len(pkt)-l4)
		}
		if sum, want := binary.BigEndian.Uint16(pkt[l4+6:]), tun.PseudoHeaderSum(pkt, packet.ProtoUDP, ulen); sum != want {
			t.Errorf("%s: UDP checksum field %#04x, want the pseudo-header sum %#04x", g.Src, sum, want)
		}
	}
}

// TestCoalesceNoAllocs: merging allocates nothing once the arena is made.
func TestCoalesceNoAllocs(t *testing.T) {
	in := tuntest.Frames(tuntest.Cat(tuntest.Run(tuntest.UDP{}, 70), tuntest.Run(tuntest.UDP{SPort: 40001, DPort: 5201, Payload: 1400}, 50),
		[]tuntest.UDP{{SPort: 40002, DPort: 5201}}, tuntest.Run(tuntest.UDP{}, 7))...)
	m := tun.NewCoalescer(tun.IdealBatchSize)
	batch := make([][]byte, len(in))
	run := func() {
		copy(batch, in)
		for rest := batch; len(rest) > 0; {
			_, used := m.Coalesce(rest, tun.DefaultOffloads)
			rest = rest[used:]
		}
	}
	run()
	if allocs := testing.AllocsPerRun(1000, run); allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
}

func BenchmarkCoalesce(b *testing.B) {
	in := tuntest.Frames(tuntest.Run(tuntest.UDP{}, tun.IdealBatchSize)...)
	m := tun.NewCoalescer(tun.IdealBatchSize)
	batch := make([][]byte, len(in))
	b.SetBytes(int64(len(in) * len(in[0])))
	for b.Loop() {
		copy(batch, in)
		for rest := batch; len(rest) > 0; {
			_, used := m.Coalesce(rest, tun.DefaultOffloads)
			rest = rest[used:]
		}
	}
}
