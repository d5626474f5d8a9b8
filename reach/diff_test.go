package reach_test

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/reach"
)

// diffLabs returns the example and testdata/reach/example-new.yaml, the
// example after a change: web1 may query db1 (a NACL entry each way and
// a group rule), ssh to web1 is gone.
func diffLabs(t *testing.T) (old, new *lab.Lab) {
	t.Helper()
	new, err := labfile.Load("../testdata/reach/example-new.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return labfile.ExampleLab(), new
}

func TestCompare(t *testing.T) {
	old, new := diffLabs(t)
	mo, _ := reach.Analyze(old, reach.Query{})
	mn, _ := reach.Analyze(new, reach.Query{})
	d := reach.Compare(mo, mn)
	var opened, closed []string
	for _, c := range d.Opened {
		opened = append(opened, c.Title()+" | "+c.Because)
	}
	for _, c := range d.Closed {
		closed = append(closed, c.Title()+" | "+c.Because)
	}
	o, c := strings.Join(opened, "\n"), strings.Join(closed, "\n")
	if len(d.Opened) != 2 || !strings.Contains(o, "web1 → db1 IPv4 tcp 5432") || !strings.Contains(o, "web1 → db1 IPv4 tcp replies to source ports 1024-65535") || !strings.Contains(o, "now nacl-ingress: acl-db rule 90") {
		t.Errorf("opened:\n%s\nwant web1 → db1 tcp 5432 by acl-db rule 90", o)
	}
	for _, want := range []string{"203.0.113.5 → web1 IPv4 tcp 22", "internet → web1 IPv4 tcp 22 (203.0.113.0/24 → 10.0.1.10) | now sg-ingress: no ingress rule of sg-web on eni-web1 allows tcp 22", "was sg-web ingress #4 (line 60): tcp 22 from pl-office"} {
		if !strings.Contains(c, want) {
			t.Errorf("closed lacks %q:\n%s", want, c)
		}
	}
	if back := reach.Compare(mn, mo); len(back.Opened) != len(d.Closed) || len(back.Closed) != len(d.Opened) {
		t.Errorf("the reverse diff is not the mirror: %d/%d vs %d/%d", len(back.Opened), len(back.Closed), len(d.Closed), len(d.Opened))
	}
	if same := reach.Compare(mo, mo); len(same.Opened)+len(same.Closed) != 0 {
		t.Errorf("a lab against itself: %d opened, %d closed", len(same.Opened), len(same.Closed))
	}
}

func TestAssertions(t *testing.T) {
	a, err := reach.LoadAssertions("../testdata/reach/example-assert.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := labfile.Load(a.Lab)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reach.Analyze(l, reach.Query{})
	r, err := a.Check(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 0 || r.Passed != len(a.Expect) {
		var b strings.Builder
		r.WriteText(&b)
		t.Errorf("the example's assertions:\n%s", b.String())
	}
	// The changed lab breaks the first one, with the path and its trail.
	_, new := diffLabs(t)
	mn, _ := reach.Analyze(new, reach.Query{})
	r, _ = a.Check(mn)
	var b strings.Builder
	r.WriteText(&b)
	if r.Failed != 1 || !strings.Contains(b.String(), "✗ ../testdata/reach/example-assert.yaml:5: web1 must not reach db1") ||
		!strings.Contains(b.String(), "web1 → db1 IPv4 (10.0.1.10 → 10.0.3.10): tcp 5432 open") ||
		!strings.Contains(b.String(), "acl-db rule 90: allow tcp 5432 from 10.0.1.0/24") {
		t.Errorf("against the changed lab:\n%s", b.String())
	}
	// must_reach that fails names what stops it.
	a2, err := reach.ParseAssertions("x.yaml", []byte("expect:\n  - web1 must reach db1 on tcp/5432\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ = a2.Check(m)
	b.Reset()
	r.WriteText(&b)
	if r.Failed != 1 || !strings.Contains(b.String(), "tcp 5432 not open") || !strings.Contains(b.String(), "acl-db rule 32767 (the implicit deny)") {
		t.Errorf("a failing must_reach:\n%s", b.String())
	}
}

func TestAssertionErrors(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"expect:\n  - web1 may reach db1\n", "x.yaml:2:5: expect[0]: \"web1 may reach db1\": want"},
		{"expect:\n  - web1 must reach db1 on tcp/70000\n", "x.yaml:2:5: expect[0]"},
		{"expect:\n  - {from: a, to: b}\n", "give one of must_reach and must_not_reach"},
		{"expect:\n  - {from: a, to: b, must_reach: [tcp/22], except: [tcp/23]}\n", "except goes with must_not_reach"},
		{"expect:\n  - {from: a, to: b, must_reach: [sctp/1]}\n", "\"sctp/1\": not traffic"},
		{"expekt: []\n", "x.yaml:1:1: expekt: unknown key"},
		{"lab: x\n", "expect: missing"},
	} {
		_, err := reach.ParseAssertions("x.yaml", []byte(c.text))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.text, err, c.want)
		}
	}
	a, _ := reach.ParseAssertions("x.yaml", []byte("expect:\n  - nosuch must not reach db1\n"))
	m, _ := reach.Analyze(labfile.ExampleLab(), reach.Query{})
	if _, err := a.Check(m); err == nil || !strings.Contains(err.Error(), `x.yaml:2: "nosuch" is not an instance`) {
		t.Errorf("an unknown endpoint: %v", err)
	}
}

func exampleLab() *lab.Lab { return labfile.ExampleLab() }

// TestCompareRandom: over pairs of random labs with the same wiring (the
// second's rules drawn again), every sampled value that is open in one map
// and not in the other is in a change of the diff, and no change holds a
// value whose openness did not change.
func TestCompareRandom(t *testing.T) {
	opened := 0
	for seed := uint64(0); seed < 60; seed++ {
		g := &gen{rand.New(rand.NewPCG(seed, 7))}
		textA := g.lab()
		textB := mutate(g, textA)
		la, errA := labfile.Parse("a.yaml", []byte(textA))
		lb, errB := labfile.Parse("b.yaml", []byte(textB))
		if errA != nil || errB != nil {
			continue // a mutation the loader refuses (a duplicate rule number, say)
		}
		ma, _ := reach.Analyze(la, reach.Query{})
		mb, _ := reach.Analyze(lb, reach.Query{})
		d := reach.Compare(ma, mb)
		opened += checkChanges(t, seed, mb, ma, d.Opened, "opened")
		opened += checkChanges(t, seed, ma, mb, d.Closed, "closed")
		if t.Failed() {
			t.Fatalf("A:\n%s\nB:\n%s", textA, textB)
		}
	}
	if opened < 20 {
		t.Fatalf("the mutations opened only %d sampled values: the test does not exercise the diff", opened)
	}
	t.Logf("%d sampled values opened or closed, each in the diff", opened)
}

// checkChanges checks that the values sampled on in's paths that are
// open in in and not in out are exactly those of the changes cs.
func checkChanges(t *testing.T, seed uint64, in, out *reach.Map, cs []*reach.Change, what string) int {
	t.Helper()
	n := 0
	for _, p := range in.Paths {
		for _, fl := range p.Flows {
			for _, v := range []uint16{0, 22, 80, 443, 1024, 5432, 8080, 33000, 65535, 8 << 8, 128 << 8} {
				src, dst := firstOf(p.Src), firstOf(p.Dst)
				changed := fl.Open.Contains(v) && !openAt(out, p.From, p.To, p.Family, fl.Proto, src, dst, v)
				listed := inChanges(cs, p, fl.Proto, src, dst, v)
				if changed != listed {
					t.Errorf("seed %d: %s → %s IPv%d %s %d from %s to %s: changed %v, %s in the diff %v", seed, p.From, p.To, p.Family, fl.Proto, v, src, dst, changed, what, listed)
					return n
				}
				if listed {
					n++
				}
			}
		}
	}
	return n
}

// mutate changes a lab's rules: NACL actions flipped, ports widened or
// moved, peers opened to everyone.
func mutate(g *gen, text string) string {
	lines := strings.Split(text, "\n")
	var rules []int
	for i, l := range lines {
		if strings.Contains(l, "protocol:") {
			rules = append(rules, i)
		}
	}
	for range 4 {
		if len(rules) == 0 {
			break
		}
		i := pick(g, rules)
		l := lines[i]
		switch {
		case strings.Contains(l, "action: deny"):
			l = strings.Replace(l, "action: deny", "action: allow", 1)
		case strings.Contains(l, "action: allow") && g.chance(0.3):
			l = strings.Replace(l, "action: allow", "action: deny", 1)
		case strings.Contains(l, "ports: ") && g.chance(0.5):
			for _, pr := range portRanges {
				if strings.Contains(l, "ports: "+pr+",") {
					l = strings.Replace(l, "ports: "+pr+",", "ports: "+pick(g, []string{"all", "1024-65535", "22", "80-8080"})+",", 1)
					break
				}
			}
		case strings.Contains(l, "cidr: \""):
			start := strings.Index(l, "cidr: \"") + len("cidr: \"")
			end := start + strings.Index(l[start:], "\"")
			any := "0.0.0.0/0"
			if strings.Contains(l[start:end], ":") {
				any = "::/0"
			}
			l = l[:start] + any + l[end:]
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

func firstOf(labels []string) netip.Addr {
	if p, err := netip.ParsePrefix(labels[0]); err == nil {
		return p.Masked().Addr()
	}
	a, _ := netip.ParseAddr(labels[0])
	return a
}

func holdsAddr(labels []string, a netip.Addr) bool {
	for _, l := range labels {
		if p, err := netip.ParsePrefix(l); err == nil && p.Contains(a) {
			return true
		}
		if l == a.String() {
			return true
		}
	}
	return false
}

func openAt(m *reach.Map, from, to string, f int, proto string, src, dst netip.Addr, v uint16) bool {
	for _, p := range m.Paths {
		if p.From == from && p.To == to && p.Family == f && holdsAddr(p.Src, src) && holdsAddr(p.Dst, dst) {
			for _, fl := range p.Flows {
				if fl.Proto == proto {
					return fl.Open.Contains(v)
				}
			}
		}
	}
	return false
}

func inChanges(cs []*reach.Change, p *reach.Path, proto string, src, dst netip.Addr, v uint16) bool {
	for _, c := range cs {
		if c.From == p.From && c.To == p.To && c.Family == p.Family && c.Proto == proto && !c.Replies &&
			c.Values.Contains(v) && holdsAddr(c.Src, src) && holdsAddr(c.Dst, dst) {
			return true
		}
	}
	return false
}
