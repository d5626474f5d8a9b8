package reach

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/explain/describe"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
	"github.com/vpclab/vpclab/verdict"
)

// Map is the reachability of a lab: every ordered pair of endpoints, each
// IP family, each protocol, with the rules that decide.
type Map struct {
	// Lab is the lab file analysed.
	Lab string `json:"lab"`
	// Endpoints are the ENIs (file order), the internet hosts, and the
	// internet when the lab has an internet gateway (a public subnet).
	Endpoints []*Endpoint `json:"endpoints"`
	// Subnets are the lab's subnets, for pictures.
	Subnets []Subnet `json:"subnets"`
	// Paths are the pairs analysed, sources in endpoint order.
	Paths []*Path `json:"paths"`
	// Exempt lists the VPC services every ENI reaches unfiltered (spec
	// §6). They are not findings: no rule can open or close them.
	Exempt []Exempt `json:"exempt"`
	// Stopped names the instances taken as stopped (Query.Stopped): they
	// send and receive nothing, and every path to or from them says so.
	Stopped []string `json:"stopped"`
	// Unmodelled says what can still stop a path the map shows open: the
	// conntrack allowance, which depends on the traffic in flight, not on
	// the rules.
	Unmodelled []string `json:"unmodelled"`

	byPair   map[[2]string][]*Path // Paths by from and to (pathsOf)
	otherRep uint8                 // the protocol standing for those no rule names
}

// pathsOf returns the paths from one endpoint to another, in Paths order.
func (m *Map) pathsOf(from, to string) []*Path {
	if m.byPair == nil {
		m.byPair = map[[2]string][]*Path{}
		for _, p := range m.Paths {
			k := [2]string{p.From, p.To}
			m.byPair[k] = append(m.byPair[k], p)
		}
	}
	return m.byPair[[2]string{from, to}]
}

// Endpoint is one end of a path.
type Endpoint struct {
	// Name is how paths, queries and assertions name it: the instance's
	// name for an instance's only (or first) ENI, the ENI id for its
	// others, the address of an internet host, or "internet".
	Name string `json:"name"`
	// Kind is "eni", "host" or "internet".
	Kind     string `json:"kind"`
	ENI      string `json:"eni,omitempty"`
	Instance string `json:"instance,omitempty"`
	Subnet   string `json:"subnet,omitempty"`
	// Addrs are the ENI's private addresses or the host's address.
	Addrs []netip.Addr `json:"addrs,omitempty"`
	// Stopped marks an ENI of a stopped instance (Query.Stopped).
	Stopped bool `json:"stopped,omitempty"`

	iface  *lab.Interface
	subnet int // index in the lab's subnets; -1 outside the VPC
}

// Kinds of endpoint.
const (
	KindENI      = "eni"
	KindHost     = "host"
	KindInternet = "internet"
)

// Internet is the name of the endpoint standing for every address outside
// the VPC.
const Internet = "internet"

// Subnet describes a subnet for pictures.
type Subnet struct {
	ID     string `json:"id"`
	CIDR   string `json:"cidr"`
	IPv6   string `json:"ipv6_cidr,omitempty"`
	ACL    string `json:"network_acl"`
	Public bool   `json:"public"`
}

// Exempt is a VPC service whose traffic with an ENI is never filtered.
type Exempt struct {
	Service string       `json:"service"`
	Addrs   []netip.Addr `json:"addrs"`
}

// Path is what gets from one endpoint to another in one IP family, from
// the addresses Src to the addresses Dst (an ENI's address, a host's, or,
// for the internet, the blocks that share this answer).
type Path struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Family int      `json:"family"`
	Src    []string `json:"src"`
	Dst    []string `json:"dst"`
	Flows  []*Flow  `json:"flows"`
}

// Flow is the answer for one protocol.
type Flow struct {
	// Proto is tcp, udp, icmp, icmpv6, "proto N" for a protocol some rule
	// names, or "other" for every protocol no rule names; Number is its
	// IANA number (-1 for other).
	Proto  string `json:"proto"`
	Number int    `json:"number"`
	// Open holds the match values (destination ports; ICMP type<<8|code;
	// 0-65535 for other protocols) whose request gets through and whose
	// reply gets back. For TCP and UDP the reply must come back to the
	// request's source port: SourcePorts are those it can come back to,
	// and a port is open when the request leaves from one of them.
	Open        Set `json:"open"`
	SourcePorts Set `json:"source_ports,omitempty"`
	// Request cuts the whole value space where the decision changes: each
	// segment allowed (with every stage's rule) or denied (with the
	// stages passed and the one that stops it). Reply does the same for
	// TCP and UDP replies over the request's source ports; for other
	// protocols the reply's steps end the request's trails.
	Request []*Segment `json:"request"`
	Reply   []*Segment `json:"reply,omitempty"`
}

// Segment is a range of match values with one answer.
type Segment struct {
	Range
	Allowed bool `json:"allowed"`
	// Trail's steps may be shared with other segments' trails: read
	// them, do not change them.
	Trail []*Step `json:"trail"`
}

// Step is one stage's decision, in explain's words.
type Step struct {
	// Stage and Code are verdict.Stage and verdict.Code names.
	Stage   string `json:"stage"`
	Allowed bool   `json:"allowed"`
	Code    string `json:"code"`
	// By says what decided, as explain says it.
	By string `json:"by"`
	// Reply marks a step of the reply.
	Reply    bool             `json:"reply,omitempty"`
	ENI      string           `json:"eni,omitempty"`
	ACL      string           `json:"acl,omitempty"`
	NACLRule int              `json:"nacl_rule,omitempty"`
	SGRule   *describe.SGRule `json:"sg_rule,omitempty"`

	// tmpl is By with the traffic and the peer left as {traffic} and
	// {src} or {dst}, for a security group that allows nothing of the
	// range (the page writes it once for every range and peer).
	tmpl string
}

// Query narrows the question. The zero Query asks everything.
type Query struct {
	// From and To name endpoints (instance, ENI id, an address of an ENI
	// or host, "internet"); empty means all.
	From, To []string
	// Proto is tcp, udp, icmp, icmpv6, a protocol number, or "" for all.
	Proto string
	// Ports, when set, keeps only these destination ports of TCP and UDP.
	Ports Set
	// Family is 4 or 6; 0 means both.
	Family int
	// Stopped names instances that are stopped (as StopInstances leaves
	// them in a running lab): nothing reaches or leaves their ENIs. A lab
	// file has no instance state, so without it every instance runs.
	Stopped []string
}

// Stopper returns the step that stops a denied segment (its last).
func (s *Segment) Stopper() *Step {
	if s.Allowed || len(s.Trail) == 0 {
		return nil
	}
	return s.Trail[len(s.Trail)-1]
}

// Analyze computes the map of l, narrowed by q.
func Analyze(l *lab.Lab, q Query) (*Map, error) {
	a := newAnalyzer(l)
	m := &Map{Lab: l.File, Endpoints: a.endpoints, otherRep: a.otherRep}
	for _, sn := range l.Subnets {
		s := Subnet{ID: sn.ID, CIDR: sn.CIDR.String(), ACL: sn.NetworkACL, Public: sn.Public}
		if sn.IPv6CIDR.IsValid() {
			s.IPv6 = sn.IPv6CIDR.String()
		}
		m.Subnets = append(m.Subnets, s)
	}
	for _, sv := range l.Services() {
		m.Exempt = append(m.Exempt, Exempt{Service: sv.Name, Addrs: sv.Addrs})
	}
	var reserved []netip.Addr
	for _, sn := range l.Subnets {
		reserved = append(reserved, sn.Reserved()...)
	}
	m.Exempt = append(m.Exempt, Exempt{Service: "subnets' reserved addresses", Addrs: reserved})

	if err := a.stop(q.Stopped); err != nil {
		return nil, err
	}
	m.Stopped = append([]string{}, q.Stopped...)
	m.Unmodelled = a.unmodelled()
	from, err := a.pick(q.From)
	if err != nil {
		return nil, fmt.Errorf("--from: %w", err)
	}
	to, err := a.pick(q.To)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	protos, err := a.protoFilter(q.Proto)
	if err != nil {
		return nil, err
	}
	fams := []int{4, 6}
	if q.Family != 0 {
		fams = []int{q.Family}
	}
	for _, s := range from {
		for _, d := range to {
			if s == d || (s.subnet < 0 && d.subnet < 0) {
				continue // itself; or outside to outside, which the VPC does not carry
			}
			for _, f := range fams {
				for _, p := range a.paths(s, d, f, protos, q.Ports) {
					if len(p.Flows) > 0 { // none when --proto names the other family's ICMP
						m.Paths = append(m.Paths, p)
					}
				}
			}
		}
	}
	return m, nil
}

// stop marks the ENIs of the instances named stopped.
func (a *analyzer) stop(names []string) error {
	for _, n := range names {
		if !slices.ContainsFunc(a.l.Instances, func(in *lab.Instance) bool { return in.Name == n }) {
			return fmt.Errorf("--stopped: %q is not an instance of lab %s", n, a.l.File)
		}
		for _, e := range a.endpoints {
			if e.Kind == KindENI && e.Instance == n {
				e.Stopped = true
			}
		}
	}
	return nil
}

// unmodelled words what the map cannot answer: the conntrack allowance
// (spec §3.7), with each instance's.
func (a *analyzer) unmodelled() []string {
	count := map[int]int{}
	common := 0
	for _, in := range a.l.Instances {
		count[in.ConntrackAllowance]++
		if count[in.ConntrackAllowance] > count[common] {
			common = in.ConntrackAllowance
		}
	}
	allowances := "each instance's: " + strconv.Itoa(common) + " flows"
	if len(count) > 1 {
		var odd []string
		for _, in := range a.l.Instances {
			if in.ConntrackAllowance != common {
				odd = append(odd, in.Name+" "+strconv.Itoa(in.ConntrackAllowance))
			}
		}
		allowances = strings.Join(odd, ", ") + ", the others " + strconv.Itoa(common) + " flows"
	}
	return []string{"the conntrack allowance (spec §3.7): while an instance tracks as many flows as its allowance (" +
		allowances + "), a new tracked flow to or from it stops at conntrack-allowance " +
		"(established and untracked flows go on). That depends on the traffic in flight, not on the rules: " +
		"the map takes every allowance as not reached; vpclab status shows what is free in a running lab."}
}

// Endpoint returns the endpoint named name, or nil.
func (m *Map) Endpoint(name string) *Endpoint {
	for _, e := range m.Endpoints {
		if e.Name == name {
			return e
		}
	}
	return nil
}

// analyzer holds a lab's rules lowered for interval arithmetic.
type analyzer struct {
	l         *lab.Lab
	endpoints []*Endpoint
	acls      [][2][2]*aclRules // by subnet: [family][ingress, egress]
	sgs       map[string]*[2][2]*sgRules
	named     [2][]int // per family, the protocols analysed
	otherRep  uint8    // a protocol no rule names
	exclude   [2][]netip.Prefix
	keyBuf    []byte
	// words caches rule descriptions: by stage rules and index.
	naclWords map[wordKey]string
	sgWords   map[wordKey]*describe.SGRule
	sgText    map[*describe.SGRule]string
	// groupNames holds each ENI's groups as NoSGRule names them.
	groupNames map[string]string
	steps      map[stepKey]*Step
}

type wordKey struct {
	rules any // *aclRules or *sgRules
	idx   int32
}

type sgRule struct {
	proto    int
	lo, hi   uint16
	prefixes []netip.Prefix
	ref      verdict.RuleRef
}

type sgRules struct {
	eni   string
	dir   verdict.Dir
	rules []sgRule
}

type aclEntry struct {
	proto  int
	lo, hi uint16
	cidr   netip.Prefix
	rule   int
	allow  bool
}

type aclRules struct {
	id      string
	dir     verdict.Dir
	entries []aclEntry
	deny    int
}

func fi(family int) int {
	if family == 6 {
		return 1
	}
	return 0
}

func newAnalyzer(l *lab.Lab) *analyzer {
	a := &analyzer{l: l, sgs: map[string]*[2][2]*sgRules{}, naclWords: map[wordKey]string{}, sgWords: map[wordKey]*describe.SGRule{}, sgText: map[*describe.SGRule]string{}, groupNames: map[string]string{}, steps: map[stepKey]*Step{}}
	res := lab.NewResolver(l)
	subnetIdx := map[string]int{}
	protoSeen := [2]map[int]bool{{}, {}}
	for i, sn := range l.Subnets {
		subnetIdx[sn.ID] = i
		acl := l.ACL(sn.NetworkACL)
		var r [2][2]*aclRules
		for _, f := range []int{4, 6} {
			for d, list := range [2][]nacl.Entry{acl.Ingress, acl.Egress} {
				c := nacl.Compile(f, list) // the family's entries in evaluation order
				ar := &aclRules{id: acl.ID, dir: verdict.Dir(d), deny: nacl.ImplicitDeny(f)}
				for _, e := range c.Entries() {
					cr := nacl.Lower(f, &e)
					ar.entries = append(ar.entries, aclEntry{cr.Proto, cr.Lo, cr.Hi, e.CIDR, e.Rule, e.Allow})
					protoSeen[fi(f)][e.Protocol] = true
				}
				r[fi(f)][d] = ar
			}
		}
		a.acls = append(a.acls, r)
	}
	for _, in := range l.Instances {
		for k, e := range in.Interfaces {
			name := e.ID
			if k == 0 {
				name = in.Name
			}
			a.endpoints = append(a.endpoints, &Endpoint{Name: name, Kind: KindENI, ENI: e.ID, Instance: in.Name,
				Subnet: e.Subnet, Addrs: e.Addrs(), iface: e, subnet: subnetIdx[e.Subnet]})
			var groups []*sg.Group
			for _, id := range e.SecurityGroups {
				groups = append(groups, l.Group(id))
			}
			var c [2][2]*sgRules
			for _, f := range []int{4, 6} {
				for d := range 2 {
					c[fi(f)][d] = lowerGroups(f, verdict.Dir(d), e.ID, groups, res, protoSeen[fi(f)])
				}
			}
			a.sgs[e.ID] = &c
		}
	}
	for _, h := range l.Internet.Hosts {
		a.endpoints = append(a.endpoints, &Endpoint{Name: h.String(), Kind: KindHost, Addrs: []netip.Addr{h}, subnet: -1})
	}
	if slices.ContainsFunc(l.Subnets, func(s *lab.Subnet) bool { return s.Public }) {
		a.endpoints = append(a.endpoints, &Endpoint{Name: Internet, Kind: KindInternet, subnet: -1})
	}
	for _, f := range []int{4, 6} {
		icmp := packet.ProtoICMP
		if f == 6 {
			icmp = packet.ProtoICMPv6
		}
		named := []int{packet.ProtoTCP, packet.ProtoUDP, icmp}
		for p := range 256 {
			if protoSeen[fi(f)][p] && !slices.Contains([]int{packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, packet.ProtoICMPv6}, p) {
				named = append(named, p)
			}
		}
		a.named[fi(f)] = append(named, -1)
	}
	// The stand-in for unnamed protocols: the highest number no rule
	// names that is not an IPv6 extension header (which a packet's
	// protocol can never be) nor one of the named four.
	a.otherRep = 252
	for n := 252; n > 0; n-- {
		if !protoSeen[0][n] && !protoSeen[1][n] && !slices.Contains(notTransport, uint8(n)) {
			a.otherRep = uint8(n)
			break
		}
	}
	a.exclude = outsideExclusions(l)
	return a
}

// notTransport are the IPv6 extension-header numbers and the "no next
// header" value (RFC 8200, RFC 7045), and the protocols analysed by name.
var notTransport = []uint8{0, 1, 6, 17, 43, 44, 50, 51, 58, 59, 60, 135, 139, 140, 253, 254}

// OtherProtocol returns the protocol number that stands for every
// protocol no rule of l names.
func OtherProtocol(l *lab.Lab) uint8 { return newAnalyzer(l).otherRep }

// lowerGroups lowers one direction of an ENI's groups for one family, in
// the order sg.Compile gives them (so the first rule here is the one the
// engine reports).
func lowerGroups(family int, dir verdict.Dir, eni string, groups []*sg.Group, res sg.Resolver, seen map[int]bool) *sgRules {
	out := &sgRules{eni: eni, dir: dir}
	for _, g := range groups {
		list := g.Ingress
		if dir == verdict.Egress {
			list = g.Egress
		}
		for i := range list {
			cr, _ := sg.Lower(family, &list[i], res)
			if len(cr.Prefixes) == 0 {
				continue
			}
			seen[cr.Proto] = true
			out.rules = append(out.rules, sgRule{cr.Proto, cr.Lo, cr.Hi, cr.Prefixes,
				verdict.RuleRef{Group: g.ID, Dir: dir, Index: i, ID: list[i].ID}})
		}
	}
	return out
}

// outsideExclusions are the addresses outside the VPC that the internet
// endpoint does not stand for: the VPC's own blocks, link-local,
// multicast, the limited broadcast and the VPC services' addresses
// (which the VPC never routes to or takes from the internet gateway).
func outsideExclusions(l *lab.Lab) [2][]netip.Prefix {
	var ex [2][]netip.Prefix
	add := func(p netip.Prefix) { ex[fi(familyOf(p.Addr()))] = append(ex[fi(familyOf(p.Addr()))], p.Masked()) }
	add(l.VPC.CIDR)
	if l.VPC.IPv6CIDR.IsValid() {
		add(l.VPC.IPv6CIDR)
	}
	for _, s := range []string{"169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32", "fe80::/10", "ff00::/8"} {
		add(netip.MustParsePrefix(s))
	}
	for _, sv := range l.Services() {
		for _, a := range sv.Addrs {
			add(netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return ex
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// pick resolves endpoint names; none means all.
func (a *analyzer) pick(names []string) ([]*Endpoint, error) {
	if len(names) == 0 {
		return a.endpoints, nil
	}
	var out []*Endpoint
	for _, n := range names {
		e := a.find(n)
		if e == nil {
			return nil, fmt.Errorf("%q is not an instance, an ENI, an internet host or \"internet\" of lab %s", n, a.l.File)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func (a *analyzer) find(name string) *Endpoint {
	addr, aerr := netip.ParseAddr(name)
	for _, e := range a.endpoints {
		if e.Name == name || (e.ENI != "" && e.ENI == name) {
			return e
		}
		if aerr == nil && slices.Contains(e.Addrs, addr.Unmap()) {
			return e
		}
	}
	return nil
}

func (a *analyzer) protoFilter(p string) (map[int]bool, error) {
	if p == "" || p == "all" || p == "-1" {
		return nil, nil
	}
	n, ok := protoNumber(p)
	if !ok {
		return nil, fmt.Errorf("--proto: %q is not a protocol: use tcp, udp, icmp, icmpv6, all or a number 0-255", p)
	}
	keep := map[int]bool{n: true}
	if !slices.Contains(a.named[0], n) && !slices.Contains(a.named[1], n) {
		keep[-1] = true // a protocol no rule names: the "other" row answers for it
	}
	return keep, nil
}

func protoNumber(s string) (int, bool) {
	switch strings.ToLower(s) {
	case "tcp":
		return packet.ProtoTCP, true
	case "udp":
		return packet.ProtoUDP, true
	case "icmp":
		return packet.ProtoICMP, true
	case "icmpv6":
		return packet.ProtoICMPv6, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}

// ProtoName names protocol number p as flows do.
func ProtoName(p int) string {
	switch p {
	case -1:
		return "other"
	case packet.ProtoTCP:
		return "tcp"
	case packet.ProtoUDP:
		return "udp"
	case packet.ProtoICMP:
		return "icmp"
	case packet.ProtoICMPv6:
		return "icmpv6"
	}
	return "proto " + strconv.Itoa(p)
}
