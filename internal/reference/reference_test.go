package reference

// Hand-written cases that check the reference itself against the spec,
// without the engine: each names the section it checks.

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/verdict"
)

// A small lab for the cases: two subnets, five instances; c and p (two
// ENIs in the default group) have an allowance of one flow.
const specLab = `
vpc: {id: vpc-t, cidr: 10.0.0.0/16, ipv6_cidr: "2600:1f18:aa:bb00::/56"}
subnets:
  - {id: sn-a, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:aa:bb01::/64", public: true, network_acl: acl-a}
  - {id: sn-b, cidr: 10.0.2.0/24}
network_acls:
  - id: acl-a
    ingress:
      - {rule: 100, action: allow, protocol: tcp, ports: 22, cidr: 0.0.0.0/0}
      - {rule: 110, action: allow, protocol: all, cidr: 10.0.0.0/16}
      - {rule: 120, action: allow, protocol: udp, ports: 1024-65535, cidr: 0.0.0.0/0}
      - {rule: 130, action: allow, protocol: icmp, cidr: 0.0.0.0/0}
    egress:
      - {rule: 90, action: deny, protocol: tcp, ports: 25, cidr: 0.0.0.0/0}
      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}
security_groups:
  - id: sg-ssh
    ingress:
      - {protocol: tcp, ports: 22, cidr: 0.0.0.0/0}
      - {protocol: icmp, icmp_type: 8, cidr: 0.0.0.0/0}
  - id: sg-open
    ingress:
      - {protocol: udp, cidr: 0.0.0.0/0}
    egress:
      - {protocol: udp, ports: 0-65535, cidr: 0.0.0.0/0}
  - id: sg-db
    ingress:
      - {protocol: tcp, ports: 5432, group: sg-ssh}
    egress: []
instances:
  - {name: a, subnet: sn-a, ip: 10.0.1.10, ipv6: ["2600:1f18:aa:bb01::10"], security_groups: [sg-ssh, sg-open]}
  - {name: a2, subnet: sn-a, ip: 10.0.1.11, security_groups: [sg-ssh]}
  - {name: b, subnet: sn-b, ip: 10.0.2.10, security_groups: [sg-db]}
  - {name: c, subnet: sn-b, ip: 10.0.2.20, conntrack_allowance: 1, security_groups: [sg-db]}
  - name: p
    conntrack_allowance: 1
    interfaces:
      - {id: eni-p1, subnet: sn-a, ip: 10.0.1.21, conntrack: {tcp_established_timeout: 60}}
      - {id: eni-p2, subnet: sn-a, ip: 10.0.1.22}
internet:
  hosts: [203.0.113.5, "2001:db8::5"]
`

func mustLab(t *testing.T, text string) *lab.Lab {
	t.Helper()
	l, err := labfile.Parse("spec.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	addrA   = netip.MustParseAddr("10.0.1.10")
	addrA6  = netip.MustParseAddr("2600:1f18:aa:bb01::10")
	addrA2  = netip.MustParseAddr("10.0.1.11")
	addrB   = netip.MustParseAddr("10.0.2.10")
	addrC   = netip.MustParseAddr("10.0.2.20")
	addrNet = netip.MustParseAddr("203.0.113.5")
	addrNt6 = netip.MustParseAddr("2001:db8::5")
)

func tcp(from string, src netip.Addr, sport uint16, dst netip.Addr, dport uint16, flags uint8) Packet {
	return Packet{From: from, Src: src, Dst: dst, Proto: 6, SrcPort: sport, DstPort: dport, TCPFlags: flags}
}

func udp(from string, src netip.Addr, sport uint16, dst netip.Addr, dport uint16) Packet {
	return Packet{From: from, Src: src, Dst: dst, Proto: 17, SrcPort: sport, DstPort: dport}
}

// want checks a result's decision and, when given, the deciding rule.
func want(t *testing.T, what string, r Result, allowed bool, stage verdict.Stage, code verdict.Code) {
	t.Helper()
	if r.Allowed != allowed || r.Stage != stage || r.Code != code {
		t.Errorf("%s: got %s, want allowed=%v stage=%v code=%v\n  %v", what, r, allowed, stage, code, r.Trace)
	}
}

func TestSpecCases(t *testing.T) {
	s := time.Second
	t.Run("§2.1 a rule allows; §3.4 an untracked flow; §4.1 first match; §4.5 the NACL checks replies", func(t *testing.T) {
		ev := New(mustLab(t, specLab))
		r := ev.Judge(tcp(FromInternet, addrNet, 40000, addrA, 22, tcpSYN), 0)
		want(t, "SYN in", r, true, verdict.StageSGIngress, verdict.CodeSGRuleMatch)
		if r.SG == nil || r.SG.Group != "sg-ssh" || r.SG.Index != 0 {
			t.Errorf("SYN in: rule %v, want sg-ssh ingress[0]", r.SG)
		}
		// sg-ssh allows 22 from 0.0.0.0/0 and (default rule) everything
		// to 0.0.0.0/0: the flow is untracked, and the reply leaves by the
		// rules, then through acl-a's egress rule 100.
		if n := len(ev.tables["eni-a"]); n != 0 {
			t.Errorf("untracked TCP made %d entries", n)
		}
		r = ev.Judge(tcp("eni-a", addrA, 22, addrNet, 40000, tcpSYN|tcpACK), s)
		want(t, "SYN-ACK out", r, true, verdict.StageNACLEgress, verdict.CodeNACLAllow)
		if r.NACLRule != 100 || r.ACL != "acl-a" {
			t.Errorf("SYN-ACK out: %s, want acl-a rule 100", r)
		}
		// §4.1: entry 90 denies port 25 before entry 100 allows all.
		r = ev.Judge(tcp("eni-a", addrA, 22, netip.MustParseAddr("198.51.100.1"), 25, tcpSYN), s)
		want(t, "to port 25", r, false, verdict.StageNACLEgress, verdict.CodeSubnetACLRestrict)
		if r.NACLRule != 90 {
			t.Errorf("to port 25: rule %d, want 90", r.NACLRule)
		}
	})

	t.Run("§2.2 group reference; §3.1 replies leave a group with no egress rules", func(t *testing.T) {
		ev := New(mustLab(t, specLab))
		r := ev.Judge(tcp("eni-a", addrA, 50000, addrB, 5432, tcpSYN), 0)
		want(t, "a to b:5432", r, true, verdict.StageSGIngress, verdict.CodeSGRuleMatch)
		r = ev.Judge(tcp("eni-b", addrB, 5432, addrA, 50000, tcpSYN|tcpACK), s)
		want(t, "b replies", r, true, verdict.StageSGIngress, verdict.CodeConntrack)
		r = ev.Judge(tcp("eni-b", addrB, 5432, addrA, 50001, tcpSYN), s)
		want(t, "b opens", r, false, verdict.StageSGEgress, verdict.CodeSGRulesMismatch)
		// The referenced group matches private addresses only: from the
		// internet nothing reaches 5432.
		r = ev.Judge(tcp(FromInternet, addrNet, 50000, addrB, 5432, tcpSYN), s)
		want(t, "internet to private b", r, false, verdict.StageRoute, verdict.CodeNoInternetGateway)
	})

	t.Run("§4.6 no NACL inside a subnet; §4.2 implicit deny numbers", func(t *testing.T) {
		ev := New(mustLab(t, specLab))
		r := ev.Judge(tcp("eni-a2", addrA2, 1000, addrA, 22, tcpSYN), 0)
		want(t, "a2 to a", r, true, verdict.StageSGIngress, verdict.CodeSGRuleMatch)
		for _, tr := range r.Trace {
			if len(tr) > 4 && tr[:4] == "nacl" {
				t.Errorf("a NACL stage inside one subnet: %v", r.Trace)
			}
		}
		r = ev.Judge(tcp(FromInternet, addrNet, 1000, addrA, 80, tcpSYN), 0)
		want(t, "internet to a:80", r, false, verdict.StageNACLIngress, verdict.CodeSubnetACLRestrict)
		if r.NACLRule != 32767 {
			t.Errorf("IPv4 implicit deny: rule %d, want 32767", r.NACLRule)
		}
		r = ev.Judge(tcp(FromInternet, addrNt6, 1000, addrA6, 22, tcpSYN), 0)
		want(t, "internet to a over IPv6", r, false, verdict.StageNACLIngress, verdict.CodeSubnetACLRestrict)
		if r.NACLRule != 32768 {
			t.Errorf("IPv6 implicit deny: rule %d, want 32768 (§4.3: IPv4 entries never match)", r.NACLRule)
		}
	})

	t.Run("§3.4 untracked flows; §3.5 rule removal cuts them but not tracked ones", func(t *testing.T) {
		l := mustLab(t, specLab)
		ev := New(l)
		// UDP to a: sg-open allows UDP from 0.0.0.0/0 in and all UDP ports
		// to 0.0.0.0/0 out: untracked, no entry.
		r := ev.Judge(udp(FromInternet, addrNet, 5000, addrA, 6000), 0)
		want(t, "udp in", r, true, verdict.StageSGIngress, verdict.CodeSGRuleMatch)
		if n := len(ev.tables["eni-a"]); n != 0 {
			t.Errorf("untracked UDP made %d entries", n)
		}
		// ICMP echo is always tracked (§3.3).
		echo := Packet{From: FromInternet, Src: addrNet, Dst: addrA, Proto: 1, ICMPType: 8, ICMPID: 7}
		want(t, "ping in", ev.Judge(echo, 0), true, verdict.StageSGIngress, verdict.CodeSGRuleMatch)
		// Remove every ingress rule: the tracked echo flow goes on, the
		// untracked UDP flow is cut at once.
		l2 := mustLab(t, specLab)
		for _, g := range l2.SecurityGroups {
			g.Ingress = nil
			g.Egress = nil
		}
		ev.Apply(l2)
		r = ev.Judge(udp(FromInternet, addrNet, 5000, addrA, 6000), s)
		want(t, "udp after removal", r, false, verdict.StageSGIngress, verdict.CodeSGRulesMismatch)
		reply := Packet{From: "eni-a", Src: addrA, Dst: addrNet, Proto: 1, ICMPType: 0, ICMPID: 7}
		want(t, "echo reply after removal (§3.2: a reply matches its request)", ev.Judge(reply, s), true, verdict.StageNACLEgress, verdict.CodeNACLAllow)
	})

	t.Run("§3.6 UDP timeouts: 30 s, then 180 s once a stream", func(t *testing.T) {
		ev := New(mustLab(t, specLab))
		// The state machine, packet by packet: in opens, out answers.
		in := udp("eni-a", addrA, 2000, addrB, 1000)
		out := udp("eni-b", addrB, 1000, addrA, 2000)
		e := newEntry(in, 0)
		if e.state != udpUnreplied {
			t.Fatalf("new UDP entry: state %v", e.state)
		}
		e.advance(in)
		if e.state != udpUnreplied {
			t.Errorf("same direction: state %v, want unreplied", e.state)
		}
		e.advance(out)
		if e.state != udpReplied {
			t.Errorf("reply: state %v, want replied", e.state)
		}
		e.advance(in)
		if e.state != udpStream {
			t.Errorf("after the reply: state %v, want stream", e.state)
		}
		eni := ev.lab.Interface("eni-a")
		if got := ev.timeout(e, eni); got != 180*s {
			t.Errorf("stream timeout %v, want 180s", got)
		}
		e.state = udpReplied
		if got := ev.timeout(e, eni); got != 30*s {
			t.Errorf("replied timeout %v, want 30s", got)
		}
	})

	t.Run("§3.7 allowance; §3.9 entries only for delivered packets", func(t *testing.T) {
		ev := New(mustLab(t, specLab))
		// c (allowance 1) receives from a: sg-db allows 5432 from sg-ssh.
		r := ev.Judge(tcp("eni-a", addrA, 1, addrC, 5432, tcpSYN), 0)
		want(t, "first flow", r, true, verdict.StageSGIngress, verdict.CodeSGRuleMatch)
		r = ev.Judge(tcp("eni-a", addrA, 2, addrC, 5432, tcpSYN), s)
		want(t, "second flow", r, false, verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded)
		if r.ENI != "eni-c" {
			t.Errorf("allowance of %q, want eni-c", r.ENI)
		}
		// The dropped packet made no entry on a either (§3.9).
		if _, ok := ev.tables["eni-a"][keyOf(tcp("eni-a", addrA, 2, addrC, 5432, tcpSYN))]; ok {
			t.Errorf("an entry on eni-a for a packet that was not delivered")
		}
		// SYN_SENT times out after 120 s: the allowance is free again.
		r = ev.Judge(tcp("eni-a", addrA, 3, addrC, 5432, tcpSYN), 121*s)
		want(t, "after expiry", r, true, verdict.StageSGIngress, verdict.CodeSGRuleMatch)
	})

	t.Run("§6 exempt, reserved and broadcast addresses", func(t *testing.T) {
		ev := New(mustLab(t, specLab))
		cases := []struct {
			dst    string
			stage  verdict.Stage
			code   verdict.Code
			allows bool
		}{
			{"169.254.169.254", verdict.StageExempt, verdict.CodeExempt, true},
			{"10.0.0.2", verdict.StageExempt, verdict.CodeExempt, true}, // VPC base + 2
			{"10.0.2.1", verdict.StageExempt, verdict.CodeExempt, true}, // another subnet's router
			{"10.0.1.255", verdict.StageRoute, verdict.CodeNoBroadcast, false},
			{"10.0.3.7", verdict.StageRoute, verdict.CodeCannotRoute, false},
			{"169.254.1.1", verdict.StageRoute, verdict.CodeLinkLocal, false},
			{"255.255.255.255", verdict.StageRoute, verdict.CodeNoBroadcast, false},
		}
		for _, c := range cases {
			r := ev.Judge(tcp("eni-b", addrB, 1000, netip.MustParseAddr(c.dst), 80, tcpSYN), 0)
			want(t, "to "+c.dst, r, c.allows, c.stage, c.code)
		}
		dhcp := udp("eni-b", addrB, 68, netip.MustParseAddr("255.255.255.255"), 67)
		want(t, "DHCP", ev.Judge(dhcp, 0), true, verdict.StageExempt, verdict.CodeExempt)
		// A service address as source is ordinary (and here spoofed) traffic.
		spoof := tcp("eni-b", netip.MustParseAddr("169.254.169.254"), 80, addrA, 22, tcpSYN)
		want(t, "spoofed service source", ev.Judge(spoof, 0), false, verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck)
	})

	t.Run("§3.8 ICMP errors: not let in by the quoted flow's entry, unless the setting says so", func(t *testing.T) {
		l := mustLab(t, specLab)
		ev := New(l)
		syn := tcp("eni-a", addrA, 40000, addrNet, 443, tcpSYN)
		want(t, "a connects out", ev.Judge(syn, 0), true, verdict.StageNACLEgress, verdict.CodeNACLAllow)
		unreach := Packet{From: FromInternet, Src: addrNet, Dst: addrA, Proto: 1, ICMPType: 3, ICMPCode: 3, Quote: &syn}
		want(t, "error, setting off", ev.Judge(unreach, s), false, verdict.StageSGIngress, verdict.CodeSGRulesMismatch)
		l.Settings.AdmitRelatedICMP = true
		want(t, "error, setting on", ev.Judge(unreach, s), true, verdict.StageSGIngress, verdict.CodeConntrack)
	})
}
