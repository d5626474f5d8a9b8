package labfile

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
)

// load loads a lab from testdata, failing the test on error.
func load(t *testing.T, name string) *lab.Lab {
	t.Helper()
	l, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("Load(%s): %v", name, err)
	}
	checkInvariants(t, l)
	return l
}

// checkInvariants checks what every parsed Lab promises: defaults present,
// references resolved, addresses unique.
func checkInvariants(t *testing.T, l *lab.Lab) {
	t.Helper()
	if l.Group(sg.DefaultGroupID) == nil {
		t.Errorf("no default security group")
	}
	if l.ACL(nacl.DefaultACLID) == nil {
		t.Errorf("no default network ACL")
	}
	for _, s := range l.Subnets {
		if l.ACL(s.NetworkACL) == nil {
			t.Errorf("subnet %s: unknown ACL %q", s.ID, s.NetworkACL)
		}
	}
	for _, g := range l.SecurityGroups {
		for _, r := range slices.Concat(g.Ingress, g.Egress) {
			peers := 0
			if r.CIDR.IsValid() {
				peers++
			}
			if r.Group != "" {
				peers++
				if l.Group(r.Group) == nil {
					t.Errorf("group %s: unknown group %q", g.ID, r.Group)
				}
			}
			if r.PrefixList != "" {
				peers++
				if l.PrefixList(r.PrefixList) == nil {
					t.Errorf("group %s: unknown prefix list %q", g.ID, r.PrefixList)
				}
			}
			if peers != 1 {
				t.Errorf("group %s: rule at line %d has %d peers", g.ID, r.Line, peers)
			}
		}
	}
	seen := map[netip.Addr]bool{}
	for _, in := range l.Instances {
		if len(in.Interfaces) == 0 {
			t.Errorf("instance %s has no interface", in.Name)
		}
		if in.ConntrackAllowance < 1 {
			t.Errorf("instance %s: allowance %d", in.Name, in.ConntrackAllowance)
		}
	}
	for _, e := range l.Interfaces() {
		s := l.Subnet(e.Subnet)
		if s == nil {
			t.Errorf("%s: unknown subnet %q", e.ID, e.Subnet)
			continue
		}
		if !s.CIDR.Contains(e.IP) {
			t.Errorf("%s: %s outside %s", e.ID, e.IP, s.CIDR)
		}
		if len(e.SecurityGroups) == 0 {
			t.Errorf("%s: no security groups", e.ID)
		}
		for _, id := range e.SecurityGroups {
			if l.Group(id) == nil {
				t.Errorf("%s: unknown group %q", e.ID, id)
			}
		}
		for _, a := range e.Addrs() {
			if seen[a] {
				t.Errorf("%s: %s used twice", e.ID, a)
			}
			seen[a] = true
		}
	}
}

func TestExample(t *testing.T) {
	l := ExampleLab()
	checkInvariants(t, l)
	if l.File != "example.yaml" {
		t.Errorf("File = %q", l.File)
	}
	if !l.VPC.IPv6CIDR.IsValid() {
		t.Errorf("the example VPC has no IPv6")
	}
	for name, group := range map[string]string{"web1": "sg-web", "app1": "sg-app", "db1": "sg-db"} {
		in := l.Instance(name)
		if in == nil {
			t.Fatalf("no instance %s", name)
		}
		if got := in.Interfaces[0].SecurityGroups; !slices.Equal(got, []string{group}) {
			t.Errorf("%s groups = %v, want [%s]", name, got, group)
		}
	}
	if len(l.Instance("web1").Interfaces[0].IPv6) == 0 {
		t.Errorf("web1 has no IPv6 address")
	}
	if got := l.Group("sg-app").Ingress[0].Group; got != "sg-web" {
		t.Errorf("sg-app ingress peer = %q, want sg-web", got)
	}
	if got := l.Group("sg-db").Egress; got == nil || len(got) != 0 {
		t.Errorf("sg-db egress = %v, want empty", got)
	}
	if l.Subnet("subnet-db").NetworkACL != "acl-db" || l.Subnet("subnet-app").NetworkACL != nacl.DefaultACLID {
		t.Errorf("subnet ACLs: db %q, app %q", l.Subnet("subnet-db").NetworkACL, l.Subnet("subnet-app").NetworkACL)
	}
	if !slices.ContainsFunc(l.ACL("acl-web").Ingress, func(e nacl.Entry) bool { return !e.Allow }) {
		t.Errorf("acl-web shows no deny entry")
	}
	office := l.PrefixList("pl-office").CIDRs[0]
	if !office.Contains(netip.MustParseAddr("203.0.113.5")) || !slices.Contains(l.Internet.Hosts, netip.MustParseAddr("203.0.113.5")) {
		t.Errorf("the internet host 203.0.113.5 should be in the office list %s", office)
	}

	b := Example()
	b[0] = 'X'
	if Example()[0] == 'X' {
		t.Errorf("Example returns shared memory")
	}
}

func TestDefaultsWithoutIPv6(t *testing.T) {
	l := load(t, "minimal.yaml")
	if l.File != filepath.Join("testdata", "minimal.yaml") {
		t.Errorf("File = %q", l.File)
	}
	if l.Quotas != lab.DefaultQuotas() || l.Settings != lab.DefaultSettings() {
		t.Errorf("quotas %+v, settings %+v: want the defaults", l.Quotas, l.Settings)
	}
	all := sg.AnyTraffic()
	v4 := all
	v4.CIDR = netip.MustParsePrefix("0.0.0.0/0")
	self := all
	self.Group = sg.DefaultGroupID
	g := l.Group(sg.DefaultGroupID)
	if l.SecurityGroups[0] != g || len(l.SecurityGroups) != 1 {
		t.Errorf("groups = %v, want the default group alone", l.SecurityGroups)
	}
	if !slices.Equal(g.Ingress, []sg.Rule{self}) || !slices.Equal(g.Egress, []sg.Rule{v4}) {
		t.Errorf("default group = %+v", g)
	}
	acl := l.ACL(nacl.DefaultACLID)
	want := []nacl.Entry{{Rule: 100, Allow: true, Protocol: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0"), ToPort: 65535, ICMPType: -1, ICMPCode: -1}}
	if !slices.Equal(acl.Ingress, want) || !slices.Equal(acl.Egress, want) {
		t.Errorf("default ACL = %+v", acl)
	}
	if s := l.Subnet("subnet-a"); s.NetworkACL != nacl.DefaultACLID || s.Public || s.IPv6CIDR.IsValid() {
		t.Errorf("subnet = %+v", s)
	}
	in := l.Instance("a1")
	e := in.Interfaces[0]
	if in.ConntrackAllowance != lab.DefaultSettings().DefaultAllowance || e.ID != "eni-a1" || e.Instance != "a1" ||
		!e.SourceDestCheck || e.Conntrack != lab.DefaultConntrackTimeouts() ||
		!slices.Equal(e.SecurityGroups, []string{sg.DefaultGroupID}) {
		t.Errorf("instance %+v, interface %+v", in, e)
	}
}

func TestDefaultsWithIPv6(t *testing.T) {
	l := load(t, "ipv6.yaml")
	allV4, allV6 := sg.AnyTraffic(), sg.AnyTraffic()
	allV4.CIDR, allV6.CIDR = netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	if got := l.Group(sg.DefaultGroupID).Egress; !slices.Equal(got, []sg.Rule{allV4, allV6}) {
		t.Errorf("default group egress = %+v", got)
	}
	if got := l.Group("sg-open-out").Egress; !slices.Equal(got, []sg.Rule{allV4, allV6}) {
		t.Errorf("a group without egress: %+v, want all to 0.0.0.0/0 and ::/0", got)
	}
	if got := l.Group("sg-open-out").Ingress; len(got) != 1 || got[0].CIDR != netip.MustParsePrefix("::/0") {
		t.Errorf("sg-open-out ingress = %+v", got)
	}
	if got := l.Group("sg-closed"); len(got.Egress) != 0 || len(got.Ingress) != 0 {
		t.Errorf("sg-closed = %+v, want no rules (egress: [])", got)
	}
	acl := l.ACL(nacl.DefaultACLID)
	if len(acl.Ingress) != 2 || acl.Ingress[1].Rule != 101 || acl.Ingress[1].CIDR != netip.MustParsePrefix("::/0") || len(acl.Egress) != 2 {
		t.Errorf("default ACL = %+v, want rules 100 and 101", acl)
	}
	if !l.Subnet("subnet-a").Public {
		t.Errorf("subnet-a is not public")
	}

	full := l.Instance("full")
	if full.ConntrackAllowance != 5000 || len(full.Interfaces) != 2 {
		t.Fatalf("instance full = %+v", full)
	}
	e := full.Interfaces[0]
	wantCT := lab.ConntrackTimeouts{TCPEstablished: time.Hour, UDP: time.Minute, UDPStream: 2 * time.Minute}
	if e.SourceDestCheck || e.Conntrack != wantCT || len(e.SecondaryIPs) != 2 ||
		!slices.Equal(e.SecurityGroups, []string{"sg-open-out", "sg-closed"}) {
		t.Errorf("eni-full-0 = %+v", e)
	}
	if got := len(e.Addrs()); got != 4 {
		t.Errorf("eni-full-0 has %d addresses, want 4", got)
	}
	if e := full.Interfaces[1]; e.ID != "eni-full-1" || !e.SourceDestCheck {
		t.Errorf("eni-full-1 = %+v", e)
	}
	if e := l.Interface("eni-short"); e == nil || e.Instance != "short" || len(e.IPv6) != 1 {
		t.Errorf("shorthand instance: eni-short = %+v", e)
	}
	if e := l.Interface("eni-custom"); e == nil || e.Instance != "named" {
		t.Errorf("shorthand instance with id: eni-custom = %+v", e)
	}
	if got := len(l.Internet.Hosts); got != 2 {
		t.Errorf("%d internet hosts, want 2", got)
	}
}

func TestOverrides(t *testing.T) {
	l := load(t, "overrides.yaml")
	if l.SecurityGroups[0].ID != "sg-first" || l.NetworkACLs[0].ID != "acl-first" {
		t.Errorf("a default defined in the file should keep its place")
	}
	g := l.Group(sg.DefaultGroupID)
	if g.Description != "replaced" || len(g.Ingress) != 1 || g.Ingress[0].Group != sg.DefaultGroupID ||
		len(g.Egress) != 1 || g.Egress[0].Protocol != packet.ProtoUDP {
		t.Errorf("default group = %+v: want the self-reference kept and egress replaced", g)
	}
	if got := l.ACL("acl-first"); len(got.Ingress)+len(got.Egress) != 0 {
		t.Errorf("a new ACL without lists = %+v, want no entries", got)
	}
	acl := l.ACL(nacl.DefaultACLID)
	if len(acl.Ingress) != 2 || acl.Ingress[0].Rule != 200 || acl.Ingress[1].Rule != 100 {
		t.Errorf("default ACL ingress = %+v, want file order 200, 100", acl.Ingress)
	}
	if got := acl.Ingress[1].CIDR; got != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("CIDR = %s, want host bits cleared", got)
	}
	if len(acl.Egress) != 2 {
		t.Errorf("default ACL without egress = %+v, want AWS's allow-all", acl.Egress)
	}
	wantQ := lab.Quotas{NACLEntries: 40, SGRules: 100, SGsPerENI: 16, RulesTimesSGs: 2000, SGsPerVPC: 3000}
	if l.Quotas != wantQ {
		t.Errorf("quotas = %+v", l.Quotas)
	}
	wantS := lab.Settings{
		SecondaryIPsInGroupRefs: false, UntrackedAcrossGroups: false, AdmitRelatedICMP: true,
		DefaultAllowance: 500, TCPSynSent: time.Minute, TCPSynRecv: 30 * time.Second,
		TCPFinWait: 61 * time.Second, TCPCloseWait: 62 * time.Second, TCPTimeWait: 63 * time.Second,
		TCPLastAck: 31 * time.Second, TCPClose: 5 * time.Second, ICMP: 10 * time.Second,
		Other: 600 * time.Second, FragmentTimeout: 15 * time.Second, IMDS: lab.IMDSv2Only,
		PPSAllowance: 20000,
	}
	if l.Settings != wantS {
		t.Errorf("settings = %+v\nwant       %+v", l.Settings, wantS)
	}
	if a1, a2 := l.Instance("a1").IMDS, l.Instance("a2").IMDS; a1 != lab.IMDSv2Only || a2 != lab.IMDSv1AndV2 {
		t.Errorf("imds: a1 %s, a2 %s; want settings.imds (v2-only) and the instance's own (v1-and-v2)", a1, a2)
	}
	if got := l.Instance("a1").ConntrackAllowance; got != 500 {
		t.Errorf("allowance = %d, want settings.default_allowance", got)
	}
	if a1, a2 := l.Instance("a1").PPSAllowance, l.Instance("a2").PPSAllowance; a1 != 20000 || a2 != 0 {
		t.Errorf("pps allowance: a1 %d, a2 %d; want settings.pps_allowance (20000) and the instance's own 0 (unlimited)", a1, a2)
	}
}

func TestJSON(t *testing.T) {
	l := load(t, "lab.json")
	r := l.Group("sg-web").Ingress[0]
	if r.ID != "sgr-0123456789abcdef0" || r.Protocol != packet.ProtoTCP || r.FromPort != 443 || r.ToPort != 443 || r.Line != 12 {
		t.Errorf("rule = %+v", r)
	}
	acl := l.ACL("acl-a")
	if in := acl.Ingress[0]; in.Protocol != packet.ProtoTCP || in.FromPort != 1024 || in.ToPort != 65535 {
		t.Errorf("ingress entry = %+v", in)
	}
	if out := acl.Egress[0]; out.Protocol != -1 || out.CIDR != netip.MustParsePrefix("::/0") {
		t.Errorf("egress entry = %+v", out)
	}
}

// parse parses a lab written inline, failing the test on error.
func parse(t *testing.T, src string) *lab.Lab {
	t.Helper()
	l, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	checkInvariants(t, l)
	return l
}

func TestCanonicalCIDRs(t *testing.T) {
	l := parse(t, `
vpc: {id: vpc-c, cidr: 10.0.7.7/16, ipv6_cidr: "2600:1f18:aa:bb00::1/56"}
subnets:
  - {id: subnet-a, cidr: 10.0.1.9/24, ipv6_cidr: "2600:1f18:aa:bb01::9/64", network_acl: acl-a}
network_acls:
  - id: acl-a
    ingress: [{rule: 1, action: allow, protocol: all, cidr: 192.168.1.1/16}]
prefix_lists:
  - {id: pl-a, cidrs: [203.0.113.77/24, "2001:db8::1/32"]}
security_groups:
  - id: sg-a
    ingress:
      - {protocol: tcp, cidr: 10.1.2.3/16}
      - {protocol: udp, cidr: "2001:db8:1:2::1/48"}
      - {protocol: 6, prefix_list: pl-a}
`)
	p := netip.MustParsePrefix
	checks := []struct {
		got, want netip.Prefix
	}{
		{l.VPC.CIDR, p("10.0.0.0/16")},
		{l.VPC.IPv6CIDR, p("2600:1f18:aa:bb00::/56")},
		{l.Subnet("subnet-a").CIDR, p("10.0.1.0/24")},
		{l.Subnet("subnet-a").IPv6CIDR, p("2600:1f18:aa:bb01::/64")},
		{l.ACL("acl-a").Ingress[0].CIDR, p("192.168.0.0/16")},
		{l.PrefixList("pl-a").CIDRs[0], p("203.0.113.0/24")},
		{l.PrefixList("pl-a").CIDRs[1], p("2001:db8::/32")},
		{l.Group("sg-a").Ingress[0].CIDR, p("10.1.0.0/16")},
		{l.Group("sg-a").Ingress[1].CIDR, p("2001:db8:1::/48")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	if got := l.PrefixList("pl-a").MaxEntries; got != 2 {
		t.Errorf("max_entries = %d, want the number of cidrs", got)
	}
}

func TestRuleValues(t *testing.T) {
	l := parse(t, `
vpc: {id: vpc-r, cidr: 10.0.0.0/16}
security_groups:
  - id: sg-a
    ingress:
      - {protocol: tcp, cidr: 0.0.0.0/0}
      - {protocol: TCP, ports: "1024 - 65535", cidr: 0.0.0.0/0}
      - {protocol: 17, ports: all, cidr: 0.0.0.0/0}
      - {protocol: -1, cidr: 0.0.0.0/0}
      - {protocol: all, cidr: 0.0.0.0/0}
      - {protocol: 47, cidr: 0.0.0.0/0}
      - {protocol: icmp, cidr: 0.0.0.0/0}
      - {protocol: icmp, icmp_type: 3, icmp_code: 4, cidr: 0.0.0.0/0}
      - {protocol: icmpv6, icmp_type: 128, cidr: "::/0"}
      - {protocol: 58, icmp_type: -1, icmp_code: -1, cidr: "::/0"}
      - {protocol: tcp, ports: 0, group: sg-later, id: sgr-1, description: "forward reference"}
  - id: sg-later
`)
	type rv struct{ proto, from, to, typ, code, line int }
	want := []rv{
		{6, 0, 65535, -1, -1, 6},
		{6, 1024, 65535, -1, -1, 7},
		{17, 0, 65535, -1, -1, 8},
		{-1, 0, 65535, -1, -1, 9},
		{-1, 0, 65535, -1, -1, 10},
		{47, 0, 65535, -1, -1, 11},
		{1, 0, 65535, -1, -1, 12},
		{1, 0, 65535, 3, 4, 13},
		{58, 0, 65535, 128, -1, 14},
		{58, 0, 65535, -1, -1, 15},
		{6, 0, 0, -1, -1, 16},
	}
	rules := l.Group("sg-a").Ingress
	if len(rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(rules), len(want))
	}
	for i, r := range rules {
		if got := (rv{r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode, r.Line}); got != want[i] {
			t.Errorf("rule %d = %+v, want %+v", i, got, want[i])
		}
	}
	if last := rules[len(rules)-1]; last.ID != "sgr-1" || last.Description != "forward reference" || last.Group != "sg-later" {
		t.Errorf("last rule = %+v", last)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "no-such-file.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("err = %v, want not exist", err)
	}
}

func TestErrorFormat(t *testing.T) {
	cases := []struct {
		e    lab.Error
		want string
	}{
		{lab.Error{File: "f.yaml", Line: 3, Column: 7, Field: "vpc.cidr", Msg: "bad"}, "f.yaml:3:7: vpc.cidr: bad"},
		{lab.Error{File: "f.yaml", Line: 3, Msg: "bad"}, "f.yaml:3: bad"},
		{lab.Error{File: "f.yaml", Msg: "empty"}, "f.yaml: empty"},
	}
	for _, c := range cases {
		if got := c.e.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}

func TestErrorListSortedAndCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("vpc: {id: vpc-e, cidr: 10.0.0.0/16}\nsecurity_groups:\n  - id: sg-a\n    ingress:\n")
	// Group references are checked last, so this error is found last.
	b.WriteString("      - {protocol: tcp, group: sg-nope}\n")
	for range 60 {
		b.WriteString("      - {protocol: tcp, ports: 70000, cidr: 0.0.0.0/0}\n")
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	var list lab.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %T %v, want ErrorList", err, err)
	}
	if len(list) != maxErrors+1 {
		t.Fatalf("%d errors, want %d", len(list), maxErrors+1)
	}
	for i := 1; i < len(list); i++ {
		if list[i].Line < list[i-1].Line {
			t.Errorf("not sorted: line %d after line %d", list[i].Line, list[i-1].Line)
		}
	}
	if last := list[maxErrors]; !strings.Contains(last.Msg, "11 more not shown") || last.Line != 55 {
		t.Errorf("last = %v", last)
	}
	var first *lab.Error
	if !errors.As(err, &first) || first.Line != 5 || first.Field != "security_groups[sg-a].ingress[0].group" {
		t.Errorf("errors.As(*Error) = %v, want the group reference at line 5", first)
	}
	if got := strings.Count(err.Error(), "\n"); got != maxErrors {
		t.Errorf("Error() has %d lines, want one per error", got+1)
	}
}

// TestGroupsPerVPCQuota checks that a file of many more groups than the
// quota is refused at the first group past it, and that NeededQuotas
// counts the groups with the default group Parse adds.
func TestGroupsPerVPCQuota(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "security_groups:\n")
	const n = 20000
	for i := range n {
		fmt.Fprintf(&b, "  - {id: sg-%d, ingress: [{protocol: tcp, ports: 22, cidr: 10.0.0.0/8}]}\n", i)
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	var list lab.ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Parse = %v; want one error", err)
	}
	// The default group the VPC adds counts: the 2500th group of the
	// file is one too many.
	want := fmt.Sprintf("many.yaml:%d:5: security_groups[2499]: %d security groups: the quota is 2500 per VPC", 6+2499, n+1)
	if got := list[0].Error(); !strings.HasPrefix(got, want) {
		t.Errorf("error = %q, want it to start %q", got, want)
	}

	l := &lab.Lab{SecurityGroups: []*sg.Group{{ID: "sg-a"}, {ID: "sg-b"}}}
	if got := l.NeededQuotas().SGsPerVPC; got != 3 {
		t.Errorf("NeededQuotas().SGsPerVPC without a default group = %d, want 3 (the two and the default Parse adds)", got)
	}
	l.SecurityGroups = append(l.SecurityGroups, &sg.Group{ID: sg.DefaultGroupID})
	if got := l.NeededQuotas().SGsPerVPC; got != 3 {
		t.Errorf("NeededQuotas().SGsPerVPC with a default group = %d, want 3", got)
	}
}
