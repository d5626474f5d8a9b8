package aws

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/importer"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
)

// The ids of testdata/shop.
const (
	shopVPC   = "vpc-0a1b2c3d4e5f60718"
	subnetWeb = "subnet-0aaa1111bbbb2222c"
	subnetApp = "subnet-0bbb2222cccc3333d"
	subnetDB  = "subnet-0ccc3333dddd4444e"
	aclDef    = "acl-0d1e2f3a4b5c6d7e8"
	aclWeb    = "acl-0a9b8c7d6e5f4a3b2"
	aclDB     = "acl-0c1c2c3c4c5c6c7c8"
	sgWeb     = "sg-0web0000000000a1"
	sgApp     = "sg-0app0000000000b2"
	sgDB      = "sg-0db00000000000c3"
	sgDefault = "sg-0def0000000000e5"
	sgLambda  = "sg-0lambda00000000d4"
	plOffice  = "pl-0123456789abcdef0"
	plS3      = "pl-63a5400a"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func ip(s string) netip.Addr    { return netip.MustParseAddr(s) }

// Rule and entry builders: traffic first, then the peer.
func tcp(from, to int) sg.Rule {
	return sg.Rule{Protocol: packet.ProtoTCP, FromPort: from, ToPort: to, ICMPType: -1, ICMPCode: -1}
}
func udp(from, to int) sg.Rule {
	r := tcp(from, to)
	r.Protocol = packet.ProtoUDP
	return r
}
func proto(p int) sg.Rule {
	return sg.Rule{Protocol: p, FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}
}
func icmp(p, typ, code int) sg.Rule {
	r := proto(p)
	r.ICMPType, r.ICMPCode = typ, code
	return r
}

// cidrRule, groupRule and listRule complete a rule with its id, peer and
// description.
func cidrRule(r sg.Rule, id, c, desc string) sg.Rule {
	r.ID, r.CIDR, r.Description = id, pfx(c), desc
	return r
}
func groupRule(r sg.Rule, id, g, desc string) sg.Rule {
	r.ID, r.Group, r.Description = id, g, desc
	return r
}
func listRule(r sg.Rule, id, pl, desc string) sg.Rule {
	r.ID, r.PrefixList, r.Description = id, pl, desc
	return r
}
func entry(rule int, allow bool, traffic sg.Rule, c string) nacl.Entry {
	return nacl.Entry{Rule: rule, Allow: allow, Protocol: traffic.Protocol, CIDR: pfx(c),
		FromPort: traffic.FromPort, ToPort: traffic.ToPort, ICMPType: traffic.ICMPType, ICMPCode: traffic.ICMPCode}
}

func importShop(t *testing.T) (*lab.Lab, *importer.Report) {
	t.Helper()
	l, rep, err := ImportWith("testdata/shop", Options{VPC: shopVPC})
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return l, rep
}

// TestImportShop imports testdata/shop, which holds the output of every
// describe call the importer reads for a VPC of three subnets, with the
// awkward cases of real accounts, and compares the lab field by field.
func TestImportShop(t *testing.T) {
	l, _ := importShop(t)
	defaults := lab.DefaultConntrackTimeouts()

	wantVPC := lab.VPC{ID: shopVPC, CIDR: pfx("10.0.0.0/16"), IPv6CIDR: pfx("2600:1f18:4a3:6f00::/56"),
		AccountID: "111122223333", Region: "us-east-1"}
	if l.VPC != wantVPC {
		t.Errorf("VPC:\n got %+v\nwant %+v", l.VPC, wantVPC)
	}
	if l.Settings != lab.DefaultSettings() {
		t.Errorf("settings: got %+v, want the defaults", l.Settings)
	}
	if want := lab.DefaultQuotas(); l.Quotas != want {
		t.Errorf("quotas: got %+v, want the defaults %+v: nothing in shop needs more", l.Quotas, want)
	}

	compare(t, "subnets", l.Subnets, []*lab.Subnet{
		// Public: its own route table has default routes to the internet
		// gateway. MapPublicIpOnLaunch is true for web and app alike.
		{ID: subnetWeb, CIDR: pfx("10.0.1.0/24"), IPv6CIDR: pfx("2600:1f18:4a3:6f01::/64"), NetworkACL: aclWeb,
			Public: true, AvailabilityZone: "us-east-1a", AZID: "use1-az4"},
		// Private: the main table's default route goes to a NAT gateway.
		{ID: subnetApp, CIDR: pfx("10.0.2.0/24"), NetworkACL: aclDef, AvailabilityZone: "us-east-1b", AZID: "use1-az6"},
		{ID: subnetDB, CIDR: pfx("10.0.3.0/24"), NetworkACL: aclDB, AvailabilityZone: "us-east-1b", AZID: "use1-az6"},
	})

	compare(t, "network ACLs", l.NetworkACLs, []*nacl.ACL{
		{ID: aclDef, // 32767 and 32768 dropped: the lab's implicit deny
			Ingress: []nacl.Entry{entry(100, true, proto(-1), "0.0.0.0/0"), entry(101, true, proto(-1), "::/0")},
			Egress:  []nacl.Entry{entry(100, true, proto(-1), "0.0.0.0/0"), entry(101, true, proto(-1), "::/0")}},
		{ID: aclWeb,
			Ingress: []nacl.Entry{ // by rule number: 90 was listed last
				entry(90, false, proto(-1), "198.51.100.0/24"),
				entry(100, true, tcp(80, 80), "0.0.0.0/0"),
				entry(101, true, tcp(80, 80), "::/0"),
				entry(110, true, tcp(443, 443), "0.0.0.0/0"),
				entry(120, true, tcp(22, 22), "203.0.113.0/24"),
				entry(130, true, icmp(1, 8, -1), "0.0.0.0/0"),
				entry(131, true, icmp(58, 128, 0), "::/0"),
				entry(140, true, tcp(1024, 65535), "0.0.0.0/0"),
			},
			Egress: []nacl.Entry{
				entry(100, true, tcp(1024, 65535), "0.0.0.0/0"),
				entry(101, true, tcp(1024, 65535), "::/0"),
				entry(110, true, udp(53, 53), "10.0.0.2/32"),
				entry(120, true, proto(-1), "10.0.0.0/16"),
			}},
		{ID: aclDB,
			Ingress: []nacl.Entry{entry(100, true, tcp(5432, 5432), "10.0.2.0/24"), entry(200, true, icmp(1, -1, -1), "10.0.0.0/16")},
			Egress:  []nacl.Entry{entry(100, true, tcp(1024, 65535), "10.0.2.0/24")}},
	})

	compare(t, "prefix lists", l.PrefixLists, []*lab.PrefixList{
		{ID: plOffice, MaxEntries: 10, CIDRs: []netip.Prefix{pfx("203.0.113.0/24"), pfx("198.51.100.0/25")}},
		// AWS's S3 list: described without entries or max entries.
		{ID: plS3, MaxEntries: 1},
	})

	compare(t, "security groups", l.SecurityGroups, []*sg.Group{
		{ID: sgWeb, Description: "web servers",
			Ingress: []sg.Rule{
				// One permission, an IPv4 and an IPv6 range: two rules.
				cidrRule(tcp(443, 443), "sgr-0a00000000000001a", "0.0.0.0/0", "HTTPS"),
				cidrRule(tcp(443, 443), "sgr-0a00000000000002a", "::/0", ""),
				// Two CIDRs and a prefix list: three rules.
				cidrRule(tcp(22, 22), "sgr-0a00000000000003a", "203.0.113.0/24", "office"),
				cidrRule(tcp(22, 22), "sgr-0a00000000000004a", "198.51.100.0/25", ""),
				listRule(tcp(22, 22), "sgr-0a00000000000005a", plOffice, "office list"),
				// FromPort is the type, ToPort the code.
				cidrRule(icmp(1, 8, -1), "sgr-0a00000000000006a", "0.0.0.0/0", "ping"),
				// Not in describe-security-group-rules: no id.
				cidrRule(icmp(58, -1, -1), "", "::/0", ""),
				// -1 without ports, from the group itself.
				groupRule(proto(-1), "sgr-0a00000000000007a", sgWeb, "the web servers"),
				// The rule from a peered VPC's group is not modelled.
			},
			Egress: []sg.Rule{
				cidrRule(proto(-1), "sgr-0a00000000000009a", "0.0.0.0/0", ""),
				cidrRule(proto(-1), "sgr-0a0000000000000aa", "::/0", ""),
			}},
		{ID: sgApp, Description: "application servers",
			Ingress: []sg.Rule{
				groupRule(tcp(8080, 8080), "", sgWeb, ""),
				groupRule(tcp(8080, 8080), "", sgLambda, ""),
				cidrRule(udp(8125, 8125), "", "10.0.0.0/16", "statsd"),
			},
			Egress: []sg.Rule{
				groupRule(tcp(5432, 5432), "", sgDB, ""),
				listRule(tcp(443, 443), "", plS3, ""),
			}},
		{ID: sgDB, Description: "database",
			Ingress: []sg.Rule{
				groupRule(tcp(5432, 5432), "sgr-0d00000000000001d", sgApp, ""),
				cidrRule(proto(50), "sgr-0d00000000000002d", "10.0.2.0/24", "IPsec ESP"),
			},
			Egress: []sg.Rule{}}, // none: nothing leaves
		{ID: sgDefault, Description: "default VPC security group",
			Ingress: []sg.Rule{groupRule(proto(-1), "", sgDefault, "")},
			Egress:  []sg.Rule{cidrRule(proto(-1), "", "0.0.0.0/0", "")}},
		// Known only from describe-security-group-rules; the Lambda
		// function's interface uses it.
		{ID: sgLambda,
			Ingress: []sg.Rule{},
			Egress: []sg.Rule{
				cidrRule(tcp(443, 443), "sgr-0e00000000000001e", "0.0.0.0/0", ""),
				groupRule(tcp(8080, 8080), "sgr-0e00000000000002e", sgApp, "calls the app"),
			}},
	})

	custom := lab.ConntrackTimeouts{TCPEstablished: time.Hour, UDPStream: 2 * time.Minute, UDP: 45 * time.Second}
	compare(t, "instances", l.Instances, []*lab.Instance{
		{Name: "web-server-1", ConntrackAllowance: 100000, IMDS: lab.IMDSv2Only, Interfaces: []*lab.Interface{
			// Primary first, though listed second; the timeouts come from
			// describe-network-interfaces.
			{ID: "eni-0web1primary0000a", Instance: "web-server-1", Subnet: subnetWeb, IP: ip("10.0.1.10"),
				SecondaryIPs: []netip.Addr{ip("10.0.1.11"), ip("10.0.1.12")}, IPv6: []netip.Addr{ip("2600:1f18:4a3:6f01::10")},
				SecurityGroups: []string{sgWeb}, SourceDestCheck: true, Conntrack: custom},
			{ID: "eni-0web1second00000b", Instance: "web-server-1", Subnet: subnetApp, IP: ip("10.0.2.50"),
				SecurityGroups: []string{sgApp}, SourceDestCheck: false, Conntrack: defaults},
		}},
		{Name: "app", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
			{ID: "eni-0app1000000000001", Instance: "app", Subnet: subnetApp, IP: ip("10.0.2.10"),
				SecurityGroups: []string{sgApp, sgDefault}, SourceDestCheck: true, Conntrack: defaults},
		}},
		// Stopped, and named like the one before.
		{Name: "app-i-0app2000000000002", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
			{ID: "eni-0app2000000000002", Instance: "app-i-0app2000000000002", Subnet: subnetApp, IP: ip("10.0.2.11"),
				SecurityGroups: []string{sgApp}, SourceDestCheck: true, Conntrack: defaults},
		}},
		// No Name tag.
		{Name: "i-0db10000000000001", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
			{ID: "eni-0db10000000000001", Instance: "i-0db10000000000001", Subnet: subnetDB, IP: ip("10.0.3.10"),
				SecurityGroups: []string{sgDB}, SourceDestCheck: true, Conntrack: defaults},
		}},
		// Interfaces of no instance: one instance each.
		{Name: "eni-0lambda0000000001", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
			{ID: "eni-0lambda0000000001", Instance: "eni-0lambda0000000001", Subnet: subnetApp, IP: ip("10.0.2.200"),
				SecurityGroups: []string{sgLambda}, SourceDestCheck: true, Conntrack: defaults},
		}},
		{Name: "eni-0spare0000000001", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
			{ID: "eni-0spare0000000001", Instance: "eni-0spare0000000001", Subnet: subnetApp, IP: ip("10.0.2.99"),
				SecurityGroups: []string{sgApp}, SourceDestCheck: true, Conntrack: defaults},
		}},
	})
}

// compare reports the items of got that differ from want, one by one.
func compare[T any](t *testing.T, what string, got, want []*T) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		switch {
		case i >= len(got):
			t.Errorf("%s[%d]: missing, want %+v", what, i, *want[i])
		case i >= len(want):
			t.Errorf("%s[%d]: unexpected %+v", what, i, *got[i])
		case !reflect.DeepEqual(got[i], want[i]):
			t.Errorf("%s[%d]:\n got %+v\nwant %+v", what, i, *got[i], *want[i])
		}
	}
}

// wantItem is an item the report must hold: file (base name), resource
// and field exactly, and a part of the reason.
type wantItem struct {
	file, resource, field, reason string
}

// checkItems checks that items are exactly want, in any order.
func checkItems(t *testing.T, what string, items []importer.Item, want []wantItem) {
	t.Helper()
	left := slices.Clone(items)
	for _, w := range want {
		i := slices.IndexFunc(left, func(it importer.Item) bool {
			return filepath.Base(it.Source) == w.file && it.Resource == w.resource && it.Field == w.field && strings.Contains(it.Reason, w.reason)
		})
		if i < 0 {
			t.Errorf("%s: no item %s: %s: %s: …%s…", what, w.file, w.resource, w.field, w.reason)
			continue
		}
		left = slices.Delete(left, i, i+1)
	}
	for _, it := range left {
		t.Errorf("%s: unexpected item %s", what, it)
	}
}

// TestReportShop checks that the report of testdata/shop lists every
// object and field left out, and nothing else.
func TestReportShop(t *testing.T) {
	_, rep := importShop(t)
	checkItems(t, "not imported", rep.Unsupported, []wantItem{
		{"NOTES.txt", "", "", "not JSON"},
		{"entries.json", "", "Entries", "does not name its prefix list"},
		{"vpcs.json", shopVPC, "CidrBlockAssociationSet", "secondary IPv4 block 100.64.0.0/16"},
		{"vpcs.json", "vpc-0f9e8d7c6b5a40312", "", "another VPC than the one imported"},
		{"subnets.json", "subnet-0ddd4444eeee5555f", "", "IPv6-only subnet"},
		{"subnets.json", "vpc-0f9e8d7c6b5a40312", "", "1 subnet of another VPC: not imported (subnet-0fff0000aaaa1111b)"},
		{"network-acls.json", "vpc-0f9e8d7c6b5a40312", "", "1 network ACL of another VPC"},
		{"security-groups.json", "vpc-0f9e8d7c6b5a40312", "", "1 security group of another VPC"},
		{"security-groups.json", sgWeb, "SecurityGroups[0].IpPermissions[3].Ipv6Ranges[0]", "no rule of describe-security-group-rules is this inbound rule (icmpv6 all types, ::/0)"},
		{"security-group-rules.json", "sgr-0d00000000000003d", "", "rule of sg-0db00000000000c3 (inbound tcp 3306, group sg-0app0000000000b2) is not in describe-security-groups"},
		{"security-group-rules.json", shopVPC, "", "1 security group known only from describe-security-group-rules (sg-0lambda00000000d4), used by"},
		{"security-group-rules.json", shopVPC, "", "(sg-0orphan0000000007), which does not give a group's VPC, and used by nothing"},
		{"prefix-lists.json", "pl-02cd2c6b", "", "com.amazonaws.us-east-1.dynamodb is used by no imported rule"},
		{"prefix-lists.json", plS3, "", "no entries for prefix list com.amazonaws.us-east-1.s3"},
		{"instances.json", "i-0web1000000000001", "Tags.Name", `name "web server #1" is not a lab name`},
		{"instances.json", "i-0app2000000000002", "Tags.Name", `name "app" is also i-0app1000000000001's: the instance is named app-i-0app2000000000002`},
		{"instances.json", "i-0old0000000000001", "State", "terminated"},
		{"instances.json", "vpc-0f9e8d7c6b5a40312", "", "1 instance of another VPC"},
		{"instances.json", "eni-0db10000000000001", "Ipv4Prefixes", "delegated prefix 10.0.3.64/28"},
	})
	checkItems(t, "not modelled", rep.NotModelled, []wantItem{
		{"nat-gateways.json", "nat-0123456789abcdef0", "", "NAT gateway"},
		{"route-tables.json", "rtb-0main0000000000000", "", "route to 0.0.0.0/0 via nat-0123456789abcdef0 (NAT gateway)"},
		{"route-tables.json", "rtb-0web00000000000000", "", "route to 192.168.0.0/16 via pcx-0a1b2c3d4e5f60718 (VPC peering connection)"},
		{"security-groups.json", sgWeb, "", "references group sg-0peer000000000009 of vpc-0peer0000000000a through VPC peering connection pcx-0a1b2c3d4e5f60718"},
		{"instances.json", "eni-0web1primary0000a", "", "public IPv4 address 54.210.1.10 of 10.0.1.10"},
		{"network-interfaces.json", "eni-0lambda0000000001", "", "type lambda managed by AROAEXAMPLE:orders: imported as an instance of its own"},
		{"network-interfaces.json", "eni-0spare0000000001", "", "attached to no instance: imported as an instance of its own"},
		{"network-interfaces.json", "eni-0nat000000000000a", "", "NAT gateway"},
	})
}

// TestRoundTrip writes the imported lab with labfile.Marshal and reads it back
// with labfile.Parse: the lab must load, and be the one imported, but for the
// default group and ACL that every lab has and the lines.
func TestRoundTrip(t *testing.T) {
	l, _ := importShop(t)
	roundTrip(t, l)
}

// roundTrip checks that l survives labfile.Marshal and labfile.Parse unchanged.
func roundTrip(t *testing.T, l *lab.Lab) *lab.Lab {
	t.Helper()
	data, err := labfile.Marshal(l)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	back, err := labfile.Parse("imported.yaml", data)
	if err != nil {
		t.Fatalf("the imported lab does not load: %v\n%s", err, data)
	}
	back.File = l.File
	clearLines(back)
	// Every lab has a group and an ACL named default; an import has them
	// only when its input does.
	if l.Group(sg.DefaultGroupID) == nil {
		back.SecurityGroups = slices.DeleteFunc(back.SecurityGroups, func(g *sg.Group) bool { return g.ID == sg.DefaultGroupID })
	}
	if l.ACL(nacl.DefaultACLID) == nil {
		back.NetworkACLs = slices.DeleteFunc(back.NetworkACLs, func(a *nacl.ACL) bool { return a.ID == nacl.DefaultACLID })
	}
	// Zones the import leaves out read back as the lab's defaults.
	for i, s := range l.Subnets {
		if i < len(back.Subnets) && s.AvailabilityZone == "" {
			back.Subnets[i].AvailabilityZone = ""
		}
		if i < len(back.Subnets) && s.AZID == "" {
			back.Subnets[i].AZID = ""
		}
	}
	// An empty list reads back empty, not nil.
	if len(l.NetworkACLs) == 0 {
		back.NetworkACLs = nil
	}
	if len(l.SecurityGroups) == 0 {
		back.SecurityGroups = nil
	}
	if !reflect.DeepEqual(back, l) {
		t.Errorf("the lab read back differs from the one imported:\n%s", diffLabs(l, back))
	}
	return back
}

// clearLines zeroes the Line fields that Parse sets.
func clearLines(l *lab.Lab) {
	for _, s := range l.Subnets {
		s.Line = 0
	}
	for _, a := range l.NetworkACLs {
		a.Line = 0
		for i := range a.Ingress {
			a.Ingress[i].Line = 0
		}
		for i := range a.Egress {
			a.Egress[i].Line = 0
		}
	}
	for _, p := range l.PrefixLists {
		p.Line = 0
	}
	for _, g := range l.SecurityGroups {
		g.Line = 0
		for i := range g.Ingress {
			g.Ingress[i].Line = 0
		}
		for i := range g.Egress {
			g.Egress[i].Line = 0
		}
	}
	for _, in := range l.Instances {
		in.Line = 0
		for _, e := range in.Interfaces {
			e.Line = 0
		}
	}
}

// diffLabs describes how two labs differ, section by section.
func diffLabs(a, b *lab.Lab) string {
	var out []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		if reflect.DeepEqual(fa, fb) {
			continue
		}
		out = append(out, fmt.Sprintf("%s:\n imported %s\n read     %s", va.Type().Field(i).Name, dump(fa), dump(fb)))
	}
	return strings.Join(out, "\n")
}

// dump prints a value with the elements of pointer slices shown.
func dump(v any) string {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return fmt.Sprintf("%+v", v)
	}
	var parts []string
	for i := range rv.Len() {
		e := rv.Index(i)
		if e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		parts = append(parts, fmt.Sprintf("%+v", e.Interface()))
	}
	return "[" + strings.Join(parts, "\n          ") + "]"
}
