package reach_test

// The property test: over random labs, every sampled packet's fate in the
// engine (dataplane, a fresh one per packet so that only the rules speak)
// agrees with the map: the request and its reply get through exactly when
// the map says the value is open, and the map's trail names the stages and
// rules the engine's trace names. Labs are written as lab files and read
// with labfile.Parse, so the loader's defaults apply as they do for users; they
// hold untracked flows (0.0.0.0/0 rules with all-ports rules back),
// ephemeral-port NACL entries, group references, prefix lists, secondary
// addresses, IPv6, public and private subnets, internet hosts, and a
// stopped instance in a quarter of the labs.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/reach"
	"github.com/vpclab/vpclab/verdict"
)

var (
	propLabs    = flag.Int("reach.labs", 100, "random labs in TestAgainstEngine")
	propPackets = flag.Int("reach.packets", 100, "packets per lab in TestAgainstEngine")
	propSeed    = flag.Uint64("reach.seed", 0, "first seed of TestAgainstEngine")
)

type gen struct{ r *rand.Rand }

func (g *gen) intn(n int) int         { return g.r.IntN(n) }
func (g *gen) chance(p float64) bool  { return g.r.Float64() < p }
func pick[T any](g *gen, xs []T) T    { return xs[g.r.IntN(len(xs))] }
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

// portRanges are the ranges rules use: single services, the ephemeral
// ranges of NACL reply entries, everything.
var portRanges = []string{"22", "80", "443", "5432", "8080", "1024-65535", "32768-60999", "49152-65535", "0-1023", "80-8080", "all", "53", "3000-3999"}

var cidrs4 = []string{"0.0.0.0/0", "10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "10.0.0.10/32", "10.0.1.10/32",
	"203.0.113.0/24", "198.51.100.0/24", "203.0.113.5/32", "100.64.0.0/10", "0.0.0.0/1", "128.0.0.0/1", "10.0.1.0/25"}
var cidrs6 = []string{"::/0", "2600:1f18:aa:bb00::/56", "2600:1f18:aa:bb00::/64", "2600:1f18:aa:bb01::/64", "2001:db8::/32", "2001:db8::5/128", "::/1", "8000::/1"}

func (g *gen) traffic() string {
	switch g.intn(9) {
	case 0, 1, 2:
		return "protocol: tcp, ports: " + pick(g, portRanges)
	case 3:
		return "protocol: udp, ports: " + pick(g, portRanges)
	case 4:
		return "protocol: all"
	case 5:
		return "protocol: icmp" + g.icmp()
	case 6:
		return "protocol: icmpv6" + g.icmp()
	case 7:
		return "protocol: 47"
	}
	return "protocol: tcp, ports: all"
}

func (g *gen) icmp() string {
	switch g.intn(4) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(", icmp_type: %d", pick(g, []int{0, 8, 3, 128, 129}))
	case 2:
		return fmt.Sprintf(", icmp_type: %d, icmp_code: %d", pick(g, []int{0, 8, 3, 128, 129}), g.intn(3))
	}
	return ", icmp_type: -1"
}

func (g *gen) cidr() string {
	if g.chance(0.35) {
		return pick(g, cidrs6)
	}
	return pick(g, cidrs4)
}

// lab writes a random lab file.
func (g *gen) lab() string {
	b := &strings.Builder{}
	b.WriteString("vpc: {id: vpc-r, cidr: 10.0.0.0/16, ipv6_cidr: \"2600:1f18:aa:bb00::/56\"}\n")
	if g.chance(0.3) {
		fmt.Fprintf(b, "settings: {untracked_across_groups: %v, secondary_ips_in_group_refs: %v}\n", g.chance(0.5), g.chance(0.5))
	}
	nsub := g.between(1, 3)
	b.WriteString("subnets:\n")
	for i := range nsub {
		fmt.Fprintf(b, "  - {id: s%d, cidr: 10.0.%d.0/24, ipv6_cidr: \"2600:1f18:aa:bb0%d::/64\", public: %v", i, i, i, g.chance(0.6))
		if g.chance(0.75) {
			fmt.Fprintf(b, ", network_acl: a%d", i)
		}
		b.WriteString("}\n")
	}
	b.WriteString("network_acls:\n")
	for i := range nsub {
		fmt.Fprintf(b, "  - id: a%d\n", i)
		for _, dir := range []string{"ingress", "egress"} {
			fmt.Fprintf(b, "    %s:\n", dir)
			n := g.between(0, 7)
			used := map[int]bool{}
			for range n {
				rule := 10 * g.between(1, 30)
				if used[rule] {
					continue
				}
				used[rule] = true
				action := "allow"
				if g.chance(0.3) {
					action = "deny"
				}
				fmt.Fprintf(b, "      - {rule: %d, action: %s, %s, cidr: \"%s\"}\n", rule, action, g.traffic(), g.cidr())
			}
			if n == 0 {
				b.WriteString("      []\n")
			}
		}
	}
	b.WriteString("prefix_lists:\n  - {id: pl-a, max_entries: 4, cidrs: [203.0.113.0/24, 10.0.1.0/24]}\n")
	b.WriteString("  - {id: pl-any, max_entries: 2, cidrs: [0.0.0.0/0, \"::/0\"]}\n")
	ngroups := g.between(1, 3)
	b.WriteString("security_groups:\n")
	for i := range ngroups {
		fmt.Fprintf(b, "  - id: g%d\n", i)
		for _, dir := range []string{"ingress", "egress"} {
			if dir == "egress" && g.chance(0.4) {
				continue // AWS's default egress
			}
			n := g.between(0, 5)
			if n == 0 {
				fmt.Fprintf(b, "    %s: []\n", dir)
				continue
			}
			fmt.Fprintf(b, "    %s:\n", dir)
			for range n {
				var peer string
				switch g.intn(6) {
				case 0:
					peer = fmt.Sprintf("group: g%d", g.intn(ngroups))
				case 1:
					peer = "prefix_list: " + pick(g, []string{"pl-a", "pl-any"})
				default:
					peer = fmt.Sprintf("cidr: \"%s\"", g.cidr())
				}
				fmt.Fprintf(b, "      - {%s, %s}\n", g.traffic(), peer)
			}
		}
	}
	b.WriteString("instances:\n")
	for i := range g.between(2, 4) {
		sn := g.intn(nsub)
		fmt.Fprintf(b, "  - {name: i%d, subnet: s%d, ip: 10.0.%d.%d", i, sn, sn, 10+i)
		if g.chance(0.3) {
			fmt.Fprintf(b, ", secondary_ips: [10.0.%d.%d]", sn, 100+i)
		}
		if g.chance(0.6) {
			fmt.Fprintf(b, ", ipv6: [\"2600:1f18:aa:bb0%d::%x\"]", sn, 10+i)
		}
		var gs []string
		for k := range ngroups {
			if g.chance(0.5) {
				gs = append(gs, fmt.Sprintf("g%d", k))
			}
		}
		if len(gs) > 0 {
			fmt.Fprintf(b, ", security_groups: [%s]", strings.Join(gs, ", "))
		}
		b.WriteString("}\n")
	}
	b.WriteString("internet: {hosts: [203.0.113.5, \"2001:db8::5\"]}\n")
	return b.String()
}

// sample is one packet: its ends, addresses and headers.
type sample struct {
	from, to     *reach.Endpoint
	src, dst     netip.Addr
	proto        uint8
	sport, dport uint16
	icmpT, icmpC uint8
	name         string // the map's flow name ("other" for unnamed)
}

var ports = []uint16{0, 21, 22, 23, 53, 79, 80, 81, 443, 1023, 1024, 3000, 3999, 5432, 8080, 32767, 32768, 49151, 49152, 60999, 61000, 65535}

func (g *gen) port() uint16 {
	if g.chance(0.7) {
		return pick(g, ports)
	}
	return uint16(g.intn(65536))
}

// outsideAddr picks an address outside the VPC of family f that the map's
// internet stands for.
func (g *gen) outsideAddr(f int) netip.Addr {
	pool := cidrs4
	if f == 6 {
		pool = cidrs6
	}
	for {
		p := netip.MustParsePrefix(pick(g, pool))
		b := p.Addr().AsSlice()
		for i := p.Bits(); i < len(b)*8; i++ {
			if g.chance(0.5) {
				b[i/8] |= 0x80 >> (i % 8)
			}
		}
		a, _ := netip.AddrFromSlice(b)
		if g.chance(0.2) {
			a = p.Addr() // a block's first address, where cuts are
		}
		if !excluded(a) {
			return a
		}
	}
}

func excluded(a netip.Addr) bool {
	for _, s := range []string{"10.0.0.0/16", "2600:1f18:aa:bb00::/56", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32", "fe80::/10", "ff00::/8", "fd00:ec2::/120"} {
		if netip.MustParsePrefix(s).Contains(a) {
			return true
		}
	}
	return false
}

func addrsOf(e *reach.Endpoint, f int) []netip.Addr {
	var out []netip.Addr
	for _, a := range e.Addrs {
		if (f == 4) == a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

func (g *gen) sample(m *reach.Map, other uint8) (sample, bool) {
	var s sample
	s.from, s.to = pick(g, m.Endpoints), pick(g, m.Endpoints)
	if s.from == s.to || (s.from.Kind != reach.KindENI && s.to.Kind != reach.KindENI) {
		return s, false
	}
	f := pick(g, []int{4, 6})
	end := func(e *reach.Endpoint) (netip.Addr, bool) {
		if e.Kind == reach.KindInternet {
			return g.outsideAddr(f), true
		}
		as := addrsOf(e, f)
		if len(as) == 0 {
			return netip.Addr{}, false
		}
		return pick(g, as), true
	}
	var ok1, ok2 bool
	s.src, ok1 = end(s.from)
	s.dst, ok2 = end(s.to)
	if !ok1 || !ok2 {
		return s, false
	}
	icmp := uint8(packet.ProtoICMP)
	if f == 6 {
		icmp = packet.ProtoICMPv6
	}
	s.proto = pick(g, []uint8{packet.ProtoTCP, packet.ProtoTCP, packet.ProtoUDP, icmp, icmp, 47, other, 132})
	s.name = reach.ProtoName(int(s.proto))
	switch s.proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		s.sport, s.dport = g.port(), g.port()
	case packet.ProtoICMP:
		s.icmpT, s.icmpC = pick(g, []uint8{8, 8, 0, 3, 11, uint8(g.intn(256))}), pick(g, []uint8{0, 0, 1, uint8(g.intn(256))})
	case packet.ProtoICMPv6:
		s.icmpT, s.icmpC = pick(g, []uint8{128, 128, 129, 1, 3, uint8(g.intn(256))}), pick(g, []uint8{0, 0, 1, uint8(g.intn(256))})
	}
	return s, true
}

// flowFor finds the map's flow for the sample: the path whose addresses
// hold its source and destination, and the protocol's flow (or other's).
func flowFor(m *reach.Map, s sample) (*reach.Path, *reach.Flow) {
	holds := func(list []string, a netip.Addr) bool {
		for _, x := range list {
			if p, err := netip.ParsePrefix(x); err == nil && p.Contains(a) {
				return true
			}
			if x == a.String() {
				return true
			}
		}
		return false
	}
	for _, p := range m.Paths {
		if p.From != s.from.Name || p.To != s.to.Name || !holds(p.Src, s.src) || !holds(p.Dst, s.dst) {
			continue
		}
		var other *reach.Flow
		for _, fl := range p.Flows {
			if fl.Number == int(s.proto) {
				return p, fl
			}
			if fl.Number == -1 {
				other = fl
			}
		}
		return p, other
	}
	return nil, nil
}

func (s sample) spec(reply bool) packet.Spec {
	sp := packet.Spec{Src: s.src, Dst: s.dst, Proto: s.proto, SrcPort: s.sport, DstPort: s.dport, ICMPType: s.icmpT, ICMPCode: s.icmpC, ICMPID: 7}
	if s.proto == packet.ProtoTCP {
		sp.TCPFlags = packet.TCPSyn
	}
	if reply {
		sp.Src, sp.Dst, sp.SrcPort, sp.DstPort = s.dst, s.src, s.dport, s.sport
		if s.proto == packet.ProtoTCP {
			sp.TCPFlags = packet.TCPSyn | packet.TCPAck
		}
		switch {
		case s.proto == packet.ProtoICMP && s.icmpT == 8:
			sp.ICMPType = 0
		case s.proto == packet.ProtoICMPv6 && s.icmpT == 128:
			sp.ICMPType = 129
		}
	}
	return sp
}

// hasReply: every protocol but an ICMP message other than an echo request.
func (s sample) hasReply() bool {
	switch s.proto {
	case packet.ProtoICMP:
		return s.icmpT == 8
	case packet.ProtoICMPv6:
		return s.icmpT == 128
	}
	return true
}

func port(e *dataplane.Engine, ep *reach.Endpoint) verdict.Port {
	if ep.Kind != reach.KindENI {
		return verdict.PortInternet
	}
	p, _ := e.Port(ep.ENI)
	return p
}

func TestAgainstEngine(t *testing.T) {
	labs, packets := *propLabs, *propPackets
	if testing.Short() {
		labs = 30
	}
	checked, open, stopped := 0, 0, 0
	for seed := *propSeed; seed < *propSeed+uint64(labs); seed++ {
		g := &gen{rand.New(rand.NewPCG(seed, 14))}
		text := g.lab()
		l, err := labfile.Parse("random.yaml", []byte(text))
		if err != nil {
			t.Fatalf("seed %d: the generator wrote a lab the loader refuses: %v\n%s", seed, err, text)
		}
		var q reach.Query
		if g.chance(0.25) { // a stopped instance: the engine's SetStopped
			q.Stopped = []string{pick(g, l.Instances).Name}
		}
		m, err := reach.Analyze(l, q)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		other := reach.OtherProtocol(l)
		for range packets {
			s, ok := g.sample(m, other)
			if !ok {
				continue
			}
			checked++
			if s.from.Stopped || s.to.Stopped {
				stopped++
			}
			if checkSample(t, l, m, s) {
				open++
			}
			if t.Failed() {
				t.Fatalf("seed %d, lab:\n%s", seed, text)
			}
		}
	}
	t.Logf("%d packets checked, %d of them open, %d to or from a stopped instance", checked, open, stopped)
	if checked < labs*packets/4 || open < checked/20 || stopped < checked/50 {
		t.Fatalf("the samples do not exercise the map: %d checked, %d open, %d stopped", checked, open, stopped)
	}
}

// checkSample judges s in a fresh engine and compares with the map; it
// returns whether the flow was open.
func checkSample(t *testing.T, l *lab.Lab, m *reach.Map, s sample) bool {
	t.Helper()
	e := dataplane.New(l)
	for _, ep := range m.Endpoints {
		if ep.Stopped {
			if _, ok := e.SetStopped(port(e, ep), true); !ok {
				t.Fatalf("the engine cannot stop %s", ep.Name)
			}
		}
	}
	sp := s.spec(false)
	req := verdict.Verdict{Trace: &verdict.Trace{}}
	e.Process(port(e, s.from), sp.Append(nil), 1e9, &req)
	got := req.Allowed
	var rep verdict.Verdict
	if got && s.hasReply() {
		rep.Trace = &verdict.Trace{}
		rsp := s.spec(true)
		e.Process(port(e, s.to), rsp.Append(nil), 1e9+1e6, &rep)
		got = rep.Allowed
	}
	desc := fmt.Sprintf("%s %s → %s %s %s sport %d dport %d icmp %d/%d", s.name, s.from.Name, s.to.Name, s.src, s.dst, s.sport, s.dport, s.icmpT, s.icmpC)
	p, fl := flowFor(m, s)
	if fl == nil {
		t.Errorf("%s: the map has no flow for it (engine: request %v %s %s)", desc, req.Allowed, req.Stage, req.Code)
		return false
	}
	val := s.dport
	switch s.proto {
	case packet.ProtoTCP, packet.ProtoUDP:
	case packet.ProtoICMP, packet.ProtoICMPv6:
		val = uint16(s.icmpT)<<8 | uint16(s.icmpC)
	default:
		val = 0
	}
	want := fl.Open.Contains(val)
	if fl.SourcePorts != nil || fl.Reply != nil {
		want = want && fl.SourcePorts.Contains(s.sport)
	}
	if got != want {
		t.Errorf("%s: engine says %v (request %v at %s %s %s rule %d; reply %v at %s %s), map says %v (path %v → %v open %v source ports %v)",
			desc, got, req.Allowed, req.Stage, req.Code, req.ACL, req.NACLRule, rep.Allowed, rep.Stage, rep.Code, want, p.Src, p.Dst, fl.Open, fl.SourcePorts)
		return false
	}
	// The trail names what the engine's trace names.
	var seg *reach.Segment
	for _, sg := range fl.Request {
		if sg.Lo <= val && val <= sg.Hi {
			seg = sg
		}
	}
	if seg == nil {
		t.Errorf("%s: no segment holds %d", desc, val)
		return got
	}
	var mapSteps []*reach.Step
	for _, st := range seg.Trail {
		if !st.Reply {
			mapSteps = append(mapSteps, st)
		}
	}
	compareTrail(t, desc+" request", mapSteps, req.Trace.Steps, false)
	if !req.Allowed || !s.hasReply() {
		return got
	}
	// The reply: the map's reply steps against the engine's NACL stages
	// (the security groups pass it by its conntrack entry or an
	// untracked flow's rule).
	var replySteps []*reach.Step
	if fl.Reply != nil {
		for _, r := range fl.Reply {
			if r.Lo <= s.sport && s.sport <= r.Hi {
				replySteps = r.Trail
			}
		}
	} else {
		for _, st := range seg.Trail {
			if st.Reply {
				replySteps = append(replySteps, st)
			}
		}
	}
	compareTrail(t, desc+" reply", replySteps, rep.Trace.Steps, true)
	return got
}

// compareTrail checks that the map's steps and the engine's agree, stage
// by stage: the same stage, decision, NACL entry and security-group rule.
func compareTrail(t *testing.T, desc string, mapSteps []*reach.Step, engine []verdict.Step, naclOnly bool) {
	t.Helper()
	var eng []verdict.Step
	for _, st := range engine {
		switch st.Stage {
		case verdict.StageSGEgress, verdict.StageSGIngress, verdict.StageRoute:
			if naclOnly {
				continue
			}
			eng = append(eng, st)
		case verdict.StageNACLEgress, verdict.StageNACLIngress:
			if naclOnly && st.Code == verdict.CodeSameSubnet {
				continue // the map's reply names no step inside one subnet
			}
			eng = append(eng, st)
		}
	}
	if len(eng) != len(mapSteps) {
		t.Errorf("%s: the engine went through %d stages, the map names %d: %+v vs %+v", desc, len(eng), len(mapSteps), eng, mapSteps)
		return
	}
	for i, es := range eng {
		ms := mapSteps[i]
		if es.Stage.String() != ms.Stage || es.Pass != ms.Allowed || es.Code.String() != ms.Code {
			t.Errorf("%s: step %d: engine %s %v %s, map %s %v %s", desc, i, es.Stage, es.Pass, es.Code, ms.Stage, ms.Allowed, ms.Code)
			continue
		}
		if es.ACL != "" && es.Code != verdict.CodeSameSubnet && (es.ACL != ms.ACL || es.NACLRule != ms.NACLRule) {
			t.Errorf("%s: step %d: engine %s rule %d, map %s rule %d", desc, i, es.ACL, es.NACLRule, ms.ACL, ms.NACLRule)
		}
		if es.SG != nil && (ms.SGRule == nil || ms.SGRule.Group != es.SG.Group || ms.SGRule.Index != es.SG.Index || ms.SGRule.Direction != es.SG.Dir.String()) {
			t.Errorf("%s: step %d: engine rule %+v, map %+v", desc, i, es.SG, ms.SGRule)
		}
	}
}
