// Package integration tests live labs end to end: real namespaces, real TUN
// devices with offloads, the kernel's TCP and ICMP on both ends, and the
// dataplane in between, all in the test process (package live).
//
// Every test brings up its own lab of the topology below under the prefix
// "vpclabit-" and a lab id of its own, so it touches no real lab (prefix
// "vpclab-") and no other test's. It removes an earlier crashed run's
// leftovers first (labnet.Down) and everything it made in t.Cleanup, failed
// or not. Traffic never leaves the namespaces the test made: sockets are
// opened from a thread locked inside a lab namespace.
//
//	vpclabit-ID@internet             vpclabit-ID:web                 vpclabit-ID:app
//	eth0 203.0.113.5/32              eth0 10.0.1.10/24               eth0 10.0.2.10/24
//	 │ TUN                            │ TUN  sg-web: in tcp 80 from    │ TUN  sg-app: in tcp 8080 and
//	 │                                │      anywhere; out all         │      ICMP echo from sg-web;
//	 │                                │                                │      out all
//	 │                  subnet-pub 10.0.1.0/24    subnet-app 10.0.2.0/24
//	 │                  public, default ACL       acl-app: in all; out tcp
//	 │                                │           1024-65535 and icmp only
//	 ▼                                ▼                                ▼
//	┌──────────────────────── live: one reader per device ───────────────────────┐
//	│ dataplane.Engine.Process: SG egress, NACLs, SG ingress, conntrack, route    │
//	└────────────────────────────────────────────────────────────────────────────┘
//
// These tests need root and /dev/net/tun; CI runs them as root, so they
// fail, never skip, without.
package integration

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"flag"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

const testPrefix = "vpclabit-"

// datapath is the datapath the suite's labs run: go test ./integration/
// -args -datapath=ebpf runs every test over the eBPF datapath (ebpf_test.go
// runs its own tests on it whatever the flag says).
var datapath = flag.String("datapath", live.DatapathTUN, "the datapath of the labs: tun or ebpf")

const testLab = `
vpc: {id: vpc-it, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-pub, cidr: 10.0.1.0/24, public: true}
  - {id: subnet-app, cidr: 10.0.2.0/24, network_acl: acl-app}
network_acls:
  - id: acl-app
    ingress:
      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}
    egress:
      - {rule: 100, action: allow, protocol: tcp, ports: 1024-65535, cidr: 0.0.0.0/0}
      - {rule: 110, action: allow, protocol: icmp, cidr: 0.0.0.0/0}
security_groups:
  - id: sg-web
    ingress:
      - {protocol: tcp, ports: 80, cidr: 0.0.0.0/0}
  - id: sg-app
    ingress:
      - {protocol: tcp, ports: 8080, group: sg-web}
      - {protocol: icmp, icmp_type: 8, group: sg-web}
instances:
  - {name: web, subnet: subnet-pub, ip: 10.0.1.10, security_groups: [sg-web]}
  - {name: app, subnet: subnet-app, ip: 10.0.2.10, security_groups: [sg-app]}
internet:
  hosts: [203.0.113.5]
`

const (
	webIP  = "10.0.1.10"
	appIP  = "10.0.2.10"
	inetIP = "203.0.113.5"

	// deniedWait is how long a connection whose packets are dropped is
	// given before the test calls it refused by policy: the lab is local,
	// an allowed handshake takes well under a millisecond.
	deniedWait = 300 * time.Millisecond
)

// startLab brings up testLab under a lab id of the test's own and removes
// it when the test ends.
func startLab(t *testing.T, id string) *live.Lab {
	t.Helper()
	return startLabFile(t, id, testLab)
}

// startLabFile brings up the lab of the YAML text file as startLab does.
func startLabFile(t *testing.T, id, file string) *live.Lab {
	t.Helper()
	if err := labnet.Check(); err != nil {
		t.Fatalf("%v\nThe integration tests make namespaces and TUN devices: run them as root (sudo go test ./integration/).", err)
	}
	l, err := labfile.Parse("integration.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	o := live.Options{Net: labnet.Options{ID: id, Prefix: testPrefix}, Datapath: *datapath}
	p, err := labnet.NewPlan(l, o.Net)
	if err != nil {
		t.Fatal(err)
	}
	if err := labnet.Down(p); err != nil { // an earlier crashed run's leftovers
		t.Fatal(err)
	}
	x, err := live.Start(l, o)
	if err != nil {
		t.Fatal(err)
	}
	if got, note := x.Datapath(); got != o.Datapath && o.Datapath != "" {
		x.Close()
		t.Fatalf("the lab runs the %s datapath, not %s: %s", got, o.Datapath, note)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	return x
}

// in runs fn on an OS thread inside the namespace of instance ("" for the
// internet's) and then switches the thread back. Sockets fn opens belong
// to that namespace for good and may be used from any goroutine.
func in(t *testing.T, x *live.Lab, instance string, fn func() error) error {
	t.Helper()
	ns := x.Plan().Internet()
	if instance != "" {
		ns = x.Plan().Instance(instance)
	}
	return x.Net().Do(ns.Name, fn)
}

// echoServer listens on TCP addr (IPv4 or IPv6) inside instance and
// echoes every connection back until the test ends.
func echoServer(t *testing.T, x *live.Lab, instance, addr string) {
	t.Helper()
	var ln net.Listener
	if err := in(t, x, instance, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
}

// dial connects from instance to addr, from local port lport when not 0,
// giving up after timeout.
func dial(t *testing.T, x *live.Lab, instance, addr string, lport int, timeout time.Duration) (net.Conn, error) {
	t.Helper()
	var c net.Conn
	err := in(t, x, instance, func() (err error) {
		d := net.Dialer{Timeout: timeout}
		if lport != 0 {
			d.LocalAddr = &net.TCPAddr{Port: lport}
		}
		c, err = d.Dial("tcp4", addr)
		return err
	})
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// echo sends msg over c and checks that the same bytes come back.
func echo(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo returned %q, want %q", got, msg)
	}
}

// wantTimeout fails the test unless err is a dial timeout: the policy
// dropped the handshake (a refusal would mean it reached the other end).
func wantTimeout(t *testing.T, err error) {
	t.Helper()
	var ne net.Error
	if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("dial: got %v, want a timeout (packets dropped by policy)", err)
	}
}

// wantDenied fails the test unless the device of port (an ENI id or
// "internet") counted packets denied at stage.
func wantDenied(t *testing.T, x *live.Lab, port string, stage verdict.Stage) {
	t.Helper()
	s := x.Device(port).Counters.Load()
	if s.DeniedPackets[stage] == 0 {
		t.Errorf("%s: no packet denied at %s; denied by stage: %v", port, stage, s.DeniedPackets)
	}
}

// TestTCPAllowed: web connects to app:8080, allowed by sg-app's rule for
// sg-web, across two subnets and acl-app; the bytes come back intact.
func TestTCPAllowed(t *testing.T) {
	x := startLab(t, "tcp-allowed")
	echoServer(t, x, "app", appIP+":8080")
	c, err := dial(t, x, "web", appIP+":8080", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, []byte("hello from web to app"))
	if s := x.Device("eni-web").Counters.Load(); s.AllowedPackets == 0 {
		t.Errorf("eni-web counted no allowed packet: %+v", s)
	}
}

// TestTCPDeniedBySG: app listens on 9090 too, but sg-app does not let it
// in: the SYN is dropped at web's packet's sg-ingress stage.
func TestTCPDeniedBySG(t *testing.T) {
	x := startLab(t, "tcp-denied")
	echoServer(t, x, "app", appIP+":9090")
	_, err := dial(t, x, "web", appIP+":9090", 0, deniedWait)
	wantTimeout(t, err)
	wantDenied(t, x, "eni-web", verdict.StageSGIngress)
}

// TestNACLReturnTraffic: acl-app lets out TCP to ports 1024-65535 only.
// A client on ephemeral port 40000 gets its replies; one on port 900 does
// not: app's SYN-ACK is dropped at nacl-egress.
func TestNACLReturnTraffic(t *testing.T) {
	x := startLab(t, "nacl-return")
	echoServer(t, x, "app", appIP+":8080")
	c, err := dial(t, x, "web", appIP+":8080", 40000, 5*time.Second)
	if err != nil {
		t.Fatalf("from an ephemeral port: %v", err)
	}
	echo(t, c, []byte("ephemeral"))
	_, err = dial(t, x, "web", appIP+":8080", 900, deniedWait)
	wantTimeout(t, err)
	wantDenied(t, x, "eni-app", verdict.StageNACLEgress)
}

// TestICMPEcho: web's echo request to app is allowed by sg-app (and the
// reply by conntrack); app's echo request to web is not (sg-web has no
// ICMP rule).
func TestICMPEcho(t *testing.T) {
	x := startLab(t, "icmp")
	if err := ping(t, x, "web", webIP, appIP, 1, time.Second); err != nil {
		t.Fatalf("web → app: %v", err)
	}
	// Another echo id: conntrack keys an echo flow by its addresses and id
	// alone, so a request back with web's id would ride web's entry.
	if err := ping(t, x, "app", appIP, webIP, 2, deniedWait); !isTimeout(err) {
		t.Fatalf("app → web: got %v, want a timeout (denied by sg-web)", err)
	}
	wantDenied(t, x, "eni-app", verdict.StageSGIngress)
}

// ping sends one ICMP (or, to an IPv6 address, ICMPv6) echo request with
// identifier id from instance (address src) to dst and waits up to timeout
// for the matching reply. The kernel fills in an ICMPv6 checksum.
func ping(t *testing.T, x *live.Lab, instance, src, dst string, id int, timeout time.Duration) error {
	t.Helper()
	to := net.ParseIP(dst)
	network, proto := "ip4:icmp", 1
	var request, reply icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if to.To4() == nil {
		network, proto = "ip6:ipv6-icmp", 58
		request, reply = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var pc *icmp.PacketConn
	if err := in(t, x, instance, func() (err error) {
		pc, err = icmp.ListenPacket(network, src)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	req, err := (&icmp.Message{Type: request, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte("vpclab")}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(req, &net.IPAddr{IP: to}); err != nil {
		return err
	}
	pc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != reply || !to.Equal(from.(*net.IPAddr).IP) {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == 1 {
			return nil
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestLargeTransfer sends 32 MiB of random bytes from web to app's echo
// server and checks what comes back, both directions at once. With TSO the
// kernel hands the devices GSO super-packets, judged once and forwarded
// whole: the counters must show some.
func TestLargeTransfer(t *testing.T) {
	const size = 32 << 20
	x := startLab(t, "large")
	echoServer(t, x, "app", appIP+":8080")
	c, err := dial(t, x, "web", appIP+":8080", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		werr <- err
	}()
	h := sha256.New()
	if _, err := io.CopyN(h, c, size); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatal("the bytes that came back differ from those sent")
	}
	t.Logf("%d MiB each way in %v: %.0f Mbit/s each way", size>>20, elapsed.Round(time.Millisecond), float64(size)*8/elapsed.Seconds()/1e6)
	x.SyncFastPath() // the eBPF datapath's counters, read back now
	web := x.Device("eni-web")
	s := web.Counters.Load()
	t.Logf("eni-web: offloads %s; %+v", web.Offloads, s)
	if web.Offloads&tun.OffloadTSO4 != 0 && s.SuperPackets == 0 {
		t.Errorf("eni-web has TSO but sent no super-packet")
	}
	if s.WriteErrors != 0 {
		t.Errorf("eni-web: %d frames refused by their destination", s.WriteErrors)
	}
}

// TestInternet: the internet host reaches web, in a public subnet, on port
// 80; it does not reach app, whose subnet has no route to the internet
// gateway.
func TestInternet(t *testing.T) {
	x := startLab(t, "internet")
	echoServer(t, x, "web", webIP+":80")
	echoServer(t, x, "app", appIP+":8080")
	c, err := dial(t, x, "", webIP+":80", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, c, []byte("GET / HTTP/1.0\r\n\r\n"))
	if la := c.LocalAddr().String(); !strings.HasPrefix(la, inetIP+":") {
		t.Errorf("connection from %s, want from %s", la, inetIP)
	}
	_, err = dial(t, x, "", appIP+":8080", 0, deniedWait)
	wantTimeout(t, err)
	wantDenied(t, x, "internet", verdict.StageRoute)
}
