package packet

import "encoding/binary"

// DecrementHop decrements the TTL of an IPv4 packet, updating its header
// checksum incrementally (RFC 1624, as Linux's ip_decrease_ttl), or the
// hop limit of an IPv6 packet: what a router does to a packet it forwards.
// The caller has parsed pkt and refused it if the TTL or hop limit was
// below 2.
func DecrementHop(pkt []byte) {
	switch pkt[0] >> 4 {
	case 4:
		pkt[8]--
		// The 16-bit word holding the TTL fell by 0x0100: the checksum,
		// its one's complement, rises by as much, with end-around carry.
		sum := uint32(binary.BigEndian.Uint16(pkt[10:12])) + 0x0100
		binary.BigEndian.PutUint16(pkt[10:12], uint16(sum+sum>>16))
	case 6:
		pkt[7]--
	}
}
