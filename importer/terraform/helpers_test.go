package terraform

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/importer"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
)

// Traffic of expected rules and entries, normalised as the importer and
// labfile.Parse normalise it.
func tcpT(from, to int) traffic {
	t := anyTraffic(packet.ProtoTCP)
	t.fromPort, t.toPort = from, to
	return t
}
func udpT(from, to int) traffic {
	t := anyTraffic(packet.ProtoUDP)
	t.fromPort, t.toPort = from, to
	return t
}
func icmpT(typ, code int) traffic {
	t := anyTraffic(packet.ProtoICMP)
	t.icmpType, t.icmpCode = typ, code
	return t
}
func icmp6T(typ, code int) traffic {
	t := anyTraffic(packet.ProtoICMPv6)
	t.icmpType, t.icmpCode = typ, code
	return t
}

var allT = anyTraffic(ec2.ProtoAll)

// sgr builds an expected rule: peer is a group id (sg-…, default), a
// prefix list id (pl-…) or a CIDR; opts are "id=sgr-…" and "desc=…".
func sgr(t traffic, peer string, opts ...string) sg.Rule {
	r := sg.Rule{Protocol: t.proto, FromPort: t.fromPort, ToPort: t.toPort, ICMPType: t.icmpType, ICMPCode: t.icmpCode}
	switch {
	case strings.HasPrefix(peer, "sg-") || peer == sg.DefaultGroupID:
		r.Group = peer
	case strings.HasPrefix(peer, "pl-"):
		r.PrefixList = peer
	default:
		r.CIDR = netip.MustParsePrefix(peer)
	}
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "id":
			r.ID = v
		case "desc":
			r.Description = v
		default:
			panic("sgr: unknown option " + o)
		}
	}
	return r
}

// ent builds an expected network ACL entry.
func ent(rule int, allow bool, t traffic, cidr string) nacl.Entry {
	return nacl.Entry{Rule: rule, Allow: allow, Protocol: t.proto, CIDR: netip.MustParsePrefix(cidr),
		FromPort: t.fromPort, ToPort: t.toPort, ICMPType: t.icmpType, ICMPCode: t.icmpCode}
}

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// iface builds an expected interface with AWS's defaults.
func iface(id, instance, subnet, ip string, groups ...string) *lab.Interface {
	return &lab.Interface{ID: id, Instance: instance, Subnet: subnet, IP: netip.MustParseAddr(ip),
		SecurityGroups: groups, SourceDestCheck: true, Conntrack: lab.DefaultConntrackTimeouts()}
}

// instance builds an expected instance with the default allowance and
// metadata mode.
func inst(name string, ifaces ...*lab.Interface) *lab.Instance {
	return &lab.Instance{Name: name, ConntrackAllowance: lab.DefaultSettings().DefaultAllowance,
		IMDS: lab.IMDSv1AndV2, Interfaces: ifaces}
}

// defaultGroup and defaultACL are the lab's built-in defaults, which an
// imported lab lists first, as labfile.Parse does.
func defaultGroup(v6 bool) *sg.Group {
	return &sg.Group{ID: sg.DefaultGroupID, Description: "default VPC security group",
		Ingress: []sg.Rule{sgr(allT, sg.DefaultGroupID)}, Egress: sg.DefaultEgress(v6)}
}

func defaultACL(v6 bool) *nacl.ACL {
	return &nacl.ACL{ID: nacl.DefaultACLID, Ingress: nacl.DefaultEntries(v6), Egress: nacl.DefaultEntries(v6)}
}

// compareLab compares got with want part by part, so that a failure names
// the object that differs.
func compareLab(t *testing.T, got, want *lab.Lab) {
	t.Helper()
	same := func(what string, g, w any) {
		t.Helper()
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %s\nwant %s", what, js(g), js(w))
		}
	}
	same("file", got.File, want.File)
	same("vpc", got.VPC, want.VPC)
	same("quotas", got.Quotas, want.Quotas)
	same("settings", got.Settings, want.Settings)
	same("internet", got.Internet, want.Internet)
	list := func(what string, n, m int, item func(i int) (string, any, any)) {
		t.Helper()
		for i := range max(n, m) {
			switch {
			case i >= n:
				_, _, w := item(i)
				t.Errorf("%s: missing %s", what, js(w))
			case i >= m:
				_, g, _ := item(i)
				t.Errorf("%s: unexpected %s", what, js(g))
			default:
				id, g, w := item(i)
				same(what+" "+id, g, w)
			}
		}
	}
	at := func(s []any, i int) any {
		if i < len(s) {
			return s[i]
		}
		return nil
	}
	idOf := func(g, w any) string {
		for _, v := range []any{w, g} {
			if v != nil {
				rv := reflect.Indirect(reflect.ValueOf(v))
				if f := rv.FieldByName("ID"); f.IsValid() {
					return f.String()
				}
				if f := rv.FieldByName("Name"); f.IsValid() {
					return f.String()
				}
			}
		}
		return "?"
	}
	for _, part := range []struct {
		what      string
		got, want []any
	}{
		{"subnet", anys(got.Subnets), anys(want.Subnets)},
		{"network ACL", anys(got.NetworkACLs), anys(want.NetworkACLs)},
		{"prefix list", anys(got.PrefixLists), anys(want.PrefixLists)},
		{"security group", anys(got.SecurityGroups), anys(want.SecurityGroups)},
		{"instance", anys(got.Instances), anys(want.Instances)},
	} {
		list(part.what, len(part.got), len(part.want), func(i int) (string, any, any) {
			g, w := at(part.got, i), at(part.want, i)
			return idOf(g, w), g, w
		})
	}
}

func anys[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// item is an expected report item: the resource, the field, and a phrase
// of the reason.
type item struct{ resource, field, reason string }

// compareItems checks that items are exactly want, in order.
func compareItems(t *testing.T, what string, items []importer.Item, want []item) {
	t.Helper()
	for i := range max(len(items), len(want)) {
		switch {
		case i >= len(items):
			t.Errorf("%s: missing %s: %s: …%s…", what, want[i].resource, want[i].field, want[i].reason)
		case i >= len(want):
			t.Errorf("%s: unexpected %s", what, items[i])
		case items[i].Resource != want[i].resource || items[i].Field != want[i].field || !strings.Contains(items[i].Reason, want[i].reason):
			t.Errorf("%s[%d]:\n got %s\nwant %s: %s: …%s…", what, i, items[i], want[i].resource, want[i].field, want[i].reason)
		}
	}
}

// roundTrip writes l with labfile.Marshal, reads it back with labfile.Parse and
// checks that the lab read is l, line numbers aside.
func roundTrip(t *testing.T, l *lab.Lab) {
	t.Helper()
	data, err := labfile.Marshal(l)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	back, err := labfile.Parse(l.File, data)
	if err != nil {
		t.Fatalf("Parse of what Marshal wrote: %v\n%s", err, data)
	}
	clearLines(back)
	// A subnet's zone the importer leaves out is the lab's default.
	for i, s := range l.Subnets {
		if i >= len(back.Subnets) {
			break
		}
		if b := back.Subnets[i]; s.AvailabilityZone == "" || s.AZID == "" {
			if b.AvailabilityZone == "" || b.AZID == "" {
				t.Errorf("subnet %s read back without a zone: %s", b.ID, js(b))
			}
			if s.AvailabilityZone == "" {
				b.AvailabilityZone = ""
			}
			if s.AZID == "" {
				b.AZID = ""
			}
		}
	}
	compareLab(t, back, l)
}

// clearLines zeroes the line numbers labfile.Parse records.
func clearLines(l *lab.Lab) {
	for _, s := range l.Subnets {
		s.Line = 0
	}
	for _, p := range l.PrefixLists {
		p.Line = 0
	}
	for _, a := range l.NetworkACLs {
		a.Line = 0
		for _, es := range [][]nacl.Entry{a.Ingress, a.Egress} {
			for i := range es {
				es[i].Line = 0
			}
		}
	}
	for _, g := range l.SecurityGroups {
		g.Line = 0
		for _, rs := range [][]sg.Rule{g.Ingress, g.Egress} {
			for i := range rs {
				rs[i].Line = 0
			}
		}
	}
	for _, in := range l.Instances {
		in.Line = 0
		for _, e := range in.Interfaces {
			e.Line = 0
		}
	}
}

// stateJSON writes a state document holding resources in its root
// module: each is an address and its values ("data." addresses are data
// sources).
func stateJSON(t *testing.T, resources ...any) []byte {
	t.Helper()
	var list []map[string]any
	for i := 0; i+1 < len(resources); i += 2 {
		addr := resources[i].(string)
		mode, rest := "managed", addr
		if after, ok := strings.CutPrefix(addr, "data."); ok {
			mode, rest = "data", after
		}
		typ, name, _ := strings.Cut(rest, ".")
		name, _, _ = strings.Cut(name, "[")
		list = append(list, map[string]any{"address": addr, "mode": mode, "type": typ, "name": name,
			"provider_name": "registry.terraform.io/hashicorp/aws", "schema_version": 0,
			"values": resources[i+1], "sensitive_values": map[string]any{}})
	}
	data, err := json.Marshal(map[string]any{"format_version": "1.0", "terraform_version": "1.9.5",
		"values": map[string]any{"root_module": map[string]any{"resources": list}}})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// obj is shorthand for resource values in stateJSON.
type obj = map[string]any
