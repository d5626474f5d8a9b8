package packet

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
)

var (
	src4 = netip.MustParseAddr("10.0.1.5")
	dst4 = netip.MustParseAddr("192.0.2.80")
	src6 = netip.MustParseAddr("2001:db8:1::5")
	dst6 = netip.MustParseAddr("2001:db8:2::80")
)

// Packets the tests start from, and change.
var (
	tcp4  = build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: TCPSyn})
	tcp6  = build(Spec{Src: src6, Dst: dst6, Proto: ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: TCPSyn | TCPAck})
	udp6  = build(Spec{Src: src6, Dst: dst6, Proto: ProtoUDP, SrcPort: 5353, DstPort: 53, Payload: 12})
	echo4 = build(Spec{Src: src4, Dst: dst4, Proto: ProtoICMP, ICMPType: 8, ICMPID: 0x1234})
	echo6 = build(Spec{Src: src6, Dst: dst6, Proto: ProtoICMPv6, ICMPType: 128, ICMPID: 0x1234})
)

func build(s Spec) []byte { return s.Append(nil) }

// with returns a copy of b changed by f.
func with(b []byte, f func(b []byte)) []byte {
	b = slices.Clone(b)
	f(b)
	return b
}

// cut returns the first n bytes of the IP packet b, with its length field
// fixed to match.
func cut(b []byte, n int) []byte {
	return with(b[:n], setLen)
}

// setLen sets the IP length field of b to len(b).
func setLen(b []byte) {
	if b[0]>>4 == 4 {
		binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
	} else {
		binary.BigEndian.PutUint16(b[4:6], uint16(len(b)-40))
	}
}

// ext is an IPv6 extension header for withExt: its type and bytes.
type ext struct {
	typ uint8
	b   []byte
}

// extHdr returns an empty extension header of the given type and size, its
// length field set: hop-by-hop and destination options hold Pad1 options,
// a routing header is type 0 with no segments left.
func extHdr(typ uint8, size int) ext {
	b := make([]byte, size)
	switch typ {
	case ipv6AH:
		b[1] = uint8(size/4 - 2)
	case ipv6Fragment:
	default:
		b[1] = uint8(size/8 - 1)
	}
	return ext{typ, b}
}

// withExt returns the IPv6 packet b with exts inserted after its fixed
// header, before any headers it has.
func withExt(b []byte, exts ...ext) []byte {
	out := slices.Clone(b[:40])
	next := out[6]
	out[6] = exts[0].typ
	for i, e := range exts {
		h := slices.Clone(e.b)
		h[0] = next
		if i+1 < len(exts) {
			h[0] = exts[i+1].typ
		}
		out = append(out, h...)
	}
	out = append(out, b[40:]...)
	setLen(out)
	return out
}

// repeat returns n copies of e.
func repeat(e ext, n int) []ext {
	exts := make([]ext, n)
	for i := range exts {
		exts[i] = e
	}
	return exts
}

// reasonTests holds packets for every Reason; TestDecodeReasons checks
// that none is missing.
var reasonTests = []struct {
	name string
	b    []byte
	want Reason
}{
	{"empty", nil, Truncated},
	{"IPv4 header cut", tcp4[:19], Truncated},
	{"IPv6 header cut", tcp6[:39], Truncated},
	{"TCP header cut", cut(tcp4, 20+19), Truncated},
	{"TCP header missing", cut(tcp6, 40), Truncated},
	{"UDP header cut", cut(udp6, 40+7), Truncated},
	{"ICMP header cut", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoICMP, ICMPType: 3}), 20+3), Truncated},
	{"ICMP header of 4", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoICMP, ICMPType: 3}), 20+4), OK},
	{"ICMP echo cut", cut(echo4, 20+7), Truncated},
	{"ICMPv6 echo cut", cut(echo6, 40+7), Truncated},
	{"IPv6 atomic fragment, TCP cut", cut(build(Spec{Src: src6, Dst: dst6, Proto: ProtoTCP, Fragment: true}), 48+14), Truncated},

	{"version 0", with(tcp4, func(b []byte) { b[0] = 0x05 }), BadVersion},
	{"version 5", with(tcp4, func(b []byte) { b[0] = 0x55 }), BadVersion},
	{"version 6 in IPv4", with(echo4, func(b []byte) { b[0] = 0x65 }), Truncated},

	{"IHL 4", with(tcp4, func(b []byte) { b[0] = 0x44 }), BadIHL},
	{"IHL past packet", with(tcp4, func(b []byte) { b[0] = 0x4f }), BadIHL},

	{"total length < IHL", with(tcp4, func(b []byte) { b[3] = 19 }), BadTotalLength},
	{"total length > packet", with(tcp4, func(b []byte) { b[3]++ }), BadTotalLength},
	{"total length < packet", with(tcp4, func(b []byte) { b[3]-- }), Truncated},

	{"payload length > packet", with(tcp6, func(b []byte) { b[5]++ }), BadPayloadLength},
	{"jumbogram", with(withExt(tcp6, extHdr(ipv6HopByHop, 8)), func(b []byte) { b[4], b[5] = 0, 0 }), BadPayloadLength},
	{"payload length 0", cut(tcp6, 40), Truncated},

	{"8 extension headers", withExt(tcp6, repeat(extHdr(ipv6DestOpts, 8), 8)...), OK},
	{"9 extension headers", withExt(tcp6, repeat(extHdr(ipv6DestOpts, 8), 9)...), BadExtHeader},
	{"extension header past packet", withExt(udp6, extHdr(ipv6DestOpts, 8), ext{ipv6Routing, []byte{0, 8, 0, 0, 0, 0, 0, 0}}), BadExtHeader},
	{"AH past packet", withExt(udp6, ext{ipv6AH, []byte{0, 8, 0, 0, 0, 0, 0, 0}}), BadExtHeader},
	{"AH of 8 bytes", withExt(udp6, ext{ipv6AH, []byte{0, 0, 0, 0, 0, 0, 0, 0}}), BadExtHeader},
	{"AH of 12 bytes", withExt(udp6, ext{ipv6AH, []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}), OK},
	{"extension header of 7 bytes", build(Spec{Src: src6, Dst: dst6, Proto: ipv6DestOpts, Payload: 7}), BadExtHeader},
	{"hop-by-hop second", withExt(tcp6, extHdr(ipv6DestOpts, 8), extHdr(ipv6HopByHop, 8)), BadExtHeader},
	{"two fragment headers", withExt(tcp6, extHdr(ipv6Fragment, 8), extHdr(ipv6Fragment, 8)), BadExtHeader},
	{"routing type 0, segments left", withExt(tcp6, ext{ipv6Routing, []byte{0, 2, 0, 1, 0, 0, 0, 0, 23: 0}}), BadExtHeader},
	{"routing type 0, no segments left", withExt(tcp6, ext{ipv6Routing, []byte{0, 2, 0, 0, 0, 0, 0, 0, 23: 0}}), OK},
	{"routing type 2, segments left", withExt(tcp6, ext{ipv6Routing, []byte{0, 2, 2, 1, 0, 0, 0, 0, 23: 0}}), OK},
	{"first fragment, chain cut", build(Spec{Src: src6, Dst: dst6, Proto: ipv6DestOpts, MoreFrags: true, Payload: 4}), BadExtHeader},

	{"IPv4 first fragment, no TCP", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, MoreFrags: true}), 20), ShortFragment},
	{"IPv4 first fragment, TCP to ack", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, MoreFrags: true}), 20+12), ShortFragment},
	{"IPv4 first fragment, TCP to flags", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, MoreFrags: true}), 20+14), OK},
	{"IPv4 first fragment, UDP port cut", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoUDP, MoreFrags: true}), 20+3), ShortFragment},
	{"IPv4 first fragment, UDP ports", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoUDP, MoreFrags: true}), 20+4), OK},
	{"IPv4 first fragment, ICMP cut", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoICMP, ICMPType: 3, MoreFrags: true}), 20+3), ShortFragment},
	{"IPv4 first fragment, ICMP echo cut", cut(build(Spec{Src: src4, Dst: dst4, Proto: ProtoICMP, ICMPType: 8, MoreFrags: true}), 20+6), ShortFragment},
	{"IPv6 first fragment, TCP to ack", cut(build(Spec{Src: src6, Dst: dst6, Proto: ProtoTCP, MoreFrags: true}), 48+8), ShortFragment},
	{"IPv6 first fragment, ICMPv6 echo cut", cut(build(Spec{Src: src6, Dst: dst6, Proto: ProtoICMPv6, ICMPType: 129, MoreFrags: true}), 48+4), ShortFragment},
	{"IPv4 TCP fragment at 8", build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, FragOffset: 8, Payload: 16}), ShortFragment},
	{"IPv6 TCP fragment at 8", build(Spec{Src: src6, Dst: dst6, Proto: ProtoTCP, FragOffset: 8, Payload: 16}), ShortFragment},
	{"IPv4 TCP fragment at 16", build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, FragOffset: 16, Payload: 16}), OK},
	{"IPv4 UDP fragment at 8", build(Spec{Src: src4, Dst: dst4, Proto: ProtoUDP, FragOffset: 8, Payload: 16}), OK},

	{"TCP data offset 4", with(tcp4, func(b []byte) { b[20+12] = 4 << 4 }), BadTransport},
	{"TCP data offset past packet", with(tcp6, func(b []byte) { b[40+12] = 6 << 4 }), BadTransport},
	{"first fragment, TCP data offset 4", with(build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, MoreFrags: true}), func(b []byte) { b[20+12] = 4 << 4 }), BadTransport},
	{"first fragment, TCP options past it", with(build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, MoreFrags: true}), func(b []byte) { b[20+12] = 15 << 4 }), OK},
}

func TestDecodeReasons(t *testing.T) {
	seen := make(map[Reason]bool)
	for _, tt := range reasonTests {
		var p Parsed
		if got := p.Decode(tt.b); got != tt.want {
			t.Errorf("%s: Decode = %v, want %v", tt.name, got, tt.want)
		}
		seen[tt.want] = true
	}
	for r := range NumReasons {
		if !seen[r] {
			t.Errorf("no test packet for %v", r)
		}
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want Parsed
	}{{
		name: "IPv4 TCP",
		b:    tcp4,
		want: Parsed{Family: 4, Proto: ProtoTCP, TTL: 64, Src: src4, Dst: dst4,
			HasPorts: true, SrcPort: 40000, DstPort: 443, TCPFlags: TCPSyn, Length: 40, L4Offset: 20},
	}, {
		name: "IPv6 TCP",
		b:    tcp6,
		want: Parsed{Family: 6, Proto: ProtoTCP, TTL: 64, Src: src6, Dst: dst6,
			HasPorts: true, SrcPort: 40000, DstPort: 443, TCPFlags: TCPSyn | TCPAck, Length: 60, L4Offset: 40},
	}, {
		name: "TCP with ECE and CWR",
		b:    build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, TCPFlags: 0xff}),
		want: Parsed{Family: 4, Proto: ProtoTCP, TTL: 64, Src: src4, Dst: dst4,
			HasPorts: true, TCPFlags: 0x3f, Length: 40, L4Offset: 20},
	}, {
		name: "IPv4 UDP with options and padding",
		b: func() []byte {
			b := build(Spec{Src: src4, Dst: dst4, Proto: ProtoUDP, SrcPort: 1, DstPort: 2, TTL: 9, Payload: 8})
			b = slices.Concat(b[:20], []byte{1, 1, 1, 0}, b[20:]) // NOP, NOP, NOP, end of options
			b[0] = 0x46
			setLen(b)
			return append(b, 0xff, 0xff, 0xff)
		}(),
		want: Parsed{Family: 4, Proto: ProtoUDP, TTL: 9, Src: src4, Dst: dst4,
			HasPorts: true, SrcPort: 1, DstPort: 2, Length: 40, L4Offset: 24},
	}, {
		name: "IPv6 UDP with padding",
		b:    append(slices.Clone(udp6), 1, 2, 3, 4, 5, 6, 7, 8, 9),
		want: Parsed{Family: 6, Proto: ProtoUDP, TTL: 64, Src: src6, Dst: dst6,
			HasPorts: true, SrcPort: 5353, DstPort: 53, Length: 60, L4Offset: 40},
	}, {
		name: "ICMP echo",
		b:    echo4,
		want: Parsed{Family: 4, Proto: ProtoICMP, TTL: 64, Src: src4, Dst: dst4,
			HasICMP: true, ICMPType: 8, ICMPID: 0x1234, Length: 28, L4Offset: 20},
	}, {
		name: "ICMP unreachable",
		b:    with(build(Spec{Src: src4, Dst: dst4, Proto: ProtoICMP, ICMPType: 3, ICMPCode: 4}), func(b []byte) { b[24] = 0x56 }),
		want: Parsed{Family: 4, Proto: ProtoICMP, TTL: 64, Src: src4, Dst: dst4,
			HasICMP: true, ICMPType: 3, ICMPCode: 4, Length: 28, L4Offset: 20},
	}, {
		name: "ICMPv6 echo reply",
		b:    build(Spec{Src: src6, Dst: dst6, Proto: ProtoICMPv6, ICMPType: 129, ICMPID: 7}),
		want: Parsed{Family: 6, Proto: ProtoICMPv6, TTL: 64, Src: src6, Dst: dst6,
			HasICMP: true, ICMPType: 129, ICMPID: 7, Length: 48, L4Offset: 40},
	}, {
		name: "ICMPv6 in IPv4 is another protocol",
		b:    build(Spec{Src: src4, Dst: dst4, Proto: ProtoICMPv6, Payload: 8}),
		want: Parsed{Family: 4, Proto: ProtoICMPv6, TTL: 64, Src: src4, Dst: dst4, Length: 28, L4Offset: 20},
	}, {
		name: "GRE",
		b:    build(Spec{Src: src6, Dst: dst6, Proto: 47, Payload: 4, TTL: 1}),
		want: Parsed{Family: 6, Proto: 47, TTL: 1, Src: src6, Dst: dst6, Length: 44, L4Offset: 40},
	}, {
		name: "IPv4 first fragment",
		b:    build(Spec{Src: src4, Dst: dst4, Proto: ProtoUDP, SrcPort: 53, DstPort: 5353, FragID: 0xbeef, MoreFrags: true, Payload: 1000}),
		want: Parsed{Family: 4, Proto: ProtoUDP, TTL: 64, Src: src4, Dst: dst4,
			IsFragment: true, MoreFrags: true, FragID: 0xbeef,
			HasPorts: true, SrcPort: 53, DstPort: 5353, Length: 1028, L4Offset: 20},
	}, {
		name: "IPv4 last fragment",
		b:    build(Spec{Src: src4, Dst: dst4, Proto: ProtoUDP, FragID: 0xbeef, FragOffset: 1008, Payload: 100}),
		want: Parsed{Family: 4, Proto: ProtoUDP, TTL: 64, Src: src4, Dst: dst4,
			IsFragment: true, FragOffset: 1008, FragID: 0xbeef, Length: 120},
	}, {
		name: "IPv4 largest fragment offset",
		b:    build(Spec{Src: src4, Dst: dst4, Proto: ProtoTCP, FragOffset: 0xfff8, MoreFrags: true}),
		want: Parsed{Family: 4, Proto: ProtoTCP, TTL: 64, Src: src4, Dst: dst4,
			IsFragment: true, MoreFrags: true, FragOffset: 0xfff8, Length: 20},
	}, {
		name: "IPv6 first fragment",
		b:    build(Spec{Src: src6, Dst: dst6, Proto: ProtoTCP, SrcPort: 1, DstPort: 2, FragID: 0xdeadbeef, MoreFrags: true}),
		want: Parsed{Family: 6, Proto: ProtoTCP, TTL: 64, Src: src6, Dst: dst6,
			IsFragment: true, MoreFrags: true, FragID: 0xdeadbeef,
			HasPorts: true, SrcPort: 1, DstPort: 2, Length: 68, L4Offset: 48},
	}, {
		name: "IPv6 middle fragment",
		b:    build(Spec{Src: src6, Dst: dst6, Proto: ProtoTCP, FragID: 0xdeadbeef, FragOffset: 1232, MoreFrags: true, Payload: 1232}),
		want: Parsed{Family: 6, Proto: ProtoTCP, TTL: 64, Src: src6, Dst: dst6,
			IsFragment: true, MoreFrags: true, FragOffset: 1232, FragID: 0xdeadbeef, Length: 1280},
	}, {
		name: "IPv6 later fragment stops at the fragment header",
		b:    build(Spec{Src: src6, Dst: dst6, Proto: ipv6DestOpts, FragID: 3, FragOffset: 8, Payload: 3}),
		want: Parsed{Family: 6, Proto: ipv6DestOpts, TTL: 64, Src: src6, Dst: dst6,
			IsFragment: true, FragOffset: 8, FragID: 3, Length: 51},
	}, {
		name: "IPv6 atomic fragment is whole",
		b:    build(Spec{Src: src6, Dst: dst6, Proto: ProtoUDP, SrcPort: 1, DstPort: 2, FragID: 9, Fragment: true}),
		want: Parsed{Family: 6, Proto: ProtoUDP, TTL: 64, Src: src6, Dst: dst6, FragID: 9,
			HasPorts: true, SrcPort: 1, DstPort: 2, Length: 56, L4Offset: 48},
	}, {
		name: "IPv6 extension header chain",
		b: withExt(build(Spec{Src: src6, Dst: dst6, Proto: ProtoUDP, SrcPort: 1, DstPort: 2, MoreFrags: true, FragID: 5}),
			extHdr(ipv6HopByHop, 8), extHdr(ipv6Routing, 24), extHdr(ipv6DestOpts, 16), extHdr(ipv6Mobility, 8),
			extHdr(ipv6HIP, 8), extHdr(ipv6Shim6, 8), extHdr(ipv6Experiment1, 8)),
		want: Parsed{Family: 6, Proto: ProtoUDP, TTL: 64, Src: src6, Dst: dst6,
			IsFragment: true, MoreFrags: true, FragID: 5,
			HasPorts: true, SrcPort: 1, DstPort: 2, Length: 40 + 80 + 8 + 8, L4Offset: 40 + 80 + 8},
	}, {
		name: "IPv6 AH after fragment header",
		b: withExt(build(Spec{Src: src6, Dst: dst6, Proto: ProtoICMPv6, ICMPType: 1, ICMPCode: 3}),
			extHdr(ipv6Experiment2, 8), extHdr(ipv6Fragment, 8), extHdr(ipv6AH, 24)),
		want: Parsed{Family: 6, Proto: ProtoICMPv6, TTL: 64, Src: src6, Dst: dst6,
			HasICMP: true, ICMPType: 1, ICMPCode: 3, Length: 40 + 40 + 8, L4Offset: 80},
	}, {
		name: "IPv6 ESP ends the chain",
		b:    withExt(build(Spec{Src: src6, Dst: dst6, Proto: 50, Payload: 40}), extHdr(ipv6HopByHop, 8)),
		want: Parsed{Family: 6, Proto: 50, TTL: 64, Src: src6, Dst: dst6, Length: 88, L4Offset: 48},
	}, {
		name: "IPv6 no next header",
		b:    withExt(build(Spec{Src: src6, Dst: dst6, Proto: 59}), extHdr(ipv6DestOpts, 8)),
		want: Parsed{Family: 6, Proto: 59, TTL: 64, Src: src6, Dst: dst6, Length: 48, L4Offset: 48},
	}, {
		name: "IPv4-mapped IPv6",
		b:    build(Spec{Src: netip.MustParseAddr("::ffff:10.0.0.1"), Dst: dst6, Proto: 200}),
		want: Parsed{Family: 6, Proto: 200, TTL: 64, Src: netip.MustParseAddr("::ffff:10.0.0.1"), Dst: dst6, Length: 40, L4Offset: 40},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parsed
			if r := p.Decode(tt.b); r != OK {
				t.Fatalf("Decode = %v", r)
			}
			if p != tt.want {
				t.Errorf("got  %+v\nwant %+v", p, tt.want)
			}
		})
	}
}

// TestDecodeOverwrites decodes every test packet into a Parsed that holds
// another packet and checks it ends up as if decoded into a zero one.
func TestDecodeOverwrites(t *testing.T) {
	var dirty Parsed
	dirty.Decode(build(Spec{Src: src6, Dst: dst6, Proto: ProtoICMPv6, ICMPType: 128, ICMPID: 1, TTL: 3, MoreFrags: true, FragID: 77}))
	for _, tt := range reasonTests {
		var clean Parsed
		p := dirty
		if r, want := p.Decode(tt.b), clean.Decode(tt.b); r != want || p != clean {
			t.Errorf("%s: over a used Parsed: %v %+v\nover a zero one: %v %+v", tt.name, r, p, want, clean)
		}
	}
}

func TestDecodeNoAllocs(t *testing.T) {
	var p Parsed
	for _, tt := range reasonTests {
		if n := testing.AllocsPerRun(100, func() { p.Decode(tt.b) }); n != 0 {
			t.Errorf("%s: %v allocations per Decode, want 0", tt.name, n)
		}
	}
}

func TestReasonString(t *testing.T) {
	for r := range NumReasons {
		if s := r.String(); s == "" || s == "unknown" {
			t.Errorf("Reason(%d) has no name", r)
		}
	}
	if s := NumReasons.String(); s != "unknown" {
		t.Errorf("NumReasons.String() = %q, want unknown", s)
	}
}

// FuzzDecode checks that Decode survives any input and that what it
// returns is consistent.
func FuzzDecode(f *testing.F) {
	for _, tt := range reasonTests {
		f.Add(tt.b)
	}
	for _, b := range [][]byte{tcp4, tcp6, udp6, echo4, echo6} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var p Parsed
		r := p.Decode(b)
		if r >= NumReasons {
			t.Fatalf("Decode = %d, not a reason", r)
		}
		if r != OK {
			return
		}
		checkInvariants(t, &p, len(b))
		// Bytes past the IP length are padding and change nothing.
		q := p
		if r := q.Decode(append(b[:p.Length:p.Length], 0x45, 0x60, 0xff)); r != OK || q != p {
			t.Fatalf("padding changed the result: %v %+v, was %+v", r, q, p)
		}
	})
}

// checkInvariants checks a Parsed that Decode returned OK for, from a
// buffer of n bytes.
func checkInvariants(t *testing.T, p *Parsed, n int) {
	t.Helper()
	fail := func(what string) { t.Fatalf("%s: %+v", what, *p) }
	minHeader := 20
	if p.Family == 6 {
		minHeader = 40
	}
	switch {
	case p.Family != 4 && p.Family != 6:
		fail("bad family")
	case p.Src.Is4() != (p.Family == 4) || p.Dst.Is4() != (p.Family == 4):
		fail("address family")
	case p.Length < minHeader || p.Length > n:
		fail("length outside buffer")
	case p.L4Offset > p.Length || p.IsLaterFragment() != (p.L4Offset == 0):
		fail("L4Offset")
	case p.IsFragment != (p.MoreFrags || p.FragOffset != 0) || p.FragOffset%8 != 0:
		fail("fragment fields")
	case p.HasPorts != ((p.Proto == ProtoTCP || p.Proto == ProtoUDP) && !p.IsLaterFragment()):
		fail("HasPorts")
	case !p.HasPorts && (p.SrcPort != 0 || p.DstPort != 0):
		fail("ports without HasPorts")
	case p.TCPFlags&^0x3f != 0 || (p.TCPFlags != 0 && !(p.Proto == ProtoTCP && p.HasPorts)):
		fail("TCPFlags")
	case p.HasICMP != (!p.IsLaterFragment() && (p.Family == 4 && p.Proto == ProtoICMP || p.Family == 6 && p.Proto == ProtoICMPv6)):
		fail("HasICMP")
	case !p.HasICMP && (p.ICMPType != 0 || p.ICMPCode != 0 || p.ICMPID != 0):
		fail("ICMP fields without HasICMP")
	case p.ICMPID != 0 && !isEcho(p.Family, p.ICMPType):
		fail("ICMPID of a message other than echo")
	case p.Proto == ProtoTCP && p.FragOffset == 8:
		fail("TCP fragment at offset 8")
	}
}

func BenchmarkDecodeTCP4(b *testing.B) { benchmarkDecode(b, tcp4) }
func BenchmarkDecodeTCP6(b *testing.B) { benchmarkDecode(b, tcp6) }

func benchmarkDecode(b *testing.B, pkt []byte) {
	b.ReportAllocs()
	var p Parsed
	for b.Loop() {
		if p.Decode(pkt) != OK {
			b.Fatal("not OK")
		}
	}
}
