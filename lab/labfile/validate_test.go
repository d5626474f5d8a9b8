package labfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
)

// base is the start of most test labs: a VPC with IPv6, subnet-a with IPv6
// and subnet-b without. Cases append from line 5; an appended "  - {…}"
// line adds a subnet.
const base = `vpc: {id: vpc-t, cidr: 10.0.0.0/16, ipv6_cidr: "2600:1f18:aa:bb00::/56"}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:aa:bb01::/64"}
  - {id: subnet-b, cidr: 10.0.2.0/24}
`

// Headers for cases about one section; each ends where the case's line
// begins.
const (
	aclIngress = base + "network_acls:\n  - id: acl-a\n    ingress:\n"                                      // entries from line 8
	sgIngress  = base + "security_groups:\n  - id: sg-a\n    ingress:\n"                                    // rules from line 8
	prefixes   = base + "prefix_lists:\n"                                                                   // lists from line 6
	instances  = base + "instances:\n"                                                                      // instances from line 6
	hosts      = base + "instances:\n  - {name: i1, subnet: subnet-a, ip: 10.0.1.10}\ninternet:\n  hosts: " // hosts on line 8
)

// errorCase is a lab with exactly one error.
type errorCase struct {
	name  string
	src   string
	line  int
	field string
	msg   string // a part of the message
}

var errorCases = []errorCase{
	// The file as a whole.
	{"empty file", "", 0, "", "the file is empty"},
	{"only a comment", "# nothing\n", 0, "", "the file is empty"},
	{"null document", "---\n", 2, "", "the file is empty"},
	{"yaml syntax", base + "subnets: [\n", 5, "", "invalid YAML"},
	{"alias", base + "security_groups:\n  - &g {id: sg-a}\n  - *g\n", 7, "", "YAML aliases (*g) are not supported"},
	{"two documents", base + "---\nvpc: {}\n", 5, "", "a lab file holds one document"},
	{"not a mapping", "- vpc\n", 1, "", "want a lab (a mapping with keys vpc, subnets"},
	{"unknown top-level key", base + "instance: []\n", 5, "instance", "unknown key: the keys of a lab are vpc, subnets, network_acls"},
	{"unknown key", base + "  - {id: subnet-c, cidr: 10.0.3.0/24, acl: acl-a}\n", 5, "subnets[subnet-c].acl",
		"unknown key: the keys of a subnet are id, cidr, ipv6_cidr, network_acl, public"},
	{"key given twice", base + "internet: {hosts: [198.51.100.1], hosts: []}\n", 5, "internet.hosts", "given twice (first at line 5)"},
	{"list expected", base + "security_groups: {id: sg-a}\n", 5, "security_groups", "want a list, not a mapping"},
	{"mapping expected", base + "security_groups: [sg-a]\n", 5, "security_groups[0]", "want a security group (a mapping with keys id, description, ingress, egress), not a single value"},
	{"null list", base + "security_groups:\n  - id: sg-a\n    egress: ~\n", 7, "security_groups[sg-a].egress", "has no value: write [] for an empty list"},
	{"null value", base + "  - {id: subnet-c, cidr: }\n", 5, "subnets[subnet-c].cidr", "has no value: want a CIDR"},
	{"not a boolean", base + "  - {id: subnet-c, cidr: 10.0.3.0/24, public: yes}\n", 5, "subnets[subnet-c].public", `"yes" is not a boolean: use true or false`},

	// The VPC.
	{"no vpc", "subnets: []\n", 1, "vpc", "missing: a lab needs a vpc"},
	{"vpc without id", "vpc: {cidr: 10.0.0.0/16}\n", 1, "vpc.id", "missing: the VPC needs an id"},
	{"vpc id with a space", "vpc: {id: vpc lab, cidr: 10.0.0.0/16}\n", 1, "vpc.id", `"vpc lab" is not a valid id: use 1-64 letters, digits`},
	{"vpc without cidr", "vpc: {id: vpc-t}\n", 1, "vpc.cidr", "missing: the VPC needs an IPv4 block"},
	{"vpc cidr is an address", "vpc: {id: vpc-t, cidr: 10.0.0.0}\n", 1, "vpc.cidr", `"10.0.0.0" is an address, not a CIDR: write a block such as 10.0.0.0/32`},
	{"vpc cidr is not a cidr", "vpc: {id: vpc-t, cidr: ten}\n", 1, "vpc.cidr", `"ten" is not a CIDR`},
	{"vpc cidr too large", "vpc: {id: vpc-t, cidr: 10.0.0.0/8}\n", 1, "vpc.cidr", "10.0.0.0/8 is a /8: a VPC's IPv4 block is /16 to /28"},
	{"vpc cidr too small", "vpc: {id: vpc-t, cidr: 10.0.0.0/29}\n", 1, "vpc.cidr", "is a /29: a VPC's IPv4 block is /16 to /28"},
	{"vpc cidr is IPv6", "vpc: {id: vpc-t, cidr: \"2600::/56\"}\n", 1, "vpc.cidr", "2600::/56 is IPv6: cidr is the VPC's IPv4 block"},
	{"vpc cidr link-local", "vpc: {id: vpc-t, cidr: 169.254.0.0/16}\n", 1, "vpc.cidr", "overlaps 169.254.0.0/16 (link-local"},
	{"vpc cidr 4in6", "vpc: {id: vpc-t, cidr: \"::ffff:10.0.0.0/112\"}\n", 1, "vpc.cidr", "IPv4-mapped"},
	{"vpc ipv6 too large", "vpc: {id: vpc-t, cidr: 10.0.0.0/16, ipv6_cidr: \"2600::/32\"}\n", 1, "vpc.ipv6_cidr", "is a /32: a VPC's IPv6 block is /44 to /64"},
	{"vpc ipv6 is IPv4", "vpc: {id: vpc-t, cidr: 10.0.0.0/16, ipv6_cidr: 10.1.0.0/16}\n", 1, "vpc.ipv6_cidr", "10.1.0.0/16 is IPv4"},
	{"vpc ipv6 services", "vpc: {id: vpc-t, cidr: 10.0.0.0/16, ipv6_cidr: \"fd00:ec2::/56\"}\n", 1, "vpc.ipv6_cidr", "overlaps fd00:ec2::/64"},

	// Subnets.
	{"subnet outside the vpc", base + "  - {id: subnet-c, cidr: 10.1.0.0/24}\n", 5, "subnets[subnet-c].cidr", "10.1.0.0/24 is outside the VPC's 10.0.0.0/16"},
	{"subnet too small", base + "  - {id: subnet-c, cidr: 10.0.3.0/29}\n", 5, "subnets[subnet-c].cidr", "is a /29: a subnet's IPv4 block is /16 to /28"},
	{"subnet cidr is IPv6", base + "  - {id: subnet-c, cidr: \"2600:1f18:aa:bb03::/64\"}\n", 5, "subnets[subnet-c].cidr", "is IPv6: cidr is the subnet's IPv4 block"},
	{"subnets overlap", base + "  - {id: subnet-c, cidr: 10.0.1.128/25}\n", 5, "subnets[subnet-c].cidr", "10.0.1.128/25 overlaps 10.0.1.0/24 of subnet-a (line 3)"},
	{"subnet ipv6 not a /64", base + "  - {id: subnet-c, cidr: 10.0.3.0/24, ipv6_cidr: \"2600:1f18:aa:bb03::/60\"}\n", 5, "subnets[subnet-c].ipv6_cidr", "a subnet's IPv6 block is a /64"},
	{"subnet ipv6 is IPv4", base + "  - {id: subnet-c, cidr: 10.0.3.0/24, ipv6_cidr: 10.0.4.0/24}\n", 5, "subnets[subnet-c].ipv6_cidr", "is IPv4: ipv6_cidr is the subnet's IPv6 /64"},
	{"subnet ipv6 outside the vpc", base + "  - {id: subnet-c, cidr: 10.0.3.0/24, ipv6_cidr: \"2600:1f18:aa:cc00::/64\"}\n", 5, "subnets[subnet-c].ipv6_cidr", "is outside the VPC's 2600:1f18:aa:bb00::/56"},
	{"subnets overlap in ipv6", base + "  - {id: subnet-c, cidr: 10.0.3.0/24, ipv6_cidr: \"2600:1f18:aa:bb01::/64\"}\n", 5, "subnets[subnet-c].ipv6_cidr", "overlaps 2600:1f18:aa:bb01::/64 of subnet-a"},
	{"subnet ipv6 without vpc ipv6", "vpc: {id: vpc-t, cidr: 10.0.0.0/16}\nsubnets:\n  - {id: subnet-a, cidr: 10.0.1.0/24, ipv6_cidr: \"2600::/64\"}\n", 3, "subnets[subnet-a].ipv6_cidr", "the VPC has no IPv6 block"},
	{"subnet without id", base + "  - {cidr: 10.0.3.0/24}\n", 5, "subnets[2].id", "missing: a subnet needs an id"},
	{"subnet without cidr", base + "  - {id: subnet-c}\n", 5, "subnets[subnet-c].cidr", "missing: a subnet needs an IPv4 block"},
	{"subnet id twice", base + "  - {id: subnet-a, cidr: 10.0.3.0/24}\n", 5, "subnets[subnet-a].id", "subnet-a is defined twice (first at line 3)"},
	{"unknown network acl", base + "  - {id: subnet-c, cidr: 10.0.3.0/24, network_acl: acl-x}\n", 5, "subnets[subnet-c].network_acl", `no network ACL "acl-x": the lab defines default`},

	// Network ACL entries.
	{"rule 0", aclIngress + "      - {rule: 0, action: allow, protocol: all, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[0].rule", `"0" is not a rule number: use a whole number from 1 to 32766`},
	{"rule 32767", aclIngress + "      - {rule: 32767, action: deny, protocol: all, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[0].rule", "rule 32767 is the implicit deny (*) that ends every network ACL and cannot be written: use 1-32766"},
	{"rule 32768", aclIngress + "      - {rule: 32768, action: deny, protocol: all, cidr: \"::/0\"}\n", 8, "network_acls[acl-a].ingress[0].rule", "rule 32768 is the implicit deny"},
	{"rule number twice", aclIngress + "      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}\n      - {rule: 100, action: deny, protocol: all, cidr: \"::/0\"}\n",
		9, "network_acls[acl-a].ingress[rule 100].rule", "rule 100 is already used at line 8: numbers are unique per direction"},
	{"bad action", aclIngress + "      - {rule: 100, action: permit, protocol: all, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[rule 100].action", `"permit" is not an action: use allow or deny`},
	{"entry without cidr", aclIngress + "      - {rule: 100, action: allow, protocol: all}\n", 8, "network_acls[acl-a].ingress[rule 100].cidr", "missing: an entry needs a CIDR"},
	{"entry without action", aclIngress + "      - {rule: 100, protocol: all, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[rule 100].action", "missing: use allow or deny"},
	{"acl id twice", base + "network_acls:\n  - {id: acl-a}\n  - {id: acl-a}\n", 7, "network_acls[acl-a].id", "acl-a is defined twice (first at line 6)"},
	{"acl entries over quota", base + "quotas: {nacl_entries: 2}\nnetwork_acls:\n  - id: acl-a\n    egress:\n" +
		"      - {rule: 1, action: allow, protocol: all, cidr: 10.0.0.0/8}\n" +
		"      - {rule: 2, action: allow, protocol: all, cidr: \"::/0\"}\n" +
		"      - {rule: 3, action: allow, protocol: all, cidr: 0.0.0.0/0}\n" +
		"      - {rule: 4, action: deny, protocol: all, cidr: 0.0.0.0/0}\n",
		12, "network_acls[acl-a].egress[rule 4]", "3 IPv4 entries in egress: the quota is 2 per direction and family (quotas.nacl_entries; AWS allows up to 40)"},

	// Protocols, ports and ICMP, in entries and rules alike.
	{"unknown protocol", aclIngress + "      - {rule: 1, action: allow, protocol: tcpx, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[rule 1].protocol",
		`"tcpx" is not a protocol: use tcp, udp, icmp, icmpv6, all (or -1), or an IANA protocol number 0-255`},
	{"protocol 256", sgIngress + "      - {protocol: 256, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].protocol", `"256" is not a protocol`},
	{"no protocol", sgIngress + "      - {cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].protocol", "missing: use tcp, udp, icmp, icmpv6, all"},
	{"port too large", sgIngress + "      - {protocol: tcp, ports: 70000, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].ports",
		`"70000" is not a port: use 0-65535, a range like 1024-65535, or all`},
	{"port range too large", sgIngress + "      - {protocol: udp, ports: 1024-65536, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].ports", `"1024-65536" is not a port`},
	{"port -1", sgIngress + "      - {protocol: udp, ports: -1, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].ports", `"-1" is not a port`},
	{"empty port range", aclIngress + "      - {rule: 1, action: allow, protocol: tcp, ports: 2000-1000, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[rule 1].ports",
		`"2000-1000" is an empty range: write the lower port first, as in 1000-2000`},
	{"ports for icmp", sgIngress + "      - {protocol: icmp, ports: 80, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].ports", "ports apply only to tcp and udp; icmp has none to choose"},
	{"bad ports for all", aclIngress + "      - {rule: 1, action: allow, protocol: -1, ports: 90-80, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[rule 1].ports", "is an empty range"},
	{"bad ports for gre", sgIngress + "      - {protocol: 47, ports: eighty, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].ports", `"eighty" is not a port`},
	{"icmp type too large", sgIngress + "      - {protocol: icmp, icmp_type: 256, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].icmp_type", `"256" is not an ICMP type (-1 for any): use a whole number from -1 to 255`},
	{"icmp code too small", sgIngress + "      - {protocol: icmpv6, icmp_type: 1, icmp_code: -2, cidr: \"::/0\"}\n", 8, "security_groups[sg-a].ingress[0].icmp_code", `"-2" is not an ICMP code`},
	{"icmp code without type", sgIngress + "      - {protocol: icmp, icmp_code: 4, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].icmp_code", "code 4 needs a type: give icmp_type too"},
	{"icmp any type with a code", aclIngress + "      - {rule: 1, action: allow, protocol: icmp, icmp_type: -1, icmp_code: 0, cidr: 0.0.0.0/0}\n", 8, "network_acls[acl-a].ingress[rule 1].icmp_code", "code 0 needs a type"},
	{"icmp type for tcp", sgIngress + "      - {protocol: tcp, icmp_type: 8, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].icmp_type", "icmp_type applies only to icmp and icmpv6, not tcp"},

	// Prefix lists.
	{"prefix list over max_entries", prefixes + "  - {id: pl-a, max_entries: 1, cidrs: [10.9.0.0/16, 10.8.0.0/16]}\n", 6, "prefix_lists[pl-a].cidrs",
		"2 CIDRs is more than max_entries (1): raise max_entries (up to 1000) or remove CIDRs"},
	{"prefix list CIDR twice", prefixes + "  - {id: pl-a, cidrs: [10.9.0.0/16, 10.9.1.0/16]}\n", 6, "prefix_lists[pl-a].cidrs[1]", "10.9.0.0/16 is listed twice (first as cidrs[0])"},
	{"prefix list max_entries 0", prefixes + "  - {id: pl-a, max_entries: 0, cidrs: []}\n", 6, "prefix_lists[pl-a].max_entries", "use a whole number from 1 to 1000"},
	{"prefix list without cidrs", prefixes + "  - {id: pl-a}\n", 6, "prefix_lists[pl-a].cidrs", "missing: a prefix list needs cidrs"},

	// Security groups.
	{"rule without peer", sgIngress + "      - {protocol: tcp}\n", 8, "security_groups[sg-a].ingress[0]", "missing a peer: give one of cidr, group or prefix_list"},
	{"rule with two peers", sgIngress + "      - {protocol: tcp, cidr: 0.0.0.0/0, group: sg-a}\n", 8, "security_groups[sg-a].ingress[0]", "cidr and group: a rule has exactly one peer"},
	{"unknown group", sgIngress + "      - {protocol: tcp, group: sg-x}\n", 8, "security_groups[sg-a].ingress[0].group", `no security group "sg-x": the lab defines default, sg-a`},
	{"unknown prefix list", sgIngress + "      - {protocol: tcp, prefix_list: pl-x}\n", 8, "security_groups[sg-a].ingress[0].prefix_list", `no prefix list "pl-x": the lab defines none`},
	{"rule id without sgr-", sgIngress + "      - {id: rule-1, protocol: tcp, cidr: 0.0.0.0/0}\n", 8, "security_groups[sg-a].ingress[0].id", `"rule-1" is not a rule id: rule ids start with sgr-`},
	{"rule id twice", sgIngress + "      - {id: sgr-1, protocol: tcp, cidr: 0.0.0.0/0}\n  - id: sg-b\n    egress:\n      - {id: sgr-1, protocol: tcp, cidr: 0.0.0.0/0}\n",
		11, "security_groups[sg-b].egress[0].id", "sgr-1 is defined twice (first at line 8)"},
	{"group id twice", base + "security_groups:\n  - id: sg-a\n  - id: sg-a\n", 7, "security_groups[sg-a].id", "sg-a is defined twice (first at line 6)"},
	{"rules over quota", base + "quotas: {sg_rules: 2}\nsecurity_groups:\n  - id: sg-a\n    ingress:\n" +
		"      - {protocol: tcp, ports: 1, cidr: 0.0.0.0/0}\n" +
		"      - {protocol: tcp, ports: 2, cidr: \"::/0\"}\n" +
		"      - {protocol: tcp, ports: 3, cidr: 0.0.0.0/0}\n" +
		"      - {protocol: tcp, ports: 4, cidr: 0.0.0.0/0}\n",
		12, "security_groups[sg-a].ingress[3]", "3 IPv4 rules in ingress (a prefix-list rule counts as its max_entries): the quota is 2 per direction and family (quotas.sg_rules)"},
	{"prefix list rule counts its max_entries", base + "quotas: {sg_rules: 5}\nprefix_lists:\n  - {id: pl-a, max_entries: 4, cidrs: [10.9.0.0/16]}\nsecurity_groups:\n  - id: sg-a\n    egress:\n" +
		"      - {protocol: tcp, prefix_list: pl-a}\n" +
		"      - {protocol: tcp, cidr: \"::/0\"}\n" +
		"      - {protocol: tcp, cidr: 0.0.0.0/0}\n" +
		"      - {protocol: tcp, cidr: 10.0.0.0/8}\n",
		14, "security_groups[sg-a].egress[3]", "6 IPv4 rules in egress"},
	{"group reference counts in both families", base + "quotas: {sg_rules: 1}\nsecurity_groups:\n  - id: sg-a\n    egress:\n" +
		"      - {protocol: tcp, cidr: \"::/0\"}\n" +
		"      - {protocol: tcp, group: sg-a}\n",
		10, "security_groups[sg-a].egress[1]", "2 IPv6 rules in egress"},

	// Instances and interfaces.
	{"instance without interfaces", instances + "  - {name: i1}\n", 6, "instances[i1].interfaces", "missing: an instance needs at least one interface: give interfaces, or subnet and ip"},
	{"empty interfaces", instances + "  - {name: i1, interfaces: []}\n", 6, "instances[i1].interfaces", "an instance needs at least one interface"},
	{"shorthand keys beside interfaces", instances + "  - {name: i1, subnet: subnet-a, interfaces: [{id: eni-1, subnet: subnet-a, ip: 10.0.1.10}]}\n", 6, "instances[i1].subnet",
		"subnet belongs in an interface when the instance has interfaces"},
	{"interface without id", instances + "  - name: i1\n    interfaces:\n      - {subnet: subnet-a, ip: 10.0.1.10}\n", 8, "instances[i1].interfaces[0].id", "missing: an interface needs an id"},
	{"instance name twice", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10}\n  - {name: i1, id: eni-2, subnet: subnet-a, ip: 10.0.1.11}\n", 7, "instances[i1].name", "i1 is defined twice (first at line 6)"},
	{"implied eni id twice", instances + "  - {name: i1, id: eni-i2, subnet: subnet-a, ip: 10.0.1.10}\n  - {name: i2, subnet: subnet-a, ip: 10.0.1.11}\n", 7, "instances[i2].id", "eni-i2 is defined twice (first at line 6): interface ids are unique"},
	{"unknown subnet", instances + "  - {name: i1, subnet: subnet-x, ip: 10.0.1.10}\n", 6, "instances[i1].subnet", `no subnet "subnet-x": the lab defines subnet-a, subnet-b`},
	{"interface without ip", instances + "  - {name: i1, subnet: subnet-a}\n", 6, "instances[i1].ip", "missing: an interface needs a primary private IPv4 address"},
	{"ip outside the subnet", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.2.10}\n", 6, "instances[i1].ip", "10.0.2.10 is outside subnet-a's 10.0.1.0/24"},
	{"ip is the network address", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.0}\n", 6, "instances[i1].ip",
		"10.0.1.0 is reserved by AWS (the first four and the last address of every subnet): use 10.0.1.4-10.0.1.254"},
	{"ip is the fourth address", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.3}\n", 6, "instances[i1].ip", "10.0.1.3 is reserved by AWS"},
	{"ip is the last address", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.255}\n", 6, "instances[i1].ip", "10.0.1.255 is reserved by AWS"},
	{"ip is IPv6", instances + "  - {name: i1, subnet: subnet-a, ip: \"2600:1f18:aa:bb01::10\"}\n", 6, "instances[i1].ip", "is IPv6: give IPv4 here and IPv6 addresses in ipv6"},
	{"ip with a zone", instances + "  - {name: i1, subnet: subnet-a, ip: \"fe80::1%eth0\"}\n", 6, "instances[i1].ip", "has a zone"},
	{"ip is not an address", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1}\n", 6, "instances[i1].ip", `"10.0.1" is not an IP address`},
	{"secondary ip equals primary", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, secondary_ips: [10.0.1.10]}\n", 6, "instances[i1].secondary_ips[0]",
		"10.0.1.10 is already used by eni-i1 (line 6): each address belongs to one interface or host"},
	{"address on two interfaces", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10}\n  - {name: i2, subnet: subnet-a, ip: 10.0.1.10}\n", 7, "instances[i2].ip", "10.0.1.10 is already used by eni-i1 (line 6)"},
	{"ipv6 in a subnet without ipv6", instances + "  - {name: i1, subnet: subnet-b, ip: 10.0.2.10, ipv6: [\"2600:1f18:aa:bb01::10\"]}\n", 6, "instances[i1].ipv6[0]", "subnet-b has no IPv6 block: give the subnet an ipv6_cidr"},
	{"ipv6 outside the subnet", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, ipv6: [\"2600:1f18:aa:bb02::10\"]}\n", 6, "instances[i1].ipv6[0]", "is outside subnet-a's 2600:1f18:aa:bb01::/64"},
	{"ipv6 reserved first", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, ipv6: [\"2600:1f18:aa:bb01::3\"]}\n", 6, "instances[i1].ipv6[0]",
		"is reserved by AWS (the first four and the last address of every subnet): use 2600:1f18:aa:bb01::4-2600:1f18:aa:bb01:ffff:ffff:ffff:fffe"},
	{"ipv6 reserved last", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, ipv6: [\"2600:1f18:aa:bb01:ffff:ffff:ffff:ffff\"]}\n", 6, "instances[i1].ipv6[0]", "is reserved by AWS"},
	{"ipv6 is IPv4", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, ipv6: [10.0.1.11]}\n", 6, "instances[i1].ipv6[0]", "10.0.1.11 is IPv4: ipv6 takes IPv6 addresses"},
	{"no security groups", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, security_groups: []}\n", 6, "instances[i1].security_groups",
		"an interface needs at least one security group: leave the key out for the VPC's default group"},
	{"unknown security group", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-x]}\n", 6, "instances[i1].security_groups[0]", `no security group "sg-x": the lab defines default`},
	{"security group twice", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, security_groups: [default, default]}\n", 6, "instances[i1].security_groups[1]", "default is listed twice"},
	{"groups over quota", base + "quotas: {sgs_per_eni: 1}\nsecurity_groups: [{id: sg-a}]\ninstances:\n  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, security_groups: [default, sg-a]}\n",
		8, "instances[i1].security_groups", "2 security groups: the quota is 1 per interface (quotas.sgs_per_eni; AWS allows up to 16)"},
	{"rules times groups over quota", base + "quotas: {rules_times_sgs: 2}\nsecurity_groups:\n  - id: sg-a\n    ingress:\n" +
		"      - {protocol: tcp, ports: 1, cidr: 0.0.0.0/0}\n      - {protocol: tcp, ports: 2, cidr: 0.0.0.0/0}\n" +
		"instances:\n  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-a, default]}\n",
		12, "instances[i1].security_groups", "the groups hold 3 IPv4 ingress rules together (a prefix-list rule counts as its max_entries): the quota is 2 per interface, direction and family (quotas.rules_times_sgs)"},
	// Groups past the per-VPC quota are not read: the bad fifth item
	// reports nothing.
	{"groups per VPC over quota", base + "quotas: {sgs_per_vpc: 3}\nsecurity_groups:\n  - {id: default}\n  - {id: sg-a}\n  - {id: sg-b}\n  - {id: sg-c}\n  - {id: \"!\", bogus: 1}\n",
		10, "security_groups[3]", "5 security groups: the quota is 3 per VPC, the default group included (quotas.sgs_per_vpc; AWS's default is 2500)"},
	{"implied default group over the per-VPC quota", base + "quotas: {sgs_per_vpc: 2}\nsecurity_groups:\n  - {id: sg-a}\n  - {id: sg-b}\n",
		8, "security_groups[1]", "3 security groups: the quota is 2 per VPC, the default group included"},
	{"groups per VPC quota out of range", base + "quotas: {sgs_per_vpc: 10001}\n",
		5, "quotas.sgs_per_vpc", `"10001" is not a quota of security groups per VPC: use a whole number from 1 to 10000`},
	{"tcp timeout too short", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, conntrack: {tcp_established_timeout: 30s}}\n", 6, "instances[i1].conntrack.tcp_established_timeout",
		"30s is out of range: use 60s-432000s"},
	{"udp timeout too long", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, conntrack: {udp_timeout: 90}}\n", 6, "instances[i1].conntrack.udp_timeout", "90s is out of range: use 30s-60s"},
	{"udp stream timeout too long", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, conntrack: {udp_stream_timeout: 3m1s}}\n", 6, "instances[i1].conntrack.udp_stream_timeout", "181s is out of range: use 60s-180s"},
	{"timeout is not a duration", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, conntrack: {udp_timeout: soon}}\n", 6, "instances[i1].conntrack.udp_timeout",
		`"soon" is not a duration: use a number of seconds or a duration like 30s or 5m`},
	{"allowance 0", instances + "  - {name: i1, conntrack_allowance: 0, subnet: subnet-a, ip: 10.0.1.10}\n", 6, "instances[i1].conntrack_allowance", "use a whole number from 1 to 10000000"},
	{"pps allowance negative", instances + "  - {name: i1, pps_allowance: -1, subnet: subnet-a, ip: 10.0.1.10}\n", 6, "instances[i1].pps_allowance", "use a whole number from 0 to 10000000"},
	{"pps allowance not a number", instances + "  - {name: i1, pps_allowance: fast, subnet: subnet-a, ip: 10.0.1.10}\n", 6, "instances[i1].pps_allowance", `"fast" is not packets per second (0: unlimited)`},
	{"settings pps allowance too high", base + "settings: {pps_allowance: 10000001}\n", 5, "settings.pps_allowance", "use a whole number from 0 to 10000000"},
	{"source_dest_check on", instances + "  - {name: i1, subnet: subnet-a, ip: 10.0.1.10, source_dest_check: on}\n", 6, "instances[i1].source_dest_check", `"on" is not a boolean`},

	// Internet hosts.
	{"host inside the vpc", hosts + "[10.0.5.5]\n", 8, "internet.hosts[0]", "10.0.5.5 is inside the VPC: internet hosts are outside 10.0.0.0/16 and 2600:1f18:aa:bb00::/56"},
	{"host inside the vpc ipv6", hosts + "[\"2600:1f18:aa:bb77::1\"]\n", 8, "internet.hosts[0]", "is inside the VPC"},
	{"host is imds", hosts + "[169.254.169.254]\n", 8, "internet.hosts[0]", "169.254.169.254 is in 169.254.0.0/16 (link-local, where the instance services live): an internet host needs a unicast address outside the VPC"},
	{"host is ipv6 imds", hosts + "[\"fd00:ec2::254\"]\n", 8, "internet.hosts[0]", "is in fd00:ec2::/64"},
	{"host is multicast", hosts + "[224.0.0.5]\n", 8, "internet.hosts[0]", "is in 224.0.0.0/3 (multicast or reserved)"},
	{"host is ipv6 multicast", hosts + "[\"ff02::1\"]\n", 8, "internet.hosts[0]", "is in ff00::/8 (multicast)"},
	{"host is broadcast", hosts + "[255.255.255.255]\n", 8, "internet.hosts[0]", "multicast or reserved"},
	{"host is an interface's address", hosts + "[198.51.100.1, 10.0.1.10]\n", 8, "internet.hosts[1]", "10.0.1.10 is inside the VPC"},
	{"host twice", hosts + "[198.51.100.1, 198.51.100.1]\n", 8, "internet.hosts[1]", "198.51.100.1 is already used by internet.hosts (internet.hosts[0])"},

	// Quotas and settings.
	{"nacl quota above AWS's", base + "quotas: {nacl_entries: 41}\n", 5, "quotas.nacl_entries", `"41" is not a quota of network ACL entries per direction and family: use a whole number from 1 to 40`},
	{"sgs per eni above AWS's", base + "quotas: {sgs_per_eni: 17}\n", 5, "quotas.sgs_per_eni", "use a whole number from 1 to 16"},
	{"settings datapath", base + "settings: {datapath: xdp}\n", 5, "settings.datapath", `"xdp" is not a datapath: use tun`},
	{"settings other", base + "settings: {other: 60s}\n", 5, "settings.other", "unknown key: the keys of the settings are default_allowance, imds, secondary_ips_in_group_refs"},
	{"settings zero timeout", base + "settings: {tcp_close: 0s}\n", 5, "settings.tcp_close", "0s is out of range: use 1s-432000s"},
	{"settings allowance", base + "settings: {default_allowance: 1e6}\n", 5, "settings.default_allowance", `"1e6" is not a number of tracked flows`},
}

func TestValidation(t *testing.T) {
	for _, c := range errorCases {
		t.Run(c.name, func(t *testing.T) {
			l, err := Parse("t.yaml", []byte(c.src))
			if l != nil || err == nil {
				t.Fatalf("Parse = %v, %v; want an error", l, err)
			}
			var list lab.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("err is %T, want ErrorList", err)
			}
			if len(list) != 1 {
				t.Fatalf("%d errors, want 1:\n%v", len(list), err)
			}
			e := list[0]
			prefix := "t.yaml: "
			if c.line > 0 {
				prefix = fmt.Sprintf("t.yaml:%d:", c.line)
			}
			if e.Line != c.line || e.Field != c.field || !strings.Contains(e.Msg, c.msg) || !strings.HasPrefix(e.Error(), prefix) {
				t.Errorf("got  %v\nwant %s… %s: …%s…", e, prefix, c.field, c.msg)
			}
		})
	}
}

// TestPortsIgnored: for a protocol other than tcp, udp, icmp and icmpv6,
// a port range is taken and ignored, as EC2 does: the rule covers every
// port.
func TestPortsIgnored(t *testing.T) {
	l, err := Parse("t.yaml", []byte(sgIngress+"      - {protocol: 47, ports: 80, cidr: 0.0.0.0/0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range l.SecurityGroups {
		if g.ID == "sg-a" {
			if r := g.Ingress[0]; r.Protocol != 47 || r.FromPort != 0 || r.ToPort != 65535 {
				t.Errorf("the gre rule: %+v, want every port", r)
			}
			return
		}
	}
	t.Fatal("no sg-a")
}
