package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 extension headers Decode walks (RFC 8200 §4, RFC 7045), and the
// most it walks before it calls the chain malformed. Any other next-header
// value ends the chain and becomes Proto: an upper-layer protocol, ESP
// (50), whose header hides the rest, or no next header (59).
const (
	ipv6HopByHop    = 0
	ipv6Routing     = 43
	ipv6Fragment    = 44
	ipv6AH          = 51
	ipv6DestOpts    = 60
	ipv6Mobility    = 135
	ipv6HIP         = 139
	ipv6Shim6       = 140
	ipv6Experiment1 = 253
	ipv6Experiment2 = 254

	maxExtHeaders = 8
)

// Decode parses the raw IP packet in b (no link header) into p and returns
// OK, or the reason it cannot be judged safely. It overwrites every field
// of p; after a failure, the fields Decode read before it are set and the
// rest are zero. Bytes past the IP length are link padding and are
// ignored. Decode never allocates, keeps no reference to b and does not
// verify checksums.
//
// Decode walks the IPv6 extension headers it knows (hop-by-hop, routing,
// fragment, destination options, AH, mobility, HIP, shim6, experimental)
// to the header that ends the chain. The chain is a BadExtHeader when it
// holds more than 8 headers, a header runs past the packet, hop-by-hop is
// not first, a second fragment header follows the first, an AH is shorter
// than its fixed part, or a type 0 routing header has segments left
// (RFC 5095).
//
// A later fragment (non-zero offset) carries no transport header, so
// Decode stops at the IP layer. Otherwise the transport header must hold
// every field Decode reads, and a whole packet the fixed header too:
//
//	           whole packet                  first fragment
//	TCP        20 bytes                      14 bytes: ports to flags
//	UDP        8 bytes                       4 bytes: ports
//	ICMP       4 bytes: type, code, checksum same
//	ICMP echo  8 bytes: and the identifier   same
//
// A packet short of that is Truncated, a first fragment a ShortFragment:
// the tiny-fragment attack hides the ports or flags in the next fragment
// (RFC 1858 §3). A TCP data offset under 5 words, or past the end of a
// whole packet, is BadTransport; a first fragment's options may continue
// in the next fragment. A later TCP fragment at offset 8 could overwrite
// the data offset and flags of its first fragment, so it is a
// ShortFragment too (RFC 1858 §3.2, §4).
func (p *Parsed) Decode(b []byte) Reason {
	*p = Parsed{}
	if len(b) == 0 {
		return Truncated
	}
	switch b[0] >> 4 {
	case 4:
		p.Family = 4
		return p.decode4(b)
	case 6:
		p.Family = 6
		return p.decode6(b)
	}
	return BadVersion
}

func (p *Parsed) decode4(b []byte) Reason {
	if len(b) < 20 {
		return Truncated
	}
	ihl := int(b[0]&0x0f) * 4
	if ihl < 20 || ihl > len(b) {
		return BadIHL
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n < ihl || n > len(b) {
		return BadTotalLength
	}
	b = b[:n]
	p.Length = n
	p.TTL = b[8]
	p.Proto = b[9]
	p.Src = netip.AddrFrom4([4]byte(b[12:16]))
	p.Dst = netip.AddrFrom4([4]byte(b[16:20]))
	p.FragID = uint32(binary.BigEndian.Uint16(b[4:6]))
	frag := binary.BigEndian.Uint16(b[6:8])
	p.FragOffset = (frag & 0x1fff) * 8
	p.MoreFrags = frag&0x2000 != 0
	p.IsFragment = p.MoreFrags || p.FragOffset != 0
	return p.decodeTransport(b, ihl)
}

func (p *Parsed) decode6(b []byte) Reason {
	if len(b) < 40 {
		return Truncated
	}
	n := 40 + int(binary.BigEndian.Uint16(b[4:6]))
	nh := b[6]
	// A hop-by-hop header with payload length 0 is a jumbogram (RFC 2675,
	// unsupported) or it runs past the packet.
	if n > len(b) || (n == 40 && nh == ipv6HopByHop) {
		return BadPayloadLength
	}
	b = b[:n]
	p.Length = n
	p.TTL = b[7]
	p.Src = netip.AddrFrom16([16]byte(b[8:24]))
	p.Dst = netip.AddrFrom16([16]byte(b[24:40]))

	off, sawFrag := 40, false
	for i := 0; ; i++ {
		// The data after a later fragment's header is not a header.
		if !isExtHeader(nh) || p.FragOffset != 0 {
			p.Proto = nh
			return p.decodeTransport(b, off)
		}
		if i == maxExtHeaders || n-off < 8 { // every extension header has 8 bytes or more
			return BadExtHeader
		}
		h := b[off:]
		size := (int(h[1]) + 1) * 8
		switch nh {
		case ipv6HopByHop:
			if off != 40 { // RFC 8200 §4.1: only right after the IPv6 header
				return BadExtHeader
			}
		case ipv6Routing:
			if h[2] == 0 && h[3] != 0 { // type 0 with segments left: deprecated, RFC 5095
				return BadExtHeader
			}
		case ipv6AH:
			if h[1] == 0 { // shorter than AH's fixed 12 bytes (RFC 4302 §2)
				return BadExtHeader
			}
			size = (int(h[1]) + 2) * 4
		case ipv6Fragment:
			if sawFrag {
				return BadExtHeader
			}
			sawFrag, size = true, 8
			p.decodeFragHeader(h)
		}
		if size > len(h) {
			return BadExtHeader
		}
		nh = h[0]
		off += size
	}
}

func isExtHeader(nh uint8) bool {
	switch nh {
	case ipv6HopByHop, ipv6Routing, ipv6Fragment, ipv6AH, ipv6DestOpts,
		ipv6Mobility, ipv6HIP, ipv6Shim6, ipv6Experiment1, ipv6Experiment2:
		return true
	}
	return false
}

// decodeFragHeader reads an IPv6 fragment header (RFC 8200 §4.5). An atomic
// fragment, offset 0 without M, is a whole packet (RFC 6946).
func (p *Parsed) decodeFragHeader(h []byte) {
	frag := binary.BigEndian.Uint16(h[2:4])
	p.FragOffset = frag &^ 7
	p.MoreFrags = frag&1 != 0
	p.FragID = binary.BigEndian.Uint32(h[4:8])
	p.IsFragment = p.MoreFrags || p.FragOffset != 0
}

// decodeTransport reads the transport header at b[off:]; b ends where the
// IP packet does.
func (p *Parsed) decodeTransport(b []byte, off int) Reason {
	if p.FragOffset != 0 {
		if p.Proto == ProtoTCP && p.FragOffset == 8 {
			return ShortFragment
		}
		return OK
	}
	p.L4Offset = off
	t := b[off:]
	switch {
	case p.Proto == ProtoTCP:
		return p.decodeTCP(t)
	case p.Proto == ProtoUDP:
		return p.decodeUDP(t)
	case p.Family == 4 && p.Proto == ProtoICMP, p.Family == 6 && p.Proto == ProtoICMPv6:
		return p.decodeICMP(t)
	}
	return OK
}

func (p *Parsed) decodeTCP(t []byte) Reason {
	need := 20
	if p.IsFragment {
		need = 14
	}
	if len(t) < need {
		return p.short()
	}
	hlen := int(t[12]>>4) * 4
	if hlen < 20 || (hlen > len(t) && !p.IsFragment) {
		return BadTransport
	}
	p.HasPorts = true
	p.SrcPort = binary.BigEndian.Uint16(t[0:2])
	p.DstPort = binary.BigEndian.Uint16(t[2:4])
	p.TCPFlags = t[13] & (TCPFin | TCPSyn | TCPRst | TCPPsh | TCPAck | TCPUrg)
	return OK
}

func (p *Parsed) decodeUDP(t []byte) Reason {
	need := 8
	if p.IsFragment {
		need = 4
	}
	if len(t) < need {
		return p.short()
	}
	p.HasPorts = true
	p.SrcPort = binary.BigEndian.Uint16(t[0:2])
	p.DstPort = binary.BigEndian.Uint16(t[2:4])
	return OK
}

func (p *Parsed) decodeICMP(t []byte) Reason {
	if len(t) < 4 {
		return p.short()
	}
	echo := isEcho(p.Family, t[0])
	if echo && len(t) < 8 {
		return p.short()
	}
	p.HasICMP = true
	p.ICMPType = t[0]
	p.ICMPCode = t[1]
	if echo {
		p.ICMPID = binary.BigEndian.Uint16(t[4:6])
	}
	return OK
}

// short is the reason for a transport header cut short. Decode calls it
// only for whole packets and first fragments.
func (p *Parsed) short() Reason {
	if p.IsFragment {
		return ShortFragment
	}
	return Truncated
}

// isEcho reports whether an ICMP (family 4) or ICMPv6 (family 6) message
// type is an echo request or reply, whose header carries an identifier.
func isEcho(family, typ uint8) bool {
	if family == 4 {
		return typ == 8 || typ == 0
	}
	return typ == 128 || typ == 129
}
