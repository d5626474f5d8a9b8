package reference

// The machinery every differential test shares: running one Packet through
// the engine, comparing its verdict with the reference's result, and
// collecting disagreements by kind so that a run reports every kind once,
// with one full example, instead of stopping at the first.

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// specOf returns the packet.Spec that builds p's bytes.
func specOf(p Packet) packet.Spec {
	return packet.Spec{
		Src: p.Src, Dst: p.Dst, Proto: p.Proto,
		SrcPort: p.SrcPort, DstPort: p.DstPort, TCPFlags: p.TCPFlags,
		ICMPType: p.ICMPType, ICMPCode: p.ICMPCode, ICMPID: p.ICMPID,
		TTL: p.TTL,
	}
}

// wire returns p as raw IP bytes, appended to buf. An ICMP error carries
// its Quote (IP header and transport header, or 8 payload bytes when the
// quoted protocol has no header packet.Spec builds) after its 8-byte ICMP
// header, as RFC 792 and RFC 4443 put it.
func wire(p Packet, buf []byte) []byte {
	s := specOf(p)
	if p.Quote == nil {
		return s.Append(buf)
	}
	qs := specOf(*p.Quote)
	if !hasTransportHeader(*p.Quote) {
		qs.Payload = 8
	}
	q := qs.Append(nil)
	s.Payload = len(q)
	b := s.Append(buf)
	copy(b[len(b)-len(q):], q)
	return b
}

// hasTransportHeader reports whether packet.Spec gives p a transport header.
func hasTransportHeader(p Packet) bool {
	return p.Proto == 6 || p.Proto == 17 || (p.Proto == 1 && p.Src.Is4()) || (p.Proto == 58 && p.Src.Is6())
}

// runEngine judges p with the engine at time now.
// runEngine runs one packet through the engine; with trace, the verdict
// carries every stage (and the engine does not use its NACL verdict cache,
// which runs without a trace, as on the packet path).
func runEngine(eng *dataplane.Engine, p Packet, now time.Duration, buf []byte, trace bool) verdict.Verdict {
	from := verdict.PortNone
	switch p.From {
	case FromInternet:
		from = verdict.PortInternet
	case FromService:
		from = verdict.PortService
	default:
		if port, ok := eng.Port(p.From); ok {
			from = port
		}
	}
	var v verdict.Verdict
	if trace {
		v.Trace = &verdict.Trace{}
	}
	eng.Process(from, wire(p, buf[:0]), int64(now), &v)
	return v
}

// difference is how an engine verdict and a reference result disagree.
type difference struct {
	// decision is set when Allowed, Stage or Code differ: the two now
	// hold different conntrack state, so a sequence stops there.
	decision bool
	// kind names the disagreement for grouping, without addresses.
	kind string
	// detail lists every differing field.
	detail string
}

// compare compares an engine verdict with a reference result field by
// field: the decision (Allowed, Stage, Code), then the fields naming what
// decided (ENI, ACL, NACLRule, SG rule).
func compare(v *verdict.Verdict, r *Result) *difference {
	if v.Allowed != r.Allowed || v.Stage != r.Stage || v.Code != r.Code {
		return &difference{
			decision: true,
			kind: fmt.Sprintf("decision: engine %s/%s allowed=%v, reference %s/%s allowed=%v",
				v.Stage, v.Code, v.Allowed, r.Stage, r.Code, r.Allowed),
			detail: fmt.Sprintf("engine:    %s\nreference: %s", verdictString(v), r),
		}
	}
	var fields []string
	if v.ENI != r.ENI {
		fields = append(fields, fmt.Sprintf("ENI (engine %q, reference %q)", v.ENI, r.ENI))
	}
	if v.ACL != r.ACL || v.NACLRule != r.NACLRule {
		fields = append(fields, fmt.Sprintf("ACL rule (engine %s %d, reference %s %d)", v.ACL, v.NACLRule, r.ACL, r.NACLRule))
	}
	if !sameRule(v.SG, r.SG) {
		fields = append(fields, fmt.Sprintf("SG rule (engine %s, reference %s)", refString(v.SG), refString(r.SG)))
	}
	if len(fields) == 0 {
		return nil
	}
	// Group by stage and by which fields are set on each side.
	kind := fmt.Sprintf("fields at %s/%s:", v.Stage, v.Code)
	if v.ENI != r.ENI {
		kind += fmt.Sprintf(" ENI engine-set=%v ref-set=%v", v.ENI != "", r.ENI != "")
	}
	if v.ACL != r.ACL || v.NACLRule != r.NACLRule {
		kind += fmt.Sprintf(" ACL engine-set=%v ref-set=%v", v.NACLRule != 0, r.NACLRule != 0)
	}
	if !sameRule(v.SG, r.SG) {
		kind += fmt.Sprintf(" SG engine-set=%v ref-set=%v", v.SG != nil, r.SG != nil)
	}
	return &difference{kind: kind, detail: strings.Join(fields, "\n")}
}

// sameRule compares two rule references by group, direction and index
// (the rule id is not always known).
func sameRule(a, b *verdict.RuleRef) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Group == b.Group && a.Dir == b.Dir && a.Index == b.Index
}

func refString(r *verdict.RuleRef) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%s/%s[%d]", r.Group, r.Dir, r.Index)
}

func verdictString(v *verdict.Verdict) string {
	s := fmt.Sprintf("allowed=%v stage=%v code=%v", v.Allowed, v.Stage, v.Code)
	if v.ENI != "" {
		s += " eni=" + v.ENI
	}
	if v.ACL != "" || v.NACLRule != 0 {
		s += fmt.Sprintf(" acl=%s rule=%d", v.ACL, v.NACLRule)
	}
	if v.SG != nil {
		s += " sg=" + refString(v.SG)
	}
	return s
}

func traceString(t *verdict.Trace) string {
	if t == nil {
		return ""
	}
	var b strings.Builder
	for _, s := range t.Steps {
		fmt.Fprintf(&b, "    %s pass=%v code=%s eni=%s acl=%s rule=%d sg=%s untracked=%v new-entry=%v\n",
			s.Stage, s.Pass, s.Code, s.ENI, s.ACL, s.NACLRule, refString(s.SG), s.Untracked, s.NewEntry)
	}
	return b.String()
}

// packetString formats p on one line.
func packetString(p Packet) string {
	var s string
	switch {
	case p.Proto == 6:
		s = fmt.Sprintf("tcp %s -> %s [%s]", netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort), flagString(p.TCPFlags))
	case p.Proto == 17:
		s = fmt.Sprintf("udp %s -> %s", netip.AddrPortFrom(p.Src, p.SrcPort), netip.AddrPortFrom(p.Dst, p.DstPort))
	case p.Proto == 1 || p.Proto == 58:
		s = fmt.Sprintf("icmp(%d) %s -> %s type %d code %d id %d", p.Proto, p.Src, p.Dst, p.ICMPType, p.ICMPCode, p.ICMPID)
	default:
		s = fmt.Sprintf("proto %d %s -> %s", p.Proto, p.Src, p.Dst)
	}
	s = fmt.Sprintf("from %s: %s ttl %d", p.From, s, p.TTL)
	if p.Quote != nil {
		s += " quoting {" + packetString(*p.Quote) + "}"
	}
	return s
}

func flagString(f uint8) string {
	var out []string
	for i, n := range []string{"FIN", "SYN", "RST", "PSH", "ACK", "URG"} {
		if f&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, "|")
}

// mismatches collects disagreements by kind.
type mismatches struct {
	kinds map[string]*kindCount
	order []string
	total int
}

type kindCount struct {
	n       int
	example string
}

func newMismatches() *mismatches { return &mismatches{kinds: map[string]*kindCount{}} }

// add records one disagreement; example is called only for the first of
// its kind.
func (m *mismatches) add(d *difference, example func() string) {
	m.total++
	k := m.kinds[d.kind]
	if k == nil {
		k = &kindCount{example: example()}
		m.kinds[d.kind] = k
		m.order = append(m.order, d.kind)
	}
	k.n++
}

// report fails t with every kind of disagreement: a count and the first
// example of each.
func (m *mismatches) report(t *testing.T, what string) {
	t.Helper()
	if m.total == 0 {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d disagreements between engine and reference, %d kinds:\n", what, m.total, len(m.order))
	order := slices.Clone(m.order)
	for _, k := range order {
		fmt.Fprintf(&b, "  %6d × %s\n", m.kinds[k].n, k)
	}
	for i, k := range order {
		fmt.Fprintf(&b, "\n==== kind %d: %s (%d)\n%s\n", i+1, k, m.kinds[k].n, m.kinds[k].example)
	}
	t.Error(b.String())
}
