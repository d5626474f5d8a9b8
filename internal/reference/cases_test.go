package reference

// Engine against reference on short hand-made sequences, one for each kind
// of disagreement the random tests found. Each pins the reference's
// reading (the outcome the spec asks for) and then requires the engine to
// agree, packet by packet.

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/verdict"
)

// outcome is a decision: delivered or not, by which stage, why.
type outcome struct {
	allowed bool
	stage   verdict.Stage
	code    verdict.Code
}

// event is one step of a sequence: a packet at a time, or (when lab is
// set) an Apply of another lab at the time of the previous packet.
type event struct {
	at   time.Duration
	p    Packet
	lab  string
	want outcome // the reference's decision, as the spec asks
}

// agree runs events through engine and reference, checking the reference
// against each event's want and the engine against the reference.
func agree(t *testing.T, labText string, events []event) {
	t.Helper()
	l := mustLab(t, labText)
	eng, ev := dataplane.New(l), New(l)
	buf := make([]byte, 0, 256)
	var last time.Duration // the time of the last packet: Apply happens then
	for i, e := range events {
		if e.lab != "" {
			l := mustLab(t, e.lab)
			eng.Apply(l, int64(last))
			ev.Apply(l)
			continue
		}
		last = e.at
		v := runEngine(eng, e.p, e.at, buf, true)
		r := ev.Judge(e.p, e.at)
		if w := e.want; r.Allowed != w.allowed || r.Stage != w.stage || r.Code != w.code {
			t.Fatalf("step %d, t=%v, %s:\nreference %s, want allowed=%v %v/%v\n  %v",
				i, e.at, packetString(e.p), r, w.allowed, w.stage, w.code, strings.Join(r.Trace, "\n  "))
		}
		if d := compare(&v, &r); d != nil {
			t.Errorf("step %d, t=%v, %s: engine and reference disagree:\n%s\nengine trace:\n%s",
				i, e.at, packetString(e.p), d.detail, traceString(v.Trace))
			if d.decision {
				return // the two now hold different state
			}
		}
	}
}

var (
	addrP1 = netip.MustParseAddr("10.0.1.21")
	addrP2 = netip.MustParseAddr("10.0.1.22")
)

// Outcomes used below.
var (
	deliveredToNet    = outcome{true, verdict.StageNACLEgress, verdict.CodeNACLAllow}
	inByEntry         = outcome{true, verdict.StageSGIngress, verdict.CodeConntrack}
	inDenied          = outcome{false, verdict.StageSGIngress, verdict.CodeSGRulesMismatch}
	noAllowance       = outcome{false, verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded}
	droppedAtNACLEgrs = outcome{false, verdict.StageNACLEgress, verdict.CodeSubnetACLRestrict}
)

// §3.7 counts tracked flows: an entry that has timed out (§3.6) is no
// longer one, and its place in the allowance is free again.
func TestCaseAllowanceFreedByExpiry(t *testing.T) {
	agree(t, specLab, []event{
		{at: 0, p: tcp("eni-p1", addrP1, 1000, addrNet, 443, tcpSYN), want: deliveredToNet},
		{at: time.Second, p: tcp("eni-p1", addrP1, 1001, addrNet, 443, tcpSYN), want: noAllowance},
		// SYN_SENT lasts 120 s: at 121 s the first flow is gone.
		{at: 121 * time.Second, p: tcp("eni-p1", addrP1, 1002, addrNet, 443, tcpSYN), want: deliveredToNet},
	})
}

// §3.9: an entry is made only for a packet actually delivered. Two ENIs of
// one instance with one flow left: p1 to p2 needs two entries, so it is
// dropped, and neither ENI may keep an entry for it.
func TestCaseNoEntryForADroppedPacket(t *testing.T) {
	agree(t, specLab, []event{
		{at: 0, p: tcp("eni-p1", addrP1, 1000, addrP2, 80, tcpSYN), want: noAllowance},
		// The allowance is untouched: one new flow still fits.
		{at: time.Second, p: tcp("eni-p1", addrP1, 1001, addrNet, 443, tcpSYN), want: deliveredToNet},
	})
}

// §3.3: ICMP is always tracked; §3.8: an ICMP error "is checked against
// the rules like any ICMP packet" — so, like any ICMP packet, it is looked
// up by its own key and, once allowed, tracked. (The quoted flow's entry
// does not let it in: see TestSpecCases.)
func TestCaseICMPErrorsAreTracked(t *testing.T) {
	unreach := func(from string, src, dst netip.Addr) Packet {
		return Packet{From: from, Src: src, Dst: dst, Proto: 1, ICMPType: 3, ICMPCode: 3}
	}
	agree(t, specLab, []event{
		// a sends a port unreachable out (all out is allowed) ...
		{at: 0, p: unreach("eni-a", addrA, addrNet), want: deliveredToNet},
		// ... and one comes back: no rule of a lets type 3 in, its entry does.
		{at: time.Second, p: unreach(FromInternet, addrNet, addrA), want: inByEntry},
	})
}

// §3.6: an idle timeout of 30 s means the entry lasts 30 s: after exactly
// 30 s of idleness the flow is no longer tracked (as in Linux, where an
// entry has expired once its timeout is reached).
func TestCaseExpiryAtExactlyTheTimeout(t *testing.T) {
	echo := Packet{From: "eni-a2", Src: addrA2, Dst: addrNet, Proto: 1, ICMPType: 8, ICMPID: 9}
	reply := Packet{From: FromInternet, Src: addrNet, Dst: addrA2, Proto: 1, ICMPType: 0, ICMPID: 9}
	agree(t, specLab, []event{
		{at: 0, p: echo, want: deliveredToNet},
		{at: 30*time.Second - time.Millisecond, p: reply, want: inByEntry},
		// Refreshed at 29.999 s; idle exactly 30 s at 59.999 s.
		{at: 60*time.Second - time.Millisecond, p: reply, want: inDenied},
	})
}

// §6: the exemption covers traffic between an ENI and the VPC's own
// service at that address; a packet entering from the services with
// another source is not that traffic.
func TestCaseServiceSpeaksFromItsAddress(t *testing.T) {
	agree(t, specLab, []event{
		{at: 0, p: tcp(FromService, netip.MustParseAddr("169.254.169.254"), 80, addrA, 40000, tcpSYN|tcpACK),
			want: outcome{true, verdict.StageExempt, verdict.CodeExempt}},
		{at: 0, p: tcp(FromService, addrNet, 80, addrA, 40000, tcpSYN|tcpACK),
			want: outcome{false, verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck}},
	})
}

// §3.6: a flow idle past its timeout is no longer tracked; an Apply that
// then raises the ENI's timeout must not bring it back.
func TestCaseNoRevivalByALongerTimeout(t *testing.T) {
	longer := strings.Replace(specLab, "tcp_established_timeout: 60", "tcp_established_timeout: 3600", 1)
	agree(t, specLab, []event{
		// An ACK from port 22 opens an ESTABLISHED entry (60 s on eni-p1).
		{at: 0, p: tcp("eni-p1", addrP1, 22, addrNet, 443, tcpACK), want: deliveredToNet},
		// 100 s later, a dropped packet (which makes no entry); then the
		// timeout goes up to 3600 s.
		{at: 100 * time.Second, p: tcp("eni-p1", addrP1, 1000, addrNet, 25, tcpSYN), want: droppedAtNACLEgrs},
		{lab: longer},
		// The answer passes acl-a (rule 100, port 22); only the expired
		// entry could let it through the default group.
		{at: 110 * time.Second, p: tcp(FromInternet, addrNet, 443, addrP1, 22, tcpACK), want: inDenied},
	})
}

// §3.8 with admit_related_icmp: an ICMP error related to a tracked flow
// is let in, but it is not a packet of that flow: it neither refreshes nor
// advances the flow's entry (as Linux treats RELATED packets).
func TestCaseRelatedICMPLeavesTheFlowAlone(t *testing.T) {
	related := strings.Replace(specLab, "vpc:", "settings: {admit_related_icmp: true}\nvpc:", 1)
	out := udp("eni-a2", addrA2, 5000, addrNet, 53)
	unreach := Packet{From: FromInternet, Src: addrNet, Dst: addrA2, Proto: 1, ICMPType: 3, ICMPCode: 3, Quote: &out}
	agree(t, related, []event{
		{at: 0, p: out, want: deliveredToNet},
		{at: 20 * time.Second, p: unreach, want: inByEntry},
		// The UDP entry (30 s) timed out at 30 s whatever came at 20 s:
		// the answer finds no entry, and sg-ssh has no UDP rule.
		{at: 40 * time.Second, p: udp(FromInternet, addrNet, 53, addrA2, 5000), want: inDenied},
	})
}

// verdict.Verdict: ACL and NACLRule name the deciding network-ACL entry
// only when Stage is a network-ACL stage. A drop for lack of allowance
// after the outbound ACL passed names none.
func TestCaseVerdictFieldsOfAnAllowanceDrop(t *testing.T) {
	agree(t, specLab, []event{
		{at: 0, p: tcp("eni-p1", addrP1, 1000, addrNet, 443, tcpSYN), want: deliveredToNet},
		{at: time.Second, p: tcp("eni-p1", addrP1, 1001, addrNet, 443, tcpSYN), want: noAllowance},
	})
}
