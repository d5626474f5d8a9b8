package sg

import (
	"net/netip"

	"github.com/vpclab/vpclab/classify"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// Resolver turns a rule's named peers into addresses at compile time.
type Resolver interface {
	// PrefixList returns the CIDRs of a prefix list.
	PrefixList(id string) []netip.Prefix
	// Members returns the private addresses of every ENI that has the
	// group attached.
	Members(group string) []netip.Addr
}

// OpenSet answers the questions behind untracked flows (spec §3.4) for a
// set of rules of one direction: which packets an all-addresses rule
// allows, and whether such a rule allows a protocol on all ports.
type OpenSet struct {
	// Rules holds the rules whose peer covers every address of the
	// family (0.0.0.0/0, ::/0, or a prefix list containing it); a
	// referenced group never counts.
	Rules *classify.Classifier
	// AllPortsTCP and AllPortsUDP report an all-addresses rule allowing
	// TCP (or UDP, or all protocols) on every port.
	AllPortsTCP, AllPortsUDP bool
}

// AllPorts reports whether the set has an all-addresses, all-ports rule
// for proto (TCP or UDP).
func (o *OpenSet) AllPorts(proto uint8) bool {
	switch proto {
	case packet.ProtoTCP:
		return o.AllPortsTCP
	case packet.ProtoUDP:
		return o.AllPortsUDP
	}
	return false
}

// Compiled is the union of the rules of one direction of every group on an
// ENI, for one IP family, ready for lock-free lookups.
type Compiled struct {
	// Rules matches a packet's protocol, peer address and match value
	// (classify.PacketValue) against every rule.
	Rules *classify.Classifier
	// Refs maps a Rules index back to the rule.
	Refs []verdict.RuleRef
	// Open is the union of every group's OpenSet.
	Open OpenSet
	// ByGroup holds each group's own OpenSet, in attachment order, for the
	// setting that wants both untracked-flow rules in one group.
	ByGroup []OpenSet
}

// Match returns the first rule allowing a packet of protocol proto with
// peer address peer and match value val (classify.PacketValue), or nil.
func (c *Compiled) Match(proto uint8, peer netip.Addr, val uint16) *verdict.RuleRef {
	i := c.Rules.Match(proto, peer, val)
	if i < 0 {
		return nil
	}
	return &c.Refs[i]
}

// MatchOpen is Match, and also reports whether a rule whose peer is every
// address (one of Open.Rules) allows the packet: the first half of the
// untracked-flow test (spec §3.4) from the same lookup.
func (c *Compiled) MatchOpen(proto uint8, peer netip.Addr, val uint16) (*verdict.RuleRef, bool) {
	if c.Rules.Shape(proto) == classify.ShapeBitmap {
		// A large table: proving that no marked rule matches would visit
		// every word the two sets share with one; the open rules' own
		// classifier, far smaller, answers sooner.
		ref := c.Match(proto, peer, val)
		return ref, ref != nil && c.Open.Rules.Match(proto, peer, val) >= 0
	}
	i, open := c.Rules.MatchMarked(proto, peer, val)
	if i < 0 {
		return nil, false
	}
	return &c.Refs[i], open
}

// Compile compiles direction dir of groups (an ENI's attached groups) for
// IP family 4 or 6.
func Compile(family int, dir verdict.Dir, groups []*Group, r Resolver) *Compiled {
	c := &Compiled{ByGroup: make([]OpenSet, len(groups))}
	var all, open []classify.Rule
	for gi, g := range groups {
		list := g.Ingress
		if dir == verdict.Egress {
			list = g.Egress
		}
		var gopen []classify.Rule
		for i := range list {
			rule := &list[i]
			cr, isOpen := Lower(family, rule, r)
			if len(cr.Prefixes) == 0 {
				continue // nothing of this family
			}
			cr.Mark = isOpen // for MatchOpen
			all = append(all, cr)
			c.Refs = append(c.Refs, verdict.RuleRef{Group: g.ID, Dir: dir, Index: i, ID: rule.ID})
			if isOpen {
				open = append(open, cr)
				gopen = append(gopen, cr)
			}
		}
		c.ByGroup[gi] = newOpenSet(family, gopen)
	}
	c.Rules = classify.Compile(family, all)
	c.Open = newOpenSet(family, open)
	return c
}

func newOpenSet(family int, rules []classify.Rule) OpenSet {
	o := OpenSet{Rules: classify.Compile(family, rules)}
	for _, r := range rules {
		if r.Lo != 0 || r.Hi != 0xffff {
			continue
		}
		switch r.Proto {
		case -1: // all
			o.AllPortsTCP, o.AllPortsUDP = true, true
		case packet.ProtoTCP:
			o.AllPortsTCP = true
		case packet.ProtoUDP:
			o.AllPortsUDP = true
		}
	}
	return o
}

// Lower turns a rule into a classifier rule holding only the peer blocks
// of the family (named peers resolved by res), and reports whether the
// peer covers every address of the family (spec §3.4: a referenced group
// never does). A rule with no block of the family has no Prefixes.
func Lower(family int, r *Rule, res Resolver) (classify.Rule, bool) {
	lo, hi := classify.RuleRange(r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode)
	cr := classify.Rule{Proto: r.Protocol, Lo: lo, Hi: hi}
	open := false
	add := func(p netip.Prefix) {
		if !p.IsValid() || familyOf(p.Addr()) != family {
			return
		}
		cr.Prefixes = append(cr.Prefixes, p)
		if p.Bits() == 0 {
			open = true
		}
	}
	switch {
	case r.CIDR.IsValid():
		add(r.CIDR)
	case r.PrefixList != "":
		for _, p := range res.PrefixList(r.PrefixList) {
			add(p)
		}
	case r.Group != "":
		for _, a := range res.Members(r.Group) {
			add(netip.PrefixFrom(a, a.BitLen()))
		}
		open = false // a referenced group never makes a flow untracked
	}
	return cr, open
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
