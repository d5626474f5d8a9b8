package mirror

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// The mirror packet's layout (TM, packet formats; RFC 7348).
const (
	ipv4Len   = 20
	udpLen    = 8
	vxlanLen  = 8
	outerLen  = ipv4Len + udpLen + vxlanLen // 36 bytes before the inner frame
	etherLen  = 14
	VXLANPort = 4789 // the UDP destination port of every mirror packet
	// roomFile is the most inner-frame bytes a mirror packet to a file
	// holds: the outer IPv4 packet is at most 65535 bytes.
	roomFile = 65535 - outerLen
	outerTTL = 64
	// flagI is the VXLAN flag that says the VNI is valid.
	flagI = 0x08
	// maxSegments bounds what a GSO super-packet is cut into; a 64 KiB
	// super-packet reaches it only with a segment size under 64 bytes.
	maxSegments = 1024
)

// flowPort returns the outer UDP source port of a copy of p: a hash of
// its 5-tuple for TCP and UDP (ports), ICMP (type, code and echo id), or
// of its addresses and protocol for anything else, in 49152-65535.
func flowPort(p *packet.Parsed) uint16 {
	s, d := p.Src.As16(), p.Dst.As16()
	h := uint64(p.Proto) + 0x9e3779b97f4a7c15
	for _, w := range [4]uint64{
		binary.LittleEndian.Uint64(s[:8]), binary.LittleEndian.Uint64(s[8:]),
		binary.LittleEndian.Uint64(d[:8]), binary.LittleEndian.Uint64(d[8:]),
	} {
		h = (h ^ w) * 0xff51afd7ed558ccd
		h ^= h >> 32
	}
	switch {
	case p.HasPorts:
		h = (h ^ (uint64(p.SrcPort)<<16 | uint64(p.DstPort))) * 0xc4ceb9fe1a85ec53
	case p.HasICMP:
		h = (h ^ (uint64(p.ICMPType)<<24 | uint64(p.ICMPCode)<<16 | uint64(p.ICMPID))) * 0xc4ceb9fe1a85ec53
	}
	h ^= h >> 29
	return 49152 | uint16(h)&0x3fff
}

// consumer turns queued copies into mirror packets. Only the goroutine
// draining the queue touches it.
type consumer struct {
	m     *Mirror
	fn    func(*meta, []byte, int)
	buf   []byte // one mirror packet
	segs  [][]byte
	sizes []int
	back  []byte // the segments' storage
	ipID  uint16
}

func (c *consumer) init(m *Mirror) {
	c.m = m
	c.fn = c.handle
}

// drain sends what the queue holds and returns how many copies it took.
func (c *consumer) drain() int {
	t := c.m.tab.Load()
	if t.ring == nil {
		return 0
	}
	return t.ring.Drain(c.fn)
}

// idle flushes the pcap files in use and closes the retired ones; call it
// when the queue is empty.
func (c *consumer) idle() {
	for _, f := range c.m.tab.Load().files {
		f.flush()
	}
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	for _, f := range c.m.retired {
		if err := f.close(); err != nil && c.m.err == nil {
			c.m.err = err
		}
	}
	c.m.retired = nil
}

// handle sends one queued copy: the segments of a GSO super-packet, or
// one packet, its checksum completed when it is whole and the kernel left
// that to the device.
func (c *consumer) handle(md *meta, data []byte, _ int) {
	if !md.hdr.IsGSO() {
		if len(data) == md.orig && md.hdr.Flags&tun.VirtioNetHdrFNeedsCsum != 0 {
			_ = tun.CompleteChecksum(md.hdr, data) // offsets outside the packet: leave it as sent
		}
		c.emit(md, data, md.orig)
		return
	}
	n, ok := c.split(md.hdr, data)
	if !ok {
		md.s.ctr.failed.Add(1)
		return
	}
	for i := range n {
		seg := c.segs[i][:c.sizes[i]]
		c.emit(md, seg, len(seg))
	}
}

// split cuts a super-packet into c.segs, growing them as needed.
func (c *consumer) split(h tun.VirtioNetHdr, pkt []byte) (int, bool) {
	mss := int(h.GSOSize)
	if mss == 0 {
		return 0, false
	}
	n := len(pkt)/mss + 1
	if n > maxSegments {
		return 0, false
	}
	// Headers: up to 60 bytes of IPv4 (or CsumStart bytes of IPv6 with
	// extension headers) and 60 of TCP.
	per := max(int(h.CsumStart), 60) + 60 + mss
	if len(c.segs) < n || (len(c.segs) > 0 && cap(c.segs[0]) < per) {
		size := max(per, 1500+120)
		c.back = make([]byte, n*size)
		c.segs = make([][]byte, n)
		c.sizes = make([]int, n)
		for i := range c.segs {
			c.segs[i] = c.back[i*size : (i+1)*size : (i+1)*size]
		}
	}
	k, err := tun.GSOSplit(h, pkt, c.segs, c.sizes, 0)
	return k, err == nil
}

// emit encapsulates one IP packet ip (orig bytes long before any cut)
// and sends it to the session's target.
func (c *consumer) emit(md *meta, ip []byte, orig int) {
	s := md.s
	if len(ip) == 0 {
		s.ctr.failed.Add(1)
		return
	}
	if c.buf == nil {
		c.buf = make([]byte, tun.VirtioNetHdrLen+65535) // the header stays zero
	}
	frame := min(etherLen+len(ip), s.limit[famIdx(ip[0]>>4)])
	out := c.buf[tun.VirtioNetHdrLen : tun.VirtioNetHdrLen+outerLen+frame]

	e := out[outerLen:]
	own, other := s.src.mac, s.src.peerMAC(peerAddr(ip, md.dir))
	if md.dir == Egress {
		copy(e[0:6], other[:])
		copy(e[6:12], own[:])
	} else {
		copy(e[0:6], own[:])
		copy(e[6:12], other[:])
	}
	etype := uint16(0x0800)
	if ip[0]>>4 == 6 {
		etype = 0x86dd
	}
	binary.BigEndian.PutUint16(e[12:], etype)
	copy(e[etherLen:], ip[:frame-etherLen])
	c.outer(out, s, md.sport)

	if s.file != nil {
		if s.file.write(c.m.opts.Epoch.Add(time.Duration(md.now)), out) != nil {
			s.ctr.failed.Add(1)
			return
		}
	} else if c.m.opts.Sink != nil {
		c.m.opts.Sink.Send(&s.Session, c.buf[:tun.VirtioNetHdrLen+len(out)])
	} else {
		s.ctr.failed.Add(1)
		return
	}
	s.ctr.mirrored.Add(1)
	s.ctr.bytes.Add(uint64(len(out)))
	if frame < etherLen+orig {
		s.ctr.truncated.Add(1)
	}
}

// outer writes the outer IPv4, UDP and VXLAN headers at the start of out,
// a whole mirror packet.
func (c *consumer) outer(out []byte, s *session, sport uint16) {
	ip := out[:ipv4Len]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(len(out)))
	binary.BigEndian.PutUint16(ip[4:], c.ipID)
	c.ipID++
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF: a mirror packet is never fragmented
	ip[8], ip[9] = outerTTL, packet.ProtoUDP
	ip[10], ip[11] = 0, 0
	src, dst := s.SourceAddr.As4(), s.TargetAddr.As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^checksum.Checksum(ip, 0))

	u := out[ipv4Len : ipv4Len+udpLen]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], VXLANPort)
	binary.BigEndian.PutUint16(u[4:], uint16(len(out)-ipv4Len))
	u[6], u[7] = 0, 0 // no checksum (RFC 7348)

	x := out[ipv4Len+udpLen : outerLen]
	binary.BigEndian.PutUint32(x[0:], flagI<<24)
	binary.BigEndian.PutUint32(x[4:], s.VNI<<8)
}

// peerAddr returns the address of the other end of ip, a packet (or its
// first bytes) seen in direction dir: the destination of a sent packet,
// the source of a received one. Too short a packet gives the zero Addr.
func peerAddr(ip []byte, dir Direction) netip.Addr {
	switch v := ip[0] >> 4; {
	case v == 4 && len(ip) >= 20:
		if dir == Egress {
			return netip.AddrFrom4([4]byte(ip[16:20]))
		}
		return netip.AddrFrom4([4]byte(ip[12:16]))
	case v == 6 && len(ip) >= 40:
		if dir == Egress {
			return netip.AddrFrom16([16]byte(ip[24:40]))
		}
		return netip.AddrFrom16([16]byte(ip[8:24]))
	}
	return netip.Addr{}
}
