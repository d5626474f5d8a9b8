package reference

// ClassBench rule sets (realistic, large) turned into a security group and
// into a network ACL, engine against reference on packets drawn near the
// rules: inside prefixes and at their edges, at the edges of port ranges.

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/internal/classbench"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

// classbenchDir holds the ClassBench files the repository carries.
const classbenchDir = "../../testdata/external/classbench"

var flagCBPackets = flag.Int("reference.cbpackets", 300, "packets per ClassBench file and direction")

// The quotas a ClassBench security group needs: AWS's maxima. A group holds
// at most 1000 rules per direction, an ENI at most 16 groups, so a file is
// split into groups of 1000 rules, in order (which keeps its priority
// order: group order, then rule order), and cut at 16000 rules.
const (
	cbGroupRules = 1000
	cbMaxRules   = 16 * cbGroupRules
	cbNACLRules  = 40 // AWS's most entries per direction and family
)

// cbVPC is the ClassBench labs' VPC; the ENI under test is cbENIAddr.
var (
	cbVPC     = netip.MustParsePrefix("100.127.0.0/16")
	cbENIAddr = netip.MustParseAddr("100.127.1.10")
)

// classbenchFiles returns every ClassBench file, failing the test when the
// directory is missing: the differential test must not pass by skipping.
func classbenchFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(classbenchDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no ClassBench files under %s (%v): the repository carries them in testdata/external", classbenchDir, err)
	}
	return files
}

// loadClassbench reads a ClassBench file, cut at cbMaxRules rules.
func loadClassbench(t testing.TB, path string) []classbench.Rule {
	t.Helper()
	rules, err := classbench.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) > cbMaxRules {
		rules = rules[:cbMaxRules]
	}
	return rules
}

// cbTraffic returns the lab protocol and ports of a ClassBench rule: its
// protocol and destination-port range. ICMP gets any type and code; other
// protocols and "any" have no ports to choose (§2.2).
func cbTraffic(r classbench.Rule) (proto, ports string) {
	switch r.Proto {
	case -1:
		return "all", ""
	case 6, 17:
		return fmt.Sprint(r.Proto), fmt.Sprintf("%d-%d", r.DstLo, r.DstHi)
	}
	return fmt.Sprint(r.Proto), ""
}

// cbLabBase returns a lab with one public subnet and the ENI under test in
// it, with quotas raised to AWS's maxima.
func cbLabBase() *yLab {
	return &yLab{
		VPC:     yVPC{ID: "vpc-cb", CIDR: cbVPC.String()},
		Quotas:  &yQuotas{NACLEntries: cbNACLRules, SGRules: cbGroupRules, SGsPerENI: 16, RulesTimesSGs: cbMaxRules},
		Subnets: []ySubnet{{ID: "subnet-cb", CIDR: "100.127.1.0/24", Public: true}},
		Instances: []yInstance{{Name: "target", ConntrackAllowance: 10_000_000,
			Interfaces: []yENI{{ID: "eni-target", Subnet: "subnet-cb", IP: cbENIAddr.String()}}}},
	}
}

// cbSGLab turns rules into security groups on the ENI under test: inbound
// rules with the source prefix as peer, outbound rules with the
// destination prefix as peer, both with the destination-port range.
func cbSGLab(rules []classbench.Rule) *yLab {
	y := cbLabBase()
	var groups []string
	for start := 0; start < len(rules); start += cbGroupRules {
		g := yGroup{ID: fmt.Sprintf("cb-%d", start/cbGroupRules)}
		in, out := []yRule{}, []yRule{}
		for _, r := range rules[start:min(start+cbGroupRules, len(rules))] {
			proto, ports := cbTraffic(r)
			in = append(in, yRule{Protocol: proto, Ports: ports, CIDR: r.Src.String()})
			out = append(out, yRule{Protocol: proto, Ports: ports, CIDR: r.Dst.String()})
		}
		g.Ingress, g.Egress = &in, &out
		y.SecurityGroups = append(y.SecurityGroups, g)
		groups = append(groups, g.ID)
	}
	y.Instances[0].Interfaces[0].SecurityGroups = groups
	return y
}

// cbNACLLab turns the first 40 rules into a network ACL on the ENI's
// subnet, allow and deny in turn, numbered 10, 20, …: inbound entries on
// the source prefix, outbound ones on the destination prefix. The ENI's
// security group lets everything in and out, so that the ACL decides.
func cbNACLLab(rules []classbench.Rule) *yLab {
	y := cbLabBase()
	acl := yACL{ID: "acl-cb"}
	for i, r := range rules[:min(cbNACLRules, len(rules))] {
		proto, ports := cbTraffic(r)
		action := "allow"
		if i%2 == 1 {
			action = "deny"
		}
		acl.Ingress = append(acl.Ingress, yEntry{Rule: 10 * (i + 1), Action: action, Protocol: proto, Ports: ports, CIDR: r.Src.String()})
		acl.Egress = append(acl.Egress, yEntry{Rule: 10 * (i + 1), Action: action, Protocol: proto, Ports: ports, CIDR: r.Dst.String()})
	}
	y.NetworkACLs = []yACL{acl}
	y.Subnets[0].NetworkACL = acl.ID
	y.SecurityGroups = []yGroup{{ID: "open", Ingress: &[]yRule{{Protocol: "all", CIDR: "0.0.0.0/0"}}}}
	y.Instances[0].Interfaces[0].SecurityGroups = []string{"open"}
	return y
}

// cbPacket draws a packet near rule r: inbound from the internet with a
// source at or just beside r's source prefix, or outbound from the ENI to
// or beside r's destination prefix; the destination port at or beside r's
// range; r's protocol, or another.
func cbPacket(rg *rand.Rand, r classbench.Rule, inbound bool) Packet {
	g := &gen{r: rg}
	p := Packet{TTL: 64}
	if inbound {
		p.From, p.Src, p.Dst = FromInternet, nearPrefix(g, r.Src), cbENIAddr
	} else {
		p.From, p.Src, p.Dst = "eni-target", cbENIAddr, nearPrefix(g, r.Dst)
	}
	proto := r.Proto
	if proto == -1 || g.chance(0.1) {
		proto = int(pick(g, []uint8{6, 6, 17, 1, 47, 50}))
	}
	p.Proto = uint8(proto)
	switch p.Proto {
	case 6, 17:
		p.SrcPort = uint16(g.between(int(r.SrcLo), int(r.SrcHi)))
		p.DstPort = nearRange(g, r.DstLo, r.DstHi)
		if p.Proto == 6 {
			p.TCPFlags = pick(g, []uint8{tcpSYN, tcpSYN, tcpACK, tcpSYN | tcpACK, tcpFIN | tcpACK, tcpRST})
		}
	case 1:
		p.ICMPType = pick(g, []uint8{8, 0, 3, 11, 13})
		if isEcho(p) {
			p.ICMPID = uint16(g.intn(4))
		}
	}
	return p
}

// nearPrefix returns an address at or just beside prefix c: its first or
// last address, one outside either end, or one inside.
func nearPrefix(g *gen, c netip.Prefix) netip.Addr {
	first, last := c.Masked().Addr(), lastAddr(c)
	switch g.intn(6) {
	case 0:
		return first
	case 1:
		return last
	case 2:
		if p := first.Prev(); p.IsValid() {
			return p
		}
	case 3:
		if n := last.Next(); n.IsValid() {
			return n
		}
	}
	return addrAt(c, g.r.Uint64N(hostCount(c)))
}

// nearRange returns a port at or just beside lo..hi.
func nearRange(g *gen, lo, hi uint16) uint16 {
	switch g.intn(6) {
	case 0:
		return lo
	case 1:
		return hi
	case 2:
		return lo - 1 // 65535 below 0: another edge
	case 3:
		return hi + 1
	}
	return uint16(g.between(int(lo), int(hi)))
}

// TestClassbenchSecurityGroup compares engine and reference on each
// ClassBench file as a security group (both directions).
func TestClassbenchSecurityGroup(t *testing.T) {
	for _, path := range classbenchFiles(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			rules := loadClassbench(t, path)
			runClassbench(t, rules, cbSGLab(rules), len(rules), *flagCBPackets)
		})
	}
}

// TestClassbenchNACL compares engine and reference on the first 40 rules of
// each ClassBench file as a network ACL.
func TestClassbenchNACL(t *testing.T) {
	for _, path := range classbenchFiles(t) {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			rules := loadClassbench(t, path)
			runClassbench(t, rules, cbNACLLab(rules), min(cbNACLRules, len(rules)), *flagCBPackets)
		})
	}
}

// runClassbench runs packets drawn near the first n rules through the
// lab y in both directions, now and then replying to an earlier packet.
func runClassbench(t *testing.T, rules []classbench.Rule, y *yLab, n, packets int) {
	l, err := y.parse()
	if err != nil {
		t.Fatalf("the ClassBench lab does not load: %v", err)
	}
	eng, ev := dataplane.New(l), New(l)
	rg := rand.New(rand.NewPCG(uint64(len(rules)), 0xcb))
	m := newMismatches()
	now := time.Second
	buf := make([]byte, 0, 256)
	var sent []Packet
	for i := 0; i < 2*packets; i++ {
		now += time.Duration(rg.IntN(2000)) * time.Millisecond
		var p Packet
		if len(sent) > 0 && rg.IntN(5) == 0 {
			g := &gen{r: rg}
			if q, ok := g.reply(l, ev, sent[len(sent)-1-rg.IntN(min(len(sent), 8))]); ok {
				p = q
			}
		}
		if p.From == "" {
			p = cbPacket(rg, rules[rg.IntN(n)], i%2 == 0)
		}
		sent = append(sent, p)
		v := runEngine(eng, p, now, buf, true)
		r := ev.Judge(p, now)
		if d := compare(&v, &r); d != nil {
			m.add(d, func() string { return cbExample(l, rules, p, &v, &r, d) })
			if d.decision {
				eng, ev = dataplane.New(l), New(l) // start afresh: the two track different flows
				sent = nil
			}
		}
	}
	m.report(t, fmt.Sprintf("%d packets", 2*packets))
}

// cbExample describes a ClassBench disagreement: the packet, both
// judgements and the rules they name.
func cbExample(l *lab.Lab, rules []classbench.Rule, p Packet, v *verdict.Verdict, r *Result, d *difference) string {
	var b strings.Builder
	fmt.Fprintf(&b, "packet: %s\n%s\n", packetString(p), d.detail)
	for _, ref := range []string{refString(v.SG), refString(r.SG)} {
		var grp, dir string
		var idx int
		if _, err := fmt.Sscanf(strings.NewReplacer("/", " ", "[", " ", "]", "").Replace(ref), "%s %s %d", &grp, &dir, &idx); err == nil && strings.HasPrefix(grp, "cb-") {
			var k int
			fmt.Sscanf(grp, "cb-%d", &k)
			fmt.Fprintf(&b, "rule %s = ClassBench rule %d: %+v\n", ref, k*cbGroupRules+idx, rules[k*cbGroupRules+idx])
		}
	}
	fmt.Fprintf(&b, "--- engine trace:\n%s", traceString(v.Trace))
	fmt.Fprintf(&b, "--- reference trace:\n    %s\n", strings.Join(r.Trace, "\n    "))
	return b.String()
}
