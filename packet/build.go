package packet

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"slices"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Spec describes one packet for tests, tools and benchmarks to build with
// Append: an IPv4 or IPv6 header, an IPv6 fragment header when needed, a
// transport header, then Payload zero bytes.
type Spec struct {
	// Src and Dst are both IPv4 or both IPv6 (an IPv4-mapped IPv6
	// address is IPv6).
	Src, Dst netip.Addr
	// Proto is the IP protocol. TCP gets a 20-byte header, UDP an 8-byte
	// one, and ICMP in IPv4 or ICMPv6 in IPv6 an 8-byte one; other
	// protocols get no transport header.
	Proto uint8

	// Transport header fields. TCPFlags go out as given. ICMPID goes out
	// in echo requests and replies only.
	SrcPort, DstPort   uint16
	TCPFlags           uint8
	ICMPType, ICMPCode uint8
	ICMPID             uint16

	// TTL is the IPv4 TTL or IPv6 hop limit; 0 means 64.
	TTL uint8

	// Fragment fields, as in Parsed. FragOffset is in bytes and a multiple
	// of 8; in IPv4, FragID must fit in 16 bits. A later fragment
	// (FragOffset != 0) has no transport header, only Payload bytes. An
	// IPv6 fragment gets a fragment header, and Fragment gives one to an
	// unfragmented IPv6 packet too (an atomic fragment); IPv4 headers
	// always carry the fragment fields, so Fragment does nothing there.
	FragID     uint32
	FragOffset uint16
	MoreFrags  bool
	Fragment   bool

	// Payload is the number of zero bytes after the transport header.
	Payload int
}

// Validate reports whether Append can build s.
func (s *Spec) Validate() error {
	ip, l4 := s.layout()
	switch {
	case !s.Src.IsValid() || !s.Dst.IsValid() || s.Src.Is4() != s.Dst.Is4():
		return errors.New("packet: Src and Dst must be both IPv4 or both IPv6")
	case s.FragOffset%8 != 0:
		return errors.New("packet: FragOffset must be a multiple of 8")
	case s.Src.Is4() && s.FragID > 0xffff:
		return errors.New("packet: an IPv4 FragID must fit in 16 bits")
	case s.Payload < 0 || ip+l4+s.Payload > 0xffff:
		return errors.New("packet: the packet must be at most 65535 bytes")
	}
	return nil
}

// Append appends the packet s describes to b and returns the extended
// slice. It allocates only when b lacks the capacity. Checksums are
// correct (IPv4 header, TCP, UDP, ICMP, ICMPv6), except that a first
// fragment's transport checksum and UDP length cover that fragment only.
// Append panics if s is not valid.
func (s *Spec) Append(b []byte) []byte {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	ip, l4 := s.layout()
	n := ip + l4 + s.Payload
	b = slices.Grow(b, n)
	pkt := b[len(b) : len(b)+n]
	clear(pkt)
	if s.Src.Is4() {
		s.putIPv4(pkt)
	} else {
		s.putIPv6(pkt)
	}
	s.putTransport(pkt[ip:])
	return b[:len(b)+n]
}

// layout returns the lengths of the IP headers (with any IPv6 fragment
// header) and of the transport header.
func (s *Spec) layout() (ip, l4 int) {
	ip = header.IPv4MinimumSize
	if !s.Src.Is4() {
		ip = header.IPv6MinimumSize
		if s.fragHeader() {
			ip += header.IPv6FragmentHeaderSize
		}
	}
	switch {
	case s.FragOffset != 0:
	case s.Proto == ProtoTCP:
		l4 = header.TCPMinimumSize
	case s.Proto == ProtoUDP:
		l4 = header.UDPMinimumSize
	case s.isICMP():
		l4 = header.ICMPv4MinimumSize // = ICMPv6MinimumSize
	}
	return ip, l4
}

// isICMP reports whether s is ICMP in IPv4 or ICMPv6 in IPv6.
func (s *Spec) isICMP() bool {
	if s.Src.Is4() {
		return s.Proto == ProtoICMP
	}
	return s.Proto == ProtoICMPv6
}

// fragHeader reports whether an IPv6 packet gets a fragment header.
func (s *Spec) fragHeader() bool {
	return s.Fragment || s.MoreFrags || s.FragOffset != 0
}

func (s *Spec) ttl() uint8 {
	if s.TTL == 0 {
		return 64
	}
	return s.TTL
}

func (s *Spec) putIPv4(pkt []byte) {
	var flags uint8
	if s.MoreFrags {
		flags = header.IPv4FlagMoreFragments
	}
	ip := header.IPv4(pkt)
	ip.Encode(&header.IPv4Fields{
		TotalLength:    uint16(len(pkt)),
		ID:             uint16(s.FragID),
		Flags:          flags,
		FragmentOffset: s.FragOffset,
		TTL:            s.ttl(),
		Protocol:       s.Proto,
		SrcAddr:        tcpip.AddrFrom4(s.Src.As4()),
		DstAddr:        tcpip.AddrFrom4(s.Dst.As4()),
	})
	ip.SetChecksum(^ip.CalculateChecksum())
}

func (s *Spec) putIPv6(pkt []byte) {
	next := s.Proto
	if s.fragHeader() {
		next = ipv6Fragment
		// gVisor's fragment header serializer works through an interface,
		// which would allocate.
		f := pkt[header.IPv6MinimumSize:]
		f[0] = s.Proto
		more := uint16(0)
		if s.MoreFrags {
			more = 1
		}
		binary.BigEndian.PutUint16(f[2:4], s.FragOffset|more)
		binary.BigEndian.PutUint32(f[4:8], s.FragID)
	}
	header.IPv6(pkt).Encode(&header.IPv6Fields{
		PayloadLength:     uint16(len(pkt) - header.IPv6MinimumSize),
		TransportProtocol: tcpip.TransportProtocolNumber(next),
		HopLimit:          s.ttl(),
		SrcAddr:           tcpip.AddrFrom16(s.Src.As16()),
		DstAddr:           tcpip.AddrFrom16(s.Dst.As16()),
	})
}

// putTransport writes the transport header at the start of seg, which
// runs to the end of the packet.
func (s *Spec) putTransport(seg []byte) {
	switch {
	case s.FragOffset != 0:
	case s.Proto == ProtoTCP:
		h := header.TCP(seg)
		h.Encode(&header.TCPFields{
			SrcPort:    s.SrcPort,
			DstPort:    s.DstPort,
			DataOffset: header.TCPMinimumSize,
			Flags:      header.TCPFlags(s.TCPFlags),
			WindowSize: 0xffff,
		})
		h.SetChecksum(s.checksum(seg))
	case s.Proto == ProtoUDP:
		h := header.UDP(seg)
		h.Encode(&header.UDPFields{
			SrcPort: s.SrcPort,
			DstPort: s.DstPort,
			Length:  uint16(len(seg)),
		})
		xsum := s.checksum(seg)
		if xsum == 0 {
			xsum = 0xffff // 0 would mean no checksum (RFC 768)
		}
		h.SetChecksum(xsum)
	case s.isICMP() && s.Src.Is4():
		h := header.ICMPv4(seg)
		h.SetType(header.ICMPv4Type(s.ICMPType))
		h.SetCode(header.ICMPv4Code(s.ICMPCode))
		if isEcho(4, s.ICMPType) {
			h.SetIdent(s.ICMPID)
		}
		h.SetChecksum(^checksum.Checksum(seg, 0))
	case s.isICMP():
		h := header.ICMPv6(seg)
		h.SetType(header.ICMPv6Type(s.ICMPType))
		h.SetCode(header.ICMPv6Code(s.ICMPCode))
		if isEcho(6, s.ICMPType) {
			h.SetIdent(s.ICMPID)
		}
		h.SetChecksum(s.checksum(seg))
	}
}

// checksum returns the checksum of seg, a transport header with a zero
// checksum field and its payload, under the IP pseudo-header.
func (s *Spec) checksum(seg []byte) uint16 {
	var src, dst tcpip.Address
	if s.Src.Is4() {
		src, dst = tcpip.AddrFrom4(s.Src.As4()), tcpip.AddrFrom4(s.Dst.As4())
	} else {
		src, dst = tcpip.AddrFrom16(s.Src.As16()), tcpip.AddrFrom16(s.Dst.As16())
	}
	proto := tcpip.TransportProtocolNumber(s.Proto)
	return ^checksum.Checksum(seg, header.PseudoHeaderChecksum(proto, src, dst, uint16(len(seg))))
}
