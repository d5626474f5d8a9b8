package reach

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/packet"
)

// Assertions is an assertion file: what may and what must reach what, in
// the policy tests' style (YAML, every error with file, line and field):
//
//	lab: lab.yaml                 # optional, relative to this file
//	expect:
//	  - web1 must not reach db1 except tcp/5432
//	  - app1 must reach db1 on tcp/5432
//	  - {from: internet, to: [app1, db1], must_not_reach: all}
//	  - {from: web1, to: app1, family: 4, must_reach: [tcp/8080]}
//
// Traffic is tcp/PORT or tcp/LO-HI (udp alike; tcp alone is every port),
// icmp/TYPE or icmp/TYPE/CODE (icmpv6 alike), a protocol number, or all.
// "*" as an end means every endpoint.
type Assertions struct {
	File string
	// Lab is the lab file named by the file, resolved against its
	// directory; empty when it names none.
	Lab    string
	Expect []*Expectation
}

// Expectation is one line of an assertion file.
type Expectation struct {
	Line     int
	Text     string // as written, or rebuilt from the mapping
	From, To []string
	Family   int
	// Must is true for must_reach, false for must_not_reach.
	Must    bool
	Traffic []Traffic
	Except  []Traffic
}

// Traffic is a protocol (-1: every protocol) and its values.
type Traffic struct {
	Proto  int
	Values Set
	Text   string
}

// LoadAssertions reads an assertion file.
func LoadAssertions(path string) (*Assertions, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseAssertions(path, data)
}

// ParseAssertions reads an assertion file's contents; file names it in
// errors.
func ParseAssertions(file string, data []byte) (*Assertions, error) {
	d := &yamlpos.Decoder{File: file}
	a := &Assertions{File: file}
	top := d.Document(data, "an assertion file holds expect: and a list of expectations", "an assertion file is one document")
	if top == nil {
		return nil, d.Errs.Err(20)
	}
	o, ok := d.Object(top, "", "an assertion file", "lab", "expect")
	if ok {
		if s, ok := d.Scalar(o.Vals["lab"], "lab", "a lab file's path"); ok {
			a.Lab = s
			if !filepath.IsAbs(s) {
				a.Lab = filepath.Join(filepath.Dir(file), s)
			}
		}
		list := d.Need(o, "expect", "a list of expectations, such as '- web1 must not reach db1 except tcp/5432'")
		if list != nil && list.Kind != yaml.SequenceNode {
			d.Errorf(list, "expect", "want a list of expectations, not %s", yamlpos.KindName(list))
		} else if list != nil {
			for i, n := range list.Content {
				if e := readExpectation(d, n, "expect["+strconv.Itoa(i)+"]"); e != nil {
					a.Expect = append(a.Expect, e)
				}
			}
		}
	}
	if len(d.Errs) > 0 {
		return nil, d.Errs.Err(20)
	}
	return a, nil
}

func readExpectation(d *yamlpos.Decoder, n *yaml.Node, field string) *Expectation {
	e := &Expectation{Line: n.Line}
	if n.Kind == yaml.ScalarNode {
		e.Text = n.Value
		if err := e.sentence(n.Value); err != nil {
			d.Errorf(n, field, "%v", err)
			return nil
		}
		return e
	}
	o, ok := d.Object(n, field, "an expectation", "from", "to", "family", "must_reach", "must_not_reach", "except")
	if !ok {
		return nil
	}
	ends := func(key string) []string {
		v := d.Need(o, key, "an instance, ENI, internet host, internet, or * for all; or a list of them")
		if v == nil {
			return nil
		}
		if v.Kind == yaml.SequenceNode {
			var out []string
			for _, x := range v.Content {
				if s, ok := d.Scalar(x, o.At(key), "an endpoint's name"); ok {
					out = append(out, s)
				}
			}
			return out
		}
		s, _ := d.Scalar(v, o.At(key), "an endpoint's name")
		return []string{s}
	}
	e.From, e.To = ends("from"), ends("to")
	if v := o.Vals["family"]; v != nil {
		f, ok := d.Integer(v, o.At("family"), "an IP family", 4, 6)
		if ok && f != 4 && f != 6 {
			d.Errorf(v, o.At("family"), "%d is not an IP family: use 4 or 6", f)
		}
		e.Family = f
	}
	must, mustNot := o.Vals["must_reach"], o.Vals["must_not_reach"]
	traffic := func(v *yaml.Node, key string) []Traffic {
		var items []*yaml.Node
		if v.Kind == yaml.SequenceNode {
			items = v.Content
		} else {
			items = []*yaml.Node{v}
		}
		var out []Traffic
		for _, x := range items {
			s, ok := d.Scalar(x, o.At(key), "traffic such as tcp/5432, udp/53, icmp/8 or all")
			if !ok {
				continue
			}
			t, err := ParseTraffic(s)
			if err != nil {
				d.Errorf(x, o.At(key), "%v", err)
				continue
			}
			out = append(out, t)
		}
		return out
	}
	switch {
	case (must == nil) == (mustNot == nil):
		d.Errorf(n, field, "give one of must_reach and must_not_reach")
		return nil
	case must != nil:
		e.Must, e.Traffic = true, traffic(must, "must_reach")
		if o.Vals["except"] != nil {
			d.Errorf(o.Key("except"), o.At("except"), "except goes with must_not_reach")
		}
	default:
		e.Traffic = traffic(mustNot, "must_not_reach")
		if x := o.Vals["except"]; x != nil {
			e.Except = traffic(x, "except")
		}
	}
	e.Text = e.String()
	return e
}

// sentence reads "A must reach B on T, T" and "A must not reach B [except
// T, T]".
func (e *Expectation) sentence(s string) error {
	w := strings.Fields(s)
	hint := `want "FROM must reach TO on TRAFFIC" or "FROM must not reach TO [except TRAFFIC, ...]"`
	if len(w) < 4 || w[1] != "must" {
		return fmt.Errorf("%q: %s", s, hint)
	}
	i := 2
	if w[i] == "not" {
		i++
	} else {
		e.Must = true
	}
	if i+1 >= len(w) || w[i] != "reach" {
		return fmt.Errorf("%q: %s", s, hint)
	}
	e.From, e.To = []string{w[0]}, []string{w[i+1]}
	rest := w[i+2:]
	var list []string
	switch {
	case len(rest) == 0 && !e.Must:
		e.Traffic = []Traffic{{Proto: -1, Values: All, Text: "all"}}
		return nil
	case len(rest) >= 2 && e.Must && rest[0] == "on":
		list = rest[1:]
	case len(rest) >= 2 && !e.Must && rest[0] == "except":
		e.Traffic = []Traffic{{Proto: -1, Values: All, Text: "all"}}
		list = rest[1:]
	default:
		return fmt.Errorf("%q: %s", s, hint)
	}
	var ts []Traffic
	for _, x := range strings.Split(strings.Join(list, ""), ",") {
		t, err := ParseTraffic(x)
		if err != nil {
			return fmt.Errorf("%q: %v", s, err)
		}
		ts = append(ts, t)
	}
	if e.Must {
		e.Traffic = ts
	} else {
		e.Except = ts
	}
	return nil
}

// ParseTraffic reads tcp/5432, tcp/1024-65535, tcp, udp/53, icmp/8,
// icmp/3/4, icmpv6/128, 47, all.
func ParseTraffic(s string) (Traffic, error) {
	t := Traffic{Text: s, Values: All}
	parts := strings.Split(strings.ToLower(s), "/")
	if parts[0] == "all" && len(parts) == 1 {
		t.Proto = -1
		return t, nil
	}
	p, ok := protoNumber(parts[0])
	if !ok {
		return t, fmt.Errorf("%q: not traffic: use tcp/PORT, tcp/LO-HI, udp/PORT, icmp/TYPE[/CODE], icmpv6/TYPE[/CODE], a protocol number or all", s)
	}
	t.Proto = p
	switch {
	case len(parts) == 1:
	case (p == packet.ProtoTCP || p == packet.ProtoUDP) && len(parts) == 2:
		r, err := ParsePorts(parts[1])
		if err != nil {
			return t, fmt.Errorf("%q: %v", s, err)
		}
		t.Values = Set{r}
	case (p == packet.ProtoICMP || p == packet.ProtoICMPv6) && len(parts) <= 3:
		typ, err := strconv.Atoi(parts[1])
		if err != nil || typ < 0 || typ > 255 {
			return t, fmt.Errorf("%q: the ICMP type is 0-255", s)
		}
		t.Values = Set{{uint16(typ) << 8, uint16(typ)<<8 | 0xff}}
		if len(parts) == 3 {
			code, err := strconv.Atoi(parts[2])
			if err != nil || code < 0 || code > 255 {
				return t, fmt.Errorf("%q: the ICMP code is 0-255", s)
			}
			v := uint16(typ)<<8 | uint16(code)
			t.Values = Set{{v, v}}
		}
	default:
		return t, fmt.Errorf("%q: only tcp and udp take ports, icmp and icmpv6 a type and code", s)
	}
	return t, nil
}

// ParsePorts reads a port or a range: 5432, 1024-65535.
func ParsePorts(s string) (Range, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err1 := strconv.Atoi(lo)
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil || a < 0 || b > 65535 || a > b {
		return Range{}, fmt.Errorf("%q is not a port or a range of ports (0-65535, such as 5432 or 1024-65535)", s)
	}
	return Range{uint16(a), uint16(b)}, nil
}

func (e *Expectation) String() string {
	words := func(ts []Traffic) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Text)
		}
		return strings.Join(s, ", ")
	}
	from, to := strings.Join(e.From, ","), strings.Join(e.To, ",")
	if e.Must {
		return fmt.Sprintf("%s must reach %s on %s", from, to, words(e.Traffic))
	}
	s := fmt.Sprintf("%s must not reach %s", from, to)
	if !(len(e.Traffic) == 1 && e.Traffic[0].Proto == -1) {
		s += " on " + words(e.Traffic)
	}
	if len(e.Except) > 0 {
		s += " except " + words(e.Except)
	}
	return s
}

// Report is the outcome of checking assertions against a map.
type Report struct {
	File    string    `json:"file"`
	Lab     string    `json:"lab"`
	Results []*Result `json:"results"`
	Passed  int       `json:"passed"`
	Failed  int       `json:"failed"`
}

// Result is one expectation's outcome: its violations, none when it holds.
type Result struct {
	Line       int          `json:"line"`
	Expect     string       `json:"expect"`
	Violations []*Violation `json:"violations,omitempty"`
}

// Violation is a path that breaks an expectation: values open that must
// not be, or values closed that must be open, with the trail at the first.
type Violation struct {
	From   string   `json:"from"`
	To     string   `json:"to"`
	Family int      `json:"family"`
	Src    []string `json:"src"`
	Dst    []string `json:"dst"`
	Proto  string   `json:"proto"`
	Values Set      `json:"values"`
	// Open is true for traffic open that must not be, false for traffic
	// that must be open and is not.
	Open  bool    `json:"open"`
	Trail []*Step `json:"trail"`
}

// Check checks a's expectations against m, which must be a whole map
// (Analyze with the zero Query).
func (a *Assertions) Check(m *Map) (*Report, error) {
	r := &Report{File: a.File, Lab: m.Lab}
	for _, e := range a.Expect {
		res := &Result{Line: e.Line, Expect: e.Text}
		for _, side := range [][]string{e.From, e.To} {
			for _, n := range side {
				if n != "*" && m.find(n) == nil {
					return nil, fmt.Errorf("%s:%d: %q is not an instance, an ENI, an internet host or \"internet\" of lab %s", a.File, e.Line, n, m.Lab)
				}
			}
		}
		for _, p := range m.Paths {
			if !m.matches(e.From, p.From) || !m.matches(e.To, p.To) || (e.Family != 0 && p.Family != e.Family) {
				continue
			}
			res.Violations = append(res.Violations, e.check(p)...)
		}
		if len(res.Violations) == 0 {
			r.Passed++
		} else {
			r.Failed++
		}
		r.Results = append(r.Results, res)
	}
	return r, nil
}

func (m *Map) find(name string) *Endpoint {
	for _, e := range m.Endpoints {
		if e.Name == name || e.ENI == name {
			return e
		}
		for _, a := range e.Addrs {
			if a.String() == name {
				return e
			}
		}
	}
	return nil
}

func (m *Map) matches(names []string, endpoint string) bool {
	for _, n := range names {
		if n == "*" || (m.find(n) != nil && m.find(n).Name == endpoint) {
			return true
		}
	}
	return false
}

// values returns what of traffic list ts concerns flow fl of path p: a
// protocol's own flow, or the "other" flow for a protocol p has no flow of.
func values(ts []Traffic, fl *Flow, p *Path) Set {
	var s Set
	for _, t := range ts {
		if (t.Proto == packet.ProtoICMP && p.Family == 6) || (t.Proto == packet.ProtoICMPv6 && p.Family == 4) {
			continue // each family has its own ICMP
		}
		if t.Proto == -1 || t.Proto == fl.Number || (fl.Number == -1 && !containsFlow(p, t.Proto)) {
			s = s.Union(t.Values)
		}
	}
	return s
}

func (e *Expectation) check(p *Path) []*Violation {
	var out []*Violation
	for _, fl := range p.Flows {
		var bad Set
		open := !e.Must
		if e.Must {
			bad = values(e.Traffic, fl, p).Minus(fl.Open)
		} else {
			bad = fl.Open.Intersect(values(e.Traffic, fl, p)).Minus(values(e.Except, fl, p))
		}
		if len(bad) == 0 {
			continue
		}
		v := &Violation{From: p.From, To: p.To, Family: p.Family, Src: p.Src, Dst: p.Dst, Proto: fl.Proto, Values: bad, Open: open}
		for _, s := range fl.Request {
			if s.Lo <= bad[0].Lo && bad[0].Lo <= s.Hi {
				v.Trail = s.Trail
			}
		}
		if !open && len(v.Trail) > 0 && v.Trail[len(v.Trail)-1].Allowed && fl.Reply != nil {
			// the request gets through: the replies are what is missing
			for _, s := range fl.Reply {
				if !s.Allowed {
					v.Trail = append(slices0(v.Trail), s.Trail...)
					break
				}
			}
		}
		out = append(out, v)
	}
	return out
}

func slices0(s []*Step) []*Step { return append([]*Step(nil), s...) }

func containsFlow(p *Path, proto int) bool {
	for _, fl := range p.Flows {
		if fl.Number == proto {
			return true
		}
	}
	return false
}

// WriteText writes each expectation with ✓ or ✗, each violation with its
// trail, and the totals.
func (r *Report) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "assertions %s against lab %s\n", r.File, r.Lab)
	for _, res := range r.Results {
		mark := "✓"
		if len(res.Violations) > 0 {
			mark = "✗"
		}
		fmt.Fprintf(b, "%s %s:%d: %s\n", mark, r.File, res.Line, res.Expect)
		for _, v := range res.Violations {
			fl := &Flow{Number: protoNum(v.Proto)}
			vals := make([]string, 0, len(v.Values))
			for _, x := range v.Values {
				vals = append(vals, fl.valueText(x))
			}
			state := "open"
			if !v.Open {
				state = "not open"
			}
			fmt.Fprintf(b, "    %s → %s IPv%d (%s → %s): %s %s %s\n", v.From, v.To, v.Family, short(v.Src), short(v.Dst), v.Proto, strings.Join(vals, ","), state)
			writeTrail(b, v.Trail, "      ")
		}
	}
	fmt.Fprintf(b, "%d passed, %d failed\n", r.Passed, r.Failed)
	_, err := io.WriteString(w, b.String())
	return err
}

func protoNum(name string) int {
	if name == "other" {
		return -1
	}
	if n, ok := protoNumber(strings.TrimPrefix(name, "proto ")); ok {
		return n
	}
	return -1
}
