// Package bench holds vpclab's benchmarks of the packet path (run them with
// `make bench`) and the labs and packets they run on. Every benchmark that
// states a goal is paired with a baseline measured in the same run, and
// bench/table prints the two side by side.
package bench

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vpclab/vpclab/internal/classbench"
)

// ClassBenchDir is where the ClassBench rule sets the repository carries live, relative to
// this package's directory.
const ClassBenchDir = "../testdata/external/classbench"

// Lab returns the text of a benchmark lab: a public subnet with the server
// (10.0.1.10, sg-server) and a private subnet with the client (10.0.2.10,
// default group), default network ACLs, internet access to the server.
// sg-server allows TCP 5432 from the client subnet first, then the given
// extra ingress rules (YAML flow mappings), and its quotas are raised to
// hold them.
func Lab(extra []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `vpc: {id: vpc-bench, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-server, cidr: 10.0.1.0/24, public: true}
  - {id: subnet-client, cidr: 10.0.2.0/24}
quotas: {sg_rules: %d, rules_times_sgs: %d}
security_groups:
  - id: sg-server
    ingress:
      - {protocol: tcp, ports: 5432, cidr: 10.0.2.0/24}
`, len(extra)+1, len(extra)+1)
	for _, r := range extra {
		b.WriteString("      - " + r + "\n")
	}
	b.WriteString(`instances:
  - {name: server, subnet: subnet-server, ip: 10.0.1.10, security_groups: [sg-server], conntrack_allowance: 4000000}
  - {name: client, subnet: subnet-client, ip: 10.0.2.10, conntrack_allowance: 4000000}
`)
	return b.String()
}

// ClassBenchRules turns ClassBench filters into security-group ingress
// rules: the filter's source block is the peer, its destination-port range
// the ports. Filters of the other IP family or whose peer falls inside the
// lab's VPC (10.0.0.0/16) are left out.
func ClassBenchRules(rules []classbench.Rule) []string {
	vpc := netip.MustParsePrefix("10.0.0.0/16")
	var out []string
	for _, r := range rules {
		if !r.Src.Addr().Is4() || r.Src.Overlaps(vpc) {
			continue
		}
		switch r.Proto {
		case 6, 17:
			out = append(out, fmt.Sprintf("{protocol: %d, ports: %d-%d, cidr: %s}", r.Proto, r.DstLo, r.DstHi, r.Src))
		case -1:
			out = append(out, fmt.Sprintf("{protocol: all, cidr: %s}", r.Src))
		default:
			out = append(out, fmt.Sprintf("{protocol: %d, cidr: %s}", r.Proto, r.Src))
		}
	}
	return out
}

// TenRules are ten ordinary ingress rules, none of which the benchmark
// flows match before the last one.
var TenRules = []string{
	"{protocol: tcp, ports: 22, cidr: 192.0.2.0/24}",
	"{protocol: tcp, ports: 80, cidr: 0.0.0.0/0}",
	"{protocol: tcp, ports: 443, cidr: 0.0.0.0/0}",
	"{protocol: udp, ports: 53, cidr: 198.51.100.0/24}",
	"{protocol: icmp, icmp_type: 8, cidr: 0.0.0.0/0}",
	"{protocol: tcp, ports: 8000-8100, cidr: 172.16.0.0/12}",
	"{protocol: tcp, ports: 3306, cidr: 10.0.3.0/24}",
	"{protocol: udp, ports: 1024-65535, cidr: 203.0.113.0/24}",
	"{protocol: 47, cidr: 192.0.2.0/24}",
}
