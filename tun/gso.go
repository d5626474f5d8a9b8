package tun

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/vpclab/vpclab/packet"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// Errors of GSOSplit and CompleteChecksum. They are fixed values: nothing
// is formatted per packet.
var (
	// ErrTooManySegments: the super-packet has more segments than outBufs
	// (or sizes) has room for. Nothing was written.
	ErrTooManySegments = errors.New("tun: super-packet has more segments than output buffers")
	// ErrBadGSO: the virtio header and the packet do not describe a
	// super-packet GSOSplit can cut (unknown or mismatched type, truncated
	// or fragmented header, zero gso_size).
	ErrBadGSO = errors.New("tun: malformed GSO super-packet")
	// ErrBadCsum: CsumStart and CsumOffset point outside the packet.
	ErrBadCsum = errors.New("tun: checksum offsets outside the packet")
)

const (
	ipv4MinHdrLen = header.IPv4MinimumSize // 20
	ipv6HdrLen    = header.IPv6MinimumSize // 40
	tcpMinHdrLen  = header.TCPMinimumSize  // 20
	udpHdrLen     = header.UDPMinimumSize  // 8
	tcpFlagsAt    = 13
	udpCsumAt     = 6
	tcpFlagFIN    = uint8(header.TCPFlagFin)
	tcpFlagPSH    = uint8(header.TCPFlagPsh)
	tcpFlagCWR    = uint8(header.TCPFlagCwr)
)

// CompleteChecksum finishes, in place, the L4 checksum of a packet whose
// header has VirtioNetHdrFNeedsCsum: the field at CsumStart+CsumOffset holds
// the pseudo-header sum, and the sum of pkt[CsumStart:] is folded into it.
// A packet without the flag is left alone. As the kernel does, a result of
// zero is stored as 0xffff (required for UDP, equivalent for TCP).
func CompleteChecksum(hdr VirtioNetHdr, pkt []byte) error {
	if hdr.Flags&VirtioNetHdrFNeedsCsum == 0 {
		return nil
	}
	start := int(hdr.CsumStart)
	at := start + int(hdr.CsumOffset)
	if at+2 > len(pkt) || start > len(pkt) {
		return ErrBadCsum
	}
	initial := binary.BigEndian.Uint16(pkt[at:])
	pkt[at], pkt[at+1] = 0, 0
	sum := ^checksum.Checksum(pkt[start:], initial)
	if sum == 0 {
		sum = 0xffff
	}
	binary.BigEndian.PutUint16(pkt[at:], sum)
	return nil
}

// GSOSplit cuts the super-packet pkt, described by hdr, into ordinary
// packets: outBufs[i][offset:offset+sizes[i]] receives segment i, a plain IP
// packet (no virtio header) with its total or payload length, IPv4 ID (the
// first segment's ID plus i, as the kernel's TSO does) and header checksum,
// TCP sequence number, TCP flags (FIN and PSH only on the last segment, CWR
// only on the first) or UDP length, and a complete L4 checksum. n is the
// number of segments. pkt itself is never modified, so the same
// super-packet can still be forwarded whole elsewhere.
//
// TCPv4, TCPv6 and UDP L4 (USO, either family) are supported. A non-GSO
// packet is copied to outBufs[0] and, if it has NEEDS_CSUM, its checksum is
// completed (n == 1).
//
// The header lengths are taken from the packet (IHL, TCP data offset) and
// CsumStart, never from HdrLen: the kernel fills hdr_len with the length of
// the skb's linear part, which is only an upper bound. IPv6 extension
// headers are accepted when NEEDS_CSUM gives CsumStart; without it the L4
// header must follow the fixed header.
//
// If the segments do not fit (too few buffers, or a buffer too short)
// GSOSplit returns ErrTooManySegments or io.ErrShortBuffer before writing
// anything. It allocates nothing.
func GSOSplit(hdr VirtioNetHdr, pkt []byte, outBufs [][]byte, sizes []int, offset int) (n int, err error) {
	gso := hdr.GSOType &^ GSOECN
	if gso == GSONone {
		if len(outBufs) < 1 || len(sizes) < 1 {
			return 0, ErrTooManySegments
		}
		if offset < 0 || len(outBufs[0])-offset < len(pkt) {
			return 0, io.ErrShortBuffer
		}
		out := outBufs[0][offset : offset+len(pkt)]
		copy(out, pkt)
		if err := CompleteChecksum(hdr, out); err != nil {
			return 0, err
		}
		sizes[0] = len(pkt)
		return 1, nil
	}

	if len(pkt) < ipv4MinHdrLen {
		return 0, ErrBadGSO
	}
	var (
		isV6  bool
		l4    int // offset of the L4 header
		proto uint8
	)
	switch pkt[0] >> 4 {
	case 4:
		if gso != GSOTCPv4 && gso != GSOUDPL4 {
			return 0, ErrBadGSO
		}
		ip := header.IPv4(pkt)
		l4 = int(ip.HeaderLength())
		if l4 < ipv4MinHdrLen || l4 > len(pkt) {
			return 0, ErrBadGSO
		}
		// A fragment (MF set or a non-zero offset) cannot be a super-packet.
		if binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return 0, ErrBadGSO
		}
		proto = pkt[9]
	case 6:
		if gso != GSOTCPv6 && gso != GSOUDPL4 {
			return 0, ErrBadGSO
		}
		if len(pkt) < ipv6HdrLen {
			return 0, ErrBadGSO
		}
		l4 = ipv6HdrLen
		proto = pkt[6]
		if hdr.Flags&VirtioNetHdrFNeedsCsum != 0 && int(hdr.CsumStart) > ipv6HdrLen {
			// Extension headers: trust CsumStart for where L4 begins.
			l4 = int(hdr.CsumStart)
			proto = 0
		}
		isV6 = true
	default:
		return 0, ErrBadGSO
	}
	wantProto := uint8(packet.ProtoTCP)
	if gso == GSOUDPL4 {
		wantProto = packet.ProtoUDP
	}
	if proto != 0 && proto != wantProto {
		return 0, ErrBadGSO
	}
	if hdr.Flags&VirtioNetHdrFNeedsCsum != 0 && int(hdr.CsumStart) != l4 {
		return 0, ErrBadGSO
	}

	var hdrsLen, csumAt int
	if wantProto == packet.ProtoTCP {
		if len(pkt) < l4+tcpMinHdrLen {
			return 0, ErrBadGSO
		}
		doff := int(header.TCP(pkt[l4:]).DataOffset())
		if doff < tcpMinHdrLen {
			return 0, ErrBadGSO
		}
		hdrsLen = l4 + doff
		csumAt = l4 + header.TCPChecksumOffset
	} else {
		hdrsLen = l4 + udpHdrLen
		csumAt = l4 + udpCsumAt
	}
	if hdrsLen > len(pkt) || len(pkt) > 0xffff+ipv6HdrLen {
		return 0, ErrBadGSO
	}
	mss := int(hdr.GSOSize)
	if mss == 0 {
		return 0, ErrBadGSO
	}
	payload := len(pkt) - hdrsLen
	segs := (payload + mss - 1) / mss
	if segs == 0 {
		segs = 1 // headers only: one segment that is the packet itself
	}
	if segs > len(outBufs) || segs > len(sizes) {
		return 0, ErrTooManySegments
	}
	if offset < 0 {
		return 0, io.ErrShortBuffer
	}
	for i := 0; i < segs; i++ {
		seg := min(mss, payload-i*mss)
		if len(outBufs[i])-offset < hdrsLen+max(seg, 0) {
			return 0, io.ErrShortBuffer
		}
	}

	// The pseudo-header sum of the addresses is the same for every segment.
	var addrSum uint16
	if isV6 {
		addrSum = checksum.Checksum(pkt[8:40], 0)
	} else {
		addrSum = checksum.Checksum(pkt[12:20], 0)
	}
	addrSum = checksum.Combine(addrSum, uint16(wantProto))
	var (
		seq0 uint32
		id0  uint16
	)
	if wantProto == packet.ProtoTCP {
		seq0 = header.TCP(pkt[l4:]).SequenceNumber()
	}
	if !isV6 {
		id0 = header.IPv4(pkt).ID()
	}

	for i := 0; i < segs; i++ {
		start := hdrsLen + i*mss
		end := min(start+mss, len(pkt))
		total := hdrsLen + (end - start)
		out := outBufs[i][offset : offset+total]
		copy(out, pkt[:hdrsLen])
		copy(out[hdrsLen:], pkt[start:end])

		if isV6 {
			binary.BigEndian.PutUint16(out[4:], uint16(total-ipv6HdrLen))
		} else {
			ip := header.IPv4(out)
			ip.SetTotalLength(uint16(total))
			ip.SetID(id0 + uint16(i))
			ip.SetChecksum(0)
			ip.SetChecksum(^ip.CalculateChecksum())
		}

		if wantProto == packet.ProtoTCP {
			header.TCP(out[l4:]).SetSequenceNumber(seq0 + uint32(i*mss))
			if i > 0 {
				out[l4+tcpFlagsAt] &^= tcpFlagCWR
			}
			if i < segs-1 {
				out[l4+tcpFlagsAt] &^= tcpFlagFIN | tcpFlagPSH
			}
		} else {
			binary.BigEndian.PutUint16(out[l4+4:], uint16(total-l4))
		}

		out[csumAt], out[csumAt+1] = 0, 0
		sum := checksum.Combine(addrSum, uint16(total-l4))
		sum = ^checksum.Checksum(out[l4:], sum)
		if sum == 0 && wantProto == packet.ProtoUDP {
			sum = 0xffff
		}
		binary.BigEndian.PutUint16(out[csumAt:], sum)
		sizes[i] = total
	}
	return segs, nil
}
