package conntrack

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/vpclab/vpclab/packet"
)

var (
	a4 = netip.MustParseAddr("10.0.1.5")
	b4 = netip.MustParseAddr("10.0.2.9")
	a6 = netip.MustParseAddr("2001:db8::5")
	b6 = netip.MustParseAddr("2001:db8::1:9")
)

func TestMakeKeyReplyMatches(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src, dst netip.Addr
		proto    uint8
		sp, dp   uint16
	}{
		{"tcp4", a4, b4, packet.ProtoTCP, 40000, 443},
		{"tcp4 high side first", b4, a4, packet.ProtoTCP, 40000, 443},
		{"udp6", a6, b6, packet.ProtoUDP, 5353, 53},
		{"same host, ports decide", a4, a4, packet.ProtoTCP, 9000, 80},
		{"same host, same port", a4, a4, packet.ProtoUDP, 7, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, fromLo := MakeKey(tc.src, tc.dst, tc.proto, tc.sp, tc.dp, 0, 0, 0)
			r, rFromLo := MakeKey(tc.dst, tc.src, tc.proto, tc.dp, tc.sp, 0, 0, 0)
			if k != r {
				t.Fatalf("reply key %v != %v", r, k)
			}
			if distinct := tc.src != tc.dst || tc.sp != tc.dp; distinct == (fromLo == rFromLo) {
				t.Errorf("fromLo %v, reply fromLo %v", fromLo, rFromLo)
			}
			if fromLo && (k.Lo != tc.src.As16() || k.LoPort != tc.sp) {
				t.Errorf("fromLo, but Lo side is %v", k)
			}
		})
	}
}

func TestMakeKeyFlowsDiffer(t *testing.T) {
	base, _ := MakeKey(a4, b4, packet.ProtoTCP, 40000, 443, 0, 0, 0)
	mapped := netip.AddrFrom16(a4.As16())
	for name, k := range map[string]Key{
		"other sport":   first(MakeKey(a4, b4, packet.ProtoTCP, 40001, 443, 0, 0, 0)),
		"other dport":   first(MakeKey(a4, b4, packet.ProtoTCP, 40000, 444, 0, 0, 0)),
		"udp":           first(MakeKey(a4, b4, packet.ProtoUDP, 40000, 443, 0, 0, 0)),
		"other address": first(MakeKey(a4, a4, packet.ProtoTCP, 40000, 443, 0, 0, 0)),
		"ports swapped": first(MakeKey(a4, b4, packet.ProtoTCP, 443, 40000, 0, 0, 0)),
		"v4-mapped v6":  first(MakeKey(mapped, netip.AddrFrom16(b4.As16()), packet.ProtoTCP, 40000, 443, 0, 0, 0)),
	} {
		if k == base {
			t.Errorf("%s: same key as %v", name, base)
		}
	}
}

func first(k Key, _ bool) Key { return k }

func TestMakeKeyICMP(t *testing.T) {
	req, reqLo := MakeKey(a4, b4, packet.ProtoICMP, 0, 0, 8, 0, 77)
	rep, repLo := MakeKey(b4, a4, packet.ProtoICMP, 0, 0, 0, 0, 77)
	if req != rep || reqLo == repLo {
		t.Errorf("echo reply %v (fromLo %v) does not match request %v (fromLo %v)", rep, repLo, req, reqLo)
	}
	if !req.Echo || req.LoPort != 77 {
		t.Errorf("echo key %+v", req)
	}
	if other := first(MakeKey(a4, b4, packet.ProtoICMP, 0, 0, 8, 0, 78)); other == req {
		t.Error("echo ids 77 and 78 share a key")
	}
	req6 := first(MakeKey(a6, b6, packet.ProtoICMPv6, 0, 0, 128, 0, 5))
	rep6 := first(MakeKey(b6, a6, packet.ProtoICMPv6, 0, 0, 129, 0, 5))
	if req6 != rep6 {
		t.Errorf("ICMPv6 echo reply %v does not match request %v", rep6, req6)
	}
	// Other messages: addresses, type and code, either direction.
	un := first(MakeKey(a4, b4, packet.ProtoICMP, 0, 0, 3, 1, 0))
	if back := first(MakeKey(b4, a4, packet.ProtoICMP, 0, 0, 3, 1, 0)); back != un {
		t.Errorf("type 3 code 1 back %v != %v", back, un)
	}
	if c3 := first(MakeKey(a4, b4, packet.ProtoICMP, 0, 0, 3, 3, 0)); c3 == un {
		t.Error("codes 1 and 3 share a key")
	}
	// An echo with id 3 is not a type-3 message.
	if e3 := first(MakeKey(a4, b4, packet.ProtoICMP, 0, 0, 8, 0, 3)); e3 == un {
		t.Error("echo id 3 and type 3 share a key")
	}
}

func TestMakeKeyOtherProtocols(t *testing.T) {
	gre, fromLo := MakeKey(b4, a4, 47, 1234, 5678, 3, 4, 5)
	back, backLo := MakeKey(a4, b4, 47, 0, 0, 0, 0, 0)
	if gre != back || fromLo == backLo {
		t.Errorf("GRE keys %v, %v", gre, back)
	}
	if gre.LoPort != 0 || gre.HiPort != 0 || gre.Echo {
		t.Errorf("GRE key keeps ports or ICMP fields: %+v", gre)
	}
	if esp := first(MakeKey(a4, b4, 50, 0, 0, 0, 0, 0)); esp == gre {
		t.Error("ESP and GRE share a key")
	}
}

func TestKeyWordsRoundTrip(t *testing.T) {
	for _, k := range []Key{
		first(MakeKey(a4, b4, packet.ProtoTCP, 40000, 443, 0, 0, 0)),
		first(MakeKey(a6, b6, packet.ProtoICMPv6, 0, 0, 128, 0, 0xffff)),
		first(MakeKey(a6, b6, 132, 0, 0, 0, 0, 0)),
	} {
		var w keyWords
		w.set(&k)
		if got := w.key(); got != k {
			t.Errorf("round trip %+v -> %+v", k, got)
		}
	}
}

func TestKeyString(t *testing.T) {
	for _, tc := range []struct {
		k    Key
		want string
	}{
		{first(MakeKey(b4, a4, packet.ProtoTCP, 443, 40000, 0, 0, 0)), "tcp 10.0.1.5:40000 <-> 10.0.2.9:443"},
		{first(MakeKey(a6, b6, packet.ProtoUDP, 5353, 53, 0, 0, 0)), "udp [2001:db8::5]:5353 <-> [2001:db8::1:9]:53"},
		{first(MakeKey(a4, b4, packet.ProtoICMP, 0, 0, 8, 0, 7)), "icmp 10.0.1.5 <-> 10.0.2.9 echo id 7"},
		{first(MakeKey(a4, b4, packet.ProtoICMP, 0, 0, 3, 4, 0)), "icmp 10.0.1.5 <-> 10.0.2.9 type 3 code 4"},
		{first(MakeKey(a4, b4, 47, 0, 0, 0, 0, 0)), "proto 47 10.0.1.5 <-> 10.0.2.9"},
	} {
		if got := tc.k.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}

// The hash bits a packed key carries give the bucket of any array up to
// 2^hashBits buckets, and a larger array gets the full hash again; they
// change neither the key nor its equality.
func TestPackedHashBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 1000 {
		k := manyKey(i)
		if i%3 == 0 {
			k = first(MakeKey(a6, b6, packet.ProtoUDP, uint16(rng.Uint32()), 53, 0, 0, 0))
		}
		var p Packed
		k.Pack(&p)
		if got := p.Key(); got != k {
			t.Fatalf("%v packs back as %v", k, got)
		}
		w := p.w
		w[4] &= 1<<hashShift - 1
		if h := seed.hash(&w); h != p.h {
			t.Fatalf("%v: hash %x, want %x (the carried bits must not feed it)", k, p.h, h)
		}
		for _, mask := range []uint32{63, 1<<20 - 1, hashLow} {
			if got := uint32(p.w.bucketHash(mask)) & mask; got != uint32(p.h)&mask {
				t.Fatalf("%v: bucket %d of %d, want %d", k, got, mask+1, uint32(p.h)&mask)
			}
		}
		for _, mask := range []uint32{hashLow<<1 | 1, 1<<31 - 1} {
			if got := p.w.bucketHash(mask); got != p.h {
				t.Fatalf("%v: hash %x for %d buckets, want %x", k, got, mask+1, p.h)
			}
		}
		var q Packed
		q.Set(netip.AddrFrom16(k.Lo).Unmap(), netip.AddrFrom16(k.Hi).Unmap(), k.Proto, k.LoPort, k.HiPort, 0, 0, 0)
		if k.IPv4 && q != p {
			t.Fatalf("%v: Set gives %+v, Pack %+v", k, q, p)
		}
	}
}
