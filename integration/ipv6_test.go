package integration

// IPv6 between two instances of one subnet: TCP and ICMPv6 echo over their
// IPv6 addresses, allowed by ::/0 rules (TestIPv6Allowed) and denied when
// the group's rules name only 0.0.0.0/0 (TestIPv6Denied: IPv4 rules never
// match IPv6, and icmp never matches ICMPv6). Each test brings up its own
// lab (ids ipv6-allow, ipv6-deny under the prefix "vpclabit-"); every
// socket is opened inside the lab's namespaces.
//
//	vpc-six 10.0.0.0/16, 2600:1f18:aa:bb00::/56
//	subnet-six 10.0.1.0/24, 2600:1f18:aa:bb01::/64, default ACL (rules 100, 101)
//
//	vpclabit-ID:a                          vpclabit-ID:b
//	eth0 10.0.1.10/24                      eth0 10.0.1.20/24
//	     2600:1f18:aa:bb01::10/64               2600:1f18:aa:bb01::20/64
//	both in sg-six: out all (0.0.0.0/0 and ::/0, the default);
//	  ipv6-allow: in tcp 8080 from ::/0, icmpv6 all from ::/0
//	  ipv6-deny:  in tcp 8080 from 0.0.0.0/0, icmp all from 0.0.0.0/0

import (
	"net"
	"testing"
	"time"

	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/verdict"
)

const ipv6LabHead = `
vpc: {id: vpc-six, cidr: 10.0.0.0/16, ipv6_cidr: "2600:1f18:aa:bb00::/56"}
subnets:
  - {id: subnet-six, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:aa:bb01::/64"}
instances:
  - {name: a, subnet: subnet-six, ip: 10.0.1.10, ipv6: ["2600:1f18:aa:bb01::10"], security_groups: [sg-six]}
  - {name: b, subnet: subnet-six, ip: 10.0.1.20, ipv6: ["2600:1f18:aa:bb01::20"], security_groups: [sg-six]}
security_groups:
  - id: sg-six
    ingress:
`

const ipv6AllowLab = ipv6LabHead + `
      - {protocol: tcp, ports: 8080, cidr: "::/0"}
      - {protocol: icmpv6, cidr: "::/0"}
`

const ipv6DenyLab = ipv6LabHead + `
      - {protocol: tcp, ports: 8080, cidr: 0.0.0.0/0}
      - {protocol: icmp, cidr: 0.0.0.0/0}
`

const (
	sixA = "2600:1f18:aa:bb01::10"
	sixB = "2600:1f18:aa:bb01::20"
)

// sixDial connects from instance to the TCP address addr (any family).
func sixDial(t *testing.T, x *live.Lab, instance, addr string, timeout time.Duration) (net.Conn, error) {
	t.Helper()
	var c net.Conn
	err := in(t, x, instance, func() (err error) {
		d := net.Dialer{Timeout: timeout}
		c, err = d.Dial("tcp", addr)
		return err
	})
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestIPv6Allowed: a reaches b's TCP echo server over IPv6, and each pings
// the other over ICMPv6, allowed by sg-six's ::/0 rules.
func TestIPv6Allowed(t *testing.T) {
	x := startLabFile(t, "ipv6-allow", ipv6AllowLab)
	echoServer(t, x, "b", "["+sixB+"]:8080")
	c, err := sixDial(t, x, "a", "["+sixB+"]:8080", 5*time.Second)
	if err != nil {
		t.Fatalf("a → [b]:8080: %v", err)
	}
	echo(t, c, []byte("hello over IPv6"))
	if err := ping(t, x, "a", sixA, sixB, 1, 2*time.Second); err != nil {
		t.Fatalf("ping6 a → b: %v", err)
	}
	if err := ping(t, x, "b", sixB, sixA, 2, 2*time.Second); err != nil {
		t.Fatalf("ping6 b → a: %v", err)
	}
	for _, eni := range []string{"eni-a", "eni-b"} {
		if s := x.Device(eni).Counters.Load(); s.AllowedPackets == 0 || s.DeniedPackets[verdict.StageSGIngress] != 0 {
			t.Errorf("%s: %d packets allowed, %d denied at sg-ingress", eni, s.AllowedPackets, s.DeniedPackets[verdict.StageSGIngress])
		}
	}
}

// TestIPv6Denied: sg-six lets in tcp 8080 and icmp from 0.0.0.0/0 only.
// They work over IPv4 (the rules are there), but the same over IPv6 is
// dropped at b's sg-ingress.
func TestIPv6Denied(t *testing.T) {
	x := startLabFile(t, "ipv6-deny", ipv6DenyLab)
	echoServer(t, x, "b", "[::]:8080") // both families
	c, err := sixDial(t, x, "a", "10.0.1.20:8080", 5*time.Second)
	if err != nil {
		t.Fatalf("a → b:8080 over IPv4: %v", err)
	}
	echo(t, c, []byte("hello over IPv4"))
	if err := ping(t, x, "a", "10.0.1.10", "10.0.1.20", 1, 2*time.Second); err != nil {
		t.Fatalf("ping a → b over IPv4: %v", err)
	}

	_, err = sixDial(t, x, "a", "["+sixB+"]:8080", deniedWait)
	wantTimeout(t, err)
	if err := ping(t, x, "a", sixA, sixB, 2, deniedWait); !isTimeout(err) {
		t.Fatalf("ping6 a → b: got %v, want a timeout (denied by sg-six)", err)
	}
	wantDenied(t, x, "eni-a", verdict.StageSGIngress)
}
