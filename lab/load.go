package lab

import (
	"fmt"
	"maps"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Load reads the lab file at path and parses it with Parse.
func Load(path string) (*Lab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates a lab file (YAML, or JSON, which is YAML);
// file names it in errors. It returns either a complete, valid Lab and a nil
// error, or a nil Lab and an ErrorList of every problem found, sorted by
// position. The format is described in the package documentation.
func Parse(file string, data []byte) (*Lab, error) {
	p := &parser{
		Decoder:     yamlpos.Decoder{File: file},
		subnets:     map[string]*Subnet{},
		acls:        map[string]*nacl.ACL{},
		prefixLists: map[string]*PrefixList{},
		groups:      map[string]*sg.Group{},
		ruleIDs:     map[string]int{},
		instances:   map[string]int{},
		enis:        map[string]int{},
		addrs:       map[netip.Addr]addrUse{},
	}
	if root := p.document(data); root != nil {
		p.lab(root)
	}
	if err := p.Errs.Err(maxErrors); err != nil {
		return nil, err
	}
	return p.l, nil
}

// parser builds a Lab from the nodes of one file. It reads the sections in
// the order their references need (prefix lists and network ACLs before
// the subnets and groups that name them, groups before interfaces), so
// that only references between security groups, which may point forward,
// wait until the end.
type parser struct {
	yamlpos.Decoder
	l *Lab

	// What has been read so far, by id, for references and duplicates.
	subnets     map[string]*Subnet
	acls        map[string]*nacl.ACL
	prefixLists map[string]*PrefixList
	groups      map[string]*sg.Group
	ruleIDs     map[string]int // security-group rule id → line
	instances   map[string]int // instance name → line
	enis        map[string]int // ENI id → line
	// addrs is every address given to an interface or internet host.
	addrs map[netip.Addr]addrUse
	// groupRefs are the rules' group references, resolved once every
	// group has been read.
	groupRefs []groupRef
}

// addrUse records who holds an address, for duplicate messages.
type addrUse struct {
	owner string
	line  int
}

// groupRef is a security-group rule's reference to a group.
type groupRef struct {
	id    string
	node  *yaml.Node
	field string
}

// lab reads the top-level mapping.
func (p *parser) lab(n *yaml.Node) {
	top, ok := p.Object(n, "", "a lab", "vpc", "subnets", "network_acls", "prefix_lists",
		"security_groups", "instances", "internet", "quotas", "settings",
		"flow_logs", "traffic_mirror_filters", "traffic_mirror_targets", "traffic_mirror_sessions", "tags")
	if !ok {
		return
	}
	p.l = &Lab{File: p.File, Quotas: DefaultQuotas(), Settings: DefaultSettings()}
	p.vpc(p.Need(top, "vpc", "a lab needs a vpc, such as {id: vpc-lab, cidr: 10.0.0.0/16}"))
	p.quotas(top.Vals["quotas"])
	p.settings(top.Vals["settings"])
	p.readPrefixLists(top.Vals["prefix_lists"])
	p.readNetworkACLs(top.Vals["network_acls"])
	p.readSubnets(top.Vals["subnets"])
	p.readSecurityGroups(top.Vals["security_groups"])
	p.readInstances(top.Vals["instances"])
	p.internet(top.Vals["internet"])
	p.readFlowLogs(top.Vals["flow_logs"])
	filters := p.readMirrorFilters(top.Vals["traffic_mirror_filters"])
	targets := p.readMirrorTargets(top.Vals["traffic_mirror_targets"])
	p.readMirrorSessions(top.Vals["traffic_mirror_sessions"], filters, targets)
	p.readTags(top.Vals["tags"])
}

// item reads item i of a list of objects identified by idKey ("id" or
// "name"); messages name the item by its id when it is valid, else by its
// index. what names the object for messages ("a subnet").
func (p *parser) item(n *yaml.Node, list string, i int, what, idKey string, known ...string) (o yamlpos.Object, id string, ok bool) {
	path := fmt.Sprintf("%s[%d]", list, i)
	if v := lookup(n, idKey); validID(v) {
		path = fmt.Sprintf("%s[%s]", list, v.Value)
	}
	o, ok = p.Object(n, path, what, known...)
	if !ok {
		return o, "", false
	}
	article := "an"
	if idKey == "name" {
		article = "a"
	}
	id, _ = p.id(p.Need(o, idKey, fmt.Sprintf("%s needs %s %s", what, article, idKey)), o.At(idKey))
	return o, id, true
}

// unknown reports a reference to an id that the lab does not define.
func unknownRef[V any](p *parser, n *yaml.Node, field, kind, id string, defined map[string]V) {
	ids := slices.Sorted(maps.Keys(defined))
	switch {
	case len(ids) == 0:
		p.Errorf(n, field, "no %s %q: the lab defines none", kind, id)
	case len(ids) > 10:
		p.Errorf(n, field, "no %s %q: the lab defines %s, …", kind, id, strings.Join(ids[:10], ", "))
	default:
		p.Errorf(n, field, "no %s %q: the lab defines %s", kind, id, strings.Join(ids, ", "))
	}
}

// specialBlocks are the address blocks a VPC cannot use and no internet
// host can have.
var specialBlocks = []struct {
	block netip.Prefix
	what  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local, where the instance services live"},
	{netip.MustParsePrefix("224.0.0.0/3"), "multicast or reserved"},
	{netip.MustParsePrefix("::/8"), "reserved (unspecified, loopback, IPv4-mapped)"},
	{netip.MustParsePrefix("fd00:ec2::/64"), "where the instance services live"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// specialBlock returns the special block c overlaps, if any, and what it
// is.
func specialBlock(c netip.Prefix) (netip.Prefix, string, bool) {
	for _, r := range specialBlocks {
		if r.block.Overlaps(c) {
			return r.block, r.what, true
		}
	}
	return netip.Prefix{}, "", false
}

// vpc reads the vpc section.
func (p *parser) vpc(n *yaml.Node) {
	o, ok := p.Object(n, "vpc", "the vpc", "id", "cidr", "ipv6_cidr", "account_id", "region")
	if !ok {
		return
	}
	v := &p.l.VPC
	v.AccountID, v.Region = DefaultAccountID, DefaultRegion
	if s, ok := p.Scalar(o.Vals["account_id"], o.At("account_id"), "a 12-digit AWS account id"); ok {
		if accountID.MatchString(s) {
			v.AccountID = s
		} else {
			p.Errorf(o.Vals["account_id"], o.At("account_id"), "%q is not an account id: AWS's are 12 digits, such as %s", s, DefaultAccountID)
		}
	}
	if s, ok := p.Scalar(o.Vals["region"], o.At("region"), "an AWS region"); ok {
		if regionName.MatchString(s) {
			v.Region = s
		} else {
			p.Errorf(o.Vals["region"], o.At("region"), "%q is not a region name: write it as AWS does, such as us-east-1 or eu-central-1", s)
		}
	}
	v.ID, _ = p.id(p.Need(o, "id", "the VPC needs an id, such as vpc-lab"), o.At("id"))
	field := o.At("cidr")
	n = p.Need(o, "cidr", "the VPC needs an IPv4 block, such as 10.0.0.0/16")
	if c, ok := p.prefix(n, field); ok {
		switch r, what, bad := specialBlock(c); {
		case !c.Addr().Is4():
			p.Errorf(n, field, "%s is IPv6: cidr is the VPC's IPv4 block (/16 to /28); put an IPv6 block in ipv6_cidr", c)
		case c.Bits() < 16 || c.Bits() > 28:
			p.Errorf(n, field, "%s is a /%d: a VPC's IPv4 block is /16 to /28", c, c.Bits())
		case bad:
			p.Errorf(n, field, "%s overlaps %s (%s): use a private block such as 10.0.0.0/16, 172.16.0.0/16 or 192.168.0.0/16", c, r, what)
		default:
			v.CIDR = c
		}
	}
	field = o.At("ipv6_cidr")
	n = o.Vals["ipv6_cidr"]
	if c, ok := p.prefix(n, field); ok {
		switch r, what, bad := specialBlock(c); {
		case !c.Addr().Is6():
			p.Errorf(n, field, "%s is IPv4: ipv6_cidr is the VPC's IPv6 block (/44 to /64, usually /56)", c)
		case c.Bits() < 44 || c.Bits() > 64:
			p.Errorf(n, field, "%s is a /%d: a VPC's IPv6 block is /44 to /64 (usually /56)", c, c.Bits())
		case bad:
			p.Errorf(n, field, "%s overlaps %s (%s): use a global block such as 2600:1f18:aa:bb00::/56", c, r, what)
		default:
			v.IPv6CIDR = c
		}
	}
}

// quotas reads the optional quotas section.
func (p *parser) quotas(n *yaml.Node) {
	// The maxima are AWS's, except for security-group rules: AWS stops at
	// 1000 per group, a lab may hold up to 100,000 so that rule sets at
	// ClassBench scale can be tested (rules_times_sgs follows: 16 × 100,000).
	fields := []struct {
		key     string
		dst     *int
		max     int
		meaning string
	}{
		{"nacl_entries", &p.l.Quotas.NACLEntries, MaxQuotas.NACLEntries, "network ACL entries per direction and family"},
		{"sg_rules", &p.l.Quotas.SGRules, MaxQuotas.SGRules, "rules per security group, direction and family"},
		{"sgs_per_eni", &p.l.Quotas.SGsPerENI, MaxQuotas.SGsPerENI, "security groups per interface"},
		{"rules_times_sgs", &p.l.Quotas.RulesTimesSGs, MaxQuotas.RulesTimesSGs, "rules per direction and family over an interface's groups"},
		{"sgs_per_vpc", &p.l.Quotas.SGsPerVPC, MaxQuotas.SGsPerVPC, "security groups per VPC"},
	}
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	o, ok := p.Object(n, "quotas", "the quotas", known...)
	if !ok {
		return
	}
	for _, f := range fields {
		if v, ok := p.Integer(o.Vals[f.key], o.At(f.key), "a quota of "+f.meaning, 1, f.max); ok {
			*f.dst = v
		}
	}
}

// Limits of the settings section.
const (
	maxAllowance = 10_000_000
	maxTimeout   = 432000 * time.Second // AWS's longest (TCP established)
)

// settings reads the optional settings section: the Policy choices.
func (p *parser) settings(n *yaml.Node) {
	s := &p.l.Settings
	bools := []struct {
		key string
		dst *bool
	}{
		{"secondary_ips_in_group_refs", &s.SecondaryIPsInGroupRefs},
		{"untracked_across_groups", &s.UntrackedAcrossGroups},
		{"admit_related_icmp", &s.AdmitRelatedICMP},
	}
	timeouts := []struct {
		key string
		dst *time.Duration
	}{
		{"tcp_syn_sent", &s.TCPSynSent},
		{"tcp_syn_recv", &s.TCPSynRecv},
		{"tcp_fin_wait", &s.TCPFinWait},
		{"tcp_close_wait", &s.TCPCloseWait},
		{"tcp_time_wait", &s.TCPTimeWait},
		{"tcp_last_ack", &s.TCPLastAck},
		{"tcp_close", &s.TCPClose},
		{"icmp", &s.ICMP},
		{"fragment_timeout", &s.FragmentTimeout},
	}
	known := []string{"default_allowance", "imds"}
	for _, b := range bools {
		known = append(known, b.key)
	}
	for _, t := range timeouts {
		known = append(known, t.key)
	}
	known = append(known, "datapath")
	o, ok := p.Object(n, "settings", "the settings", known...)
	if !ok {
		return
	}
	if v, ok := p.Integer(o.Vals["default_allowance"], o.At("default_allowance"), "a number of tracked flows", 1, maxAllowance); ok {
		s.DefaultAllowance = v
	}
	if v, ok := p.imds(o.Vals["imds"], o.At("imds")); ok {
		s.IMDS = v
	}
	if n := o.Vals["datapath"]; n != nil {
		if v, ok := p.Scalar(n, o.At("datapath"), "tun or ebpf"); ok {
			switch v {
			case DatapathTUN, DatapathEBPF:
				s.Datapath = v
			default:
				p.Errorf(n, o.At("datapath"), "%q is not a datapath: use tun (the userspace router) or ebpf (a kernel fast path for judged flows)", v)
			}
		}
	}
	for _, b := range bools {
		if v, ok := p.Boolean(o.Vals[b.key], o.At(b.key)); ok {
			*b.dst = v
		}
	}
	for _, t := range timeouts {
		if v, ok := p.duration(o.Vals[t.key], o.At(t.key), time.Second, maxTimeout); ok {
			*t.dst = v
		}
	}
}

// imds reads a metadata mode.
func (p *parser) imds(n *yaml.Node, field string) (string, bool) {
	s, ok := p.Scalar(n, field, "v1-and-v2 or v2-only")
	if !ok {
		return "", false
	}
	switch strings.ToLower(s) {
	case IMDSv1AndV2, "optional":
		return IMDSv1AndV2, true
	case IMDSv2Only, "required":
		return IMDSv2Only, true
	}
	p.Errorf(n, field, "%q is not a metadata mode: use v1-and-v2 (AWS's HttpTokens optional) or v2-only (required)", s)
	return "", false
}

// internet reads the optional internet section.
func (p *parser) internet(n *yaml.Node) {
	o, ok := p.Object(n, "internet", "the internet", "hosts")
	if !ok {
		return
	}
	items, _ := p.list(o.Vals["hosts"], o.At("hosts"))
	for i, item := range items {
		field := fmt.Sprintf("%s[%d]", o.At("hosts"), i)
		a, ok := p.addr(item, field)
		if !ok {
			continue
		}
		vpc := p.l.VPC
		switch r, what, bad := specialBlock(netip.PrefixFrom(a, a.BitLen())); {
		case vpc.CIDR.Contains(a) || vpc.IPv6CIDR.Contains(a):
			p.Errorf(item, field, "%s is inside the VPC: internet hosts are outside %s", a, vpc.blocks())
		case bad:
			p.Errorf(item, field, "%s is in %s (%s): an internet host needs a unicast address outside the VPC", a, r, what)
		default:
			if p.claim(a, item, field, "internet.hosts") {
				p.l.Internet.Hosts = append(p.l.Internet.Hosts, a)
			}
		}
	}
}

var (
	accountID  = regexp.MustCompile(`^[0-9]{12}$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	zoneName   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`)
	zoneID     = regexp.MustCompile(`^[a-z]{2,5}[0-9]-az[0-9]+$`)
)

// regionCode abbreviates a region as AWS's zone ids do: us-east-1 is
// use1, ap-southeast-2 apse2, eu-central-1 euc1.
func regionCode(region string) string {
	parts := strings.Split(region, "-")
	if len(parts) < 3 {
		return region
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for _, w := range parts[1 : len(parts)-1] {
		switch w {
		case "gov", "iso", "isob":
			b.WriteString(w[:1]) // us-gov-west-1 is usgw1
		default:
			for _, d := range []struct{ word, code string }{
				{"northeast", "ne"}, {"northwest", "nw"}, {"southeast", "se"}, {"southwest", "sw"},
				{"north", "n"}, {"south", "s"}, {"east", "e"}, {"west", "w"}, {"central", "c"},
			} {
				if w == d.word {
					b.WriteString(d.code)
					break
				}
			}
		}
	}
	return b.String() + parts[len(parts)-1]
}

// defaultZone returns the zone of a subnet that names none: the region's
// first, "a", with its id (us-east-1a, use1-az1).
func defaultZone(region string) (name, id string) {
	return region + "a", regionCode(region) + "-az1"
}

// blocks describes the VPC's address blocks for messages.
func (v VPC) blocks() string {
	var bs []string
	for _, b := range []netip.Prefix{v.CIDR, v.IPv6CIDR} {
		if b.IsValid() {
			bs = append(bs, b.String())
		}
	}
	return strings.Join(bs, " and ")
}

// claim records that owner holds address a, reporting an address used
// twice; it returns whether a was free.
func (p *parser) claim(a netip.Addr, n *yaml.Node, field, owner string) bool {
	if u, used := p.addrs[a]; used {
		p.Errorf(n, field, "%s is already used by %s (line %d): each address belongs to one interface or host", a, u.owner, u.line)
		return false
	}
	p.addrs[a] = addrUse{owner: owner, line: n.Line}
	return true
}
