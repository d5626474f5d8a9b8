package terraform

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

const (
	edgeVPC = "vpc-0e0e0e0e0e0e0e0e1"
	edgeIGW = "igw-0e0e0e0e0e0e0e0e1"
)

// sgBlock is an inline security group rule block with every attribute.
func sgBlock(proto string, from, to int, peers obj) obj {
	b := obj{"cidr_blocks": []any{}, "description": "", "from_port": from, "ipv6_cidr_blocks": []any{},
		"prefix_list_ids": []any{}, "protocol": proto, "security_groups": []any{}, "self": false, "to_port": to}
	for k, v := range peers {
		b[k] = v
	}
	return b
}

// aclBlock is an inline network ACL entry.
func aclBlock(rule int, action, proto string, from, to int, cidr string) obj {
	return obj{"action": action, "cidr_block": cidr, "from_port": from, "icmp_code": 0, "icmp_type": 0,
		"ipv6_cidr_block": "", "protocol": proto, "rule_no": rule, "to_port": to}
}

// edgeState is a state of awkward cases: a secondary IPv4 block with a
// subnet in it, an IPv6-only subnet, a Local Zone subnet, a VPC without
// an ARN, protocols by number, rules and entries that conflict, routes a
// lab cannot model, and interfaces with what a lab leaves out.
func edgeState(t *testing.T) []byte {
	return stateJSON(t,
		"aws_vpc.edge", obj{"id": edgeVPC, "cidr_block": "10.8.0.0/16", "ipv6_cidr_block": "",
			"owner_id": "444455556666", "default_security_group_id": "", "default_network_acl_id": "",
			"main_route_table_id": "rtb-0e0e0e0e0e0e0e0e0"},
		"aws_vpc_ipv4_cidr_block_association.more", obj{"id": "vpc-cidr-assoc-1", "vpc_id": edgeVPC, "cidr_block": "10.9.0.0/16"},
		"aws_vpc_ipv6_cidr_block_association.v6", obj{"id": "vpc-cidr-assoc-2", "vpc_id": edgeVPC, "ipv6_cidr_block": "2600:1f18:ee:ee00::/56"},
		"aws_subnet.a", obj{"id": "subnet-0e0e0e0e0e0e0e0a1", "vpc_id": edgeVPC, "cidr_block": "10.8.1.0/24",
			"availability_zone": "ap-southeast-2b", "availability_zone_id": "apse2-az1"},
		"aws_subnet.lz", obj{"id": "subnet-0e0e0e0e0e0e0e0a2", "vpc_id": edgeVPC, "cidr_block": "10.8.2.0/24",
			"availability_zone": "ap-southeast-2-per-1a", "availability_zone_id": "apse2-per1-az1"},
		"aws_subnet.secondary", obj{"id": "subnet-0e0e0e0e0e0e0e0a3", "vpc_id": edgeVPC, "cidr_block": "10.9.1.0/24",
			"availability_zone": "ap-southeast-2a"},
		"aws_subnet.v6only", obj{"id": "subnet-0e0e0e0e0e0e0e0a4", "vpc_id": edgeVPC, "cidr_block": "",
			"ipv6_native": true, "ipv6_cidr_block": "2600:1f18:ee:ee01::/64"},
		"aws_network_acl.a", obj{"id": "acl-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC, "subnet_ids": []any{"subnet-0e0e0e0e0e0e0e0a1"},
			"ingress": []any{
				aclBlock(100, "ALLOW", "6", 443, 443, "0.0.0.0/0"),
				aclBlock(32767, "deny", "-1", 0, 0, "0.0.0.0/0"), // AWS's implicit deny, which the provider skips
				aclBlock(110, "allow", "50", 0, 0, "192.0.2.0/24"),
			},
			"egress": []any{}},
		"aws_network_acl_rule.conflict", obj{"network_acl_id": "acl-0e0e0e0e0e0e0e0e1", "rule_number": 100, "egress": false,
			"rule_action": "deny", "protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_block": "0.0.0.0/0"},
		"aws_security_group.a", obj{"id": "sg-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC, "description": "edge",
			"ingress": []any{
				sgBlock("6", 80, 80, obj{"cidr_blocks": []any{"10.8.0.0/16"}, "new_key": "x"}),
				sgBlock("50", 0, 0, obj{"cidr_blocks": []any{"192.0.2.0/24"}}),
				sgBlock("icmpv6", 128, 0, obj{"ipv6_cidr_blocks": []any{"2001:db8::/32"}}),
				sgBlock("icmp", -1, 7, obj{"cidr_blocks": []any{"10.8.0.0/16"}}),
				sgBlock("tcp", 22, 22, obj{}),
			},
			"egress": []any{sgBlock("-1", 0, 0, obj{"cidr_blocks": []any{"0.0.0.0/0"}})}},
		"aws_vpc_security_group_ingress_rule.first", obj{"id": "sgr-0e0e0e0e0e0e0e0e1", "security_group_id": "sg-0e0e0e0e0e0e0e0e1",
			"ip_protocol": "tcp", "from_port": 8080, "to_port": 8080, "cidr_ipv4": "10.8.1.0/24"},
		"aws_vpc_security_group_ingress_rule.same_id", obj{"id": "sgr-0e0e0e0e0e0e0e0e1", "security_group_id": "sg-0e0e0e0e0e0e0e0e1",
			"ip_protocol": "tcp", "from_port": 8081, "to_port": 8081, "cidr_ipv4": "10.8.1.0/24"},
		"aws_vpc_security_group_ingress_rule.bad_id", obj{"id": "rule-1", "security_group_id": "sg-0e0e0e0e0e0e0e0e1",
			"ip_protocol": "udp", "cidr_ipv4": "10.8.1.0/24"},
		"aws_route_table.main", obj{"id": "rtb-0e0e0e0e0e0e0e0e0", "vpc_id": edgeVPC,
			"propagating_vgws": []any{"vgw-0e0e0e0e0e0e0e0e1"},
			"route": []any{
				obj{"cidr_block": "203.0.113.0/24", "gateway_id": edgeIGW},
				obj{"cidr_block": "172.31.0.0/16", "gateway_id": "vgw-0e0e0e0e0e0e0e0e1"},
				obj{"destination_prefix_list_id": "pl-0e0e0e0e0e0e0e0e1", "transit_gateway_id": "tgw-0e0e0e0e0e0e0e0e1"},
			}},
		"aws_route_table_association.edge", obj{"gateway_id": edgeIGW, "route_table_id": "rtb-0e0e0e0e0e0e0e0e0"},
		"aws_internet_gateway.gw", obj{"id": edgeIGW, "vpc_id": edgeVPC},
		"aws_instance.a", obj{"id": "i-0e0e0e0e0e0e0e0e1", "subnet_id": "subnet-0e0e0e0e0e0e0e0a1", "private_ip": "10.8.1.10",
			"secondary_private_ips": []any{"10.8.1.11", "10.8.2.12"}, "ipv6_addresses": []any{},
			"vpc_security_group_ids": []any{"sg-0e0e0e0e0e0e0e0e1"}, "source_dest_check": false,
			"primary_network_interface_id": "eni-0e0e0e0e0e0e0e0e1",
			"metadata_options":             []any{obj{"http_endpoint": "disabled", "http_tokens": "required"}},
			"tags":                         obj{"Name": "  --edge node"}},
		"aws_instance.lost", obj{"id": "i-0e0e0e0e0e0e0e0e2", "subnet_id": "subnet-0e0e0e0e0e0e0e0a3", "private_ip": "10.9.1.10",
			"vpc_security_group_ids": []any{"sg-0e0e0e0e0e0e0e0e1"}, "primary_network_interface_id": "eni-0e0e0e0e0e0e0e0e2",
			"tags": obj{"Name": "ünïcode"}},
		"aws_network_interface.prefixes", obj{"id": "eni-0e0e0e0e0e0e0e0e3", "subnet_id": "subnet-0e0e0e0e0e0e0e0a2",
			"private_ip": "10.8.2.10", "private_ips": []any{"10.8.2.10"}, "ipv4_prefixes": []any{"10.8.2.64/28"},
			"security_groups": []any{"sg-0e0e0e0e0e0e0e0e1"}, "source_dest_check": true,
			"attachment": []any{obj{"instance": "i-0e0e0e0e0e0e0e0e1", "device_index": 1}}},
	)
}

// TestEdgeCases checks how the awkward cases of edgeState are imported and
// reported, and that the lab loads.
func TestEdgeCases(t *testing.T) {
	l, rep, err := Parse("edge.json", edgeState(t))
	if err != nil {
		t.Fatal(err)
	}
	const sgA = "sg-0e0e0e0e0e0e0e0e1"
	// No ARN: the region comes from the first subnet's zone; the account
	// from owner_id.
	// The IPv6 block comes from an aws_vpc_ipv6_cidr_block_association.
	if l.VPC.Region != "ap-southeast-2" || l.VPC.AccountID != "444455556666" || l.VPC.IPv6CIDR != pfx("2600:1f18:ee:ee00::/56") {
		t.Errorf("VPC %s", js(l.VPC))
	}
	compareLab(t, &lab.Lab{File: l.File, VPC: l.VPC, Quotas: l.Quotas, Settings: l.Settings,
		Subnets: l.Subnets, NetworkACLs: l.NetworkACLs, SecurityGroups: l.SecurityGroups, Instances: l.Instances},
		&lab.Lab{
			File: "edge.json", VPC: l.VPC, Quotas: lab.DefaultQuotas(), Settings: lab.DefaultSettings(),
			Subnets: []*lab.Subnet{
				// Both use the main table, whose route to the internet
				// gateway, though partial, makes them public.
				{ID: "subnet-0e0e0e0e0e0e0e0a1", CIDR: pfx("10.8.1.0/24"), NetworkACL: "acl-0e0e0e0e0e0e0e0e1",
					Public: true, AvailabilityZone: "ap-southeast-2b", AZID: "apse2-az1"},
				// A Local Zone: left for the lab's default.
				{ID: "subnet-0e0e0e0e0e0e0e0a2", CIDR: pfx("10.8.2.0/24"), NetworkACL: nacl.DefaultACLID, Public: true},
			},
			NetworkACLs: []*nacl.ACL{
				defaultACL(true),
				// Rule 100 as the ACL holds it; the standalone deny that
				// conflicts is reported. No implicit deny.
				{ID: "acl-0e0e0e0e0e0e0e0e1", Ingress: []nacl.Entry{
					ent(100, true, tcpT(443, 443), "0.0.0.0/0"),
					ent(110, true, anyTraffic(50), "192.0.2.0/24"),
				}, Egress: []nacl.Entry{}},
			},
			SecurityGroups: []*sg.Group{
				defaultGroup(true),
				{ID: sgA, Description: "edge",
					Ingress: []sg.Rule{
						sgr(tcpT(80, 80), "10.8.0.0/16"),
						sgr(anyTraffic(50), "192.0.2.0/24"),
						sgr(icmp6T(128, 0), "2001:db8::/32"),
						// Any type means any code.
						sgr(icmpT(-1, -1), "10.8.0.0/16"),
						sgr(tcpT(8080, 8080), "10.8.1.0/24", "id=sgr-0e0e0e0e0e0e0e0e1"),
						sgr(tcpT(8081, 8081), "10.8.1.0/24"),
						// Null ports: all.
						sgr(udpT(0, 65535), "10.8.1.0/24"),
					},
					Egress: []sg.Rule{sgr(allT, "0.0.0.0/0")}},
			},
			Instances: []*lab.Instance{{
				Name: "edge-node", ConntrackAllowance: lab.DefaultSettings().DefaultAllowance, IMDS: lab.IMDSv2Only,
				Interfaces: []*lab.Interface{
					{ID: "eni-0e0e0e0e0e0e0e0e1", Instance: "edge-node", Subnet: "subnet-0e0e0e0e0e0e0e0a1",
						IP: addrs("10.8.1.10")[0], SecondaryIPs: addrs("10.8.1.11"), SecurityGroups: []string{sgA},
						Conntrack: lab.DefaultConntrackTimeouts()},
					iface("eni-0e0e0e0e0e0e0e0e3", "edge-node", "subnet-0e0e0e0e0e0e0e0a2", "10.8.2.10", sgA),
				},
			}},
		})
	compareItems(t, "unsupported", rep.Unsupported, []item{
		{"aws_instance.a", "metadata_options[0].http_endpoint", "the instance metadata service is disabled"},
		{"aws_instance.a", "secondary_private_ips[1]", "10.8.2.12 is outside subnet subnet-0e0e0e0e0e0e0e0a1's 10.8.1.0/24"},
		{"aws_instance.lost", "", "its primary network interface is not imported"},
		{"aws_instance.lost", "subnet_id", "subnet subnet-0e0e0e0e0e0e0e0a3 is not imported"},
		{"aws_network_acl_rule.conflict", "", "ingress rule 100 of acl-0e0e0e0e0e0e0e0e1 differs from the one aws_network_acl.a gives"},
		{"aws_network_interface.prefixes", "ipv4_prefixes", "prefix delegation (10.8.2.64/28)"},
		{"aws_route_table.main", "route[0]", "the route to 203.0.113.0/24 through " + edgeIGW + " covers part of the internet"},
		{"aws_security_group.a", "ingress[0].new_key", "unknown attribute"},
		{"aws_security_group.a", "ingress[4]", "a rule without a peer"},
		{"aws_subnet.lz", "availability_zone", "ap-southeast-2-per-1a is not one of ap-southeast-2's own zones"},
		{"aws_subnet.lz", "availability_zone_id", "apse2-per1-az1 is not a zone id"},
		{"aws_subnet.secondary", "cidr_block", "10.9.1.0/24 is outside the VPC's 10.8.0.0/16"},
		{"aws_subnet.v6only", "", "IPv6-only subnet"},
		{"aws_vpc.edge", "", "the VPC's default network ACL is not in the state"},
		{"aws_vpc_ipv4_cidr_block_association.more", "cidr_block", "secondary IPv4 block 10.9.0.0/16"},
		{"aws_vpc_security_group_ingress_rule.bad_id", "security_group_rule_id", `"rule-1" is not a security group rule id`},
		{"aws_vpc_security_group_ingress_rule.same_id", "security_group_rule_id", "rule id sgr-0e0e0e0e0e0e0e0e1 is given by aws_vpc_security_group_ingress_rule.first too"},
	})
	compareItems(t, "not modelled", rep.NotModelled, []item{
		{"aws_route_table.main", "", "routes propagated from vgw-0e0e0e0e0e0e0e0e1"},
		{"aws_route_table.main", "", "route (route[1]) to 172.31.0.0/16 through vgw-0e0e0e0e0e0e0e0e1, a virtual private gateway"},
		{"aws_route_table.main", "", "route (route[2]) to pl-0e0e0e0e0e0e0e0e1 through tgw-0e0e0e0e0e0e0e0e1, a transit gateway"},
		{"aws_route_table_association.edge", "", "associated with gateway " + edgeIGW + " (ingress routing)"},
	})
	roundTrip(t, l)
}

// TestPublicByMainTable checks that a subnet without a route table
// association takes the VPC's main table, as aws_main_route_table_association
// sets it, and is public when that table routes to an internet gateway.
func TestPublicByMainTable(t *testing.T) {
	data := stateJSON(t,
		"aws_vpc.v", obj{"id": edgeVPC, "cidr_block": "10.8.0.0/16", "main_route_table_id": "rtb-0e0e0e0e0e0e0e0e0",
			"arn": "arn:aws:ec2:us-west-2:444455556666:vpc/" + edgeVPC},
		"aws_subnet.a", obj{"id": "subnet-0e0e0e0e0e0e0e0a1", "vpc_id": edgeVPC, "cidr_block": "10.8.1.0/24"},
		"aws_subnet.b", obj{"id": "subnet-0e0e0e0e0e0e0e0a2", "vpc_id": edgeVPC, "cidr_block": "10.8.2.0/24"},
		"aws_route_table.public", obj{"id": "rtb-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC,
			"route": []any{obj{"ipv6_cidr_block": "::/0", "gateway_id": edgeIGW}}},
		"aws_route_table.private", obj{"id": "rtb-0e0e0e0e0e0e0e0e2", "vpc_id": edgeVPC, "route": []any{}},
		"aws_main_route_table_association.m", obj{"vpc_id": edgeVPC, "route_table_id": "rtb-0e0e0e0e0e0e0e0e1"},
		"aws_route_table_association.b", obj{"subnet_id": "subnet-0e0e0e0e0e0e0e0a2", "route_table_id": "rtb-0e0e0e0e0e0e0e0e2"},
		"aws_route.igw4", obj{"route_table_id": "rtb-0e0e0e0e0e0e0e0e1", "destination_cidr_block": "0.0.0.0/0", "gateway_id": edgeIGW},
	)
	l, rep, err := Parse("main.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := l.Subnet("subnet-0e0e0e0e0e0e0e0a1"), l.Subnet("subnet-0e0e0e0e0e0e0e0a2"); !a.Public || b.Public {
		t.Errorf("public: a %v (main table, to the internet gateway), b %v (own table, local only)", a.Public, b.Public)
	}
	compareItems(t, "unsupported", rep.Unsupported, []item{
		{"aws_vpc.v", "", "the VPC's default network ACL is not in the state"},
	})
	compareItems(t, "not modelled", rep.NotModelled, nil)
	if l.VPC.Region != "us-west-2" {
		t.Errorf("region %q, want the ARN's, us-west-2", l.VPC.Region)
	}
}

// TestQuotas checks that the quotas are raised to what the state needs,
// counted as labfile.Parse counts them: each to exactly the need, so that the
// lab loads with them and not with one less.
func TestQuotas(t *testing.T) {
	cidrs := func(n int, format string) []any {
		out := make([]any, n)
		for i := range out {
			out[i] = fmt.Sprintf(format, i/256, i%256)
		}
		return out
	}
	resources := []any{
		"aws_vpc.q", obj{"id": edgeVPC, "cidr_block": "10.8.0.0/16"},
		"aws_subnet.q", obj{"id": "subnet-0e0e0e0e0e0e0e0a1", "vpc_id": edgeVPC, "cidr_block": "10.8.1.0/24"},
		// A prefix list of IPv6 blocks with room for 300 entries: a rule
		// naming it counts 300 IPv6 rules.
		"aws_ec2_managed_prefix_list.wide", obj{"id": "pl-0e0e0e0e0e0e0e0e1", "max_entries": 300,
			"entry": []any{obj{"cidr": "2001:db8::/48"}, obj{"cidr": "2001:db8:1::/48"}}},
		"aws_security_group.wide", obj{"id": "sg-0e0e0e0e0e0e0e0f1", "vpc_id": edgeVPC, "egress": []any{},
			"ingress": []any{sgBlock("tcp", 443, 443, obj{"prefix_list_ids": []any{"pl-0e0e0e0e0e0e0e0e1"}})}},
	}
	var aclEntries []any
	for i := range 25 {
		aclEntries = append(aclEntries, aclBlock(100+i, "allow", "6", 443, 443, fmt.Sprintf("10.%d.0.0/16", i)))
	}
	resources = append(resources, "aws_network_acl.q", obj{"id": "acl-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC,
		"subnet_ids": []any{"subnet-0e0e0e0e0e0e0e0a1"}, "ingress": aclEntries, "egress": []any{}})
	var groups []any
	for g := range 7 {
		id := fmt.Sprintf("sg-0e0e0e0e0e0e0e0e%d", g)
		groups = append(groups, id)
		resources = append(resources, fmt.Sprintf("aws_security_group.g%d", g), obj{"id": id, "vpc_id": edgeVPC,
			"egress": []any{}, "ingress": []any{sgBlock("tcp", 80+g, 80+g, obj{"cidr_blocks": cidrs(150, "10.%d.%d.0/24")})}})
	}
	resources = append(resources,
		"aws_instance.many", obj{"id": "i-0e0e0e0e0e0e0e0e1", "subnet_id": "subnet-0e0e0e0e0e0e0e0a1", "private_ip": "10.8.1.10",
			"vpc_security_group_ids": groups, "primary_network_interface_id": "eni-0e0e0e0e0e0e0e0e1"},
		"aws_instance.wide", obj{"id": "i-0e0e0e0e0e0e0e0e2", "subnet_id": "subnet-0e0e0e0e0e0e0e0a1", "private_ip": "10.8.1.11",
			"vpc_security_group_ids": []any{"sg-0e0e0e0e0e0e0e0f1"}, "primary_network_interface_id": "eni-0e0e0e0e0e0e0e0e2"})
	l, _, err := Parse("quotas.json", stateJSON(t, resources...))
	if err != nil {
		t.Fatal(err)
	}
	want := lab.Quotas{NACLEntries: 25, SGRules: 300, SGsPerENI: 7, RulesTimesSGs: 7 * 150, SGsPerVPC: 2500}
	if l.Quotas != want {
		t.Fatalf("quotas %+v, want %+v", l.Quotas, want)
	}
	roundTrip(t, l)
	for _, lower := range []func(q *lab.Quotas){
		func(q *lab.Quotas) { q.NACLEntries-- },
		func(q *lab.Quotas) { q.SGRules-- },
		func(q *lab.Quotas) { q.SGsPerENI-- },
		func(q *lab.Quotas) { q.RulesTimesSGs-- },
	} {
		q := l.Quotas
		lower(&q)
		tight := *l
		tight.Quotas = q
		data, err := labfile.Marshal(&tight)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := labfile.Parse("tight.yaml", data); err == nil {
			t.Errorf("quotas %+v, one below what the importer set, load: the importer raised one too far", q)
		}
	}

	// A small lab keeps AWS's defaults.
	l, _, err = Import("testdata/defaults.json")
	if err != nil {
		t.Fatal(err)
	}
	if l.Quotas != lab.DefaultQuotas() {
		t.Errorf("quotas %+v, want the defaults", l.Quotas)
	}
}

// TestErrors checks that malformed documents are refused with errors that
// name the file, the resource and the attribute.
func TestErrors(t *testing.T) {
	vpc := obj{"id": edgeVPC, "cidr_block": "10.8.0.0/16"}
	group := func(ingress ...any) []byte {
		return stateJSON(t, "aws_vpc.v", vpc, "aws_security_group.web",
			obj{"id": "sg-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC, "ingress": ingress, "egress": []any{}})
	}
	acl := func(ingress ...any) []byte {
		return stateJSON(t, "aws_vpc.v", vpc, "aws_network_acl.a",
			obj{"id": "acl-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC, "ingress": ingress, "egress": []any{}})
	}
	both := aclBlock(100, "allow", "-1", 0, 0, "10.0.0.0/8")
	both["ipv6_cidr_block"] = "::/0"
	for _, tc := range []struct {
		name string
		data []byte
		want []string
	}{
		{"syntax", []byte("{\n  \"format_version\": \"1.0\",\n  \"values\": {,}\n}"), []string{"s.json:3:14: not valid JSON"}},
		{"not an object", []byte(`[1]`), []string{"s.json:1:1: want a JSON object"}},
		{"raw state", []byte(`{"version": 4, "terraform_version": "1.9.5", "serial": 3, "resources": []}`), []string{"raw state file"}},
		{"plan", []byte(`{"format_version": "1.2", "planned_values": {}, "resource_changes": []}`), []string{"this is a plan"}},
		{"describe output", []byte(`{"SecurityGroups": []}`), []string{"no format_version"}},
		{"format 2", []byte(`{"format_version": "2.0", "values": {"root_module": {}}}`), []string{`format_version "2.0"`}},
		{"empty state", []byte(`{"format_version": "1.0", "terraform_version": "1.9.5"}`), []string{"the state holds no resources"}},
		{"no VPC", stateJSON(t, "aws_subnet.a", obj{"id": "subnet-1"}), []string{"the state holds no aws_vpc"}},
		{"wrong type", []byte(`{"format_version": "1.0", "values": {"root_module": {"resources": {}}}}`),
			[]string{"s.json:1:", "values.root_module.resources: want a list, not a JSON object"}},
		{"quota", acl(func() []any {
			var entries []any
			for i := range 41 {
				entries = append(entries, aclBlock(100+i, "allow", "-1", 0, 0, "10.0.0.0/8"))
			}
			return entries
		}()...), []string{"s.json: the state needs 41 network ACL entries per direction and family: a lab allows at most 40"}},
		{"bad mode", []byte(`{"format_version": "1.0", "values": {"root_module": {"resources": [{"address": "x.y", "type": "x", "mode": "odd"}]}}}`), []string{`x.y: mode "odd"`}},
		{"no address", []byte(`{"format_version": "1.0", "values": {"root_module": {"resources": [{"type": "aws_vpc"}]}}}`), []string{"values.root_module.resources[0]: a resource needs an address"}},
		{"IPv6 VPC block", stateJSON(t, "aws_vpc.v", obj{"id": edgeVPC, "cidr_block": "2001:db8::/56"}), []string{"aws_vpc.v: cidr_block: 2001:db8::/56 is not an IPv4 block"}},
		{"bad CIDR", group(sgBlock("tcp", 80, 80, obj{"cidr_blocks": []any{"10.0.0.0/8", "10.0.0.0/33"}})),
			[]string{`s.json: aws_security_group.web: ingress[0].cidr_blocks[1]: "10.0.0.0/33" is not a CIDR`}},
		{"IPv6 in cidr_blocks", group(sgBlock("tcp", 80, 80, obj{"cidr_blocks": []any{"::/0"}})),
			[]string{"ingress[0].cidr_blocks[0]: ::/0 is not an IPv4 block"}},
		{"port as text", group(sgBlock("tcp", 80, 80, obj{"from_port": "eighty", "cidr_blocks": []any{"10.0.0.0/8"}})),
			[]string{`ingress[0].from_port: want an integer, not "eighty"`}},
		{"bad protocol", group(sgBlock("tcpx", 80, 80, obj{"cidr_blocks": []any{"10.0.0.0/8"}})),
			[]string{`ingress[0].protocol: "tcpx" is not a protocol`}},
		{"empty port range", group(sgBlock("tcp", 100, 50, obj{"cidr_blocks": []any{"10.0.0.0/8"}})),
			[]string{"ingress[0].from_port: the range 100-50 is empty"}},
		{"ICMP type", group(sgBlock("icmp", 300, 0, obj{"cidr_blocks": []any{"10.0.0.0/8"}})),
			[]string{"ingress[0].from_port: ICMP type 300 is out of range"}},
		{"several", group(
			sgBlock("tcp", 80, 80, obj{"cidr_blocks": []any{"nope"}}),
			sgBlock("udp", 53, 53, obj{"security_groups": "sg-1"})),
			[]string{`ingress[0].cidr_blocks[0]: "nope" is not a CIDR`, "ingress[1].security_groups: want a list of strings, not \"sg-1\""}},
		{"two peers", stateJSON(t, "aws_vpc.v", vpc,
			"aws_security_group.web", obj{"id": "sg-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC},
			"aws_vpc_security_group_ingress_rule.r", obj{"security_group_id": "sg-0e0e0e0e0e0e0e0e1", "ip_protocol": "tcp",
				"from_port": 80, "to_port": 80, "cidr_ipv4": "10.0.0.0/8", "referenced_security_group_id": "sg-0e0e0e0e0e0e0e0e1"}),
			[]string{"aws_vpc_security_group_ingress_rule.r: cidr_ipv4 and referenced_security_group_id: a rule has exactly one peer"}},
		{"rule type", stateJSON(t, "aws_vpc.v", vpc,
			"aws_security_group.web", obj{"id": "sg-0e0e0e0e0e0e0e0e1", "vpc_id": edgeVPC},
			"aws_security_group_rule.r", obj{"type": "inbound", "security_group_id": "sg-0e0e0e0e0e0e0e0e1"}),
			[]string{`aws_security_group_rule.r: type: "inbound": want ingress or egress`}},
		{"ACL entry with two CIDRs", acl(both), []string{"aws_network_acl.a: ingress[0]: an entry has one CIDR"}},
		{"ACL action", acl(aclBlock(100, "permit", "-1", 0, 0, "10.0.0.0/8")), []string{`ingress[0].action: action "permit": want allow or deny`}},
		{"ACL rule number", acl(aclBlock(40000, "allow", "-1", 0, 0, "10.0.0.0/8")), []string{"ingress[0].rule_no: rule number 40000 is out of range 1-32766"}},
		{"ACL without CIDR", acl(aclBlock(100, "allow", "-1", 0, 0, "")), []string{"ingress[0]: an entry needs a CIDR"}},
		{"bad id", stateJSON(t, "aws_vpc.v", vpc, "aws_subnet.s", obj{"id": "subnet 1", "vpc_id": edgeVPC, "cidr_block": "10.8.1.0/24"}),
			[]string{`aws_subnet.s: id: "subnet 1" is not an id a lab accepts`}},
		{"bad address", stateJSON(t, "aws_vpc.v", vpc,
			"aws_subnet.s", obj{"id": "subnet-1", "vpc_id": edgeVPC, "cidr_block": "10.8.1.0/24"},
			"aws_instance.i", obj{"id": "i-1", "subnet_id": "subnet-1", "private_ip": "10.8.1.300", "primary_network_interface_id": "eni-1"}),
			[]string{`aws_instance.i: private_ip: "10.8.1.300" is not an IP address`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, rep, err := Parse("s.json", tc.data)
			if err == nil {
				t.Fatalf("no error; lab %v, report %v", l != nil, rep)
			}
			if l != nil || rep != nil {
				t.Errorf("a lab or a report with an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
	if _, _, err := Import("testdata/no-such-file.json"); !os.IsNotExist(err) {
		t.Errorf("Import of a missing file: %v", err)
	}
}

// TestIsState checks the sniff on state documents and on what is not one.
func TestIsState(t *testing.T) {
	for _, file := range []string{"testdata/webapp.json", "testdata/two-vpcs.json", "testdata/existing-vpc.json", "testdata/defaults.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !IsState(data) {
			t.Errorf("IsState(%s) = false", file)
		}
	}
	for _, text := range []string{
		`{"format_version": "1.0"}`,
		`{"format_version": "1.0", "terraform_version": "1.9.5", "values": {"root_module": {}}}`,
	} {
		if !IsState([]byte(text)) {
			t.Errorf("IsState(%s) = false", text)
		}
	}
	for _, text := range []string{
		``, `{`, `[]`, `"1.0"`, `{}`,
		`{"format_version": ""}`,
		`{"format_version": 1}`,
		`{"format_version": "1.2", "planned_values": {}, "prior_state": {}}`,
		`{"version": 4, "terraform_version": "1.9.5", "resources": []}`,
		`{"SecurityGroups": [], "Vpcs": []}`,
		"vpc: {id: vpc-1, cidr: 10.0.0.0/16}\n",
	} {
		if IsState([]byte(text)) {
			t.Errorf("IsState(%q) = true", text)
		}
	}
}

// TestInstanceNames checks how Name tags become lab names.
func TestInstanceNames(t *testing.T) {
	for _, tc := range []struct{ tag, want string }{
		{"web", "web"},
		{"web server #1", "web-server-1"},
		{"  --edge node", "edge-node"},
		{"batch/worker:1", "batch-worker-1"},
		{"ünïcode", "n-code"},
		{"a.b_c-d", "a.b_c-d"},
		{"!!!", ""},
		{"x" + strings.Repeat("y", 70), "x" + strings.Repeat("y", 63)},
		{"trailing ", "trailing"},
	} {
		if got := sanitizeName(tc.tag); got != tc.want {
			t.Errorf("sanitizeName(%q) = %q, want %q", tc.tag, got, tc.want)
		}
	}
	long := strings.Repeat("n", 64)
	data := stateJSON(t,
		"aws_vpc.v", obj{"id": edgeVPC, "cidr_block": "10.8.0.0/16"},
		"aws_subnet.s", obj{"id": "subnet-1", "vpc_id": edgeVPC, "cidr_block": "10.8.1.0/24"},
		"aws_instance.a", obj{"id": "i-0000000000000000a", "subnet_id": "subnet-1", "private_ip": "10.8.1.10", "tags": obj{"Name": long}},
		"aws_instance.b", obj{"id": "i-0000000000000000b", "subnet_id": "subnet-1", "private_ip": "10.8.1.11", "tags": obj{"Name": long}},
		"aws_instance.c", obj{"id": "i-0000000000000000c", "subnet_id": "subnet-1", "private_ip": "10.8.1.12", "tags": obj{"Name": "???"}},
		"aws_instance.d", obj{"id": "i-0000000000000000d", "subnet_id": "subnet-1", "private_ip": "10.8.1.13", "tags_all": obj{"Name": "from-default-tags"}},
	)
	l, _, err := Parse("names.json", data)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range l.Instances {
		got = append(got, in.Name)
	}
	want := []string{long, strings.Repeat("n", 64-20) + "-i-0000000000000000b", "i-0000000000000000c", "from-default-tags"}
	if js(got) != js(want) {
		t.Errorf("names %v\nwant %v", got, want)
	}
	// Without primary_network_interface_id, the interface is named after
	// the instance.
	if id := l.Instances[0].Interfaces[0].ID; id != "eni-i-0000000000000000a" {
		t.Errorf("interface id %q", id)
	}
	roundTrip(t, l)
}

// TestNestedModules checks that resources of modules nested in modules
// are read, with their full addresses.
func TestNestedModules(t *testing.T) {
	data := []byte(`{"format_version": "1.0", "terraform_version": "1.9.5", "values": {"root_module": {
	  "child_modules": [{"address": "module.net", "resources": [
	      {"address": "module.net.aws_vpc.v", "mode": "managed", "type": "aws_vpc", "name": "v",
	       "values": {"id": "vpc-0e0e0e0e0e0e0e0e1", "cidr_block": "10.8.0.0/16"}}],
	    "child_modules": [{"address": "module.net.module.subnets", "resources": [
	      {"address": "module.net.module.subnets.aws_subnet.s[0]", "mode": "managed", "type": "aws_subnet", "name": "s", "index": 0,
	       "values": {"id": "subnet-1", "vpc_id": "vpc-0e0e0e0e0e0e0e0e1", "cidr_block": "10.8.1.0/24"}},
	      {"address": "module.net.module.subnets.aws_eip.e", "mode": "managed", "type": "aws_eip", "name": "e",
	       "values": {"id": "eipalloc-1"}}]}]}]}}}`)
	l, rep, err := Parse("nested.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Subnets) != 1 || l.Subnets[0].ID != "subnet-1" {
		t.Errorf("subnets %s", js(l.Subnets))
	}
	compareItems(t, "not modelled", rep.NotModelled, []item{{"module.net.module.subnets.aws_eip.e", "", "an Elastic IP address"}})
}
