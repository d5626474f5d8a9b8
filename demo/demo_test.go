package demo

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

// testPrefix names the namespaces of this package's labs, apart from real
// labs ("vpclab-") and the integration tests' ("vpclabit-").
const testPrefix = "vpclabdm-"

// TestCases pins the matrix of the built-in example lab.
func TestCases(t *testing.T) {
	var got []string
	for _, c := range Cases(labfile.ExampleLab(), 0) {
		got = append(got, c.Name)
	}
	want := []string{
		"web1 → app1 tcp/8080",
		"db1 → app1 tcp/8080",
		"web1 → db1 tcp/5432",
		"app1 → db1 tcp/5432",
		"203.0.113.5 → web1 tcp/80",
		"203.0.113.5 → web1 tcp/443",
		"203.0.113.5 → web1 tcp/22",
		"203.0.113.5 → web1 icmp echo",
		"203.0.113.5 → app1 tcp/8080",
		"203.0.113.5 → db1 tcp/5432",
		"web1 → 203.0.113.5 tcp/443",
		"app1 → 203.0.113.5 tcp/443",
		"db1 → 203.0.113.5 tcp/443",
		"2001:db8::5 → web1 tcp/80 (IPv6)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("cases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(Cases(labfile.ExampleLab(), 5)); n != 5 {
		t.Errorf("Cases(example, 5): %d cases", n)
	}
}

// TestDemoExample runs the demo on the example lab, live, and wants every
// case to agree with explain. It needs root and /dev/net/tun (CI runs it
// as root: it fails, never skips, without).
func TestDemoExample(t *testing.T) {
	l := labfile.ExampleLab()
	r := runLive(t, l, "ex")
	if r.Total != len(Cases(l, 0)) || !r.OK() {
		t.Errorf("%d cases of %d run, %d agree", r.Total, len(Cases(l, 0)), r.Agreed)
	}
	for _, c := range r.Cases {
		if !c.Agree {
			t.Errorf("%s: predicted %v (%s), observed %v (%s)", c.Name, c.Predicted, c.Why, c.Observed, c.Seen)
		}
	}
}

// runLive runs the demo on l under a lab id of its own (id and the
// process id) and logs the table. It removes a crashed run's leftovers
// first, and the lab at the end, failed or not.
func runLive(t *testing.T, l *lab.Lab, id string) *Report {
	t.Helper()
	if err := labnet.Check(); err != nil {
		t.Fatalf("%v\nThe demo makes namespaces and TUN devices: run it as root.", err)
	}
	// A fixed id per test, not one per process: Down at the start then also
	// removes what a crashed earlier run left, and no lock files pile up.
	o := Options{Live: live.Options{Net: labnet.Options{ID: id, Prefix: testPrefix}}}
	p, err := labnet.NewPlan(l, o.Live.Net)
	if err != nil {
		t.Fatal(err)
	}
	if err := labnet.Down(p); err != nil { // a crashed run's leftovers
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := labnet.Down(p); err != nil {
			t.Errorf("removing the lab: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := Run(ctx, l, o)
	if r != nil {
		var b strings.Builder
		r.WriteText(&b)
		t.Logf("\n%s", b.String())
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// udpLab has UDP and ICMP rules with group peers, no internet and no IPv6.
const udpLab = `
vpc: {id: vpc-dm, cidr: 10.1.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.1.1.0/24}
  - {id: subnet-b, cidr: 10.1.2.0/24, network_acl: acl-b}
network_acls:
  - id: acl-b
    ingress:
      - {rule: 100, action: allow, protocol: udp, ports: 5353, cidr: 10.1.1.0/24}
      - {rule: 110, action: allow, protocol: icmp, cidr: 10.1.1.0/24}
    egress:
      - {rule: 100, action: allow, protocol: icmp, cidr: 10.1.1.0/24}
security_groups:
  - id: sg-a
    ingress:
      - {protocol: udp, ports: 9000-9100, cidr: 10.1.0.0/16}
  - id: sg-b
    ingress:
      - {protocol: udp, ports: 5353, group: sg-a}
      - {protocol: icmp, icmp_type: -1, group: sg-a}
instances:
  - {name: a, subnet: subnet-a, ip: 10.1.1.10, security_groups: [sg-a]}
  - {name: b, subnet: subnet-b, ip: 10.1.2.10, security_groups: [sg-b]}
`

// TestDemoUDP runs the demo live on udpLab: UDP both ways (one reply
// blocked by acl-b's egress), ICMP echo both ways.
func TestDemoUDP(t *testing.T) {
	l, err := labfile.Parse("udp.yaml", []byte(udpLab))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range Cases(l, 0) {
		names = append(names, c.Name)
	}
	want := "b → a udp/9000\na → b udp/5353\na → b icmp echo"
	if got := strings.Join(names, "\n"); got != want {
		t.Fatalf("cases:\n%s\nwant:\n%s", got, want)
	}
	r := runLive(t, l, "udp")
	want = "b → a udp/9000: false false\na → b udp/5353: false false\na → b icmp echo: true true"
	var got []string
	for _, c := range r.Cases {
		got = append(got, fmt.Sprintf("%s: %v %v", c.Name, c.Predicted, c.Observed))
	}
	if strings.Join(got, "\n") != want {
		t.Errorf("outcomes:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}
