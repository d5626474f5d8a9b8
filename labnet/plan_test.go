package labnet

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
)

// The tests of this file need no privileges.

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr  { return netip.MustParseAddr(s) }

var (
	any4 = pfx("0.0.0.0/0")
	any6 = pfx("::/0")
)

func parseLab(t *testing.T, src string) *lab.Lab {
	t.Helper()
	l, err := labfile.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("labfile.Parse: %v", err)
	}
	return l
}

// multiLab has an instance with two ENIs in two subnets (one of them /28,
// one with IPv6), secondary addresses, and no internet hosts.
const multiLab = `
vpc: {id: vpc-multi, cidr: 10.9.0.0/16, ipv6_cidr: "2001:db8:9::/56"}
subnets:
  - {id: subnet-a, cidr: 10.9.1.0/24, ipv6_cidr: "2001:db8:9:1::/64"}
  - {id: subnet-b, cidr: 10.9.2.16/28}
instances:
  - name: gw
    interfaces:
      - {id: eni-gw-a, subnet: subnet-a, ip: 10.9.1.10, secondary_ips: [10.9.1.11, 10.9.1.12], ipv6: ["2001:db8:9:1::10", "2001:db8:9:1::11"]}
      - {id: eni-gw-b, subnet: subnet-b, ip: 10.9.2.20}
  - {name: c, subnet: subnet-b, ip: 10.9.2.21}
`

func TestPlan(t *testing.T) {
	tests := []struct {
		name string
		lab  *lab.Lab
		opts Options
		want []*Namespace
	}{{
		name: "example",
		lab:  labfile.ExampleLab(),
		want: []*Namespace{{
			Name: "vpclab-vpc-example:web1", Instance: "web1",
			Links: []*Link{{
				ENI: "eni-web1", Namespace: "vpclab-vpc-example:web1", Name: "eth0", MTU: 9001,
				Addrs: []netip.Prefix{pfx("10.0.1.10/24"), pfx("2600:1f18:aa:bb01::10/64")},
				Routes: []Route{
					{Dst: any4, Via: addr("10.0.1.1"), Metric: 100},
					{Dst: any6, Via: addr("2600:1f18:aa:bb01::1"), Metric: 100},
				},
			}},
		}, {
			Name: "vpclab-vpc-example:app1", Instance: "app1",
			Links: []*Link{{
				ENI: "eni-app1", Namespace: "vpclab-vpc-example:app1", Name: "eth0", MTU: 9001,
				Addrs:  []netip.Prefix{pfx("10.0.2.10/24")},
				Routes: []Route{{Dst: any4, Via: addr("10.0.2.1"), Metric: 100}},
			}},
		}, {
			Name: "vpclab-vpc-example:db1", Instance: "db1",
			Links: []*Link{{
				ENI: "eni-db1", Namespace: "vpclab-vpc-example:db1", Name: "eth0", MTU: 9001,
				Addrs:  []netip.Prefix{pfx("10.0.3.10/24")},
				Routes: []Route{{Dst: any4, Via: addr("10.0.3.1"), Metric: 100}},
			}},
		}, {
			Name: "vpclab-vpc-example@internet",
			Links: []*Link{{
				Namespace: "vpclab-vpc-example@internet", Name: "eth0", MTU: 1500,
				Addrs:  []netip.Prefix{pfx("203.0.113.5/32"), pfx("2001:db8::5/128")},
				Routes: []Route{{Dst: any4, Metric: 100}, {Dst: any6, Metric: 100}},
			}},
		}},
	}, {
		name: "multi-ENI, options",
		lab:  parseLab(t, multiLab),
		opts: Options{ID: "m", Prefix: "t-", MTU: 1400},
		want: []*Namespace{{
			Name: "t-m:gw", Instance: "gw",
			Links: []*Link{{
				ENI: "eni-gw-a", Namespace: "t-m:gw", Name: "eth0", MTU: 1400,
				Addrs: []netip.Prefix{
					pfx("10.9.1.10/24"), pfx("10.9.1.11/24"), pfx("10.9.1.12/24"),
					pfx("2001:db8:9:1::10/64"), pfx("2001:db8:9:1::11/64"),
				},
				Routes: []Route{
					{Dst: any4, Via: addr("10.9.1.1"), Metric: 100},
					{Dst: any6, Via: addr("2001:db8:9:1::1"), Metric: 100},
				},
			}, {
				ENI: "eni-gw-b", Namespace: "t-m:gw", Name: "eth1", MTU: 1400,
				Addrs:  []netip.Prefix{pfx("10.9.2.20/28")},
				Routes: []Route{{Dst: any4, Via: addr("10.9.2.17"), Metric: 200}},
			}},
		}, {
			Name: "t-m:c", Instance: "c",
			Links: []*Link{{
				ENI: "eni-c", Namespace: "t-m:c", Name: "eth0", MTU: 1400,
				Addrs:  []netip.Prefix{pfx("10.9.2.21/28")},
				Routes: []Route{{Dst: any4, Via: addr("10.9.2.17"), Metric: 100}},
			}},
		}},
	}, {
		name: "internet IPv6 only",
		lab: parseLab(t, `
vpc: {id: vpc-6, cidr: 10.1.0.0/16}
subnets: [{id: s, cidr: 10.1.0.0/24}]
instances: [{name: a, subnet: s, ip: 10.1.0.5}]
internet: {hosts: ["2001:db8::1", "2001:db8::2"]}
`),
		opts: Options{InternetMTU: 1280},
		want: []*Namespace{{
			Name: "vpclab-vpc-6:a", Instance: "a",
			Links: []*Link{{
				ENI: "eni-a", Namespace: "vpclab-vpc-6:a", Name: "eth0", MTU: 9001,
				Addrs:  []netip.Prefix{pfx("10.1.0.5/24")},
				Routes: []Route{{Dst: any4, Via: addr("10.1.0.1"), Metric: 100}},
			}},
		}, {
			Name: "vpclab-vpc-6@internet",
			Links: []*Link{{
				Namespace: "vpclab-vpc-6@internet", Name: "eth0", MTU: 1280,
				Addrs:  []netip.Prefix{pfx("2001:db8::1/128"), pfx("2001:db8::2/128")},
				Routes: []Route{{Dst: any6, Metric: 100}},
			}},
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(tt.lab, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Namespaces) != len(tt.want) {
				t.Fatalf("%d namespaces, want %d", len(p.Namespaces), len(tt.want))
			}
			for i, ns := range p.Namespaces {
				if !reflect.DeepEqual(ns, tt.want[i]) {
					t.Errorf("namespace %d:\n got %s\nwant %s", i, dump(ns), dump(tt.want[i]))
				}
				if !p.Owns(ns.Name) {
					t.Errorf("Owns(%q) = false", ns.Name)
				}
				for _, l := range ns.Links {
					if len(l.Name) > 15 {
						t.Errorf("link name %q is longer than IFNAMSIZ-1", l.Name)
					}
				}
			}
		})
	}
}

func dump(ns *Namespace) string {
	var b strings.Builder
	b.WriteString(ns.Name + " instance=" + ns.Instance)
	for _, l := range ns.Links {
		b.WriteString("\n  " + l.Name + " " + l.Alias() + " ns=" + l.Namespace)
		for _, a := range l.Addrs {
			b.WriteString(" " + a.String())
		}
		for _, r := range l.Routes {
			b.WriteString(" [" + r.String() + "]")
		}
	}
	return b.String()
}

func TestPlanLookups(t *testing.T) {
	p, err := NewPlan(parseLab(t, multiLab), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ns := p.Instance("gw"); ns == nil || ns.Name != "vpclab-vpc-multi:gw" {
		t.Errorf("Instance(gw) = %v", ns)
	}
	if p.Instance("nope") != nil || p.Instance("") != nil {
		t.Error("Instance of an unknown name is not nil")
	}
	if p.Internet() != nil {
		t.Error("Internet() of a lab without internet hosts is not nil")
	}
	if l := p.ENI("eni-gw-b"); l == nil || l.Name != "eth1" || l.Namespace != "vpclab-vpc-multi:gw" {
		t.Errorf("ENI(eni-gw-b) = %+v", l)
	}
	if p.ENI("") != nil {
		t.Error("ENI(\"\") is not nil")
	}
	var got []string
	for _, l := range p.Links() {
		got = append(got, l.Alias())
	}
	if want := []string{"eni-gw-a", "eni-gw-b", "eni-c"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Links() = %v, want %v", got, want)
	}
	if got, want := p.LockPath(), "/run/vpclab/vpclab-vpc-multi.lock"; got != want {
		t.Errorf("LockPath() = %q, want %q", got, want)
	}
	ex, _ := NewPlan(labfile.ExampleLab(), Options{})
	if in := ex.Internet(); in == nil || in.Links[0].Alias() != "internet" {
		t.Errorf("Internet() = %v", in)
	}
}

// TestOwns checks that names are collision-safe: no lab owns another lab's
// names, whatever their ids share.
func TestOwns(t *testing.T) {
	l := parseLab(t, multiLab)
	plan := func(id string) *Plan {
		p, err := NewPlan(l, Options{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, ab := plan("a"), plan("a-b")
	for _, tt := range []struct {
		name      string
		a, ab     bool
		reasoning string
	}{
		{"vpclab-a:web1", true, false, "an instance of a"},
		{"vpclab-a@internet", true, false, "a's internet"},
		{"vpclab-a-b:web1", false, true, "an instance of a-b, not of a"},
		{"vpclab-a-b@internet", false, true, "a-b's internet"},
		{"vpclab-a:b:c", false, false, "':' cannot be in an instance name"},
		{"vpclab-a:", false, false, "no instance"},
		{"vpclab-a", false, false, "the stem alone"},
		{"vpclab-a@internet2", false, false, "not the internet"},
		{"other-a:web1", false, false, "another prefix"},
		{"vpclab-a:internet", true, false, "an instance named internet is not the internet"},
	} {
		if got := a.Owns(tt.name); got != tt.a {
			t.Errorf("lab a: Owns(%q) = %v, want %v (%s)", tt.name, got, tt.a, tt.reasoning)
		}
		if got := ab.Owns(tt.name); got != tt.ab {
			t.Errorf("lab a-b: Owns(%q) = %v, want %v (%s)", tt.name, got, tt.ab, tt.reasoning)
		}
	}
}

func TestPlanLimits(t *testing.T) {
	long := strings.Repeat("x", 64)
	l := parseLab(t, `
vpc: {id: `+long+`, cidr: 10.1.0.0/16}
subnets: [{id: s, cidr: 10.1.0.0/24}]
instances: [{name: `+long+`, subnet: s, ip: 10.1.0.5}]
`)
	p, err := NewPlan(l, Options{Prefix: strings.Repeat("p", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Namespaces[0].Name); n > 255 {
		t.Errorf("longest name has %d bytes, more than NAME_MAX", n)
	}
	for _, tt := range []struct {
		opts Options
		want string
	}{
		{Options{ID: "a:b"}, `lab id "a:b"`},
		{Options{ID: "a/b"}, `lab id "a/b"`},
		{Options{ID: ".."}, `lab id ".."`},
		{Options{ID: long + "x"}, "lab id"},
		{Options{Prefix: "x@"}, `name prefix "x@"`},
		{Options{MTU: 67}, "MTU 67"},
		{Options{InternetMTU: 65536}, "MTU 65536"},
	} {
		_, err := NewPlan(l, tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewPlan(%+v) = %v, want an error about %s", tt.opts, err, tt.want)
		}
	}
}
