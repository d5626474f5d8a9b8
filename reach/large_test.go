package reach_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// largeLab writes a lab of 200 ENIs in 20 subnets (four public), a NACL
// per subnet, and 20 security groups of 12 ingress rules (ports from VPC
// blocks, hosts, referenced groups and the internet), two on each ENI:
// the page of a large lab.
func largeLab() string {
	r := rand.New(rand.NewPCG(14, 2))
	var b strings.Builder
	b.WriteString("vpc: {id: vpc-large, cidr: 10.0.0.0/16, ipv6_cidr: \"2600:1f18:aa:bb00::/56\"}\n")
	b.WriteString("subnets:\n")
	for s := range 20 {
		fmt.Fprintf(&b, "  - {id: s%d, cidr: 10.0.%d.0/24, ipv6_cidr: \"2600:1f18:aa:bb%02x::/64\", network_acl: acl%d, public: %v}\n", s, s, s, s, s < 4)
	}
	ports := []string{"22", "80", "443", "5432", "3306", "6379", "8080", "9000-9100"}
	b.WriteString("network_acls:\n")
	for s := range 20 {
		fmt.Fprintf(&b, "  - id: acl%d\n    ingress:\n", s)
		fmt.Fprintf(&b, "      - {rule: 10, action: deny, protocol: all, cidr: 10.0.%d.0/24}\n", r.IntN(20))
		fmt.Fprintf(&b, "      - {rule: 100, action: allow, protocol: all, cidr: 10.0.0.0/16}\n")
		fmt.Fprintf(&b, "      - {rule: 110, action: allow, protocol: tcp, ports: %s, cidr: 0.0.0.0/0}\n", ports[r.IntN(3)])
		fmt.Fprintf(&b, "      - {rule: 120, action: allow, protocol: tcp, ports: 1024-65535, cidr: 0.0.0.0/0}\n")
		b.WriteString("    egress:\n      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}\n")
	}
	b.WriteString("security_groups:\n")
	for g := range 20 {
		fmt.Fprintf(&b, "  - id: sg%d\n    ingress:\n", g)
		for range 12 {
			var peer string
			switch k := r.IntN(10); {
			case k < 4:
				peer = fmt.Sprintf("cidr: 10.0.%d.0/24", r.IntN(20))
			case k < 6:
				peer = fmt.Sprintf("cidr: 10.0.%d.%d/32", r.IntN(20), 10+r.IntN(10))
			case k < 9:
				peer = fmt.Sprintf("group: sg%d", r.IntN(20))
			default:
				peer = "cidr: 0.0.0.0/0"
			}
			fmt.Fprintf(&b, "      - {protocol: tcp, ports: %s, %s}\n", ports[r.IntN(len(ports))], peer)
		}
	}
	b.WriteString("instances:\n")
	for i := range 200 {
		s := i / 10
		fmt.Fprintf(&b, "  - {name: i%d, subnet: s%d, ip: 10.0.%d.%d, ipv6: [\"2600:1f18:aa:bb%02x::%x\"], security_groups: [sg%d, sg%d]}\n",
			i, s, s, 10+i%10, s, 16+i%10, i%20, (i+7)%20)
	}
	b.WriteString("internet: {hosts: [203.0.113.5, \"2001:db8::5\"]}\n")
	return b.String()
}
