package dataplane

import (
	"encoding/binary"
	"net/netip"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/packet"
)

// isICMPError reports whether p is an ICMP error that quotes another
// packet: destination unreachable, time exceeded, parameter problem (v4
// types 3, 11, 12; v6 types 1–4).
func isICMPError(p *packet.Parsed) bool {
	if !p.HasICMP {
		return false
	}
	switch p.Proto {
	case packet.ProtoICMP:
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12
	case packet.ProtoICMPv6:
		return p.ICMPType >= 1 && p.ICMPType <= 4
	}
	return false
}

// quotedKey packs into k the conntrack key of the packet an ICMP error quotes
// (its IP header and first transport bytes follow the 8-byte ICMP
// header), for the setting that admits such errors as related traffic.
func quotedKey(p *packet.Parsed, b []byte, k *conntrack.Packed) (fromLo, ok bool) {
	if p.L4Offset+8 > p.Length || p.Length > len(b) {
		return false, false
	}
	q := b[p.L4Offset+8 : p.Length]
	var src, dst netip.Addr
	var proto uint8
	var l4 []byte
	switch {
	case len(q) >= 20 && q[0]>>4 == 4:
		ihl := int(q[0]&0x0f) * 4
		if ihl < 20 || len(q) < ihl+8 {
			return false, false
		}
		proto = q[9]
		src = netip.AddrFrom4([4]byte(q[12:16]))
		dst = netip.AddrFrom4([4]byte(q[16:20]))
		l4 = q[ihl:]
	case len(q) >= 48 && q[0]>>4 == 6:
		proto = q[6]
		src = netip.AddrFrom16([16]byte(q[8:24]))
		dst = netip.AddrFrom16([16]byte(q[24:40]))
		l4 = q[40:]
	default:
		return false, false
	}
	var sport, dport, id uint16
	var typ, code uint8
	switch proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		sport, dport = binary.BigEndian.Uint16(l4), binary.BigEndian.Uint16(l4[2:])
	case packet.ProtoICMP, packet.ProtoICMPv6:
		typ, code, id = l4[0], l4[1], binary.BigEndian.Uint16(l4[4:])
	}
	return k.Set(src, dst, proto, sport, dport, typ, code, id), true
}
