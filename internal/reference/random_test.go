package reference

// TestRandomLabs: random labs, random packet sequences, engine against
// reference, packet by packet.

import (
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

var (
	flagLabs    = flag.Int("reference.labs", 300, "random labs TestRandomLabs draws")
	flagPackets = flag.Int("reference.packets", 300, "packets per random lab")
	flagSeed    = flag.Uint64("reference.seed", 1, "seed of the first random lab (the others follow)")
	flagAvoid   = flag.String("reference.avoid", "", "comma-separated classes the random labs leave out, to look past a known disagreement: "+
		"icmp-errors, service-spoof, small-allowance, timeout-edge")
)

// avoidSet parses -reference.avoid.
func avoidSet() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Split(*flagAvoid, ",") {
		if c = strings.TrimSpace(c); c != "" {
			m[c] = true
		}
	}
	return m
}

// TestRandomLabs compares engine and reference on random labs and random
// packet sequences. Run more with -reference.labs and -reference.packets;
// replay one lab with -reference.seed N -reference.labs 1.
func TestRandomLabs(t *testing.T) {
	labs, packets := *flagLabs, *flagPackets
	if testing.Short() {
		labs, packets = min(labs, 50), min(packets, 200)
	}
	m := newMismatches()
	cov := coverage{}
	for i := 0; i < labs; i++ {
		runRandomLab(t, *flagSeed+uint64(i), packets, m, cov)
	}
	if testing.Verbose() {
		t.Logf("what the reference decided, and how often (a sequence stops at its first disagreement):\n%s", cov)
	}
	m.report(t, fmt.Sprintf("%d random labs × %d packets", labs, packets))
}

// coverage counts the reference's decisions and the situations met, to
// show what the random sequences exercise (go test -v).
type coverage map[string]int

func (c coverage) add(p Packet, r *Result) {
	c[fmt.Sprintf("decision %-20s %-30s allowed=%v", r.Stage, r.Code, r.Allowed)]++
	for _, line := range r.Trace {
		switch {
		case strings.Contains(line, "untracked"):
			c["situation: an SG rule allowed an untracked flow (§3.4)"]++
		case strings.Contains(line, "tracked flow"):
			c["situation: an SG stage passed by a conntrack entry (§3.1)"]++
		case strings.Contains(line, "related"):
			c["situation: an ICMP error passed as related (§3.8 setting)"]++
		case strings.Contains(line, "same subnet"):
			c["situation: same subnet, no network ACL (§4.6)"]++
		}
	}
	switch {
	case p.Src.Is6():
		c["packet: IPv6"]++
	case isICMPError(p):
		c["packet: ICMP error"]++
	}
	if p.Quote != nil {
		c["packet: ICMP error quoting an earlier packet"]++
	}
	if p.Src == p.Dst {
		c["packet: to itself"]++
	}
}

func (c coverage) String() string {
	keys := slices.Sorted(maps.Keys(c))
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %7d  %s\n", c[k], k)
	}
	return b.String()
}

// step is one event of a sequence, for reports.
type step struct {
	now    time.Duration
	apply  bool
	p      Packet
	engine verdict.Verdict
	ref    Result
}

func (s step) String() string {
	if s.apply {
		return fmt.Sprintf("t=%v APPLY a changed lab", s.now)
	}
	return fmt.Sprintf("t=%v %s\n        engine:    %s\n        reference: %s", s.now, packetString(s.p), verdictString(&s.engine), s.ref)
}

// runRandomLab runs one random lab of the given seed.
func runRandomLab(t *testing.T, seed uint64, packets int, m *mismatches, cov coverage) {
	g := &gen{r: rand.New(rand.NewPCG(seed, 0x7e57)), avoid: avoidSet()}
	y := g.newLab()
	l, err := y.parse()
	if err != nil {
		t.Fatalf("seed %d: the generated lab does not load: %v\n%s", seed, err, y.text())
	}
	eng := dataplane.New(l)
	ev := New(l)
	now := 1000 * time.Second
	var steps []step
	var sent []Packet
	buf := make([]byte, 0, 256)
	for n := 0; n < packets; n++ {
		if g.chance(0.015) {
			y2 := y.clone()
			g.mutate(y2)
			if l2, err := y2.parse(); err == nil {
				y, l = y2, l2
				eng.Apply(l, int64(now))
				ev.Apply(l)
				steps = append(steps, step{now: now, apply: true})
				cov["situation: Apply of a changed lab"]++
			} else if !strings.Contains(err.Error(), "quota") {
				t.Fatalf("seed %d: a mutated lab does not load: %v\n%s", seed, err, y2.text())
			}
		}
		now += g.timeStep(l)
		p := g.packet(l, ev, sent)
		v := runEngine(eng, p, now, buf, seed%2 == 0) // odd seeds: the packet path as it runs live
		r := ev.Judge(p, now)
		steps = append(steps, step{now: now, p: p, engine: v, ref: r})
		sent = append(sent, p)
		cov.add(p, &r)
		if d := compare(&v, &r); d != nil {
			m.add(d, func() string { return example(seed, y, steps, &v, &r, d) })
			if d.decision {
				return // the two now track different flows: this sequence is over
			}
		}
	}
}

// example describes a disagreement in full: the lab, the sequence up to it
// and both judgements of its last packet.
func example(seed uint64, y *yLab, steps []step, v *verdict.Verdict, r *Result, d *difference) string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d (replay: go test ./reference -run TestRandomLabs -reference.seed %d -reference.labs 1)\n", seed, seed)
	fmt.Fprintf(&b, "--- lab in force:\n%s", y.text())
	fmt.Fprintf(&b, "--- sequence (%d steps):\n", len(steps))
	for i, s := range steps {
		fmt.Fprintf(&b, "  #%d %s\n", i, s)
	}
	last := steps[len(steps)-1]
	fmt.Fprintf(&b, "--- last packet: %s\n%s\n", packetString(last.p), d.detail)
	fmt.Fprintf(&b, "--- engine trace:\n%s", traceString(v.Trace))
	fmt.Fprintf(&b, "--- reference trace:\n    %s\n", strings.Join(r.Trace, "\n    "))
	return b.String()
}

// Time.

// timeStep draws how far the clock moves before the next packet: often not
// at all, often a little, and often exactly a timeout (or a millisecond off
// it), so that entries are caught at the edge of expiry. Steps are whole
// milliseconds.
func (g *gen) timeStep(l *lab.Lab) time.Duration {
	d := g.rawTimeStep(l)
	if d > 0 && g.avoid["timeout-edge"] {
		// Off the millisecond grid, so that no sum of steps is exactly a
		// timeout; still at least 1 ms, the engine's refresh grain.
		d += time.Microsecond
	}
	return d
}

func (g *gen) rawTimeStep(l *lab.Lab) time.Duration {
	ms := time.Millisecond
	switch x := g.intn(100); {
	case x < 35:
		return 0
	case x < 60:
		return time.Duration(g.between(1, 999)) * ms
	case x < 78:
		return time.Duration(g.between(1, 20_000)) * ms
	case x < 92:
		timeouts := []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second,
			120 * time.Second, 180 * time.Second, 600 * time.Second}
		for _, e := range l.Interfaces() {
			timeouts = append(timeouts, e.Conntrack.TCPEstablished, e.Conntrack.UDP, e.Conntrack.UDPStream)
		}
		off := time.Duration(g.between(-1, 1)) * ms
		if g.avoid["timeout-edge"] {
			off = pick(g, []time.Duration{-ms, ms})
		}
		return pick(g, timeouts) + off
	case x < 96:
		d := pick(g, []time.Duration{time.Hour, 432000 * time.Second, 432001 * time.Second})
		if g.avoid["timeout-edge"] {
			d += ms
		}
		return d
	}
	return time.Duration(g.between(0, 700_000)) * ms
}

// Packets.

// packet draws the next packet: a reply to, or the continuation of, a
// recent packet (to exercise connection tracking), an ICMP error about
// one, or a fresh packet.
func (g *gen) packet(l *lab.Lab, ev *Evaluator, sent []Packet) Packet {
	if len(sent) > 0 {
		// Recent packets are likelier: flows go on.
		h := sent[len(sent)-1-g.intn(min(len(sent), 12))]
		switch x := g.intn(100); {
		case x < 35:
			if p, ok := g.reply(l, ev, h); ok {
				return p
			}
		case x < 47:
			return g.continuation(h)
		case x < 53 && !g.avoid["icmp-errors"]:
			if p, ok := g.icmpError(l, ev, h); ok {
				return p
			}
		}
	}
	return g.fresh(l, ev)
}

// owner returns where a packet to a enters the dataplane when sent back
// from there: the ENI that owns a, the service, the internet, or "" when
// nobody could send from a.
func owner(l *lab.Lab, ev *Evaluator, a netip.Addr) string {
	for _, e := range l.Interfaces() {
		if slices.Contains(e.Addrs(), a) {
			return e.ID
		}
	}
	switch {
	case ev.isServiceAddr(a):
		return FromService
	case ev.inVPC(a), a.IsMulticast(), a.IsLinkLocalUnicast(), a == limitedBroadcast:
		return ""
	}
	return FromInternet
}

// reply returns the answer to h, from where h went.
func (g *gen) reply(l *lab.Lab, ev *Evaluator, h Packet) (Packet, bool) {
	from := owner(l, ev, h.Dst)
	if from == "" {
		return Packet{}, false
	}
	p := h
	p.From, p.Quote, p.TTL = from, nil, g.ttl()
	p.Src, p.Dst, p.SrcPort, p.DstPort = h.Dst, h.Src, h.DstPort, h.SrcPort
	switch {
	case p.Proto == 6:
		p.TCPFlags = g.replyFlags(h.TCPFlags)
	case p.Proto == 1 && p.ICMPType == 8:
		p.ICMPType = 0
	case p.Proto == 58 && p.ICMPType == 128:
		p.ICMPType = 129
	}
	return p, true
}

// continuation returns the next packet of h's flow in h's direction.
func (g *gen) continuation(h Packet) Packet {
	p := h
	p.Quote, p.TTL = nil, g.ttl()
	if p.Proto == 6 {
		p.TCPFlags = pick(g, []uint8{tcpACK, tcpACK | 0x08, tcpFIN | tcpACK, tcpRST, tcpSYN, tcpACK})
	}
	return p
}

// replyFlags answers a TCP segment roughly as a TCP stack would, with
// some resets.
func (g *gen) replyFlags(f uint8) uint8 {
	switch {
	case g.chance(0.08):
		return pick(g, []uint8{tcpRST, tcpRST | tcpACK})
	case f&tcpSYN != 0 && f&tcpACK == 0:
		return tcpSYN | tcpACK
	case f&tcpSYN != 0:
		return tcpACK
	case f&tcpFIN != 0:
		return pick(g, []uint8{tcpACK, tcpFIN | tcpACK})
	}
	return pick(g, []uint8{tcpACK, tcpACK | 0x08, tcpFIN | tcpACK})
}

// icmpError returns an ICMP error about h, sent back to h's source by h's
// destination (or by a router on the way, for internet destinations).
func (g *gen) icmpError(l *lab.Lab, ev *Evaluator, h Packet) (Packet, bool) {
	from := owner(l, ev, h.Dst)
	if from == "" || h.Quote != nil {
		return Packet{}, false
	}
	q := h
	p := Packet{From: from, Src: h.Dst, Dst: h.Src, TTL: g.ttl(), Quote: &q}
	if from == FromInternet && g.chance(0.3) {
		p.Src = g.internetAddr(l, h.Src.Is6()) // a router on the way
	}
	if h.Src.Is4() {
		p.Proto = 1
		tc := pick(g, [][2]uint8{{3, 3}, {3, 4}, {3, 1}, {11, 0}, {12, 0}, {3, 13}})
		p.ICMPType, p.ICMPCode = tc[0], tc[1]
	} else {
		p.Proto = 58
		tc := pick(g, [][2]uint8{{1, 4}, {1, 0}, {2, 0}, {3, 0}, {4, 0}})
		p.ICMPType, p.ICMPCode = tc[0], tc[1]
	}
	return p, true
}

// fresh draws a new packet: from an ENI (sometimes with a spoofed source),
// the internet or a VPC service, to anything a packet can be sent to.
func (g *gen) fresh(l *lab.Lab, ev *Evaluator) Packet {
	var p Packet
	enis := l.Interfaces()
	anyV6 := slices.ContainsFunc(enis, func(e *lab.Interface) bool { return len(e.IPv6) > 0 })
	v6 := false
	switch x := g.intn(100); {
	case x < 65:
		e := pick(g, enis)
		p.From = e.ID
		v6 = len(e.IPv6) > 0 && g.chance(0.35)
		var own []netip.Addr
		for _, a := range e.Addrs() {
			if a.Is6() == v6 {
				own = append(own, a)
			}
		}
		p.Src = own[0]
		if g.chance(0.3) {
			p.Src = pick(g, own)
		}
		if g.chance(0.08) {
			p.Src = g.anyAddr(l, ev, v6) // spoofed
		}
	case x < 88:
		p.From = FromInternet
		v6 = anyV6 && g.chance(0.35)
		p.Src = g.internetAddr(l, v6)
		if g.chance(0.05) {
			p.Src = g.anyAddr(l, ev, v6)
		}
	default:
		p.From = FromService
		v6 = anyV6 && g.chance(0.3)
		p.Src = pick(g, serviceAddrsOf(l, v6))
		if g.chance(0.05) && !g.avoid["service-spoof"] {
			p.Src = g.anyAddr(l, ev, v6)
		}
	}
	p.Dst = g.destination(l, ev, v6, p.From)
	g.fill(&p, l)
	if p.Proto == 6 && p.Src == p.Dst && p.SrcPort == p.DstPort {
		// Both ends of the flow are one endpoint: which end opened it is
		// undefined (spec §3 has no answer), and the two implementations
		// break the tie differently for a first SYN-ACK. Leave it out.
		p.DstPort++
	}
	return p
}

// serviceAddrsOf returns the VPC service addresses of a family (§6).
func serviceAddrsOf(l *lab.Lab, v6 bool) []netip.Addr {
	var out []netip.Addr
	for _, a := range serviceAddrs {
		if a.Is6() == v6 {
			out = append(out, a)
		}
	}
	if !v6 {
		out = append(out, l.VPC.CIDR.Masked().Addr().Next().Next())
	}
	for _, s := range l.Subnets {
		block := s.CIDR
		if v6 {
			block = s.IPv6CIDR
		}
		if block.IsValid() {
			for i := uint64(0); i < 4; i++ {
				out = append(out, addrAt(block, i))
			}
		}
	}
	return out
}

// internetAddr returns an address behind the internet gateway.
func (g *gen) internetAddr(l *lab.Lab, v6 bool) netip.Addr {
	var out []netip.Addr
	for _, h := range l.Internet.Hosts {
		if h.Is6() == v6 {
			out = append(out, h)
		}
	}
	for _, s := range internetPool {
		if a := netip.MustParseAddr(s); a.Is6() == v6 {
			out = append(out, a)
		}
	}
	return pick(g, out)
}

// anyAddr returns any address of the family a packet could carry: an
// ENI's, an internet one, a service one, one in the VPC nobody has.
func (g *gen) anyAddr(l *lab.Lab, ev *Evaluator, v6 bool) netip.Addr {
	switch g.intn(4) {
	case 0:
		if as := eniAddrs(l, v6); len(as) > 0 {
			return pick(g, as)
		}
	case 1:
		return pick(g, serviceAddrsOf(l, v6))
	case 2:
		if a, ok := g.unassigned(l, ev, v6); ok {
			return a
		}
	}
	return g.internetAddr(l, v6)
}

// owningENI returns the ENI that has address a.
func owningENI(l *lab.Lab, a netip.Addr) *lab.Interface {
	for _, e := range l.Interfaces() {
		if slices.Contains(e.Addrs(), a) {
			return e
		}
	}
	return nil
}

// eniAddrs returns the ENI addresses of a family.
func eniAddrs(l *lab.Lab, v6 bool) []netip.Addr {
	var out []netip.Addr
	for _, e := range l.Interfaces() {
		for _, a := range e.Addrs() {
			if a.Is6() == v6 {
				out = append(out, a)
			}
		}
	}
	return out
}

// unassigned returns an address in the VPC that no ENI or service has.
func (g *gen) unassigned(l *lab.Lab, ev *Evaluator, v6 bool) (netip.Addr, bool) {
	block := l.VPC.CIDR
	if v6 {
		block = l.VPC.IPv6CIDR
	}
	if !block.IsValid() {
		return netip.Addr{}, false
	}
	for try := 0; try < 10; try++ {
		var a netip.Addr
		s := pick(g, l.Subnets)
		sb := s.CIDR
		if v6 {
			sb = s.IPv6CIDR
		}
		if sb.IsValid() && g.chance(0.7) {
			a = addrAt(sb, uint64(g.between(4, int(min(hostCount(sb), 1<<16))-2)))
		} else {
			a = addrAt(block, hostCount(block)-uint64(g.between(2, 200))) // past the subnets
		}
		if owner(l, ev, a) == "" && !ev.isServiceAddr(a) && !isLastOfSubnet(l, a) {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func isLastOfSubnet(l *lab.Lab, a netip.Addr) bool {
	for _, s := range l.Subnets {
		for _, b := range []netip.Prefix{s.CIDR, s.IPv6CIDR} {
			if b.IsValid() && lastAddr(b) == a {
				return true
			}
		}
	}
	return false
}

// destination draws where a fresh packet entering at from goes: mostly an
// ENI (from outside, nearly always), rarely the sender itself.
func (g *gen) destination(l *lab.Lab, ev *Evaluator, v6 bool, from string) netip.Addr {
	x := g.intn(100)
	if (from == FromInternet || from == FromService) && g.chance(0.7) {
		x = 0
	}
	switch {
	case x < 45:
		as := eniAddrs(l, v6)
		if e := l.Interface(from); e != nil && g.chance(0.9) {
			as = slices.DeleteFunc(as, func(a netip.Addr) bool { return slices.Contains(e.Addrs(), a) })
		}
		if from == FromInternet && g.chance(0.8) {
			// Mostly ENIs the internet gateway reaches.
			public := slices.DeleteFunc(slices.Clone(as), func(a netip.Addr) bool {
				return !l.Subnet(owningENI(l, a).Subnet).Public
			})
			if len(public) > 0 {
				as = public
			}
		}
		if len(as) > 0 {
			return pick(g, as)
		}
	case x < 65:
		return g.internetAddr(l, v6)
	case x < 76:
		return pick(g, serviceAddrsOf(l, v6))
	case x < 82:
		if a, ok := g.unassigned(l, ev, v6); ok {
			return a
		}
	case x < 87:
		var last []netip.Addr
		for _, s := range l.Subnets {
			if b := map[bool]netip.Prefix{false: s.CIDR, true: s.IPv6CIDR}[v6]; b.IsValid() {
				last = append(last, lastAddr(b))
			}
		}
		if len(last) > 0 {
			return pick(g, last)
		}
	case x < 92:
		if v6 {
			return pick(g, []netip.Addr{netip.MustParseAddr("ff02::1"), netip.MustParseAddr("ff02::1:2")})
		}
		return pick(g, []netip.Addr{limitedBroadcast, limitedBroadcast, netip.MustParseAddr("224.0.0.251")})
	case x < 96:
		if v6 {
			return netip.MustParseAddr("fe80::1")
		}
		return pick(g, []netip.Addr{netip.MustParseAddr("169.254.1.1"), netip.MustParseAddr("169.254.169.1")})
	}
	return g.internetAddr(l, v6)
}

// otherProtos are protocols with no header the engine reads (and, in IPv6,
// no extension header).
var otherProtos = []uint8{2, 4, 41, 47, 50, 89, 132, 255}

// fill draws the protocol, ports, flags, ICMP fields and TTL of p.
func (g *gen) fill(p *Packet, l *lab.Lab) {
	v6 := p.Src.Is6()
	dhcpish := p.Dst == limitedBroadcast || isRouterAddr(l, p.Dst)
	switch x := g.intn(100); {
	case dhcpish && x < 60:
		p.Proto, p.SrcPort, p.DstPort = 17, 68, 67
		if p.From != FromInternet && p.From != FromService && p.Dst.Is4() && g.chance(0.3) {
			p.Src = netip.IPv4Unspecified() // a client without an address yet
		}
	case x < 40:
		p.Proto = 6
		p.SrcPort, p.DstPort = g.port(l), g.port(l)
		p.TCPFlags = pick(g, []uint8{tcpSYN, tcpSYN, tcpSYN, tcpSYN | tcpACK, tcpACK, tcpACK | 0x08, tcpFIN | tcpACK,
			tcpRST, tcpFIN, 0, tcpSYN | tcpFIN, uint8(g.intn(64))})
	case x < 65:
		p.Proto = 17
		p.SrcPort, p.DstPort = g.port(l), g.port(l)
	case x < 85:
		if v6 {
			p.Proto = 58
			p.ICMPType = pick(g, []uint8{128, 128, 129, 1, 2, 3, 4, 135, 136, uint8(g.intn(256))})
		} else {
			p.Proto = 1
			p.ICMPType = pick(g, []uint8{8, 8, 0, 3, 11, 12, 13, 14, 5, uint8(g.intn(256))})
		}
		p.ICMPCode = pick(g, []uint8{0, 0, 0, 1, 3, 4, 13, uint8(g.intn(256))})
		if g.avoid["icmp-errors"] && isICMPError(*p) {
			p.ICMPType = pick(g, []uint8{0, 8, 128, 129, 13, 135})
			if (p.Proto == 1) != (p.ICMPType < 128) {
				p.ICMPType ^= 128 // keep the family's own types
			}
		}
		if isEcho(*p) {
			p.ICMPID = pick(g, []uint16{0, 1, 2, 7, uint16(g.intn(65536))})
		}
	case x < 97:
		p.Proto = pick(g, otherProtos)
	default:
		// ICMP of the other family: no ICMP header the engine reads.
		p.Proto = 58
		if v6 {
			p.Proto = 1
		}
	}
	p.TTL = g.ttl()
}

// isRouterAddr reports whether a is a subnet's router (base + 1).
func isRouterAddr(l *lab.Lab, a netip.Addr) bool {
	for _, s := range l.Subnets {
		if addrAt(s.CIDR, 1) == a || (s.IPv6CIDR.IsValid() && addrAt(s.IPv6CIDR, 1) == a) {
			return true
		}
	}
	return false
}

// ttl draws a TTL: mostly 64, sometimes the edge of expiry.
func (g *gen) ttl() uint8 {
	switch x := g.intn(100); {
	case x < 88:
		return 64
	case x < 93:
		return 1
	case x < 97:
		return 2
	}
	return 255
}

// port draws a port: an edge of some rule or entry of the lab (or one
// past it), a common port, or any.
func (g *gen) port(l *lab.Lab) uint16 {
	switch x := g.intn(100); {
	case x < 45:
		var edges []int
		for _, grp := range l.SecurityGroups {
			for _, r := range slices.Concat(grp.Ingress, grp.Egress) {
				if r.Protocol == 6 || r.Protocol == 17 {
					edges = append(edges, r.FromPort, r.ToPort, r.FromPort-1, r.ToPort+1)
				}
			}
		}
		for _, a := range l.NetworkACLs {
			for _, e := range slices.Concat(a.Ingress, a.Egress) {
				if e.Protocol == 6 || e.Protocol == 17 {
					edges = append(edges, e.FromPort, e.ToPort, e.FromPort-1, e.ToPort+1)
				}
			}
		}
		edges = slices.DeleteFunc(edges, func(p int) bool { return p < 0 || p > 65535 })
		if len(edges) > 0 {
			return uint16(pick(g, edges))
		}
	case x < 75:
		return uint16(pick(g, edgePorts))
	}
	return uint16(g.intn(65536))
}
