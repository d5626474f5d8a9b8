package mirror

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

func cidrRule(n int, accept bool, proto int, src, dst string) lab.MirrorRule {
	r := protoRule(n, accept, proto)
	r.SourceCIDR, r.DestinationCIDR = netip.MustParsePrefix(src), netip.MustParsePrefix(dst)
	return r
}

func TestFilterRules(t *testing.T) {
	web80 := tcp(web1, db1, 40000, 80, 10)
	v6 := tcp(web1v6, remote, 40000, 80, 10)
	icmp := packet.Spec{Src: web1, Dst: db1, Proto: packet.ProtoICMP, ICMPType: 8, ICMPID: 7}
	gre := packet.Spec{Src: web1, Dst: db1, Proto: 47, Payload: 4}
	later := packet.Spec{Src: web1, Dst: db1, Proto: packet.ProtoTCP, FragID: 9, FragOffset: 1480, Payload: 100}
	first := packet.Spec{Src: web1, Dst: db1, Proto: packet.ProtoTCP, SrcPort: 40000, DstPort: 80, FragID: 9, MoreFrags: true, Payload: 100}

	tests := []struct {
		name  string
		rules []lab.MirrorRule
		pkt   packet.Spec
		want  bool
	}{
		{"no rule, no mirroring", nil, web80, false},
		{"accept all", []lab.MirrorRule{allRule(1, true)}, web80, true},
		{"reject all", []lab.MirrorRule{allRule(1, false)}, web80, false},
		{"lowest number first, whatever the order given",
			[]lab.MirrorRule{allRule(20, true), protoRule(10, false, packet.ProtoTCP)}, web80, false},
		{"a rule that does not match is passed over",
			[]lab.MirrorRule{protoRule(10, false, packet.ProtoUDP), allRule(20, true)}, web80, true},
		{"first match decides, a later accept is not read",
			[]lab.MirrorRule{dportRule(5, false, packet.ProtoTCP, 80, 80), allRule(6, true)}, web80, false},
		{"protocol -1 matches ICMP", []lab.MirrorRule{allRule(1, true)}, icmp, true},
		{"protocol -1 matches GRE", []lab.MirrorRule{allRule(1, true)}, gre, true},
		{"protocol TCP does not match ICMP", []lab.MirrorRule{protoRule(1, true, packet.ProtoTCP)}, icmp, false},
		{"protocol 47 matches GRE", []lab.MirrorRule{protoRule(1, true, 47)}, gre, true},
		{"destination port in range", []lab.MirrorRule{dportRule(1, true, packet.ProtoTCP, 79, 81)}, web80, true},
		{"destination port out of range", []lab.MirrorRule{dportRule(1, true, packet.ProtoTCP, 81, 443)}, web80, false},
		{"source port range", []lab.MirrorRule{func() lab.MirrorRule {
			r := protoRule(1, true, packet.ProtoTCP)
			r.SourceFromPort, r.SourceToPort = 1024, 65535
			return r
		}()}, web80, true},
		{"source port out of range", []lab.MirrorRule{func() lab.MirrorRule {
			r := protoRule(1, true, packet.ProtoTCP)
			r.SourceFromPort, r.SourceToPort = 1, 1023
			return r
		}()}, web80, false},
		{"a packet without ports fails a narrowed range", []lab.MirrorRule{dportRule(1, true, -1, 0, 1023)}, icmp, false},
		{"a later fragment matches a rule that ignores ports", []lab.MirrorRule{protoRule(1, true, packet.ProtoTCP)}, later, true},
		{"a later fragment fails a narrowed range", []lab.MirrorRule{dportRule(1, true, packet.ProtoTCP, 80, 80)}, later, false},
		{"a first fragment has its ports", []lab.MirrorRule{dportRule(1, true, packet.ProtoTCP, 80, 80)}, first, true},
		{"an IPv4 rule does not match IPv6", []lab.MirrorRule{allRule(1, true)}, v6, false},
		{"an IPv6 rule matches IPv6", []lab.MirrorRule{allRule(1, true), allRule6(2, true)}, v6, true},
		{"an IPv6 rule does not match IPv4", []lab.MirrorRule{allRule6(1, true)}, web80, false},
		{"source CIDR", []lab.MirrorRule{cidrRule(1, true, -1, "10.0.1.0/24", "0.0.0.0/0")}, web80, true},
		{"source CIDR outside", []lab.MirrorRule{cidrRule(1, true, -1, "10.0.2.0/24", "0.0.0.0/0")}, web80, false},
		{"destination CIDR", []lab.MirrorRule{cidrRule(1, true, -1, "0.0.0.0/0", "10.0.2.20/32")}, web80, true},
		{"destination CIDR outside", []lab.MirrorRule{cidrRule(1, true, -1, "0.0.0.0/0", "10.0.2.21/32")}, web80, false},
		{"unmasked CIDR bits are ignored", []lab.MirrorRule{cidrRule(1, true, -1, "10.0.1.77/24", "0.0.0.0/0")}, web80, true},
		{"IPv6 destination CIDR", []lab.MirrorRule{cidrRule(1, true, -1, "::/0", "2600:1f18:aa:bb01::/64")}, v6, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := compileRules(tt.rules)
			if err != nil {
				t.Fatal(err)
			}
			_, p := pkt(t, tt.pkt)
			if got := accepts(rules, p); got != tt.want {
				t.Errorf("accepts = %v, want %v", got, tt.want)
			}
			if got := reference(tt.rules, p); got != tt.want {
				t.Errorf("the reference says %v, want %v: the test is wrong", got, tt.want)
			}
		})
	}
}

// reference is the filter as AWS describes it, walked the slow obvious
// way over the lab's rules.
func reference(rules []lab.MirrorRule, p *packet.Parsed) bool {
	rs := slices.Clone(rules)
	slices.SortFunc(rs, func(a, b lab.MirrorRule) int { return cmp.Compare(a.Number, b.Number) })
	for _, r := range rs {
		if r.Protocol != -1 && r.Protocol != int(p.Proto) {
			continue
		}
		if !r.SourceCIDR.Masked().Contains(p.Src) || !r.DestinationCIDR.Masked().Contains(p.Dst) {
			continue
		}
		narrowed := r.SourceFromPort != 0 || r.SourceToPort != 65535 || r.DestinationFromPort != 0 || r.DestinationToPort != 65535
		if narrowed {
			if !p.HasPorts {
				continue
			}
			sp, dp := int(p.SrcPort), int(p.DstPort)
			if sp < r.SourceFromPort || sp > r.SourceToPort || dp < r.DestinationFromPort || dp > r.DestinationToPort {
				continue
			}
		}
		return r.Accept
	}
	return false
}

// TestFilterDifferential runs random filters (AWS's most, ten rules)
// against random packets, compiled and by the reference.
func TestFilterDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	v4s := []string{"0.0.0.0/0", "10.0.0.0/16", "10.0.1.0/24", "10.0.2.0/24", "10.0.1.10/32", "192.0.2.0/24"}
	v6s := []string{"::/0", "2600:1f18:aa:bb01::/64", "2600:1f18:aa:bb01::10/128", "2001:db8::/32"}
	addrs4 := []netip.Addr{web1, app1, db1, netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("10.0.3.3")}
	addrs6 := []netip.Addr{web1v6, remote, netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2600:1f18:aa:bb02::1")}
	protos := []int{-1, -1, packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, packet.ProtoICMPv6, 47}
	portRange := func() (int, int) {
		switch rng.IntN(4) {
		case 0:
			p := rng.IntN(3) * 40
			return p, p + rng.IntN(50)
		case 1:
			return 1024, 65535
		}
		return 0, 65535
	}
	for round := range 300 {
		var rules []lab.MirrorRule
		used := map[int]bool{}
		for range rng.IntN(11) {
			n := 1 + rng.IntN(50)
			if used[n] {
				continue
			}
			used[n] = true
			cidrs := v4s
			if rng.IntN(3) == 0 {
				cidrs = v6s
			}
			r := cidrRule(n, rng.IntN(2) == 0, protos[rng.IntN(len(protos))], cidrs[rng.IntN(len(cidrs))], cidrs[rng.IntN(len(cidrs))])
			if r.Protocol == packet.ProtoTCP || r.Protocol == packet.ProtoUDP {
				r.SourceFromPort, r.SourceToPort = portRange()
				r.DestinationFromPort, r.DestinationToPort = portRange()
			}
			rules = append(rules, r)
		}
		compiled, err := compileRules(rules)
		if err != nil {
			t.Fatal(err)
		}
		for range 40 {
			addrs, icmp := addrs4, uint8(packet.ProtoICMP)
			if rng.IntN(2) == 0 {
				addrs, icmp = addrs6, packet.ProtoICMPv6
			}
			s := packet.Spec{Src: addrs[rng.IntN(len(addrs))], Dst: addrs[rng.IntN(len(addrs))],
				SrcPort: uint16(rng.IntN(140)), DstPort: uint16(rng.IntN(140))}
			switch rng.IntN(4) {
			case 0:
				s.Proto = packet.ProtoTCP
			case 1:
				s.Proto = packet.ProtoUDP
			case 2:
				s.Proto, s.ICMPType = icmp, 8
			default:
				s.Proto = 47
			}
			if rng.IntN(8) == 0 {
				s.SrcPort = 2000
			}
			_, p := pkt(t, s)
			if got, want := accepts(compiled, p), reference(rules, p); got != want {
				t.Fatalf("round %d: rules %+v\npacket %+v: compiled %v, reference %v", round, rules, s, got, want)
			}
		}
	}
}

func TestCompileRulesErrors(t *testing.T) {
	mixed := allRule(1, true)
	mixed.DestinationCIDR = netip.MustParsePrefix("::/0")
	badPorts := protoRule(2, true, packet.ProtoTCP)
	badPorts.DestinationFromPort, badPorts.DestinationToPort = 90, 80
	for _, rs := range [][]lab.MirrorRule{
		{mixed},
		{badPorts},
		{allRule(3, true), allRule(3, false)},
		{protoRule(4, true, 256)},
		{{Number: 5, Protocol: -1}},
	} {
		if _, err := compileRules(rs); err == nil {
			t.Errorf("compileRules(%+v) accepted", rs)
		}
	}
}

// TestSessionPriority: the lowest-numbered session whose filter accepts
// a packet mirrors it, and only that one; a session whose filter rejects
// it or has no rule for it leaves it to the next.
func TestSessionPriority(t *testing.T) {
	web := &lab.MirrorFilter{ID: "tmf-web", Line: 1,
		Egress: []lab.MirrorRule{dportRule(10, true, packet.ProtoTCP, 80, 80), protoRule(20, false, packet.ProtoUDP)}}
	all := acceptAll("tmf-all")
	none := &lab.MirrorFilter{ID: "tmf-none", Line: 2}
	l := newLab(t, []*lab.MirrorFilter{web, all, none}, []*lab.MirrorTarget{eniTarget("tmt-tap", "eni-tap1")},
		[]*lab.MirrorSession{
			// In file order 5, 1, 2, 3: numbers, not order, decide.
			newSession("tms-5", 5, "eni-web1", "tmt-tap", "tmf-all", 5, 0),
			newSession("tms-1", 1, "eni-web1", "tmt-tap", "tmf-web", 1, 0),
			newSession("tms-2", 2, "eni-web1", "tmt-tap", "tmf-none", 2, 0),
		})
	sink := &collector{}
	m, err := New(l, fixedPorts, Options{Sink: sink, QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	v := &verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch, From: portWeb1, To: portDB1}
	for _, tt := range []struct {
		spec packet.Spec
		dir  Direction
		vni  uint32 // 0: not mirrored
	}{
		{tcp(web1, db1, 40000, 80, 0), Egress, 1},  // tms-1 accepts
		{tcp(web1, db1, 40000, 22, 0), Egress, 5},  // tms-1 has no rule, tms-2 none: tms-5
		{udp(web1, db1, 40000, 53, 0), Egress, 5},  // tms-1 rejects: tms-5
		{tcp(db1, web1, 80, 40000, 0), Ingress, 5}, // tms-1 has no inbound rule
	} {
		b, p := pkt(t, tt.spec)
		vv := *v
		if tt.dir == Ingress {
			vv.From, vv.To = portDB1, portWeb1
		}
		at := vv.From
		if tt.dir == Ingress {
			at = vv.To
		}
		if !m.Offer(at, tt.dir, &vv, p, nil, b, 0) {
			t.Fatalf("%v %+v not mirrored", tt.dir, tt.spec)
		}
		m.Drain()
		got := sink.take()
		if len(got) != 1 {
			t.Fatalf("%v %+v: %d mirror packets, want 1", tt.dir, tt.spec, len(got))
		}
		if d := decode(t, got[0].pkt); d.vxlan.VNI != tt.vni || got[0].s.VNI != tt.vni {
			t.Errorf("%v %+v: VNI %d (session %s), want %d", tt.dir, tt.spec, d.vxlan.VNI, got[0].s.ID, tt.vni)
		}
	}
	counts := map[string]uint64{}
	for _, s := range m.Stats() {
		counts[s.ID] = s.Mirrored
	}
	if want := map[string]uint64{"tms-1": 1, "tms-2": 0, "tms-5": 3}; !maps.Equal(counts, want) {
		t.Errorf("per-session counts %v, want %v", counts, want)
	}
}

// TestReached: which verdicts reach the mirrored side of an ENI (AWS:
// packets dropped at the source by its security group or network ACL are
// not mirrored; exempt traffic never is).
func TestReached(t *testing.T) {
	const me, other = verdict.Port(4), verdict.Port(9)
	deny := func(stage verdict.Stage, code verdict.Code, eni string) verdict.Verdict {
		return verdict.Verdict{Stage: stage, Code: code, ENI: eni, From: me, To: other}
	}
	tests := []struct {
		name    string
		v       verdict.Verdict
		egress  bool // mirrored as sent by me (From)
		ingress bool // mirrored as received by me (when To is me)
	}{
		{"delivered", verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch, From: me, To: me}, true, true},
		{"exempt", verdict.Verdict{Allowed: true, Stage: verdict.StageExempt, Code: verdict.CodeExempt, From: me, To: me}, false, false},
		{"malformed", deny(verdict.StageParse, verdict.CodeMalformed, ""), false, false},
		{"source/destination check", deny(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck, "eni-me"), false, false},
		{"no route", deny(verdict.StageRoute, verdict.CodeCannotRoute, ""), false, false},
		{"my security group out", deny(verdict.StageSGEgress, verdict.CodeSGRulesMismatch, "eni-me"), false, false},
		{"my subnet's network ACL out", deny(verdict.StageNACLEgress, verdict.CodeSubnetACLRestrict, ""), false, false},
		{"the receiver's network ACL", deny(verdict.StageNACLIngress, verdict.CodeSubnetACLRestrict, ""), true, false},
		{"the receiver's security group", deny(verdict.StageSGIngress, verdict.CodeSGRulesMismatch, "eni-other"), true, false},
		{"my instance's allowance", deny(verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded, "eni-me"), false, false},
		{"the receiver's allowance", deny(verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded, "eni-other"), true, false},
		{"a later fragment of a denied allowance", deny(verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded, ""), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := reached(me, Egress, &tt.v, "eni-me"); got != tt.egress {
				t.Errorf("egress: %v, want %v", got, tt.egress)
			}
			if got := reached(me, Ingress, &tt.v, "eni-me"); got != tt.ingress {
				t.Errorf("ingress: %v, want %v", got, tt.ingress)
			}
			if reached(other, Egress, &tt.v, "eni-other") {
				t.Error("egress mirrored at a port that did not send the packet")
			}
		})
	}
}
