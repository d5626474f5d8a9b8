package conntrack

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net/netip"

	"github.com/vpclab/vpclab/packet"
)

// Key is a flow key: packed, pointer-free and comparable, in canonical
// order (the lower address, then the lower port, is Lo), so that a packet and
// its reply give the same Key. Build it with MakeKey.
type Key struct {
	// Lo and Hi are the two addresses, IPv4 as IPv4-mapped IPv6.
	Lo, Hi [16]byte
	// LoPort and HiPort are the TCP or UDP ports of Lo and Hi. For an ICMP
	// echo, LoPort is the identifier and HiPort 0; for another ICMP
	// message, LoPort is the type and HiPort the code. Otherwise 0.
	LoPort, HiPort uint16
	// Proto is the IP protocol number.
	Proto uint8
	// IPv4 is true for an IPv4 flow (an IPv4-mapped IPv6 address in an
	// IPv6 packet is another flow).
	IPv4 bool
	// Echo is true for an ICMP or ICMPv6 echo request or reply.
	Echo bool
}

// MakeKey builds the key of a packet from src to dst and reports whether the
// packet travels from the Lo side (spec §3.2):
//   - TCP and UDP: the 5-tuple;
//   - ICMP echo request/reply (type 8/0) and ICMPv6 echo (128/129):
//     addresses and identifier, so that a reply matches its request;
//   - other ICMP and ICMPv6 messages: addresses, protocol, type and code;
//   - any other protocol: addresses and protocol.
//
// Arguments that do not apply to proto are ignored. On the packet path,
// prefer Set on a reused Key: it spares a copy of the Key.
func MakeKey(src, dst netip.Addr, proto uint8, sport, dport uint16, icmpType, icmpCode uint8, icmpID uint16) (k Key, fromLo bool) {
	fromLo = k.Set(src, dst, proto, sport, dport, icmpType, icmpCode, icmpID)
	return k, fromLo
}

// Set makes k the key of a packet from src to dst, as MakeKey does, and
// reports whether the packet travels from the Lo side. It does not allocate.
func (k *Key) Set(src, dst netip.Addr, proto uint8, sport, dport uint16, icmpType, icmpCode uint8, icmpID uint16) (fromLo bool) {
	var w keyWords
	fromLo = w.make(src, dst, proto, sport, dport, icmpType, icmpCode, icmpID)
	*k = w.key()
	return fromLo
}

// make fills w with the key of a packet from src to dst (see MakeKey) and
// reports whether the packet travels from the Lo side. It works on the
// addresses as 64-bit halves in registers: copying [16]byte values makes
// the CPU stall on store forwarding, at some 5 ns a time.
func (w *keyWords) make(src, dst netip.Addr, proto uint8, sport, dport uint16, icmpType, icmpCode uint8, icmpID uint16) (fromLo bool) {
	sh, sl := addrWords(src)
	dh, dl := addrWords(dst)
	order := func(sp, dp uint16) bool { return sh < dh || sh == dh && (sl < dl || sl == dl && sp <= dp) }
	var lp, hp uint16
	echo := false
	switch proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		fromLo = order(sport, dport)
		lp, hp = sport, dport
		if !fromLo {
			lp, hp = dport, sport
		}
	case packet.ProtoICMP, packet.ProtoICMPv6:
		fromLo = order(0, 0)
		if echo = isEcho(proto, icmpType); echo {
			lp = icmpID
		} else {
			// Type and code describe the message, not a side.
			lp, hp = uint16(icmpType), uint16(icmpCode)
		}
	default:
		fromLo = order(0, 0)
	}
	if !fromLo {
		sh, sl, dh, dl = dh, dl, sh, sl
	}
	w[0], w[1], w[2], w[3] = sh, sl, dh, dl
	w[4] = uint64(lp) | uint64(hp)<<16 | uint64(proto)<<32 | b2u(src.Is4())<<40 | b2u(echo)<<41
	return fromLo
}

// addrWords returns a's 16-byte form (IPv4-mapped for IPv4) as two
// big-endian halves.
func addrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))
	}
	// AppendBinary writes the halves with 8-byte stores that the loads
	// below can forward from; As16 would copy the array first. Without a
	// zone (packets carry none) it writes 16 bytes: buf does not grow.
	var buf [16]byte
	b, _ := a.WithZone("").AppendBinary(buf[:0])
	if len(b) < 16 {
		return 0, 0 // the zero Addr
	}
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])
}

func isEcho(proto, typ uint8) bool {
	if proto == packet.ProtoICMP {
		return typ == 8 || typ == 0
	}
	return typ == 128 || typ == 129
}

// Addrs returns the Lo and Hi addresses (IPv4 addresses unmapped).
func (k *Key) Addrs() (lo, hi netip.Addr) {
	lo, hi = netip.AddrFrom16(k.Lo), netip.AddrFrom16(k.Hi)
	if k.IPv4 {
		lo, hi = lo.Unmap(), hi.Unmap()
	}
	return lo, hi
}

// String formats k for status output, e.g. "tcp 10.0.0.1:40000 <-> 10.0.0.2:80".
// It allocates; keep it off the packet path.
func (k Key) String() string {
	lo, hi := k.Addrs()
	switch {
	case k.Proto == packet.ProtoTCP || k.Proto == packet.ProtoUDP:
		name := "tcp"
		if k.Proto == packet.ProtoUDP {
			name = "udp"
		}
		return fmt.Sprintf("%s %s <-> %s", name,
			netip.AddrPortFrom(lo, k.LoPort), netip.AddrPortFrom(hi, k.HiPort))
	case k.Echo:
		return fmt.Sprintf("%s %s <-> %s echo id %d", icmpName(k.Proto), lo, hi, k.LoPort)
	case k.Proto == packet.ProtoICMP || k.Proto == packet.ProtoICMPv6:
		return fmt.Sprintf("%s %s <-> %s type %d code %d", icmpName(k.Proto), lo, hi, k.LoPort, k.HiPort)
	}
	return fmt.Sprintf("proto %d %s <-> %s", k.Proto, lo, hi)
}

func icmpName(proto uint8) string {
	if proto == packet.ProtoICMP {
		return "icmp"
	}
	return "icmpv6"
}

// keyWords is a Key packed into five machine words: the form the table
// stores (atomically), compares and hashes.
type keyWords [5]uint64

// set packs k into w: the addresses as big-endian halves, then ports,
// protocol and flags in one word.
func (w *keyWords) set(k *Key) {
	be := binary.BigEndian
	w[0], w[1] = be.Uint64(k.Lo[:8]), be.Uint64(k.Lo[8:])
	w[2], w[3] = be.Uint64(k.Hi[:8]), be.Uint64(k.Hi[8:])
	w[4] = uint64(k.LoPort) | uint64(k.HiPort)<<16 | uint64(k.Proto)<<32 |
		b2u(k.IPv4)<<40 | b2u(k.Echo)<<41
}

func (w *keyWords) key() (k Key) {
	be := binary.BigEndian
	be.PutUint64(k.Lo[:8], w[0])
	be.PutUint64(k.Lo[8:], w[1])
	be.PutUint64(k.Hi[:8], w[2])
	be.PutUint64(k.Hi[8:], w[3])
	k.LoPort, k.HiPort, k.Proto = uint16(w[4]), uint16(w[4]>>16), uint8(w[4]>>32)
	k.IPv4, k.Echo = w[4]&(1<<40) != 0, w[4]&(1<<41) != 0
	return k
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// hashSeed is the secret hash key of every table of the process, drawn at
// start, so that flows crafted to collide cannot be predicted from outside.
// One key for all tables lets a packet be hashed once for the sender's and
// the receiver's table (Packed).
type hashSeed [7]uint64

var seed = func() (s hashSeed) {
	for i := range s {
		s[i] = rand.Uint64()
	}
	return s
}()

// Packed is a flow key packed and hashed, the form every Table method
// takes: build it once per packet with Set (or from a Key with Key.Pack)
// and look it up in as many tables as the packet crosses.
type Packed struct {
	w keyWords
	h uint64
}

// Pack packs and hashes k into p.
func (k *Key) Pack(p *Packed) {
	p.w.set(k)
	p.seal()
}

// The low hashBits bits of a key's hash ride in the unused top of its last
// word (above the flags, at hashShift), so that the table finds an entry's
// bucket without hashing its key again when it removes or rehashes it, as
// long as the bucket array has at most 2^hashBits buckets. Equal keys carry
// equal bits, so comparing words still compares keys.
const (
	hashShift = 42
	hashBits  = 64 - hashShift
	hashLow   = 1<<hashBits - 1
)

// seal hashes p's words and stores the hash's low bits in them.
func (p *Packed) seal() {
	p.h = seed.hash(&p.w)
	p.w[4] |= p.h & hashLow << hashShift
}

// bucketHash returns the hash of the key in w, whose last word carries its
// low hash bits (see seal): those bits, if mask needs no more, or else the
// key hashed again.
func (w *keyWords) bucketHash(mask uint32) uint64 {
	if mask <= hashLow {
		return w[4] >> hashShift
	}
	k := *w
	k[4] &= 1<<hashShift - 1
	return seed.hash(&k)
}

// Set makes p the packed key of a packet from src to dst, as MakeKey and
// Pack would, without a Key in between, and reports whether the packet
// travels from the Lo side. It does not allocate.
func (p *Packed) Set(src, dst netip.Addr, proto uint8, sport, dport uint16, icmpType, icmpCode uint8, icmpID uint16) (fromLo bool) {
	fromLo = p.w.make(src, dst, proto, sport, dport, icmpType, icmpCode, icmpID)
	p.seal()
	return fromLo
}

// Key returns the key p packs.
func (p *Packed) Key() Key { return p.w.key() }

// hash mixes the key words wyhash-style: three independent 64×64→128-bit
// multiplies, then one to combine them.
func (s *hashSeed) hash(w *keyWords) uint64 {
	a := mix(w[0]^s[0], w[1]^s[1])
	b := mix(w[2]^s[2], w[3]^s[3])
	c := mix(w[4]^s[4], s[5])
	return mix(a^s[6], b^c)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
