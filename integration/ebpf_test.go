package integration

import (
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/verdict"
)

// The eBPF datapath (live/fastpath.go): ENIs are veth pairs into a router
// namespace; the engine judges the first packets of a flow and installs
// its directions in the kernel's fast path.

// withDatapath runs the test's labs on dp, and back on the flag's after.
func withDatapath(t *testing.T, dp string) {
	old := *datapath
	*datapath = dp
	t.Cleanup(func() { *datapath = old })
}

// apply applies testLab with the replacements old → new made to it.
func apply(t *testing.T, x *live.Lab, pairs ...string) {
	t.Helper()
	text := strings.NewReplacer(pairs...).Replace(testLab)
	if text == testLab {
		t.Fatal("the edit changes nothing")
	}
	l, err := labfile.Parse("edit.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Apply(l); err != nil {
		t.Fatal(err)
	}
}

// TestEBPFFastPath: a TCP flow web → app passes through the eBPF
// datapath; its two directions are installed, and after the handshake
// the fast path, not userspace, carries its packets, counted exactly in
// the device's Counters once read back.
func TestEBPFFastPath(t *testing.T) {
	withDatapath(t, live.DatapathEBPF)
	x := startLab(t, "ebpf-fast")
	echoServer(t, x, "app", appIP+":8080")
	c, err := dial(t, x, "web", appIP+":8080", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 200
	for range rounds {
		echo(t, c, []byte("through the fast path"))
	}
	x.SyncFastPath()
	fs, ok := x.FastPath()
	if !ok {
		t.Fatal("FastPath reports no fast path on the eBPF datapath")
	}
	if fs.Entries < 2 {
		t.Errorf("%d entries installed, want both directions of the flow", fs.Entries)
	}
	web, app := x.Device("eni-web").Counters.Load(), x.Device("eni-app").Counters.Load()
	total := web.AllowedPackets + app.AllowedPackets
	t.Logf("fast path: %d entries, %d of %d packets", fs.Entries, fs.Packets, total)
	// Each echo is at least a segment each way; userspace judges the
	// handshake and the first packet of each direction.
	if total < 2*rounds || fs.Packets < total-20 {
		t.Errorf("the fast path forwarded %d of %d packets; want all but the first few (web %+v, app %+v)", fs.Packets, total, web.AllowedPackets, app.AllowedPackets)
	}
	// The conntrack entries' idle timers follow the fast path's packets.
	time.Sleep(1100 * time.Millisecond)
	echo(t, c, []byte("one more"))
	x.SyncFastPath()
	p, _ := x.Engine().Port("eni-app")
	for _, e := range x.Engine().Snapshot().Table(p).Entries(x.Now()) {
		if e.Idle > time.Second {
			t.Errorf("conntrack entry %v idle for %v though its flow just sent", e.Key, e.Idle)
		}
	}
}

// fastFlow starts lab name on the eBPF datapath with an echo server on
// app and returns a TCP connection to it from web, on the fast path.
func fastFlow(t *testing.T, name string) (*live.Lab, net.Conn) {
	t.Helper()
	withDatapath(t, live.DatapathEBPF)
	x := startLab(t, name)
	echoServer(t, x, "app", appIP+":8080")
	c, err := dial(t, x, "web", appIP+":8080", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		echo(t, c, []byte("fast"))
	}
	x.SyncFastPath()
	if fs, _ := x.FastPath(); fs.Entries < 2 || fs.Packets == 0 {
		t.Fatalf("the flow is not on the fast path: %+v", fs)
	}
	return x, c
}

// TestEBPFNACLEditNextPacket: a NACL deny added while a flow runs on the
// fast path stops its very next packet (AWS: NACL edits apply at once).
func TestEBPFNACLEditNextPacket(t *testing.T) {
	x, c := fastFlow(t, "ebpf-nacl")
	apply(t, x, "      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}",
		"      - {rule: 90, action: deny, protocol: tcp, ports: 8080, cidr: 10.0.1.0/24}\n      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}")
	c.SetDeadline(time.Now().Add(deniedWait))
	if _, err := c.Write([]byte("stopped")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("after the NACL deny the echo came back: %q", buf[:n])
	}
	wantDenied(t, x, "eni-web", verdict.StageNACLIngress)
}

// TestEBPFSGRevokeKeepsTracked: revoking the SG rule that let a tracked
// flow in keeps the flow (its conntrack entry passes it, spec §3.5), on
// the fast path again; a new connection is refused.
func TestEBPFSGRevokeKeepsTracked(t *testing.T) {
	withDatapath(t, live.DatapathEBPF)
	x := startLab(t, "ebpf-sg")
	echoServer(t, x, "app", appIP+":8080")
	c, err := dial(t, x, "web", appIP+":8080", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		echo(t, c, []byte("fast"))
	}
	apply(t, x, "      - {protocol: tcp, ports: 8080, group: sg-web}\n", "")
	x.SyncFastPath() // the old generation's entries go
	for range 50 {
		echo(t, c, []byte("still tracked"))
	}
	x.SyncFastPath()
	if fs, _ := x.FastPath(); fs.Entries < 2 {
		t.Errorf("the tracked flow was not installed again: %+v", fs)
	}
	_, err = dial(t, x, "web", appIP+":8080", 0, deniedWait)
	wantTimeout(t, err)
}

// ebpfSixLab is ipv6LabHead with TCP 8080 and UDP 5000 let in over both
// families.
const ebpfSixLab = ipv6LabHead + `
      - {protocol: tcp, ports: 8080, cidr: "::/0"}
      - {protocol: udp, ports: 5000, cidr: "::/0"}
      - {protocol: udp, ports: 5000, cidr: 0.0.0.0/0}
`

// udpEcho echoes every datagram to addr inside instance back to its
// sender until the test ends.
func udpEcho(t *testing.T, x *live.Lab, instance, addr string) {
	t.Helper()
	var pc net.PacketConn
	if err := in(t, x, instance, func() (err error) {
		pc, err = net.ListenPacket("udp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// TestEBPFFamilies: TCP over IPv6 and UDP over IPv4 and IPv6 take the
// fast path once the engine has judged their first packets.
func TestEBPFFamilies(t *testing.T) {
	withDatapath(t, live.DatapathEBPF)
	x := startLabFile(t, "ebpf-families", ebpfSixLab)
	echoServer(t, x, "b", "["+sixB+"]:8080")
	udpEcho(t, x, "b", ":5000")
	const rounds = 100
	for _, tc := range []struct {
		name, network, addr string
	}{
		{"tcp6", "tcp", "[" + sixB + "]:8080"},
		{"udp4", "udp4", "10.0.1.20:5000"},
		{"udp6", "udp6", "[" + sixB + "]:5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x.SyncFastPath()
			before, _ := x.FastPath()
			var c net.Conn
			if err := in(t, x, "a", func() (err error) {
				c, err = net.DialTimeout(tc.network, tc.addr, 5*time.Second)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for range rounds {
				echo(t, c, []byte("fast "+tc.name))
			}
			x.SyncFastPath()
			after, _ := x.FastPath()
			// Both directions of every round, but for the first few
			// packets the engine judges.
			got := after.Packets - before.Packets
			t.Logf("%d rounds: %d packets on the fast path", rounds, got)
			if got < 2*rounds-10 {
				t.Errorf("the fast path forwarded %d packets of %d rounds", got, rounds)
			}
		})
	}
}

// TestEBPFCaptureOneENI: capturing one ENI takes that ENI alone off the
// fast path, with the kernel's entries of the flows towards it: every
// packet of a flow already on the fast path is captured, both ways; when
// the capture ends, the flow is installed again.
func TestEBPFCaptureOneENI(t *testing.T) {
	x, c := fastFlow(t, "ebpf-capture")
	port, _ := x.Engine().Port("eni-app")
	s, err := x.Tap().Attach(io.Discard, []capture.Point{{Port: port, Interface: capture.Interface{Name: "eni-app"}}}, capture.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitNoFast(t, x, "eni-app")
	x.SyncFastPath()
	before, _ := x.FastPath()
	const rounds = 50
	for range rounds {
		echo(t, c, []byte("captured"))
	}
	x.SyncFastPath()
	after, _ := x.FastPath()
	if after.Packets != before.Packets {
		t.Errorf("the fast path forwarded %d packets while eni-app was captured", after.Packets-before.Packets)
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Packets < 2*rounds && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); st.Packets < 2*rounds {
		t.Errorf("captured %d packets, want at least the %d of the echoes both ways (%+v)", st.Packets, 2*rounds, st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoFast(t, x)
	for range 20 {
		echo(t, c, []byte("fast again"))
	}
	x.SyncFastPath()
	if fs, _ := x.FastPath(); fs.Packets == after.Packets {
		t.Errorf("the flow did not return to the fast path after the capture: %+v", fs)
	}
}

// waitNoFast waits up to 5 s for the ENIs off the fast path to be want.
func waitNoFast(t *testing.T, x *live.Lab, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		fs, _ := x.FastPath()
		if slices.Equal(fs.NoFast, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ENIs off the fast path: %q, want %q", fs.NoFast, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
