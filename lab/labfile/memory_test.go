package labfile

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/internal/heappeak"
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

// acceptedLab is a lab within the default quotas: 2,400 groups of
// block-style rules, each with rules ingress rules and rules/3 egress
// rules.
func acceptedLab(rules int) []byte {
	return largeLab("security_groups:\n", 2400, func(b []byte, i int) []byte {
		b = append(num(append(b, "  - id: sg-"...), i), "\n    ingress:\n"...)
		for j := range rules {
			b = append(num(append(b, "      - {protocol: tcp, ports: "...), 1+j), ", cidr: 10.0.0.0/8}\n"...)
		}
		b = append(b, "    egress:\n"...)
		for j := range rules / 3 {
			b = append(num(append(b, "      - {protocol: udp, ports: "...), 1+j), ", cidr: 10.0.0.0/8}\n"...)
		}
		return b
	})
}

// TestAcceptedPeakHeap: accepting a 10 MB lab (2,400 groups of 80 rules)
// takes at most 10 times its size in live heap at any time, the lab it
// returns included. Reading the file's tree whole took 30 times (23 for
// the tree alone); the groups are read one at a time (chunk.go).
func TestAcceptedPeakHeap(t *testing.T) {
	data := acceptedLab(60)
	if len(data) < 10e6 {
		t.Fatalf("the lab is %d bytes, want 10 MB", len(data))
	}
	if _, layout := prescanLayout("ok.yaml", data); layout == nil {
		t.Fatal("the lab's groups are not read one at a time")
	}
	var l *lab.Lab
	var err error
	peak := heappeak.Live(func() { l, err = Parse("ok.yaml", data) })
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d bytes, %d groups: peak live heap %d (%.1f×)", len(data), len(l.SecurityGroups), peak, float64(peak)/float64(len(data)))
	if peak > 10*uint64(len(data)) {
		t.Errorf("peak live heap %d for %d bytes of input, over 10×", peak, len(data))
	}
}

// hostsLab is a lab of n internet hosts, a list no quota bounds, in
// block style or, flow, in JSON-like flow style.
func hostsLab(n int, flow bool) []byte {
	header, item := "internet:\n  hosts:\n", func(b []byte, i int) []byte {
		b = append(num(append(b, "    - 11."...), i>>16), '.')
		b = append(num(b, i>>8&255), '.')
		return append(num(b, i&255), '\n')
	}
	if flow {
		header, item = "internet: {hosts: [", func(b []byte, i int) []byte {
			b = append(num(append(b, "11."...), i>>16), '.')
			b = append(num(b, i>>8&255), '.')
			return append(num(b, i&255), ", "...)
		}
	}
	b := largeLab(header, n, item)
	if flow {
		b = append(b, "]}\n"...)
	}
	return b
}

// TestLongListRefused: a list no quota bounds is refused past
// maxListItems, before the tree is built, at the first item past the
// bound, and the tree refuses it too; at the bound it is accepted.
func TestLongListRefused(t *testing.T) {
	for _, flow := range []bool{false, true} {
		over := hostsLab(maxListItems+1000, flow)
		var err error
		alloc := allocated(func() { _, err = Parse("long.yaml", over) })
		want := fmt.Sprintf("long.yaml:%d:7: internet.hosts[65536]: 66536 items: a list of a lab file holds at most 65536", 65536+7)
		if flow {
			want = "long.yaml:5:"
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "internet.hosts[65536]: 66536 items") {
			t.Errorf("flow %v: Parse = %.300v, want %q", flow, err, want)
		}
		if limit := 4<<20 + 10*uint64(len(over)); alloc > limit {
			t.Errorf("flow %v: refusing %d bytes allocated %d, over %d", flow, len(over), alloc, limit)
		}
		if _, err := parseTree("long.yaml", over); err == nil || !strings.Contains(err.Error(), "internet.hosts[65536]: 66536 items: a list of a lab file holds at most 65536") {
			t.Errorf("flow %v: the tree's parser: %.300v", flow, err)
		}
		if _, err := Parse("ok.yaml", hostsLab(maxListItems, flow)); err != nil {
			t.Errorf("flow %v: %d hosts refused: %.300v", flow, maxListItems, err)
		}
	}
}

// everyChunk sets chunkMin to 0, so that every list a mapping's key holds
// (and the tags) is read one item at a time, until the test ends.
func everyChunk(t testing.TB) {
	old := chunkMin
	chunkMin = 0
	t.Cleanup(func() { chunkMin = old })
}

// TestChunkedAgrees reads the test data's labs, the policy tests' and the
// error cases, and small labs of every shape the memory tests read, with
// every list one item at a time and whole, and wants the same labs and
// the same errors.
func TestChunkedAgrees(t *testing.T) {
	everyChunk(t)
	inputs := agreeInputs(t)
	chunked := agreeChunked(t, inputs)
	if chunked < 100 {
		t.Errorf("only %d of %d inputs read their lists one item at a time", chunked, len(inputs))
	}

	// The same inputs cut, with lines repeated, moved or dropped, and
	// indicators put in or taken out at random.
	rng := rand.New(rand.NewPCG(7, 13))
	var mutated [][]byte
	for range 4000 {
		data := inputs[rng.IntN(len(inputs))]
		if len(data) > 20000 {
			continue
		}
		mutated = append(mutated, mutate(rng, data))
	}
	if n := agreeChunked(t, mutated); n < len(mutated)/10 {
		t.Errorf("only %d of %d mutated inputs read their lists one item at a time", n, len(mutated))
	}

	// A '#' right after a quote or a flow indicator: between tokens the
	// library starts a comment at it, space or not (a byte sweep of
	// testdata/lab.json found the first four).
	json, err := os.ReadFile("testdata/lab.json")
	if err != nil {
		t.Fatal(err)
	}
	var comments [][]byte
	for _, c := range []struct{ old, new string }{
		{`"subnets": [`, `"subnets"#: [`},
		{`"network_acls": [`, `"network_acls"#: [`},
		{`"security_groups": [`, `"security_groups"#: [`},
		{`"instances": [`, `"instances"#: [`},
		{`"instances": [`, `"instances": [#`},
		{`"ingress": [{`, `"ingress": [{#`},
		{`"rule": 100,`, `"rule": 100,#`},
		{`"rule": 100,`, `"rule":#`},
		{`"sg-web"]`, `"sg-web"]#`},
	} {
		m := bytes.Replace(json, []byte(c.old), []byte(c.new), 1)
		if bytes.Equal(m, json) {
			t.Fatalf("testdata/lab.json has no %q", c.old)
		}
		comments = append(comments, m)
	}
	comments = append(comments,
		[]byte(base+"security_groups:\n  - id: sg-a\n    \"ingress\":#\n      - {protocol: tcp, ports: 22, cidr: 10.0.0.0/8}\n"),
		[]byte(base+"security_groups: [#\n  {id: sg-a, ingress: [{protocol: tcp, ports: 22, cidr: 10.0.0.0/8}]}]\n"),
		[]byte(base+"security_groups:\n  - {id: sg-a, ingress: [{protocol: tcp,#\n    ports: 22, cidr: 10.0.0.0/8}]}\n"),
	)
	if n := agreeChunked(t, comments); n < len(comments)/2 {
		t.Errorf("only %d of %d inputs with comments read their lists one item at a time", n, len(comments))
	}
}

// agreeInputs are the inputs TestChunkedAgrees reads.
func agreeInputs(t *testing.T) [][]byte {
	files, _ := filepath.Glob("testdata/*.yaml")
	jsonFiles, _ := filepath.Glob("testdata/*.json")
	more, _ := filepath.Glob("../../testdata/policy/labs/*.yaml")
	var inputs [][]byte
	for _, f := range slices.Concat(files, jsonFiles, more) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, data)
	}
	for _, c := range errorCases {
		inputs = append(inputs, []byte(c.src))
	}
	for _, c := range malformed() {
		inputs = append(inputs, []byte(c.src))
	}
	inputs = append(inputs, Example(), acceptedLab(3), hostsLab(10, false), hostsLab(10, true))
	for _, style := range []string{"block", "flow", "json"} {
		inputs = append(inputs, groupsText(style, 4, 3), groupsText(style, 2, 200))
	}
	inputs = append(inputs, naclsText(3, false), naclsText(2, true), instancesText(5), tagsText(0, false)[:4000], tagsText(60, true))
	for _, c := range largeLabs(150) {
		inputs = append(inputs, c.data)
	}
	if m, err := Marshal(ExampleLab()); err == nil {
		inputs = append(inputs, m)
	}
	return inputs
}

// mutate returns a copy of data with a few random changes of the kinds
// that move the boundaries of items: lines repeated, dropped or indented,
// and YAML's indicators put in or taken out.
func mutate(rng *rand.Rand, data []byte) []byte {
	out := bytes.Clone(data)
	for range 1 + rng.IntN(3) {
		if len(out) == 0 {
			break
		}
		i := rng.IntN(len(out))
		start := bytes.LastIndexByte(out[:i], '\n') + 1
		end := bytes.IndexByte(out[i:], '\n')
		if end < 0 {
			end = len(out)
		} else {
			end += i + 1
		}
		switch rng.IntN(7) {
		case 0: // a line twice
			out = slices.Insert(out, end, out[start:end]...)
		case 1: // a line dropped
			out = slices.Delete(out, start, end)
		case 2: // a line indented
			out = slices.Insert(out, start, ' ', ' ')
		case 3: // a line less indented
			if end-start > 2 && out[start] == ' ' && out[start+1] == ' ' {
				out = slices.Delete(out, start, start+2)
			}
		case 4: // an indicator put in
			out = slices.Insert(out, i, "-,[]{}:#\"' \n"[rng.IntN(12)])
		case 5: // a byte taken out
			out = slices.Delete(out, i, i+1)
		case 6: // cut
			out = out[:i]
		}
	}
	return out
}

// agreeChunked reads each input with its lists one item at a time and
// whole, wants the same, and returns how many were read the first way.
func agreeChunked(t *testing.T, inputs [][]byte) int {
	t.Helper()
	chunked := 0
	for _, data := range inputs {
		errs, lay := prescanLayout("fuzz.yaml", data)
		if errs != nil || lay == nil {
			continue
		}
		l, err, ok := parseChunked("fuzz.yaml", data, lay)
		if !ok {
			continue
		}
		chunked++
		sameParse(t, data, l, err)
	}
	return chunked
}

// TestMappingsBounded: a mapping with more keys than any of a lab file
// knows, a resource with more than 50 tags and tags on more than 65,536
// resources are refused before the tree, at the first key past the
// bound, within 10 bytes allocated a byte; the tree refuses them too.
func TestMappingsBounded(t *testing.T) {
	keys := func(header string, n int, indent string) []byte {
		b := []byte(base + header)
		for i := range n {
			b = fmt.Appendf(b, "%sk%d: v\n", indent, i)
		}
		return b
	}
	resources := []byte(base + "tags:\n")
	for i := range maxListItems + 1 {
		resources = fmt.Appendf(resources, "  sg-%d: {Name: x}\n", i)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"unknown keys", keys("settings:\n", 200000, "  "), "big.yaml:70:3: settings: 200000 keys: a mapping of a lab file has at most 64"},
		{"top-level keys", keys("", 100, ""), "big.yaml:67:1: 102 keys: a mapping of a lab file has at most 64"},
		{"tags of one resource", keys("security_groups: [{id: sg-a}]\ntags:\n  sg-a:\n", 51, "    "), "big.yaml:58:5: tags.sg-a: 51 tags: a resource has at most 50"},
		{"tagged resources", resources, fmt.Sprintf("big.yaml:%d:3: tags: 65537 resources tagged: a lab tags at most 65536", 6+maxListItems)},
	} {
		var err error
		alloc := allocated(func() { _, err = Parse("big.yaml", c.data) })
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %.300v, want %q", c.name, err, c.want)
		}
		if limit := 4<<20 + 10*uint64(len(c.data)); alloc > limit {
			t.Errorf("%s: refusing %d bytes allocated %d, over %d", c.name, len(c.data), alloc, limit)
		}
		if prescan("big.yaml", c.data) == nil {
			t.Errorf("%s: not refused before the tree", c.name)
		}
		if _, err := parseTree("big.yaml", c.data); err == nil {
			t.Errorf("%s: refused before the tree only", c.name)
		}
	}
}

// syntaxLab is a lab file with a syntax error at line.
type syntaxLab struct {
	name string
	data []byte
	line int
}

// syntaxLabs are labs within the quotas of groups groups of 60 ingress
// and 20 egress rules (10 MB for 2,400 groups), in block style, flow
// style and JSON, one rule a line, each with one syntax error in group
// 3/4 of the way down the list, and the line the library gives: a key
// indented past its mapping's in block style (at the key's line), a
// missing comma after a rule in flow style and JSON (at the line of the
// group holding it).
func syntaxLabs(groups int) []syntaxLab {
	bad := groups * 3 / 4
	type lab = syntaxLab
	lines := func(b []byte) int { return bytes.Count(b, []byte("\n")) + 1 }
	var labs []lab
	block := []byte(base + "security_groups:\n")
	flow := []byte(base + "security_groups: [\n")
	json := []byte(`{"vpc": {"id": "vpc-j", "cidr": "10.0.0.0/16"},` + "\n" + `"security_groups": [` + "\n")
	var bl, fl, jl int
	for g := range groups {
		block = append(num(append(block, "  - id: sg-"...), g), "\n"...)
		flow = append(num(append(flow, "  {id: sg-"...), g), ","...)
		json = append(num(append(json, "\t{\"id\": \"sg-"...), g), "\","...)
		for d, dir := range []string{"ingress", "egress"} {
			block = append(block, "    "+dir+":\n"...)
			if g == bad && d == 0 {
				// The library gives a missing comma's error at the line of
				// the group it is in.
				fl, jl = lines(flow), lines(json)
			}
			flow = append(flow, "\n   "+dir+": [\n"...)
			json = append(json, "\n\t \""+dir+"\": [\n"...)
			n := 60 - 40*d
			for j := range n {
				if g == bad && d == 0 && j == 30 {
					bl = lines(block) + 1
					block = append(block, "      - protocol: tcp\n          ports: 22\n        cidr: 10.0.0.0/8\n"...)
				} else {
					block = append(num(append(block, "      - {protocol: tcp, ports: "...), 1+j), ", cidr: 10.0.0.0/8}\n"...)
				}
				flow = append(num(append(flow, "    {protocol: tcp, ports: "...), 1+j), ", cidr: 10.0.0.0/8}"...)
				json = append(num(append(json, "\t\t{\"protocol\": \"tcp\", \"ports\": "...), 1+j), ", \"cidr\": \"10.0.0.0/8\"}"...)
				switch {
				case g == bad && d == 0 && j == 30:
					flow, json = append(flow, '\n'), append(json, '\n') // no comma
				case j < n-1:
					flow, json = append(flow, ",\n"...), append(json, ",\n"...)
				}
			}
			if d == 0 {
				flow, json = append(flow, "],"...), append(json, "],"...)
			} else {
				flow, json = append(flow, "]},\n"...), append(json, "]},\n"...)
			}
		}
	}
	flow = append(flow, "]\n"...)
	json = append(bytes.TrimSuffix(json, []byte(",\n")), "\n]}\n"...)
	return append(labs, lab{"block", block, bl}, lab{"flow", flow, fl}, lab{"JSON", json, jl})
}

// TestSyntaxErrorPeakHeap: a 10 MB lab of 2,400 groups of 80 rules
// (192,000), in block style, flow style and JSON, with a syntax error
// deep inside the list of groups, is refused with the error the YAML
// library gives (its file and line; on a smaller file, the same as the
// whole tree's), in at most 10
// times the file's size in live heap: the groups are read one at a time
// and the error is found from the item failing (chunk.go), without the
// file's tree.
func TestSyntaxErrorPeakHeap(t *testing.T) {
	groups := 2400
	if testing.Short() {
		groups = 240
	}
	small := syntaxLabs(24)
	for i, c := range syntaxLabs(groups) {
		t.Run(c.name, func(t *testing.T) {
			if _, lay := prescanLayout("big.yaml", c.data); lay == nil {
				t.Fatal("the groups are not read one at a time")
			}
			var err error
			peak := heappeak.Live(func() { _, err = Parse("big.yaml", c.data) })
			t.Logf("%d bytes: %.200v; peak live heap %d (%.2f×)", len(c.data), err, peak, float64(peak)/float64(len(c.data)))
			want := fmt.Sprintf("big.yaml:%d: invalid YAML: ", c.line)
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Parse = %.300v, want %q…", err, want)
			}
			// The whole tree's error, on a smaller file (its tree is 30
			// times its size): the same.
			_, serr := Parse("small.yaml", small[i].data)
			if _, werr := parseTree("small.yaml", small[i].data); serr == nil || fmt.Sprint(werr) != fmt.Sprint(serr) {
				t.Errorf("a smaller file: %v, the whole tree: %v", serr, werr)
			}
			if peak > 10*uint64(len(c.data)) {
				t.Errorf("peak live heap %d for %d bytes of input, over 10×", peak, len(c.data))
			}
		})
	}
}
