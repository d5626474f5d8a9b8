package classify

// The 16-bit match value folds the one field a rule reads beside protocol
// and peer: the destination port for TCP and UDP, type and code for ICMP and
// ICMPv6 (type<<8 | code), nothing (0) for other protocols. Rules encode
// their ranges with RuleRange and packets their value with PacketValue, so
// the two can never disagree.

// anyLo..anyHi is the full value range.
const anyLo, anyHi = 0, 0xffff

// RuleRange returns the value range of a rule of protocol proto (-1 for
// all) with destination ports from..to (TCP/UDP) or ICMP type and code
// (-1 for any; ICMP/ICMPv6). Other protocols match every value.
func RuleRange(proto, from, to, icmpType, icmpCode int) (lo, hi uint16) {
	switch proto {
	case 6, 17:
		return uint16(from), uint16(to)
	case 1, 58:
		switch {
		case icmpType < 0:
			return anyLo, anyHi
		case icmpCode < 0:
			return uint16(icmpType) << 8, uint16(icmpType)<<8 | 0xff
		default:
			v := uint16(icmpType)<<8 | uint16(icmpCode)
			return v, v
		}
	}
	return anyLo, anyHi
}

// PacketValue returns the match value of a packet of protocol proto with
// destination port dport (TCP/UDP) or ICMP type and code.
func PacketValue(proto uint8, dport uint16, icmpType, icmpCode uint8) uint16 {
	switch proto {
	case 6, 17:
		return dport
	case 1, 58:
		return uint16(icmpType)<<8 | uint16(icmpCode)
	}
	return 0
}
