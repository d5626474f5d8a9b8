package reach

import (
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
)

// flow returns the flow of proto on the path from→to of family f whose
// src or dst names addr ("" for the first path).
func flow(t *testing.T, m *Map, from, to string, f, proto int, addr string) *Flow {
	t.Helper()
	for _, p := range m.Paths {
		if p.From != from || p.To != to || p.Family != f {
			continue
		}
		if addr != "" && !strings.Contains(strings.Join(append(p.Src, p.Dst...), " "), addr) {
			continue
		}
		for _, fl := range p.Flows {
			if fl.Number == proto {
				return fl
			}
		}
	}
	t.Fatalf("no %s flow %s → %s IPv%d %s", ProtoName(proto), from, to, f, addr)
	return nil
}

func segmentAt(fl *Flow, v uint16) *Segment {
	for _, s := range fl.Request {
		if s.Lo <= v && v <= s.Hi {
			return s
		}
	}
	return nil
}

func TestExample(t *testing.T) {
	m, err := Analyze(labfile.ExampleLab(), Query{})
	if err != nil {
		t.Fatal(err)
	}
	tcp, icmp := packet.ProtoTCP, packet.ProtoICMP
	for _, c := range []struct {
		from, to string
		f, proto int
		block    string
		open     string
	}{
		{"web1", "app1", 4, tcp, "", "8080"},
		{"app1", "db1", 4, tcp, "", "5432"},
		{"web1", "db1", 4, tcp, "", ""},
		{"db1", "app1", 4, tcp, "", ""},
		{"app1", "web1", 4, tcp, "", "80,443"},
		{"app1", "web1", 4, icmp, "", "8"},
		{"203.0.113.5", "web1", 4, tcp, "", "22,80,443"},
		{"2001:db8::5", "web1", 6, tcp, "", "80,443"},
		{"internet", "web1", 4, tcp, "203.0.113.0/24", "22,80,443"},
		{"internet", "web1", 4, tcp, "198.51.100.0/24", ""},
		{"internet", "app1", 4, tcp, "", ""},
	} {
		fl := flow(t, m, c.from, c.to, c.f, c.proto, c.block)
		got := fl.Open.Ports()
		if c.proto == icmp {
			got = fl.Open.ICMP()
		}
		if got != c.open {
			t.Errorf("%s → %s IPv%d %s %s: open %q, want %q", c.from, c.to, c.f, ProtoName(c.proto), c.block, got, c.open)
		}
	}
	// The proof of an open range and the stop of a closed one.
	s := segmentAt(flow(t, m, "web1", "app1", 4, tcp, ""), 8080)
	if by := s.Trail[len(s.Trail)-1].By; !strings.Contains(by, "sg-app ingress #0") {
		t.Errorf("web1 → app1 8080 admitted by %q, want sg-app ingress #0", by)
	}
	s = segmentAt(flow(t, m, "web1", "db1", 4, tcp, ""), 5432)
	if st := s.Stopper(); st.Stage != "nacl-ingress" || st.NACLRule != 32767 || st.ACL != "acl-db" {
		t.Errorf("web1 → db1 5432 stopped by %+v, want acl-db rule 32767 at nacl-ingress", st)
	}
	s = segmentAt(flow(t, m, "internet", "app1", 4, tcp, ""), 80)
	if st := s.Stopper(); st.Stage != "route" || st.Code != "NO_ROUTE_TO_INTERNET_GATEWAY" {
		t.Errorf("internet → app1 stopped by %+v, want the route", st)
	}
	if len(m.Exempt) == 0 || m.Exempt[0].Addrs[0].String() != "10.0.0.2" {
		t.Errorf("exempt services: %+v", m.Exempt)
	}
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"web1 → app1  IPv4", "sg-app ingress #0 (line 65): tcp 8080 from sg-web", "exempt"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestQuery(t *testing.T) {
	m, err := Analyze(labfile.ExampleLab(), Query{From: []string{"web1"}, To: []string{"10.0.2.10"}, Proto: "tcp", Ports: Set{{8000, 8100}}, Family: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Paths) != 1 || len(m.Paths[0].Flows) != 1 {
		t.Fatalf("paths %+v", m.Paths)
	}
	fl := m.Paths[0].Flows[0]
	if fl.Request[0].Lo != 8000 || fl.Request[len(fl.Request)-1].Hi != 8100 || fl.Open.Ports() != "8080" {
		t.Errorf("narrowed flow %+v", fl)
	}
	if _, err := Analyze(labfile.ExampleLab(), Query{From: []string{"nosuch"}}); err == nil {
		t.Error("an unknown endpoint was accepted")
	}
	if _, err := Analyze(labfile.ExampleLab(), Query{Proto: "bogus"}); err == nil {
		t.Error("an unknown protocol was accepted")
	}
}

func TestSet(t *testing.T) {
	s := normalize([]Range{{5, 9}, {1, 3}, {4, 4}, {20, 30}})
	if s.Ports() != "1-9,20-30" {
		t.Errorf("normalize: %s", s.Ports())
	}
	if got := s.Minus(Set{{3, 25}}).Ports(); got != "1-2,26-30" {
		t.Errorf("minus: %s", got)
	}
	if got := s.Complement().Ports(); got != "0,10-19,31-65535" {
		t.Errorf("complement: %s", got)
	}
	if !s.Contains(25) || s.Contains(15) {
		t.Error("contains")
	}
	if got := (Set{{8 << 8, 8<<8 | 255}, {3 << 8, 3<<8 | 4}}).ICMP(); got != "8,3/0-4" {
		t.Errorf("icmp: %s", got)
	}
	ps := firstCover([]cover{{10, 20, 0}, {0, 100, 1}, {15, 30, 2}}, nil)
	want := []piece{{0, 9, 1}, {10, 20, 0}, {21, 100, 1}, {101, 0xffff, -1}}
	if len(ps) != len(want) {
		t.Fatalf("firstCover: %v", ps)
	}
	for i := range ps {
		if ps[i] != want[i] {
			t.Fatalf("firstCover: %v, want %v", ps, want)
		}
	}
}

// TestStopped: a stopped instance reaches nothing and nothing reaches it,
// each flow saying so at the route; the other pairs keep their answer.
func TestStopped(t *testing.T) {
	m, err := Analyze(labfile.ExampleLab(), Query{Stopped: []string{"app1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{"web1", "app1"}, {"app1", "db1"}, {"app1", "internet"}} {
		fl := flow(t, m, pair[0], pair[1], 4, packet.ProtoTCP, "")
		s := segmentAt(fl, 8080)
		if len(fl.Open) != 0 || s == nil || s.Stopper() == nil || s.Stopper().Code != "INSTANCE_STOPPED" || s.Stopper().Stage != "route" ||
			!strings.Contains(s.Stopper().By, "instance app1 is stopped") {
			t.Errorf("%s → %s: open %v, stopper %+v; want nothing open, stopped at route", pair[0], pair[1], fl.Open, s)
		}
	}
	if fl := flow(t, m, "203.0.113.5", "web1", 4, packet.ProtoTCP, ""); !fl.Open.Contains(80) {
		t.Errorf("203.0.113.5 → web1 tcp: open %v, want 80 still open", fl.Open)
	}
	var b strings.Builder
	if err := m.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"stopped (they send and receive nothing", ": app1\n", "not in this map: the conntrack allowance", "each instance's: 100000 flows"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the text lacks %q:\n%s", want, b.String())
		}
	}
	if _, err := Analyze(labfile.ExampleLab(), Query{Stopped: []string{"web9"}}); err == nil || !strings.Contains(err.Error(), `"web9" is not an instance`) {
		t.Errorf("an unknown stopped instance: %v", err)
	}
	d := Compare(mustAnalyze(t, Query{}), m)
	found := false
	for _, c := range d.Closed {
		found = found || (c.From == "web1" && c.To == "app1" && strings.Contains(c.Because, "now route: instance app1 is stopped"))
	}
	if !found || len(d.Opened) != 0 {
		t.Errorf("stopping app1: opened %d, closed %+v; want web1 → app1 closed by the stop", len(d.Opened), d.Closed)
	}
}

func mustAnalyze(t *testing.T, q Query) *Map {
	t.Helper()
	m, err := Analyze(labfile.ExampleLab(), q)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
