// Package packet parses IPv4 and IPv6 packets, with their extension headers,
// fragments and TCP, UDP, ICMP and ICMPv6 headers, into a reused Parsed
// struct without allocating, and builds packets for tests and tools.
//
// Decode never panics and never allocates, whatever the input; a packet it
// cannot judge safely comes back with a Reason other than OK, and the
// dataplane drops and counts it (spec §8).
package packet

import "net/netip"

// IP protocol numbers the parser knows.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// TCP flag bits, as in the TCP header (and as flow logs OR them).
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
)

// Reason says why a packet could not be parsed. OK means it could.
// Reasons index counters; keep them small and dense.
type Reason uint8

const (
	OK                Reason = iota
	Truncated                // shorter than the headers it announces
	BadVersion               // IP version neither 4 nor 6
	BadIHL                   // IPv4 header length < 5 words or past the packet
	BadTotalLength           // IPv4 total length < header or > packet
	BadPayloadLength         // IPv6 payload length > packet (or jumbo)
	BadExtHeader             // malformed or unknown IPv6 extension header chain
	ShortFragment            // first fragment too short to hold the transport ports
	BadTransport             // TCP data offset < 5 words or past the packet, or similar
	NumReasons               // number of reasons, for counter arrays
)

var reasonNames = [NumReasons]string{
	OK:               "ok",
	Truncated:        "truncated",
	BadVersion:       "bad_ip_version",
	BadIHL:           "bad_ihl",
	BadTotalLength:   "bad_total_length",
	BadPayloadLength: "bad_payload_length",
	BadExtHeader:     "bad_extension_header",
	ShortFragment:    "short_fragment",
	BadTransport:     "bad_transport_header",
}

// String returns the reason's snake_case name, as counters and logs show it.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Parsed is one decoded packet. Decode overwrites every field.
type Parsed struct {
	// Family is 4 or 6. Valid when Decode returned OK.
	Family uint8
	// Proto is the transport protocol number (after IPv6 extension
	// headers). Always valid.
	Proto uint8
	// TTL is the IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// Src and Dst are the IP addresses (IPv4 as 4-byte addresses).
	Src, Dst netip.Addr

	// Fragment fields. IsFragment is true for any fragment (MF set or a
	// non-zero offset, or an IPv6 fragment header). FragOffset is in bytes.
	// FragID is the IPv4 identification or the IPv6 fragment header's id.
	IsFragment bool
	MoreFrags  bool
	FragOffset uint16
	FragID     uint32

	// HasPorts is true when SrcPort/DstPort were read: TCP or UDP and not a
	// non-first fragment.
	HasPorts         bool
	SrcPort, DstPort uint16
	// TCPFlags holds the TCP flag bits (TCPFin…TCPUrg); 0 unless TCP with
	// ports.
	TCPFlags uint8
	// ICMP fields, valid when Proto is ICMP/ICMPv6 and HasICMP is true.
	// ICMPID is the echo identifier (echo request/reply only, else 0).
	HasICMP  bool
	ICMPType uint8
	ICMPCode uint8
	ICMPID   uint16

	// Length is the IP packet length (IPv4 total length, IPv6 40 +
	// payload length); bytes past it in the buffer are link padding.
	Length int
	// L4Offset is the offset of the transport header in the buffer
	// (0 when not reached, e.g. a non-first fragment).
	L4Offset int
}

// IsFirstFragment reports whether p is a fragment at offset 0.
func (p *Parsed) IsFirstFragment() bool { return p.IsFragment && p.FragOffset == 0 }

// IsLaterFragment reports whether p is a fragment at a non-zero offset.
func (p *Parsed) IsLaterFragment() bool { return p.IsFragment && p.FragOffset != 0 }
