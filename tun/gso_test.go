package tun

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// These tests need no privileges: packets are built with gopacket and
// checked with a plain RFC 1071 sum written here, independent of gVisor's.

// sum16 is the one's-complement sum of b, folded, the slow obvious way.
func sum16(b []byte, acc uint32) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	for acc > 0xffff {
		acc = acc&0xffff + acc>>16
	}
	return acc
}

// l4Valid reports whether the TCP or UDP checksum of an IPv4 or IPv6 packet
// (no extension headers) verifies.
func l4Valid(pkt []byte) bool {
	var acc uint32
	var l4 []byte
	var proto byte
	if pkt[0]>>4 == 4 {
		ihl := int(pkt[0]&0xf) * 4
		acc = sum16(pkt[12:20], 0)
		l4, proto = pkt[ihl:], pkt[9]
	} else {
		acc = sum16(pkt[8:40], 0)
		l4, proto = pkt[40:], pkt[6]
	}
	acc += uint32(len(l4)) + uint32(proto)
	return sum16(l4, acc) == 0xffff
}

func ipv4HdrValid(pkt []byte) bool { return sum16(pkt[:int(pkt[0]&0xf)*4], 0) == 0xffff }

func payloadPattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

// superPacket builds a super-packet with the given payload and a virtio
// header such as the kernel gives (NEEDS_CSUM, pseudo-header sum in the
// checksum field, hdr_len larger than the headers as for a linear skb).
func superPacket(t testing.TB, v6, udp bool, payload []byte, mss uint16, tcpFlags uint8) (VirtioNetHdr, []byte) {
	t.Helper()
	var ipL gopacket.SerializableLayer
	var netL gopacket.NetworkLayer
	if v6 {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: net.ParseIP("2001:db8::1"), DstIP: net.ParseIP("2001:db8:1::2"), NextHeader: layers.IPProtocolTCP}
		if udp {
			ip.NextHeader = layers.IPProtocolUDP
		}
		ipL, netL = ip, ip
	} else {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0xfff0, Flags: layers.IPv4DontFragment, SrcIP: net.IP{198, 18, 0, 1}, DstIP: net.IP{198, 18, 1, 2}, Protocol: layers.IPProtocolTCP}
		if udp {
			ip.Protocol = layers.IPProtocolUDP
		}
		ipL, netL = ip, ip
	}
	var l4 gopacket.SerializableLayer
	if udp {
		u := &layers.UDP{SrcPort: 4000, DstPort: 5000}
		u.SetNetworkLayerForChecksum(netL)
		l4 = u
	} else {
		tc := &layers.TCP{SrcPort: 40000, DstPort: 80, Seq: 0xfffff000, Ack: 77, Window: 512, ACK: true,
			FIN: tcpFlags&tcpFlagFIN != 0, PSH: tcpFlags&tcpFlagPSH != 0, CWR: tcpFlags&tcpFlagCWR != 0,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: make([]byte, 8)}, {OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop}}}
		tc.SetNetworkLayerForChecksum(netL)
		l4 = tc
	}
	buf := gopacket.NewSerializeBuffer()
	// FixLengths on a >64 KiB IPv4 packet would overflow; callers keep it below.
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ipL, l4, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	pkt := append([]byte(nil), buf.Bytes()...)
	l4off := 20
	gso := GSOTCPv4
	if v6 {
		l4off = 40
		gso = GSOTCPv6
	}
	csumOff := uint16(16)
	if udp {
		gso, csumOff = GSOUDPL4, 6
	}
	// Replace the full checksum with the pseudo-header sum, as for CHECKSUM_PARTIAL.
	acc := sum16(pkt[12:20], 0)
	if v6 {
		acc = sum16(pkt[8:40], 0)
	}
	acc = sum16(nil, acc+uint32(len(pkt)-l4off)+uint32(map[bool]byte{true: 17, false: 6}[udp]))
	binary.BigEndian.PutUint16(pkt[l4off+int(csumOff):], uint16(acc))
	hdr := VirtioNetHdr{Flags: VirtioNetHdrFNeedsCsum, GSOType: gso, HdrLen: uint16(min(len(pkt), 128)), GSOSize: mss, CsumStart: uint16(l4off), CsumOffset: csumOff}
	return hdr, pkt
}

func outBuffers(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

// checkSegments decodes every segment with gopacket and checks it against
// the super-packet it came from.
func checkSegments(t *testing.T, super []byte, hdr VirtioNetHdr, segs [][]byte) {
	t.Helper()
	v6 := super[0]>>4 == 6
	first := layers.LayerTypeIPv4
	if v6 {
		first = layers.LayerTypeIPv6
	}
	sp := gopacket.NewPacket(super, first, gopacket.Default)
	var wantPayload []byte
	if l := sp.TransportLayer(); l != nil {
		wantPayload = l.LayerPayload()
	}
	var got []byte
	for i, seg := range segs {
		p := gopacket.NewPacket(seg, first, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("segment %d: decode: %v", i, el.Error())
		}
		if v6 {
			ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
			if int(ip.Length) != len(seg)-40 {
				t.Errorf("segment %d: payload length %d, want %d", i, ip.Length, len(seg)-40)
			}
		} else {
			ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
			if int(ip.Length) != len(seg) {
				t.Errorf("segment %d: total length %d, want %d", i, ip.Length, len(seg))
			}
			if want := binary.BigEndian.Uint16(super[4:]) + uint16(i); ip.Id != want {
				t.Errorf("segment %d: IPv4 ID %#x, want %#x", i, ip.Id, want)
			}
			if !ipv4HdrValid(seg) {
				t.Errorf("segment %d: bad IPv4 header checksum", i)
			}
		}
		if !l4Valid(seg) {
			t.Errorf("segment %d: bad L4 checksum", i)
		}
		last := i == len(segs)-1
		if tc, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
			st := sp.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if want := st.Seq + uint32(len(got)); tc.Seq != want {
				t.Errorf("segment %d: seq %d, want %d", i, tc.Seq, want)
			}
			if tc.FIN != (st.FIN && last) || tc.PSH != (st.PSH && last) || tc.CWR != (st.CWR && i == 0) || tc.ACK != st.ACK {
				t.Errorf("segment %d/%d: flags FIN=%v PSH=%v CWR=%v ACK=%v", i, len(segs), tc.FIN, tc.PSH, tc.CWR, tc.ACK)
			}
			if len(tc.Payload) > int(hdr.GSOSize) || (!last && len(tc.Payload) != int(hdr.GSOSize)) {
				t.Errorf("segment %d: payload %d bytes, mss %d", i, len(tc.Payload), hdr.GSOSize)
			}
			got = append(got, tc.Payload...)
		} else if u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
			if int(u.Length) != 8+len(u.Payload) {
				t.Errorf("segment %d: UDP length %d, payload %d", i, u.Length, len(u.Payload))
			}
			if len(u.Payload) > int(hdr.GSOSize) || (!last && len(u.Payload) != int(hdr.GSOSize)) {
				t.Errorf("segment %d: payload %d bytes, gso_size %d", i, len(u.Payload), hdr.GSOSize)
			}
			got = append(got, u.Payload...)
		} else {
			t.Fatalf("segment %d: no TCP or UDP layer", i)
		}
	}
	if !bytes.Equal(got, wantPayload) {
		t.Errorf("reassembled payload differs: %d bytes, want %d", len(got), len(wantPayload))
	}
}

func TestGSOSplit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		v6, udp  bool
		payload  int
		mss      uint16
		flags    uint8
		wantSegs int
	}{
		{"tcp4/64k", false, false, 65535 - 52, 1448, tcpFlagPSH | tcpFlagFIN | tcpFlagCWR, 46},
		{"tcp4/exact", false, false, 4 * 1448, 1448, tcpFlagPSH, 4},
		{"tcp4/one-short", false, false, 100, 1448, tcpFlagPSH, 1},
		{"tcp6/64k", true, false, 65000, 1428, tcpFlagPSH | tcpFlagFIN, 46},
		{"udp4", false, true, 10 * 1000, 1000, 0, 10},
		{"udp6/ragged", true, true, 9*1200 + 1, 1200, 0, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr, pkt := superPacket(t, tc.v6, tc.udp, payloadPattern(tc.payload), tc.mss, tc.flags)
			orig := append([]byte(nil), pkt...)
			bufs, sizes := outBuffers(64, 4+2048)
			n, err := GSOSplit(hdr, pkt, bufs, sizes, 4)
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantSegs {
				t.Fatalf("got %d segments, want %d", n, tc.wantSegs)
			}
			if !bytes.Equal(pkt, orig) {
				t.Fatal("GSOSplit modified its input")
			}
			segs := make([][]byte, n)
			for i := range segs {
				segs[i] = bufs[i][4 : 4+sizes[i]]
			}
			// Complete the input's checksum too, so gopacket sees a normal packet.
			if err := CompleteChecksum(VirtioNetHdr{Flags: hdr.Flags, CsumStart: hdr.CsumStart, CsumOffset: hdr.CsumOffset}, pkt); err != nil {
				t.Fatal(err)
			}
			if !l4Valid(pkt) {
				t.Fatal("CompleteChecksum left an invalid checksum on the super-packet")
			}
			checkSegments(t, pkt, hdr, segs)
		})
	}
}

func TestGSOSplitNone(t *testing.T) {
	hdr, pkt := superPacket(t, false, true, payloadPattern(300), 0, 0)
	hdr.GSOType, hdr.GSOSize = GSONone, 0
	bufs, sizes := outBuffers(1, 2048)
	n, err := GSOSplit(hdr, pkt, bufs, sizes, 0)
	if err != nil || n != 1 || sizes[0] != len(pkt) {
		t.Fatalf("n=%d size=%d err=%v", n, sizes[0], err)
	}
	if !l4Valid(bufs[0][:sizes[0]]) {
		t.Fatal("NEEDS_CSUM not completed")
	}
	if l4Valid(pkt) {
		t.Fatal("input was modified (its checksum is complete)")
	}
}

func TestGSOSplitErrors(t *testing.T) {
	hdr, pkt := superPacket(t, false, false, payloadPattern(10*1448), 1448, 0)
	bufs, sizes := outBuffers(10, 2048)
	if _, err := GSOSplit(hdr, pkt, bufs[:9], sizes, 0); !errors.Is(err, ErrTooManySegments) {
		t.Errorf("9 buffers for 10 segments: %v", err)
	}
	short, _ := outBuffers(10, 1000)
	if _, err := GSOSplit(hdr, pkt, short, sizes, 0); !errors.Is(err, io.ErrShortBuffer) {
		t.Errorf("short buffers: %v", err)
	}
	for name, mut := range map[string]func(*VirtioNetHdr, []byte){
		"zero mss":       func(h *VirtioNetHdr, _ []byte) { h.GSOSize = 0 },
		"v6 type on v4":  func(h *VirtioNetHdr, _ []byte) { h.GSOType = GSOTCPv6 },
		"udp proto":      func(_ *VirtioNetHdr, p []byte) { p[9] = 17 },
		"fragment":       func(_ *VirtioNetHdr, p []byte) { p[6] |= 0x20 },
		"csum_start":     func(h *VirtioNetHdr, _ []byte) { h.CsumStart = 24 },
		"tcp doff small": func(_ *VirtioNetHdr, p []byte) { p[32] = 0x40 },
		"truncated":      nil,
	} {
		h, p := hdr, append([]byte(nil), pkt...)
		if mut != nil {
			mut(&h, p)
		} else {
			p = p[:30]
		}
		if _, err := GSOSplit(h, p, bufs, sizes, 0); !errors.Is(err, ErrBadGSO) {
			t.Errorf("%s: got %v, want ErrBadGSO", name, err)
		}
	}
	if err := CompleteChecksum(VirtioNetHdr{Flags: VirtioNetHdrFNeedsCsum, CsumStart: 20, CsumOffset: 200}, pkt[:100]); !errors.Is(err, ErrBadCsum) {
		t.Errorf("CompleteChecksum out of range: %v", err)
	}
}

// TestPseudoHeaderMatchesGVisor cross-checks the pseudo-header arithmetic
// GSOSplit does inline against gVisor's header.PseudoHeaderChecksum.
func TestPseudoHeaderMatchesGVisor(t *testing.T) {
	_, pkt := superPacket(t, true, false, payloadPattern(500), 1428, 0)
	hdr := VirtioNetHdr{GSOType: GSOTCPv6, GSOSize: 1428, Flags: VirtioNetHdrFNeedsCsum, CsumStart: 40, CsumOffset: 16}
	bufs, sizes := outBuffers(1, 2048)
	if _, err := GSOSplit(hdr, pkt, bufs, sizes, 0); err != nil {
		t.Fatal(err)
	}
	seg := bufs[0][:sizes[0]]
	src, dst := tcpip.AddrFrom16Slice(seg[8:24]), tcpip.AddrFrom16Slice(seg[24:40])
	tcp := header.TCP(seg[40:])
	payload := tcp.Payload()
	if !tcp.IsChecksumValid(src, dst, checksum.Checksum(payload, 0), uint16(len(payload))) {
		t.Fatalf("gVisor rejects the segment's checksum (pseudo-header %#x)",
			header.PseudoHeaderChecksum(header.TCPProtocolNumber, src, dst, uint16(len(seg)-40)))
	}
}

func TestVirtioNetHdr(t *testing.T) {
	h := VirtioNetHdr{Flags: VirtioNetHdrFNeedsCsum, GSOType: GSOTCPv6 | GSOECN, HdrLen: 0x0102, GSOSize: 1428, CsumStart: 40, CsumOffset: 16}
	var b [VirtioNetHdrLen]byte
	if err := h.Encode(b[:]); err != nil {
		t.Fatal(err)
	}
	want := []byte{1, 0x84, 0x02, 0x01, 0x94, 0x05, 40, 0, 16, 0}
	if !bytes.Equal(b[:], want) {
		t.Fatalf("encoded % x, want % x", b, want)
	}
	var g VirtioNetHdr
	if err := g.Decode(b[:]); err != nil || g != h {
		t.Fatalf("decoded %+v (%v), want %+v", g, err, h)
	}
	if !g.IsGSO() || g.GSOType.String() != "tcpv6|ecn" {
		t.Fatalf("IsGSO=%v String=%q", g.IsGSO(), g.GSOType)
	}
	if err := g.Decode(b[:9]); !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("short decode: %v", err)
	}
	if err := h.Encode(b[:9]); !errors.Is(err, io.ErrShortBuffer) {
		t.Fatalf("short encode: %v", err)
	}
}

func TestOffloadNegotiation(t *testing.T) {
	if s := DefaultOffloads.String(); s != "csum|tso4|tso6|uso4|uso6" {
		t.Errorf("String: %q", s)
	}
	for _, tc := range []struct {
		name   string
		accept func(Offload) bool
		want   Offload
	}{
		{"all", func(Offload) bool { return true }, DefaultOffloads},
		{"no uso (before 6.2)", func(o Offload) bool { return o&(OffloadUSO4|OffloadUSO6) == 0 }, OffloadCsum | OffloadTSO4 | OffloadTSO6},
		{"csum only", func(o Offload) bool { return o&^OffloadCsum == 0 }, OffloadCsum},
		{"none", func(o Offload) bool { return o == 0 }, 0},
	} {
		var tried []Offload
		got, err := negotiateOffloads(DefaultOffloads, func(o Offload) error {
			tried = append(tried, o)
			if tc.accept(o) {
				return nil
			}
			return errors.New("EINVAL")
		})
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v (%v), want %v; tried %v", tc.name, got, err, tc.want, tried)
		}
	}
	if _, err := negotiateOffloads(OffloadCsum, func(Offload) error { return errors.New("no") }); err == nil {
		t.Error("a kernel refusing everything must be an error")
	}
}

func TestGSOSplitNoAllocs(t *testing.T) {
	hdr, pkt := superPacket(t, false, false, payloadPattern(65535-52), 1448, tcpFlagPSH)
	bufs, sizes := outBuffers(64, 2048)
	if a := testing.AllocsPerRun(100, func() {
		if _, err := GSOSplit(hdr, pkt, bufs, sizes, 0); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("GSOSplit: %v allocations per run, want 0", a)
	}
}

func BenchmarkGSOSplit(b *testing.B) {
	hdr, pkt := superPacket(b, false, false, payloadPattern(65535-52), 1448, tcpFlagPSH)
	bufs, sizes := outBuffers(64, 2048)
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := GSOSplit(hdr, pkt, bufs, sizes, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPseudoHeaderSum cross-checks PseudoHeaderSum against gVisor's.
func TestPseudoHeaderSum(t *testing.T) {
	v4 := make([]byte, 28)
	v4[0] = 0x45
	copy(v4[12:], []byte{10, 0, 1, 10, 10, 0, 2, 10})
	v6 := make([]byte, 48)
	v6[0] = 0x60
	v6[8], v6[23], v6[24], v6[39] = 0x26, 1, 0x26, 2
	for _, pkt := range [][]byte{v4, v6} {
		src, dst := tcpip.AddrFromSlice(pkt[12:16]), tcpip.AddrFromSlice(pkt[16:20])
		if pkt[0]>>4 == 6 {
			src, dst = tcpip.AddrFromSlice(pkt[8:24]), tcpip.AddrFromSlice(pkt[24:40])
		}
		for _, proto := range []uint8{6, 17} {
			want := header.PseudoHeaderChecksum(tcpip.TransportProtocolNumber(proto), src, dst, 1234)
			if got := PseudoHeaderSum(pkt, proto, 1234); got != want {
				t.Errorf("IPv%d proto %d: %#04x, want %#04x", pkt[0]>>4, proto, got, want)
			}
		}
	}
	if h := UDPGSOHdr(20, 1400); h.HdrLen != 28 || h.CsumStart != 20 || h.CsumOffset != 6 || h.GSOType != GSOUDPL4 || h.GSOSize != 1400 || h.Flags != VirtioNetHdrFNeedsCsum {
		t.Errorf("UDPGSOHdr = %+v", h)
	}
}
