package policytest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/explain/resolve"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// protoNumber reads a protocol a packet can carry, as EC2 names it: tcp,
// udp, icmp, icmpv6 or a number 0-255 (not -1, all).
func protoNumber(s string) (uint8, bool) {
	p, ok := ec2.ParseAPIProtocol(s)
	return uint8(p), ok && p >= 0
}

// protoName names a protocol number as a send writes it: its name if it
// has one (tcp, udp, icmp, icmpv6), else the number.
func protoName(p uint8) string {
	s, _ := ec2.ProtocolName(int(p))
	return s
}

// hasPorts reports whether packets of protocol p carry ports.
func hasPorts(p uint8) bool { return p == packet.ProtoTCP || p == packet.ProtoUDP }

// isICMP reports whether p is ICMP or ICMPv6.
func isICMP(p uint8) bool { return p == packet.ProtoICMP || p == packet.ProtoICMPv6 }

// tcpFlags are the letters of Send.Flags, in the order formatFlags writes
// them (SA, FA, PA, RA).
var tcpFlags = []struct {
	letter byte
	bit    uint8
}{
	{'S', packet.TCPSyn}, {'F', packet.TCPFin}, {'R', packet.TCPRst},
	{'P', packet.TCPPsh}, {'A', packet.TCPAck}, {'U', packet.TCPUrg},
}

// parseFlags reads TCP flags written as letters, in any order and case.
func parseFlags(s string) (uint8, error) {
	var bits uint8
	for i := range len(s) {
		c := s[i] &^ 0x20 // upper case
		j := 0
		for j < len(tcpFlags) && tcpFlags[j].letter != c {
			j++
		}
		if j == len(tcpFlags) || bits&tcpFlags[j].bit != 0 {
			return 0, fmt.Errorf("%q is not a set of TCP flags: use the letters S (SYN), A (ACK), F (FIN), R (RST), P (PSH) and U (URG), each once, such as S, SA or FA", s)
		}
		bits |= tcpFlags[j].bit
	}
	return bits, nil
}

// formatFlags writes TCP flag bits as letters.
func formatFlags(bits uint8) string {
	var b []byte
	for _, f := range tcpFlags {
		if bits&f.bit != 0 {
			b = append(b, f.letter)
		}
	}
	return string(b)
}

// ICMP echo types.
const (
	echoReply4   = 0
	echoRequest4 = 8
	echoRequest6 = 128
	echoReply6   = 129
)

// icmpType returns the ICMP type of a send of protocol p: its Type, or an
// echo request.
func (s *Send) icmpType(p uint8) int {
	switch {
	case s.Type != nil:
		return *s.Type
	case p == packet.ProtoICMPv6:
		return echoRequest6
	}
	return echoRequest4
}

// orZero returns *p, or 0 when p is nil.
func orZero(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// Reverse returns the send of the reply to s: From and To swapped, Src and
// Dst swapped, Sport and Dport swapped, and an ICMP echo request turned
// into the echo reply with the same identifier (and a reply into a
// request); other ICMP types keep their type and code. The protocol and
// family stay; the flags, fragment, size and TTL are left for the caller
// to set.
func (s *Send) Reverse() *Send {
	r := &Send{
		From: s.To, To: s.From,
		Family: s.Family,
		Src:    s.Dst, Dst: s.Src,
		Proto: s.Proto,
		Sport: s.Dport, Dport: s.Sport,
	}
	if p, ok := protoNumber(s.Proto); ok && isICMP(p) {
		t, code, id := echoPeer(p, s.icmpType(p)), orZero(s.Code), orZero(s.ID)
		r.Type, r.Code, r.ID = &t, &code, &id
	}
	return r
}

// echoPeer returns the echo type that answers ICMP type t of protocol p
// (and the request that a reply answers), or t when it is not an echo.
func echoPeer(p uint8, t int) int {
	switch {
	case p == packet.ProtoICMP && t == echoRequest4:
		return echoReply4
	case p == packet.ProtoICMP && t == echoReply4:
		return echoRequest4
	case p == packet.ProtoICMPv6 && t == echoRequest6:
		return echoReply6
	case p == packet.ProtoICMPv6 && t == echoReply6:
		return echoRequest6
	}
	return t
}

// family returns the send's IP family: Family; else that of the first
// address among Src, Dst, From and To; else that of the quoted packet;
// else 6 for ICMPv6; else 0 (IPv4 for names).
func (s *Send) family() int {
	if s.Family != 0 {
		return s.Family
	}
	for _, v := range []string{s.Src, s.Dst, s.From, s.To} {
		if a, err := netip.ParseAddr(v); err == nil {
			return familyOf(a.Unmap())
		}
	}
	if s.Quote != nil {
		if f := s.Quote.family(); f != 0 {
			return f
		}
	}
	if p, _ := protoNumber(s.Proto); p == packet.ProtoICMPv6 {
		return 6
	}
	return 0
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// Packet resolves the send against a snapshot and builds its packet: from
// is where it enters the dataplane, to is where it should go, and pkt is
// buf with the packet's bytes appended. It fails when a name does not
// resolve, when the source enters nowhere (an address of the VPC that no
// interface holds), or when a field is out of range.
func (s *Send) Packet(snap *dataplane.Snapshot, buf []byte) (from, to resolve.Endpoint, pkt []byte, err error) {
	proto, ok := protoNumber(s.Proto)
	if !ok {
		return from, to, buf, fmt.Errorf("%q is not a protocol: use tcp, udp, icmp, icmpv6, or a protocol number 0-255", s.Proto)
	}
	flags, err := parseFlags(s.Flags)
	if err != nil {
		return from, to, buf, err
	}
	if err := s.checkRanges(); err != nil {
		return from, to, buf, err
	}
	fam := s.family()
	if from, err = endpoint(snap, s.From, s.Src, fam); err != nil {
		return from, to, buf, err
	}
	if from.Port == verdict.PortNone {
		return from, to, buf, fmt.Errorf("no interface has %s: a packet enters at an interface, the internet gateway or a VPC service", from.Addr)
	}
	if to, err = endpoint(snap, s.To, s.Dst, fam); err != nil {
		return from, to, buf, err
	}
	sp := packet.Spec{Src: from.Addr, Dst: to.Addr, Proto: proto, TTL: uint8(s.TTL), Payload: s.Size}
	switch {
	case hasPorts(proto):
		sp.SrcPort, sp.DstPort, sp.TCPFlags = uint16(s.Sport), uint16(s.Dport), flags
	case isICMP(proto):
		sp.ICMPType, sp.ICMPCode, sp.ICMPID = uint8(s.icmpType(proto)), uint8(orZero(s.Code)), uint16(orZero(s.ID))
	}
	f := s.Fragment
	if f != nil {
		sp.Fragment, sp.FragID, sp.FragOffset, sp.MoreFrags = true, uint32(f.ID), uint16(f.Offset), f.More
	}
	var quoted []byte
	if s.Quote != nil {
		if quoted, err = s.quote(snap, proto, from.Addr.Is6()); err != nil {
			return from, to, buf, err
		}
		sp.Payload = len(quoted)
	}
	if err := sp.Validate(); err != nil {
		return from, to, buf, err
	}
	start := len(buf)
	pkt = sp.Append(buf)
	if quoted != nil {
		copy(pkt[len(pkt)-len(quoted):], quoted)
		setICMPChecksum(pkt[len(pkt)-len(quoted)-header.ICMPv4MinimumSize:], from.Addr, to.Addr)
	}
	if f != nil && f.Length > 0 {
		if pkt, err = cut(pkt, start, f); err != nil {
			return from, to, buf, err
		}
	}
	return from, to, pkt, nil
}

// Most bytes of the offending packet an ICMP error quotes: what fits in
// 576 bytes for IPv4 (RFC 1812) and in the IPv6 minimum MTU, 1280 bytes
// (RFC 4443), after the IP and ICMP headers.
const (
	maxQuote4 = 576 - header.IPv4MinimumSize - header.ICMPv4MinimumSize
	maxQuote6 = 1280 - header.IPv6MinimumSize - header.ICMPv6MinimumSize
)

// quote builds the packet that an ICMP error of protocol proto, in IPv6
// or not, quotes.
func (s *Send) quote(snap *dataplane.Snapshot, proto uint8, v6 bool) ([]byte, error) {
	icmp := proto == packet.ProtoICMP && !v6 || proto == packet.ProtoICMPv6 && v6
	if !icmp || s.Fragment != nil && s.Fragment.Offset > 0 {
		return nil, errors.New("only an ICMP message in IPv4 or an ICMPv6 message in IPv6, with its header, quotes a packet")
	}
	if s.Size > 0 {
		return nil, errors.New("an ICMP error's payload is the packet it quotes: give no size")
	}
	_, _, q, err := s.Quote.Packet(snap, nil)
	if err != nil {
		return nil, fmt.Errorf("the quoted packet: %w", err)
	}
	if len(q) > 0 && header.IPVersion(q) == header.IPv6Version {
		return q[:min(len(q), maxQuote6)], nil
	}
	return q[:min(len(q), maxQuote4)], nil
}

// setICMPChecksum sets the checksum of msg, an ICMP (to and from IPv4
// addresses) or ICMPv6 message.
func setICMPChecksum(msg []byte, src, dst netip.Addr) {
	h := header.ICMPv4(msg) // ICMPv6 keeps its checksum at the same place
	h.SetChecksum(0)
	var pseudo uint16
	if src.Is6() {
		pseudo = header.PseudoHeaderChecksum(header.ICMPv6ProtocolNumber,
			tcpip.AddrFrom16(src.As16()), tcpip.AddrFrom16(dst.As16()), uint16(len(msg)))
	}
	h.SetChecksum(^checksum.Checksum(msg, pseudo))
}

// checkRanges reports the numeric fields out of range, for callers that
// build a Send themselves; Parse has checked every one.
func (s *Send) checkRanges() error {
	errs := []error{
		inRange("sport", s.Sport, 65535), inRange("dport", s.Dport, 65535),
		inRange("type", orZero(s.Type), 255), inRange("code", orZero(s.Code), 255),
		inRange("id", orZero(s.ID), 65535), inRange("size", s.Size, 65535), inRange("ttl", s.TTL, 255),
	}
	if f := s.Fragment; f != nil {
		errs = append(errs, inRange("fragment id", f.ID, 1<<32-1),
			inRange("fragment offset", f.Offset, 65528), inRange("fragment length", f.Length, 65535))
	}
	if s.Family != 0 && s.Family != 4 && s.Family != 6 {
		errs = append(errs, fmt.Errorf("family %d: use 4 or 6", s.Family))
	}
	return errors.Join(errs...)
}

// inRange reports a field whose value v is outside 0..hi.
func inRange(name string, v, hi int) error {
	if v < 0 || v > hi {
		return fmt.Errorf("%s %d is out of range: use 0-%d", name, v, hi)
	}
	return nil
}

// endpoint resolves one end of a send: name, or addr when name is empty,
// says where the packet enters or goes, and addr, when set, is the
// packet's address.
func endpoint(snap *dataplane.Snapshot, name, addr string, family int) (resolve.Endpoint, error) {
	if name == "" {
		name = addr
	}
	ep, err := resolve.Name(snap, name, family)
	if err != nil || addr == "" {
		return ep, err
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ep, err
	}
	a = a.Unmap()
	if f := familyOf(a); family != 0 && f != family {
		return ep, fmt.Errorf("%s is not an IPv%d address", addr, family)
	}
	ep.Addr = a
	return ep, nil
}

// cut shortens the first fragment that starts at pkt[start:] to f.Length
// bytes after its IP headers, and fixes its length fields.
func cut(pkt []byte, start int, f *Fragment) ([]byte, error) {
	if f.Offset != 0 {
		return nil, errors.New("fragment length cuts a first fragment; a later fragment (offset > 0) carries size bytes")
	}
	p := pkt[start:]
	hdr := header.IPv4MinimumSize
	if header.IPVersion(p) == header.IPv6Version {
		hdr = header.IPv6MinimumSize + header.IPv6FragmentHeaderSize
	}
	if data := len(p) - hdr; f.Length > data {
		return nil, fmt.Errorf("fragment length %d is longer than the fragment's %d bytes after the IP header", f.Length, data)
	}
	p = p[:hdr+f.Length]
	if hdr == header.IPv4MinimumSize {
		ip := header.IPv4(p)
		ip.SetTotalLength(uint16(len(p)))
		ip.SetChecksum(0)
		ip.SetChecksum(^ip.CalculateChecksum())
	} else {
		header.IPv6(p).SetPayloadLength(uint16(len(p) - header.IPv6MinimumSize))
	}
	return pkt[:start+len(p)], nil
}

// String describes the send in one line, such as
// "web1 → db1 tcp 40000→5432 [S]".
func (s *Send) String() string {
	var b strings.Builder
	b.WriteString(endLabel(s.From, s.Src))
	b.WriteString(" → ")
	b.WriteString(endLabel(s.To, s.Dst))
	if s.Family != 0 {
		fmt.Fprintf(&b, " IPv%d", s.Family)
	}
	proto, _ := protoNumber(s.Proto)
	if name, named := ec2.ProtocolName(int(proto)); named {
		b.WriteString(" " + name)
	} else {
		b.WriteString(" proto " + name)
	}
	if f := s.Fragment; f == nil || f.Offset == 0 {
		switch {
		case hasPorts(proto):
			fmt.Fprintf(&b, " %d→%d", s.Sport, s.Dport)
		case isICMP(proto):
			fmt.Fprintf(&b, " %s", icmpName(proto, s.icmpType(proto), orZero(s.Code), orZero(s.ID)))
		}
		if proto == packet.ProtoTCP {
			if bits, err := parseFlags(s.Flags); err == nil {
				fmt.Fprintf(&b, " [%s]", formatFlags(bits))
			}
		}
	}
	if f := s.Fragment; f != nil {
		fmt.Fprintf(&b, " fragment id=%d offset=%d", f.ID, f.Offset)
		if f.More {
			b.WriteString(" more")
		}
		if f.Length > 0 {
			fmt.Fprintf(&b, " length=%d", f.Length)
		}
	}
	if s.Size > 0 {
		fmt.Fprintf(&b, " size=%d", s.Size)
	}
	if s.TTL > 0 {
		fmt.Fprintf(&b, " ttl=%d", s.TTL)
	}
	if s.Quote != nil {
		fmt.Fprintf(&b, " quoting [%s]", s.Quote)
	}
	return b.String()
}

// endLabel describes one end of a send: its name, with the packet's
// address when that differs.
func endLabel(name, addr string) string {
	switch {
	case name == "":
		return addr
	case addr == "" || addr == name:
		return name
	}
	return name + "(" + addr + ")"
}

// icmpName describes an ICMP type, code and echo identifier.
func icmpName(proto uint8, t, code, id int) string {
	var echo string
	switch {
	case t == echoRequest4 && proto == packet.ProtoICMP, t == echoRequest6 && proto == packet.ProtoICMPv6:
		echo = "echo-request"
	case t == echoReply4 && proto == packet.ProtoICMP, t == echoReply6 && proto == packet.ProtoICMPv6:
		echo = "echo-reply"
	default:
		return fmt.Sprintf("type=%d code=%d", t, code)
	}
	if code != 0 {
		echo += fmt.Sprintf(" code=%d", code)
	}
	return fmt.Sprintf("%s id=%d", echo, id)
}
