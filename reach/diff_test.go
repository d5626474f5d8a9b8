package reach_test

import (
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/reach"
)

// diffLabs returns the example and testdata/reach/example-new.yaml, the
// example after a change: web1 may query db1 (a NACL entry each way and
// a group rule), ssh to web1 is gone.
func diffLabs(t *testing.T) (old, new *lab.Lab) {
	t.Helper()
	new, err := lab.Load("../testdata/reach/example-new.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return lab.ExampleLab(), new
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
	l, err := lab.Load(a.Lab)
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
	m, _ := reach.Analyze(lab.ExampleLab(), reach.Query{})
	if _, err := a.Check(m); err == nil || !strings.Contains(err.Error(), `x.yaml:2: "nosuch" is not an instance`) {
		t.Errorf("an unknown endpoint: %v", err)
	}
}
