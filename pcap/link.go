package pcap

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/gopacket/gopacket/layers"
)

// Link types the Reader understands, beyond gopacket's names for them. DLT_RAW
// is 12 on most systems and 14 on OpenBSD; pcap files should say 101
// (LINKTYPE_RAW), but some writers put the DLT value.
const (
	linkTypeDLTRaw12 layers.LinkType = 12
	linkTypeDLTRaw14 layers.LinkType = 14
)

// EtherTypes of IP, and of the VLAN tags stripped before them (802.1Q,
// 802.1ad and the older QinQ value).
const (
	etherTypeIPv4   = 0x0800
	etherTypeIPv6   = 0x86dd
	etherTypeVLAN   = 0x8100
	etherTypeQinQ   = 0x88a8
	etherTypeQinQ91 = 0x9100
)

// Address families of the BSD loopback header (LINKTYPE_NULL, in the
// capturing host's byte order, and LINKTYPE_LOOP, big-endian): AF_INET is
// 2 everywhere; AF_INET6 is 10 on Linux, 24 on NetBSD/OpenBSD, 28 on
// FreeBSD and 30 on macOS.
func isIPFamily(f uint32) bool {
	switch f {
	case 2, 10, 24, 28, 30:
		return true
	}
	return false
}

// skipKind says why a frame was skipped.
type skipKind uint8

const (
	skipLinkType  skipKind = iota // a link type the Reader does not read
	skipEtherType                 // a non-IP EtherType (Ethernet, SLL, SLL2)
	skipFamily                    // a non-IP address family (NULL, LOOP)
	skipShort                     // the frame ends inside its link header
)

type skipKey struct {
	kind skipKind
	val  uint32 // link type, EtherType or family
}

// skipCounts counts skipped frames by reason. Counting an existing reason
// does not allocate.
type skipCounts struct {
	total int64
	by    map[skipKey]int64
}

func newSkipCounts() skipCounts { return skipCounts{by: map[skipKey]int64{}} }

func (s *skipCounts) skip(kind skipKind, val uint32) (int, bool) {
	s.total++
	s.by[skipKey{kind, val}]++
	return 0, false
}

// strip returns the offset of the IP packet in frame b of link type lt, or
// false (and counts the frame) when the frame holds no IP packet. It does
// not look at the IP header: a malformed packet is the engine's to judge.
func (s *skipCounts) strip(lt layers.LinkType, b []byte) (int, bool) {
	switch lt {
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, linkTypeDLTRaw12, linkTypeDLTRaw14:
		return 0, true
	case layers.LinkTypeEthernet:
		off := 14
		if len(b) < off {
			return s.skip(skipShort, uint32(lt))
		}
		et := binary.BigEndian.Uint16(b[12:])
		for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ91 {
			if len(b) < off+4 {
				return s.skip(skipShort, uint32(lt))
			}
			et = binary.BigEndian.Uint16(b[off+2:])
			off += 4
		}
		return s.ether(et, off)
	case layers.LinkTypeLinuxSLL: // 16 bytes: ..., protocol at 14
		if len(b) < 16 {
			return s.skip(skipShort, uint32(lt))
		}
		return s.ether(binary.BigEndian.Uint16(b[14:]), 16)
	case layers.LinkTypeLinuxSLL2: // 20 bytes: protocol at 0, ...
		if len(b) < 20 {
			return s.skip(skipShort, uint32(lt))
		}
		return s.ether(binary.BigEndian.Uint16(b[0:]), 20)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(b) < 4 {
			return s.skip(skipShort, uint32(lt))
		}
		be := binary.BigEndian.Uint32(b)
		if isIPFamily(be) || (lt == layers.LinkTypeNull && isIPFamily(binary.LittleEndian.Uint32(b))) {
			return 4, true
		}
		if lt == layers.LinkTypeNull && be > 0xffff {
			be = binary.LittleEndian.Uint32(b) // written little-endian
		}
		return s.skip(skipFamily, be)
	}
	return s.skip(skipLinkType, uint32(lt))
}

func (s *skipCounts) ether(et uint16, off int) (int, bool) {
	switch {
	case et == etherTypeIPv4 || et == etherTypeIPv6:
		return off, true
	case et < 0x0600:
		et = 0 // an 802.3 length, not an EtherType: count all LLC frames as one
	}
	return s.skip(skipEtherType, uint32(et))
}

// byName returns the counts keyed by a readable reason.
func (s *skipCounts) byName() map[string]int64 {
	out := make(map[string]int64, len(s.by))
	for k, n := range s.by {
		out[k.String()] += n
	}
	return out
}

func (k skipKey) String() string {
	switch k.kind {
	case skipEtherType:
		if k.val < 0x0600 {
			return "802.3 frame with LLC (no EtherType)"
		}
		return fmt.Sprintf("ethertype 0x%04x%s", k.val, named(layers.EthernetType(k.val).String()))
	case skipFamily:
		return fmt.Sprintf("loopback family %d", k.val)
	case skipShort:
		return LinkTypeName(layers.LinkType(k.val)) + ": frame shorter than its link header"
	}
	return LinkTypeName(layers.LinkType(k.val))
}

// LinkTypeName returns "Ethernet (1)" and the like: a link type's name and
// number, or "link type N" when neither the Reader nor gopacket knows it.
func LinkTypeName(lt layers.LinkType) string {
	if n := linkName(lt); n != "" {
		return fmt.Sprintf("%s (%d)", n, lt)
	}
	return fmt.Sprintf("link type %d", lt)
}

// linkName names a link type, or returns "" when neither the Reader nor
// gopacket knows it.
func linkName(lt layers.LinkType) string {
	switch lt {
	case layers.LinkTypeNull:
		return "BSD loopback"
	case layers.LinkTypeRaw, linkTypeDLTRaw12, linkTypeDLTRaw14:
		return "raw IP"
	case layers.LinkTypeIPv4:
		return "raw IPv4"
	case layers.LinkTypeIPv6:
		return "raw IPv6"
	}
	if n := named(lt.String()); n != "" {
		return n[2 : len(n)-1]
	}
	return ""
}

// named returns " (name)" for a gopacket enum name, or "" for the names it
// gives values it does not know.
func named(s string) string {
	if s == "" || strings.HasPrefix(s, "Unknown") {
		return ""
	}
	return " (" + s + ")"
}
