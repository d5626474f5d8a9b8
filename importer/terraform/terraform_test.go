package terraform

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// TestWebapp imports testdata/webapp.json: a VPC built in a child module
// (subnets behind an internet gateway and a NAT gateway, a network ACL
// with inline and standalone entries, the adopted default ACL and group),
// groups with bundled peers, ICMP, IPv6, self and group references,
// standalone rules of all three kinds mixed with inline ones (a refreshed
// state holds some twice), a group without egress, a prefix list managed
// and one read by a data source, instances with and without Name tags, an
// extra interface attached to one, and resources a lab has no place for.
func TestWebapp(t *testing.T) {
	const file = "testdata/webapp.json"
	l, rep, err := Import(file)
	if err != nil {
		t.Fatal(err)
	}
	const (
		vpc    = "vpc-0a1b2c3d4e5f60001"
		dsg    = "sg-0d0d0d0d0d0d0d0d1"
		dacl   = "acl-0d0d0d0d0d0d0d0d1"
		aclDB  = "acl-0c0c0c0c0c0c0c0c1"
		pub    = "subnet-0a0a0a0a0a0a0a0a1"
		priv   = "subnet-0b0b0b0b0b0b0b0b1"
		db     = "subnet-0c0c0c0c0c0c0c0c1"
		web    = "sg-0a0a0a0a0a0a0a0a1"
		app    = "sg-0b0b0b0b0b0b0b0b1"
		sgDB   = "sg-0c0c0c0c0c0c0c0c1"
		legacy = "sg-0e0e0e0e0e0e0e0e1"
		absent = "sg-0f0f0f0f0f0f0f0f9"
		office = "pl-0a0a0a0a0a0a0a0a1"
		s3     = "pl-6da54004"
		v6VPC  = "2600:1f18:aa:bb00::/56"
	)
	webENI := iface("eni-0a0a0a0a0a0a0a0a1", "web-server-1", pub, "10.0.1.10", web)
	webENI.SecondaryIPs = addrs("10.0.1.11", "10.0.1.12") // a set: sorted
	webENI.IPv6 = addrs("2600:1f18:aa:bb01::10")
	mgmtENI := iface("eni-0a0a0a0a0a0a0a0a2", "web-server-1", priv, "10.0.2.20", app, legacy)
	mgmtENI.SecondaryIPs = addrs("10.0.2.22", "10.0.2.21") // private_ip_list: its order
	mgmtENI.SourceDestCheck = false
	webInstance := inst("web-server-1", webENI, mgmtENI)
	webInstance.IMDS = lab.IMDSv2Only

	want := &lab.Lab{
		File: file,
		VPC: lab.VPC{ID: vpc, CIDR: pfx("10.0.0.0/16"), IPv6CIDR: pfx(v6VPC),
			AccountID: "111122223333", Region: "eu-west-1"},
		Subnets: []*lab.Subnet{
			{ID: db, CIDR: pfx("10.0.3.0/24"), NetworkACL: aclDB, AvailabilityZone: "eu-west-1b", AZID: "euw1-az2"},
			// The default ACL lists it; its route table's default route
			// goes to a NAT gateway.
			{ID: priv, CIDR: pfx("10.0.2.0/24"), NetworkACL: dacl, AvailabilityZone: "eu-west-1a", AZID: "euw1-az1"},
			{ID: pub, CIDR: pfx("10.0.1.0/24"), IPv6CIDR: pfx("2600:1f18:aa:bb01::/64"), NetworkACL: dacl,
				Public: true, AvailabilityZone: "eu-west-1a", AZID: "euw1-az1"},
		},
		NetworkACLs: []*nacl.ACL{
			defaultACL(true),
			{ID: dacl, Ingress: nacl.DefaultEntries(true), Egress: nacl.DefaultEntries(true)},
			{ID: aclDB,
				// Sorted by number; rule 200 is inline and standalone, once.
				Ingress: []nacl.Entry{
					ent(100, true, tcpT(5432, 5432), "10.0.2.0/24"),
					ent(101, true, icmp6T(128, -1), v6VPC),
					ent(110, true, icmpT(3, 4), "10.0.0.0/16"),
					ent(120, false, allT, "198.51.100.0/24"),
					ent(200, true, tcpT(22, 22), "10.0.1.0/24"),
				},
				// Rule 90 is standalone only.
				Egress: []nacl.Entry{
					ent(90, true, udpT(53, 53), "10.0.0.0/16"),
					ent(100, true, tcpT(1024, 65535), "10.0.2.0/24"),
					ent(101, true, icmp6T(129, -1), v6VPC),
				}},
		},
		PrefixLists: []*lab.PrefixList{
			{ID: office, MaxEntries: 5, CIDRs: []netip.Prefix{pfx("203.0.113.0/24"), pfx("198.51.100.64/26")}},
			// Read by a data source, imported because a rule uses it.
			{ID: s3, MaxEntries: 2, CIDRs: []netip.Prefix{pfx("52.218.0.0/17"), pfx("3.5.64.0/21")}},
		},
		SecurityGroups: []*sg.Group{
			defaultGroup(true),
			// Adopted by aws_default_security_group without egress: none.
			{ID: dsg, Description: "default VPC security group",
				Ingress: []sg.Rule{sgr(allT, dsg)}, Egress: []sg.Rule{}},
			{ID: app, Description: "application servers",
				Ingress: []sg.Rule{
					sgr(tcpT(8080, 8080), web, "desc=from web"),
					// Inline and aws_security_group_rule.app_metrics: one rule,
					// with the resource's id and description.
					sgr(tcpT(9000, 9000), "10.0.1.0/24", "id=sgr-0a0a0a0a0a0a0a0a1", "desc=metrics"),
					// aws_security_group_rule.app_dns bundles two CIDRs: two
					// rules, no id.
					sgr(udpT(53, 53), "10.0.1.0/24"),
					sgr(udpT(53, 53), "10.0.2.0/24"),
				},
				Egress: []sg.Rule{
					sgr(tcpT(5432, 5432), sgDB, "id=sgr-0b0b0b0b0b0b0b0b1", "desc=to the database"),
					sgr(tcpT(443, 443), s3, "desc=S3"),
				}},
			{ID: sgDB, Description: "database",
				Ingress: []sg.Rule{
					sgr(tcpT(5432, 5432), app, "id=sgr-0c0c0c0c0c0c0c0c1", "desc=from app"),
					sgr(icmpT(3, 4), "10.0.0.0/16", "id=sgr-0c0c0c0c0c0c0c0c2", "desc=unreachable, fragmentation needed"),
					sgr(allT, v6VPC, "id=sgr-0c0c0c0c0c0c0c0c3"),
				},
				// No egress block, no egress rule resource: no egress at all,
				// not AWS's allow-all default.
				Egress: []sg.Rule{}},
			// Its only egress rule names a group of another account.
			{ID: legacy, Description: "Managed by Terraform",
				Ingress: []sg.Rule{sgr(tcpT(25, 25), absent)}, Egress: []sg.Rule{}},
			{ID: web, Description: "web servers",
				Ingress: []sg.Rule{
					sgr(tcpT(443, 443), "0.0.0.0/0", "desc=https"),
					sgr(tcpT(443, 443), "10.0.0.0/8", "desc=https"),
					sgr(tcpT(443, 443), "::/0", "desc=https"),
					sgr(tcpT(22, 22), office, "desc=ssh from the office"),
					sgr(icmpT(8, 0), "0.0.0.0/0", "desc=ping"),
					sgr(icmp6T(-1, -1), "::/0"),
					sgr(allT, web),
				},
				Egress: []sg.Rule{sgr(allT, "0.0.0.0/0"), sgr(allT, "::/0")}},
			// The stand-in for the group the state does not hold.
			{ID: absent, Ingress: []sg.Rule{}, Egress: []sg.Rule{}},
		},
		Instances: []*lab.Instance{
			inst("app", iface("eni-0b0b0b0b0b0b0b0b1", "app", priv, "10.0.2.10", app, dsg)),
			// Named app too: the second gets its id added.
			inst("app-i-0b0b0b0b0b0b0b0b2", iface("eni-0b0b0b0b0b0b0b0b2", "app-i-0b0b0b0b0b0b0b0b2", priv, "10.0.2.11", app)),
			// No Name tag.
			inst("i-0c0c0c0c0c0c0c0c1", iface("eni-0c0c0c0c0c0c0c0c1", "i-0c0c0c0c0c0c0c0c1", db, "10.0.3.10", sgDB)),
			// Named "web server #1".
			webInstance,
		},
		Quotas:   lab.DefaultQuotas(),
		Settings: lab.DefaultSettings(),
	}
	compareLab(t, l, want)

	compareItems(t, "unsupported", rep.Unsupported, []item{
		{"aws_iam_role.app", "", "resource type aws_iam_role is not part of a lab"},
		{"aws_instance.web", "brand_new_feature", "unknown attribute"},
		{"aws_network_interface.orphan", "", "not attached to an instance"},
		{"aws_security_group.legacy", "egress[0].security_groups[0]", "sg-0f0f0f0f0f0f0f0f8 is a group of account 999988887777"},
		{"aws_security_group.legacy", "ingress[0].security_groups[0]", "security group sg-0f0f0f0f0f0f0f0f9 is not in the state"},
		{"data.aws_ami.ubuntu", "", "data source"},
		{"module.network.aws_flow_log.vpc", "", "flow log"},
		{"module.network.aws_vpc.main", "", "subnet subnet-0c0c0c0c0c0c0c0c1 uses the VPC's main route table rtb-0m0m0m0m0m0m0m0m1, which is not in the state"},
		{"random_id.suffix", "", "resource type random_id is not part of a lab"},
	})
	compareItems(t, "not modelled", rep.NotModelled, []item{
		{"aws_vpc_endpoint.s3", "", "a VPC endpoint"},
		{"module.network.aws_eip.nat", "", "an Elastic IP address"},
		{"module.network.aws_nat_gateway.nat", "", "a NAT gateway"},
		// Once, though the route table holds the route inline too.
		{"module.network.aws_route.private_nat", "", "route to 0.0.0.0/0 through nat-0e0e0e0e0e0e0e0e1, a NAT gateway"},
	})
	var buf bytes.Buffer
	if err := rep.Write(&buf); err != nil || !strings.Contains(buf.String(), "not imported (9):") {
		t.Errorf("Report.Write: %v\n%s", err, buf.String())
	}

	roundTrip(t, l)
}

// TestNoEgressStaysEmpty checks the distinction lab files make between
// "egress: []" (no rules) and a missing egress key (AWS's allow-all): a
// group whose state holds no egress rule is written with the former.
func TestNoEgressStaysEmpty(t *testing.T) {
	l, _, err := Import("testdata/webapp.json")
	if err != nil {
		t.Fatal(err)
	}
	g := l.Group("sg-0c0c0c0c0c0c0c0c1")
	if g == nil || g.Egress == nil || len(g.Egress) != 0 {
		t.Fatalf("database group's egress = %#v, want an empty non-nil list", g)
	}
	data, err := labfile.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, "id: sg-0c0c0c0c0c0c0c0c1")
	j := strings.Index(text[i:], "\n  - id:")
	if i < 0 || j < 0 || !strings.Contains(text[i:i+j], "egress: []") {
		t.Errorf("the database group is not written with egress: []:\n%s", text)
	}
	back, err := labfile.Parse("back.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Group("sg-0c0c0c0c0c0c0c0c1").Egress; len(got) != 0 {
		t.Errorf("read back, the database group lets out %v", got)
	}
}
