// Package explain answers "can X reach Y on this port, and why (not)?" for
// a lab: it sends one request packet and its reply through a fresh
// dataplane engine, with tracing on, and turns each stage's decision into
// words a VPC user knows: the network-ACL entry by number, the
// security-group rule by group, direction, position and id, the conntrack
// entry, and the explanation code in AWS Reachability Analyzer's
// vocabulary (spec §5).
//
// The reply is judged after the request, by the same engine, so that it
// meets the conntrack entries the delivered request created; a request
// that was not delivered leaves none, and its reply is judged by the rules
// alone. Packets are built by policytest.Send, as the policy tests build
// them.
package explain

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/explain/describe"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/policytest"
	"github.com/vpclab/vpclab/verdict"
)

// Query is the packet to explain.
type Query struct {
	// From and To name the two ends: an instance name (its first ENI), an
	// ENI id, or an address (an ENI's, a VPC service's, or one behind the
	// internet gateway).
	From, To string
	// Proto is tcp, udp, icmp, icmpv6 or a protocol number.
	Proto string
	// Family is 4 or 6; 0 takes it from From and To when they are
	// addresses, else 4.
	Family int
	// Sport and Dport are the TCP or UDP ports; a zero Sport means
	// EphemeralPort.
	Sport, Dport int
	// Type and Code are the ICMP type and code; a nil Type means an echo
	// request.
	Type, Code *int
}

// Result is the explanation of a request and its reply.
type Result struct {
	// Lab is the lab file the packets were judged against.
	Lab string `json:"lab"`
	// Request is the packet of the query, Reply the packet coming back.
	// Reply is nil when the request has no reply (an ICMP message other
	// than an echo request).
	Request Leg  `json:"request"`
	Reply   *Leg `json:"reply,omitempty"`
}

// Leg is one packet's way through the dataplane.
type Leg struct {
	// From and To are where the packet enters the dataplane and where it
	// is going.
	From Endpoint `json:"from"`
	To   Endpoint `json:"to"`
	// Packet describes the packet's headers.
	Packet Packet `json:"packet"`
	// Steps are the stages' decisions, in order; the last one decided.
	Steps []Step `json:"steps"`
	// Allowed, Stage and Code are the final verdict (verdict.Stage and
	// verdict.Code names). Stage is the stage that dropped the packet,
	// or the last that let it through.
	Allowed bool   `json:"allowed"`
	Stage   string `json:"stage"`
	Code    string `json:"code"`
	// Verdict says it in one line, such as "DENIED at nacl-egress:
	// acl-db rule 32767 (the implicit deny) — SUBNET_ACL_RESTRICTION".
	Verdict string `json:"verdict"`
	// Note adds what the reader should know to read the leg, such as the
	// reply of an undelivered request meeting no conntrack entry.
	Note string `json:"note,omitempty"`
}

// Endpoint is one end of a packet.
type Endpoint struct {
	// Name is the end as the query named it ("web1", "10.0.1.10").
	Name string `json:"name"`
	// Port is where the packet enters or leaves: an ENI id, "internet" or
	// "vpc-service".
	Port string `json:"port"`
	// Addr is the IP address the packet uses.
	Addr string `json:"addr"`
}

// Packet is the part of a packet's headers that the filters read.
type Packet struct {
	// Family is 4 or 6, Proto the protocol's name (tcp, udp, icmp,
	// icmpv6, or "proto N"), Src and Dst the addresses.
	Family int    `json:"family"`
	Proto  string `json:"proto"`
	Src    string `json:"src"`
	Dst    string `json:"dst"`
	// Sport and Dport are set for TCP and UDP, Flags for TCP ("S", "SA").
	Sport *int   `json:"sport,omitempty"`
	Dport *int   `json:"dport,omitempty"`
	Flags string `json:"flags,omitempty"`
	// ICMPType and ICMPCode are set for ICMP and ICMPv6.
	ICMPType *int `json:"icmp_type,omitempty"`
	ICMPCode *int `json:"icmp_code,omitempty"`
	// Length is the IP packet's length in bytes.
	Length int `json:"length"`
}

// Step is one stage's decision.
type Step struct {
	// Stage is the verdict.Stage name, Allowed whether the packet went
	// on, Code the verdict.Code name.
	Stage   string `json:"stage"`
	Allowed bool   `json:"allowed"`
	Code    string `json:"code"`
	// By says what decided, in words: "acl-db rule 110: allow tcp 5432
	// from 10.0.1.0/24", "sg-web ingress #2 (sgr-0a1b, line 52): tcp 8080
	// from sg-app" (rules counted from 0), "conntrack entry on eni-web1".
	By string `json:"by"`
	// ENI is the ENI whose security group or conntrack table was read.
	ENI string `json:"eni,omitempty"`
	// ACL and NACLRule name the network-ACL entry that decided.
	ACL      string `json:"acl,omitempty"`
	NACLRule int    `json:"nacl_rule,omitempty"`
	// SGRule is the security-group rule that matched.
	SGRule *SGRule `json:"sg_rule,omitempty"`
	// Conntrack is true when a conntrack entry let the packet through;
	// NewEntry when delivering the packet created an entry for this
	// stage's ENI; Untracked when a rule allowed an untracked flow, which
	// gets no entry (spec §3.4).
	Conntrack bool `json:"conntrack,omitempty"`
	NewEntry  bool `json:"new_entry,omitempty"`
	Untracked bool `json:"untracked,omitempty"`
}

// SGRule identifies a security-group rule (describe's, shared with reach).
type SGRule = describe.SGRule

// EphemeralPort is the source port of a TCP or UDP query that gives none:
// the first of the ephemeral ports (RFC 6335), which network ACLs usually
// open for replies as 1024-65535.
const EphemeralPort = 49152

// Timestamps of the two packets on the engine's clock (ns): the reply
// follows the request by a millisecond, well within every timeout.
const (
	requestTime = int64(1e9)
	replyTime   = requestTime + 1e6
)

// Run builds the request of q and its reply, judges both with a new engine
// for l, and explains the verdicts. It fails when q names an end that l
// does not have or a packet that cannot be built.
func Run(l *lab.Lab, q Query) (*Result, error) {
	send := &policytest.Send{
		From: q.From, To: q.To, Family: q.Family, Proto: strings.ToLower(q.Proto),
		Sport: q.Sport, Dport: q.Dport, Type: q.Type, Code: q.Code,
	}
	isTCP := send.Proto == "tcp" || send.Proto == "6"
	ported := isTCP || send.Proto == "udp" || send.Proto == "17"
	if isTCP {
		send.Flags = "S"
	}
	if ported && send.Sport == 0 {
		send.Sport = EphemeralPort
	}
	e := dataplane.New(l)
	x := &explainer{l: l, snap: e.Snapshot()}
	res := &Result{Lab: l.File}

	req, delivered, err := x.leg(e, send, q.From, q.To, requestTime)
	if err != nil {
		return nil, err
	}
	res.Request = *req

	if !hasReply(send) {
		return res, nil
	}
	rev := send.Reverse()
	if isTCP {
		rev.Flags = "SA"
	}
	reply, _, err := x.leg(e, rev, q.To, q.From, replyTime)
	if err != nil {
		return nil, fmt.Errorf("the reply: %w", err)
	}
	if !delivered {
		reply.Note = "the request was not delivered, so it created no conntrack entry: the reply is judged by the rules alone"
	}
	res.Reply = reply
	return res, nil
}

// hasReply reports whether a packet gets a reply: any but an ICMP message
// other than an echo request.
func hasReply(s *policytest.Send) bool {
	switch p, _ := ec2.ParseAPIProtocol(s.Proto); p {
	case packet.ProtoICMP:
		return s.Type == nil || *s.Type == 8
	case packet.ProtoICMPv6:
		return s.Type == nil || *s.Type == 128
	}
	return true
}

// explainer turns verdicts into words, with the lab at hand to look rules
// up.
type explainer struct {
	l    *lab.Lab
	snap *dataplane.Snapshot
}

// leg builds and judges one packet.
func (x *explainer) leg(e *dataplane.Engine, s *policytest.Send, fromName, toName string, now int64) (*Leg, bool, error) {
	from, to, pkt, err := s.Packet(x.snap, nil)
	if err != nil {
		return nil, false, err
	}
	v := verdict.Verdict{Trace: &verdict.Trace{}}
	e.Process(from.Port, pkt, now, &v)

	leg := &Leg{
		From:    Endpoint{Name: fromName, Port: from.Name, Addr: from.Addr.String()},
		To:      Endpoint{Name: toName, Port: to.Name, Addr: to.Addr.String()},
		Packet:  describePacket(pkt),
		Allowed: v.Allowed,
		Stage:   v.Stage.String(),
		Code:    v.Code.String(),
	}
	for _, st := range v.Trace.Steps {
		leg.Steps = append(leg.Steps, x.step(st, &v, &leg.Packet))
	}
	switch {
	case v.Allowed && v.To == verdict.PortInternet:
		leg.Verdict = "ALLOWED: leaves through the internet gateway"
	case v.Allowed && v.To == verdict.PortService:
		leg.Verdict = "ALLOWED: delivered to the VPC service (exempt from filtering)"
	case v.Allowed && v.Code == verdict.CodeExempt:
		leg.Verdict = "ALLOWED: delivered to " + x.snap.PortName(v.To) + " (from a VPC service, exempt from filtering)"
	case v.Allowed:
		leg.Verdict = "ALLOWED: delivered to " + x.snap.PortName(v.To)
	case len(leg.Steps) > 0:
		last := leg.Steps[len(leg.Steps)-1]
		leg.Verdict = fmt.Sprintf("DENIED at %s: %s — %s", last.Stage, last.By, last.Code)
	default:
		leg.Verdict = fmt.Sprintf("DENIED at %s — %s", v.Stage, v.Code)
	}
	return leg, v.Allowed, nil
}

// step explains one stage's decision; v is the packet's final verdict, p
// the packet.
func (x *explainer) step(st verdict.Step, v *verdict.Verdict, p *Packet) Step {
	s := Step{
		Stage: st.Stage.String(), Allowed: st.Pass, Code: st.Code.String(),
		ENI: st.ENI, Untracked: st.Untracked, NewEntry: st.NewEntry && st.Pass && v.Allowed,
	}
	switch {
	case st.Code == verdict.CodeSameSubnet:
		s.By = "both ends in one subnet: its network ACL (" + describe.ACLName(st.ACL) + ") does not apply"
	case st.Stage == verdict.StageNACLEgress || st.Stage == verdict.StageNACLIngress:
		s.ACL, s.NACLRule = st.ACL, st.NACLRule
		s.By = describe.NACLEntry(x.l, st.ACL, st.NACLRule, st.Stage == verdict.StageNACLEgress, familyOf(p))
	case st.Code == verdict.CodeConntrack:
		s.Conntrack = true
		s.By = "conntrack entry on " + st.ENI
	case st.SG != nil:
		s.SGRule = describe.Rule(x.l, st.SG.Group, st.SG.Dir.String(), st.SG.Index, st.SG.ID)
		s.By = s.SGRule.String()
		if st.Untracked {
			s.By += " (untracked flow: no conntrack entry)"
		}
	case st.Code == verdict.CodeSGRulesMismatch:
		s.By = x.noSGRule(st, p)
	case st.Stage == verdict.StageParse:
		s.By = "malformed packet (" + v.Parse.String() + ")"
	default:
		s.By = x.codeWords(st, p)
	}
	return s
}

// noSGRule explains a security group that allowed nothing.
func (x *explainer) noSGRule(st verdict.Step, p *Packet) string {
	if st.Stage == verdict.StageSGEgress {
		return describe.NoSGRule(x.l, st.ENI, true, p.what(), p.Dst)
	}
	return describe.NoSGRule(x.l, st.ENI, false, p.what(), p.Src)
}

// codeWords explains the decisions that involve no rule.
func (x *explainer) codeWords(st verdict.Step, p *Packet) string {
	switch st.Code {
	case verdict.CodeExempt:
		return "traffic with a VPC service (DNS, metadata, time, DHCP, the router): no security group or network ACL applies"
	case verdict.CodeSourceDestCheck:
		if st.ENI != "" {
			return fmt.Sprintf("%s does not own source address %s and its source/destination check is on", st.ENI, p.Src)
		}
		return fmt.Sprintf("source address %s cannot come from where the packet entered", p.Src)
	case verdict.CodeCannotRoute:
		return fmt.Sprintf("nothing in the VPC takes %s, or the path is not one the VPC routes", p.Dst)
	case verdict.CodeNoBroadcast:
		return fmt.Sprintf("%s is a broadcast or multicast address: a VPC has neither", p.Dst)
	case verdict.CodeLinkLocal:
		return fmt.Sprintf("%s is link-local: the VPC does not route it", p.Dst)
	case verdict.CodeTTLExceeded:
		return "the TTL (hop limit) would reach 0"
	case verdict.CodeNoInternetGateway:
		return "the subnet has no route to the internet gateway (not public)"
	case verdict.CodeAllowanceExceeded:
		return fmt.Sprintf("the conntrack allowance of the instance of %s is used up", st.ENI)
	case verdict.CodePPSAllowanceExceeded:
		return fmt.Sprintf("the packet-rate allowance (packets per second) of the instance of %s is used up", st.ENI)
	case verdict.CodeFragmentOrphan:
		return "a later fragment whose first fragment was not seen"
	case verdict.CodeFragmentFollowing:
		return "a later fragment, following its first fragment's verdict"
	case verdict.CodeMalformed:
		return "malformed packet"
	}
	return strings.ToLower(strings.ReplaceAll(st.Code.String(), "_", " "))
}

// describePacket reads back the packet the builder made.
func describePacket(b []byte) Packet {
	var p packet.Parsed
	p.Decode(b)
	d := Packet{Family: int(p.Family), Proto: protoName(int(p.Proto)), Length: p.Length}
	if p.Src.IsValid() {
		d.Src, d.Dst = p.Src.String(), p.Dst.String()
	}
	if p.HasPorts {
		sp, dp := int(p.SrcPort), int(p.DstPort)
		d.Sport, d.Dport = &sp, &dp
	}
	if p.Proto == packet.ProtoTCP && p.HasPorts {
		d.Flags = tcpFlags(p.TCPFlags)
	}
	if p.HasICMP {
		t, c := int(p.ICMPType), int(p.ICMPCode)
		d.ICMPType, d.ICMPCode = &t, &c
	}
	return d
}

// what describes the packet's traffic: "tcp 5432", "icmp type 8 code 0".
func (p *Packet) what() string {
	switch {
	case p.Dport != nil:
		return fmt.Sprintf("%s %d", p.Proto, *p.Dport)
	case p.ICMPType != nil:
		return fmt.Sprintf("%s type %d code %d", p.Proto, *p.ICMPType, *p.ICMPCode)
	}
	return p.Proto
}

func familyOf(p *Packet) int {
	if p.Family == 6 {
		return 6
	}
	return 4
}

// tcpFlags writes TCP flags as the policy tests do: "S", "SA", "FA", "R".
func tcpFlags(f uint8) string {
	var b []byte
	for _, x := range []struct {
		bit uint8
		c   byte
	}{{packet.TCPSyn, 'S'}, {packet.TCPFin, 'F'}, {packet.TCPRst, 'R'}, {packet.TCPPsh, 'P'}, {packet.TCPAck, 'A'}, {packet.TCPUrg, 'U'}} {
		if f&x.bit != 0 {
			b = append(b, x.c)
		}
	}
	if len(b) == 0 {
		return "none"
	}
	return string(b)
}

// protoName names an IP protocol number: its name (all, tcp, udp, icmp,
// icmpv6), else "proto N".
func protoName(p int) string {
	if s, ok := ec2.ProtocolName(p); ok {
		return s
	}
	return "proto " + strconv.Itoa(p)
}
