package nacl

import (
	"net/netip"
	"slices"

	"github.com/vpclab/vpclab/classify"
)

// Compiled is one direction of a network ACL for one IP family, ready for
// lock-free first-match lookups.
type Compiled struct {
	rules   *classify.Classifier
	entries []Entry // the family's entries, ascending by rule number
	deny    int     // the implicit deny's number
}

// Compile compiles entries (one direction of an ACL) for IP family 4 or 6.
// Entries of the other family are left out: they never match (spec §4.3).
func Compile(family int, entries []Entry) *Compiled {
	c := &Compiled{deny: ImplicitDeny(family)}
	for _, e := range entries {
		if e.CIDR.Addr().Is4() == (family == 4) {
			c.entries = append(c.entries, e)
		}
	}
	slices.SortFunc(c.entries, func(a, b Entry) int { return a.Rule - b.Rule })
	rules := make([]classify.Rule, len(c.entries))
	for i := range c.entries {
		rules[i] = Lower(family, &c.entries[i])
	}
	c.rules = classify.Compile(family, rules)
	return c
}

// Lower turns an entry of IP family 4 or 6 into a classifier rule: its
// block, protocol and match-value range.
func Lower(family int, e *Entry) classify.Rule {
	lo, hi := classify.RuleRange(e.Protocol, e.FromPort, e.ToPort, e.ICMPType, e.ICMPCode)
	if e.Protocol == 58 && family == 4 {
		lo, hi = 0, 0xffff // ICMPv6 with an IPv4 CIDR matches all types (spec §4.4)
	}
	return classify.Rule{Prefixes: []netip.Prefix{e.CIDR}, Proto: e.Protocol, Lo: lo, Hi: hi}
}

// Match returns the number of the entry that decides a packet of protocol
// proto with peer address peer and match value val (classify.PacketValue),
// and whether it allows. With no matching entry the implicit deny decides.
func (c *Compiled) Match(proto uint8, peer netip.Addr, val uint16) (rule int, allow bool) {
	i := c.rules.Match(proto, peer, val)
	if i < 0 {
		return c.deny, false
	}
	e := &c.entries[i]
	return e.Rule, e.Allow
}

// Entries returns the compiled entries in evaluation order.
func (c *Compiled) Entries() []Entry { return c.entries }
