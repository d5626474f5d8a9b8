package labfile

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
)

// allocated returns the bytes f allocates: an upper bound of the memory
// it holds at any time, independent of when the collector runs.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// largeLab writes a lab of base, header, then n items made by item.
func largeLab(header string, n int, item func(b []byte, i int) []byte) []byte {
	b := append(make([]byte, 0, len(base)+len(header)+n*64), base+header...)
	for i := range n {
		b = item(b, i)
	}
	return b
}

// num appends the decimal i.
func num(b []byte, i int) []byte { return strconv.AppendInt(b, int64(i), 10) }

// ruleItem appends a block-style rule.
func ruleItem(b []byte, i int) []byte {
	b = append(b, "      - {protocol: tcp, ports: "...)
	b = append(num(b, i%65536), ", cidr: 10."...)
	b = append(num(b, i>>8&255), '.')
	return append(num(b, i&255), ".0/24}\n"...)
}

// largeLabs are files far over a quota, in the styles lab files are
// written in, each with the error Parse must give.
//
// n is how many: 200,000 for the memory test; the 100 MB file has 8.5
// times as many rules.
func largeLabs(n int) []struct {
	name string
	data []byte
	want string
} {
	rule := ruleItem
	flowRule := func(b []byte, i int) []byte {
		b = append(b, "{protocol: tcp, ports: "...)
		b = append(num(b, i%65536), ", cidr: 10."...)
		b = append(num(b, i>>8&255), '.')
		return append(num(b, i&255), ".0/24}, "...)
	}
	entry := func(b []byte, i int) []byte {
		b = append(num(append(b, "      - {rule: "...), i+1), ", action: allow, protocol: tcp, ports: 22, cidr: 10."...)
		b = append(num(b, i>>8&255), '.')
		return append(num(b, i&255), ".0/24}\n"...)
	}
	group := func(b []byte, i int) []byte {
		return append(num(append(b, "  - id: sg-"...), i), "\n    ingress:\n      - {protocol: tcp, ports: 22, cidr: 10.0.0.0/8}\n"...)
	}
	return []struct {
		name string
		data []byte
		want string
	}{
		{"groups", largeLab("security_groups:\n", n, group),
			fmt.Sprintf("big.yaml:7503:5: security_groups[2499]: %d security groups: the quota is 2500 per VPC", n+1)},
		{"rules", largeLab("security_groups:\n  - id: sg-a\n    ingress:\n", n, rule),
			fmt.Sprintf("big.yaml:128:9: security_groups[sg-a].ingress[120]: %d rules in ingress: the quota is 60 per direction and family (quotas.sg_rules), so at most 120 fit", n)},
		{"rules, the id after them", append(largeLab("security_groups:\n  - ingress:\n", n, rule), "    id: sg-late\n"...),
			fmt.Sprintf("big.yaml:127:9: security_groups[sg-late].ingress[120]: %d rules", n)},
		{"rules, raised quota", largeLab("quotas: {sg_rules: 1000}\nsecurity_groups:\n  - id: sg-a\n    egress:\n", 10*n, rule),
			fmt.Sprintf("big.yaml:2009:9: security_groups[sg-a].egress[2000]: %d rules in egress: the quota is 1000", 10*n)},
		{"rules in flow style", append(largeLab("security_groups: [{id: sg-a, ingress: [", n, flowRule), "]}]\n"...),
			"big.yaml:5:"},
		{"rules in JSON", append(largeLab(`"security_groups": [{"id": "sg-j", "egress": [`, n, func(b []byte, i int) []byte {
			return append(num(append(b, `{"protocol": "tcp", "cidr": "10.0.0.0/8", "ports": `...), i%65536), "},\n"...)
		}), "]}]\n"...),
			fmt.Sprintf("big.yaml:125:1: security_groups[sg-j].egress[120]: %d rules in egress", n)},
		{"ACL entries", largeLab("network_acls:\n  - id: acl-a\n    ingress:\n", n, entry),
			fmt.Sprintf("big.yaml:48:9: network_acls[acl-a].ingress[40]: %d entries in ingress: the quota is 20 per direction and family (quotas.nacl_entries)", n)},
		{"a block scalar and a comment", largeLab("security_groups:\n  - id: sg-a\n    description: >\n      a group\n\n      of: many - rules\n    # ingress:\n    ingress:\n", n, rule),
			fmt.Sprintf("big.yaml:133:9: security_groups[sg-a].ingress[120]: %d rules", n)},
	}
}

// TestLargeRefused checks that files far over a quota, of 200,000 items
// and of 100 MB, are refused at the first item past it, with at most 10
// bytes allocated per byte of input beyond a fixed 4 MiB: the YAML tree
// (some 30 bytes per byte) is not built.
func TestLargeRefused(t *testing.T) {
	cases := largeLabs(200000)
	huge := largeLab("security_groups:\n  - id: sg-a\n    ingress:\n", 1800000, ruleItem)
	cases = append(cases, struct {
		name string
		data []byte
		want string
	}{"100 MB", huge, "big.yaml:128:9: security_groups[sg-a].ingress[120]: 1800000 rules"})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var l *lab.Lab
			var err error
			alloc := allocated(func() { l, err = Parse("big.yaml", c.data) })
			var list lab.ErrorList
			if l != nil || !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("Parse = %v, %.300v; want one error", l, err)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("error %.300q, want it to start %q", err, c.want)
			}
			t.Logf("%d bytes, %d allocated (%.2f×)", len(c.data), alloc, float64(alloc)/float64(len(c.data)))
			if limit := 4<<20 + 10*uint64(len(c.data)); alloc > limit {
				t.Errorf("Parse allocated %d bytes for %d bytes of input, over %d", alloc, len(c.data), limit)
			}
		})
	}
	if len(huge) < 100<<20 {
		t.Errorf("the huge file is %d bytes, want 100 MB", len(huge))
	}
}

// TestPrescanAgrees checks on smaller files of the same shapes that what
// the count before the tree refuses, the tree refuses too.
func TestPrescanAgrees(t *testing.T) {
	for _, c := range largeLabs(6000) {
		if errs := prescan("big.yaml", c.data); errs == nil {
			t.Errorf("%s: not refused before the tree", c.name)
		}
		if _, err := parseTree("big.yaml", c.data); err == nil {
			t.Errorf("%s: refused before the tree only", c.name)
		}
	}
}

// BenchmarkParseAccepted parses a lab within its quotas, 2,400 groups of
// one rule each, and reports the bytes allocated per byte of the file.
func BenchmarkParseAccepted(b *testing.B) {
	data := largeLab("security_groups:\n", 2400, func(b []byte, i int) []byte {
		return append(num(append(b, "  - id: sg-"...), i), "\n    ingress:\n      - {protocol: tcp, ports: 22, cidr: 10.0.0.0/8}\n"...)
	})
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var alloc uint64
	for b.Loop() {
		alloc += allocated(func() {
			if _, err := Parse("ok.yaml", data); err != nil {
				b.Fatal(err)
			}
		})
	}
	b.ReportMetric(float64(alloc)/float64(b.N)/float64(len(data)), "alloc/byte")
}
