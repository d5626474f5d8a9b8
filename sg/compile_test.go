package sg

import (
	"math/rand/v2"
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

// MatchOpen gives Match's rule and whether an open rule (Open.Rules) also
// allows the packet, from one lookup in small groups and from the open
// rules' own classifier in large ones: groups of 3 to 300 rules, a
// fraction of them open, a referenced group among them.
func TestMatchOpen(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	cidrs := []string{"0.0.0.0/0", "10.0.0.0/8", "10.1.0.0/16", "192.0.2.0/24", "198.51.100.7/32", "0.0.0.0/1"}
	res := fakeResolver{"sg-peer": {netip.MustParseAddr("10.1.2.3")}}
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.9"), netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("203.0.113.1")}
	tested := map[bool]int{}
	for _, n := range []int{3, 20, 64, 65, 100, 300} {
		g := &Group{ID: "sg-x"}
		for range n {
			lo := rng.IntN(2000)
			r := rule([]int{packet.ProtoTCP, packet.ProtoUDP, -1}[rng.IntN(3)], lo, lo+rng.IntN(3)*rng.IntN(1000), cidrs[rng.IntN(len(cidrs))])
			if rng.IntN(10) == 0 {
				r.CIDR, r.Group = netip.Prefix{}, "sg-peer"
			}
			g.Ingress = append(g.Ingress, r)
		}
		c := Compile(4, verdict.Ingress, []*Group{g}, res)
		for range 3000 {
			proto := []uint8{packet.ProtoTCP, packet.ProtoUDP}[rng.IntN(2)]
			peer, port := addrs[rng.IntN(len(addrs))], uint16(rng.IntN(3000))
			ref, open := c.MatchOpen(proto, peer, port)
			wantOpen := c.Open.Rules.Match(proto, peer, port) >= 0
			if want := c.Match(proto, peer, port); ref != want || open != wantOpen {
				t.Fatalf("%d rules, proto %d from %v port %d: MatchOpen = %v, %v; want %v, %v", n, proto, peer, port, ref, open, want, wantOpen)
			}
			if ref != nil {
				tested[open]++
			}
		}
	}
	if tested[true] < 100 || tested[false] < 100 {
		t.Errorf("matched packets: %d with an open rule, %d without; want both", tested[true], tested[false])
	}
}
