package sg

import (
	"net/netip"
	"testing"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// fakeResolver knows group members; it has no prefix lists.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) PrefixList(string) []netip.Prefix { return nil }
func (f fakeResolver) Members(g string) []netip.Addr    { return f[g] }

func rule(proto, from, to int, cidr string) Rule {
	r := Rule{Protocol: proto, FromPort: from, ToPort: to, ICMPType: -1, ICMPCode: -1}
	if cidr != "" {
		r.CIDR = netip.MustParsePrefix(cidr)
	}
	return r
}

// The compiled union of an ENI's groups allows what any rule allows,
// reports the first rule in group order, and knows which rules make flows
// untracked (spec §2.1, §3.4).
func TestCompileUnionAndOpenSets(t *testing.T) {
	web := &Group{ID: "sg-web", Ingress: []Rule{
		rule(packet.ProtoTCP, 443, 443, "0.0.0.0/0"),
		{Protocol: packet.ProtoTCP, FromPort: 22, ToPort: 22, Group: "sg-admin", ICMPType: -1, ICMPCode: -1},
	}}
	all := &Group{ID: "sg-all", Ingress: []Rule{rule(-1, 0, 65535, "0.0.0.0/0")}}
	res := fakeResolver{"sg-admin": {netip.MustParseAddr("10.0.9.9")}}

	c := Compile(4, verdict.Ingress, []*Group{web, all}, res)
	if r := c.Match(packet.ProtoTCP, netip.MustParseAddr("192.0.2.1"), 443); r == nil || r.Group != "sg-web" || r.Index != 0 {
		t.Errorf("443 from anywhere: %+v, want sg-web rule 0", r)
	}
	if r := c.Match(packet.ProtoTCP, netip.MustParseAddr("10.0.9.9"), 22); r == nil || r.Group != "sg-web" || r.Index != 1 {
		t.Errorf("22 from a member of sg-admin: %+v, want sg-web rule 1", r)
	}
	if r := c.Match(packet.ProtoUDP, netip.MustParseAddr("192.0.2.1"), 53); r == nil || r.Group != "sg-all" {
		t.Errorf("udp 53: %+v, want sg-all's all-traffic rule", r)
	}
	if !c.Open.AllPortsTCP || !c.Open.AllPortsUDP {
		t.Error("sg-all allows all protocols on all ports from everywhere: want both open")
	}
	if c.ByGroup[0].AllPortsTCP || !c.ByGroup[1].AllPortsTCP {
		t.Errorf("per-group open sets: sg-web %v, sg-all %v; want false, true", c.ByGroup[0].AllPortsTCP, c.ByGroup[1].AllPortsTCP)
	}
	if c.Open.Rules.Match(packet.ProtoTCP, netip.MustParseAddr("10.0.9.9"), 22) != 1 {
		t.Error("a referenced group's rule must not count as all-addresses; the open rule of sg-all should match")
	}

	only := Compile(4, verdict.Ingress, []*Group{web}, res)
	if only.Match(packet.ProtoTCP, netip.MustParseAddr("10.0.9.8"), 22) != nil {
		t.Error("22 from a non-member: want no rule")
	}
	if only.Open.Rules.Match(packet.ProtoTCP, netip.MustParseAddr("10.0.9.9"), 22) >= 0 {
		t.Error("a referenced group never makes a flow untracked")
	}
	if v6 := Compile(6, verdict.Ingress, []*Group{web}, res); v6.Match(packet.ProtoTCP, netip.MustParseAddr("2001:db8::1"), 443) != nil {
		t.Error("an IPv4 rule matched an IPv6 packet")
	}
}
