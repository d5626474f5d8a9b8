package policytest

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// testLab is a small lab for the tests of this file:
//
//	subnet-a 10.0.1.0/24 + IPv6  public   default ACL  web 10.0.1.10, ::10  default group
//	subnet-b 10.0.2.0/24         private  acl-b        db  10.0.2.10        sg-db
const testLab = `
vpc: {id: vpc-t, cidr: 10.0.0.0/16, ipv6_cidr: "2600:1f18:aa:bb00::/56"}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:aa:bb01::/64", public: true}
  - {id: subnet-b, cidr: 10.0.2.0/24, network_acl: acl-b}
network_acls:
  - id: acl-b
    ingress:
      - {rule: 100, action: allow, protocol: tcp, ports: 5432, cidr: 10.0.1.0/24}
    egress:
      - {rule: 100, action: allow, protocol: tcp, ports: 1024-65535, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-db
    ingress:
      - {id: sgr-db, protocol: tcp, ports: 5432, cidr: 10.0.1.0/24}
    egress: []
instances:
  - {name: web, subnet: subnet-a, ip: 10.0.1.10, ipv6: ["2600:1f18:aa:bb01::10"]}
  - {name: db, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-db]}
internet:
  hosts: [203.0.113.5]
`

// writeFiles writes files (name → content) to a new directory and returns
// its path.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRun(t *testing.T) {
	dir := writeFiles(t, map[string]string{"lab.yaml": testLab, "t.yaml": `lab: lab.yaml
steps:
  - name: query
    send: {from: web, to: db, proto: tcp, sport: 40000, dport: 5432, flags: S}
    expect: allow
    by: sg-ingress
    rule: sgr-db
  - send: {reply: query, flags: SA}
    expect: allow
    by: conntrack
  - name: wrong verdict
    send: {from: web, to: db, proto: tcp, sport: 40001, dport: 22, flags: S}
    expect: allow
  - name: wrong stage
    send: {from: web, to: db, proto: tcp, sport: 40001, dport: 22, flags: S}
    expect: deny
    by: sg-ingress
  - name: wrong rule
    send: {from: web, to: db, proto: tcp, sport: 40001, dport: 22, flags: S}
    expect: deny
    by: nacl-ingress
    rule: 100
  - name: right rule
    send: {from: web, to: db, proto: tcp, sport: 40001, dport: 22, flags: S}
    expect: deny
    by: nacl-ingress
    rule: 32767
  - name: a rule of any stage passed
    send: {from: web, to: db, proto: tcp, sport: 40002, dport: 5432, flags: S}
    expect: allow
    rule: 100
  - name: a stage not passed
    send: {from: web, to: db, proto: tcp, sport: 40003, dport: 5432, flags: S}
    expect: allow
    by: exempt
  - name: no such sender
    send: {from: nobody, to: db, proto: udp, sport: 1, dport: 2}
    expect: allow
  - advance: 31s
  - apply: missing.yaml
    expect: error
  - apply: missing.yaml
  - apply: lab.yaml
    expect: error
  - apply: lab.yaml
`})
	f, err := Load(filepath.Join(dir, "t.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		ok             bool
		got, want, msg string
	}{
		{true, "allow", "allow by sg-ingress rule sgr-db", ""},
		{true, "allow", "allow by conntrack", ""},
		{false, "deny", "allow", "want allow; got deny nacl-ingress acl-b rule 32767 SUBNET_ACL_RESTRICTION"},
		{false, "deny", "deny by sg-ingress", "want deny by sg-ingress; got deny nacl-ingress acl-b rule 32767 SUBNET_ACL_RESTRICTION"},
		{false, "deny", "deny by nacl-ingress rule 100", "want deny by nacl-ingress rule 100; got deny nacl-ingress acl-b rule 32767"},
		{true, "deny", "deny by nacl-ingress rule 32767", ""},
		{true, "allow", "allow rule 100", ""},
		{false, "allow", "allow by exempt", "want allow by exempt; got allow sg-ingress eni-db sg-db/ingress/0 sgr-db SG_RULE_MATCH"},
		{false, "error", "allow", `"nobody" is not an instance, an ENI or an address of lab`},
		{true, "", "", ""},
		{true, "error", "error", "no such file or directory"},
		{false, "error", "applied", "no such file or directory"},
		{false, "loaded", "error", "the lab loaded, want it refused: it was not applied"},
		{true, "applied", "applied", ""},
	}
	if len(r.Steps) != len(want) {
		t.Fatalf("%d step results, want %d", len(r.Steps), len(want))
	}
	for i, w := range want {
		sr := r.Steps[i]
		if sr.Step != &f.Steps[i] || sr.OK != w.ok || sr.Got != w.got || sr.Want != w.want || !strings.Contains(sr.Msg, w.msg) || w.msg == "" && sr.Msg != "" {
			t.Errorf("step %d (%s): ok %v, got %q, want %q, msg %q;\nwant ok %v, got %q, want %q, msg containing %q",
				i, sr.Step, sr.OK, sr.Got, sr.Want, sr.Msg, w.ok, w.got, w.want, w.msg)
		}
		if sr.Verdict.Trace != nil {
			t.Errorf("step %d: the verdict keeps its trace pointer", i)
		}
	}
	if r.Passed != 6 || r.Failed != 7 {
		t.Errorf("%d passed, %d failed; want 6 and 7", r.Passed, r.Failed)
	}
	if v := r.Steps[0].Verdict; !v.Allowed || v.Stage != verdict.StageSGIngress || v.SG == nil || v.SG.ID != "sgr-db" {
		t.Errorf("first verdict %+v", v)
	}
	if n := len(r.Steps[0].Trace.Steps); n != 4 {
		t.Errorf("first trace has %d stages, want 4 (sg-egress, nacl-egress, nacl-ingress, sg-ingress)", n)
	}

	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, line := range []string{
		"✓ query                         allow  sg-ingress eni-db sg-db/ingress/0 sgr-db SG_RULE_MATCH\n",
		"✓ db → web tcp 5432→40000 [SA]  allow  sg-ingress eni-web CONNTRACK_ESTABLISHED\n",
		"✗ wrong verdict                 deny   nacl-ingress acl-b rule 32767 SUBNET_ACL_RESTRICTION\n" +
			"    " + f.Path + ":11: want allow; got deny nacl-ingress acl-b rule 32767 SUBNET_ACL_RESTRICTION\n" +
			"      pass sg-egress eni-web default/egress/0 SG_RULE_MATCH\n" +
			"      pass nacl-egress default rule 100 NACL_RULE_ALLOW\n" +
			"      deny nacl-ingress acl-b rule 32767 SUBNET_ACL_RESTRICTION\n",
		"✗ no such sender                error\n",
		"· advance 31s                   clock +31s\n",
		"✓ apply missing.yaml            refused: open ",
		"✗ apply lab.yaml                loaded\n",
		"✓ apply lab.yaml                applied\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("Write output lacks\n%s\nin\n%s", line, out)
		}
	}
	if !strings.HasSuffix(out, "\n6 passed, 7 failed\n") {
		t.Errorf("Write output does not end with the counts:\n%s", out)
	}
}

// TestRunLabError checks that a file whose lab cannot be loaded does not
// run.
func TestRunLabError(t *testing.T) {
	dir := writeFiles(t, map[string]string{"t.yaml": "lab: nowhere.yaml\nsteps: [{advance: 1s}]\n"})
	f, err := Load(filepath.Join(dir, "t.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := Run(f); err == nil {
		t.Errorf("Run succeeded with %d steps, want the lab's error", len(r.Steps))
	}
}

func TestReverse(t *testing.T) {
	ptr := func(v int) *int { return &v }
	for _, tc := range []struct {
		name    string
		in      Send
		want    Send
		typ, id int // of the reverse, for ICMP
	}{
		{
			name: "tcp",
			in:   Send{From: "web1", To: "db1", Family: 6, Proto: "tcp", Sport: 40000, Dport: 5432, Flags: "S", Size: 10, TTL: 3, Fragment: &Fragment{ID: 1}},
			want: Send{From: "db1", To: "web1", Family: 6, Proto: "tcp", Sport: 5432, Dport: 40000},
		},
		{
			name: "addresses",
			in:   Send{From: "web1", Src: "10.0.0.2", Dst: "203.0.113.5", Proto: "udp", Sport: 53, Dport: 9},
			want: Send{To: "web1", Dst: "10.0.0.2", Src: "203.0.113.5", Proto: "udp", Sport: 9, Dport: 53},
		},
		{name: "echo request", in: Send{From: "a", To: "b", Proto: "icmp", ID: ptr(7)}, typ: 0, id: 7},
		{name: "echo reply", in: Send{From: "a", To: "b", Proto: "icmp", Type: ptr(0), ID: ptr(7)}, typ: 8, id: 7},
		{name: "ICMPv6 echo request", in: Send{From: "a", To: "b", Proto: "icmpv6"}, typ: 129},
		{name: "ICMPv6 echo reply", in: Send{From: "a", To: "b", Proto: "58", Type: ptr(129), ID: ptr(3)}, typ: 128, id: 3},
		{name: "other ICMP", in: Send{From: "a", To: "b", Proto: "icmp", Type: ptr(3), Code: ptr(4)}, typ: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.in.Reverse()
			if r.Type == nil {
				if *r != tc.want {
					t.Errorf("Reverse() = %+v, want %+v", *r, tc.want)
				}
				return
			}
			if *r.Type != tc.typ || *r.ID != tc.id || *r.Code != orZero(tc.in.Code) || r.From != "b" || r.To != "a" {
				t.Errorf("Reverse() = %+v: type %d code %d id %d, want type %d id %d", *r, *r.Type, *r.Code, *r.ID, tc.typ, tc.id)
			}
			if r.Type == tc.in.Type || r.ID == tc.in.ID {
				t.Error("Reverse() shares a field with its send")
			}
		})
	}
}

func TestPacket(t *testing.T) {
	l, err := labfile.Parse("lab.yaml", []byte(testLab))
	if err != nil {
		t.Fatal(err)
	}
	snap := dataplane.New(l).Snapshot()
	query := &Send{From: "web", To: "db", Proto: "udp", Sport: 40000, Dport: 53, Size: 5}
	for _, tc := range []struct {
		name     string
		send     Send
		from, to verdict.Port
		want     packet.Parsed // the fields compared
		reason   packet.Reason
	}{
		{
			name: "tcp", send: Send{From: "web", To: "db", Proto: "tcp", Sport: 40000, Dport: 5432, Flags: "sa", TTL: 9},
			from: 0, to: 1,
			want: packet.Parsed{Family: 4, Proto: 6, TTL: 9, Src: ip("10.0.1.10"), Dst: ip("10.0.2.10"), SrcPort: 40000, DstPort: 5432, TCPFlags: packet.TCPSyn | packet.TCPAck},
		},
		{
			name: "family given", send: Send{From: "eni-web", To: "203.0.113.5", Family: 4, Proto: "udp", Sport: 1, Dport: 2},
			from: 0, to: verdict.PortInternet,
			want: packet.Parsed{Family: 4, Proto: 17, TTL: 64, Src: ip("10.0.1.10"), Dst: ip("203.0.113.5"), SrcPort: 1, DstPort: 2},
		},
		{
			name: "addresses given", send: Send{From: "web", Src: "2001:db8::1", To: "web", Dst: "2001:db8::2", Proto: "udp", Sport: 1, Dport: 2},
			from: 0, to: 0,
			want: packet.Parsed{Family: 6, Proto: 17, TTL: 64, Src: ip("2001:db8::1"), Dst: ip("2001:db8::2"), SrcPort: 1, DstPort: 2},
		},
		{
			name: "ICMP echo", send: Send{Src: "169.254.169.254", To: "web", Proto: "icmp", ID: func() *int { v := 9; return &v }()},
			from: verdict.PortService, to: 0,
			want: packet.Parsed{Family: 4, Proto: 1, TTL: 64, Src: ip("169.254.169.254"), Dst: ip("10.0.1.10"), ICMPType: 8, ICMPID: 9},
		},
		{
			name: "ICMPv6 by protocol", send: Send{From: "web", To: "eni-web", Proto: "icmpv6"},
			from: 0, to: 0,
			want: packet.Parsed{Family: 6, Proto: 58, TTL: 64, Src: ip("2600:1f18:aa:bb01::10"), Dst: ip("2600:1f18:aa:bb01::10"), ICMPType: 128},
		},
		{
			name: "later fragment", send: Send{From: "web", To: "db", Proto: "tcp", Size: 16, Fragment: &Fragment{ID: 7, Offset: 24}},
			from: 0, to: 1,
			want: packet.Parsed{Family: 4, Proto: 6, TTL: 64, Src: ip("10.0.1.10"), Dst: ip("10.0.2.10"), FragID: 7, FragOffset: 24},
		},
		{
			name: "tiny first fragment", send: Send{From: "web", To: "db", Proto: "tcp", Sport: 1, Dport: 2, Fragment: &Fragment{ID: 7, More: true, Length: 2}},
			from: 0, to: 1, reason: packet.ShortFragment,
		},
		{
			name: "tiny IPv6 first fragment", send: Send{From: "web", To: "2001:db8::5", Proto: "udp", Sport: 1, Dport: 2, Fragment: &Fragment{ID: 7, More: true, Length: 3}},
			from: 0, to: verdict.PortInternet, reason: packet.ShortFragment,
		},
		{
			name: "ICMP error", send: Send{From: "db", To: "web", Proto: "icmp", Type: func() *int { v := 3; return &v }(), Quote: query},
			from: 1, to: 0,
			want: packet.Parsed{Family: 4, Proto: 1, TTL: 64, Src: ip("10.0.2.10"), Dst: ip("10.0.1.10"), ICMPType: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf := []byte("prefix")
			from, to, pkt, err := tc.send.Packet(snap, buf)
			if err != nil {
				t.Fatal(err)
			}
			if from.Port != tc.from || to.Port != tc.to {
				t.Errorf("ports %d → %d, want %d → %d", from.Port, to.Port, tc.from, tc.to)
			}
			if string(pkt[:6]) != "prefix" {
				t.Fatalf("the packet does not follow buf's bytes")
			}
			var p packet.Parsed
			if r := p.Decode(pkt[6:]); r != tc.reason {
				t.Fatalf("Decode: %v, want %v", r, tc.reason)
			}
			if tc.reason != packet.OK {
				return
			}
			got := packet.Parsed{Family: p.Family, Proto: p.Proto, TTL: p.TTL, Src: p.Src, Dst: p.Dst, SrcPort: p.SrcPort, DstPort: p.DstPort,
				TCPFlags: p.TCPFlags, ICMPType: p.ICMPType, ICMPCode: p.ICMPCode, ICMPID: p.ICMPID, FragID: p.FragID, FragOffset: p.FragOffset}
			if got != tc.want {
				t.Errorf("packet\n%+v\nwant\n%+v", got, tc.want)
			}
			if from.Addr != p.Src || to.Addr != p.Dst {
				t.Errorf("endpoint addresses %v → %v, packet's %v → %v", from.Addr, to.Addr, p.Src, p.Dst)
			}
			if tc.send.Quote != nil {
				msg := pkt[6+p.L4Offset:]
				if checksum.Checksum(msg, 0) != 0xffff {
					t.Error("bad ICMP checksum")
				}
				_, _, q, _ := tc.send.Quote.Packet(snap, nil)
				if string(msg[8:]) != string(q) {
					t.Errorf("the error quotes %x, want %x", msg[8:], q)
				}
			}
		})
	}
}

func TestPacketErrors(t *testing.T) {
	l, err := labfile.Parse("lab.yaml", []byte(testLab))
	if err != nil {
		t.Fatal(err)
	}
	snap := dataplane.New(l).Snapshot()
	for _, tc := range []struct {
		send Send
		want string
	}{
		{Send{From: "nobody", To: "db", Proto: "icmp"}, `"nobody" is not an instance`},
		{Send{From: "10.0.1.99", To: "db", Proto: "icmp"}, "no interface has 10.0.1.99"},
		{Send{From: "db", To: "web", Family: 6, Proto: "icmp"}, "has no IPv6 address"},
		{Send{From: "web", Src: "2001:db8::1", To: "203.0.113.5", Proto: "icmp"}, "203.0.113.5 is not an IPv6 address"},
		{Send{From: "web", To: "db", Proto: "all"}, `"all" is not a protocol`},
		{Send{From: "web", To: "db", Proto: "tcp", Flags: "SYN"}, `"SYN" is not a set of TCP flags`},
		{Send{From: "web", To: "db", Proto: "tcp", Sport: 65536}, "sport 65536 is out of range: use 0-65535"},
		{Send{From: "web", To: "db", Family: 5, Proto: "udp"}, "family 5: use 4 or 6"},
		{Send{From: "web", To: "db", Proto: "udp", Fragment: &Fragment{ID: 1 << 16}}, "an IPv4 FragID must fit in 16 bits"},
		{Send{From: "web", To: "db", Proto: "udp", Fragment: &Fragment{Length: 9}}, "fragment length 9 is longer than the fragment's 8 bytes"},
		{Send{From: "web", To: "db", Proto: "udp", Fragment: &Fragment{Offset: 8, Length: 1}}, "fragment length cuts a first fragment"},
		{Send{From: "web", To: "db", Proto: "udp", Quote: &Send{From: "db", To: "web", Proto: "udp"}}, "only an ICMP message in IPv4 or an ICMPv6 message in IPv6"},
		{Send{From: "web", To: "db", Proto: "icmp", Size: 1, Quote: &Send{From: "db", To: "web", Proto: "udp"}}, "give no size"},
		{Send{From: "web", To: "db", Proto: "icmp", Quote: &Send{From: "x", To: "web", Proto: "udp"}}, "the quoted packet: "},
	} {
		if _, _, _, err := tc.send.Packet(snap, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", &tc.send, err, tc.want)
		}
	}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }
