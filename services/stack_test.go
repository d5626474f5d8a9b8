package services

// These tests drive the netstack as the live lab will: IP packets in
// through Inject, IP packets out through Read. No root is needed.
//
//	test ──Inject──▶ [ gVisor stack: 10.0.0.2, 169.254.169.x, routers ] ──Read──▶ test

import (
	"context"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"golang.org/x/net/dns/dnsmessage"
)

var (
	web1  = netip.MustParseAddr("10.0.1.10")
	web16 = netip.MustParseAddr("2600:1f18:aa:bb01::10")
)

func start(t *testing.T, o Options) *Services {
	t.Helper()
	s, err := New(labfile.ExampleLab(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readOne reads one packet from s and decodes it.
func readOne(t *testing.T, s *Services) gopacket.Packet {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bufs, sizes := [][]byte{make([]byte, 1600)}, []int{0}
	n, err := s.Read(ctx, bufs, sizes, 0)
	if err != nil || n != 1 {
		t.Fatalf("Read = %d, %v", n, err)
	}
	first := layers.LayerTypeIPv4
	if bufs[0][0]>>4 == 6 {
		first = layers.LayerTypeIPv6
	}
	p := gopacket.NewPacket(bufs[0][:sizes[0]], first, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("reply does not decode: %v", el.Error())
	}
	return p
}

// udpPacket builds an IP/UDP packet with payload and complete checksums.
func udpPacket(t *testing.T, src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	t.Helper()
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	var ip gopacket.SerializableLayer
	if src.Is4() {
		ip4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		udp.SetNetworkLayerForChecksum(ip4)
		ip = ip4
	} else {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolUDP, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		udp.SetNetworkLayerForChecksum(ip6)
		ip = ip6
	}
	b := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(b, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, udp, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// srcDst returns a decoded packet's addresses.
func srcDst(p gopacket.Packet) (netip.Addr, netip.Addr) {
	f := p.NetworkLayer().NetworkFlow()
	s, _ := netip.AddrFromSlice(f.Src().Raw())
	d, _ := netip.AddrFromSlice(f.Dst().Raw())
	return s, d
}

func TestDNSOverStack(t *testing.T) {
	s := start(t, Options{})
	for _, tc := range []struct {
		src, dns netip.Addr
		name     string
		typ      dnsmessage.Type
		rcode    dnsmessage.RCode
	}{
		{web1, netip.MustParseAddr("10.0.0.2"), "web1.vpc.internal.", dnsmessage.TypeA, dnsmessage.RCodeSuccess},
		{web1, netip.MustParseAddr("169.254.169.253"), "10.1.0.10.in-addr.arpa.", dnsmessage.TypePTR, dnsmessage.RCodeSuccess},
		{web16, netip.MustParseAddr("fd00:ec2::253"), "web1.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess},
		{web1, netip.MustParseAddr("10.0.0.2"), "example.com.", dnsmessage.TypeA, dnsmessage.RCodeNameError},
	} {
		s.Inject(udpPacket(t, tc.src, tc.dns, 5353, 53, query(t, 42, tc.name, tc.typ)))
		p := readOne(t, s)
		src, dst := srcDst(p)
		u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if src != tc.dns || dst != tc.src || u == nil || u.SrcPort != 53 || u.DstPort != 5353 {
			t.Fatalf("%s: reply %v", tc.name, p)
		}
		if rcode, ans := answers(t, 42, u.Payload); rcode != tc.rcode || (rcode == dnsmessage.RCodeSuccess && len(ans) == 0) {
			t.Errorf("%s via %v: %v %v", tc.name, tc.dns, rcode, ans)
		}
	}
}

func TestSNTPOverStack(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := start(t, Options{Now: func() time.Time { return now }})
	req := make([]byte, 48)
	req[0] = 4<<3 | 3
	s.Inject(udpPacket(t, web1, netip.MustParseAddr("169.254.169.123"), 40123, 123, req))
	p := readOne(t, s)
	u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u == nil || u.SrcPort != 123 || len(u.Payload) != 48 {
		t.Fatalf("reply %v", p)
	}
	r := u.Payload
	if r[0]&7 != 4 || r[1] != 3 || string(r[12:16]) != string([]byte{169, 254, 169, 123}) || !NTPTime(r[40:]).Equal(now) {
		t.Errorf("reply % x", r)
	}
}

func TestPingRouter(t *testing.T) {
	s := start(t, Options{})
	for _, tc := range []struct{ src, dst netip.Addr }{
		{web1, netip.MustParseAddr("10.0.1.1")},
		{netip.MustParseAddr("10.0.3.10"), netip.MustParseAddr("10.0.3.1")},
		{web1, netip.MustParseAddr("169.254.169.254")},
		{web16, netip.MustParseAddr("2600:1f18:aa:bb01::1")},
		{netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("10.0.1.1")}, // from the internet: routed back too
	} {
		spec := packet.Spec{Src: tc.src, Dst: tc.dst, Proto: 1, ICMPType: 8, ICMPID: 77, Payload: 16}
		reply := uint8(0)
		if tc.src.Is6() {
			spec.Proto, spec.ICMPType, reply = 58, 128, 129
		}
		s.Inject(spec.Append(nil))
		p := readOne(t, s)
		src, dst := srcDst(p)
		var typ uint8
		if l, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4); ok && l.Id == 77 {
			typ = l.TypeCode.Type()
		} else if l, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); ok {
			typ = l.TypeCode.Type()
		} else {
			t.Fatalf("ping %v: reply %v", tc.dst, p)
		}
		if src != tc.dst || dst != tc.src || typ != reply {
			t.Errorf("ping %v from %v: reply %v → %v type %d", tc.dst, tc.src, src, dst, typ)
		}
	}
}

func TestIMDSConnect(t *testing.T) {
	s := start(t, Options{})
	imds := netip.MustParseAddr("169.254.169.254")
	const syn = 0x02
	s.Inject((&packet.Spec{Src: web1, Dst: imds, Proto: 6, SrcPort: 40000, DstPort: 80, TCPFlags: syn}).Append(nil))
	p := readOne(t, s)
	tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if src, dst := srcDst(p); tcp == nil || src != imds || dst != web1 || !tcp.SYN || !tcp.ACK || tcp.SrcPort != 80 || tcp.DstPort != 40000 {
		t.Fatalf("SYN to IMDS:80: reply %v", p)
	}
	// A port nothing listens on is refused.
	s.Inject((&packet.Spec{Src: web1, Dst: imds, Proto: 6, SrcPort: 40001, DstPort: 81, TCPFlags: syn}).Append(nil))
	p = readOne(t, s)
	if tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP); tcp == nil || !tcp.RST {
		t.Fatalf("SYN to IMDS:81: reply %v", p)
	}
}

func TestReadBatchAndShortBuffer(t *testing.T) {
	s := start(t, Options{})
	router := netip.MustParseAddr("10.0.1.1")
	for _, size := range []int{100, 300, 100} {
		s.Inject((&packet.Spec{Src: web1, Dst: router, Proto: 1, ICMPType: 8, Payload: size}).Append(nil))
	}
	// The second reply does not fit: it is dropped and counted, and the
	// third takes its buffer.
	bufs := [][]byte{make([]byte, 200), make([]byte, 200), make([]byte, 200)}
	sizes := make([]int, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := s.Read(ctx, bufs, sizes, 10)
	if err != nil || n != 2 || s.Dropped() != 1 || sizes[0] != 128 || sizes[1] != 128 {
		t.Fatalf("Read = %d, %v, sizes %v, dropped %d", n, err, sizes, s.Dropped())
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if n, err := s.Read(ctx2, bufs, sizes, 0); n != 0 || err != context.DeadlineExceeded {
		t.Errorf("Read with nothing queued = %d, %v", n, err)
	}
}

func TestReadAfterClose(t *testing.T) {
	s := start(t, Options{})
	done := make(chan error)
	go func() {
		_, err := s.Read(context.Background(), [][]byte{make([]byte, 1500)}, []int{0}, 0)
		done <- err
	}()
	s.Close()
	if err := <-done; err != ErrClosed {
		t.Errorf("Read after Close = %v", err)
	}
	s.Inject((&packet.Spec{Src: web1, Dst: netip.MustParseAddr("10.0.1.1"), Proto: 1, ICMPType: 8}).Append(nil)) // ignored
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for range 3 {
		s, err := New(labfile.ExampleLab(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		// Leave a TCP connection half open and a DNS exchange behind.
		s.Inject((&packet.Spec{Src: web1, Dst: netip.MustParseAddr("169.254.169.254"), Proto: 6, SrcPort: 40000, DstPort: 80, TCPFlags: 0x02}).Append(nil))
		s.Inject(udpPacket(t, web1, netip.MustParseAddr("10.0.0.2"), 5353, 53, query(t, 1, "web1.", dnsmessage.TypeA)))
		readOne(t, s)
		s.Close()
	}
	// Goroutines that Close waited for are gone at once; allow the
	// runtime a moment to retire them from the count.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
