package labfile

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
)

// normalize clears what Marshal does not carry (File, Line) and makes nil
// and empty slices alike, walking v (a pointer) in place.
func normalize(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			normalize(v.Elem())
		}
	case reflect.Struct:
		if v.Type().PkgPath() == "net/netip" {
			return
		}
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if name := v.Type().Field(i).Name; name == "Line" || name == "File" {
				f.SetZero()
				continue
			}
			normalize(f)
		}
	case reflect.Slice:
		if v.IsNil() && v.CanSet() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			normalize(v.Index(i))
		}
	}
}

func roundTrip(t *testing.T, name string, l *lab.Lab) {
	t.Helper()
	out, err := Marshal(l)
	if err != nil {
		t.Fatalf("%s: Marshal: %v", name, err)
	}
	back, err := Parse(name+" (marshalled)", out)
	if err != nil {
		t.Fatalf("%s: the marshalled lab does not parse: %v\n%s", name, err, out)
	}
	normalize(reflect.ValueOf(l))
	normalize(reflect.ValueOf(back))
	if !reflect.DeepEqual(l, back) {
		t.Errorf("%s: the marshalled lab reads back differently:\n%s", name, out)
		for _, pair := range []struct {
			what string
			a, b any
		}{
			{"vpc", l.VPC, back.VPC}, {"subnets", l.Subnets, back.Subnets}, {"acls", l.NetworkACLs, back.NetworkACLs},
			{"prefix lists", l.PrefixLists, back.PrefixLists}, {"groups", l.SecurityGroups, back.SecurityGroups},
			{"instances", l.Instances, back.Instances}, {"internet", l.Internet, back.Internet},
			{"quotas", l.Quotas, back.Quotas}, {"settings", l.Settings, back.Settings}, {"flow logs", l.FlowLogs, back.FlowLogs},
			{"filters", l.MirrorFilters, back.MirrorFilters}, {"targets", l.MirrorTargets, back.MirrorTargets},
			{"sessions", l.MirrorSessions, back.MirrorSessions},
		} {
			if !reflect.DeepEqual(pair.a, pair.b) {
				t.Errorf("%s differ", pair.what)
			}
		}
	}
}

// TestMarshalRoundTrip: every lab in the repository reads back from
// Marshal's output as the same lab.
func TestMarshalRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("../../testdata/policy/labs/*.yaml")
	files = append(files, more...)
	files = append(files, "testdata/lab.json")
	if len(files) < 5 {
		t.Fatalf("found only %v", files)
	}
	roundTrip(t, "example", ExampleLab())
	valid := 0
	for _, f := range files {
		l, err := Load(f)
		if err != nil {
			continue // one of the labs the policy tests expect to be refused
		}
		roundTrip(t, f, l)
		valid++
	}
	if valid < 15 {
		t.Errorf("only %d valid labs among %v", valid, files)
	}
}

// TestMarshalByHand: a Lab built in code, as an importer builds one, with
// only what it knows; a group without egress rules stays without them.
func TestMarshalByHand(t *testing.T) {
	l := &lab.Lab{
		VPC:     lab.VPC{ID: "vpc-1", CIDR: netip.MustParsePrefix("10.1.0.0/16")},
		Subnets: []*lab.Subnet{{ID: "subnet-1", CIDR: netip.MustParsePrefix("10.1.1.0/24")}},
		SecurityGroups: []*sg.Group{{ID: "sg-1", Description: "web: \"quoted\" # not a comment",
			Ingress: []sg.Rule{{ID: "sgr-1", Protocol: packet.ProtoTCP, FromPort: 443, ToPort: 443, CIDR: netip.MustParsePrefix("0.0.0.0/0")},
				{Protocol: packet.ProtoICMP, ICMPType: 8, ICMPCode: -1, Group: "sg-1"}}}},
		Instances: []*lab.Instance{{Name: "i-0abc", Interfaces: []*lab.Interface{{ID: "eni-1", Subnet: "subnet-1",
			IP: netip.MustParseAddr("10.1.1.10"), SecurityGroups: []string{"sg-1"}, SourceDestCheck: true}}}},
	}
	out, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("byhand.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	g := back.Group("sg-1")
	if len(g.Egress) != 0 || len(g.Ingress) != 2 || g.Ingress[0].ID != "sgr-1" || g.Ingress[1].Group != "sg-1" || g.Description != l.SecurityGroups[0].Description {
		t.Errorf("sg-1 read back as %+v\n%s", g, out)
	}
	if back.VPC.AccountID != lab.DefaultAccountID || back.Instance("i-0abc").ConntrackAllowance != lab.DefaultSettings().DefaultAllowance {
		t.Errorf("defaults not applied: %+v", back.VPC)
	}
	if !strings.Contains(string(out), "egress: []") {
		t.Errorf("no explicit empty egress list:\n%s", out)
	}
}

// TestClone: a clone equals its lab, and changing every part of the clone
// leaves the lab as it was.
func TestClone(t *testing.T) {
	l, err := Load("testdata/observe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, src := range []*lab.Lab{ExampleLab(), l} {
		before, _ := Marshal(src)
		c := src.Clone()
		if !reflect.DeepEqual(c, src) {
			t.Fatal("clone differs")
		}
		c.Subnets[0].NetworkACL = "x"
		c.NetworkACLs[0].Ingress = append(c.NetworkACLs[0].Ingress[:0], c.NetworkACLs[0].Ingress...)
		if len(c.NetworkACLs[0].Ingress) > 0 {
			c.NetworkACLs[0].Ingress[0].Rule = 1
		}
		c.SecurityGroups[0].Egress = nil
		for _, g := range c.SecurityGroups {
			if len(g.Ingress) > 0 {
				g.Ingress[0].Protocol = 99
			}
		}
		e := c.Instances[0].Interfaces[0]
		e.SecurityGroups[0] = "x"
		e.IP = netip.MustParseAddr("10.9.9.9")
		c.Instances[0].Name = "x"
		if len(c.FlowLogs) > 0 {
			c.FlowLogs[0].ID = "x"
			c.MirrorFilters[0].Ingress[0].Number = 7
			c.MirrorSessions[0].VNI = 7
			c.MirrorTargets[0].ENI = "x"
		}
		if after, _ := Marshal(src); string(after) != string(before) {
			t.Error("changing the clone changed the lab")
		}
	}
}

// TestMarshalNotUTF8: text a lab file cannot hold is refused, not changed.
func TestMarshalNotUTF8(t *testing.T) {
	l := ExampleLab()
	l.Group("sg-web").Description = "caf\xe9"
	if _, err := Marshal(l); err == nil || !strings.Contains(err.Error(), "not UTF-8") {
		t.Errorf("Marshal = %v, want a UTF-8 error", err)
	}
}
