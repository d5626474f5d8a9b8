package mirror

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gopacket/gopacket/layers"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// mirrorAll returns testLab with one session, eni-web1 to eni-tap1, that
// mirrors everything, VNI 77 and the given packet length.
func mirrorAll(t testing.TB, plen int) *lab.Lab {
	return newLab(t, []*lab.MirrorFilter{acceptAll("tmf-all")}, []*lab.MirrorTarget{eniTarget("tmt-tap", "eni-tap1")},
		[]*lab.MirrorSession{newSession("tms-web", 1, "eni-web1", "tmt-tap", "tmf-all", 77, plen)})
}

func mac(eni string) net.HardwareAddr { return labnet.MAC(eni) }

func routerOf(subnet string) net.HardwareAddr {
	m := routerMAC(subnet)
	return m[:]
}

// TestWhatIsMirrored runs packets through the real engine and mirrors
// them as the live path does: a packet is mirrored where it reached the
// mirrored ENI's side (AWS: what the source's security group or network
// ACL drops is not mirrored), exempt traffic never.
func TestWhatIsMirrored(t *testing.T) {
	l := mirrorAll(t, 0)
	e := dataplane.New(l)
	sink := &collector{}
	m, err := New(l, e.Port, Options{Sink: sink, QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	port := func(eni string) verdict.Port {
		p, ok := e.Port(eni)
		if !ok {
			t.Fatalf("no port for %s", eni)
		}
		return p
	}
	web, app, db := port("eni-web1"), port("eni-app1"), port("eni-db1")
	tests := []struct {
		name string
		from verdict.Port
		spec packet.Spec
		want []Direction // the copies, in order
	}{
		{"sent and delivered", web, tcp(web1, db1, 40000, 5432, 20), []Direction{Egress}},
		{"denied by the sender's subnet ACL", web, tcp(web1, db1, 40000, 25, 0), nil},
		{"denied by the sender's security group", web, packet.Spec{Src: web1, Dst: db1, Proto: packet.ProtoICMP, ICMPType: 8}, nil},
		{"denied by the receiver's security group: it was sent", web, tcp(web1, db1, 40000, 3306, 0), []Direction{Egress}},
		{"received", app, tcp(app1, web1, 40001, 80, 20), []Direction{Ingress}},
		{"refused by the mirrored ENI's security group", db, tcp(db1, web1, 40002, 22, 0), nil},
		{"instance metadata is exempt", web, tcp(web1, netip.MustParseAddr("169.254.169.254"), 40003, 80, 0), nil},
		{"Amazon DNS is exempt", web, udp(web1, netip.MustParseAddr("10.0.0.2"), 40004, 53, 30), nil},
		{"a spoofed source fails the source/destination check", web, tcp(netip.MustParseAddr("10.0.1.50"), db1, 1, 5432, 0), nil},
	}
	var v verdict.Verdict
	var p packet.Parsed
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := pkt(t, tt.spec)
			e.ProcessParsed(tt.from, b, int64(i), &v, &p)
			m.Packet(&v, &p, nil, b, int64(i))
			m.Drain()
			got := sink.take()
			if len(got) != len(tt.want) {
				t.Fatalf("verdict %v/%v: %d copies, want %d", v.Stage, v.Code, len(got), len(tt.want))
			}
			for k, dir := range tt.want {
				d := decode(t, got[k].pkt)
				if !bytes.Equal(d.inner, b) {
					t.Errorf("copy %d: inner packet differs from the original", k)
				}
				src, dst := mac("eni-web1"), routerOf("subnet-a") // sent to another subnet
				if dir == Ingress {
					src, dst = mac("eni-app1"), mac("eni-web1") // from a neighbour in the subnet
				}
				if !bytes.Equal(d.eth.SrcMAC, src) || !bytes.Equal(d.eth.DstMAC, dst) {
					t.Errorf("copy %d (%v): MACs %v > %v, want %v > %v", k, dir, d.eth.SrcMAC, d.eth.DstMAC, src, dst)
				}
			}
		})
	}
}

// TestTargetSecurityGroupDecides injects mirror packets into the engine
// at the source's port, as the live Sink does: the target's security
// group must allow UDP 4789, and the target decodes the VXLAN stream.
func TestTargetSecurityGroupDecides(t *testing.T) {
	for _, allow := range []bool{true, false} {
		l := mirrorAll(t, 0)
		if !allow {
			l.Group("sg-tap").Ingress = nil
		}
		e := dataplane.New(l)
		sink := &collector{}
		m, err := New(l, e.Port, Options{Sink: sink, QueueSlots: 16})
		if err != nil {
			t.Fatal(err)
		}
		var v verdict.Verdict
		var p packet.Parsed
		var originals [][]byte
		web, _ := e.Port("eni-web1")
		for i := range 3 {
			b, _ := pkt(t, tcp(web1, db1, 40000, 5432, 100*i))
			originals = append(originals, b)
			e.ProcessParsed(web, b, 0, &v, &p)
			m.Packet(&v, &p, nil, b, 0)
		}
		m.Drain()
		tap, _ := e.Port("eni-tap1")
		got := sink.take()
		if len(got) != 3 {
			t.Fatalf("%d mirror packets, want 3", len(got))
		}
		for i, c := range got {
			e.Process(c.s.SourcePort, c.pkt, 0, &v)
			if allow {
				if !v.Allowed || v.To != tap {
					t.Fatalf("mirror packet %d: %v %v at %v, want delivered to the target %v", i, v.Stage, v.Code, v.To, tap)
				}
				if d := decode(t, c.pkt); !bytes.Equal(d.inner, originals[i]) || d.vxlan.VNI != 77 {
					t.Errorf("the target decodes packet %d as VNI %d, %x; want 77, %x", i, d.vxlan.VNI, d.inner, originals[i])
				}
			} else if v.Allowed || v.Stage != verdict.StageSGIngress {
				t.Fatalf("mirror packet %d to a target whose security group has no UDP 4789 rule: %v %v", i, v.Stage, v.Code)
			}
		}
		m.Close()
	}
}

// TestEncapsulation takes mirror packets apart with gopacket, field by
// field, for IPv4 and IPv6 inner packets.
func TestEncapsulation(t *testing.T) {
	l := newLab(t, []*lab.MirrorFilter{acceptAll("tmf-all")}, []*lab.MirrorTarget{eniTarget("tmt-tap", "eni-tap1")},
		[]*lab.MirrorSession{newSession("tms-web", 1, "eni-web1", "tmt-tap", "tmf-all", 1<<24-1, 0)})
	sink := &collector{}
	m, err := New(l, fixedPorts, Options{Sink: sink, QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	v4, p4 := pkt(t, tcp(web1, db1, 40000, 5432, 50))
	v4b, p4b := pkt(t, tcp(web1, db1, 40000, 5432, 500)) // same flow
	v4r, p4r := pkt(t, tcp(db1, web1, 5432, 40000, 0))   // its reply
	v6, p6 := pkt(t, udp(web1v6, remote, 5353, 53, 40))
	out := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	in := &verdict.Verdict{Allowed: true, From: portDB1, To: portWeb1}
	inet := &verdict.Verdict{Allowed: true, From: portWeb1, To: verdict.PortInternet}
	m.Offer(portWeb1, Egress, out, p4, nil, v4, 0)
	m.Offer(portWeb1, Egress, out, p4b, nil, v4b, 0)
	m.Offer(portWeb1, Ingress, in, p4r, nil, v4r, 0)
	m.Offer(portWeb1, Egress, inet, p6, nil, v6, 0)
	if n := m.Drain(); n != 4 {
		t.Fatalf("Drain took %d copies, want 4", n)
	}
	got := sink.take()
	if len(got) != 4 {
		t.Fatalf("%d mirror packets, want 4", len(got))
	}
	originals := [][]byte{v4, v4b, v4r, v6}
	var sports []layers.UDPPort
	for i, c := range got {
		d := decode(t, c.pkt)
		o := d.outer
		if o.Version != 4 || o.IHL != 5 || o.TTL != 64 || o.Flags != layers.IPv4DontFragment || o.FragOffset != 0 ||
			o.Protocol != layers.IPProtocolUDP || int(o.Length) != len(c.pkt) {
			t.Errorf("packet %d: outer IPv4 %+v", i, o)
		}
		if !o.SrcIP.Equal(web1.AsSlice()) || !o.DstIP.Equal(tap1.AsSlice()) {
			t.Errorf("packet %d: outer %v > %v, want the source's and the target's primary addresses %v > %v", i, o.SrcIP, o.DstIP, web1, tap1)
		}
		if sum16(c.pkt[:20], 0) != 0xffff {
			t.Errorf("packet %d: outer IPv4 header checksum %#04x does not verify", i, o.Checksum)
		}
		u := d.udp
		if u.DstPort != 4789 || u.SrcPort < 49152 || int(u.Length) != len(c.pkt)-20 || u.Checksum != 0 {
			t.Errorf("packet %d: UDP %d > %d, length %d, checksum %#x; want 49152-65535 > 4789, %d, 0", i, u.SrcPort, u.DstPort, u.Length, u.Checksum, len(c.pkt)-20)
		}
		sports = append(sports, u.SrcPort)
		x := d.vxlan
		if !x.ValidIDFlag || x.VNI != 1<<24-1 || x.GBPExtension {
			t.Errorf("packet %d: VXLAN %+v", i, x)
		}
		if raw := c.pkt[28:36]; raw[0] != 0x08 || raw[1]|raw[2]|raw[3]|raw[7] != 0 {
			t.Errorf("packet %d: VXLAN header % x: only the I flag, reserved bits zero", i, raw)
		}
		wantType, src, dst := layers.EthernetTypeIPv4, mac("eni-web1"), routerOf("subnet-a")
		switch i {
		case 2: // received from another subnet: from its router
			src, dst = routerOf("subnet-a"), mac("eni-web1")
		case 3:
			wantType = layers.EthernetTypeIPv6
		}
		if d.eth.EthernetType != wantType || !bytes.Equal(d.eth.SrcMAC, src) || !bytes.Equal(d.eth.DstMAC, dst) {
			t.Errorf("packet %d: Ethernet %v > %v type %v, want %v > %v type %v", i, d.eth.SrcMAC, d.eth.DstMAC, d.eth.EthernetType, src, dst, wantType)
		}
		if !bytes.Equal(d.inner, originals[i]) {
			t.Errorf("packet %d: inner packet\n% x\nwant\n% x", i, d.inner, originals[i])
		}
		if c.s.Source != "eni-web1" || c.s.SourcePort != portWeb1 || c.s.TargetENI != "eni-tap1" || c.s.TargetPort != portTap1 {
			t.Errorf("packet %d: session %+v", i, *c.s)
		}
	}
	if sports[0] != sports[1] {
		t.Errorf("two packets of one flow have source ports %d and %d", sports[0], sports[1])
	}
	if sports[0] == sports[2] && sports[0] == sports[3] {
		t.Errorf("three flows share source port %d", sports[0])
	}
	// The IPv4 identification differs from packet to packet.
	if binary.BigEndian.Uint16(got[0].pkt[4:]) == binary.BigEndian.Uint16(got[1].pkt[4:]) {
		t.Error("two mirror packets with one IPv4 identification")
	}
}

// TestTruncation: PacketLength counts the inner frame, Ethernet header
// included, is raised to AWS's 35 (IPv4) and 55 (IPv6) bytes, and an ENI
// target's MTU cuts what is longer still.
func TestTruncation(t *testing.T) {
	tests := []struct {
		name      string
		plen, mtu int
		spec      packet.Spec
		frame     int // inner frame bytes
	}{
		{"packet length", 100, 0, tcp(web1, db1, 1, 2, 1000), 100},
		{"packet length longer than the packet", 2000, 0, tcp(web1, db1, 1, 2, 1000), 14 + 1040},
		{"packet length equal to the frame", 14 + 1040, 0, tcp(web1, db1, 1, 2, 1000), 14 + 1040},
		{"IPv4 floor", 10, 0, tcp(web1, db1, 1, 2, 1000), 35},
		{"IPv6 floor", 10, 0, udp(web1v6, remote, 1, 2, 1000), 55},
		{"the target's MTU", 0, 576, tcp(web1, db1, 1, 2, 1400), 576 - 36},
		{"the target's MTU below the packet length", 1200, 576, tcp(web1, db1, 1, 2, 1400), 576 - 36},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &collector{}
			m, err := New(mirrorAll(t, tt.plen), fixedPorts, Options{Sink: sink, MTU: tt.mtu, QueueSlots: 16})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			b, p := pkt(t, tt.spec)
			v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
			if !m.Offer(portWeb1, Egress, v, p, nil, b, 0) {
				t.Fatal("not mirrored")
			}
			m.Drain()
			got := sink.take()
			if len(got) != 1 {
				t.Fatalf("%d mirror packets", len(got))
			}
			c := got[0].pkt
			if len(c) != 36+tt.frame {
				t.Fatalf("mirror packet of %d bytes, want 36 + %d", len(c), tt.frame)
			}
			d := decode(t, c)
			if !bytes.Equal(d.inner, b[:tt.frame-14]) {
				t.Error("the inner frame is not the packet's first bytes")
			}
			// The IP header still gives the original length.
			if tt.spec.Src.Is4() && int(binary.BigEndian.Uint16(d.inner[2:])) != len(b) {
				t.Errorf("inner total length %d, want %d", binary.BigEndian.Uint16(d.inner[2:]), len(b))
			}
			st := m.Stats()[0]
			if cut := tt.frame < 14+len(b); st.Truncated != map[bool]uint64{true: 1, false: 0}[cut] || st.Mirrored != 1 || st.Bytes != uint64(len(c)) {
				t.Errorf("stats %+v (cut: %v)", st, cut)
			}
		})
	}
}

// superPacket builds a TCPv4 GSO super-packet as a TUN device hands it
// over: one header for the whole payload, the checksum field holding the
// pseudo-header sum (NEEDS_CSUM), and its virtio header.
func superPacket(t testing.TB, payload, mss int) ([]byte, []byte) {
	t.Helper()
	b, _ := pkt(t, tcp(web1, db1, 40000, 5432, payload))
	binary.BigEndian.PutUint32(b[24:], 1000) // sequence number
	b[33] = packet.TCPAck | packet.TCPPsh
	binary.BigEndian.PutUint16(b[36:], uint16(sum16(b[12:20], uint32(packet.ProtoTCP)+uint32(len(b)-20))))
	h := tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, GSOType: tun.GSOTCPv4, HdrLen: 40,
		GSOSize: uint16(mss), CsumStart: 20, CsumOffset: 16}
	vnet := make([]byte, tun.VirtioNetHdrLen)
	h.Encode(vnet)
	return vnet, b
}

// TestGSO: a super-packet is mirrored as the segments it stands for, each
// complete, and each cut on its own by PacketLength.
func TestGSO(t *testing.T) {
	for _, plen := range []int{0, 200} {
		sink := &collector{}
		m, err := New(mirrorAll(t, plen), fixedPorts, Options{Sink: sink, QueueSlots: 16})
		if err != nil {
			t.Fatal(err)
		}
		vnet, b := superPacket(t, 4500, 1000)
		var p packet.Parsed
		if r := p.Decode(b); r != packet.OK {
			t.Fatal(r)
		}
		v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
		if !m.Offer(portWeb1, Egress, v, &p, vnet, b, 0) {
			t.Fatal("not mirrored")
		}
		m.Drain()
		got := sink.take()
		if len(got) != 5 {
			t.Fatalf("PacketLength %d: %d mirror packets, want 5 segments", plen, len(got))
		}
		for i, c := range got {
			seg := decode(t, c.pkt).inner
			n := min(1000, 4500-1000*i)
			if plen > 0 {
				if len(seg) != plen-14 {
					t.Errorf("segment %d: %d bytes, want %d", i, len(seg), plen-14)
				}
				if int(binary.BigEndian.Uint16(seg[2:])) != 40+n {
					t.Errorf("segment %d: total length %d, want %d", i, binary.BigEndian.Uint16(seg[2:]), 40+n)
				}
				continue
			}
			if len(seg) != 40+n || int(binary.BigEndian.Uint16(seg[2:])) != 40+n {
				t.Fatalf("segment %d: %d bytes, total length %d; want %d", i, len(seg), binary.BigEndian.Uint16(seg[2:]), 40+n)
			}
			if seq := binary.BigEndian.Uint32(seg[24:]); seq != uint32(1000+1000*i) {
				t.Errorf("segment %d: sequence %d", i, seq)
			}
			if sum16(seg[:20], 0) != 0xffff || !l4ChecksumOK(seg) {
				t.Errorf("segment %d: checksums do not verify", i)
			}
			if !bytes.Equal(seg[40:], b[40+1000*i:40+1000*i+n]) {
				t.Errorf("segment %d: payload is not the super-packet's", i)
			}
		}
		st := m.Stats()[0]
		if st.Mirrored != 5 || (plen > 0) != (st.Truncated == 5) || st.Failed != 0 {
			t.Errorf("PacketLength %d: stats %+v", plen, st)
		}
		m.Close()
	}
}

// TestChecksumCompleted: a whole copy of a packet whose checksum the
// kernel left to the device is completed; a cut copy keeps what was sent,
// as AWS does.
func TestChecksumCompleted(t *testing.T) {
	for _, plen := range []int{0, 60} {
		sink := &collector{}
		m, err := New(mirrorAll(t, plen), fixedPorts, Options{Sink: sink, QueueSlots: 16})
		if err != nil {
			t.Fatal(err)
		}
		vnet, b := superPacket(t, 300, 1000)
		vnet[1] = byte(tun.GSONone)
		partial := binary.BigEndian.Uint16(b[36:])
		var p packet.Parsed
		p.Decode(b)
		v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
		m.Offer(portWeb1, Egress, v, &p, vnet, b, 0)
		m.Drain()
		got := sink.take()
		if len(got) != 1 {
			t.Fatalf("%d mirror packets", len(got))
		}
		inner := decode(t, got[0].pkt).inner
		if plen == 0 && !l4ChecksumOK(inner) {
			t.Error("a whole copy's TCP checksum does not verify")
		}
		if plen > 0 && binary.BigEndian.Uint16(inner[36:]) != partial {
			t.Errorf("a cut copy's checksum is %#04x, want the sender's %#04x", binary.BigEndian.Uint16(inner[36:]), partial)
		}
		if binary.BigEndian.Uint16(b[36:]) != partial {
			t.Error("the original packet was changed")
		}
		m.Close()
	}
}

// TestFullQueueDrops: copies that find the queue full are dropped and
// counted; the packet path is never held up.
func TestFullQueueDrops(t *testing.T) {
	sink := &collector{}
	m, err := New(mirrorAll(t, 0), fixedPorts, Options{Sink: sink, QueueSlots: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, p := pkt(t, tcp(web1, db1, 1, 2, 10))
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	var queued int
	for range 5 {
		if m.Offer(portWeb1, Egress, v, p, nil, b, 0) {
			queued++
		}
	}
	if queued != 2 {
		t.Fatalf("%d copies queued, want 2 (the queue's slots)", queued)
	}
	if st := m.Stats()[0]; st.Dropped != 3 || st.Mirrored != 0 {
		t.Fatalf("stats %+v, want 3 dropped", st)
	}
	if n := m.Drain(); n != 2 || len(sink.take()) != 2 {
		t.Fatalf("Drain: %d", n)
	}
	if st := m.Stats()[0]; st.Dropped != 3 || st.Mirrored != 2 {
		t.Fatalf("stats %+v, want 3 dropped and 2 mirrored", st)
	}
}

type nopSink struct{ n atomic.Int64 }

func (s *nopSink) Send(_ *Session, _ []byte, segs int) { s.n.Add(int64(segs)) }
func (*nopSink) Flush()                                {}
func (*nopSink) MaxSegments(*Session) int              { return 1 }

func TestOfferNoAllocs(t *testing.T) {
	m, err := New(mirrorAll(t, 0), fixedPorts, Options{Sink: &nopSink{}, QueueSlots: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, p := pkt(t, tcp(web1, db1, 1, 2, 1400))
	vnet, super := superPacket(t, 8000, 1400)
	var sp packet.Parsed
	sp.Decode(super)
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	m.Offer(portWeb1, Egress, v, &sp, vnet, super, 0) // the consumer's buffers grow once
	m.Drain()
	r, discard := m.tab.Load().ring, func(*meta, []byte, int) {}
	if n := testing.AllocsPerRun(1000, func() {
		if !m.Offer(portWeb1, Egress, v, p, nil, b, 0) {
			t.Fatal("not mirrored")
		}
		r.Get(discard) // the packet path's cost only
	}); n != 0 {
		t.Errorf("Offer of a mirrored packet allocates %v times", n)
	}
	if n := testing.AllocsPerRun(1000, func() { m.Offer(portDB1, Egress, v, p, nil, b, 0) }); n != 0 {
		t.Errorf("Offer at a port without sessions allocates %v times", n)
	}
	m.Drain()
	if n := testing.AllocsPerRun(200, func() {
		m.Offer(portWeb1, Egress, v, p, nil, b, 0)
		m.Offer(portWeb1, Egress, v, &sp, vnet, super, 0)
		m.Drain()
	}); n != 0 {
		t.Errorf("Offer and Drain allocate %v times per packet and super-packet", n)
	}
}

// TestConcurrent offers from several goroutines while the consumer runs:
// every copy is sent or counted as dropped.
func TestConcurrent(t *testing.T) {
	sink := &nopSink{}
	m, err := New(mirrorAll(t, 0), fixedPorts, Options{Sink: sink, QueueSlots: 64})
	if err != nil {
		t.Fatal(err)
	}
	m.Start()
	const producers, each = 4, 3000
	var wg sync.WaitGroup
	var queued atomic.Int64
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, p := pkt(t, tcp(web1, db1, uint16(g), 2, 100))
			v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
			for range each {
				if m.Offer(portWeb1, Egress, v, p, nil, b, 0) {
					queued.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	st := m.Stats()[0]
	if int64(st.Mirrored) != queued.Load() || sink.n.Load() != queued.Load() || st.Mirrored+st.Dropped != producers*each {
		t.Fatalf("queued %d, sent %d, stats %+v; want sent = queued and mirrored + dropped = %d", queued.Load(), sink.n.Load(), st, producers*each)
	}
	b, p := pkt(t, tcp(web1, db1, 1, 2, 100))
	if m.Offer(portWeb1, Egress, &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}, p, nil, b, 0) {
		t.Error("Offer after Close queued a copy")
	}
	if m.Close() != nil || m.Reconfigure(mirrorAll(t, 0)) == nil {
		t.Error("Close is not idempotent, or Reconfigure after Close succeeded")
	}
}

func TestNoSinkCountsFailed(t *testing.T) {
	m, err := New(mirrorAll(t, 0), fixedPorts, Options{QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, p := pkt(t, tcp(web1, db1, 1, 2, 10))
	m.Offer(portWeb1, Egress, &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}, p, nil, b, 0)
	m.Drain()
	if st := m.Stats()[0]; st.Failed != 1 || st.Mirrored != 0 {
		t.Fatalf("stats %+v, want 1 failed", st)
	}
}

func TestNewErrors(t *testing.T) {
	tap := eniTarget("tmt-tap", "eni-tap1")
	tests := []struct {
		name   string
		change func(l *lab.Lab)
		ports  func(string) (verdict.Port, bool)
		opts   Options
		want   string
	}{
		{"a source that is also a target", func(l *lab.Lab) {
			l.MirrorTargets = append(l.MirrorTargets, eniTarget("tmt-web", "eni-web1"))
		}, nil, Options{}, "mirror_test.yaml:11: traffic mirror session tms-web: source eni-web1 is also traffic mirror target tmt-web"},
		{"four sessions on one source", func(l *lab.Lab) {
			for n := 2; n <= 4; n++ {
				l.MirrorSessions = append(l.MirrorSessions, newSession("tms-"+string(rune('0'+n)), n, "eni-web1", "tmt-tap", "tmf-all", 1, 0))
			}
		}, nil, Options{}, "tms-4: eni-web1 already has 3 sessions"},
		{"one number twice", func(l *lab.Lab) {
			l.MirrorSessions = append(l.MirrorSessions, newSession("tms-b", 1, "eni-web1", "tmt-tap", "tmf-all", 1, 0))
		}, nil, Options{}, "tms-b: eni-web1 already has session tms-web with number 1"},
		{"an unknown filter", func(l *lab.Lab) { l.MirrorSessions[0].Filter = "tmf-x" }, nil, Options{}, "filter tmf-x is not defined"},
		{"an unknown target", func(l *lab.Lab) { l.MirrorSessions[0].Target = "tmt-x" }, nil, Options{}, "target tmt-x is not defined"},
		{"an unknown source", func(l *lab.Lab) { l.MirrorSessions[0].Source = "eni-x" }, nil, Options{}, "source eni-x is not an interface of the lab"},
		{"a source the engine does not know", func(*lab.Lab) {}, func(string) (verdict.Port, bool) { return verdict.PortNone, false },
			Options{}, "source eni-web1 has no dataplane port"},
		{"a bad filter rule", func(l *lab.Lab) {
			l.MirrorFilters[0].Egress = append(l.MirrorFilters[0].Egress, allRule(100, false))
		}, nil, Options{}, "mirror_test.yaml:1: traffic mirror filter tmf-all, outbound rule number 100 is used twice"},
		{"an unwritable pcap file", func(l *lab.Lab) {
			l.MirrorTargets = []*lab.MirrorTarget{{ID: "tmt-tap", PcapFile: t.TempDir() + "/no/such/dir/x.pcap", Line: 5}}
		}, nil, Options{}, "target tmt-tap: open"},
		{"a tiny MTU", func(*lab.Lab) {}, nil, Options{MTU: 100}, "mirror: MTU 100 is outside 576-65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLab(t, []*lab.MirrorFilter{acceptAll("tmf-all")}, []*lab.MirrorTarget{tap},
				[]*lab.MirrorSession{newSession("tms-web", 1, "eni-web1", "tmt-tap", "tmf-all", 1, 0)})
			tt.change(l)
			ports := tt.ports
			if ports == nil {
				ports = fixedPorts
			}
			m, err := New(l, ports, tt.opts)
			if err == nil {
				m.Close()
				t.Fatalf("New accepted the lab, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}
