package bench

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/explain"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/reach"
)

// ReachLab returns the text of the reachability benchmark's lab: 200 ENIs
// in 20 subnets, each subnet with its own network ACL (20 entries each
// way: service ports from other subnets, ephemeral ports back, a few
// denies), and 25 security groups of 200 ingress rules each (5,000 rules:
// ports and ranges from VPC blocks, host addresses, referenced groups,
// prefix lists and public blocks), two groups on each ENI.
func ReachLab() string {
	r := rand.New(rand.NewPCG(14, 200))
	var b strings.Builder
	b.WriteString("vpc: {id: vpc-reach, cidr: 10.0.0.0/16, ipv6_cidr: \"2600:1f18:aa:bb00::/56\"}\n")
	b.WriteString("quotas: {sg_rules: 400, rules_times_sgs: 2000}\n")
	b.WriteString("prefix_lists:\n  - {id: pl-office, max_entries: 10, cidrs: [203.0.113.0/24, 198.51.100.0/24]}\n")
	b.WriteString("subnets:\n")
	for s := range 20 {
		fmt.Fprintf(&b, "  - {id: s%d, cidr: 10.0.%d.0/24, ipv6_cidr: \"2600:1f18:aa:bb%02x::/64\", network_acl: acl%d, public: %v}\n", s, s, s, s, s < 4)
	}
	ports := []string{"22", "80", "443", "5432", "3306", "6379", "8080", "8443", "9000-9100", "27017", "11211", "2049"}
	b.WriteString("network_acls:\n")
	for s := range 20 {
		fmt.Fprintf(&b, "  - id: acl%d\n    ingress:\n", s)
		for i := range 20 {
			switch {
			case i < 2:
				fmt.Fprintf(&b, "      - {rule: %d, action: deny, protocol: all, cidr: 10.0.%d.0/24}\n", 10+i, r.IntN(20))
			case i < 12:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: tcp, ports: %s, cidr: 10.0.%d.0/22}\n", 10+i*10, ports[r.IntN(len(ports))], r.IntN(5)*4)
			case i < 16:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: tcp, ports: 1024-65535, cidr: 10.0.0.0/16}\n", 10+i*10)
			case i < 18:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: icmp, icmp_type: 8, cidr: 10.0.0.0/16}\n", 10+i*10)
			default:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: tcp, ports: %s, cidr: \"::/0\"}\n", 10+i*10, ports[r.IntN(len(ports))])
			}
		}
		b.WriteString("    egress:\n")
		for i := range 20 {
			switch {
			case i < 10:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: tcp, ports: %s, cidr: 10.0.%d.0/22}\n", 10+i*10, ports[r.IntN(len(ports))], r.IntN(5)*4)
			case i < 16:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: tcp, ports: 1024-65535, cidr: 0.0.0.0/0}\n", 10+i*10)
			case i < 18:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: all, cidr: 10.0.%d.0/24}\n", 10+i*10, r.IntN(20))
			default:
				fmt.Fprintf(&b, "      - {rule: %d, action: allow, protocol: tcp, ports: 1024-65535, cidr: \"::/0\"}\n", 10+i*10)
			}
		}
	}
	b.WriteString("security_groups:\n")
	for g := range 25 {
		fmt.Fprintf(&b, "  - id: sg%d\n    ingress:\n", g)
		for range 200 {
			var peer string
			switch k := r.IntN(20); {
			case k < 9:
				peer = fmt.Sprintf("cidr: 10.0.%d.0/%d", r.IntN(20), 24+r.IntN(3))
			case k < 12:
				peer = fmt.Sprintf("cidr: 10.0.%d.%d/32", r.IntN(20), 10+r.IntN(10))
			case k < 15:
				peer = fmt.Sprintf("group: sg%d", r.IntN(25))
			case k < 16:
				peer = "prefix_list: pl-office"
			case k < 18:
				peer = fmt.Sprintf("cidr: %d.%d.0.0/16", 1+r.IntN(200), r.IntN(256))
			case k < 19:
				peer = fmt.Sprintf("cidr: \"2600:1f18:aa:bb%02x::/64\"", r.IntN(20))
			default:
				peer = "cidr: 0.0.0.0/0"
			}
			port := ports[r.IntN(len(ports))]
			if r.IntN(4) == 0 {
				lo := 1024 + r.IntN(60000)
				port = fmt.Sprintf("%d-%d", lo, lo+r.IntN(200))
			}
			fmt.Fprintf(&b, "      - {protocol: tcp, ports: %s, %s}\n", port, peer)
		}
	}
	b.WriteString("instances:\n")
	for i := range 200 {
		s := i / 10
		fmt.Fprintf(&b, "  - {name: i%d, subnet: s%d, ip: 10.0.%d.%d, ipv6: [\"2600:1f18:aa:bb%02x::%x\"], security_groups: [sg%d, sg%d]}\n",
			i, s, s, 10+i%10, s, 16+i%10, i%25, (i+1+i/25)%25)
	}
	b.WriteString("internet: {hosts: [203.0.113.5, \"2001:db8::5\"]}\n")
	return b.String()
}

func reachLab(b *testing.B) *lab.Lab {
	b.Helper()
	l, err := labfile.Parse("reach-bench.yaml", []byte(ReachLab()))
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkReach200 maps every ordered pair of the 200-ENI lab (with the
// internet hosts and the internet), both families, every protocol.
func BenchmarkReach200(b *testing.B) {
	l := reachLab(b)
	b.ReportAllocs()
	var before, after runtime.MemStats
	var m *reach.Map
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&before)
		var err error
		if m, err = reach.Analyze(l, reach.Query{}); err != nil {
			b.Fatal(err)
		}
		if len(m.Paths) < 200*199 {
			b.Fatalf("%d paths", len(m.Paths))
		}
	}
	// What the map itself holds, after the garbage of its making is gone.
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB-map")
	runtime.KeepAlive(m)
}

// BenchmarkExplainPair200 is the baseline: one explain call (a request
// and its reply through a new engine for the lab), over the pairs of
// ENIs and the ports the rules name in turn. Its all-pairs metric is the
// time of 200×200 such calls, the same pairs for one port each.
func BenchmarkExplainPair200(b *testing.B) {
	l := reachLab(b)
	ports := []int{22, 80, 443, 5432, 3306, 6379, 8080, 8443, 9050, 27017}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		from, to := i%200, (i*7+1)%200
		if from == to {
			to = (to + 1) % 200
		}
		_, err := explain.Run(l, explain.Query{From: fmt.Sprintf("i%d", from), To: fmt.Sprintf("i%d", to), Proto: "tcp", Dport: ports[i%len(ports)]})
		if err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*200*200, "ns/all-pairs")
}
