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
	ipv6Len   = 40
	udpLen    = 8
	vxlanLen  = 8
	outerLen  = ipv4Len + udpLen + vxlanLen // 36 bytes before the inner frame
	etherLen  = 14
	VXLANPort = 4789 // the UDP destination port of every mirror packet
	// roomFile is the most inner-frame bytes a mirror packet to a file
	// holds: the outer IPv4 packet is at most 65535 bytes.
	roomFile = 65535 - outerLen
	outerTTL = 64
	// tcpCWR is the TCP flag a super-packet's first segment alone keeps.
	tcpCWR = 0x80
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
	buf   []byte // one mirror packet, after a zero virtio header
	seg   []byte // one segment of a super-packet queued cut
	segs  [][]byte
	sizes []int
	back  []byte // the segments' storage
	ipID  uint16
	// gso are the UDP GSO super-packets being filled for sessions whose
	// Sink takes them; every one is sent at the end of each batch.
	gso  [maxPending]pending
	age  uint64 // counts the super-packets opened, to evict the oldest
	sent bool   // the Sink was sent something since its last Flush
}

// maxPending is how many outer flows the consumer coalesces at once: the
// two directions of a few connections, whose copies interleave.
const maxPending = 8

// pending is a UDP GSO super-packet being filled with the mirror packets
// of one session and outer flow (see Sink.Send).
type pending struct {
	s     *session // nil: free
	sport uint16
	size  int    // the length of each mirror packet in it (the last may be shorter)
	n     int    // mirror packets in it
	end   int    // bytes of buf in use
	short bool   // the last is shorter than size: nothing may follow it
	cut   uint64 // how many of them were truncated
	age   uint64
	// buf is the frame: a virtio header and the outer IPv4 and UDP
	// headers (written when it is sent), then each mirror packet's VXLAN
	// header and inner frame.
	buf []byte
}

// gsoHdrLen is the outer headers of a coalesced frame, before the first
// UDP payload.
const gsoHdrLen = tun.VirtioNetHdrLen + ipv4Len + udpLen

func (c *consumer) init(m *Mirror) {
	c.m = m
	c.fn = c.handle
}

// drainN sends at most max copies of what the queue holds (Device.Read's
// share), sending the super-packets being filled and flushing the Sink
// after them, and returns how many it took.
func (c *consumer) drainN(max int) int {
	t := c.m.tab.Load()
	if t.ring == nil {
		return 0
	}
	n := 0
	for n < max && t.ring.Get(c.fn) {
		n++
	}
	if n > 0 {
		c.flush()
	}
	return n
}

// drain sends what the queue holds and returns how many copies it took.
// It works in batches of at most the queue's size, sending the
// super-packets being filled and flushing the Sink after each, so that a
// copy never waits for later traffic longer than one batch.
func (c *consumer) drain() int {
	t := c.m.tab.Load()
	if t.ring == nil {
		return 0
	}
	total, size := 0, t.ring.Cap()
	for {
		n := 0
		for n < size && t.ring.Get(c.fn) {
			n++
		}
		total += n
		c.flush()
		if n < size {
			return total
		}
	}
}

// flush sends every super-packet being filled and flushes the Sink if it
// was sent anything.
func (c *consumer) flush() {
	for i := range c.gso {
		c.send(&c.gso[i])
	}
	if c.sent {
		c.sent = false
		c.m.opts.Sink.Flush()
	}
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
	switch {
	case md.hlen != 0:
		c.cutSegments(md, data)
	case !md.hdr.IsGSO():
		if len(data) == md.orig && md.hdr.Flags&tun.VirtioNetHdrFNeedsCsum != 0 {
			_ = tun.CompleteChecksum(md.hdr, data) // offsets outside the packet: leave it as sent
		}
		c.emit(md, data, md.orig)
	default:
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

// gsoLayout returns where the L4 header of GSO super-packet pkt (virtio
// header h) begins and where its headers end, read as tun.GSOSplit reads
// them; ok is false for a super-packet GSOSplit refuses.
func gsoLayout(h tun.VirtioNetHdr, pkt []byte) (l4, hlen int, ok bool) {
	gso := h.GSOType &^ tun.GSOECN
	if len(pkt) < ipv4Len || h.GSOSize == 0 {
		return 0, 0, false
	}
	csum := h.Flags&tun.VirtioNetHdrFNeedsCsum != 0
	var proto byte
	switch pkt[0] >> 4 {
	case 4:
		if gso != tun.GSOTCPv4 && gso != tun.GSOUDPL4 {
			return 0, 0, false
		}
		l4, proto = int(pkt[0]&0x0f)*4, pkt[9]
		if l4 < ipv4Len || l4 > len(pkt) || binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 {
			return 0, 0, false // a fragment is no super-packet
		}
	case 6:
		if (gso != tun.GSOTCPv6 && gso != tun.GSOUDPL4) || len(pkt) < ipv6Len {
			return 0, 0, false
		}
		l4, proto = ipv6Len, pkt[6]
		if csum && int(h.CsumStart) > ipv6Len { // extension headers
			l4, proto = int(h.CsumStart), 0
		}
	default:
		return 0, 0, false
	}
	want := byte(packet.ProtoTCP)
	if gso == tun.GSOUDPL4 {
		want = packet.ProtoUDP
	}
	if (proto != 0 && proto != want) || (csum && int(h.CsumStart) != l4) {
		return 0, 0, false
	}
	if want == packet.ProtoTCP {
		if len(pkt) < l4+20 {
			return 0, 0, false
		}
		doff := int(pkt[l4+12]>>4) * 4
		if doff < 20 {
			return 0, 0, false
		}
		hlen = l4 + doff
	} else {
		hlen = l4 + udpLen
	}
	if hlen > len(pkt) || len(pkt) > 0xffff+ipv6Len {
		return 0, 0, false
	}
	return l4, hlen, true
}

// cutSegments sends the copies of the segments of a super-packet queued
// cut (meta.hlen): each segment's headers as tun.GSOSplit makes them
// (lengths, IPv4 id and header checksum, TCP sequence number and flags,
// UDP length), followed by the payload bytes queued. Their L4 checksum
// cannot be computed without the payload dropped: the field holds the
// segment's pseudo-header sum, as the kernel's segmentation leaves it for
// a device with checksum offload (see the package doc). A segment whose
// payload was kept whole, a short last one, gets its complete checksum.
func (c *consumer) cutSegments(md *meta, data []byte) {
	hlen, l4, keep := int(md.hlen), int(md.l4), int(md.keep)
	mss := int(md.hdr.GSOSize)
	payload := md.orig - hlen
	segs := max((payload+mss-1)/mss, 1)
	hdrs := data[:hlen]
	if c.seg == nil {
		c.seg = make([]byte, 65535)
	}
	v6 := hdrs[0]>>4 == 6
	isTCP := md.hdr.GSOType&^tun.GSOECN != tun.GSOUDPL4
	proto := uint16(packet.ProtoUDP)
	csumAt := l4 + 6
	if isTCP {
		proto, csumAt = packet.ProtoTCP, l4+16
	}
	var addrSum uint16
	if v6 {
		addrSum = checksum.Checksum(hdrs[8:40], 0)
	} else {
		addrSum = checksum.Checksum(hdrs[12:20], 0)
	}
	addrSum = checksum.Combine(addrSum, proto)
	id0 := binary.BigEndian.Uint16(hdrs[4:])
	seq0 := uint32(0)
	if isTCP {
		seq0 = binary.BigEndian.Uint32(hdrs[l4+4:])
	}
	at := hlen
	for i := range segs {
		size := min(mss, payload-i*mss) // the segment's payload
		k := min(keep, size)            // what was queued of it
		out := c.seg[:hlen+k]
		copy(out, hdrs)
		copy(out[hlen:], data[at:at+k])
		at += k
		total := hlen + size
		if v6 {
			binary.BigEndian.PutUint16(out[4:], uint16(total-ipv6Len))
		} else {
			binary.BigEndian.PutUint16(out[2:], uint16(total))
			binary.BigEndian.PutUint16(out[4:], id0+uint16(i))
			out[10], out[11] = 0, 0
			binary.BigEndian.PutUint16(out[10:], ^checksum.Checksum(out[:l4], 0))
		}
		if isTCP {
			binary.BigEndian.PutUint32(out[l4+4:], seq0+uint32(i*mss))
			if i > 0 {
				out[l4+13] &^= tcpCWR
			}
			if i < segs-1 {
				out[l4+13] &^= packet.TCPFin | packet.TCPPsh
			}
		} else {
			binary.BigEndian.PutUint16(out[l4+4:], uint16(total-l4))
		}
		sum := checksum.Combine(addrSum, uint16(total-l4))
		if k == size { // whole: as tun.GSOSplit
			out[csumAt], out[csumAt+1] = 0, 0
			if sum = ^checksum.Checksum(out[l4:], sum); sum == 0 && !isTCP {
				sum = 0xffff
			}
		}
		binary.BigEndian.PutUint16(out[csumAt:], sum)
		c.emit(md, out, total)
	}
}

// emit encapsulates one IP packet ip (orig bytes long before any cut)
// and sends it to the session's target, or adds it to the super-packet
// being filled for it.
func (c *consumer) emit(md *meta, ip []byte, orig int) {
	s := md.s
	if len(ip) == 0 || (s.file == nil && c.m.opts.Sink == nil) {
		s.ctr.failed.Add(1)
		return
	}
	frame := min(etherLen+len(ip), s.limit[famIdx(ip[0]>>4)])
	cut := frame < etherLen+orig
	if s.file == nil && s.segs > 1 {
		g := c.pendingFor(s, md.sport, outerLen+frame)
		x := g.buf[g.end : g.end+vxlanLen+frame]
		vxlan(x, s)
		c.inner(x[vxlanLen:], s, md.dir, ip)
		g.end += len(x)
		g.n++
		if cut {
			g.cut++
		}
		g.short = outerLen+frame < g.size
		if g.n == s.segs || g.short || g.end-tun.VirtioNetHdrLen+g.size-ipv4Len-udpLen > 65535 {
			c.send(g) // full
		}
		return
	}
	if c.buf == nil {
		c.buf = make([]byte, tun.VirtioNetHdrLen+65535) // the header stays zero
	}
	out := c.buf[tun.VirtioNetHdrLen : tun.VirtioNetHdrLen+outerLen+frame]
	c.inner(out[outerLen:], s, md.dir, ip)
	vxlan(out[ipv4Len+udpLen:], s)
	c.outer(out, s, md.sport, 1)
	if s.file != nil {
		if s.file.write(c.m.opts.Epoch.Add(time.Duration(md.now)), out) != nil {
			s.ctr.failed.Add(1)
			return
		}
	} else {
		c.m.opts.Sink.Send(&s.Session, c.buf[:tun.VirtioNetHdrLen+len(out)], 1)
		c.sent = true
	}
	s.ctr.mirrored.Add(1)
	s.ctr.bytes.Add(uint64(len(out)))
	if cut {
		s.ctr.truncated.Add(1)
	}
}

// pendingFor returns the super-packet a mirror packet of size bytes of
// session s and outer source port sport is to join: the one being filled
// for them if the packet may follow what it holds (no longer than its
// packets, and it has room), else a new one, sending the one it replaces.
func (c *consumer) pendingFor(s *session, sport uint16, size int) *pending {
	var g *pending
	for i := range c.gso {
		p := &c.gso[i]
		if p.s == s && p.sport == sport {
			if size <= p.size && !p.short && p.end-tun.VirtioNetHdrLen+size-ipv4Len-udpLen <= 65535 {
				return p
			}
			g = p
			break
		}
		if g == nil || p.s == nil || (g.s != nil && p.age < g.age) {
			g = p // a free one, else the oldest
		}
	}
	c.send(g)
	if g.buf == nil {
		g.buf = make([]byte, tun.VirtioNetHdrLen+65535)
	}
	c.age++
	g.s, g.sport, g.size, g.age = s, sport, size, c.age
	g.end = gsoHdrLen
	return g
}

// send sends what super-packet g holds, a plain mirror packet if it holds
// one, and empties it.
func (c *consumer) send(g *pending) {
	if g.n == 0 {
		g.s = nil
		return
	}
	s := g.s
	frame := g.buf[:g.end]
	out := frame[tun.VirtioNetHdrLen:]
	h := tun.VirtioNetHdr{}
	if g.n > 1 {
		h = tun.UDPGSOHdr(ipv4Len, g.size-ipv4Len-udpLen)
	}
	h.Encode(frame)
	c.outer(out, s, g.sport, g.n)
	c.m.opts.Sink.Send(&s.Session, frame, g.n)
	c.sent = true
	s.ctr.mirrored.Add(uint64(g.n))
	s.ctr.bytes.Add(uint64(len(out) + (g.n-1)*(ipv4Len+udpLen)))
	if g.cut > 0 {
		s.ctr.truncated.Add(g.cut)
	}
	*g = pending{buf: g.buf}
}

// inner writes the inner frame of a copy of ip, seen in direction dir by
// session s's source, into e: the Ethernet header, then as much of ip as
// e has room for.
func (c *consumer) inner(e []byte, s *session, dir Direction, ip []byte) {
	own, other := s.src.mac, s.src.peerMAC(peerAddr(ip, dir))
	if dir == Egress {
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
	copy(e[etherLen:], ip[:len(e)-etherLen])
}

// vxlan writes session s's VXLAN header at the start of x.
func vxlan(x []byte, s *session) {
	binary.BigEndian.PutUint32(x[0:], flagI<<24)
	binary.BigEndian.PutUint32(x[4:], s.VNI<<8)
}

// outer writes the outer IPv4 and UDP headers at the start of out, which
// holds n mirror packets: one whole, or a UDP GSO super-packet of n, whose
// headers cover the whole and whose UDP checksum field holds the
// pseudo-header sum (the kernel's segmentation requires a partial
// checksum). The IPv4 ids of the n packets are the next n.
func (c *consumer) outer(out []byte, s *session, sport uint16, n int) {
	ip := out[:ipv4Len]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(len(out)))
	binary.BigEndian.PutUint16(ip[4:], c.ipID)
	c.ipID += uint16(n)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF: a mirror packet is never fragmented
	ip[8], ip[9] = outerTTL, packet.ProtoUDP
	ip[10], ip[11] = 0, 0
	src, dst := s.SourceAddr.As4(), s.TargetAddr.As4()
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[10:], ^checksum.Checksum(ip, 0))

	u := out[ipv4Len : ipv4Len+udpLen]
	ulen := uint16(len(out) - ipv4Len)
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], VXLANPort)
	binary.BigEndian.PutUint16(u[4:], ulen)
	u[6], u[7] = 0, 0 // no checksum (RFC 7348)
	if n > 1 {
		binary.BigEndian.PutUint16(u[6:], tun.PseudoHeaderSum(out, packet.ProtoUDP, ulen))
	}
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
