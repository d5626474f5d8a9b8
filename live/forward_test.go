package live

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/services"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/tun/tuntest"
	"github.com/vpclab/vpclab/verdict"
)

// ipv4Checksum returns the checksum of an IPv4 header whose checksum field
// is zero.
func ipv4Checksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func TestSegments(t *testing.T) {
	for _, c := range []struct {
		hdr  tun.VirtioNetHdr
		ip   int
		want uint64
	}{
		{tun.VirtioNetHdr{}, 1500, 1},
		{tun.VirtioNetHdr{GSOType: tun.GSOTCPv4, HdrLen: 52, GSOSize: 1448}, 52 + 3*1448, 3},
		{tun.VirtioNetHdr{GSOType: tun.GSOTCPv4, HdrLen: 52, GSOSize: 1448}, 52 + 3*1448 + 1, 4},
		{tun.VirtioNetHdr{GSOType: tun.GSOTCPv6, HdrLen: 200, GSOSize: 1448}, 100, 1}, // a bad hint
	} {
		frame := make([]byte, tun.VirtioNetHdrLen+c.ip)
		c.hdr.Encode(frame)
		if got := segments(frame); got != c.want {
			t.Errorf("%+v, %d IP bytes: %d segments, want %d", c.hdr, c.ip, got, c.want)
		}
	}
}

const unitLab = `
vpc: {id: vpc-unit, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
  - {id: subnet-b, cidr: 10.0.2.0/24}
security_groups:
  - id: sg-b
    ingress:
      - {protocol: tcp, ports: 8080, cidr: 10.0.1.0/24}
      - {protocol: udp, ports: 5201, cidr: 10.0.1.0/24}
instances:
  - {name: a, subnet: subnet-a, ip: 10.0.1.10}
  - {name: b, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-b]}
`

// memLab is a Lab of unitLab over memDevices, without namespaces.
func memLab(t *testing.T) (x *Lab, a, b *Device) {
	l, err := labfile.Parse("unit.yaml", []byte(unitLab))
	if err != nil {
		t.Fatal(err)
	}
	return memLabOf(t, l)
}

// memLabOf is memLab for a lab of unitLab's instances.
func memLabOf(t *testing.T, l *lab.Lab) (x *Lab, a, b *Device) {
	x = &Lab{engine: dataplane.New(l), mtu: labnet.DefaultMTU}
	for i, id := range []string{"eni-a", "eni-b"} {
		p, ok := x.engine.Port(id)
		if !ok {
			t.Fatalf("no port for %s", id)
		}
		d := &Device{Port: p, dev: &tuntest.Device{Keep: true}, index: i}
		x.devices = append(x.devices, d)
		for int(p) >= len(x.bySlot) {
			x.bySlot = append(x.bySlot, nil)
		}
		x.bySlot[p] = d
	}
	x.addServices(services.NewDevice(func([]byte) {}, x.mtu))
	return x, x.devices[0], x.devices[1]
}

// tcpFrame writes a frame of a TCP packet from src:sport to dst:dport
// with the given flags and TTL into b and returns its length.
func tcpFrame(b []byte, src, dst string, sport, dport uint16, flags, ttl byte) int {
	clear(b[:tun.VirtioNetHdrLen+40])
	ip := b[tun.VirtioNetHdrLen:]
	ip[0], ip[8], ip[9] = 0x45, ttl, 6
	binary.BigEndian.PutUint16(ip[2:], 40)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], ipv4Checksum(ip[:20]))
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	ip[32], ip[33] = 5<<4, flags
	return tun.VirtioNetHdrLen + 40
}

// TestForwardBatch: one batch from a, with an allowed SYN, a denied one
// and one to a VPC service, is judged, counted, written once to b, and the
// forwarded packet's TTL decremented.
func TestForwardBatch(t *testing.T) {
	x, a, b := memLab(t)
	f := newForwarder(x, a)
	f.sizes[0] = tcpFrame(f.bufs[0], "10.0.1.10", "10.0.2.10", 40000, 8080, 0x02, 64)
	f.sizes[1] = tcpFrame(f.bufs[1], "10.0.1.10", "10.0.2.10", 40000, 9090, 0x02, 64)
	f.sizes[2] = tcpFrame(f.bufs[2], "10.0.1.10", "10.0.0.2", 40000, 53, 0x02, 64)
	f.batch(3, 0)
	if w := b.dev.(*tuntest.Device).Written(); w != 1 {
		t.Errorf("%d frames written to b, want 1", w)
	}
	if ttl := f.bufs[0][tun.VirtioNetHdrLen+8]; ttl != 63 {
		t.Errorf("forwarded TTL %d, want 63", ttl)
	}
	s := a.Counters.Load()
	if s.AllowedPackets != 1 || s.AllowedBytes != 40 || s.DeniedPackets[verdict.StageSGIngress] != 1 || s.ServicePackets != 1 {
		t.Errorf("counters %+v, want 1 allowed (40 bytes), 1 denied at sg-ingress, 1 to a service", s)
	}
	for i, o := range f.out {
		if len(o) != 0 {
			t.Errorf("batch for device %d not emptied", i)
		}
	}
}

// TestForwardNoAllocs: a steady-state batch allocates nothing, whether
// its packets are forwarded to an ENI, small UDP datagrams merged into a
// super-packet on the way, or, GSO super-packets and packets whose
// checksum the device leaves to us, handed to the services (the services'
// own work aside: inject is replaced).
func TestForwardNoAllocs(t *testing.T) {
	x, a, b := memLab(t)
	b.dev.(*tuntest.Device).Keep = false
	b.Offloads = tun.DefaultOffloads
	var injected int
	x.svcDev.dev = services.NewDevice(func(pkt []byte) { injected++ }, x.mtu)
	f := newForwarder(x, a)
	udpBatch := func(now int64) {
		for i := range f.bufs {
			f.sizes[i] = tuntest.UDPFrame(f.bufs[i], tuntest.UDP{TTL: 64, ID: uint16(i)})
		}
		f.batch(len(f.bufs), now)
	}
	now := int64(0)
	allocs := testing.AllocsPerRun(1000, func() {
		for i := range f.bufs {
			switch i % 3 {
			case 0:
				f.sizes[i] = tcpFrame(f.bufs[i], "10.0.1.10", "10.0.2.10", 40000+uint16(i), 8080, 0x10, 64)
			case 1:
				f.sizes[i] = gsoFrame(f.bufs[i], "10.0.1.10", "169.254.169.254", 40000+uint16(i), 80, 3000, 1000)
			case 2:
				f.sizes[i] = gsoFrame(f.bufs[i], "10.0.1.10", "169.254.169.254", 40000+uint16(i), 80, 500, 0)
			}
		}
		now += 1000
		f.batch(len(f.bufs), now)
		udpBatch(now)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
	if s := a.Counters.Load(); s.ServicePackets == 0 || s.ServiceSuperPackets == 0 || s.ServiceDropped != 0 || injected != int(s.ServicePackets) {
		t.Errorf("%d packets injected, counters %+v", injected, s)
	}
	before, sent := b.dev.(*tuntest.Device).Written(), a.Counters.Load().AllowedPackets
	udpBatch(now + 1000)
	if w, n := b.dev.(*tuntest.Device).Written()-before, a.Counters.Load().AllowedPackets-sent; w != 1 || n != uint64(len(f.bufs)) {
		t.Errorf("a batch of %d UDP datagrams of one flow: %d counted, %d frames written, want %d and 1", len(f.bufs), n, w, len(f.bufs))
	}
}

// gsoFrame writes into b a frame of a TCP ACK from src:sport to dst:dport
// with payload bytes of data and a virtio header such as the kernel
// gives: NEEDS_CSUM with the pseudo-header sum in the checksum field and,
// if mss is not 0, a TCPv4 super-packet of segments of mss bytes. It
// returns the frame's length.
func gsoFrame(b []byte, src, dst string, sport, dport uint16, payload int, mss uint16) int {
	n := tcpFrame(b, src, dst, sport, dport, 0x10, 64)
	ip := b[tun.VirtioNetHdrLen:]
	clear(ip[40 : 40+payload])
	total := 40 + payload
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], ipv4Checksum(ip[:20]))
	// The pseudo-header sum, not complemented.
	var ph [12]byte
	copy(ph[:], ip[12:20])
	ph[9], ph[10], ph[11] = 6, byte((total-20)>>8), byte(total-20)
	binary.BigEndian.PutUint16(ip[36:], ^ipv4Checksum(ph[:]))
	h := tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, CsumStart: 20, CsumOffset: 16}
	if mss != 0 {
		h.GSOType, h.GSOSize, h.HdrLen = tun.GSOTCPv4, mss, 40
	}
	h.Encode(b)
	return n - 40 + total
}

// icmpEcho writes into b a frame of an ICMP echo request from src to dst
// with the given id and returns its length.
func icmpEcho(b []byte, src, dst string, id uint16) int {
	const n = 20 + 8 + 4
	clear(b[:tun.VirtioNetHdrLen+n])
	ip := b[tun.VirtioNetHdrLen:]
	ip[0], ip[8], ip[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(ip[2:], n)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	binary.BigEndian.PutUint16(ip[10:], ipv4Checksum(ip[:20]))
	icmp := ip[20:n]
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], id)
	binary.BigEndian.PutUint16(icmp[6:], 1)
	copy(icmp[8:], "ping")
	binary.BigEndian.PutUint16(icmp[2:], ipv4Checksum(icmp))
	return tun.VirtioNetHdrLen + n
}

// TestServicesInMemory: a's echo request to its subnet's router and SYN
// to the DNS server's TCP port 53 (closed) reach the services; the echo
// reply and the reset come back through the services' forwarder, judged at
// PortService, behind a zero virtio header, to a alone.
func TestServicesInMemory(t *testing.T) {
	x, a, b := memLab(t)
	l, err := labfile.Parse("unit.yaml", []byte(unitLab))
	if err != nil {
		t.Fatal(err)
	}
	if x.svc, err = services.New(l, services.Options{MTU: x.mtu}); err != nil {
		t.Fatal(err)
	}
	defer x.svc.Close()
	x.svcDev.dev = x.svc.Device()
	f := newForwarder(x, a)
	f.sizes[0] = icmpEcho(f.bufs[0], "10.0.1.10", "10.0.1.1", 7)
	f.sizes[1] = tcpFrame(f.bufs[1], "10.0.1.10", "10.0.0.2", 40000, 53, 0x02, 64)
	ip := f.bufs[1][tun.VirtioNetHdrLen:]
	binary.BigEndian.PutUint16(ip[36:], tcpChecksum(ip[:40]))
	f.batch(2, 0)
	if s := a.Counters.Load(); s.ServicePackets != 2 {
		t.Fatalf("a's counters %+v, want 2 packets to the services", s)
	}

	w := newForwarder(x, x.svcDev)
	timeout := time.AfterFunc(5*time.Second, func() { x.svcDev.dev.Close() })
	defer timeout.Stop()
	got := 0
	for got < 2 {
		n, err := x.svcDev.dev.Read(w.bufs, w.sizes, 0)
		if err != nil {
			t.Fatalf("after %d packets from the services: %v", got, err)
		}
		w.batch(n, 0)
		got += n
	}
	if s := x.ServiceCounters().Load(); s.AllowedPackets != 2 || s.Denied() != 0 {
		t.Errorf("service counters %+v, want 2 allowed", s)
	}
	if n := b.dev.(*tuntest.Device).Written(); n != 0 {
		t.Errorf("%d frames written to b, want 0", n)
	}
	var echo, rst bool
	for _, fr := range a.dev.(*tuntest.Device).Frames() {
		if !bytes.Equal(fr[:tun.VirtioNetHdrLen], make([]byte, tun.VirtioNetHdrLen)) {
			t.Errorf("virtio header % x, want zero", fr[:tun.VirtioNetHdrLen])
		}
		p := fr[tun.VirtioNetHdrLen:]
		src, dst := netip.AddrFrom4([4]byte(p[12:16])), netip.AddrFrom4([4]byte(p[16:20]))
		switch {
		case p[9] == 1 && p[20] == 0 && src.String() == "10.0.1.1" && binary.BigEndian.Uint16(p[24:]) == 7:
			echo = true
		case p[9] == 6 && p[33]&0x04 != 0 && src.String() == "10.0.0.2":
			rst = true
		}
		if dst.String() != "10.0.1.10" {
			t.Errorf("a packet to %s written to a", dst)
		}
	}
	if !echo || !rst {
		t.Errorf("echo reply %v, reset %v; want both", echo, rst)
	}
}

// tcpChecksum returns the checksum of the IPv4 TCP packet pkt (header
// and segment) whose checksum field is zero.
func tcpChecksum(pkt []byte) uint16 {
	tcp := pkt[20:]
	ph := append(append([]byte{}, pkt[12:20]...), 0, 6, byte(len(tcp)>>8), byte(len(tcp)))
	return ipv4Checksum(append(ph, tcp...))
}

// TestForwardStopped: nothing reaches a stopped instance, and a stopped
// instance sends nothing; started again, it does.
func TestForwardStopped(t *testing.T) {
	x, a, b := memLab(t)
	a.Instance, b.Instance = "ia", "ib"
	f := newForwarder(x, a)
	send := func() {
		f.sizes[0] = tcpFrame(f.bufs[0], "10.0.1.10", "10.0.2.10", 40000, 8080, 0x02, 64)
		f.batch(1, 0)
	}
	if _, err := x.SetInstanceState("ib", false); err != nil {
		t.Fatal(err)
	}
	send()
	if _, err := x.SetInstanceState("ia", false); err != nil {
		t.Fatal(err)
	}
	send()
	if w := b.dev.(*tuntest.Device).Written(); w != 0 {
		t.Errorf("%d frames reached a stopped instance", w)
	}
	if got := a.Counters.Load().DeniedByCode[verdict.CodeInstanceStopped]; got != 2 {
		t.Errorf("%d packets dropped as INSTANCE_STOPPED, want 2", got)
	}
	for _, in := range []string{"ia", "ib"} {
		if prev, err := x.SetInstanceState(in, true); err != nil || prev != StateStopped {
			t.Errorf("start %s: previous %q, %v", in, prev, err)
		}
	}
	send()
	if w := b.dev.(*tuntest.Device).Written(); w != 1 {
		t.Errorf("%d frames written after the start, want 1", w)
	}
	if _, err := x.SetInstanceState("nope", true); err == nil || !strings.Contains(err.Error(), "ia, ib") {
		t.Errorf("unknown instance: %v", err)
	}
}

// TestForwardNoAllocsTapped: with flow logs, a mirror session and a live
// capture all on, a steady-state batch still allocates nothing.
func TestForwardNoAllocsTapped(t *testing.T) {
	dir := t.TempDir()
	src := unitLab + `flow_logs:
  - {id: fl, vpc: vpc-unit, destination: ` + dir + `/flows}
traffic_mirror_filters:
  - id: f
    ingress: [{rule: 1, action: accept}]
    egress: [{rule: 1, action: accept}]
traffic_mirror_targets: [{id: t, pcap_file: ` + dir + `/m.pcap}]
traffic_mirror_sessions: [{id: s, number: 1, source: eni-b, target: t, filter: f, packet_length: 64}]
`
	l, err := labfile.Parse("tapped.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	x, a, b := memLabOf(t, l)
	b.dev.(*tuntest.Device).Keep = false
	b.Offloads = tun.DefaultOffloads
	x.start = time.Now()
	if err := x.startTaps(l); err != nil {
		t.Fatal(err)
	}
	defer func() {
		x.mirror.Close()
		x.closeFlows()
	}()
	s, err := x.tap.Attach(io.Discard, []capture.Point{{Port: a.Port, Interface: capture.Interface{Name: "eni-a"}}}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newForwarder(x, a)
	now := int64(0)
	allocs := testing.AllocsPerRun(500, func() {
		for i := range f.bufs {
			f.sizes[i] = tcpFrame(f.bufs[i], "10.0.1.10", "10.0.2.10", 40000+uint16(i%4), 8080, 0x18, 64)
		}
		now += 1000
		f.batch(len(f.bufs), now)
		for i := range f.bufs { // small UDP datagrams, merged
			f.sizes[i] = tuntest.UDPFrame(f.bufs[i], tuntest.UDP{TTL: 64, ID: uint16(i)})
		}
		f.batch(len(f.bufs), now)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch with every tap on, want 0", allocs)
	}
	if b.dev.(*tuntest.Device).Written() == 0 {
		t.Fatal("nothing forwarded")
	}
	x.mirror.Close() // drains the queue
	if st := x.mirror.Stats(); len(st) != 1 || st[0].Mirrored+st[0].Dropped == 0 {
		t.Errorf("the mirror session saw nothing: %+v", st)
	}
	if s.Stats().Packets+s.Stats().Dropped == 0 {
		t.Error("the capture saw nothing")
	}
}

// TestForwardCoalesced: a batch of UDP datagrams from a to b, three
// flows in turn, reaches b as one super-packet per flow when b takes
// them, the datagrams as they were sent (TTL decremented) and in order;
// as they are when b does not; the counters count datagrams; a refused
// super-packet counts as the datagrams it holds.
func TestForwardCoalesced(t *testing.T) {
	x, a, b := memLab(t)
	f := newForwarder(x, a)
	f.bufs, f.sizes = make([][]byte, 12), make([]int, 12)
	f.merge = tun.NewCoalescer(12)
	for i := range f.bufs {
		f.bufs[i] = make([]byte, frameSize)
	}
	for i := range f.out {
		f.out[i] = make([][]byte, 0, len(f.bufs))
	}
	gs := tuntest.Cat(tuntest.Run(tuntest.UDP{TTL: 64}, 4), tuntest.Run(tuntest.UDP{TTL: 64, SPort: 40001, DPort: 5201}, 4), tuntest.Run(tuntest.UDP{TTL: 64, ID: 4}, 4))
	fill := func() (want [][]byte) {
		for i, g := range gs {
			f.sizes[i] = tuntest.UDPFrame(f.bufs[i], g)
			g.TTL--
			w := make([]byte, tun.MaxFrameSize)
			want = append(want, tuntest.Complete(t, w[:tuntest.UDPFrame(w, g)]))
		}
		return want
	}
	for _, offl := range []tun.Offload{tun.DefaultOffloads, 0} {
		t.Run(offl.String(), func(t *testing.T) {
			b.Offloads = offl
			mem := &tuntest.Device{Keep: true}
			b.dev = mem
			want := fill()
			before := a.Counters.Load().AllowedPackets
			f.batch(len(gs), 0)
			if got := a.Counters.Load().AllowedPackets - before; got != uint64(len(gs)) {
				t.Errorf("%d packets counted, want %d", got, len(gs))
			}
			wantFrames := len(gs)
			if offl != 0 {
				wantFrames = 3
			}
			if len(mem.Frames()) != wantFrames {
				t.Fatalf("%d frames written to b, want %d", len(mem.Frames()), wantFrames)
			}
			var got [][]byte
			for _, fr := range mem.Frames() {
				got = append(got, tuntest.Split(t, fr)...)
			}
			if len(got) != len(want) {
				t.Fatalf("%d datagrams, want %d", len(got), len(want))
			}
			for i := range got {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("datagram %d:\n got % x\nwant % x", i, got[i], want[i])
				}
			}
		})
	}

	b.Offloads = tun.DefaultOffloads
	fail := &tuntest.Device{Keep: true, Refuse: isGSO}
	b.dev = fail
	fill()
	f.sizes[4] = tuntest.UDPFrame(f.bufs[4], tuntest.UDP{TTL: 64, SPort: 40001, DPort: 5201, Csum: tuntest.CsumBad}) // not merged
	f.batch(len(gs), 0)
	// Super-packets of 4, 3 (after the bad one) and 4 datagrams, refused.
	if s := a.Counters.Load(); s.WriteErrors != 4+3+4 {
		t.Errorf("%d write errors, want 11 (the datagrams of the refused super-packets)", s.WriteErrors)
	}
	if len(fail.Frames()) != 1 {
		t.Errorf("%d frames written, want 1 (the datagram with a bad checksum, not merged)", len(fail.Frames()))
	}
}

// sourcedDev is a device whose frames enter at ports of their own, as
// mirror.Device's do.
type sourcedDev struct {
	tuntest.Device
	ports []verdict.Port
}

func (d *sourcedDev) Ports() []verdict.Port { return d.ports }

// TestMirrorDevice: the frames of the mirror's device go the forwarder's
// way from their sources' ports, counted in the mirror's counters:
// forwarded to the target with the hop decremented, a UDP GSO frame
// counted as its mirror packets, a run from another source judged at its
// port, nothing sent while the source instance is stopped, and no
// allocation.
func TestMirrorDevice(t *testing.T) {
	x, a, b := memLab(t)
	a.Instance = "ia"
	x.start = time.Now()
	dev := &sourcedDev{ports: make([]verdict.Port, 8)}
	x.mirrorDev = &Device{Port: verdict.PortNone, dev: dev, index: -1}
	f := newForwarder(x, x.mirrorDev)
	if len(f.obs) != 0 {
		t.Fatalf("the mirror's forwarder has %d observers, want none", len(f.obs))
	}
	udp := tuntest.UDP{TTL: 64}
	batch := tuntest.Frames(tuntest.Run(udp, 5)...)
	c := tun.NewCoalescer(8)
	if n, _ := c.Coalesce(batch, tun.DefaultOffloads); n != 1 {
		t.Fatalf("coalesced into %d frames, want 1", n)
	}
	fill := func() int {
		f.sizes[0] = tuntest.UDPFrame(f.bufs[0], udp)
		f.sizes[1] = copy(f.bufs[1], batch[0])
		f.sizes[2] = tuntest.UDPFrame(f.bufs[2], udp)
		dev.ports[0], dev.ports[1], dev.ports[2] = a.Port, a.Port, b.Port
		return 3
	}
	f.batch(fill(), x.Now())
	got := b.dev.(*tuntest.Device).Frames()
	if len(got) != 2 || got[0][tun.VirtioNetHdrLen+8] != 63 {
		t.Fatalf("%d frames written to b, want 2, the first with TTL 63", len(got))
	}
	st := x.MirrorCounters().Load()
	if st.AllowedPackets != 6 || st.SuperPackets != 1 {
		t.Errorf("mirror counters %+v, want 6 packets, 1 super-packet", st)
	}
	// The third frame, a's address entering at b's port, meets b's
	// source/destination check: it was judged where its port said.
	if st.DeniedPackets[verdict.StageSrcDstCheck] != 1 {
		t.Errorf("the frame from b's port: counters %+v, want one src-dst-check drop", st)
	}
	if a.Counters.Load().AllowedPackets != 0 {
		t.Error("the mirror's frames counted as the source's")
	}
	if _, err := x.SetInstanceState("ia", false); err != nil {
		t.Fatal(err)
	}
	f.batch(fill(), x.Now())
	if st := x.MirrorCounters().Load(); st.DeniedByCode[verdict.CodeInstanceStopped] != 6 || st.DeniedPackets[verdict.StageSrcDstCheck] != 2 || b.dev.(*tuntest.Device).Written() != 2 {
		t.Errorf("source stopped: counters %+v, %d frames written", st, b.dev.(*tuntest.Device).Written())
	}
	if _, err := x.SetInstanceState("ia", true); err != nil {
		t.Fatal(err)
	}
	b.dev.(*tuntest.Device).Keep = false
	a.dev.(*tuntest.Device).Keep = false
	if allocs := testing.AllocsPerRun(1000, func() { f.batch(fill(), x.Now()) }); allocs != 0 {
		t.Errorf("%v allocations per batch of mirror frames, want 0", allocs)
	}
	if st := x.MirrorCounters().Load(); st.AllowedPackets < 6+6*1000 {
		t.Errorf("mirror counters %+v: the frames of the allocation test were not forwarded", st)
	}
}
