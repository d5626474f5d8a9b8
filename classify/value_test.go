package classify

import "testing"

// A rule's range and a packet's value use one encoding: a packet falls in
// the range of exactly the rules that should match it.
func TestRuleRangeAndPacketValueAgree(t *testing.T) {
	type pkt struct {
		proto      uint8
		dport      uint16
		typ, code  uint8
		wantInside bool
	}
	cases := []struct {
		name                          string
		proto, from, to, icmpT, icmpC int
		pkts                          []pkt
	}{
		{"tcp port range", 6, 1024, 65535, -1, -1, []pkt{
			{6, 1024, 0, 0, true}, {6, 65535, 0, 0, true}, {6, 1023, 0, 0, false}}},
		{"udp single port", 17, 53, 53, -1, -1, []pkt{
			{17, 53, 0, 0, true}, {17, 54, 0, 0, false}}},
		{"icmp any", 1, 0, 0, -1, -1, []pkt{
			{1, 0, 8, 0, true}, {1, 0, 3, 4, true}, {1, 0, 255, 255, true}}},
		{"icmp type, any code", 1, 0, 0, 3, -1, []pkt{
			{1, 0, 3, 0, true}, {1, 0, 3, 255, true}, {1, 0, 4, 0, false}, {1, 0, 2, 255, false}}},
		{"icmp type and code", 1, 0, 0, 3, 4, []pkt{
			{1, 0, 3, 4, true}, {1, 0, 3, 3, false}, {1, 0, 3, 5, false}}},
		{"icmpv6 echo", 58, 0, 0, 128, -1, []pkt{
			{58, 0, 128, 0, true}, {58, 0, 129, 0, false}}},
		{"other protocol ignores ports", 47, 80, 80, -1, -1, []pkt{
			{47, 0, 0, 0, true}}},
		{"all protocols", -1, 80, 80, 3, 4, []pkt{
			{6, 22, 0, 0, true}, {1, 0, 8, 0, true}}},
	}
	for _, c := range cases {
		lo, hi := RuleRange(c.proto, c.from, c.to, c.icmpT, c.icmpC)
		for _, p := range c.pkts {
			v := PacketValue(p.proto, p.dport, p.typ, p.code)
			if inside := lo <= v && v <= hi; inside != p.wantInside {
				t.Errorf("%s: packet %+v value %#x in %#x..%#x = %v, want %v", c.name, p, v, lo, hi, inside, p.wantInside)
			}
		}
	}
}
