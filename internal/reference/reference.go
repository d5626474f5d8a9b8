package reference

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

// Where a packet enters, besides an ENI (named by its id).
const (
	FromInternet = "internet" // through the internet gateway
	FromService  = "service"  // from a VPC service (DNS, IMDS, DHCP, …; spec §6)
)

// Packet is one decoded packet and where it enters.
type Packet struct {
	// From is the id of the ENI that sends the packet, FromInternet or
	// FromService.
	From string
	// Src and Dst are both IPv4 or both IPv6.
	Src, Dst netip.Addr
	// Proto is the IP protocol number.
	Proto uint8
	// SrcPort and DstPort are the TCP or UDP ports.
	SrcPort, DstPort uint16
	// TCPFlags are the TCP header's flag bits (FIN 1, SYN 2, RST 4, PSH 8,
	// ACK 16, URG 32).
	TCPFlags uint8
	// ICMPType and ICMPCode are the ICMP or ICMPv6 type and code; ICMPID is
	// the identifier of an echo request or reply.
	ICMPType, ICMPCode uint8
	ICMPID             uint16
	// TTL is the IPv4 TTL or IPv6 hop limit; 0 means 64, as in packet.Spec.
	TTL uint8
	// Quote is the packet an ICMP error quotes, or nil.
	Quote *Packet
}

// Result is the fate of one packet, with the meaning of verdict.Verdict's
// fields of the same names.
type Result struct {
	// Allowed is true when the packet is delivered.
	Allowed bool
	// Stage decided: for a drop the stage that dropped the packet, for a
	// delivery the last stage that let it through.
	Stage verdict.Stage
	// Code explains the decision of Stage.
	Code verdict.Code
	// ENI is the interface whose stage decided (security group, source
	// check, conntrack allowance); empty for other stages.
	ENI string
	// ACL and NACLRule name the deciding network-ACL entry when Stage is a
	// network-ACL stage (NACLRule 32767 or 32768 for the implicit deny).
	ACL      string
	NACLRule int
	// SG is the first rule that matched when Stage is a security-group
	// stage and a rule (not a conntrack entry) decided.
	SG *verdict.RuleRef
	// Trace tells, step by step, why: one line per stage the packet met.
	Trace []string
}

// Evaluator judges packets against a lab, keeping the connection-tracking
// entries of every ENI between packets.
type Evaluator struct {
	lab *lab.Lab
	// tables holds each ENI's tracked flows, by ENI id (spec §3.1: the
	// entry is kept on that ENI).
	tables map[string]map[flowKey]*entry
}

// New returns an evaluator of l, which must come from labfile.Load or labfile.Parse.
func New(l *lab.Lab) *Evaluator {
	ev := &Evaluator{tables: map[string]map[flowKey]*entry{}}
	ev.Apply(l)
	return ev
}

// Apply replaces the lab, as of the time of the last Judge. The tracked
// flows of ENIs that remain (by id) survive the change (spec §3.5: a rule
// change does not cut a tracked flow); those of ENIs that are gone go with
// them. The rules, network ACLs and timeouts of l apply from the next packet
// on, to the entries that are live then too.
func (ev *Evaluator) Apply(l *lab.Lab) {
	ev.lab = l
	for id := range ev.tables {
		if l.Interface(id) == nil {
			delete(ev.tables, id)
		}
	}
}

// Judge decides the fate of p at time now (on any clock that only moves
// forward) and records the connection-tracking entries a delivered packet
// needs. It follows the path of one packet, spec §5, step by step.
func (ev *Evaluator) Judge(p Packet, now time.Duration) Result {
	var r Result
	l := ev.lab

	// Flows idle past their timeouts are no longer tracked (§3.6).
	ev.expire(now)

	// §5 step 1 (parse) is the engine's alone: p is already decoded.

	// §5 step 2: the source check. An ENI with its source/destination
	// check on may only send from its own addresses.
	var src *lab.Interface
	switch p.From {
	case FromInternet:
		// Reading: the internet gateway brings in only packets from outside
		// the VPC; a source inside the VPC or at a VPC service address
		// (§6) is spoofed.
		if ev.inVPC(p.Src) || ev.isServiceAddr(p.Src) {
			r.drop(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck, "", fmt.Sprintf("source %s cannot come from the internet", p.Src))
			return r
		}
	case FromService:
		// Reading: §6 exempts traffic "between an ENI and the VPC's own
		// service at that address": a service speaks from its address.
		if !ev.isServiceAddr(p.Src) {
			r.drop(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck, "", fmt.Sprintf("source %s is no VPC service address", p.Src))
			return r
		}
	default:
		src = l.Interface(p.From)
		if src == nil {
			r.drop(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck, "", "no ENI "+p.From)
			return r
		}
		// §6 DHCP: a client without an address yet asks from 0.0.0.0;
		// the exemption would mean nothing if the check dropped it.
		dhcpDiscover := p.Src == netip.IPv4Unspecified() && p.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) &&
			p.Proto == 17 && p.SrcPort == 68 && p.DstPort == 67
		if src.SourceDestCheck && !slices.Contains(src.Addrs(), p.Src) && !dhcpDiscover {
			r.drop(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck, src.ID, fmt.Sprintf("%s does not own source %s", src.ID, p.Src))
			return r
		}
	}
	// The destination half of the check (D only receives to its own
	// addresses) holds by construction: without route tables a packet
	// reaches an ENI only when addressed to one of its addresses.

	// Where the packet goes (§1, §6, §8).
	dst, to, code := ev.route(p, src)
	if code != verdict.CodeNone {
		r.drop(verdict.StageRoute, code, "", fmt.Sprintf("destination %s: %v", p.Dst, code))
		return r
	}

	// §5 step 3 and §6: traffic between an ENI and a VPC service bypasses
	// every stage below, in both directions; nothing else involving a
	// service address is exempt, and nothing else reaches one.
	if to == toService || p.From == FromService {
		if (src != nil && to == toService) || (p.From == FromService && dst != nil) {
			r.Allowed = true
			r.pass(verdict.StageExempt, verdict.CodeExempt, "", "", 0, nil, "between an ENI and a VPC service: exempt (§6)")
			return r
		}
		r.drop(verdict.StageRoute, verdict.CodeCannotRoute, "", "a VPC service talks only with ENIs")
		return r
	}

	// The internet gateway (§1: public subnets route to it; §5: traffic
	// from or to outside the VPC).
	switch {
	case p.From == FromInternet && to == toInternet:
		r.drop(verdict.StageRoute, verdict.CodeCannotRoute, "", "from the internet to the internet")
		return r
	case p.From == FromInternet && !l.Subnet(dst.Subnet).Public:
		r.drop(verdict.StageRoute, verdict.CodeNoInternetGateway, "", dst.Subnet+" is not public")
		return r
	case to == toInternet && !l.Subnet(src.Subnet).Public:
		r.drop(verdict.StageRoute, verdict.CodeNoInternetGateway, "", src.Subnet+" is not public")
		return r
	}

	// §8: the router decrements the TTL (hop limit) and drops at 0.
	ttl := p.TTL
	if ttl == 0 {
		ttl = 64
	}
	if ttl <= 1 {
		r.drop(verdict.StageRoute, verdict.CodeTTLExceeded, "", fmt.Sprintf("TTL %d", ttl))
		return r
	}

	// §5 step 4: S's security group, outbound.
	needSrc, needDst, srcHit := false, false, false
	if src != nil {
		ok, need := ev.sgStage(&r, src, verdict.Egress, p, now)
		if !ok {
			return r
		}
		needSrc, srcHit = need, r.Code == verdict.CodeConntrack
	}

	// §5 step 5 and §4.6: the network ACLs, only where the packet crosses
	// a subnet boundary: A's outbound list, then B's inbound list. From
	// the internet only B's; to the internet only A's.
	srcSubnet, dstSubnet := "", ""
	if src != nil {
		srcSubnet = src.Subnet
	}
	if dst != nil {
		dstSubnet = dst.Subnet
	}
	if srcSubnet == dstSubnet {
		r.note("same subnet " + srcSubnet + ": no network ACL (§4.6)")
	} else {
		if src != nil && !ev.naclStage(&r, srcSubnet, false, p) {
			return r
		}
		if dst != nil && !ev.naclStage(&r, dstSubnet, true, p) {
			return r
		}
	}

	// §5 step 6: D's security group, inbound. Reading: a packet to its own
	// ENI has one entry in one table; the egress hit was it.
	if dst != nil && src != nil && dst.ID == src.ID && srcHit {
		r.pass(verdict.StageSGIngress, verdict.CodeConntrack, dst.ID, "", 0, nil, "sg-ingress "+dst.ID+": the same tracked flow, to itself (§3.1)")
	} else if dst != nil {
		ok, need := ev.sgStage(&r, dst, verdict.Ingress, p, now)
		if !ok {
			return r
		}
		needDst = need
	}

	// §5 step 7, §3.9: the packet is delivered; the stages that needed an
	// entry get one now, if the instances' allowances hold them (§3.7).
	k := keyOf(p)
	if needSrc && src != nil && dst != nil && src.ID == dst.ID {
		needDst = false // a packet to itself: one ENI, one table, one entry
	}
	if needSrc {
		if want, left := ev.newEntries(src, k, now), ev.allowanceLeft(src.Instance, now); want > left {
			r.drop(verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded, src.ID,
				fmt.Sprintf("instance %s has no tracked flow left (§3.7)", src.Instance))
			return r
		}
	}
	if needDst {
		want := ev.newEntries(dst, k, now)
		if needSrc && src.Instance == dst.Instance {
			want += ev.newEntries(src, k, now) // both entries come out of one budget
		}
		if want > ev.allowanceLeft(dst.Instance, now) {
			r.drop(verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded, dst.ID,
				fmt.Sprintf("instance %s has no tracked flow left (§3.7)", dst.Instance))
			return r
		}
	}
	if needSrc {
		ev.track(src, k, p, now)
	}
	if needDst {
		ev.track(dst, k, p, now)
	}
	r.Allowed = true
	return r
}

// sgStage runs one direction of an ENI's security groups (§2, §3): a live
// connection-tracking entry of the flow on this ENI lets the packet through
// whatever the rules say (§3.1); otherwise a rule of any attached group must
// allow it (§2.1), and the flow needs an entry unless it is untracked
// (§3.3, §3.4). It reports whether the packet passes and whether it needs a
// new entry on this ENI.
func (ev *Evaluator) sgStage(r *Result, e *lab.Interface, dir verdict.Dir, p Packet, now time.Duration) (pass, needEntry bool) {
	stage := verdict.StageSGIngress
	if dir == verdict.Egress {
		stage = verdict.StageSGEgress
	}
	// §3.1: the flow's own entry. §3.8: an ICMP error is looked up like any
	// ICMP packet, by its own key; the entry of the flow it quotes does not
	// count (see below).
	if ev.hit(e, p, now) {
		r.pass(stage, verdict.CodeConntrack, e.ID, "", 0, nil, fmt.Sprintf("%s %s: tracked flow (§3.1)", stage, e.ID))
		return true, false
	}
	// §3.8 Policy setting: admit an ICMP error quoting a flow this ENI
	// tracks, as related traffic. Reading: like Linux's RELATED packets, it
	// neither refreshes nor changes the quoted flow's entry.
	if ev.lab.Settings.AdmitRelatedICMP && isICMPError(p) && p.Quote != nil && ev.alive(e, keyOf(*p.Quote), now) {
		r.pass(stage, verdict.CodeConntrack, e.ID, "", 0, nil, fmt.Sprintf("%s %s: ICMP error related to a tracked flow (§3.8)", stage, e.ID))
		return true, false
	}
	// §2.1: the rules.
	ref := ev.firstRule(e, dir, p)
	if ref == nil {
		r.drop(stage, verdict.CodeSGRulesMismatch, e.ID, fmt.Sprintf("%s %s: no rule allows it (§2.1)", stage, e.ID))
		return false, false
	}
	untracked := ev.untracked(e, dir, p)
	why := fmt.Sprintf("%s %s: %s %s[%d] allows it", stage, e.ID, ref.Group, ref.Dir, ref.Index)
	if untracked {
		why += ", untracked (§3.4)"
	}
	r.pass(stage, verdict.CodeSGRuleMatch, e.ID, "", 0, ref, why)
	return true, !untracked
}

// naclStage runs one direction of a subnet's network ACL (§4): inbound for
// the destination's subnet, outbound for the source's.
func (ev *Evaluator) naclStage(r *Result, subnetID string, inbound bool, p Packet) bool {
	acl := ev.lab.ACL(ev.lab.Subnet(subnetID).NetworkACL)
	stage, entries, peer := verdict.StageNACLEgress, acl.Egress, p.Dst
	if inbound {
		stage, entries, peer = verdict.StageNACLIngress, acl.Ingress, p.Src
	}
	rule, allow := naclDecide(entries, p, peer)
	if !allow {
		r.drop(stage, verdict.CodeSubnetACLRestrict, "", fmt.Sprintf("%s %s rule %d denies it", stage, acl.ID, rule))
		r.ACL, r.NACLRule = acl.ID, rule
		return false
	}
	r.pass(stage, verdict.CodeNACLAllow, "", acl.ID, rule, nil, fmt.Sprintf("%s %s rule %d allows it", stage, acl.ID, rule))
	return true
}

// pass records a stage that let the packet through: it is the deciding
// stage until a later one passes or drops the packet.
func (r *Result) pass(stage verdict.Stage, code verdict.Code, eni, acl string, rule int, ref *verdict.RuleRef, why string) {
	r.Stage, r.Code, r.ENI, r.ACL, r.NACLRule, r.SG = stage, code, eni, acl, rule, ref
	r.note(why)
}

// drop records the stage that dropped the packet. Only the fields of that
// stage are set.
func (r *Result) drop(stage verdict.Stage, code verdict.Code, eni, why string) {
	r.Allowed = false
	r.Stage, r.Code, r.ENI, r.ACL, r.NACLRule, r.SG = stage, code, eni, "", 0, nil
	r.note("DROP " + why)
}

func (r *Result) note(s string) { r.Trace = append(r.Trace, s) }

// String formats a result on one line, for test failures.
func (r Result) String() string {
	s := fmt.Sprintf("allowed=%v stage=%v code=%v", r.Allowed, r.Stage, r.Code)
	if r.ENI != "" {
		s += " eni=" + r.ENI
	}
	if r.ACL != "" || r.NACLRule != 0 {
		s += fmt.Sprintf(" acl=%s rule=%d", r.ACL, r.NACLRule)
	}
	if r.SG != nil {
		s += fmt.Sprintf(" sg=%s/%s[%d]", r.SG.Group, r.SG.Dir, r.SG.Index)
	}
	return s
}
