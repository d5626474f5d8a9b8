package tun

import "gvisor.dev/gvisor/pkg/tcpip/checksum"

// UDPGSOHdr returns the virtio-net header of a UDP GSO super-packet
// (GSO_UDP_L4) whose IP header is ipLen bytes and whose datagrams carry
// size bytes of payload each, the last possibly fewer. The kernel
// requires a partial checksum: the UDP checksum field must hold
// PseudoHeaderSum of the whole.
func UDPGSOHdr(ipLen, size int) VirtioNetHdr {
	return VirtioNetHdr{
		Flags:      VirtioNetHdrFNeedsCsum,
		GSOType:    GSOUDPL4,
		HdrLen:     uint16(ipLen + 8),
		GSOSize:    uint16(size),
		CsumStart:  uint16(ipLen),
		CsumOffset: 6,
	}
}

// PseudoHeaderSum returns the one's-complement sum, not complemented, of
// the pseudo-header of the proto segment of l4len bytes (header included)
// in pkt, an IPv4 packet or an IPv6 packet without extension headers:
// what the checksum field of a CHECKSUM_PARTIAL segment holds.
func PseudoHeaderSum(pkt []byte, proto uint8, l4len uint16) uint16 {
	var s uint16
	if pkt[0]>>4 == 6 {
		s = checksum.Checksum(pkt[8:40], 0)
	} else {
		s = checksum.Checksum(pkt[12:20], 0)
	}
	return checksum.Combine(checksum.Combine(s, uint16(proto)), l4len)
}
