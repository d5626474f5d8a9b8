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

// The reasons. Decode's doc comment gives the transport header rules.
const (
	OK               Reason = iota
	Truncated               // shorter than the headers it announces
	BadVersion              // IP version neither 4 nor 6
	BadIHL                  // IPv4 header length < 5 words or past the packet
	BadTotalLength          // IPv4 total length < header or > packet
	BadPayloadLength        // IPv6 payload length > packet, or jumbogram
	BadExtHeader            // IPv6 extension header chain too long, cut short or forbidden
	ShortFragment           // first fragment too short for the transport fields, or TCP fragment at offset 8
	BadTransport            // TCP data offset < 5 words or past the packet
	NumReasons              // number of reasons, for counter arrays
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

// Parsed is one decoded packet. Decode overwrites every field; when it
// fails, only the fields it read before the failure are set.
type Parsed struct {
	// Family is 4 or 6, from the version nibble (0 after BadVersion).
	Family uint8
	// Proto is the IP protocol: IPv4's protocol field, or the next header
	// that ends the IPv6 extension header chain (50 for ESP, 59 for no
	// next header). In a later IPv6 fragment, whose data after the
	// fragment header is not parsed, it is the fragment header's next
	// header.
	Proto uint8
	// TTL is the IPv4 TTL or IPv6 hop limit.
	TTL uint8
	// Src and Dst are the IP addresses (IPv4 as 4-byte addresses).
	Src, Dst netip.Addr

	// Fragment fields. IsFragment is true when MF is set or the offset is
	// not zero; an IPv6 atomic fragment (a fragment header with offset 0
	// and M clear, RFC 6946) is a whole packet. FragOffset is in bytes.
	// FragID is the IPv4 identification, or the IPv6 fragment header's
	// identification (0 without one).
	IsFragment bool
	MoreFrags  bool
	FragOffset uint16
	FragID     uint32

	// HasPorts is true when SrcPort and DstPort were read: TCP or UDP and
	// not a later fragment.
	HasPorts         bool
	SrcPort, DstPort uint16
	// TCPFlags holds the TCP flag bits TCPFin…TCPUrg (ECE and CWR are
	// masked off); 0 unless TCP with ports.
	TCPFlags uint8
	// HasICMP is true when ICMPType and ICMPCode were read: ICMP in IPv4 or
	// ICMPv6 in IPv6, and not a later fragment. ICMPID is the echo
	// identifier (echo request and reply only, else 0).
	HasICMP  bool
	ICMPType uint8
	ICMPCode uint8
	ICMPID   uint16

	// Length is the IP packet length (IPv4 total length, IPv6 40 +
	// payload length); bytes past it in the buffer are link padding.
	Length int
	// L4Offset is the offset in the buffer of the header Proto names,
	// after any IPv6 extension headers (0 when not reached, e.g. in a
	// later fragment). It may equal Length, for no next header.
	L4Offset int
}

// IsFirstFragment reports whether p is a fragment at offset 0.
func (p *Parsed) IsFirstFragment() bool { return p.IsFragment && p.FragOffset == 0 }

// IsLaterFragment reports whether p is a fragment at a non-zero offset.
func (p *Parsed) IsLaterFragment() bool { return p.IsFragment && p.FragOffset != 0 }
