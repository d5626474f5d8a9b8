package nacl

import (
	"net/netip"
	"testing"
)

func entry(rule int, allow bool, proto int, cidr string, from, to int) Entry {
	return Entry{Rule: rule, Allow: allow, Protocol: proto, CIDR: netip.MustParsePrefix(cidr),
		FromPort: from, ToPort: to, ICMPType: -1, ICMPCode: -1}
}

// Entries are read by number, whatever their order in the list; the first
// match decides; nothing matching is the family's implicit deny; entries of
// the other family never match (spec §4.1–4.3).
func TestCompileFirstMatchByNumber(t *testing.T) {
	entries := []Entry{
		entry(200, true, 6, "0.0.0.0/0", 0, 65535),
		entry(100, false, 6, "10.0.0.0/8", 22, 22),
		entry(150, true, -1, "::/0", 0, 0),
	}
	v4, v6 := Compile(4, entries), Compile(6, entries)
	for _, c := range []struct {
		name      string
		c         *Compiled
		proto     uint8
		peer      string
		port      uint16
		rule      int
		wantAllow bool
	}{
		{"deny 100 read before allow 200", v4, 6, "10.1.2.3", 22, 100, false},
		{"allow 200 for other ports", v4, 6, "10.1.2.3", 80, 200, true},
		{"no UDP entry: implicit deny", v4, 17, "10.1.2.3", 53, ImplicitDenyIPv4, false},
		{"IPv6 entry matches IPv6", v6, 17, "2001:db8::1", 53, 150, true},
		{"IPv4 entries never match IPv6", v6, 6, "2001:db8::1", 22, 150, true},
	} {
		rule, allow := c.c.Match(c.proto, netip.MustParseAddr(c.peer), c.port)
		if rule != c.rule || allow != c.wantAllow {
			t.Errorf("%s: rule %d allow %v, want rule %d allow %v", c.name, rule, allow, c.rule, c.wantAllow)
		}
	}
	if got := Compile(6, entries[:2]); func() int { r, _ := got.Match(6, netip.MustParseAddr("::1"), 22); return r }() != ImplicitDenyIPv6 {
		t.Error("an IPv6 packet with only IPv4 entries: want rule 32768")
	}
	if e := v4.Entries(); len(e) != 2 || e[0].Rule != 100 || e[1].Rule != 200 {
		t.Errorf("compiled IPv4 entries %+v, want rules 100 and 200 in order", e)
	}
}
