package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// randSpec returns a random valid Spec: TCP, UDP, ICMP or another
// protocol, IPv4 or IPv6, sometimes a fragment.
func randSpec(r *rand.Rand) Spec {
	var s Spec
	if r.IntN(2) == 0 {
		s.Src = netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, r.Uint32())))
		s.Dst = netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, r.Uint32())))
		s.Proto = []uint8{ProtoTCP, ProtoUDP, ProtoICMP, 47, 132}[r.IntN(5)]
		s.ICMPType = []uint8{0, 3, 8, 11}[r.IntN(4)]
		s.FragID = r.Uint32() & 0xffff
	} else {
		var a, b [16]byte
		binary.BigEndian.PutUint64(a[:], r.Uint64())
		binary.BigEndian.PutUint64(a[8:], r.Uint64())
		binary.BigEndian.PutUint64(b[:], r.Uint64())
		binary.BigEndian.PutUint64(b[8:], r.Uint64())
		s.Src, s.Dst = netip.AddrFrom16(a), netip.AddrFrom16(b)
		s.Proto = []uint8{ProtoTCP, ProtoUDP, ProtoICMPv6, 50, 132}[r.IntN(5)]
		s.ICMPType = []uint8{1, 2, 128, 129, 135}[r.IntN(5)]
		s.FragID = r.Uint32()
	}
	s.SrcPort, s.DstPort = uint16(r.Uint32()), uint16(r.Uint32())
	s.TCPFlags = uint8(r.Uint32())
	s.ICMPCode = uint8(r.IntN(4))
	s.ICMPID = uint16(r.Uint32())
	s.TTL = uint8(r.Uint32())
	s.Payload = r.IntN(64)
	s.Fragment = r.IntN(8) == 0
	if r.IntN(4) == 0 {
		s.MoreFrags = r.IntN(2) == 0
		if r.IntN(2) == 0 {
			s.FragOffset = uint16(r.IntN(1000)+2) * 8 // not 8, which TCP may not use
		}
	}
	return s
}

// expect returns what Decode should make of s.Append(nil).
func expect(s Spec) Parsed {
	v4 := s.Src.Is4()
	icmp := v4 && s.Proto == ProtoICMP || !v4 && s.Proto == ProtoICMPv6
	p := Parsed{
		Family: 6, Proto: s.Proto, TTL: s.TTL, Src: s.Src, Dst: s.Dst,
		IsFragment: s.MoreFrags || s.FragOffset != 0, MoreFrags: s.MoreFrags, FragOffset: s.FragOffset, FragID: s.FragID,
		L4Offset: 40,
	}
	switch {
	case v4:
		p.Family, p.L4Offset = 4, 20
	case s.Fragment || s.MoreFrags || s.FragOffset != 0:
		p.L4Offset = 48
	default:
		p.FragID = 0
	}
	if p.TTL == 0 {
		p.TTL = 64
	}
	p.Length = p.L4Offset + s.Payload
	if p.FragOffset != 0 {
		p.L4Offset = 0
		return p
	}
	switch {
	case s.Proto == ProtoTCP:
		p.HasPorts, p.SrcPort, p.DstPort, p.TCPFlags = true, s.SrcPort, s.DstPort, s.TCPFlags&0x3f
		p.Length += 20
	case s.Proto == ProtoUDP:
		p.HasPorts, p.SrcPort, p.DstPort = true, s.SrcPort, s.DstPort
		p.Length += 8
	case icmp:
		p.HasICMP, p.ICMPType, p.ICMPCode = true, s.ICMPType, s.ICMPCode
		if isEcho(p.Family, s.ICMPType) {
			p.ICMPID = s.ICMPID
		}
		p.Length += 8
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		s := randSpec(r)
		b := s.Append(nil)
		var p Parsed
		if res := p.Decode(b); res != OK {
			t.Fatalf("%+v: Decode = %v", s, res)
		}
		if want := expect(s); p != want {
			t.Fatalf("%+v:\ngot  %+v\nwant %+v", s, p, want)
		}
		checkChecksums(t, &p, b)
	}
}

// checkChecksums verifies the IPv4 header checksum and the transport
// checksum of b, decoded as p, with its own one's complement sum.
func checkChecksums(t *testing.T, p *Parsed, b []byte) {
	t.Helper()
	if p.Family == 4 && sum16(b[:20]) != 0xffff {
		t.Fatalf("bad IPv4 header checksum in % x", b)
	}
	if p.IsLaterFragment() || (!p.HasPorts && !p.HasICMP) {
		return
	}
	seg := b[p.L4Offset:p.Length]
	var pseudo []byte
	switch {
	case p.Proto == ProtoICMP:
	case p.Family == 4:
		pseudo = append(p.Src.AsSlice(), p.Dst.AsSlice()...)
		pseudo = append(pseudo, 0, p.Proto)
		pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	default:
		pseudo = append(p.Src.AsSlice(), p.Dst.AsSlice()...)
		pseudo = binary.BigEndian.AppendUint32(pseudo, uint32(len(seg)))
		pseudo = append(pseudo, 0, 0, 0, p.Proto)
	}
	if sum16(append(pseudo, seg...)) != 0xffff {
		t.Fatalf("bad transport checksum in % x", b)
	}
}

// sum16 is the one's complement sum of b (RFC 1071).
func sum16(b []byte) uint16 {
	var s uint32
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		s += w
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

// TestGopacket checks Decode against gopacket on random packets, some
// with IPv6 extension headers.
func TestGopacket(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		s := randSpec(r)
		b := s.Append(nil)
		if s.Src.Is6() && r.IntN(2) == 0 {
			b = withExt(b, extHdr(ipv6HopByHop, 8*(r.IntN(3)+1)), extHdr(ipv6DestOpts, 8*(r.IntN(3)+1)))
		}
		var p Parsed
		if res := p.Decode(b); res != OK {
			t.Fatalf("% x: Decode = %v", b, res)
		}
		compareGopacket(t, &p, b)
	}
}

// compareGopacket checks that gopacket sees in b what Decode saw (p).
// gopacket stops at fragments; their transport headers are decoded from
// its fragment layer.
func compareGopacket(t *testing.T, p *Parsed, b []byte) {
	t.Helper()
	fail := func(what string, got, want any) {
		t.Helper()
		t.Fatalf("% x\n%+v\n%s: gopacket has %v, Decode %v", b, *p, what, got, want)
	}
	first := layers.LayerTypeIPv4
	if p.Family == 6 {
		first = layers.LayerTypeIPv6
	}
	pkt := gopacket.NewPacket(b, first, gopacket.NoCopy)
	net := pkt.NetworkLayer()
	if net == nil {
		fail("network layer", pkt.ErrorLayer().Error(), "OK")
	}
	if src, _ := netip.AddrFromSlice(net.NetworkFlow().Src().Raw()); src != p.Src {
		fail("source", src, p.Src)
	}
	if dst, _ := netip.AddrFromSlice(net.NetworkFlow().Dst().Raw()); dst != p.Dst {
		fail("destination", dst, p.Dst)
	}
	var proto layers.IPProtocol
	var isFrag, more bool
	var offset uint16
	var id uint32
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			proto, id, offset = l.Protocol, uint32(l.Id), l.FragOffset*8
			more = l.Flags&layers.IPv4MoreFragments != 0
			isFrag = more || offset != 0
		case *layers.IPv6:
			proto = l.NextHeader
		case *layers.IPv6HopByHop:
			proto = l.NextHeader
		case *layers.IPv6Destination:
			proto = l.NextHeader
		case *layers.IPv6Routing:
			proto = l.NextHeader
		case *layers.IPSecAH:
			proto = l.NextHeader
		case *layers.IPv6Fragment:
			proto, id, offset, more = l.NextHeader, l.Identification, l.FragmentOffset*8, l.MoreFragments
			isFrag = more || offset != 0
		}
	}
	if uint8(proto) != p.Proto {
		fail("protocol", proto, p.Proto)
	}
	if isFrag != p.IsFragment || more != p.MoreFrags || offset != p.FragOffset || id != p.FragID {
		fail("fragment", []any{isFrag, more, offset, id}, []any{p.IsFragment, p.MoreFrags, p.FragOffset, p.FragID})
	}
	if p.IsLaterFragment() {
		return
	}
	if frag := pkt.Layer(gopacket.LayerTypeFragment); frag != nil {
		next := map[uint8]gopacket.LayerType{
			ProtoTCP: layers.LayerTypeTCP, ProtoUDP: layers.LayerTypeUDP,
			ProtoICMP: layers.LayerTypeICMPv4, ProtoICMPv6: layers.LayerTypeICMPv6,
		}[p.Proto]
		if next == 0 {
			return
		}
		pkt = gopacket.NewPacket(frag.LayerContents(), next, gopacket.NoCopy)
	}
	var sport, dport uint16
	var icmpType, icmpCode uint8
	var icmpID uint16
	var flags uint8
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.TCP:
			sport, dport = uint16(l.SrcPort), uint16(l.DstPort)
			flags = l.Contents[13] & 0x3f
		case *layers.UDP:
			sport, dport = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.ICMPv4:
			icmpType, icmpCode = l.TypeCode.Type(), l.TypeCode.Code()
			if isEcho(4, icmpType) {
				icmpID = l.Id
			}
		case *layers.ICMPv6:
			icmpType, icmpCode = l.TypeCode.Type(), l.TypeCode.Code()
		case *layers.ICMPv6Echo:
			icmpID = l.Identifier
		}
	}
	if sport != p.SrcPort || dport != p.DstPort || flags != p.TCPFlags {
		fail("ports and flags", []any{sport, dport, flags}, []any{p.SrcPort, p.DstPort, p.TCPFlags})
	}
	if icmpType != p.ICMPType || icmpCode != p.ICMPCode || icmpID != p.ICMPID {
		fail("ICMP", []any{icmpType, icmpCode, icmpID}, []any{p.ICMPType, p.ICMPCode, p.ICMPID})
	}
}

func TestAppendNoAllocs(t *testing.T) {
	specs := []Spec{
		{Src: src4, Dst: dst4, Proto: ProtoTCP, SrcPort: 1, DstPort: 2, TCPFlags: TCPSyn, Payload: 100},
		{Src: src6, Dst: dst6, Proto: ProtoUDP, SrcPort: 1, DstPort: 2, MoreFrags: true, FragID: 1},
		{Src: src4, Dst: dst4, Proto: ProtoICMP, ICMPType: 8, ICMPID: 1},
		{Src: src6, Dst: dst6, Proto: ProtoICMPv6, ICMPType: 128, ICMPID: 1},
	}
	buf := make([]byte, 0, 1500)
	for _, s := range specs {
		if n := testing.AllocsPerRun(100, func() { buf = s.Append(buf[:0]) }); n != 0 {
			t.Errorf("%+v: %v allocations per Append, want 0", s, n)
		}
	}
}

func TestAppendAppends(t *testing.T) {
	s := Spec{Src: src6, Dst: dst6, Proto: ProtoTCP}
	b := s.Append([]byte("head"))
	if string(b[:4]) != "head" || len(b) != 4+60 {
		t.Fatalf("Append to %q gave % x", "head", b)
	}
	var p Parsed
	if r := p.Decode(b[4:]); r != OK {
		t.Fatalf("Decode = %v", r)
	}
}

func TestValidate(t *testing.T) {
	bad := []Spec{
		{},
		{Src: src4, Dst: dst6},
		{Src: src4},
		{Src: src4, Dst: dst4, FragOffset: 12},
		{Src: src4, Dst: dst4, FragID: 0x10000},
		{Src: src6, Dst: dst6, Payload: -1},
		{Src: src6, Dst: dst6, Proto: ProtoTCP, Payload: 65535 - 60 + 1},
	}
	for _, s := range bad {
		if s.Validate() == nil {
			t.Errorf("%+v: Validate = nil, want an error", s)
		}
	}
	good := Spec{Src: src6, Dst: dst6, Proto: ProtoTCP, Payload: 65535 - 60, FragID: 0x10000}
	if err := good.Validate(); err != nil {
		t.Errorf("%+v: Validate = %v", good, err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Append of an invalid Spec did not panic")
		}
	}()
	bad[1].Append(nil)
}
