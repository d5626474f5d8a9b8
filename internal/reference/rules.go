package reference

import (
	"net/netip"
	"slices"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
	"github.com/vpclab/vpclab/verdict"
)

// Security groups (§2).

// firstRule returns the first rule that allows p in direction dir, looking
// at the ENI's groups in their attachment order and at each group's rules
// in list order, or nil when none does (§2.1: any rule of any group).
func (ev *Evaluator) firstRule(e *lab.Interface, dir verdict.Dir, p Packet) *verdict.RuleRef {
	for _, id := range e.SecurityGroups {
		rules := groupRules(ev.lab.Group(id), dir)
		for i := range rules {
			if ev.ruleAllows(&rules[i], dir, p) {
				return &verdict.RuleRef{Group: id, Dir: dir, Index: i, ID: rules[i].ID}
			}
		}
	}
	return nil
}

// groupRules returns one direction of a group's rules.
func groupRules(g *sg.Group, dir verdict.Dir) []sg.Rule {
	if dir == verdict.Egress {
		return g.Egress
	}
	return g.Ingress
}

// ruleAllows reports whether rule r of direction dir allows p (§2.2):
// protocol, then ports or ICMP type and code, then the peer, which is the
// source for an inbound rule and the destination for an outbound rule.
func (ev *Evaluator) ruleAllows(r *sg.Rule, dir verdict.Dir, p Packet) bool {
	return protocolMatches(r.Protocol, p.Proto) &&
		trafficMatches(r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode, p) &&
		ev.peerMatches(r, peerOf(dir, p))
}

// peerOf returns the address a rule of direction dir matches its peer
// against.
func peerOf(dir verdict.Dir, p Packet) netip.Addr {
	if dir == verdict.Egress {
		return p.Dst
	}
	return p.Src
}

// protocolMatches: -1 is every protocol; a name and its number are the
// same protocol (the lab holds numbers only), so icmp (1) never matches
// ICMPv6 (58) (§2.2, §4.4).
func protocolMatches(ruleProto int, proto uint8) bool {
	return ruleProto == -1 || ruleProto == int(proto)
}

// trafficMatches checks what a rule or entry of protocol proto says beside
// its peer (§2.2, §4.4): TCP and UDP an inclusive destination-port range;
// ICMP and ICMPv6 a type and a code, -1 meaning any; -1 and every other
// protocol nothing (ports are ignored).
func trafficMatches(proto, fromPort, toPort, icmpType, icmpCode int, p Packet) bool {
	switch proto {
	case 6, 17:
		return fromPort <= int(p.DstPort) && int(p.DstPort) <= toPort
	case 1, 58:
		return (icmpType == -1 || icmpType == int(p.ICMPType)) &&
			(icmpCode == -1 || icmpCode == int(p.ICMPCode))
	}
	return true
}

// peerMatches reports whether address a is in a rule's peer (§2.2): a CIDR,
// any CIDR of a prefix list, or the private addresses of every ENI that has
// the referenced group attached. A CIDR of one family never holds an
// address of the other.
func (ev *Evaluator) peerMatches(r *sg.Rule, a netip.Addr) bool {
	switch {
	case r.CIDR.IsValid():
		return r.CIDR.Contains(a)
	case r.PrefixList != "":
		for _, c := range ev.lab.PrefixList(r.PrefixList).CIDRs {
			if c.Contains(a) {
				return true
			}
		}
		return false
	case r.Group != "":
		return slices.Contains(ev.members(r.Group), a)
	}
	return false
}

// members returns the private addresses of every ENI with group attached
// (§2.2): primary IPv4 and IPv6 addresses, never public ones, and (Policy,
// setting SecondaryIPsInGroupRefs) secondary IPv4 addresses.
func (ev *Evaluator) members(group string) []netip.Addr {
	var out []netip.Addr
	for _, e := range ev.lab.Interfaces() {
		if !slices.Contains(e.SecurityGroups, group) {
			continue
		}
		out = append(out, e.IP)
		if ev.lab.Settings.SecondaryIPsInGroupRefs {
			out = append(out, e.SecondaryIPs...)
		}
		out = append(out, e.IPv6...)
	}
	return out
}

// Untracked flows (§3.4).

// untracked reports whether p, allowed by a rule of direction dir on ENI e
// and with no entry there, belongs to an untracked flow (§3.4): a TCP or UDP
// packet is untracked when it qualifies as sent (an all-addresses rule of
// its direction allows it, and an all-addresses rule of the other direction
// allows its protocol on all ports) or as the reply of the reverse flow
// (the reverse packet qualifies as sent in the other direction).
//
// Policy: with the setting UntrackedAcrossGroups (default) the two rules
// may come from different groups of the ENI; without it they must come
// from one group.
func (ev *Evaluator) untracked(e *lab.Interface, dir verdict.Dir, p Packet) bool {
	if p.Proto != 6 && p.Proto != 17 {
		return false // §3.3: ICMP and other protocols are always tracked
	}
	if ev.lab.Settings.UntrackedAcrossGroups {
		return ev.qualifiesUntracked(e.SecurityGroups, dir, p)
	}
	for _, g := range e.SecurityGroups {
		if ev.qualifiesUntracked([]string{g}, dir, p) {
			return true
		}
	}
	return false
}

// qualifiesUntracked applies §3.4 to the rules of the given groups only.
func (ev *Evaluator) qualifiesUntracked(groups []string, dir verdict.Dir, p Packet) bool {
	other := verdict.Ingress
	if dir == verdict.Ingress {
		other = verdict.Egress
	}
	// As sent.
	if ev.openRuleAllows(groups, dir, p) && ev.openAllPorts(groups, other, p) {
		return true
	}
	// As the reply of the reverse flow: the reverse packet is sent in the
	// other direction.
	reverse := Packet{Src: p.Dst, Dst: p.Src, Proto: p.Proto, SrcPort: p.DstPort, DstPort: p.SrcPort}
	return ev.openRuleAllows(groups, other, reverse) && ev.openAllPorts(groups, dir, p)
}

// openRuleAllows reports whether a rule of the groups in direction dir
// whose peer is every address of p's family allows p.
func (ev *Evaluator) openRuleAllows(groups []string, dir verdict.Dir, p Packet) bool {
	for _, id := range groups {
		rules := groupRules(ev.lab.Group(id), dir)
		for i := range rules {
			if ev.isAllAddresses(&rules[i], p.Src.Is4()) && ev.ruleAllows(&rules[i], dir, p) {
				return true
			}
		}
	}
	return false
}

// openAllPorts reports whether a rule of the groups in direction dir whose
// peer is every address of p's family allows p's protocol (or all
// protocols) on all ports.
func (ev *Evaluator) openAllPorts(groups []string, dir verdict.Dir, p Packet) bool {
	for _, id := range groups {
		for _, r := range groupRules(ev.lab.Group(id), dir) {
			if !ev.isAllAddresses(&r, p.Src.Is4()) {
				continue
			}
			if r.Protocol == -1 || (r.Protocol == int(p.Proto) && r.FromPort == 0 && r.ToPort == 65535) {
				return true
			}
		}
	}
	return false
}

// isAllAddresses reports whether a rule's peer is every address of the
// family (IPv4 if v4): 0.0.0.0/0 or ::/0, or (Policy) a prefix list that
// holds it. A referenced group never is (§3.4 Policy).
func (ev *Evaluator) isAllAddresses(r *sg.Rule, v4 bool) bool {
	all := allIPv6
	if v4 {
		all = allIPv4
	}
	switch {
	case r.CIDR.IsValid():
		return r.CIDR == all
	case r.PrefixList != "":
		return slices.Contains(ev.lab.PrefixList(r.PrefixList).CIDRs, all)
	}
	return false
}

var (
	allIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	allIPv6 = netip.MustParsePrefix("::/0")
)

// Network ACLs (§4).

// naclDecide reads entries (one direction of an ACL) in ascending rule
// number and returns the first that matches p, whose peer address is peer
// (the destination outbound, the source inbound), and whether it allows
// (§4.1). When none matches, the implicit deny decides: 32767 for IPv4,
// 32768 for IPv6 (§4.2).
func naclDecide(entries []nacl.Entry, p Packet, peer netip.Addr) (rule int, allow bool) {
	sorted := slices.Clone(entries)
	slices.SortFunc(sorted, func(a, b nacl.Entry) int { return a.Rule - b.Rule })
	for _, e := range sorted {
		if e.CIDR.Addr().Is4() != peer.Is4() {
			continue // §4.3: an entry of one family never matches the other
		}
		if !e.CIDR.Contains(peer) || !protocolMatches(e.Protocol, p.Proto) {
			continue
		}
		// §4.4: an ICMPv6 entry with an IPv4 CIDR matches all types.
		icmpv6OnIPv4 := e.Protocol == 58 && e.CIDR.Addr().Is4()
		if !icmpv6OnIPv4 && !trafficMatches(e.Protocol, e.FromPort, e.ToPort, e.ICMPType, e.ICMPCode, p) {
			continue
		}
		return e.Rule, e.Allow
	}
	if peer.Is4() {
		return nacl.ImplicitDenyIPv4, false
	}
	return nacl.ImplicitDenyIPv6, false
}
