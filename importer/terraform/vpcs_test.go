package terraform

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// TestTwoVPCs imports testdata/two-vpcs.json, where a prod and a staging
// VPC are peered and their groups reference each other: Parse refuses to
// choose, ParseVPC imports either, and the report lists everything of the
// other VPC, and the rules whose peer is in it.
func TestTwoVPCs(t *testing.T) {
	const file = "testdata/two-vpcs.json"
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const (
		prod, staging       = "vpc-0a0a0a0a0a0a0a0a1", "vpc-0b0b0b0b0b0b0b0b1"
		prodSub, stagingSub = "subnet-0a0a0a0a0a0a0a0a1", "subnet-0b0b0b0b0b0b0b0b1"
		prodSG, stagingSG   = "sg-0a0a0a0a0a0a0a0a1", "sg-0b0b0b0b0b0b0b0b1"
	)
	_, _, err = Parse(file, data)
	if err == nil || !strings.Contains(err.Error(), prod+" (aws_vpc.prod), "+staging+" (aws_vpc.staging)") ||
		!strings.Contains(err.Error(), "choose the one to import") {
		t.Errorf("Parse of two VPCs: %v, want an error naming both", err)
	}
	if _, _, err := ParseVPC(file, data, "vpc-0123"); err == nil || !strings.Contains(err.Error(), "no VPC vpc-0123: the state holds "+prod) {
		t.Errorf("ParseVPC of an absent VPC: %v", err)
	}

	l, rep, err := ParseVPC(file, data, prod)
	if err != nil {
		t.Fatal(err)
	}
	compareLab(t, l, &lab.Lab{
		File: file,
		VPC:  lab.VPC{ID: prod, CIDR: pfx("10.1.0.0/16"), AccountID: "111122223333", Region: "eu-west-1"},
		Subnets: []*lab.Subnet{{ID: prodSub, CIDR: pfx("10.1.1.0/24"), NetworkACL: nacl.DefaultACLID,
			AvailabilityZone: "eu-west-1a", AZID: "euw1-az1"}},
		NetworkACLs: []*nacl.ACL{defaultACL(false)},
		SecurityGroups: []*sg.Group{
			defaultGroup(false),
			// The rules naming staging's group lose that peer; the CIDR
			// bundled with it stays.
			{ID: prodSG, Description: "prod", Ingress: []sg.Rule{sgr(tcpT(22, 22), "10.2.0.0/16")},
				Egress: []sg.Rule{sgr(allT, "0.0.0.0/0")}},
		},
		Instances: []*lab.Instance{inst("prod-1", iface("eni-0a0a0a0a0a0a0a0a1", "prod-1", prodSub, "10.1.1.10", prodSG))},
		Quotas:    lab.DefaultQuotas(),
		Settings:  lab.DefaultSettings(),
	})
	compareItems(t, "unsupported", rep.Unsupported, []item{
		{"aws_instance.staging", "", "in " + stagingSub + ", of " + staging},
		{"aws_network_acl.staging", "", "in " + staging},
		{"aws_route_table.staging", "", "in " + staging},
		{"aws_route_table_association.staging", "subnet_id", "subnet " + stagingSub + " is in " + staging},
		{"aws_security_group.prod", "ingress[0].security_groups[0]", "security group " + stagingSG + " is in " + staging + " (a peered VPC)"},
		{"aws_security_group.prod", "ingress[1].security_groups[0]", "security group " + stagingSG + " is in " + staging + " (a peered VPC)"},
		{"aws_security_group.staging", "", "in " + staging},
		{"aws_security_group_rule.staging_ssh", "security_group_id", "security group " + stagingSG + " is in " + staging},
		{"aws_subnet.staging", "", "in " + staging},
		{"aws_vpc.prod", "", "subnet " + prodSub + " uses the VPC's main route table rtb-0a0a0a0a0a0a0a0d1, which is not in the state"},
		{"aws_vpc.prod", "default_network_acl_id", "the VPC's default network ACL acl-0a0a0a0a0a0a0a0d1 is not in the state"},
		{"aws_vpc.staging", "", "another VPC, " + staging},
	})
	compareItems(t, "not modelled", rep.NotModelled, []item{
		{"aws_vpc_peering_connection.prod_staging", "", "VPC peering"},
	})
	roundTrip(t, l)

	l, rep, err = ParseVPC(file, data, staging)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.SecurityGroups[1], (&sg.Group{ID: stagingSG, Description: "staging",
		Ingress: []sg.Rule{sgr(tcpT(22, 22), "10.1.0.0/16", "id=sgr-0b0b0b0b0b0b0b0b1")}, Egress: []sg.Rule{}}); js(got) != js(want) {
		t.Errorf("staging's group:\n got %s\nwant %s", js(got), js(want))
	}
	if s := l.Subnet(stagingSub); s == nil || s.NetworkACL != "acl-0b0b0b0b0b0b0b0b1" || s.Public {
		t.Errorf("staging's subnet: %s", js(s))
	}
	compareItems(t, "not modelled", rep.NotModelled, []item{
		{"aws_route_table.staging", "", "route (route[0]) to 10.1.0.0/16 through pcx-0a0a0a0a0a0a0a0a1, a VPC peering connection"},
		{"aws_vpc_peering_connection.prod_staging", "", "VPC peering"},
	})
	compareItems(t, "unsupported", rep.Unsupported, []item{
		{"aws_instance.prod", "", "in " + prodSub + ", of " + prod},
		{"aws_security_group.prod", "", "in " + prod},
		{"aws_security_group.staging", "ingress[0].security_groups[0]", "security group " + prodSG + " is in " + prod + " (a peered VPC)"},
		{"aws_subnet.prod", "", "in " + prod},
		{"aws_vpc.prod", "", "another VPC, " + prod},
	})
	roundTrip(t, l)
}

// TestExistingVPC imports testdata/existing-vpc.json, where the VPC and a
// subnet are data sources and the managed resources reference a group, a
// network ACL and prefix lists that the state does not hold: they become
// stand-ins carrying what the state says of them.
func TestExistingVPC(t *testing.T) {
	const file = "testdata/existing-vpc.json"
	l, rep, err := Import(file)
	if err != nil {
		t.Fatal(err)
	}
	const (
		vpc      = "vpc-0c0c0c0c0c0c0c0c1"
		shared   = "subnet-0c0c0c0c0c0c0c0c1"
		batch    = "subnet-0c0c0c0c0c0c0c0c2"
		app      = "sg-0c0c0c0c0c0c0c0c1"
		existing = "sg-0c0c0c0c0c0c0c0c9"
		acl      = "acl-0c0c0c0c0c0c0c0c9"
		partner  = "pl-0c0c0c0c0c0c0c0c9"
		missing  = "pl-0c0c0c0c0c0c0c0c8"
	)
	compareLab(t, l, &lab.Lab{
		File: file,
		VPC:  lab.VPC{ID: vpc, CIDR: pfx("172.16.0.0/16"), AccountID: "111122223333", Region: "eu-west-1"},
		Subnets: []*lab.Subnet{
			{ID: batch, CIDR: pfx("172.16.20.0/24"), NetworkACL: acl, AvailabilityZone: "eu-west-1c", AZID: "euw1-az3"},
			// Read by a data source.
			{ID: shared, CIDR: pfx("172.16.10.0/24"), NetworkACL: nacl.DefaultACLID, AvailabilityZone: "eu-west-1c", AZID: "euw1-az3"},
		},
		NetworkACLs: []*nacl.ACL{
			defaultACL(false),
			{ID: acl, Ingress: []nacl.Entry{ent(10, false, allT, "192.0.2.0/24")}, Egress: []nacl.Entry{}},
		},
		PrefixLists: []*lab.PrefixList{
			{ID: partner, MaxEntries: 1, CIDRs: []netip.Prefix{pfx("192.0.2.128/25")}},
			{ID: missing, MaxEntries: 1},
		},
		SecurityGroups: []*sg.Group{
			defaultGroup(false),
			{ID: app, Description: "app",
				Ingress: []sg.Rule{
					sgr(tcpT(443, 443), existing, "desc=from the load balancers"),
					sgr(tcpT(8443, 8443), missing),
					sgr(tcpT(443, 443), partner, "id=sgr-0c0c0c0c0c0c0c0c2"),
				},
				Egress: []sg.Rule{sgr(allT, "0.0.0.0/0")}},
			{ID: existing, Ingress: []sg.Rule{},
				Egress: []sg.Rule{sgr(tcpT(8080, 8080), app, "id=sgr-0c0c0c0c0c0c0c0c1", "desc=health checks")}},
		},
		Instances: []*lab.Instance{
			inst("app", iface("eni-0c0c0c0c0c0c0c0c1", "app", shared, "172.16.10.10", app, existing)),
			inst("batch-worker-1", iface("eni-0c0c0c0c0c0c0c0c2", "batch-worker-1", batch, "172.16.20.10", sg.DefaultGroupID)),
		},
		Quotas:   lab.DefaultQuotas(),
		Settings: lab.DefaultSettings(),
	})
	compareItems(t, "unsupported", rep.Unsupported, []item{
		{"aws_ec2_managed_prefix_list_entry.partner", "prefix_list_id", "prefix list " + partner + " is not in the state"},
		{"aws_instance.batch", "vpc_security_group_ids", "no security group is listed"},
		{"aws_network_acl_rule.batch_deny", "network_acl_id", "network ACL " + acl + " is not in the state"},
		{"aws_security_group.app", "ingress[0].security_groups[0]", "security group " + existing + " is not in the state"},
		{"aws_security_group.app", "ingress[1].prefix_list_ids[0]", "prefix list " + missing + " is not in the state: the lab gets an empty stand-in"},
		{"data.aws_vpc.shared", "", "subnet " + batch + " uses the VPC's main route table rtb-0c0c0c0c0c0c0c0c9"},
		{"data.aws_vpc.shared", "", "subnet " + shared + " uses the VPC's main route table rtb-0c0c0c0c0c0c0c0c9"},
		{"data.aws_vpc.shared", "", "the VPC's default network ACL is not in the state"},
	})
	compareItems(t, "not modelled", rep.NotModelled, nil)
	roundTrip(t, l)
}

// TestDefaults imports testdata/defaults.json, where standalone rules add
// to the VPC's default group and ACL, which the state does not manage:
// each becomes a stand-in with AWS's defaults plus those rules, and what
// uses the VPC's defaults uses the stand-ins.
func TestDefaults(t *testing.T) {
	const file = "testdata/defaults.json"
	l, rep, err := Import(file)
	if err != nil {
		t.Fatal(err)
	}
	const (
		dsg, dacl = "sg-0d0d0d0d0d0d0d0d1", "acl-0d0d0d0d0d0d0d0d1"
		one, two  = "subnet-0d0d0d0d0d0d0d0d1", "subnet-0d0d0d0d0d0d0d0d2"
	)
	oneENI := iface("eni-0d0d0d0d0d0d0d0d1", "one", one, "10.3.1.10", dsg)
	oneENI.IPv6 = addrs("2600:1f18:cc:dd01::10")
	compareLab(t, l, &lab.Lab{
		File: file,
		VPC: lab.VPC{ID: "vpc-0d0d0d0d0d0d0d0d1", CIDR: pfx("10.3.0.0/16"), IPv6CIDR: pfx("2600:1f18:cc:dd00::/56"),
			AccountID: "111122223333", Region: "eu-west-1"},
		Subnets: []*lab.Subnet{
			{ID: one, CIDR: pfx("10.3.1.0/24"), IPv6CIDR: pfx("2600:1f18:cc:dd01::/64"), NetworkACL: dacl,
				AvailabilityZone: "eu-west-1a", AZID: "euw1-az1"},
			{ID: two, CIDR: pfx("10.3.2.0/24"), NetworkACL: dacl, AvailabilityZone: "eu-west-1a", AZID: "euw1-az1"},
		},
		NetworkACLs: []*nacl.ACL{
			defaultACL(true),
			{ID: dacl, Ingress: append([]nacl.Entry{ent(50, false, allT, "192.0.2.0/24")}, nacl.DefaultEntries(true)...),
				Egress: nacl.DefaultEntries(true)},
		},
		SecurityGroups: []*sg.Group{
			defaultGroup(true),
			{ID: dsg, Description: "default VPC security group",
				Ingress: []sg.Rule{sgr(allT, dsg), sgr(tcpT(22, 22), "10.0.0.0/8", "id=sgr-0d0d0d0d0d0d0d0d1", "desc=ssh")},
				Egress:  sg.DefaultEgress(true)},
		},
		Instances: []*lab.Instance{
			inst("one", oneENI),
			inst("two", iface("eni-0d0d0d0d0d0d0d0d2", "two", two, "10.3.2.10", dsg)),
		},
		Quotas:   lab.DefaultQuotas(),
		Settings: lab.DefaultSettings(),
	})
	compareItems(t, "unsupported", rep.Unsupported, []item{
		{"aws_network_acl_rule.default_block", "network_acl_id", "network ACL " + dacl + ", the VPC's default, is not in the state: the lab gets a stand-in with AWS's default entries"},
		{"aws_security_group_rule.default_ssh", "security_group_id", "security group " + dsg + ", the VPC's default, is not in the state: the lab gets a stand-in with AWS's default rules"},
		{"aws_vpc.main", "", "subnet " + one + " uses the VPC's main route table"},
		{"aws_vpc.main", "", "subnet " + two + " uses the VPC's main route table"},
	})
	roundTrip(t, l)
}
