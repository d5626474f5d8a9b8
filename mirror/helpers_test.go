package mirror

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// testLab is a small VPC:
//
//	subnet-a 10.0.1.0/24 (acl-a: denies TCP 25 out)   subnet-b 10.0.2.0/24 (default ACL)
//	  eni-web1 10.0.1.10, 2600:1f18:aa:bb01::10 (sg-web)   eni-db1  10.0.2.20 (sg-db)
//	  eni-app1 10.0.1.11 (sg-web)                          eni-tap1 10.0.2.99 (sg-tap: UDP 4789 in)
//
// sg-web lets TCP 80 in and TCP and UDP out (no ICMP); sg-db lets TCP
// 5432 in from subnet-a. The mirror sections are added by each test.
const testLab = `
vpc: {id: vpc-m, cidr: 10.0.0.0/16, ipv6_cidr: "2600:1f18:aa:bb00::/56"}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:aa:bb01::/64", network_acl: acl-a}
  - {id: subnet-b, cidr: 10.0.2.0/24}
network_acls:
  - id: acl-a
    ingress:
      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}
      - {rule: 101, action: allow, protocol: all, cidr: "::/0"}
    egress:
      - {rule: 90, action: deny, protocol: tcp, ports: 25, cidr: 0.0.0.0/0}
      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}
      - {rule: 101, action: allow, protocol: all, cidr: "::/0"}
security_groups:
  - id: sg-web
    ingress:
      - {protocol: tcp, ports: 80, cidr: 0.0.0.0/0}
      - {protocol: tcp, ports: 80, cidr: "::/0"}
    egress:
      - {protocol: tcp, ports: 0-65535, cidr: 0.0.0.0/0}
      - {protocol: tcp, ports: 0-65535, cidr: "::/0"}
      - {protocol: udp, ports: 0-65535, cidr: 0.0.0.0/0}
  - id: sg-db
    ingress:
      - {protocol: tcp, ports: 5432, cidr: 10.0.1.0/24}
  - id: sg-tap
    ingress:
      - {protocol: udp, ports: 4789, cidr: 10.0.0.0/16}
instances:
  - name: web1
    interfaces:
      - {id: eni-web1, subnet: subnet-a, ip: 10.0.1.10, ipv6: ["2600:1f18:aa:bb01::10"], security_groups: [sg-web]}
  - {name: app1, subnet: subnet-a, ip: 10.0.1.11, security_groups: [sg-web]}
  - {name: db1, subnet: subnet-b, ip: 10.0.2.20, security_groups: [sg-db]}
  - {name: tap1, subnet: subnet-b, ip: 10.0.2.99, security_groups: [sg-tap]}
`

var (
	web1   = netip.MustParseAddr("10.0.1.10")
	web1v6 = netip.MustParseAddr("2600:1f18:aa:bb01::10")
	app1   = netip.MustParseAddr("10.0.1.11")
	db1    = netip.MustParseAddr("10.0.2.20")
	tap1   = netip.MustParseAddr("10.0.2.99")
	remote = netip.MustParseAddr("2600:1f18:aa:bb01::99")
)

// newLab parses testLab and adds the given mirror objects.
func newLab(t testing.TB, filters []*lab.MirrorFilter, targets []*lab.MirrorTarget, sessions []*lab.MirrorSession) *lab.Lab {
	t.Helper()
	l, err := labfile.Parse("mirror_test.yaml", []byte(testLab))
	if err != nil {
		t.Fatal(err)
	}
	l.MirrorFilters, l.MirrorTargets, l.MirrorSessions = filters, targets, sessions
	return l
}

// fixedPorts gives the ENIs of testLab fixed ports, for tests without an
// engine.
func fixedPorts(id string) (verdict.Port, bool) {
	p, ok := map[string]verdict.Port{"eni-web1": 0, "eni-app1": 1, "eni-db1": 2, "eni-tap1": 3}[id]
	return p, ok
}

const (
	portWeb1 verdict.Port = 0
	portApp1 verdict.Port = 1
	portDB1  verdict.Port = 2
	portTap1 verdict.Port = 3
)

// Rules as the lab file's defaults fill them in.
func allRule(n int, accept bool) lab.MirrorRule {
	return lab.MirrorRule{Number: n, Accept: accept, Protocol: -1,
		SourceCIDR: netip.MustParsePrefix("0.0.0.0/0"), DestinationCIDR: netip.MustParsePrefix("0.0.0.0/0"),
		SourceToPort: 65535, DestinationToPort: 65535}
}

func allRule6(n int, accept bool) lab.MirrorRule {
	r := allRule(n, accept)
	r.SourceCIDR, r.DestinationCIDR = netip.MustParsePrefix("::/0"), netip.MustParsePrefix("::/0")
	return r
}

func protoRule(n int, accept bool, proto int) lab.MirrorRule {
	r := allRule(n, accept)
	r.Protocol = proto
	return r
}

func dportRule(n int, accept bool, proto, lo, hi int) lab.MirrorRule {
	r := protoRule(n, accept, proto)
	r.DestinationFromPort, r.DestinationToPort = lo, hi
	return r
}

// acceptAll is a filter that mirrors every IPv4 and IPv6 packet both ways.
func acceptAll(id string) *lab.MirrorFilter {
	return &lab.MirrorFilter{ID: id,
		Ingress: []lab.MirrorRule{allRule(100, true), allRule6(101, true)},
		Egress:  []lab.MirrorRule{allRule(100, true), allRule6(101, true)}, Line: 1}
}

func newSession(id string, number int, source, target, filter string, vni uint32, plen int) *lab.MirrorSession {
	return &lab.MirrorSession{ID: id, Number: number, Source: source, Target: target, Filter: filter, VNI: vni, PacketLength: plen, Line: 10 + number}
}

func eniTarget(id, eni string) *lab.MirrorTarget { return &lab.MirrorTarget{ID: id, ENI: eni, Line: 5} }

// pkt builds a packet and parses it.
func pkt(t testing.TB, s packet.Spec) ([]byte, *packet.Parsed) {
	t.Helper()
	b := s.Append(nil)
	// A recognisable TCP or UDP payload: byte i of the packet is i.
	if s.FragOffset == 0 && !s.MoreFrags && !s.Fragment && (s.Proto == packet.ProtoTCP || s.Proto == packet.ProtoUDP) {
		off, _, _ := l4(b)
		hdr := 8
		if s.Proto == packet.ProtoTCP {
			hdr = 20
		}
		for i := off + hdr; i < len(b); i++ {
			b[i] = byte(i)
		}
		fixL4Checksum(b)
	}
	var p packet.Parsed
	if r := p.Decode(b); r != packet.OK {
		t.Fatalf("test packet does not parse: %v", r)
	}
	return b, &p
}

func tcp(src, dst netip.Addr, sport, dport uint16, payload int) packet.Spec {
	return packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoTCP, SrcPort: sport, DstPort: dport, TCPFlags: packet.TCPAck, Payload: payload}
}

func udp(src, dst netip.Addr, sport, dport uint16, payload int) packet.Spec {
	return packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoUDP, SrcPort: sport, DstPort: dport, Payload: payload}
}

// sum16 is the one's-complement sum of b, folded, written out plainly.
func sum16(b []byte, acc uint32) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	for acc > 0xffff {
		acc = acc&0xffff + acc>>16
	}
	return acc
}

// l4 returns the offset of the transport header, its checksum field's
// offset and the pseudo-header sum of an IPv4 or IPv6 (no extension
// headers) TCP or UDP packet.
func l4(b []byte) (off, csum int, pseudo uint32) {
	var proto byte
	if b[0]>>4 == 4 {
		off, proto = int(b[0]&0xf)*4, b[9]
		pseudo = sum16(b[12:20], 0)
	} else {
		off, proto = 40, b[6]
		pseudo = sum16(b[8:40], 0)
	}
	pseudo += uint32(proto) + uint32(len(b)-off)
	csum = off + 16
	if proto == packet.ProtoUDP {
		csum = off + 6
	}
	return off, csum, pseudo
}

func fixL4Checksum(b []byte) {
	off, at, pseudo := l4(b)
	b[at], b[at+1] = 0, 0
	binary.BigEndian.PutUint16(b[at:], ^uint16(sum16(b[off:], pseudo)))
}

func l4ChecksumOK(b []byte) bool {
	off, _, pseudo := l4(b)
	return sum16(b[off:], pseudo) == 0xffff
}

// sent is one mirror packet a sink received.
type sent struct {
	s   *Session
	pkt []byte
}

// collector is a Sink that keeps what it is sent, one mirror packet
// each: it takes no super-packets.
type collector struct {
	mu      sync.Mutex
	pkts    []sent
	flushes int
}

func (c *collector) Send(s *Session, frame []byte, segs int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var h tun.VirtioNetHdr
	if h.Decode(frame) != nil || h != (tun.VirtioNetHdr{}) || segs != 1 {
		panic("a mirror frame without a zero virtio header, or of more than one packet")
	}
	c.pkts = append(c.pkts, sent{s, append([]byte(nil), frame[tun.VirtioNetHdrLen:]...)})
}

func (c *collector) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushes++
}

func (*collector) MaxSegments(*Session) int { return 1 }

func (c *collector) take() []sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.pkts
	c.pkts = nil
	return out
}

// decoded is a mirror packet taken apart by gopacket.
type decoded struct {
	outer  *layers.IPv4
	udp    *layers.UDP
	vxlan  *layers.VXLAN
	eth    *layers.Ethernet
	inner  []byte // the inner frame's payload: the (possibly cut) IP packet
	packet gopacket.Packet
}

// decode takes a mirror packet apart with gopacket, as a monitoring
// appliance would, and fails the test if any layer is missing.
func decode(t testing.TB, b []byte) decoded {
	t.Helper()
	p := gopacket.NewPacket(b, layers.LayerTypeIPv4, gopacket.Default)
	var d decoded
	var ok bool
	d.packet = p
	if d.outer, ok = p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); !ok {
		t.Fatalf("no outer IPv4 in % x", b)
	}
	if d.udp, ok = p.Layer(layers.LayerTypeUDP).(*layers.UDP); !ok {
		t.Fatalf("no UDP in % x", b)
	}
	if d.vxlan, ok = p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN); !ok {
		t.Fatalf("no VXLAN in % x", b)
	}
	if d.eth, ok = p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet); !ok {
		t.Fatalf("no inner Ethernet in % x", b)
	}
	d.inner = d.eth.Payload
	return d
}
