package tun

import (
	"encoding/binary"
	"io"
	"strconv"
)

// VirtioNetHdrLen is the size of struct virtio_net_hdr
// (include/uapi/linux/virtio_net.h), the header that precedes every frame
// of a device opened with IFF_VNET_HDR.
const VirtioNetHdrLen = 10

// Flags of [VirtioNetHdr.Flags].
const (
	// VirtioNetHdrFNeedsCsum says that the L4 checksum is incomplete: the
	// field at CsumStart+CsumOffset holds the pseudo-header sum and the sum
	// over the bytes from CsumStart on is still to be added.
	VirtioNetHdrFNeedsCsum uint8 = 1
	// VirtioNetHdrFDataValid says that the checksum was already verified.
	VirtioNetHdrFDataValid uint8 = 2
)

// GSOType is the gso_type field of a virtio_net_hdr.
type GSOType uint8

// Values of [VirtioNetHdr.GSOType].
const (
	GSONone  GSOType = 0    // an ordinary packet
	GSOTCPv4 GSOType = 1    // TCP over IPv4 super-packet
	GSOUDP   GSOType = 3    // UFO (IPv4 fragmentation offload), obsolete
	GSOTCPv6 GSOType = 4    // TCP over IPv6 super-packet
	GSOUDPL4 GSOType = 5    // UDP segmentation (USO), IPv4 or IPv6
	GSOECN   GSOType = 0x80 // flag: the TCP stream uses ECN (CWR on the first segment only)
)

// String returns the kernel's name of the type, with "|ecn" when the ECN
// flag is set.
func (g GSOType) String() string {
	var s string
	switch g &^ GSOECN {
	case GSONone:
		s = "none"
	case GSOTCPv4:
		s = "tcpv4"
	case GSOUDP:
		s = "udp"
	case GSOTCPv6:
		s = "tcpv6"
	case GSOUDPL4:
		s = "udp_l4"
	default:
		s = "gso(" + strconv.Itoa(int(g&^GSOECN)) + ")"
	}
	if g&GSOECN != 0 {
		s += "|ecn"
	}
	return s
}

// VirtioNetHdr is struct virtio_net_hdr. On the wire it is little-endian
// (TUN devices use the host's order unless TUNSETVNETBE is set, and vpclab
// runs on little-endian hosts; Encode and Decode fix the order explicitly).
type VirtioNetHdr struct {
	Flags      uint8   // VirtioNetHdrF*
	GSOType    GSOType // GSO* (possibly with GSOECN)
	HdrLen     uint16  // length of the headers; only a hint, see GSOSplit
	GSOSize    uint16  // payload bytes per segment (the MSS for TCP)
	CsumStart  uint16  // offset of the L4 header when NEEDS_CSUM is set
	CsumOffset uint16  // offset of the checksum field from CsumStart
}

// Decode reads h from the first VirtioNetHdrLen bytes of b.
func (h *VirtioNetHdr) Decode(b []byte) error {
	if len(b) < VirtioNetHdrLen {
		return io.ErrShortBuffer
	}
	h.Flags = b[0]
	h.GSOType = GSOType(b[1])
	h.HdrLen = binary.LittleEndian.Uint16(b[2:])
	h.GSOSize = binary.LittleEndian.Uint16(b[4:])
	h.CsumStart = binary.LittleEndian.Uint16(b[6:])
	h.CsumOffset = binary.LittleEndian.Uint16(b[8:])
	return nil
}

// Encode writes h into the first VirtioNetHdrLen bytes of b.
func (h VirtioNetHdr) Encode(b []byte) error {
	if len(b) < VirtioNetHdrLen {
		return io.ErrShortBuffer
	}
	b[0] = h.Flags
	b[1] = uint8(h.GSOType)
	binary.LittleEndian.PutUint16(b[2:], h.HdrLen)
	binary.LittleEndian.PutUint16(b[4:], h.GSOSize)
	binary.LittleEndian.PutUint16(b[6:], h.CsumStart)
	binary.LittleEndian.PutUint16(b[8:], h.CsumOffset)
	return nil
}

// IsGSO reports whether the frame is a super-packet to be segmented.
func (h VirtioNetHdr) IsGSO() bool { return h.GSOType&^GSOECN != GSONone }
