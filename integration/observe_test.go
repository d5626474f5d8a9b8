package integration

// Observability on live traffic: traffic mirroring (VXLAN to an ENI target
// through the dataplane, and to a pcap file), flow logs, live capture over
// the control API, and Prometheus metrics. Each test brings up its own lab
// of the topology below (lab ids obs-… under the prefix "vpclabit-") and
// reads what the lab wrote with decoders of its own: gopacket for VXLAN,
// pcap and pcapng, a split on spaces for flow logs, a line parser for the
// Prometheus text format.
//
//	vpclabit-ID:src 10.0.1.10   vpclabit-ID:peer 10.0.1.20   vpclabit-ID:tap 10.0.1.30
//	sg-app                      sg-app                       sg-tap: in udp 4789 from the
//	                                                         VPC (or nothing: obsTapClosed)
//	                      subnet-obs 10.0.1.0/24, default ACL
//
// sg-app lets in TCP 7000-7002 and UDP 6000 from the VPC: TCP 7003 and
// UDP 6001 are dropped at the receiver's sg-ingress. Mirroring:
//
//	tms-src   source eni-src, target eni-tap (VXLAN over UDP 4789), VNI 4242,
//	          packet_length 100, filter tmf-src:
//	            outbound  10 reject tcp to port 7001; 100 accept tcp to 7000-7001
//	            inbound   10 reject tcp from port 7001; 100 accept tcp from 7000-7001
//	          so the connection src → peer:7000 is mirrored both ways, 7001
//	          is refused by rule 10 and 7002 by no rule at all.
//	tms-peer  source eni-peer, target a pcap file, VNI 77, packet_length 128,
//	          filter tmf-peer: inbound tcp to 7000, outbound tcp from 7000.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/daemon"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/metrics"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/verdict"
)

const (
	obsSrcIP  = "10.0.1.10"
	obsPeerIP = "10.0.1.20"
	obsTapIP  = "10.0.1.30"

	// obsTapOpen and obsTapClosed are sg-tap's ingress rules.
	obsTapOpen   = "[{protocol: udp, ports: 4789, cidr: 10.0.0.0/16}]"
	obsTapClosed = "[]"

	obsSrcVNI     = 4242
	obsSrcLength  = 100
	obsPeerVNI    = 77
	obsPeerLength = 128

	// obsIdle is how long nothing new must arrive before a test takes
	// what a lab wrote as complete: the lab is local, a copy or capture
	// record follows its packet within a millisecond.
	obsIdle = 300 * time.Millisecond
)

// obsLab returns the lab of this file: sg-tap's ingress rules, the pcap
// file of tms-peer, and, when flowDir is not empty, a flow log of the VPC
// into flowDir with 60-second intervals.
func obsLab(tapIngress, pcapFile, flowDir string) string {
	s := fmt.Sprintf(`
vpc: {id: vpc-obs, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-obs, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-app
    ingress:
      - {protocol: tcp, ports: 7000-7002, cidr: 10.0.0.0/16}
      - {protocol: udp, ports: 6000, cidr: 10.0.0.0/16}
  - id: sg-tap
    ingress: %s
instances:
  - {name: src, subnet: subnet-obs, ip: %s, security_groups: [sg-app]}
  - {name: peer, subnet: subnet-obs, ip: %s, security_groups: [sg-app]}
  - {name: tap, subnet: subnet-obs, ip: %s, security_groups: [sg-tap]}
traffic_mirror_filters:
  - id: tmf-src
    egress:
      - {rule: 10, action: reject, protocol: tcp, destination_ports: 7001}
      - {rule: 100, action: accept, protocol: tcp, destination_ports: 7000-7001}
    ingress:
      - {rule: 10, action: reject, protocol: tcp, source_ports: 7001}
      - {rule: 100, action: accept, protocol: tcp, source_ports: 7000-7001}
  - id: tmf-peer
    ingress:
      - {rule: 100, action: accept, protocol: tcp, destination_ports: 7000}
    egress:
      - {rule: 100, action: accept, protocol: tcp, source_ports: 7000}
traffic_mirror_targets:
  - {id: tmt-tap, eni: eni-tap}
  - {id: tmt-file, pcap_file: %q}
traffic_mirror_sessions:
  - {id: tms-src, number: 1, source: eni-src, target: tmt-tap, filter: tmf-src, vni: %d, packet_length: %d}
  - {id: tms-peer, number: 1, source: eni-peer, target: tmt-file, filter: tmf-peer, vni: %d, packet_length: %d}
`, tapIngress, obsSrcIP, obsPeerIP, obsTapIP, pcapFile, obsSrcVNI, obsSrcLength, obsPeerVNI, obsPeerLength)
	if flowDir != "" {
		s += fmt.Sprintf(`flow_logs:
  - {id: fl-obs, vpc: vpc-obs, max_aggregation_interval: 60, destination: %q}
`, flowDir)
	}
	return s
}

// obsAddr is peer's address at port.
func obsAddr(port int) string { return net.JoinHostPort(obsPeerIP, strconv.Itoa(port)) }

// obsEchoServers makes peer echo on TCP 7000-7003 and swallow UDP 6000 and
// 6001, so that nothing answers with a reset or a port unreachable.
func obsEchoServers(t *testing.T, x *live.Lab) {
	t.Helper()
	for p := 7000; p <= 7003; p++ {
		echoServer(t, x, "peer", obsAddr(p))
	}
	for p := 6000; p <= 6001; p++ {
		var pc net.PacketConn
		if err := in(t, x, "peer", func() (err error) {
			pc, err = net.ListenPacket("udp4", obsAddr(p))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := pc.ReadFrom(buf); err != nil {
					return
				}
			}
		}()
	}
}

// obsEcho connects from src (from local port lport, if not 0) to peer's
// port, echoes msg and closes the connection, waiting for peer's FIN: the
// whole connection, handshake to teardown, has crossed the lab on return.
func obsEcho(t *testing.T, x *live.Lab, port, lport int, msg []byte) {
	t.Helper()
	c, err := dial(t, x, "src", obsAddr(port), lport, 5*time.Second)
	if err != nil {
		t.Fatalf("src → peer:%d: %v", port, err)
	}
	echo(t, c, msg)
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, c); err != nil || n != 0 {
		t.Fatalf("src → peer:%d: after our FIN: %d bytes, %v; want the echo server's FIN", port, n, err)
	}
	c.Close()
}

// obsDenied tries src → peer:port (from local port lport, if not 0) and
// fails the test unless the SYN is dropped.
func obsDenied(t *testing.T, x *live.Lab, port, lport int) {
	t.Helper()
	_, err := dial(t, x, "src", obsAddr(port), lport, deniedWait)
	wantTimeout(t, err)
}

// obsSendUDP sends n datagrams of size bytes each from src to peer:port
// and returns the local port they came from.
func obsSendUDP(t *testing.T, x *live.Lab, port, n, size int) int {
	t.Helper()
	var c *net.UDPConn
	if err := in(t, x, "src", func() (err error) {
		c, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(obsAddr(port))))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := bytes.Repeat([]byte{'u'}, size)
	for range n {
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	return c.LocalAddr().(*net.UDPAddr).Port
}

// obsSessionStats returns the counters of mirror session id.
func obsSessionStats(t *testing.T, m *mirror.Mirror, id string) mirror.SessionStats {
	t.Helper()
	for _, s := range m.Stats() {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no mirror session %s in force", id)
	return mirror.SessionStats{}
}

// obsWaitStable polls n until it has not changed for obsIdle (and cond,
// if not nil, holds), for up to 5 seconds.
func obsWaitStable(t *testing.T, what string, n func() int, cond func() bool) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	last, since := n(), time.Now()
	for {
		time.Sleep(20 * time.Millisecond)
		cur := n()
		if cur != last {
			last, since = cur, time.Now()
		}
		if time.Since(since) >= obsIdle && (cond == nil || cond()) {
			return cur
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still changing or incomplete after 5 s (at %d)", what, cur)
		}
	}
}

// vxlanDatagram is one datagram the tap's socket received.
type vxlanDatagram struct {
	from    *net.UDPAddr
	payload []byte
}

// vxlanListener is a UDP socket on port 4789 inside an instance, keeping
// every datagram it receives.
type vxlanListener struct {
	mu   sync.Mutex
	got  []vxlanDatagram
	done chan struct{}
}

// listenVXLAN listens on addr:4789 inside instance until the test ends.
func listenVXLAN(t *testing.T, x *live.Lab, instance, addr string) *vxlanListener {
	t.Helper()
	var c *net.UDPConn
	if err := in(t, x, instance, func() (err error) {
		c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(addr), Port: 4789})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	l := &vxlanListener{done: make(chan struct{})}
	t.Cleanup(func() {
		c.Close()
		<-l.done
	})
	go func() {
		defer close(l.done)
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			l.mu.Lock()
			l.got = append(l.got, vxlanDatagram{from: from, payload: bytes.Clone(buf[:n])})
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *vxlanListener) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

func (l *vxlanListener) datagrams() []vxlanDatagram {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// mirrored is one mirror copy, decoded.
type mirrored struct {
	vni      uint32
	eth      *layers.Ethernet
	ip       *layers.IPv4
	tcp      *layers.TCP // nil if the inner packet is not TCP
	frameLen int         // the inner frame's bytes as copied: Ethernet header on
}

// decodeVXLAN decodes the VXLAN payload b (VXLAN header, inner Ethernet
// frame) of a mirror packet.
func decodeVXLAN(b []byte) (*mirrored, error) {
	p := gopacket.NewPacket(b, layers.LayerTypeVXLAN, gopacket.Default)
	vx, _ := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
	if vx == nil {
		return nil, fmt.Errorf("no VXLAN header: %v", p.ErrorLayer())
	}
	if !vx.ValidIDFlag {
		return nil, errors.New("VXLAN header without the I flag")
	}
	m := &mirrored{vni: vx.VNI, frameLen: len(vx.Payload)}
	m.eth, _ = p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if m.eth == nil {
		return nil, fmt.Errorf("VNI %d: no inner Ethernet frame", vx.VNI)
	}
	if m.eth.EthernetType != layers.EthernetTypeIPv4 {
		return nil, fmt.Errorf("VNI %d: inner EtherType %v, want IPv4", vx.VNI, m.eth.EthernetType)
	}
	m.ip, _ = p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if m.ip == nil {
		return nil, fmt.Errorf("VNI %d: no inner IPv4 header", vx.VNI)
	}
	m.tcp, _ = p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	return m, nil
}

// segment identifies one TCP packet of the mirrored connection, whichever
// side mirrored it: everything but the TTL (decremented between the two
// sides) and the checksums.
type segment struct {
	src, dst string
	sport    uint16
	dport    uint16
	id       uint16
	ipLen    uint16
	seq, ack uint32
	flags    string
}

func (m *mirrored) segment() segment {
	return segment{src: m.ip.SrcIP.String(), dst: m.ip.DstIP.String(), sport: uint16(m.tcp.SrcPort), dport: uint16(m.tcp.DstPort),
		id: m.ip.Id, ipLen: m.ip.Length, seq: m.tcp.Seq, ack: m.tcp.Ack, flags: tcpFlags(m.tcp)}
}

func tcpFlags(t *layers.TCP) string {
	var b strings.Builder
	for _, f := range []struct {
		on bool
		c  byte
	}{{t.SYN, 'S'}, {t.ACK, 'A'}, {t.PSH, 'P'}, {t.FIN, 'F'}, {t.RST, 'R'}} {
		if f.on {
			b.WriteByte(f.c)
		}
	}
	return b.String()
}

// checkMirrored checks one copy of session (vni, packet length) whose
// source ENI is self (address selfIP) and whose connection peer is other
// (otherIP), the server on port 7000; it returns whether the copy was
// sent (egress) or received (ingress) by the source.
func checkMirrored(t *testing.T, i int, m *mirrored, vni uint32, length int, self, selfIP, other, otherIP string) (egress bool) {
	t.Helper()
	if m.vni != vni {
		t.Errorf("copy %d: VNI %d, want %d", i, m.vni, vni)
	}
	if m.tcp == nil {
		t.Fatalf("copy %d: inner packet %s → %s protocol %v: the filter accepts TCP only", i, m.ip.SrcIP, m.ip.DstIP, m.ip.Protocol)
	}
	src, dst := m.ip.SrcIP.String(), m.ip.DstIP.String()
	selfMAC, otherMAC := labnet.MAC(self).String(), labnet.MAC(other).String()
	switch {
	case src == selfIP && dst == otherIP:
		egress = true
		if (self == "eni-src" && m.tcp.DstPort != 7000) || (self == "eni-peer" && m.tcp.SrcPort != 7000) {
			t.Errorf("copy %d: outbound %s:%d → %s:%d, which the filter does not accept", i, src, m.tcp.SrcPort, dst, m.tcp.DstPort)
		}
		if m.eth.SrcMAC.String() != selfMAC || m.eth.DstMAC.String() != otherMAC {
			t.Errorf("copy %d: outbound, inner Ethernet %s → %s, want %s (%s) → %s (%s)", i, m.eth.SrcMAC, m.eth.DstMAC, selfMAC, self, otherMAC, other)
		}
	case src == otherIP && dst == selfIP:
		if (self == "eni-src" && m.tcp.SrcPort != 7000) || (self == "eni-peer" && m.tcp.DstPort != 7000) {
			t.Errorf("copy %d: inbound %s:%d → %s:%d, which the filter does not accept", i, src, m.tcp.SrcPort, dst, m.tcp.DstPort)
		}
		if m.eth.SrcMAC.String() != otherMAC || m.eth.DstMAC.String() != selfMAC {
			t.Errorf("copy %d: inbound, inner Ethernet %s → %s, want %s (%s) → %s (%s)", i, m.eth.SrcMAC, m.eth.DstMAC, otherMAC, other, selfMAC, self)
		}
	default:
		t.Fatalf("copy %d: inner packet %s → %s is not between %s and %s", i, src, dst, selfIP, otherIP)
	}
	if want := min(length, 14+int(m.ip.Length)); m.frameLen != want {
		t.Errorf("copy %d: inner frame of %d bytes (IP length %d), want %d (packet_length %d)", i, m.frameLen, m.ip.Length, want, length)
	}
	return egress
}

// wantConnection checks that the copies of one side hold the whole
// connection src → peer:7000: its handshake, data both ways, truncated
// to the session's length, and the teardown both ways.
func wantConnection(t *testing.T, side string, segs []segment, length int) {
	t.Helper()
	var syn, synAck, dataOut, dataIn, finOut, finIn bool
	for _, s := range segs {
		out := s.src == obsSrcIP
		payload := s.ipLen > 20+32 // IPv4 + TCP with timestamps
		switch {
		case s.flags == "S" && out:
			syn = true
		case s.flags == "SA" && !out:
			synAck = true
		}
		if payload && 14+int(s.ipLen) > length {
			if out {
				dataOut = true
			} else {
				dataIn = true
			}
		}
		if strings.Contains(s.flags, "F") {
			if out {
				finOut = true
			} else {
				finIn = true
			}
		}
	}
	for _, c := range []struct {
		ok   bool
		what string
	}{{syn, "the SYN"}, {synAck, "the SYN-ACK"}, {dataOut, "src's data, truncated"}, {dataIn, "peer's echo, truncated"}, {finOut, "src's FIN"}, {finIn, "peer's FIN"}} {
		if !c.ok {
			t.Errorf("%s: no copy of %s among %d copies", side, c.what, len(segs))
		}
	}
}

// TestMirrorVXLAN: src connects to peer:7000, 7001 and 7002 and sends UDP
// to 6000. tms-src mirrors the 7000 connection both ways to eni-tap, whose
// socket on UDP 4789 receives each copy in VXLAN with VNI 4242, cut to 100
// bytes after the VXLAN header; 7001 (rejected by rule 10), 7002 (no rule)
// and UDP are not mirrored. tms-peer writes the same connection, seen from
// peer, to a pcap file: the same packets, cut to 128 bytes.
func TestMirrorVXLAN(t *testing.T) {
	pcapFile := filepath.Join(t.TempDir(), "peer.pcap")
	x := startLabFile(t, "obs-mirror", obsLab(obsTapOpen, pcapFile, ""))
	obsEchoServers(t, x)
	tap := listenVXLAN(t, x, "tap", obsTapIP)

	msg := bytes.Repeat([]byte("mirror me "), 100) // 1000 bytes: truncated copies
	obsEcho(t, x, 7000, 0, msg)
	obsEcho(t, x, 7001, 0, msg)
	obsEcho(t, x, 7002, 0, msg)
	obsSendUDP(t, x, 6000, 5, 100)

	m := x.Mirror()
	obsWaitStable(t, "copies at eni-tap", tap.count, func() bool {
		return uint64(tap.count()) == obsSessionStats(t, m, "tms-src").Mirrored
	})
	st := obsSessionStats(t, m, "tms-src")
	if st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("tms-src: %+v: copies lost", st)
	}
	if mc := x.MirrorCounters().Load(); mc.AllowedPackets != st.Mirrored || mc.DeniedPackets != [verdict.NumStages]uint64{} {
		t.Errorf("mirror traffic through the dataplane: %d allowed, denied by stage %v; want %d allowed, none denied", mc.AllowedPackets, mc.DeniedPackets, st.Mirrored)
	}

	var fromTap []segment
	var truncated uint64
	outerPorts := map[bool]map[int]bool{true: {}, false: {}}
	for i, d := range tap.datagrams() {
		if d.from.IP.String() != obsSrcIP {
			t.Errorf("copy %d from %s, want from %s (the source ENI's address)", i, d.from, obsSrcIP)
		}
		if d.from.Port < 49152 || d.from.Port > 65535 {
			t.Errorf("copy %d from UDP port %d, want 49152-65535", i, d.from.Port)
		}
		mc, err := decodeVXLAN(d.payload)
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		egress := checkMirrored(t, i, mc, obsSrcVNI, obsSrcLength, "eni-src", obsSrcIP, "eni-peer", obsPeerIP)
		outerPorts[egress][d.from.Port] = true
		if mc.frameLen < 14+int(mc.ip.Length) {
			truncated++
		}
		fromTap = append(fromTap, mc.segment())
	}
	wantConnection(t, "eni-tap", fromTap, obsSrcLength)
	if truncated != st.Truncated {
		t.Errorf("%d copies arrived truncated; tms-src counts %d", truncated, st.Truncated)
	}
	for dir, ports := range outerPorts {
		if len(ports) > 1 {
			t.Errorf("copies of one flow direction (outbound %v) came from UDP ports %v: the port is a hash of the 5-tuple", dir, ports)
		}
	}

	// The pcap file target, written out by Close.
	peerStats := obsSessionStats(t, m, "tms-peer")
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	fromFile := readMirrorPcap(t, pcapFile, peerStats)
	wantConnection(t, "pcap file", fromFile, obsPeerLength)

	// Both sessions saw the same packets: src's outbound ones are peer's
	// inbound ones and the other way round.
	key := func(s segment) string { return fmt.Sprint(s) }
	a, b := slices.Sorted(mapSeq(fromTap, key)), slices.Sorted(mapSeq(fromFile, key))
	if !slices.Equal(a, b) {
		t.Errorf("eni-tap received %d copies and the pcap file holds %d, not the same packets:\n tap:  %v\n file: %v", len(a), len(b), a, b)
	}
}

// mapSeq yields f of each element of s.
func mapSeq[T any](s []T, f func(T) string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range s {
			if !yield(f(v)) {
				return
			}
		}
	}
}

// readMirrorPcap reads tms-peer's pcap file back with gopacket's pcapgo
// and checks every record: a raw IPv4 mirror packet from peer's address
// to 0.0.0.0 (a file target has no address), DF, TTL 64, a valid header
// checksum, UDP to 4789 with checksum 0, VXLAN with VNI 77, and an inner
// copy as checkMirrored wants. st is the session's counters at Close.
func readMirrorPcap(t *testing.T, path string, st mirror.SessionStats) []segment {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if r.LinkType() != layers.LinkTypeRaw {
		t.Fatalf("%s: link type %v, want raw IP", path, r.LinkType())
	}
	var segs []segment
	var truncated uint64
	for i := 0; ; i++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: record %d: %v", path, i, err)
		}
		if ci.CaptureLength != ci.Length {
			t.Errorf("%s: record %d: %d of %d bytes: a mirror packet is written whole", path, i, ci.CaptureLength, ci.Length)
		}
		p := gopacket.NewPacket(data, layers.LayerTypeIPv4, gopacket.Default)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if ip == nil || udp == nil {
			t.Fatalf("%s: record %d: not IPv4/UDP: %v", path, i, p)
		}
		if ip.SrcIP.String() != obsPeerIP || ip.DstIP.String() != "0.0.0.0" || ip.TTL != 64 || ip.Flags&layers.IPv4DontFragment == 0 {
			t.Errorf("%s: record %d: outer %s → %s TTL %d flags %v; want %s → 0.0.0.0, TTL 64, DF", path, i, ip.SrcIP, ip.DstIP, ip.TTL, ip.Flags, obsPeerIP)
		}
		if ipChecksum(data[:ip.IHL*4]) != 0 {
			t.Errorf("%s: record %d: bad outer IPv4 header checksum %#04x", path, i, ip.Checksum)
		}
		if udp.DstPort != 4789 || udp.SrcPort < 49152 || udp.Checksum != 0 || int(udp.Length) != len(data)-int(ip.IHL)*4 {
			t.Errorf("%s: record %d: outer UDP %d → %d length %d checksum %#04x; want from 49152-65535 to 4789, length %d, checksum 0",
				path, i, udp.SrcPort, udp.DstPort, udp.Length, udp.Checksum, len(data)-int(ip.IHL)*4)
		}
		mc, err := decodeVXLAN(udp.Payload)
		if err != nil {
			t.Fatalf("%s: record %d: %v", path, i, err)
		}
		checkMirrored(t, i, mc, obsPeerVNI, obsPeerLength, "eni-peer", obsPeerIP, "eni-src", obsSrcIP)
		if mc.frameLen < 14+int(mc.ip.Length) {
			truncated++
		}
		segs = append(segs, mc.segment())
	}
	if uint64(len(segs)) != st.Mirrored || truncated != st.Truncated || st.Dropped != 0 || st.Failed != 0 {
		t.Errorf("%s: %d records, %d truncated; tms-peer counts %+v", path, len(segs), truncated, st)
	}
	return segs
}

// ipChecksum returns the one's complement sum of an IPv4 header: 0 when
// its checksum is right.
func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// TestMirrorTargetSG: the copies to an ENI target cross the dataplane
// from the source ENI like any UDP 4789 packet. With sg-tap letting
// nothing in, the mirror makes its copies and the target's sg-ingress
// drops every one: nothing reaches the tap's socket.
func TestMirrorTargetSG(t *testing.T) {
	x := startLabFile(t, "obs-mirror-closed", obsLab(obsTapClosed, filepath.Join(t.TempDir(), "peer.pcap"), ""))
	obsEchoServers(t, x)
	tap := listenVXLAN(t, x, "tap", obsTapIP)
	obsEcho(t, x, 7000, 0, []byte("not for the tap"))

	m := x.Mirror()
	var mc live.Stats
	obsWaitStable(t, "mirror traffic dropped", func() int {
		mc = x.MirrorCounters().Load()
		return int(mc.DeniedPackets[verdict.StageSGIngress])
	}, func() bool {
		st := obsSessionStats(t, m, "tms-src")
		return st.Mirrored > 0 && mc.DeniedPackets[verdict.StageSGIngress] == st.Mirrored
	})
	st := obsSessionStats(t, m, "tms-src")
	if n := tap.count(); n != 0 {
		t.Errorf("the tap received %d copies through a security group that lets nothing in", n)
	}
	if mc.AllowedPackets != 0 || mc.DeniedPacketsBy[verdict.StageSGIngress][verdict.CodeSGRulesMismatch] != st.Mirrored {
		t.Errorf("mirror traffic: %d allowed, denied by stage %v; want all %d copies denied at sg-ingress (%s)",
			mc.AllowedPackets, mc.DeniedPackets, st.Mirrored, verdict.CodeSGRulesMismatch)
	}
}

// flowLogFields is AWS's default flow log format, version 2, written out
// here apart from package flowlog.
var flowLogFields = []string{"version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport",
	"protocol", "packets", "bytes", "start", "end", "action", "log-status"}

// flowRecord is one record of a flow log file.
type flowRecord struct {
	file                       string
	line                       int
	version, account, eni      string
	src, dst                   string
	sport, dport, proto        int
	packets, bytes, start, end int64
	action, status             string
}

// flowKey sums a flow's records over intervals.
type flowKey struct {
	eni, src, dst       string
	sport, dport, proto int
	action              string
}

// readFlowLogs parses every file under dir: a header line naming
// flowLogFields, then records of 14 fields separated by single spaces.
func readFlowLogs(t *testing.T, dir string) []flowRecord {
	t.Helper()
	var recs []flowRecord
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !strings.HasSuffix(path, ".log") || !strings.Contains(filepath.ToSlash(path), "/AWSLogs/") {
			t.Errorf("%s: not a flow log file of AWS's S3 layout (AWSLogs/…/*.log)", path)
		}
		files++
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 1; sc.Scan(); n++ {
			fields := strings.Split(sc.Text(), " ")
			if n == 1 {
				if !slices.Equal(fields, flowLogFields) {
					t.Errorf("%s:1: header %q, want %q", path, sc.Text(), strings.Join(flowLogFields, " "))
				}
				continue
			}
			if len(fields) != len(flowLogFields) {
				t.Errorf("%s:%d: %d fields, want %d: %q", path, n, len(fields), len(flowLogFields), sc.Text())
				continue
			}
			r := flowRecord{file: path, line: n, version: fields[0], account: fields[1], eni: fields[2],
				src: fields[3], dst: fields[4], action: fields[12], status: fields[13]}
			bad := func(what string) { t.Errorf("%s:%d: %s: %q", path, n, what, sc.Text()) }
			if r.version != "2" {
				bad("version is not 2")
			}
			if len(r.account) != 12 || strings.Trim(r.account, "0123456789") != "" {
				bad("account-id is not 12 digits")
			}
			var errs []error
			num := func(s string) int64 {
				v, err := strconv.ParseInt(s, 10, 64)
				errs = append(errs, err)
				return v
			}
			r.start, r.end = num(fields[10]), num(fields[11])
			switch r.status {
			case "OK":
				r.sport, r.dport, r.proto = int(num(fields[5])), int(num(fields[6])), int(num(fields[7]))
				r.packets, r.bytes = num(fields[8]), num(fields[9])
				if r.action != "ACCEPT" && r.action != "REJECT" {
					bad("action is not ACCEPT or REJECT")
				}
				if r.packets <= 0 || r.bytes <= 0 {
					bad("no packets or no bytes")
				}
			case "NODATA":
				if !slices.Equal(fields[3:10], []string{"-", "-", "-", "-", "-", "-", "-"}) || r.action != "-" {
					bad("NODATA record with flow fields")
				}
			default:
				bad("log-status is not OK or NODATA (SKIPDATA: records were lost)")
			}
			if errors.Join(errs...) != nil {
				bad(fmt.Sprintf("not a number: %v", errors.Join(errs...)))
			}
			if r.start > r.end {
				bad("start after end")
			}
			recs = append(recs, r)
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no flow log file under %s", dir)
	}
	return recs
}

// isRouterSolicitation reports whether r is the REJECT record of the
// ICMPv6 router solicitations that the kernel of an ENI's namespace sends
// from its link-local address to ff02::2 when the link comes up; the
// dataplane drops them at src-dst-check. They are the lab's noise, not the
// test's traffic.
func isRouterSolicitation(r flowRecord) bool {
	src, err1 := netip.ParseAddr(r.src)
	dst, err2 := netip.ParseAddr(r.dst)
	return err1 == nil && err2 == nil && r.proto == 58 && src.IsLinkLocalUnicast() &&
		dst == netip.MustParseAddr("ff02::2") && r.action == "REJECT"
}

// TestFlowLogs: a flow log of the whole VPC with 60-second intervals,
// read back once the lab is closed, which writes the interval under way:
// for an accepted TCP connection, records of both directions on both
// ENIs; for a connection whose SYN peer's security group drops, ACCEPT on
// src and REJECT on peer; for UDP datagrams counted here, exactly as many
// packets and bytes on each side (nothing lost on Close); and nothing of
// the mirror traffic to eni-tap (flow logs do not capture it).
func TestFlowLogs(t *testing.T) {
	flowDir := t.TempDir()
	x := startLabFile(t, "obs-flowlogs", obsLab(obsTapOpen, filepath.Join(t.TempDir(), "peer.pcap"), flowDir))
	obsEchoServers(t, x)
	tap := listenVXLAN(t, x, "tap", obsTapIP)
	begin := time.Now().Unix()

	const acceptedPort, rejectedPort = 40100, 40101
	obsEcho(t, x, 7000, acceptedPort, []byte("logged"))
	obsDenied(t, x, 7003, rejectedPort)
	const udpOK, udpRejected, udpSize = 20, 7, 100
	okPort := obsSendUDP(t, x, 6000, udpOK, udpSize)
	rejPort := obsSendUDP(t, x, 6001, udpRejected, udpSize)
	obsWaitStable(t, "copies at eni-tap", tap.count, func() bool { return tap.count() > 0 })

	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Unix()
	recs := readFlowLogs(t, flowDir)

	sums := map[flowKey][2]int64{}
	for _, r := range recs {
		if r.eni != "eni-src" && r.eni != "eni-peer" && r.eni != "eni-tap" {
			t.Errorf("%s:%d: interface %q is not one of the lab's", r.file, r.line, r.eni)
		}
		// Intervals are aligned on the Unix minute: the first may start
		// before the lab, the last ends at Close at the latest. A NODATA
		// record spans its whole interval (AWS's start and end of the
		// aggregation interval), which may end after Close.
		if r.status == "NODATA" {
			if r.start%60 != 0 || r.end != r.start+59 || r.start < begin-60 || r.start > end {
				t.Errorf("%s:%d: NODATA %d-%d is not an interval of the run, %d-%d", r.file, r.line, r.start, r.end, begin, end)
			}
		} else if r.start < begin-60 || r.end > end+1 {
			t.Errorf("%s:%d: %d-%d is outside the run, %d-%d", r.file, r.line, r.start, r.end, begin, end)
		}
		if r.status != "OK" {
			continue
		}
		if isRouterSolicitation(r) {
			continue
		}
		if r.eni == "eni-tap" || r.dport == 4789 || r.sport == 4789 {
			t.Errorf("%s:%d: a record of mirror traffic: %+v", r.file, r.line, r)
		}
		k := flowKey{r.eni, r.src, r.dst, r.sport, r.dport, r.proto, r.action}
		s := sums[k]
		sums[k] = [2]int64{s[0] + r.packets, s[1] + r.bytes}
	}
	want := func(k flowKey, packets, bytes int64) {
		t.Helper()
		got, ok := sums[k]
		switch {
		case !ok:
			t.Errorf("no record of %+v", k)
		case packets > 0 && (got[0] != packets || got[1] != bytes):
			t.Errorf("%+v: %d packets, %d bytes; want %d and %d", k, got[0], got[1], packets, bytes)
		}
		delete(sums, k)
	}
	const tcp, udp = 6, 17
	for _, eni := range []string{"eni-src", "eni-peer"} {
		want(flowKey{eni, obsSrcIP, obsPeerIP, acceptedPort, 7000, tcp, "ACCEPT"}, 0, 0)
		want(flowKey{eni, obsPeerIP, obsSrcIP, 7000, acceptedPort, tcp, "ACCEPT"}, 0, 0)
		want(flowKey{eni, obsSrcIP, obsPeerIP, okPort, 6000, udp, "ACCEPT"}, udpOK, udpOK*(20+8+udpSize))
	}
	want(flowKey{"eni-src", obsSrcIP, obsPeerIP, rejectedPort, 7003, tcp, "ACCEPT"}, 0, 0)
	want(flowKey{"eni-peer", obsSrcIP, obsPeerIP, rejectedPort, 7003, tcp, "REJECT"}, 0, 0)
	want(flowKey{"eni-src", obsSrcIP, obsPeerIP, rejPort, 6001, udp, "ACCEPT"}, udpRejected, udpRejected*(20+8+udpSize))
	want(flowKey{"eni-peer", obsSrcIP, obsPeerIP, rejPort, 6001, udp, "REJECT"}, udpRejected, udpRejected*(20+8+udpSize))
	for k, v := range sums {
		t.Errorf("a record of traffic the test did not make: %+v: %d packets, %d bytes", k, v[0], v[1])
	}
	if st := x.FlowLogs().Stats(); st.SkipData != 0 {
		t.Errorf("flow log stats %+v: SKIPDATA", st)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Len()
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

// TestCaptureVerdicts: vpclab capture's path, GET /v1/capture on the
// control socket, streams peer's packets as pcapng while src makes an
// allowed connection (7000) and a denied one (7003); read with gopacket's
// NgReader, each packet carries its verdict as a comment: "allow" or
// "deny", then the stage and code.
func TestCaptureVerdicts(t *testing.T) {
	x := startLabFile(t, "obs-capture", obsLab(obsTapOpen, filepath.Join(t.TempDir(), "peer.pcap"), ""))
	obsEchoServers(t, x)
	srv, err := control.Listen(daemon.ControlLab(x), filepath.Join(t.TempDir(), "control.sock"), control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client := control.NewClient(srv.Path())
	client.Token = ""

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var buf syncBuffer
	done := make(chan error, 1)
	go func() { done <- client.Capture(ctx, []string{"eni-peer"}, 0, &buf) }()
	deadline := time.Now().Add(5 * time.Second)
	for !x.Tap().Capturing() {
		select {
		case err := <-done:
			t.Fatalf("capture ended before it began: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the capture session was not attached within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}

	obsEcho(t, x, 7000, 40200, []byte("captured"))
	obsDenied(t, x, 7003, 40201)
	obsWaitStable(t, "capture stream", buf.Len, nil)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("capture: %v", err)
	}

	r, err := pcapgo.NewNgReader(bytes.NewReader(buf.Bytes()), pcapgo.NgReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ifc, err := r.Interface(0); err != nil || ifc.Name != "eni-peer" || r.NInterfaces() != 1 {
		t.Fatalf("interfaces: %d, first %+v (%v); want one, eni-peer", r.NInterfaces(), ifc, err)
	}
	stages := map[string]bool{}
	for s := range verdict.NumStages {
		stages[verdict.Stage(s).String()] = true
	}
	var synAllowed, synDenied, synAckOut bool
	n := 0
	for ; ; n++ {
		data, _, opts, err := r.ReadPacketDataWithOptions()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		if len(opts.Comments) != 1 {
			t.Fatalf("packet %d: comments %q, want one verdict", n, opts.Comments)
		}
		c := opts.Comments[0]
		words := strings.Fields(c)
		if len(words) < 3 || (words[0] != "allow" && words[0] != "deny") || !stages[words[1]] {
			t.Errorf("packet %d: comment %q: want allow or deny, a stage and a code", n, c)
			continue
		}
		p := gopacket.NewPacket(data, layers.LayerTypeLinuxSLL, gopacket.Default)
		tcpL, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcpL == nil || opts.Flags == nil {
			continue
		}
		in := opts.Flags.Direction == pcapgo.NgEpbFlagDirectionInbound
		switch flags := tcpFlags(tcpL); {
		case flags == "S" && tcpL.DstPort == 7000 && tcpL.SrcPort == 40200 && in:
			synAllowed = true
			if !strings.HasPrefix(c, "allow sg-ingress SG_RULE_MATCH: sg-app ingress #0") || !strings.HasSuffix(c, " on eni-peer") {
				t.Errorf("SYN to 7000: comment %q, want allow sg-ingress SG_RULE_MATCH: sg-app ingress #0 … on eni-peer", c)
			}
		case flags == "S" && tcpL.DstPort == 7003 && in:
			synDenied = true
			if !strings.HasPrefix(c, "deny sg-ingress ENI_SG_RULES_MISMATCH") {
				t.Errorf("SYN to 7003: comment %q, want deny sg-ingress ENI_SG_RULES_MISMATCH", c)
			}
		case flags == "SA" && tcpL.SrcPort == 7000 && !in:
			synAckOut = true
			if words[0] != "allow" {
				t.Errorf("SYN-ACK from 7000: comment %q, want allow", c)
			}
		}
	}
	if !synAllowed || !synDenied || !synAckOut {
		t.Errorf("among %d packets: SYN to 7000 (inbound, allowed) %v, SYN to 7003 (inbound, denied) %v, SYN-ACK from 7000 (outbound) %v; want all",
			n, synAllowed, synDenied, synAckOut)
	}
}

// promSample is one sample of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseProm parses the samples of a Prometheus text exposition (format
// 0.0.4): name{label="value",…} value, skipping comments.
func parseProm(t *testing.T, body string) []promSample {
	t.Helper()
	var out []promSample
	for n, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := promSample{labels: map[string]string{}}
		rest := line
		if i := strings.IndexAny(rest, "{ "); i >= 0 && rest[i] == '{' {
			s.name = rest[:i]
			rest = rest[i+1:]
			for !strings.HasPrefix(rest, "}") {
				eq := strings.Index(rest, `="`)
				if eq < 0 {
					t.Fatalf("metrics line %d: %q: bad labels", n+1, line)
				}
				k := rest[:eq]
				rest = rest[eq+2:]
				var v strings.Builder
				for len(rest) > 0 && rest[0] != '"' {
					if rest[0] == '\\' && len(rest) > 1 {
						rest = rest[1:]
					}
					v.WriteByte(rest[0])
					rest = rest[1:]
				}
				if rest == "" {
					t.Fatalf("metrics line %d: %q: unterminated label value", n+1, line)
				}
				s.labels[k] = v.String()
				rest = strings.TrimPrefix(rest[1:], ",")
			}
			rest = rest[1:]
		} else if i >= 0 {
			s.name, rest = rest[:i], rest[i:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			t.Fatalf("metrics line %d: %q: no value", n+1, line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			t.Fatalf("metrics line %d: %q: %v", n+1, line, err)
		}
		s.value = v
		out = append(out, s)
	}
	return out
}

// TestMetrics: a Prometheus endpoint on loopback reading the lab at
// scrape time; after an allowed connection and one whose SYN peer's
// security group drops, vpclab_packets_total counts the drop with
// action="dropped", stage="sg-ingress", reason ENI_SG_RULES_MISMATCH and
// direction="ingress" (as many as the devices counted), and the
// forwarded packets.
func TestMetrics(t *testing.T) {
	x := startLabFile(t, "obs-metrics", obsLab(obsTapOpen, filepath.Join(t.TempDir(), "peer.pcap"), ""))
	obsEchoServers(t, x)
	reg, err := metrics.NewRegistry(metrics.New(metrics.SourceFunc(x.ReadMetrics), metrics.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := metrics.Serve("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("metrics server: %v", err)
		}
	})

	obsEcho(t, x, 7000, 0, []byte("counted"))
	obsDenied(t, x, 7003, 0)

	resp, err := http.Get(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", srv.URL(), resp.Status, err)
	}
	// What the senders counted, by stage and reason names: every dropped
	// series must show as much. (Besides the test's drop, the kernels of
	// the namespaces may have sent router solicitations, which the
	// dataplane drops at src-dst-check: counted here and there alike.)
	counted := map[[2]string]uint64{}
	var countedForwarded uint64
	senders := []live.Stats{x.ServiceCounters().Load()}
	for _, d := range x.Devices() {
		senders = append(senders, d.Counters.Load())
	}
	for _, st := range senders {
		countedForwarded += st.AllowedPackets
		for s := range verdict.NumStages {
			for c := range verdict.NumCodes {
				if n := st.DeniedPacketsBy[s][c]; n > 0 {
					counted[[2]string{verdict.Stage(s).String(), verdict.Code(c).String()}] += n
				}
			}
		}
	}
	exported := map[[2]string]float64{}
	var forwarded float64
	for _, s := range parseProm(t, string(body)) {
		if s.name != "vpclab_packets_total" {
			continue
		}
		switch l := s.labels; l["action"] {
		case "dropped":
			k := [2]string{l["stage"], l["reason"]}
			exported[k] += s.value
			if l["stage"] == "sg-ingress" && l["direction"] != "ingress" {
				t.Errorf("%v: direction %q, want ingress", l, l["direction"])
			}
		case "forwarded":
			forwarded += s.value
		default:
			t.Errorf("vpclab_packets_total%v: action %q is neither forwarded nor dropped", l, l["action"])
		}
	}
	sgDrop := [2]string{"sg-ingress", verdict.CodeSGRulesMismatch.String()}
	if exported[sgDrop] <= 0 {
		t.Errorf("vpclab_packets_total{action=\"dropped\",stage=%q,reason=%q} is %v after a SYN peer's security group dropped",
			sgDrop[0], sgDrop[1], exported[sgDrop])
	}
	for k, n := range counted {
		if exported[k] != float64(n) {
			t.Errorf("vpclab_packets_total{action=\"dropped\",stage=%q,reason=%q} is %v; the senders counted %d", k[0], k[1], exported[k], n)
		}
	}
	for k, v := range exported {
		if _, ok := counted[k]; !ok && v != 0 {
			t.Errorf("vpclab_packets_total{action=\"dropped\",stage=%q,reason=%q} is %v; the senders counted none", k[0], k[1], v)
		}
	}
	if forwarded <= 0 || forwarded != float64(countedForwarded) {
		t.Errorf("vpclab_packets_total{action=\"forwarded\"} is %v; the senders counted %d", forwarded, countedForwarded)
	}
}
