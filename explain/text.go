package explain

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// WriteText writes the explanation for people: each packet's header line,
// its stages as a table aligned across both packets (stage, decision,
// code, what decided), and its verdict.
//
//	request  web1 (eni-web1) → db1 (eni-db1)
//	         tcp 10.0.1.10:49152 → 10.0.3.10:5432 [S]
//	  sg-egress    allow  SG_RULE_MATCH           sg-web egress #1: all traffic to 0.0.0.0/0 → new conntrack entry
//	  nacl-egress  deny   SUBNET_ACL_RESTRICTION  acl-web rule 32767 (the implicit deny)
//	  DENIED at nacl-egress: acl-web rule 32767 (the implicit deny) — SUBNET_ACL_RESTRICTION
func (r *Result) WriteText(w io.Writer) error {
	legs := []*Leg{&r.Request}
	if r.Reply != nil {
		legs = append(legs, r.Reply)
	}
	var cols columns
	for _, l := range legs {
		for _, s := range l.Steps {
			cols.stage = max(cols.stage, len(s.Stage))
			cols.code = max(cols.code, len(s.Code))
		}
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "lab %s\n", r.Lab)
	for i, l := range legs {
		b.WriteByte('\n')
		l.write(b, [2]string{"request", "reply"}[i], cols)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// columns are the widths of the stage and code columns, shared by both
// legs so that their tables line up.
type columns struct{ stage, code int }

func (l *Leg) write(w io.Writer, title string, cols columns) {
	fmt.Fprintf(w, "%-8s %s → %s\n", title, l.From.label(), l.To.label())
	fmt.Fprintf(w, "%-8s %s\n", "", l.Packet.String())
	if l.Note != "" {
		fmt.Fprintf(w, "%-8s (%s)\n", "", l.Note)
	}
	for _, s := range l.Steps {
		decision := "deny"
		if s.Allowed {
			decision = "allow"
		}
		by := s.By
		if s.NewEntry {
			by += " → new conntrack entry"
		}
		fmt.Fprintf(w, "  %-*s  %-5s  %-*s  %s\n", cols.stage, s.Stage, decision, cols.code, s.Code, by)
	}
	fmt.Fprintf(w, "  %s\n", l.Verdict)
}

// label returns "web1 (eni-web1)", or just the port when the query named
// the ENI or the address itself.
func (e Endpoint) label() string {
	switch e.Name {
	case e.Port, "":
		return e.Port
	case e.Addr:
		return e.Addr + " (" + e.Port + ")"
	}
	return e.Name + " (" + e.Port + ")"
}

// String returns "tcp 10.0.1.10:49152 → 10.0.3.10:5432 [S]",
// "icmp 10.0.1.10 → 10.0.3.10 type 8 code 0" and the like.
func (p Packet) String() string {
	src, dst := p.Src, p.Dst
	if p.Sport != nil {
		src, dst = hostPort(p.Src, *p.Sport), hostPort(p.Dst, *p.Dport)
	}
	s := fmt.Sprintf("%s %s → %s", p.Proto, src, dst)
	switch {
	case p.Flags != "":
		s += " [" + p.Flags + "]"
	case p.ICMPType != nil:
		s += fmt.Sprintf(" type %d code %d", *p.ICMPType, *p.ICMPCode)
	}
	return s
}

// hostPort joins an address and a port, bracketing IPv6 addresses.
func hostPort(addr string, port int) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		return netip.AddrPortFrom(a, uint16(port)).String()
	}
	return addr + ":" + strconv.Itoa(port)
}
