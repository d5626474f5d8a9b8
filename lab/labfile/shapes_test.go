package labfile

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/internal/heappeak"
	"github.com/vpclab/vpclab/lab"
)

// shape is a large lab file of one shape, accepted at its quota or
// refused past it.
type shape struct {
	name string
	data func() []byte // made when needed: the inputs of all take 130 MB
	want string        // "" when accepted; else what the error starts with
}

// wideBase is a lab whose one subnet spans the VPC, for many instances.
const wideBase = "vpc: {id: vpc-w, cidr: 10.0.0.0/16}\nsubnets:\n  - {id: subnet-w, cidr: 10.0.0.0/16}\n"

// groupsText writes n groups of rules ingress and rules/3 egress rules in
// one of the styles lab files are written in: block lists, flow lists
// (one group a line) or JSON (the whole lab, one group a line).
func groupsText(style string, n, rules int) []byte {
	b := make([]byte, 0, n*rules*45)
	rule := func(b []byte, proto string, port int) []byte {
		switch style {
		case "block":
			return append(num(append(b, "      - {protocol: "+proto+", ports: "...), port), ", cidr: 10.0.0.0/8}\n"...)
		case "flow":
			return append(num(append(b, "{protocol: "+proto+", ports: "...), port), ", cidr: 10.0.0.0/8}, "...)
		}
		return append(num(append(b, `{"protocol": "`+proto+`", "ports": "`...), port), `", "cidr": "10.0.0.0/8"}, `...)
	}
	trim := func(b []byte) []byte { return b[:len(b)-2] } // the last ", "
	switch style {
	case "block":
		b = append(b, base+"security_groups:\n"...)
	case "flow":
		b = append(b, base+"security_groups: [\n"...)
	default:
		b = append(b, `{"vpc": {"id": "vpc-t", "cidr": "10.0.0.0/16"}, "subnets": [{"id": "subnet-a", "cidr": "10.0.1.0/24"}],`+"\n"+`"security_groups": [`+"\n"...)
	}
	for i := range n {
		switch style {
		case "block":
			b = append(num(append(b, "  - id: sg-"...), i), "\n    ingress:\n"...)
			for j := range rules {
				b = rule(b, "tcp", 1+j)
			}
			b = append(b, "    egress:\n"...)
			for j := range rules / 3 {
				b = rule(b, "udp", 1+j)
			}
		case "flow":
			b = append(num(append(b, "  {id: sg-"...), i), ", ingress: ["...)
			for j := range rules {
				b = rule(b, "tcp", 1+j)
			}
			b = append(trim(b), "], egress: ["...)
			for j := range rules / 3 {
				b = rule(b, "udp", 1+j)
			}
			b = append(trim(b), "]},\n"...)
		default:
			b = append(num(append(b, `  {"id": "sg-`...), i), `", "ingress": [`...)
			for j := range rules {
				b = rule(b, "tcp", 1+j)
			}
			b = append(trim(b), `], "egress": [`...)
			for j := range rules / 3 {
				b = rule(b, "udp", 1+j)
			}
			b = append(trim(b), "]},\n"...)
		}
	}
	switch style {
	case "flow":
		b = append(b[:len(b)-2], "\n]\n"...)
	case "json":
		b = append(b[:len(b)-2], "\n]}\n"...)
	}
	return b
}

// oneGroup is a lab raising sg_rules to its most, 100,000, with one
// group of ingress IPv4 rules and as many egress rules.
func oneGroup(ingress int) []byte {
	b := append(make([]byte, 0, ingress*90), base+"quotas: {sg_rules: 100000}\nsecurity_groups:\n  - id: sg-big\n    ingress:\n"...)
	for i := range ingress {
		b = append(num(append(b, "      - {protocol: tcp, ports: "...), 1+i%65535), ", cidr: 10."...)
		b = append(num(b, i>>8&255), '.')
		b = append(num(b, i&255), ".0/24}\n"...)
	}
	b = append(b, "    egress:\n"...)
	for i := range 100000 {
		b = append(num(append(b, "      - {protocol: udp, ports: "...), 1+i%65535), ", cidr: 10.0.0.0/8}\n"...)
	}
	return b
}

// naclsText is a lab of n network ACLs of 40 entries a direction (the
// most AWS allows), and, when over, one of 41.
func naclsText(n int, over bool) []byte {
	b := append(make([]byte, 0, n*80*60), base+"quotas: {nacl_entries: 40}\nnetwork_acls:\n"...)
	acl := func(b []byte, i, entries int) []byte {
		b = append(num(append(b, "  - id: acl-"...), i), "\n"...)
		for _, dir := range []string{"ingress", "egress"} {
			b = append(b, "    "+dir+":\n"...)
			for j := range entries {
				b = append(num(append(b, "      - {rule: "...), 100+j), ", action: allow, protocol: tcp, ports: 22, cidr: 10.0.0.0/8}\n"...)
			}
		}
		return b
	}
	for i := range n {
		b = acl(b, i, 40)
	}
	if over {
		b = acl(b, n, 41)
	}
	return b
}

// instancesText is a lab of n instances of one interface each.
func instancesText(n int) []byte {
	b := append(make([]byte, 0, n*64), wideBase+"instances:\n"...)
	for i := range n {
		b = append(num(append(b, "  - {name: i-"...), i), ", subnet: subnet-w, ip: 10.0."...)
		b = append(num(b, (i+4)>>8&255), '.')
		b = append(num(b, (i+4)&255), "}\n"...)
	}
	return b
}

// tagsText is a lab of 2,400 groups of 50 tags each, or, over, of one
// group with n tags.
func tagsText(n int, over bool) []byte {
	groups := 2400
	if over {
		groups = 1
	}
	b := append(make([]byte, 0, groups*50*24+n*24), base+"security_groups:\n"...)
	for i := range groups {
		b = append(num(append(b, "  - {id: sg-"...), i), "}\n"...)
	}
	b = append(b, "tags:\n"...)
	for i := range groups {
		b = append(num(append(b, "  sg-"...), i), ":\n"...)
		tags := 50
		if over {
			tags = n
		}
		for j := range tags {
			b = append(num(append(b, "    Key"...), j), ": value\n"...)
		}
	}
	return b
}

// shapes are the large labs of every shape, at and past their quotas.
func shapes() []shape {
	var s []shape
	for _, style := range []string{"block", "flow", "json"} {
		s = append(s,
			shape{style + " groups, accepted", func() []byte { return groupsText(style, 2400, 60) }, ""},
			shape{style + " groups, one over the quota", func() []byte { return groupsText(style, 2500, 60) }, "ok.yaml:"},
			shape{style + " groups, far over", func() []byte { return groupsText(style, 60000, 1) }, "ok.yaml:"})
	}
	s = append(s,
		shape{"one group of 200k rules, accepted", func() []byte { return oneGroup(100000) }, ""},
		shape{"one group, one rule over", func() []byte { return oneGroup(100001) }, "ok.yaml:"},
		shape{"network ACLs, accepted", func() []byte { return naclsText(1500, false) }, ""},
		shape{"network ACLs, one entry over", func() []byte { return naclsText(1500, true) }, "ok.yaml:"},
		shape{"instances, accepted", func() []byte { return instancesText(60000) }, ""},
		shape{"instances, over", func() []byte { return instancesText(maxListItems + 1) }, "ok.yaml:"},
		shape{"tags, accepted", func() []byte { return tagsText(0, false) }, ""},
		shape{"tags, 200k on one group", func() []byte { return tagsText(200000, true) }, "ok.yaml:"},
	)
	return s
}

// TestShapesPeakHeap parses a large lab of every shape, accepted at its
// quota or refused past it, and wants at most 10 times its size in live
// heap at any time (the lab returned included) and a few seconds.
func TestShapesPeakHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("large files: not in -short")
	}
	for _, c := range shapes() {
		t.Run(c.name, func(t *testing.T) {
			data := c.data()
			var l *lab.Lab
			var err error
			start := time.Now()
			peak := heappeak.Live(func() { l, err = Parse("ok.yaml", data) })
			took := time.Since(start)
			ratio := float64(peak) / float64(len(data))
			t.Logf("%-40s %9d bytes: peak live heap %10d (%5.1f×) in %v", c.name, len(data), peak, ratio, took.Round(time.Millisecond))
			var list lab.ErrorList
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %.500v", err)
			case c.want != "" && (l != nil || !errors.As(err, &list)):
				t.Fatalf("Parse = %v, %.300v: want an ErrorList", l != nil, err)
			case c.want != "" && !strings.HasPrefix(err.Error(), c.want):
				t.Errorf("error %.300q, want it to start %q", err, c.want)
			}
			if took > time.Minute {
				t.Errorf("Parse took %v", took) // linear, a few seconds on a loaded machine
			}
			if ratio > 10 {
				t.Errorf("peak live heap %d for %d bytes of input: %.1f×, over 10×", peak, len(data), ratio)
			}
		})
	}
}

// BenchmarkParseShapes parses the large labs of every shape accepted at
// their quotas (TestShapesPeakHeap's).
func BenchmarkParseShapes(b *testing.B) {
	for _, c := range shapes() {
		if c.want != "" {
			continue
		}
		b.Run(strings.ReplaceAll(c.name, " ", "_"), func(b *testing.B) {
			data := c.data()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Parse("ok.yaml", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
