package tuntest

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

const (
	udpHdrLen   = 8
	maxSegments = 64 // the kernel's UDP_MAX_SEGMENTS
)

// UDP describes a UDP datagram for UDPFrame. The zero value of each field
// is the common case: IPv4 10.0.1.10:40000 → 10.0.2.10:5201, TTL 63, DF,
// id 0, 64 bytes of payload, a partial checksum as the kernel leaves it.
type UDP struct {
	Src, Dst     string
	SPort, DPort uint16
	ID           uint16 // IPv4 id; the k-th of a run gets id+k from Run
	Payload      int
	TTL, TOS     byte
	NoDF         bool
	MF           bool   // IPv4 more fragments
	Options      bool   // IPv4 with 4 bytes of options (IHL 6)
	Flow         uint32 // IPv6 flow label
	Csum         CsumMode
	GSO          bool // a virtio header saying GSO_UDP_L4 (one segment)
	Seed         byte // first payload byte; the others count up from it
}

// CsumMode says how UDPFrame fills the UDP checksum.
type CsumMode int

const (
	CsumPartial  CsumMode = iota // NEEDS_CSUM, the pseudo-header sum in the field
	CsumComplete                 // a correct, complete checksum
	CsumBad                      // a complete checksum, off by one
	CsumZero                     // no checksum (IPv4)
	CsumOffset                   // NEEDS_CSUM with a csum_offset that is not UDP's
)

// UDPFrame writes the frame of datagram g into b and returns its length.
func UDPFrame(b []byte, g UDP) int {
	src, dst := g.Src, g.Dst
	if src == "" {
		src, dst = "10.0.1.10", "10.0.2.10"
	}
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	sport, dport := g.SPort, g.DPort
	if sport == 0 {
		sport, dport = 40000, 5201
	}
	payload := g.Payload
	if payload == 0 {
		payload = 64
	}
	ttl := g.TTL
	if ttl == 0 {
		ttl = 63
	}
	l4 := 20
	switch {
	case s.Is6():
		l4 = 40
	case g.Options:
		l4 = 24
	}
	total := l4 + udpHdrLen + payload
	clear(b[:tun.VirtioNetHdrLen+total])
	ip := b[tun.VirtioNetHdrLen : tun.VirtioNetHdrLen+total]
	if s.Is6() {
		binary.BigEndian.PutUint32(ip[0:], 6<<28|uint32(g.TOS)<<20|g.Flow&0xfffff)
		binary.BigEndian.PutUint16(ip[4:], uint16(total-40))
		ip[6], ip[7] = 17, ttl
		a, z := s.As16(), d.As16()
		copy(ip[8:], a[:])
		copy(ip[24:], z[:])
	} else {
		ip[0], ip[1] = 0x40|byte(l4/4), g.TOS
		binary.BigEndian.PutUint16(ip[2:], uint16(total))
		binary.BigEndian.PutUint16(ip[4:], g.ID)
		if !g.NoDF {
			ip[6] = 0x40
		}
		if g.MF {
			ip[6] |= 0x20
		}
		ip[8], ip[9] = ttl, 17
		a, z := s.As4(), d.As4()
		copy(ip[12:], a[:])
		copy(ip[16:], z[:])
		binary.BigEndian.PutUint16(ip[10:], ^checksum.Checksum(ip[:l4], 0))
	}
	u := ip[l4:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(len(u)))
	for i := range payload {
		u[udpHdrLen+i] = g.Seed + byte(i)
	}
	pseudo := tun.PseudoHeaderSum(ip, packet.ProtoUDP, uint16(len(u)))
	h := tun.VirtioNetHdr{}
	switch g.Csum {
	case CsumPartial, CsumOffset:
		binary.BigEndian.PutUint16(u[6:], pseudo)
		h = tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, CsumStart: uint16(l4), CsumOffset: 6}
		if g.Csum == CsumOffset {
			h.CsumOffset = 4
		}
	case CsumComplete, CsumBad:
		sum := ^checksum.Checksum(u, pseudo)
		if sum == 0 {
			sum = 0xffff
		}
		if g.Csum == CsumBad {
			sum++
		}
		binary.BigEndian.PutUint16(u[6:], sum)
	}
	if g.GSO {
		h.GSOType, h.GSOSize, h.HdrLen = tun.GSOUDPL4, uint16(payload), uint16(l4+udpHdrLen)
	}
	h.Encode(b)
	return tun.VirtioNetHdrLen + total
}

// Frames makes the frames of gs, each in a buffer of its own.
func Frames(gs ...UDP) [][]byte {
	out := make([][]byte, len(gs))
	for i, g := range gs {
		b := make([]byte, tun.VirtioNetHdrLen+65535)
		out[i] = b[:UDPFrame(b, g)]
	}
	return out
}

// Run returns n copies of g as the k-th datagram of a run: ids g.ID+k,
// payloads seeded by k.
func Run(g UDP, n int) []UDP {
	out := make([]UDP, n)
	for k := range out {
		out[k] = g
		out[k].ID = g.ID + uint16(k)
		out[k].Seed = g.Seed + byte(k*7)
	}
	return out
}

// Cat concatenates lists of datagrams.
func Cat(lists ...[]UDP) []UDP { return slices.Concat(lists...) }

// Complete returns a copy of frame's IP packet with its checksum
// completed if the frame left it to the device: the datagram a receiver
// gets.
func Complete(t testing.TB, frame []byte) []byte {
	t.Helper()
	var h tun.VirtioNetHdr
	h.Decode(frame)
	pkt := bytes.Clone(frame[tun.VirtioNetHdrLen:])
	if err := tun.CompleteChecksum(h, pkt); err != nil {
		t.Fatal(err)
	}
	return pkt
}

// Split cuts frame back into the datagrams a receiver gets: with
// tun.GSOSplit if it is a super-packet, else its packet with its checksum
// completed.
func Split(t testing.TB, frame []byte) [][]byte {
	t.Helper()
	var h tun.VirtioNetHdr
	h.Decode(frame)
	if !h.IsGSO() {
		return [][]byte{Complete(t, frame)}
	}
	bufs, sizes := make([][]byte, maxSegments), make([]int, maxSegments)
	for i := range bufs {
		bufs[i] = make([]byte, tun.VirtioNetHdrLen+65535)
	}
	n, err := tun.GSOSplit(h, frame[tun.VirtioNetHdrLen:], bufs, sizes, 0)
	if err != nil {
		t.Fatalf("splitting %+v: %v", h, err)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = bufs[i][:sizes[i]]
	}
	return out
}

// CheckDatagram fails unless pkt, an IP packet, has a correct IPv4 header
// checksum and UDP checksum.
func CheckDatagram(t testing.TB, pkt []byte) {
	t.Helper()
	l4 := 40
	if pkt[0]>>4 == 4 {
		l4 = int(pkt[0]&0x0f) * 4
		if checksum.Checksum(pkt[:l4], 0) != 0xffff {
			t.Errorf("IPv4 header checksum wrong: % x", pkt[:l4])
		}
	}
	u := pkt[l4:]
	if checksum.Checksum(u, tun.PseudoHeaderSum(pkt, packet.ProtoUDP, uint16(len(u)))) != 0xffff {
		t.Errorf("UDP checksum wrong: % x", u[:udpHdrLen])
	}
}
