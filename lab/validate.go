package lab

import (
	"fmt"
	"maps"
	"math"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Validate checks that l is a lab AWS could hold and vpclab can run: every
// id well formed and unique, every reference resolved, every address block
// and address where AWS allows it, every value in range, every quota held.
// It returns nil, or an ErrorList of every problem (at most 50 and one
// saying how many more), each keyed by its field path such as
// security_groups[sg-web].ingress[2].ports, with the Line of the object it
// is about when l came from a file. Validate changes nothing; a lab built
// by hand or by an importer gets its defaults from Normalize first.
//
// Field paths name list items by their id when it is valid, else by their
// index from 0; network-ACL entries by their rule number when it is in
// range ([rule 110]), else by index.
func Validate(l *Lab) error { return Check(l).Err(maxErrors) }

// Check returns every problem Validate reports, unsorted and uncapped:
// readers of lab files (package labfile) merge them with their own and
// place them in the file.
func Check(l *Lab) ErrorList {
	v := &validator{
		l:           l,
		subnets:     map[string]*Subnet{},
		acls:        map[string]*nacl.ACL{},
		prefixLists: map[string]*PrefixList{},
		groups:      map[string]*sg.Group{},
		ruleIDs:     map[string]loc{},
		addrs4:      map[uint32]claimSrc{},
		addrs:       map[netip.Addr]claimSrc{},
		quotas:      DefaultQuotas(),
	}
	v.vpc()
	v.checkQuotas()
	v.settings()
	v.prefixListsSection()
	v.networkACLs()
	v.subnetsSection()
	v.securityGroups()
	v.instancesSection()
	v.internet()
	v.flowLogs()
	filters := v.mirrorFilters()
	targets := v.mirrorTargets()
	v.mirrorSessions(filters, targets)
	v.tags()
	return v.errs
}

// validator checks one lab; the maps hold what it has checked so far, by
// id, for references and duplicates.
type validator struct {
	l    *Lab
	errs ErrorList

	// vpc4 and vpc6 are the VPC's blocks when they are valid, else zero,
	// so that checks against an invalid block are left out.
	vpc4, vpc6 netip.Prefix
	// quotas are the lab's, each replaced by its default when invalid.
	quotas Quotas

	subnets     map[string]*Subnet
	acls        map[string]*nacl.ACL
	prefixLists map[string]*PrefixList
	groups      map[string]*sg.Group
	ruleIDs     map[string]loc // security-group rule id → where it is first
	// Of a lab of 60,000 instances, maps of every instance, interface
	// and address would take as much memory as the model: the duplicate
	// names and ids are found by sorting (index.go), the addresses kept
	// by who claims them (IPv4 by its 4 bytes).
	instFirst []int32   // instance → the first instance of its name, or -1
	ifaces    []ifaceAt // every interface, in order
	eniFirst  []int32   // interface → the first interface of its id, or -1
	enis      sortedIDs // every valid interface id
	iface1    int       // the index in ifaces of the interface checked
	addrs4    map[uint32]claimSrc
	addrs     map[netip.Addr]claimSrc
}

// loc is where an object is, for messages: its line, or when it has none
// (a lab not read from a file), its path. The maps of every id and
// address of a lab hold one per object: it is not written out until a
// message needs it.
type loc struct {
	line int32
	path *string
}

func locate(line int, path string) loc {
	if line > 0 && line <= math.MaxInt32 {
		return loc{line: int32(line)}
	}
	return loc{path: &path}
}

func (l loc) String() string {
	if l.path != nil {
		return *l.path
	}
	return where(int(l.line), "")
}

// errorf records a problem of the object at line (0 when unknown) at the
// field path.
func (v *validator) errorf(line int, field, format string, args ...any) {
	v.errs = append(v.errs, &Error{File: v.l.File, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// where names the place of an object for messages: "line 12" when it
// came from a file, else its field path.
func where(line int, path string) string {
	if line > 0 {
		return "line " + strconv.Itoa(line)
	}
	return path
}

// itemPath names item i of a list: by its id when it is valid, else by
// its index.
func itemPath(list string, i int, id string) string {
	if ValidID(id) {
		return list + "[" + id + "]"
	}
	return list + "[" + strconv.Itoa(i) + "]"
}

// EntryPath names entry i of a network ACL direction (the path dir): by
// its rule number when it is in range, else by its index.
func EntryPath(dir string, i, rule int) string {
	if rule >= nacl.MinRule && rule <= nacl.MaxRule {
		return dir + "[rule " + strconv.Itoa(rule) + "]"
	}
	return dir + "[" + strconv.Itoa(i) + "]"
}

// ItemPath names item i of a list as Validate does: list[id] when id is
// valid, else list[i].
func ItemPath(list string, i int, id string) string { return itemPath(list, i, id) }

// idPattern is what ids and names may look like: they appear in
// space-separated flow-log records and in field paths.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidID reports whether s can be a lab id or name: 1-64 letters,
// digits, '.', '_' or '-', starting with a letter or digit.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// id checks an identifier; missing says what to write when it is empty.
func (v *validator) id(line int, field, s, missing string) bool {
	switch {
	case s == "":
		v.errorf(line, field, "missing: %s", missing)
	case !ValidID(s):
		v.errorf(line, field, "%q is not a valid id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", s)
	default:
		return true
	}
	return false
}

// text checks free text: a lab file is UTF-8.
func (v *validator) text(line int, field, s string) bool {
	if !utf8.ValidString(s) {
		v.errorf(line, field, "%q is not UTF-8, which a lab file is", s)
		return false
	}
	return true
}

// ref checks a reference: a valid id that names one of defined; kind
// names what it refers to for messages.
func ref[V any](v *validator, line int, field, kind, id, missing string, defined map[string]V) bool {
	return refIn(v, line, field, kind, id, missing,
		func(id string) bool { _, ok := defined[id]; return ok },
		func() []string { return slices.Sorted(maps.Keys(defined)) })
}

// refIn is ref for the ids has knows, all of them sorted by all.
func refIn(v *validator, line int, field, kind, id, missing string, has func(string) bool, all func() []string) bool {
	if !v.id(line, field, id, missing) {
		return false
	}
	if has(id) {
		return true
	}
	ids := all()
	switch {
	case len(ids) == 0:
		v.errorf(line, field, "no %s %q: the lab defines none", kind, id)
	case len(ids) > 10:
		v.errorf(line, field, "no %s %q: the lab defines %s, …", kind, id, strings.Join(ids[:10], ", "))
	default:
		v.errorf(line, field, "no %s %q: the lab defines %s", kind, id, strings.Join(ids, ", "))
	}
	return false
}

// redefined reports an object whose id was already used.
func (v *validator) redefined(line int, field, id, first string) {
	v.errorf(line, field, "%s is defined twice (first at %s): ids are unique", id, first)
}

// intRange checks an integer in lo..hi; what names it for messages ("a
// rule number").
func (v *validator) intRange(line int, field string, x int, what string, lo, hi int) bool {
	if x < lo || x > hi {
		v.errorf(line, field, "%q is not %s: use a whole number from %d to %d", strconv.Itoa(x), what, lo, hi)
		return false
	}
	return true
}

// durationRange checks a duration in lo..hi.
func (v *validator) durationRange(line int, field string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		v.errorf(line, field, "%s is out of range: use %s-%s", seconds(d), seconds(lo), seconds(hi))
	}
}

// seconds formats a duration the way AWS states its limits: "432000s".
func seconds(d time.Duration) string {
	if d%time.Second != 0 {
		return d.String()
	}
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// prefix checks a block of the model: set, not IPv4-mapped, host bits
// clear. missing says what to write when it is not set.
func (v *validator) prefix(line int, field string, c netip.Prefix, missing string) bool {
	switch {
	case !c.IsValid():
		v.errorf(line, field, "missing: %s", missing)
	case c.Addr().Is4In6():
		v.errorf(line, field, "%q is an IPv4-mapped IPv6 block: write IPv4 blocks as IPv4, such as 10.0.0.0/16", c)
	case c.Addr().Zone() != "":
		v.errorf(line, field, "%q has a zone: write the block without %%%s", c, c.Addr().Zone())
	case c != c.Masked():
		v.errorf(line, field, "%s has host bits set: write %s", c, c.Masked())
	default:
		return true
	}
	return false
}

// addr checks an address of the model: set, no zone, not IPv4-mapped.
func (v *validator) addr(line int, field string, a netip.Addr, missing string) bool {
	switch {
	case !a.IsValid():
		v.errorf(line, field, "missing: %s", missing)
	case a.Zone() != "":
		v.errorf(line, field, "%q has a zone: write the address without %%%s", a, a.Zone())
	case a.Is4In6():
		v.errorf(line, field, "%q is an IPv4-mapped IPv6 address: write it as IPv4 (%s)", a, a.Unmap())
	default:
		return true
	}
	return false
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

// SpecialBlock returns the special block c overlaps (loopback, link-local,
// multicast, where the instance services live, …), which no VPC, subnet
// or internet host may use, and what it is; ok is false when c overlaps
// none.
func SpecialBlock(c netip.Prefix) (block netip.Prefix, what string, ok bool) {
	for _, r := range specialBlocks {
		if r.block.Overlaps(c) {
			return r.block, r.what, true
		}
	}
	return netip.Prefix{}, "", false
}

var (
	accountID  = regexp.MustCompile(`^[0-9]{12}$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	zoneName   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`)
	zoneID     = regexp.MustCompile(`^[a-z]{2,5}[0-9]-az[0-9]+$`)
)

// vpc checks the VPC.
func (v *validator) vpc() {
	vpc := &v.l.VPC
	if !accountID.MatchString(vpc.AccountID) {
		v.errorf(0, "vpc.account_id", "%q is not an account id: AWS's are 12 digits, such as %s", vpc.AccountID, DefaultAccountID)
	}
	if !regionName.MatchString(vpc.Region) {
		v.errorf(0, "vpc.region", "%q is not a region name: write it as AWS does, such as us-east-1 or eu-central-1", vpc.Region)
	}
	v.id(0, "vpc.id", vpc.ID, "the VPC needs an id, such as vpc-lab")
	if c := vpc.CIDR; v.prefix(0, "vpc.cidr", c, "the VPC needs an IPv4 block, such as 10.0.0.0/16") {
		switch r, what, bad := SpecialBlock(c); {
		case !c.Addr().Is4():
			v.errorf(0, "vpc.cidr", "%s is IPv6: cidr is the VPC's IPv4 block (/16 to /28); put an IPv6 block in ipv6_cidr", c)
		case c.Bits() < 16 || c.Bits() > 28:
			v.errorf(0, "vpc.cidr", "%s is a /%d: a VPC's IPv4 block is /16 to /28", c, c.Bits())
		case bad:
			v.errorf(0, "vpc.cidr", "%s overlaps %s (%s): use a private block such as 10.0.0.0/16, 172.16.0.0/16 or 192.168.0.0/16", c, r, what)
		default:
			v.vpc4 = c
		}
	}
	if c := vpc.IPv6CIDR; c.IsValid() && v.prefix(0, "vpc.ipv6_cidr", c, "") {
		switch r, what, bad := SpecialBlock(c); {
		case !c.Addr().Is6():
			v.errorf(0, "vpc.ipv6_cidr", "%s is IPv4: ipv6_cidr is the VPC's IPv6 block (/44 to /64, usually /56)", c)
		case c.Bits() < 44 || c.Bits() > 64:
			v.errorf(0, "vpc.ipv6_cidr", "%s is a /%d: a VPC's IPv6 block is /44 to /64 (usually /56)", c, c.Bits())
		case bad:
			v.errorf(0, "vpc.ipv6_cidr", "%s overlaps %s (%s): use a global block such as 2600:1f18:aa:bb00::/56", c, r, what)
		default:
			v.vpc6 = c
		}
	}
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

// checkQuotas checks the quotas, keeping the valid ones for the checks
// that count against them.
func (v *validator) checkQuotas() {
	// The maxima are AWS's, except for security-group rules: AWS stops at
	// 1000 per group, a lab may hold up to 100,000 so that rule sets at
	// ClassBench scale can be tested (rules_times_sgs follows: 16 × 100,000).
	q := v.l.Quotas
	for _, f := range []struct {
		key      string
		val, max int
		dst      *int
		meaning  string
	}{
		{"nacl_entries", q.NACLEntries, MaxQuotas.NACLEntries, &v.quotas.NACLEntries, "network ACL entries per direction and family"},
		{"sg_rules", q.SGRules, MaxQuotas.SGRules, &v.quotas.SGRules, "rules per security group, direction and family"},
		{"sgs_per_eni", q.SGsPerENI, MaxQuotas.SGsPerENI, &v.quotas.SGsPerENI, "security groups per interface"},
		{"rules_times_sgs", q.RulesTimesSGs, MaxQuotas.RulesTimesSGs, &v.quotas.RulesTimesSGs, "rules per direction and family over an interface's groups"},
		{"sgs_per_vpc", q.SGsPerVPC, MaxQuotas.SGsPerVPC, &v.quotas.SGsPerVPC, "security groups per VPC"},
	} {
		if v.intRange(0, "quotas."+f.key, f.val, "a quota of "+f.meaning, 1, f.max) {
			*f.dst = f.val
		}
	}
}

// Limits of the settings.
const (
	maxAllowance = 10_000_000
	// maxPPSAllowance bounds a packet-rate allowance: at 10M packets/s a
	// packet's share of a second is still 100 whole nanoseconds, the
	// resolution of dataplane's bucket.
	maxPPSAllowance = 10_000_000
	maxTimeout      = 432000 * time.Second // AWS's longest (TCP established)
)

// settings checks the Policy choices.
func (v *validator) settings() {
	s := &v.l.Settings
	v.intRange(0, "settings.default_allowance", s.DefaultAllowance, "a number of tracked flows", 1, maxAllowance)
	v.intRange(0, "settings.pps_allowance", s.PPSAllowance, "packets per second (0: unlimited)", 0, maxPPSAllowance)
	v.imds(0, "settings.imds", s.IMDS)
	if s.Datapath != "" && s.Datapath != DatapathTUN && s.Datapath != DatapathEBPF {
		v.errorf(0, "settings.datapath", "%q is not a datapath: use tun (the userspace router) or ebpf (a kernel fast path for judged flows)", s.Datapath)
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"tcp_syn_sent", s.TCPSynSent}, {"tcp_syn_recv", s.TCPSynRecv}, {"tcp_fin_wait", s.TCPFinWait},
		{"tcp_close_wait", s.TCPCloseWait}, {"tcp_time_wait", s.TCPTimeWait}, {"tcp_last_ack", s.TCPLastAck},
		{"tcp_close", s.TCPClose}, {"icmp", s.ICMP}, {"fragment_timeout", s.FragmentTimeout},
	} {
		v.durationRange(0, "settings."+t.key, t.d, time.Second, maxTimeout)
	}
	if s.Other != DefaultSettings().Other {
		v.errorf(0, "settings.other", "%s: the idle timeout of other protocols is AWS's fixed %s", seconds(s.Other), seconds(DefaultSettings().Other))
	}
}

// imds checks a metadata mode.
func (v *validator) imds(line int, field, s string) {
	if s != IMDSv1AndV2 && s != IMDSv2Only {
		v.errorf(line, field, "%q is not a metadata mode: use v1-and-v2 (AWS's HttpTokens optional) or v2-only (required)", s)
	}
}

// maxPrefixListEntries is AWS's limit on a prefix list's max_entries.
const maxPrefixListEntries = 1000

// prefixListsSection checks the prefix lists.
func (v *validator) prefixListsSection() {
	for i, pl := range v.l.PrefixLists {
		path := itemPath("prefix_lists", i, pl.ID)
		if v.id(pl.Line, path+".id", pl.ID, "a prefix list needs an id") {
			if first := v.prefixLists[pl.ID]; first != nil {
				v.redefined(pl.Line, path+".id", pl.ID, where(first.Line, "prefix_lists"))
			} else {
				v.prefixLists[pl.ID] = pl
			}
		}
		seen := map[netip.Prefix]int{}
		for j, c := range pl.CIDRs {
			field := fmt.Sprintf("%s.cidrs[%d]", path, j)
			if !v.prefix(pl.Line, field, c, "a CIDR") {
				continue
			}
			if first, dup := seen[c]; dup {
				v.errorf(pl.Line, field, "%s is listed twice (first as cidrs[%d])", c, first)
				continue
			}
			seen[c] = j
		}
		if v.intRange(pl.Line, path+".max_entries", pl.MaxEntries, "a number of entries", 1, maxPrefixListEntries) && len(pl.CIDRs) > pl.MaxEntries {
			v.errorf(pl.Line, path+".cidrs", "%d CIDRs is more than max_entries (%d): raise max_entries (up to %d) or remove CIDRs",
				len(pl.CIDRs), pl.MaxEntries, maxPrefixListEntries)
		}
	}
}

// networkACLs checks the network ACLs.
func (v *validator) networkACLs() {
	for i, a := range v.l.NetworkACLs {
		path := itemPath("network_acls", i, a.ID)
		if v.id(a.Line, path+".id", a.ID, "a network ACL needs an id") {
			if first := v.acls[a.ID]; first != nil {
				v.redefined(a.Line, path+".id", a.ID, where(first.Line, "network_acls"))
			} else {
				v.acls[a.ID] = a
			}
		}
		v.entries(path+".ingress", "ingress", a.Ingress)
		v.entries(path+".egress", "egress", a.Egress)
	}
	if v.acls[nacl.DefaultACLID] == nil {
		v.errorf(0, "network_acls", "no network ACL %q: every VPC has its default ACL", nacl.DefaultACLID)
	}
}

// entries checks one direction of a network ACL (at the field path dir).
func (v *validator) entries(dir, dirName string, entries []nacl.Entry) {
	numbers := map[int]string{}
	var perFamily [2]int // entries by family: IPv4, IPv6
	var excess [2]*nacl.Entry
	var excessPath [2]string
	for i := range entries {
		e := &entries[i]
		path := EntryPath(dir, i, e.Rule)
		switch {
		case e.Rule == nacl.ImplicitDenyIPv4 || e.Rule == nacl.ImplicitDenyIPv6:
			v.errorf(e.Line, path+".rule", "rule %d is the implicit deny (*) that ends every network ACL and cannot be written: use 1-32766", e.Rule)
		case !v.intRange(e.Line, path+".rule", e.Rule, "a rule number", nacl.MinRule, nacl.MaxRule):
		default:
			if first, used := numbers[e.Rule]; used {
				v.errorf(e.Line, path+".rule", "rule %d is already used at %s: numbers are unique per direction", e.Rule, first)
			} else {
				numbers[e.Rule] = where(e.Line, path)
			}
		}
		v.traffic(e.Line, path, e.Protocol, e.FromPort, e.ToPort, e.ICMPType, e.ICMPCode)
		if !v.prefix(e.Line, path+".cidr", e.CIDR, "an entry needs a CIDR, such as 0.0.0.0/0 or ::/0") {
			continue
		}
		fam := family(e.CIDR.Addr())
		if perFamily[fam]++; perFamily[fam] == v.quotas.NACLEntries+1 {
			excess[fam], excessPath[fam] = e, path
		}
	}
	for fam, e := range excess {
		if e != nil {
			v.errorf(e.Line, excessPath[fam], "%d %s entries in %s: the quota is %d per direction and family (quotas.nacl_entries; AWS allows up to 40)",
				perFamily[fam], familyName(fam), dirName, v.quotas.NACLEntries)
		}
	}
}

// traffic checks what a security-group rule or network-ACL entry matches
// besides its peer: a protocol, ports for TCP and UDP only, ICMP type and
// code for ICMP only; the fields that do not apply hold their match-all
// values (ports 0-65535, type and code -1).
func (v *validator) traffic(line int, path string, proto, from, to, typ, code int) {
	if proto != ec2.ProtoAll && (proto < 0 || proto > 255) {
		v.errorf(line, path+".protocol", "%d is not a protocol: use tcp, udp, icmp, icmpv6, all (or -1), or an IANA protocol number 0-255", proto)
		return
	}
	v.ports(line, path+".ports", proto, from, to)
	if !sg.ICMPMatters(proto) {
		for _, f := range []struct {
			key string
			val int
		}{{"icmp_type", typ}, {"icmp_code", code}} {
			if f.val != -1 {
				v.errorf(line, path+"."+f.key, "%s applies only to icmp and icmpv6, not %s", f.key, protoName(proto))
			}
		}
		return
	}
	typeOK := v.intRange(line, path+".icmp_type", typ, "an ICMP type (-1 for any)", -1, 255)
	codeOK := v.intRange(line, path+".icmp_code", code, "an ICMP code (-1 for any)", -1, 255)
	if typeOK && codeOK && typ == -1 && code != -1 {
		v.errorf(line, path+".icmp_code", "code %d needs a type: give icmp_type too (any type, -1, requires any code, -1)", code)
	}
}

// ports checks a port range: a range within 0-65535 for TCP and UDP, all
// of it for other protocols.
func (v *validator) ports(line int, field string, proto, from, to int) {
	switch {
	case !sg.PortsMatter(proto):
		// Other protocols than tcp, udp, icmp and icmpv6 take a port
		// range and ignore it, as EC2 does (Normalize sets it to all).
		if sg.ICMPMatters(proto) && (from != 0 || to != 65535) {
			v.errorf(line, field, "ports apply only to tcp and udp; %s has none to choose", protoName(proto))
		}
	case from < 0 || to > 65535 || from > to:
		v.errorf(line, field, "%d-%d is not a port range: use ports 0-65535, the lower first", from, to)
	}
}

// protoName names a protocol number for messages.
func protoName(proto int) string {
	if s, ok := ec2.ProtocolName(proto); ok {
		return s
	}
	return "protocol " + strconv.Itoa(proto)
}

// subnetsSection checks the subnets.
func (v *validator) subnetsSection() {
	var done []*Subnet
	for i, s := range v.l.Subnets {
		path := itemPath("subnets", i, s.ID)
		if v.id(s.Line, path+".id", s.ID, "a subnet needs an id") {
			if first := v.subnets[s.ID]; first != nil {
				v.redefined(s.Line, path+".id", s.ID, where(first.Line, "subnets"))
			} else {
				v.subnets[s.ID] = s
			}
		}
		v.subnetBlock(s, path+".cidr", s.CIDR, false, done)
		if s.IPv6CIDR.IsValid() {
			v.subnetBlock(s, path+".ipv6_cidr", s.IPv6CIDR, true, done)
		}
		ref(v, s.Line, path+".network_acl", "network ACL", s.NetworkACL, "a subnet needs a network ACL", v.acls)
		region := v.l.VPC.Region
		if !zoneName.MatchString(s.AvailabilityZone) || !strings.HasPrefix(s.AvailabilityZone, region) {
			v.errorf(s.Line, path+".availability_zone", "%q is not a zone of %s: write it as %sa, %sb, …", s.AvailabilityZone, region, region, region)
		}
		if !zoneID.MatchString(s.AZID) {
			v.errorf(s.Line, path+".az_id", "%q is not a zone id: write it as AWS does, such as %s-az1", s.AZID, regionCode(region))
		}
		done = append(done, s)
	}
}

// subnetBlock checks a subnet's cidr (IPv4, /16 to /28) or ipv6_cidr
// (IPv6, /64), which must lie inside the VPC's block of that family and
// overlap no block of the subnets before it.
func (v *validator) subnetBlock(s *Subnet, field string, c netip.Prefix, v6 bool, before []*Subnet) {
	if !v.prefix(s.Line, field, c, "a subnet needs an IPv4 block inside the VPC's, such as 10.0.1.0/24") {
		return
	}
	vpc := v.vpc4
	if v6 {
		vpc = v.vpc6
	}
	switch {
	case !v6 && !c.Addr().Is4():
		v.errorf(s.Line, field, "%s is IPv6: cidr is the subnet's IPv4 block; put an IPv6 /64 in ipv6_cidr", c)
	case !v6 && (c.Bits() < 16 || c.Bits() > 28):
		v.errorf(s.Line, field, "%s is a /%d: a subnet's IPv4 block is /16 to /28", c, c.Bits())
	case v6 && !c.Addr().Is6():
		v.errorf(s.Line, field, "%s is IPv4: ipv6_cidr is the subnet's IPv6 /64; put the IPv4 block in cidr", c)
	case v6 && c.Bits() != 64:
		v.errorf(s.Line, field, "%s is a /%d: a subnet's IPv6 block is a /64", c, c.Bits())
	case v6 && !v.l.VPC.IPv6CIDR.IsValid():
		v.errorf(s.Line, field, "the VPC has no IPv6 block: a subnet's IPv6 /64 comes from the vpc's ipv6_cidr")
	case vpc.IsValid() && (c.Bits() < vpc.Bits() || !vpc.Contains(c.Addr())):
		v.errorf(s.Line, field, "%s is outside the VPC's %s", c, vpc)
	default:
		for _, other := range before {
			b := other.CIDR
			if v6 {
				b = other.IPv6CIDR
			}
			if b.IsValid() && b.Overlaps(c) {
				v.errorf(s.Line, field, "%s overlaps %s of %s (%s): subnets do not share addresses", c, b, other.ID, where(other.Line, "subnets"))
				return
			}
		}
	}
}

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

// securityGroups checks the security groups and the references between
// them.
func (v *validator) securityGroups() {
	type groupRef struct {
		line      int
		field, id string
	}
	var refs []groupRef
	if quota := v.quotas.SGsPerVPC; len(v.l.SecurityGroups) > quota {
		g := v.l.SecurityGroups[quota]
		v.errorf(g.Line, itemPath("security_groups", quota, g.ID), "%d security groups: the quota is %d per VPC, the default group included (quotas.sgs_per_vpc; AWS's default is 2500)", len(v.l.SecurityGroups), quota)
	}
	for i, g := range v.l.SecurityGroups {
		path := itemPath("security_groups", i, g.ID)
		if v.id(g.Line, path+".id", g.ID, "a security group needs an id") {
			if first := v.groups[g.ID]; first != nil {
				v.redefined(g.Line, path+".id", g.ID, where(first.Line, "security_groups"))
			} else {
				v.groups[g.ID] = g
			}
		}
		v.text(g.Line, path+".description", g.Description)
		for _, dir := range []struct {
			key   string
			rules []sg.Rule
		}{{"ingress", g.Ingress}, {"egress", g.Egress}} {
			var perFamily [2]int // quota weight by family: IPv4, IPv6
			var excess [2]string // the path of the first rule over the quota, by family
			var excessLine [2]int
			quota := v.quotas.SGRules
			for j, r := range dir.rules {
				rpath := fmt.Sprintf("%s.%s[%d]", path, dir.key, j)
				v.rule(r, rpath)
				if r.Group != "" && ValidID(r.Group) {
					refs = append(refs, groupRef{r.Line, rpath + ".group", r.Group})
				}
				for fam, w := range ruleWeight(r, v.prefixLists[r.PrefixList]) {
					if perFamily[fam] <= quota && perFamily[fam]+w > quota {
						excess[fam], excessLine[fam] = rpath, r.Line
					}
					perFamily[fam] += w
				}
			}
			for fam, at := range excess {
				if at != "" {
					v.errorf(excessLine[fam], at, "%d %s rules in %s (a prefix-list rule counts as its max_entries): the quota is %d per direction and family (quotas.sg_rules)",
						perFamily[fam], familyName(fam), dir.key, quota)
				}
			}
		}
	}
	if v.groups[sg.DefaultGroupID] == nil {
		v.errorf(0, "security_groups", "no security group %q: every VPC has its default group", sg.DefaultGroupID)
	}
	for _, r := range refs {
		ref(v, r.line, r.field, "security group", r.id, "", v.groups)
	}
}

// rule checks one security-group rule (at path) except its group
// reference, which waits until every group is known.
func (v *validator) rule(r sg.Rule, path string) {
	if r.ID != "" {
		first, dup := v.ruleIDs[r.ID]
		switch {
		case !v.id(r.Line, path+".id", r.ID, ""):
		case !strings.HasPrefix(r.ID, "sgr-"):
			v.errorf(r.Line, path+".id", "%q is not a rule id: rule ids start with sgr-, such as sgr-0123456789abcdef0", r.ID)
		case dup:
			v.errorf(r.Line, path+".id", "%s is defined twice (first at %s): ids are unique", r.ID, first)
		default:
			v.ruleIDs[r.ID] = locate(r.Line, path)
		}
	}
	v.text(r.Line, path+".description", r.Description)
	v.traffic(r.Line, path, r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode)
	var given []string
	if r.CIDR.IsValid() {
		given = append(given, "cidr")
	}
	if r.Group != "" {
		given = append(given, "group")
	}
	if r.PrefixList != "" {
		given = append(given, "prefix_list")
	}
	switch {
	case len(given) == 0:
		v.errorf(r.Line, path, "missing a peer: give one of cidr, group or prefix_list")
	case len(given) > 1:
		v.errorf(r.Line, path, "%s: a rule has exactly one peer", strings.Join(given, " and "))
	case r.CIDR.IsValid():
		v.prefix(r.Line, path+".cidr", r.CIDR, "")
	case r.Group != "":
		v.id(r.Line, path+".group", r.Group, "")
	default:
		ref(v, r.Line, path+".prefix_list", "prefix list", r.PrefixList, "", v.prefixLists)
	}
}

// instancesSection checks the instances and their interfaces.
func (v *validator) instancesSection() {
	v.indexInstances()
	for i, in := range v.l.Instances {
		path := itemPath("instances", i, in.Name)
		if v.id(in.Line, path+".name", in.Name, "an instance needs a name") {
			if f := v.instFirst[i]; f >= 0 {
				first := v.l.Instances[f]
				v.errorf(in.Line, path+".name", "%s is defined twice (first at %s): instance names are unique", in.Name, where(first.Line, itemPath("instances", int(f), first.Name)))
			}
		}
		v.intRange(in.Line, path+".conntrack_allowance", in.ConntrackAllowance, "a number of tracked flows", 1, maxAllowance)
		v.intRange(in.Line, path+".pps_allowance", in.PPSAllowance, "packets per second (0: unlimited)", 0, maxPPSAllowance)
		v.imds(in.Line, path+".imds", in.IMDS)
		if len(in.Interfaces) == 0 {
			v.errorf(in.Line, path+".interfaces", "an instance needs at least one interface")
		}
		for j, e := range in.Interfaces {
			v.iface(e, itemPath(path+".interfaces", j, e.ID), in.Name)
		}
	}
}

// iface checks an interface of the named instance.
func (v *validator) iface(e *Interface, path, instance string) {
	// The id a one-interface instance implies, eni-<name>, may be four
	// characters longer than an id written out.
	implied := e.ID == "eni-"+instance && ValidID(instance)
	k := v.iface1
	v.iface1++
	if implied || v.id(e.Line, path+".id", e.ID, "an interface needs an id") {
		if f := v.eniFirst[k]; f >= 0 {
			first, firstPath := v.ifaceOf(int(f))
			v.errorf(e.Line, path+".id", "%s is defined twice (first at %s): interface ids are unique", e.ID, where(first.Line, firstPath))
		}
	}
	if e.Instance != instance {
		v.errorf(e.Line, path+".instance", "the interface names instance %q, not its own, %s", e.Instance, instance)
	}
	var s *Subnet
	if ref(v, e.Line, path+".subnet", "subnet", e.Subnet, "an interface needs a subnet", v.subnets) {
		s = v.subnets[e.Subnet]
	}
	v.hostAddr(e, path+".ip", e.IP, false, s, "an interface needs a primary private IPv4 address from its subnet", claimSrc{int32(k), -1})
	for j, a := range e.SecondaryIPs {
		v.hostAddr(e, fmt.Sprintf("%s.secondary_ips[%d]", path, j), a, false, s, "an IP address", claimSrc{int32(k), int32(j)})
	}
	for j, a := range e.IPv6 {
		v.hostAddr(e, fmt.Sprintf("%s.ipv6[%d]", path, j), a, true, s, "an IP address", claimSrc{int32(k), int32(-2 - j)})
	}
	field := path + ".security_groups"
	if len(e.SecurityGroups) == 0 {
		v.errorf(e.Line, field, "an interface needs at least one security group: leave the key out for the VPC's default group")
	}
	if quota := v.quotas.SGsPerENI; len(e.SecurityGroups) > quota {
		v.errorf(e.Line, field, "%d security groups: the quota is %d per interface (quotas.sgs_per_eni; AWS allows up to 16)", len(e.SecurityGroups), quota)
	}
	for j, gid := range e.SecurityGroups {
		gf := fmt.Sprintf("%s[%d]", field, j)
		if ref(v, e.Line, gf, "security group", gid, "", v.groups) && slices.Contains(e.SecurityGroups[:j], gid) {
			v.errorf(e.Line, gf, "%s is listed twice", gid)
		}
	}
	v.rulesTimesGroups(e, field)
	c := e.Conntrack
	v.durationRange(e.Line, path+".conntrack.tcp_established_timeout", c.TCPEstablished, 60*time.Second, 432000*time.Second)
	v.durationRange(e.Line, path+".conntrack.udp_timeout", c.UDP, 30*time.Second, 60*time.Second)
	v.durationRange(e.Line, path+".conntrack.udp_stream_timeout", c.UDPStream, 60*time.Second, 180*time.Second)
}

// hostAddr checks an address of interface e in subnet s (nil when the
// subnet is unknown): IPv6 when v6, else IPv4. The address must lie in the
// subnet's block of its family, outside the addresses AWS reserves, and be
// used nowhere else.
func (v *validator) hostAddr(e *Interface, field string, a netip.Addr, v6 bool, s *Subnet, missing string, src claimSrc) {
	if !v.addr(e.Line, field, a, missing) {
		return
	}
	var block netip.Prefix // zero when unknown or invalid (reported already)
	if s != nil {
		block = s.CIDR
		if v6 {
			block = s.IPv6CIDR
		}
	}
	first, last := Usable(block)
	switch {
	case v6 && !a.Is6():
		v.errorf(e.Line, field, "%s is IPv4: ipv6 takes IPv6 addresses; give IPv4 ones in ip or secondary_ips", a)
	case !v6 && !a.Is4():
		v.errorf(e.Line, field, "%s is IPv6: give IPv4 here and IPv6 addresses in ipv6", a)
	case v6 && s != nil && !block.IsValid():
		v.errorf(e.Line, field, "%s has no IPv6 block: give the subnet an ipv6_cidr before giving its interfaces IPv6 addresses", s.ID)
	case block.IsValid() && !block.Contains(a):
		v.errorf(e.Line, field, "%s is outside %s's %s: an interface's addresses come from its subnet", a, s.ID, block)
	case block.IsValid() && (a.Less(first) || last.Less(a)):
		v.errorf(e.Line, field, "%s is reserved by AWS (the first four and the last address of every subnet): use %s-%s", a, first, last)
	default:
		v.claim(a, e.Line, field, src)
	}
}

// claim records that src (at line, field) holds address a, reporting an
// address used twice.
func (v *validator) claim(a netip.Addr, line int, field string, src claimSrc) {
	var first claimSrc
	var used bool
	if a.Is4() {
		b := a.As4()
		key := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		if first, used = v.addrs4[key]; !used {
			v.addrs4[key] = src
		}
	} else if first, used = v.addrs[a]; !used {
		v.addrs[a] = src
	}
	if used {
		owner, firstLine, firstField := v.claimer(first)
		v.errorf(line, field, "%s is already used by %s (%s): each address belongs to one interface or host", a, owner, where(firstLine, firstField))
	}
}

// Usable returns the first and last address AWS lets interfaces use in a
// subnet's block: all but the first four and the last. Both are invalid
// when block is.
func Usable(block netip.Prefix) (first, last netip.Addr) {
	if !block.IsValid() {
		return netip.Addr{}, netip.Addr{}
	}
	return block.Masked().Addr().Next().Next().Next().Next(), lastAddr(block).Prev()
}

// lastAddr returns the last address of block.
func lastAddr(block netip.Prefix) netip.Addr {
	b := block.Masked().Addr().AsSlice()
	for i := block.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// rulesTimesGroups checks that the groups of interface e hold at most
// quotas.rules_times_sgs rules together, per direction and family.
func (v *validator) rulesTimesGroups(e *Interface, field string) {
	var total [2][2]int // direction (ingress, egress) × family
	for _, gid := range e.SecurityGroups {
		g := v.groups[gid]
		if g == nil {
			continue
		}
		for dir, rules := range [2][]sg.Rule{g.Ingress, g.Egress} {
			for _, r := range rules {
				w := ruleWeight(r, v.prefixLists[r.PrefixList])
				total[dir][0] += w[0]
				total[dir][1] += w[1]
			}
		}
	}
	quota := v.quotas.RulesTimesSGs
	for dir, perFamily := range total {
		for fam, n := range perFamily {
			if n > quota {
				v.errorf(e.Line, field, "the groups hold %d %s %s rules together (a prefix-list rule counts as its max_entries): the quota is %d per interface, direction and family (quotas.rules_times_sgs)",
					n, familyName(fam), [2]string{"ingress", "egress"}[dir], quota)
			}
		}
	}
}

// internet checks the internet hosts.
func (v *validator) internet() {
	vpc := v.l.VPC
	for i, a := range v.l.Internet.Hosts {
		field := fmt.Sprintf("internet.hosts[%d]", i)
		if !v.addr(0, field, a, "an IP address") {
			continue
		}
		switch r, what, bad := SpecialBlock(netip.PrefixFrom(a, a.BitLen())); {
		case vpc.CIDR.Contains(a) || vpc.IPv6CIDR.Contains(a):
			v.errorf(0, field, "%s is inside the VPC: internet hosts are outside %s", a, vpc.blocks())
		case bad:
			v.errorf(0, field, "%s is in %s (%s): an internet host needs a unicast address outside the VPC", a, r, what)
		default:
			v.claim(a, 0, field, claimSrc{-1, int32(i)})
		}
	}
}

// family returns 0 for IPv4 and 1 for IPv6, indexing per-family counts.
func family(a netip.Addr) int {
	if a.Is6() {
		return 1
	}
	return 0
}

// familyName names a family index for messages.
func familyName(fam int) string {
	return [2]string{"IPv4", "IPv6"}[fam]
}

// Limits AWS sets on flow logs and mirroring.
const (
	maxMirrorSessionsPerSource = 3
	// MaxVNI is the largest VXLAN network identifier.
	MaxVNI          = 1<<24 - 1
	maxMirrorRule   = 32766
	maxPacketLength = 65535
)

// logFormatToken is one field of a flow log format: ${name}.
var logFormatToken = regexp.MustCompile(`^\$\{[a-z0-9-]+\}$`)

// flowLogKeys are the keys of a flow log's resource, by type.
var flowLogKeys = map[string]string{FlowLogVPC: "vpc", FlowLogSubnet: "subnet", FlowLogENI: "eni"}

// flowLogs checks the flow logs.
func (v *validator) flowLogs() {
	seen := map[string]string{}
	for i, f := range v.l.FlowLogs {
		path := itemPath("flow_logs", i, f.ID)
		if v.id(f.Line, path+".id", f.ID, "a flow log needs an id") {
			if first, dup := seen[f.ID]; dup {
				v.redefined(f.Line, path+".id", f.ID, first)
			} else {
				seen[f.ID] = where(f.Line, path)
			}
		}
		key, ok := flowLogKeys[f.ResourceType]
		switch {
		case !ok || f.ResourceID == "":
			v.errorf(f.Line, path+".vpc", "missing: a flow log covers one resource: give vpc, subnet or eni")
		case !v.id(f.Line, path+"."+key, f.ResourceID, ""):
		case key == "vpc":
			if vpc := v.l.VPC.ID; vpc != "" && f.ResourceID != vpc {
				v.errorf(f.Line, path+".vpc", "no VPC %q: the lab's VPC is %s", f.ResourceID, vpc)
			}
		case key == "subnet":
			ref(v, f.Line, path+".subnet", "subnet", f.ResourceID, "", v.subnets)
		default:
			refIn(v, f.Line, path+".eni", "interface", f.ResourceID, "", v.enis.has, v.enis.all)
		}
		switch f.TrafficType {
		case "ACCEPT", "REJECT", "ALL":
		default:
			v.errorf(f.Line, path+".traffic_type", "%q is not a traffic type: use ACCEPT, REJECT or ALL", f.TrafficType)
		}
		if d := f.MaxAggregationInterval; d != time.Minute && d != 10*time.Minute {
			v.errorf(f.Line, path+".max_aggregation_interval", "%s is not an aggregation interval: AWS offers 60s and 600s", seconds(d))
		}
		v.logFormat(f.Line, path+".log_format", f.LogFormat)
		v.text(f.Line, path+".destination", f.Destination)
		if f.Destination == "" {
			v.errorf(f.Line, path+".destination", "empty: give the directory the log files go to")
		}
	}
}

// logFormat checks the syntax of a log format ("" for AWS's default):
// ${field} tokens separated by single spaces, each field once.
func (v *validator) logFormat(line int, field, s string) {
	seen := map[string]bool{}
	for t := range strings.SplitSeq(s, " ") {
		switch {
		case s == "":
			return
		case !logFormatToken.MatchString(t):
			v.errorf(line, field, "%q is not a field: write each field as ${name}, such as ${srcaddr}, separated by spaces", t)
			return
		case seen[t]:
			v.errorf(line, field, "%s is given twice", t)
			return
		}
		seen[t] = true
	}
}

// mirrorFilters checks the mirror filters and returns them by id.
func (v *validator) mirrorFilters() map[string]string {
	seen := map[string]string{}
	for i, f := range v.l.MirrorFilters {
		path := itemPath("traffic_mirror_filters", i, f.ID)
		if v.id(f.Line, path+".id", f.ID, "a traffic mirror filter needs an id") {
			if first, dup := seen[f.ID]; dup {
				v.redefined(f.Line, path+".id", f.ID, first)
			} else {
				seen[f.ID] = where(f.Line, path)
			}
		}
		v.mirrorRules(path+".ingress", f.Ingress)
		v.mirrorRules(path+".egress", f.Egress)
	}
	return seen
}

// mirrorRules checks one direction of a mirror filter (at the path dir).
func (v *validator) mirrorRules(dir string, rules []MirrorRule) {
	numbers := map[int]string{}
	for i, r := range rules {
		path := fmt.Sprintf("%s[%d]", dir, i)
		if v.intRange(r.Line, path+".rule", r.Number, "a rule number", 1, maxMirrorRule) {
			if first, dup := numbers[r.Number]; dup {
				v.errorf(r.Line, path+".rule", "rule %d is used twice in %s (first at %s)", r.Number, dir, first)
			} else {
				numbers[r.Number] = where(r.Line, path)
			}
		}
		if r.Protocol != ec2.ProtoAll && (r.Protocol < 0 || r.Protocol > 255) {
			v.errorf(r.Line, path+".protocol", "%d is not a protocol: use tcp, udp, icmp, icmpv6, all (or -1), or an IANA protocol number 0-255", r.Protocol)
		}
		srcOK := v.prefix(r.Line, path+".source_cidr", r.SourceCIDR, "a CIDR, such as 0.0.0.0/0")
		dstOK := v.prefix(r.Line, path+".destination_cidr", r.DestinationCIDR, "a CIDR, such as 0.0.0.0/0")
		if srcOK && dstOK && r.SourceCIDR.Addr().Is4() != r.DestinationCIDR.Addr().Is4() {
			v.errorf(r.Line, path+".destination_cidr", "%s and source_cidr %s are of different families: a rule matches IPv4 or IPv6", r.DestinationCIDR, r.SourceCIDR)
		}
		for _, p := range []struct {
			key      string
			from, to int
		}{{"source_ports", r.SourceFromPort, r.SourceToPort}, {"destination_ports", r.DestinationFromPort, r.DestinationToPort}} {
			switch {
			case !sg.PortsMatter(r.Protocol):
				if p.from != 0 || p.to != 65535 {
					v.errorf(r.Line, path+"."+p.key, "ports apply only to tcp and udp; %s has none to choose", protoName(r.Protocol))
				}
			case p.from < 0 || p.to > 65535 || p.from > p.to:
				v.errorf(r.Line, path+"."+p.key, "%d-%d is not a port range: use ports 0-65535, the lower first", p.from, p.to)
			}
		}
	}
}

// mirrorTargets checks the mirror targets and returns them by id.
func (v *validator) mirrorTargets() map[string]*MirrorTarget {
	seen := map[string]*MirrorTarget{}
	for i, t := range v.l.MirrorTargets {
		path := itemPath("traffic_mirror_targets", i, t.ID)
		if v.id(t.Line, path+".id", t.ID, "a traffic mirror target needs an id") {
			if first := seen[t.ID]; first != nil {
				v.redefined(t.Line, path+".id", t.ID, where(first.Line, "traffic_mirror_targets"))
			} else {
				seen[t.ID] = t
			}
		}
		switch {
		case t.ENI != "" && t.PcapFile != "":
			v.errorf(t.Line, path+".pcap_file", "a target is an interface or a file: give eni or pcap_file, not both")
		case t.ENI != "":
			refIn(v, t.Line, path+".eni", "interface", t.ENI, "", v.enis.has, v.enis.all)
		case !v.text(t.Line, path+".pcap_file", t.PcapFile):
		case t.PcapFile == "":
			v.errorf(t.Line, path+".eni", "missing: a target needs eni (an interface of the lab) or pcap_file")
		}
	}
	return seen
}

// mirrorSessions checks the mirror sessions, after the filters and
// targets they name.
func (v *validator) mirrorSessions(filters map[string]string, targets map[string]*MirrorTarget) {
	seen := map[string]string{}
	bySource := map[string]map[int]string{} // source ENI → session number → where
	type targetUse struct {
		line      int
		eni, path string
	}
	var targetENIs []targetUse
	for i, s := range v.l.MirrorSessions {
		path := itemPath("traffic_mirror_sessions", i, s.ID)
		if v.id(s.Line, path+".id", s.ID, "a traffic mirror session needs an id") {
			if first, dup := seen[s.ID]; dup {
				v.redefined(s.Line, path+".id", s.ID, first)
			} else {
				seen[s.ID] = where(s.Line, path)
			}
		}
		numberOK := v.intRange(s.Line, path+".number", s.Number, "a session number", 1, maxMirrorRule)
		if refIn(v, s.Line, path+".source", "interface", s.Source, "a session needs a source interface", v.enis.has, v.enis.all) {
			nums := bySource[s.Source]
			if nums == nil {
				nums = map[int]string{}
				bySource[s.Source] = nums
			}
			switch first, dup := nums[s.Number]; {
			case numberOK && dup:
				v.errorf(s.Line, path+".number", "%s already has session number %d (%s): numbers are unique per source", s.Source, s.Number, first)
			case len(nums) == maxMirrorSessionsPerSource:
				v.errorf(s.Line, path+".source", "%s already has %d sessions, AWS's most per source interface", s.Source, maxMirrorSessionsPerSource)
			default:
				nums[s.Number] = where(s.Line, path)
			}
		}
		if ref(v, s.Line, path+".target", "traffic mirror target", s.Target, "a session needs a target (traffic_mirror_targets)", targets) {
			switch t := targets[s.Target]; {
			case t.ENI != "" && t.ENI == s.Source:
				v.errorf(s.Line, path+".target", "%s sends to %s, the source itself: a session's target is another interface", s.Target, t.ENI)
			case t.ENI != "":
				targetENIs = append(targetENIs, targetUse{s.Line, t.ENI, path + ".target"})
			}
		}
		ref(v, s.Line, path+".filter", "traffic mirror filter", s.Filter, "a session needs a filter (traffic_mirror_filters)", filters)
		if s.VNI > MaxVNI {
			v.errorf(s.Line, path+".vni", "%q is not a VXLAN network identifier: use a whole number from 0 to %d", strconv.Itoa(int(s.VNI)), MaxVNI)
		}
		if s.PacketLength != 0 {
			v.intRange(s.Line, path+".packet_length", s.PacketLength, "a number of bytes to copy of each packet", 1, maxPacketLength)
		}
	}
	// AWS: an interface is a mirror source or a target, not both.
	for _, t := range targetENIs {
		if len(bySource[t.eni]) > 0 {
			v.errorf(t.line, t.path, "%s is the source of a session too: an interface is a mirror source or a target, not both", t.eni)
		}
	}
}

// tags checks the tags: each on a resource of the lab, within EC2's
// limits.
func (v *validator) tags() {
	for _, id := range slices.Sorted(maps.Keys(v.l.Tags)) {
		path := "tags." + id
		if !v.l.Taggable(id) {
			v.errorf(0, path, "%s is no resource of the lab: tags go on the VPC, subnets, network ACLs, prefix lists, security groups, instances (by name), interfaces and flow logs", id)
			continue
		}
		tags := v.l.Tags[id]
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			if why := CheckTag(k, tags[k]); why != "" {
				v.errorf(0, path+"."+k, "%s", why)
			}
		}
		if len(tags) > MaxTagsPerItem {
			v.errorf(0, path, "%d tags: a resource has at most %d", len(tags), MaxTagsPerItem)
		}
	}
}

// ValidRegion, ValidZone and ValidZoneID report whether s has the form of
// a region (us-east-1), zone (us-east-1a) or zone id (use1-az1) name that
// Validate accepts.
func ValidRegion(s string) bool { return regionName.MatchString(s) }

func ValidZone(s string) bool   { return zoneName.MatchString(s) }
func ValidZoneID(s string) bool { return zoneID.MatchString(s) }
