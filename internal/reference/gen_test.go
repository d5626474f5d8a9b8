package reference

// Random labs for the differential tests, written as lab files (YAML) and
// read back with labfile.Parse, so that the loader's defaults apply exactly as
// they do for users: the default group and ACL, AWS's default egress rule,
// conntrack timeouts, settings.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
)

// The lab file's shape, as much of it as the generator uses. Pointers and
// omitempty tell "absent" (the loader's default) from "empty".
type yLab struct {
	VPC            yVPC        `yaml:"vpc" json:"vpc"`
	Quotas         *yQuotas    `yaml:"quotas,omitempty" json:"quotas,omitempty"`
	Settings       *ySettings  `yaml:"settings,omitempty" json:"settings,omitempty"`
	Subnets        []ySubnet   `yaml:"subnets,omitempty" json:"subnets,omitempty"`
	NetworkACLs    []yACL      `yaml:"network_acls,omitempty" json:"network_acls,omitempty"`
	PrefixLists    []yPL       `yaml:"prefix_lists,omitempty" json:"prefix_lists,omitempty"`
	SecurityGroups []yGroup    `yaml:"security_groups,omitempty" json:"security_groups,omitempty"`
	Instances      []yInstance `yaml:"instances,omitempty" json:"instances,omitempty"`
	Internet       *yInternet  `yaml:"internet,omitempty" json:"internet,omitempty"`
}

type yVPC struct {
	ID       string `yaml:"id" json:"id"`
	CIDR     string `yaml:"cidr" json:"cidr"`
	IPv6CIDR string `yaml:"ipv6_cidr,omitempty" json:"ipv6_cidr,omitempty"`
}

type yQuotas struct {
	NACLEntries   int `yaml:"nacl_entries,omitempty" json:"nacl_entries,omitempty"`
	SGRules       int `yaml:"sg_rules,omitempty" json:"sg_rules,omitempty"`
	SGsPerENI     int `yaml:"sgs_per_eni,omitempty" json:"sgs_per_eni,omitempty"`
	RulesTimesSGs int `yaml:"rules_times_sgs,omitempty" json:"rules_times_sgs,omitempty"`
}

type ySettings struct {
	SecondaryIPsInGroupRefs *bool `yaml:"secondary_ips_in_group_refs,omitempty" json:"secondary_ips_in_group_refs,omitempty"`
	UntrackedAcrossGroups   *bool `yaml:"untracked_across_groups,omitempty" json:"untracked_across_groups,omitempty"`
	AdmitRelatedICMP        *bool `yaml:"admit_related_icmp,omitempty" json:"admit_related_icmp,omitempty"`
	DefaultAllowance        int   `yaml:"default_allowance,omitempty" json:"default_allowance,omitempty"`
}

type ySubnet struct {
	ID         string `yaml:"id" json:"id"`
	CIDR       string `yaml:"cidr" json:"cidr"`
	IPv6CIDR   string `yaml:"ipv6_cidr,omitempty" json:"ipv6_cidr,omitempty"`
	NetworkACL string `yaml:"network_acl,omitempty" json:"network_acl,omitempty"`
	Public     bool   `yaml:"public,omitempty" json:"public,omitempty"`
}

type yACL struct {
	ID      string   `yaml:"id" json:"id"`
	Ingress []yEntry `yaml:"ingress,omitempty" json:"ingress,omitempty"`
	Egress  []yEntry `yaml:"egress,omitempty" json:"egress,omitempty"`
}

type yEntry struct {
	Rule     int    `yaml:"rule" json:"rule"`
	Action   string `yaml:"action" json:"action"`
	Protocol string `yaml:"protocol" json:"protocol"`
	Ports    string `yaml:"ports,omitempty" json:"ports,omitempty"`
	ICMPType *int   `yaml:"icmp_type,omitempty" json:"icmp_type,omitempty"`
	ICMPCode *int   `yaml:"icmp_code,omitempty" json:"icmp_code,omitempty"`
	CIDR     string `yaml:"cidr" json:"cidr"`
}

type yPL struct {
	ID         string   `yaml:"id" json:"id"`
	MaxEntries int      `yaml:"max_entries,omitempty" json:"max_entries,omitempty"`
	CIDRs      []string `yaml:"cidrs" json:"cidrs"`
}

type yGroup struct {
	ID      string   `yaml:"id" json:"id"`
	Ingress *[]yRule `yaml:"ingress,omitempty" json:"ingress,omitempty"` // nil: absent
	Egress  *[]yRule `yaml:"egress,omitempty" json:"egress,omitempty"`   // nil: absent (all out); empty: nothing out
}

type yRule struct {
	Protocol   string `yaml:"protocol" json:"protocol"`
	Ports      string `yaml:"ports,omitempty" json:"ports,omitempty"`
	ICMPType   *int   `yaml:"icmp_type,omitempty" json:"icmp_type,omitempty"`
	ICMPCode   *int   `yaml:"icmp_code,omitempty" json:"icmp_code,omitempty"`
	CIDR       string `yaml:"cidr,omitempty" json:"cidr,omitempty"`
	Group      string `yaml:"group,omitempty" json:"group,omitempty"`
	PrefixList string `yaml:"prefix_list,omitempty" json:"prefix_list,omitempty"`
}

type yInstance struct {
	Name               string `yaml:"name" json:"name"`
	ConntrackAllowance int    `yaml:"conntrack_allowance,omitempty" json:"conntrack_allowance,omitempty"`
	Interfaces         []yENI `yaml:"interfaces" json:"interfaces"`
}

type yENI struct {
	ID              string     `yaml:"id" json:"id"`
	Subnet          string     `yaml:"subnet" json:"subnet"`
	IP              string     `yaml:"ip" json:"ip"`
	SecondaryIPs    []string   `yaml:"secondary_ips,omitempty" json:"secondary_ips,omitempty"`
	IPv6            []string   `yaml:"ipv6,omitempty" json:"ipv6,omitempty"`
	SecurityGroups  []string   `yaml:"security_groups,omitempty" json:"security_groups,omitempty"`
	SourceDestCheck *bool      `yaml:"source_dest_check,omitempty" json:"source_dest_check,omitempty"`
	Conntrack       *yTimeouts `yaml:"conntrack,omitempty" json:"conntrack,omitempty"`
}

type yTimeouts struct {
	TCPEstablished int `yaml:"tcp_established_timeout,omitempty" json:"tcp_established_timeout,omitempty"`
	UDP            int `yaml:"udp_timeout,omitempty" json:"udp_timeout,omitempty"`
	UDPStream      int `yaml:"udp_stream_timeout,omitempty" json:"udp_stream_timeout,omitempty"`
}

type yInternet struct {
	Hosts []string `yaml:"hosts" json:"hosts"`
}

// text returns the lab file.
func (y *yLab) text() []byte {
	// An Encoder writing to a buffer: yaml.Marshal grows its output
	// quadratically on ClassBench-sized labs.
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(y); err != nil {
		panic(err)
	}
	if err := enc.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// json returns the lab file as JSON, which is YAML too, and which
// encoding/json writes much faster than the YAML encoder.
func (y *yLab) json() []byte {
	b, err := json.Marshal(y)
	if err != nil {
		panic(err)
	}
	return b
}

// clone returns a deep copy of y.
func (y *yLab) clone() *yLab {
	var c yLab
	if err := json.Unmarshal(y.json(), &c); err != nil {
		panic(err)
	}
	return &c
}

// parse reads y with the lab loader.
func (y *yLab) parse() (*lab.Lab, error) {
	return labfile.Parse("generated.yaml", y.json())
}

func ptr[T any](v T) *T { return &v }

// gen draws random labs and their parts.
type gen struct {
	r *rand.Rand
	// avoid names the classes of labs and packets not to draw (flag
	// -reference.avoid), to look past a known disagreement.
	avoid map[string]bool
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }
func (g *gen) intn(n int) int        { return g.r.IntN(n) }

// between returns a random integer in lo..hi.
func (g *gen) between(lo, hi int) int { return lo + g.r.IntN(hi-lo+1) }

func pick[T any](g *gen, xs []T) T { return xs[g.r.IntN(len(xs))] }

// addrAt returns the address off positions after the start of block.
func addrAt(block netip.Prefix, off uint64) netip.Addr {
	b := block.Masked().Addr().AsSlice()
	for i := len(b) - 1; i >= 0 && off > 0; i-- {
		sum := uint64(b[i]) + off&0xff
		b[i] = byte(sum)
		off = off>>8 + sum>>8
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// subnet6 returns the i-th /64 of a VPC's IPv6 /56.
func subnet6(vpc6 netip.Prefix, i int) netip.Prefix {
	b := vpc6.Masked().Addr().As16()
	b[7] += byte(i)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// hostCount returns how many addresses block holds, capped at 2^32.
func hostCount(block netip.Prefix) uint64 {
	bits := block.Addr().BitLen() - block.Bits()
	if bits >= 32 {
		return 1 << 32
	}
	return 1 << bits
}

// internetPool are addresses outside any generated VPC for internet hosts
// and random internet peers.
var internetPool = []string{
	"203.0.113.5", "203.0.113.77", "198.51.100.10", "198.51.100.200", "8.8.8.8", "1.1.1.1",
	"52.94.76.1", "100.64.1.1", "192.0.2.1",
	"2001:db8::5", "2001:db8:1::77", "2606:4700::1111", "2a00:1450::1",
}

// newLab draws a random lab file.
func (g *gen) newLab() *yLab {
	y := &yLab{}
	// The VPC: an IPv4 /16 or /20, sometimes an IPv6 /56.
	second := g.between(0, 255)
	vpc4 := netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", second))
	if g.chance(0.3) {
		vpc4 = netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/20", second, 16*g.between(0, 15)))
	}
	y.VPC = yVPC{ID: "vpc-rand", CIDR: vpc4.String()}
	var vpc6 netip.Prefix
	if g.chance(0.5) {
		vpc6 = netip.MustParsePrefix(fmt.Sprintf("2600:1f18:%x:%x00::/56", g.between(1, 0xffff), g.between(0, 0xff)))
		y.VPC.IPv6CIDR = vpc6.String()
	}

	// Settings, sometimes away from their defaults.
	if g.chance(0.4) {
		y.Settings = &ySettings{
			SecondaryIPsInGroupRefs: ptr(g.chance(0.7)),
			UntrackedAcrossGroups:   ptr(g.chance(0.6)),
			AdmitRelatedICMP:        ptr(g.chance(0.4)),
		}
	}

	// Network ACLs, before the subnets that name them.
	nACLs := g.between(0, 3)
	for i := 0; i < nACLs; i++ {
		y.NetworkACLs = append(y.NetworkACLs, g.newACL(fmt.Sprintf("acl-%d", i), vpc4, vpc6))
	}
	if g.chance(0.15) {
		// Redefine the default ACL with entries of its own.
		y.NetworkACLs = append(y.NetworkACLs, g.newACL("default", vpc4, vpc6))
	}

	// Subnets, each in its own /24 slot of the VPC (the first at the
	// VPC's base, so the VPC's DNS address is also its base + 2).
	nSubnets := g.between(1, 4)
	for i := 0; i < nSubnets; i++ {
		bits := pick(g, []int{24, 24, 25, 26, 28})
		c := netip.PrefixFrom(addrAt(vpc4, uint64(i)*256), bits)
		s := ySubnet{ID: fmt.Sprintf("subnet-%d", i), CIDR: c.String(), Public: g.chance(0.5)}
		if vpc6.IsValid() && g.chance(0.7) {
			s.IPv6CIDR = subnet6(vpc6, i).String()
		}
		if len(y.NetworkACLs) > 0 && g.chance(0.7) {
			s.NetworkACL = pick(g, y.NetworkACLs).ID
		}
		y.Subnets = append(y.Subnets, s)
	}

	// Internet hosts.
	y.Internet = &yInternet{}
	for _, a := range internetPool {
		if g.chance(0.4) {
			y.Internet.Hosts = append(y.Internet.Hosts, a)
		}
	}
	if len(y.Internet.Hosts) == 0 {
		y.Internet = nil // JSON would write the empty list as null
	}

	// Instances and their ENIs, addresses first (rules refer to them).
	used := map[netip.Addr]bool{}
	nInstances := g.between(1, 6)
	for i := 0; i < nInstances; i++ {
		if in := g.newInstance(y, fmt.Sprintf("i%d", i), used); len(in.Interfaces) > 0 {
			y.Instances = append(y.Instances, in)
		}
	}

	// Prefix lists.
	for i := 0; i < g.between(0, 2); i++ {
		pl := yPL{ID: fmt.Sprintf("pl-%d", i)}
		for j := 0; j < g.between(1, 3); j++ {
			c := g.cidr(y)
			if !slices.Contains(pl.CIDRs, c) {
				pl.CIDRs = append(pl.CIDRs, c)
			}
		}
		pl.MaxEntries = len(pl.CIDRs) + g.between(0, 2)
		y.PrefixLists = append(y.PrefixLists, pl)
	}

	// Security groups; sometimes the default group gets rules of its own.
	nGroups := g.between(1, 4)
	ids := []string{"default"}
	for i := 0; i < nGroups; i++ {
		ids = append(ids, fmt.Sprintf("sg-%d", i))
	}
	for _, id := range ids {
		if id == "default" && g.chance(0.7) {
			continue
		}
		y.SecurityGroups = append(y.SecurityGroups, g.newGroup(y, id, ids))
	}

	// Attach groups to ENIs now that they exist.
	for i := range y.Instances {
		for j := range y.Instances[i].Interfaces {
			y.Instances[i].Interfaces[j].SecurityGroups = g.groupsFor(ids)
		}
	}
	return y
}

// groupsFor draws an ENI's groups: none listed (the default group) or 1-4
// distinct ones.
func (g *gen) groupsFor(ids []string) []string {
	if g.chance(0.15) {
		return nil
	}
	var out []string
	for n := g.between(1, 4); len(out) < n; {
		id := pick(g, ids)
		if !slices.Contains(out, id) {
			out = append(out, id)
		} else if g.chance(0.5) {
			break
		}
	}
	return out
}

// newInstance draws an instance with one or two ENIs.
func (g *gen) newInstance(y *yLab, name string, used map[netip.Addr]bool) yInstance {
	in := yInstance{Name: name}
	if g.chance(0.25) && !g.avoid["small-allowance"] {
		in.ConntrackAllowance = g.between(1, 6) // small: exercise §3.7
	}
	for j := 0; j < g.between(1, 2); j++ {
		s := pick(g, y.Subnets)
		e := yENI{ID: fmt.Sprintf("eni-%s-%d", name, j), Subnet: s.ID}
		ip, ok := g.hostIn(netip.MustParsePrefix(s.CIDR), used)
		if !ok {
			continue // the subnet is full
		}
		e.IP = ip.String()
		for k := 0; k < g.between(0, 2) && g.chance(0.4); k++ {
			if a, ok := g.hostIn(netip.MustParsePrefix(s.CIDR), used); ok {
				e.SecondaryIPs = append(e.SecondaryIPs, a.String())
			}
		}
		if s.IPv6CIDR != "" && g.chance(0.7) {
			for k := 0; k < g.between(1, 2); k++ {
				if a, ok := g.hostIn(netip.MustParsePrefix(s.IPv6CIDR), used); ok {
					e.IPv6 = append(e.IPv6, a.String())
				}
			}
		}
		if g.chance(0.15) {
			e.SourceDestCheck = ptr(false)
		}
		if g.chance(0.3) {
			e.Conntrack = &yTimeouts{
				TCPEstablished: pick(g, []int{0, 60, 61, 120, 3600, 432000}),
				UDP:            pick(g, []int{0, 30, 31, 45, 60}),
				UDPStream:      pick(g, []int{0, 60, 90, 179, 180}),
			}
		}
		in.Interfaces = append(in.Interfaces, e)
	}
	return in
}

// hostIn draws an unused address of block for an ENI: never one of the
// first four or the last (reserved, §6). It prefers the edges of the usable
// range, and reports false when the block is full.
func (g *gen) hostIn(block netip.Prefix, used map[netip.Addr]bool) (netip.Addr, bool) {
	n := hostCount(block)
	for try := 0; try < 20; try++ {
		var off uint64
		switch {
		case g.chance(0.2):
			off = 4
		case g.chance(0.2):
			off = n - 2
		case n > 1<<16:
			off = uint64(g.between(4, 300))
		default:
			off = uint64(g.between(4, int(n)-2))
		}
		if a := addrAt(block, off); !used[a] {
			used[a] = true
			return a, true
		}
	}
	for off := uint64(4); off <= min(n-2, 1<<16); off++ {
		if a := addrAt(block, off); !used[a] {
			used[a] = true
			return a, true
		}
	}
	return netip.Addr{}, false
}

// knownAddrs returns the addresses of a lab file that rules should be
// about: ENI addresses, subnet blocks' edges, internet hosts.
func knownAddrs(y *yLab) []netip.Addr {
	var out []netip.Addr
	for _, in := range y.Instances {
		for _, e := range in.Interfaces {
			out = append(out, netip.MustParseAddr(e.IP))
			for _, s := range slices.Concat(e.SecondaryIPs, e.IPv6) {
				out = append(out, netip.MustParseAddr(s))
			}
		}
	}
	for _, s := range y.Subnets {
		out = append(out, netip.MustParsePrefix(s.CIDR).Addr())
		if s.IPv6CIDR != "" {
			out = append(out, netip.MustParsePrefix(s.IPv6CIDR).Addr())
		}
	}
	if y.Internet != nil {
		for _, h := range y.Internet.Hosts {
			out = append(out, netip.MustParseAddr(h))
		}
	}
	return out
}

// cidr draws a rule peer or entry block: all addresses, or a block of
// random length around an address the lab uses.
func (g *gen) cidr(y *yLab) string {
	switch {
	case g.chance(0.12):
		return "0.0.0.0/0"
	case g.chance(0.06):
		return "::/0"
	}
	var a netip.Addr
	if g.chance(0.85) {
		a = pick(g, knownAddrs(y))
	} else {
		a = netip.MustParseAddr(pick(g, internetPool))
	}
	var bits int
	if a.Is4() {
		bits = pick(g, []int{1, 8, 16, 20, 23, 24, 25, 26, 28, 30, 31, 32, 32, g.between(0, 32)})
	} else {
		bits = pick(g, []int{1, 32, 48, 56, 63, 64, 96, 120, 127, 128, 128, g.between(0, 128)})
	}
	return netip.PrefixFrom(a, bits).Masked().String()
}

// edgePorts are ports a random range likes to start or end at.
var edgePorts = []int{0, 1, 21, 22, 53, 67, 68, 80, 443, 1023, 1024, 3306, 8080, 32767, 32768, 49151, 49152, 60999, 61000, 65534, 65535}

// traffic draws a protocol with its ports or ICMP type and code.
func (g *gen) traffic() (proto, ports string, icmpType, icmpCode *int) {
	proto = pick(g, []string{"tcp", "tcp", "tcp", "udp", "udp", "icmp", "icmpv6", "all", "all", "-1",
		"6", "17", "1", "58", "47", "50", "132", "2", "255"})
	switch proto {
	case "tcp", "udp", "6", "17":
		if g.chance(0.2) {
			return proto, "", nil, nil // all ports
		}
		lo := pick(g, edgePorts)
		if g.chance(0.3) {
			lo = g.between(0, 65535)
		}
		hi := lo
		if g.chance(0.6) {
			hi = pick(g, edgePorts)
			if g.chance(0.3) {
				hi = g.between(0, 65535)
			}
		}
		lo, hi = min(lo, hi), max(lo, hi)
		if lo == hi {
			return proto, strconv.Itoa(lo), nil, nil
		}
		return proto, fmt.Sprintf("%d-%d", lo, hi), nil, nil
	case "icmp", "icmpv6", "1", "58":
		if g.chance(0.3) {
			return proto, "", nil, nil
		}
		t := pick(g, []int{-1, 0, 3, 8, 11, 1, 2, 128, 129, 135, g.between(0, 255)})
		if t == -1 {
			return proto, "", ptr(-1), nil
		}
		if g.chance(0.5) {
			return proto, "", ptr(t), nil
		}
		return proto, "", ptr(t), ptr(pick(g, []int{-1, 0, 1, 3, 4, g.between(0, 255)}))
	}
	return proto, "", nil, nil
}

// newRule draws a security-group rule.
func (g *gen) newRule(y *yLab, groups []string) yRule {
	var r yRule
	r.Protocol, r.Ports, r.ICMPType, r.ICMPCode = g.traffic()
	switch {
	case g.chance(0.2):
		r.Group = pick(g, groups)
	case len(y.PrefixLists) > 0 && g.chance(0.15):
		r.PrefixList = pick(g, y.PrefixLists).ID
	default:
		r.CIDR = g.cidr(y)
	}
	return r
}

// openRules returns rules allowing tcp, udp or everything on all ports
// to or from all addresses: what makes flows untracked (§3.4).
func (g *gen) openRules(v6 bool) []yRule {
	all := "0.0.0.0/0"
	if v6 && g.chance(0.5) {
		all = "::/0"
	}
	proto := pick(g, []string{"tcp", "udp", "all", "tcp"})
	r := yRule{Protocol: proto, CIDR: all}
	if proto != "all" && g.chance(0.3) {
		r.Ports = "0-65535"
	}
	return []yRule{r}
}

// newGroup draws a security group.
func (g *gen) newGroup(y *yLab, id string, groups []string) yGroup {
	grp := yGroup{ID: id}
	v6 := y.VPC.IPv6CIDR != ""
	if !g.chance(0.15) { // else absent: nothing in (or the default self-reference)
		in := []yRule{}
		for k := g.between(0, 7); k > 0; k-- {
			in = append(in, g.newRule(y, groups))
		}
		grp.Ingress = &in
	}
	switch {
	case g.chance(0.35): // absent: AWS's all-out rule
	case g.chance(0.15):
		grp.Egress = &[]yRule{} // nothing out
	default:
		out := []yRule{}
		for k := g.between(1, 6); k > 0; k-- {
			out = append(out, g.newRule(y, groups))
		}
		grp.Egress = &out
	}
	// Sometimes all addresses both ways: untracked flows (§3.4).
	if g.chance(0.3) {
		in := append(deref(grp.Ingress), g.openRules(v6)...)
		grp.Ingress = &in
		if grp.Egress != nil {
			out := append(*grp.Egress, g.openRules(v6)...)
			grp.Egress = &out
		}
	}
	// Shuffle so that the open rules are not always last.
	for _, rs := range []*[]yRule{grp.Ingress, grp.Egress} {
		if rs != nil {
			g.r.Shuffle(len(*rs), func(i, j int) { (*rs)[i], (*rs)[j] = (*rs)[j], (*rs)[i] })
		}
	}
	return grp
}

func deref(rs *[]yRule) []yRule {
	if rs == nil {
		return nil
	}
	return *rs
}

// newACL draws a network ACL: entries with random numbers, actions and
// blocks, at most 8 per direction (the default quota is 20 per family).
func (g *gen) newACL(id string, vpc4, vpc6 netip.Prefix) yACL {
	a := yACL{ID: id}
	for _, list := range []*[]yEntry{&a.Ingress, &a.Egress} {
		numbers := map[int]bool{}
		for k := g.between(0, 8); k > 0; k-- {
			var e yEntry
			e.Rule = pick(g, []int{1, 10, 50, 90, 99, 100, 101, 110, 200, 32766, g.between(1, 32766)})
			if numbers[e.Rule] {
				continue
			}
			numbers[e.Rule] = true
			e.Action = "deny"
			if g.chance(0.6) {
				e.Action = "allow"
			}
			e.Protocol, e.Ports, e.ICMPType, e.ICMPCode = g.traffic()
			e.CIDR = g.aclCIDR(vpc4, vpc6)
			*list = append(*list, e)
		}
		// Often a catch-all allow, so that traffic gets past some ACLs.
		if g.chance(0.5) && !numbers[32000] {
			all := "0.0.0.0/0"
			if vpc6.IsValid() && g.chance(0.3) {
				all = "::/0"
			}
			*list = append(*list, yEntry{Rule: 32000, Action: "allow", Protocol: "all", CIDR: all})
		}
		g.r.Shuffle(len(*list), func(i, j int) { (*list)[i], (*list)[j] = (*list)[j], (*list)[i] })
	}
	return a
}

// aclCIDR draws a network-ACL block: all addresses, part of the VPC, or
// an internet block.
func (g *gen) aclCIDR(vpc4, vpc6 netip.Prefix) string {
	switch {
	case g.chance(0.25):
		return "0.0.0.0/0"
	case vpc6.IsValid() && g.chance(0.15):
		return "::/0"
	case vpc6.IsValid() && g.chance(0.15):
		a := addrAt(subnet6(vpc6, g.between(0, 3)), uint64(pick(g, []int{0, 4, 5, 1 << 20})))
		return netip.PrefixFrom(a, pick(g, []int{56, 64, 72, 128})).Masked().String()
	case g.chance(0.6):
		a := addrAt(vpc4, uint64(g.between(0, 3))*256+uint64(g.between(0, 255)))
		return netip.PrefixFrom(a, pick(g, []int{vpc4.Bits(), 24, 25, 26, 28, 32})).Masked().String()
	}
	a := netip.MustParseAddr(pick(g, internetPool))
	if a.Is4() {
		return netip.PrefixFrom(a, pick(g, []int{8, 16, 24, 32})).Masked().String()
	}
	return netip.PrefixFrom(a, pick(g, []int{32, 64, 128})).Masked().String()
}

// mutate changes y a little, as a user editing the lab would: rules,
// entries, associations, attachments, timeouts, instances.
func (g *gen) mutate(y *yLab) {
	groups := []string{"default"}
	for _, grp := range y.SecurityGroups {
		if grp.ID != "default" {
			groups = append(groups, grp.ID)
		}
	}
	switch g.intn(10) {
	case 0, 1: // add, drop or change a security-group rule
		if len(y.SecurityGroups) == 0 {
			return
		}
		grp := &y.SecurityGroups[g.intn(len(y.SecurityGroups))]
		list := &grp.Ingress
		if g.chance(0.5) {
			list = &grp.Egress
		}
		rules := deref(*list)
		switch {
		case len(rules) > 0 && g.chance(0.4):
			i := g.intn(len(rules))
			rules = slices.Delete(rules, i, i+1)
		case len(rules) > 0 && g.chance(0.5):
			rules[g.intn(len(rules))] = g.newRule(y, groups)
		default:
			rules = append(rules, g.newRule(y, groups))
		}
		*list = &rules
	case 2: // add, drop or change a network-ACL entry
		if len(y.NetworkACLs) == 0 {
			return
		}
		a := &y.NetworkACLs[g.intn(len(y.NetworkACLs))]
		fresh := g.newACL(a.ID, netip.MustParsePrefix(y.VPC.CIDR), vpc6Of(y))
		if g.chance(0.5) {
			a.Ingress = fresh.Ingress
		} else {
			a.Egress = fresh.Egress
		}
	case 3: // re-associate a subnet, or flip its public flag
		s := &y.Subnets[g.intn(len(y.Subnets))]
		if len(y.NetworkACLs) > 0 && g.chance(0.5) {
			s.NetworkACL = pick(g, y.NetworkACLs).ID
		} else {
			s.Public = !s.Public
		}
	case 4: // attach other groups
		in := &y.Instances[g.intn(len(y.Instances))]
		e := &in.Interfaces[g.intn(len(in.Interfaces))]
		e.SecurityGroups = g.groupsFor(groups)
	case 5: // remove an instance or an ENI, or add an instance
		switch {
		case len(y.Instances) > 1 && g.chance(0.4):
			i := g.intn(len(y.Instances))
			y.Instances = slices.Delete(y.Instances, i, i+1)
		case g.chance(0.5):
			in := &y.Instances[g.intn(len(y.Instances))]
			if len(in.Interfaces) > 1 {
				in.Interfaces = in.Interfaces[:1]
			}
		default:
			used := map[netip.Addr]bool{}
			for _, a := range knownAddrs(y) {
				used[a] = true
			}
			name := fmt.Sprintf("n%d", g.between(0, 1_000_000))
			in := g.newInstance(y, name, used)
			for j := range in.Interfaces {
				in.Interfaces[j].SecurityGroups = g.groupsFor(groups)
			}
			if len(in.Interfaces) > 0 {
				y.Instances = append(y.Instances, in)
			}
		}
	case 6: // timeouts and allowance
		in := &y.Instances[g.intn(len(y.Instances))]
		if !g.avoid["small-allowance"] {
			in.ConntrackAllowance = pick(g, []int{0, 1, 2, 3, 10})
		}
		e := &in.Interfaces[g.intn(len(in.Interfaces))]
		e.Conntrack = &yTimeouts{
			TCPEstablished: pick(g, []int{0, 60, 300}),
			UDP:            pick(g, []int{0, 30, 60}),
			UDPStream:      pick(g, []int{0, 60, 180}),
		}
	case 7: // settings
		y.Settings = &ySettings{
			SecondaryIPsInGroupRefs: ptr(g.chance(0.5)),
			UntrackedAcrossGroups:   ptr(g.chance(0.5)),
			AdmitRelatedICMP:        ptr(g.chance(0.5)),
		}
	case 9: // move an ENI, with its id, to another instance
		if len(y.Instances) < 2 {
			return
		}
		i, j := g.intn(len(y.Instances)), g.intn(len(y.Instances))
		if i == j || len(y.Instances[i].Interfaces) < 2 {
			return
		}
		e := y.Instances[i].Interfaces[1]
		y.Instances[i].Interfaces = y.Instances[i].Interfaces[:1]
		y.Instances[j].Interfaces = append(y.Instances[j].Interfaces, e)
	case 8: // source/destination check
		in := &y.Instances[g.intn(len(y.Instances))]
		e := &in.Interfaces[g.intn(len(in.Interfaces))]
		e.SourceDestCheck = ptr(!g.chance(0.5))
	}
}

func vpc6Of(y *yLab) netip.Prefix {
	if y.VPC.IPv6CIDR == "" {
		return netip.Prefix{}
	}
	return netip.MustParsePrefix(y.VPC.IPv6CIDR)
}
