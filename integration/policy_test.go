package integration

// Security-group references, same-subnet traffic under a deny-all network
// ACL, tracked and untracked flows across a policy change (spec §3.4-3.5),
// and UDP through security groups and conntrack. Each test brings up its
// own lab of one of the topologies below (lab ids polref, polnacl,
// poltrack, poludp under the prefix "vpclabit-"); every socket is opened
// inside the lab's namespaces.
//
// polRefLab (TestSGReference): one subnet, default ACL.
//
//	vpclabit-ID:app 10.0.1.10  sg-app   (no ingress; out all)
//	vpclabit-ID:other 10.0.1.20 sg-other (no ingress; out all)
//	vpclabit-ID:db 10.0.1.30   sg-db    in tcp 5432 from group sg-app; out all
//
// polNACLLab (TestSameSubnetIgnoresNACL): acl-none has no entries (deny all).
//
//	subnet-a 10.0.1.0/24, acl-none      subnet-b 10.0.2.0/24, default ACL
//	  a1 10.0.1.10   a2 10.0.1.20         b 10.0.2.10
//	all three in sg-vpc: in all from 10.0.0.0/16; out all
//
// polTrackLab (TestRuleChangeTrackedUntracked): one subnet, default ACL.
//
//	vpclabit-ID:cli 10.0.1.10  sg-cli (no ingress; out all)
//	vpclabit-ID:srv 10.0.1.20  sg-srv in tcp 7000 from 10.0.1.0/24 (tracked),
//	                                  in tcp 7001 from 0.0.0.0/0 (untracked:
//	                                  the out-all-to-0.0.0.0/0 rule answers it);
//	                                  out all to 0.0.0.0/0
//	then Apply(polTrackAfter): sg-srv loses both ingress rules.
//
// polUDPLab (TestUDPSecurityGroups): one subnet, default ACL.
//
//	vpclabit-ID:cli 10.0.1.10  sg-cli (no ingress; out all)
//	vpclabit-ID:srv 10.0.1.20  sg-srv in udp 9000 from 10.0.1.0/24; out nothing
//	                                  (egress: []), so its replies leave by
//	                                  conntrack only

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/verdict"
)

const polRefLab = `
vpc: {id: vpc-ref, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-app
  - id: sg-other
  - id: sg-db
    ingress:
      - {protocol: tcp, ports: 5432, group: sg-app}
instances:
  - {name: app, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-app]}
  - {name: other, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-other]}
  - {name: db, subnet: subnet-a, ip: 10.0.1.30, security_groups: [sg-db]}
`

// TestSGReference: sg-db lets in 5432 from the members of sg-app: app
// connects, other (in sg-other) is dropped at db's sg-ingress.
func TestSGReference(t *testing.T) {
	x := startLabFile(t, "polref", polRefLab)
	echoServer(t, x, "db", "10.0.1.30:5432")
	c, err := dial(t, x, "app", "10.0.1.30:5432", 0, 5*time.Second)
	if err != nil {
		t.Fatalf("app → db:5432: %v", err)
	}
	echo(t, c, []byte("SELECT 1"))
	_, err = dial(t, x, "other", "10.0.1.30:5432", 0, deniedWait)
	wantTimeout(t, err)
	wantDenied(t, x, "eni-other", verdict.StageSGIngress)
	// Only the security-group stages: the kernel's own packets (IPv6
	// link-local chatter) may be dropped at src-dst-check on any device.
	if s := x.Device("eni-app").Counters.Load(); s.DeniedPackets[verdict.StageSGEgress]+s.DeniedPackets[verdict.StageSGIngress] != 0 {
		t.Errorf("eni-app: packets denied by a security group: %v", s.DeniedPackets)
	}
}

const polNACLLab = `
vpc: {id: vpc-nacl, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24, network_acl: acl-none}
  - {id: subnet-b, cidr: 10.0.2.0/24}
network_acls:
  - id: acl-none
security_groups:
  - id: sg-vpc
    ingress:
      - {protocol: all, cidr: 10.0.0.0/16}
instances:
  - {name: a1, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-vpc]}
  - {name: a2, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-vpc]}
  - {name: b, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-vpc]}
`

// TestSameSubnetIgnoresNACL: acl-none denies everything, but a1 and a2
// share subnet-a, so no NACL stands between them (spec §4.6); b, in
// subnet-b, is stopped by acl-none on the way in, and a1's packets to b on
// the way out.
func TestSameSubnetIgnoresNACL(t *testing.T) {
	x := startLabFile(t, "polnacl", polNACLLab)
	echoServer(t, x, "a2", "10.0.1.20:8080")
	echoServer(t, x, "b", "10.0.2.10:8080")
	c, err := dial(t, x, "a1", "10.0.1.20:8080", 0, 5*time.Second)
	if err != nil {
		t.Fatalf("a1 → a2, same subnet: %v", err)
	}
	echo(t, c, []byte("same subnet"))

	_, err = dial(t, x, "b", "10.0.1.20:8080", 0, deniedWait)
	wantTimeout(t, err)
	wantDenied(t, x, "eni-b", verdict.StageNACLIngress)

	_, err = dial(t, x, "a1", "10.0.2.10:8080", 0, deniedWait)
	wantTimeout(t, err)
	wantDenied(t, x, "eni-a1", verdict.StageNACLEgress)
}

const polTrackLab = `
vpc: {id: vpc-track, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-cli
  - id: sg-srv
    ingress:
      - {protocol: tcp, ports: 7000, cidr: 10.0.1.0/24}
      - {protocol: tcp, ports: 7001, cidr: 0.0.0.0/0}
    egress:
      - {protocol: all, cidr: 0.0.0.0/0}
instances:
  - {name: cli, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-cli]}
  - {name: srv, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-srv]}
`

// polTrackAfter is polTrackLab with sg-srv's ingress rules removed.
const polTrackAfter = `
vpc: {id: vpc-track, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-cli
  - id: sg-srv
    ingress: []
    egress:
      - {protocol: all, cidr: 0.0.0.0/0}
instances:
  - {name: cli, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-cli]}
  - {name: srv, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-srv]}
`

// TestRuleChangeTrackedUntracked (spec §3.4, §3.5): cli opens one
// connection to srv:7000, tracked on srv (its rule's peer is a specific
// CIDR), and one to srv:7001, untracked on srv (peer 0.0.0.0/0 with an
// all-protocols, all-ports egress rule to 0.0.0.0/0). Then both rules go.
// The tracked connection goes on, riding srv's entry, but a new one to 7000
// is dropped; the untracked connection stops at once: its next bytes are
// judged by srv's rules, which no longer let them in.
func TestRuleChangeTrackedUntracked(t *testing.T) {
	x := startLabFile(t, "poltrack", polTrackLab)
	echoServer(t, x, "srv", "10.0.1.20:7000")
	echoServer(t, x, "srv", "10.0.1.20:7001")
	tracked, err := dial(t, x, "cli", "10.0.1.20:7000", 0, 5*time.Second)
	if err != nil {
		t.Fatalf("cli → srv:7000: %v", err)
	}
	echo(t, tracked, []byte("tracked, before"))
	untracked, err := dial(t, x, "cli", "10.0.1.20:7001", 0, 5*time.Second)
	if err != nil {
		t.Fatalf("cli → srv:7001: %v", err)
	}
	echo(t, untracked, []byte("untracked, before"))
	// Let both connections fall silent (delayed ACKs and window updates)
	// before the change. A packet srv sent after it would be allowed by
	// its egress rule and, with the ingress rule gone, no longer qualify
	// as untracked (§3.4): it would make an entry on srv, and the
	// client's next packets would pass as its replies. That is the spec's
	// behaviour, not the cut this test is about.
	time.Sleep(300 * time.Millisecond)

	after, err := labfile.Parse("after.yaml", []byte(polTrackAfter))
	if err != nil {
		t.Fatal(err)
	}
	if err := x.Apply(after); err != nil {
		t.Fatal(err)
	}

	echo(t, tracked, []byte("tracked, after the rule is gone"))

	_, err = dial(t, x, "cli", "10.0.1.20:7000", 0, deniedWait)
	wantTimeout(t, err)
	wantDenied(t, x, "eni-cli", verdict.StageSGIngress)

	msg := []byte("untracked, after the rule is gone")
	untracked.SetDeadline(time.Now().Add(deniedWait))
	if _, err := untracked.Write(msg); err != nil {
		t.Fatalf("writing on the untracked connection: %v", err)
	}
	got := make([]byte, len(msg))
	if n, err := io.ReadFull(untracked, got); !isTimeout(err) {
		t.Fatalf("untracked connection after the rule is gone: read %d bytes (%q), err %v; want a timeout", n, got[:n], err)
	}
}

const polUDPLab = `
vpc: {id: vpc-udp, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-cli
  - id: sg-srv
    ingress:
      - {protocol: udp, ports: 9000, cidr: 10.0.1.0/24}
    egress: []
instances:
  - {name: cli, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-cli]}
  - {name: srv, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-srv]}
`

// polUDPListen opens a UDP socket on addr inside instance, closed when the
// test ends.
func polUDPListen(t *testing.T, x *live.Lab, instance, addr string) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	if err := in(t, x, instance, func() (err error) {
		pc, err = net.ListenPacket("udp4", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

// polUDPEchoServer echoes every datagram to addr inside instance back to
// its sender until the test ends.
func polUDPEchoServer(t *testing.T, x *live.Lab, instance, addr string) {
	t.Helper()
	pc := polUDPListen(t, x, instance, addr)
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

// polUDPSend sends msg from pc to addr and waits up to timeout for a
// datagram from addr; it returns what came, or the read's error.
func polUDPSend(t *testing.T, pc net.PacketConn, addr string, msg []byte, timeout time.Duration) ([]byte, error) {
	t.Helper()
	to, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(msg, to); err != nil {
		t.Fatal(err)
	}
	pc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return nil, err
		}
		if from.String() == to.String() {
			return buf[:n], nil
		}
	}
}

// TestUDPSecurityGroups: cli's datagram to srv:9000 is let in by sg-srv,
// and srv's reply goes out (sg-srv allows nothing out) and into cli (sg-cli
// allows nothing in) by conntrack alone. A datagram to srv:9001 is dropped
// at srv's sg-ingress, and one srv starts itself, to cli, at its
// sg-egress.
func TestUDPSecurityGroups(t *testing.T) {
	x := startLabFile(t, "poludp", polUDPLab)
	polUDPEchoServer(t, x, "srv", "10.0.1.20:9000")
	polUDPEchoServer(t, x, "srv", "10.0.1.20:9001")
	cliIn := polUDPListen(t, x, "cli", "10.0.1.10:9002")
	cli := polUDPListen(t, x, "cli", "10.0.1.10:0")

	msg := []byte("udp request")
	got, err := polUDPSend(t, cli, "10.0.1.20:9000", msg, 5*time.Second)
	if err != nil {
		t.Fatalf("cli → srv:9000: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("cli → srv:9000: reply %q, want %q", got, msg)
	}

	if got, err := polUDPSend(t, cli, "10.0.1.20:9001", msg, deniedWait); !isTimeout(err) {
		t.Fatalf("cli → srv:9001: got %q, %v; want a timeout (denied by sg-srv)", got, err)
	}
	wantDenied(t, x, "eni-cli", verdict.StageSGIngress)

	srv := polUDPListen(t, x, "srv", "10.0.1.20:0")
	if _, err := srv.WriteTo([]byte("unasked"), &net.UDPAddr{IP: net.ParseIP("10.0.1.10"), Port: 9002}); err != nil {
		t.Fatal(err)
	}
	cliIn.SetReadDeadline(time.Now().Add(deniedWait))
	buf := make([]byte, 2048)
	if n, from, err := cliIn.ReadFrom(buf); !isTimeout(err) {
		t.Fatalf("srv → cli:9002: cli got %q from %v (%v); want nothing (denied by sg-srv's empty egress)", buf[:n], from, err)
	}
	wantDenied(t, x, "eni-srv", verdict.StageSGEgress)
}
