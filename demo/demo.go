// Package demo checks a live lab against explain: it brings a lab up (package
// live), makes real connections between its instances and the internet
// host, and compares what got through with what explain.Run predicts.
//
// # Cases
//
// Cases derives the matrix from the lab, at most DefaultMaxCases of them:
//
//   - instance to instance on the services (protocol and port) that the
//     ingress rules of the destination's groups name with a security group
//     or a VPC address block as the peer, from every other instance;
//   - the first internet host (IPv4) to each instance on the services its
//     rules open to addresses outside the VPC (0.0.0.0/0, a prefix list);
//   - the internet host to each instance on the services of the first kind
//     (which the internet should not reach);
//   - every instance to the internet host on tcp 443;
//   - one IPv6 case when the lab has IPv6: the internet host's IPv6 address
//     to an instance on a service an IPv6 rule opens.
//
// When there are more, the kinds are taken in turn so that each is
// represented. A service is tcp or udp with a port (a rule's first port;
// 80 for all ports), or an ICMP echo.
//
// # A case
//
// Each case gets a listener in the destination's namespace (TCP: accept and
// echo one line; UDP: echo datagrams; ICMP: the kernel's own echo reply), and
// a dial from the source's namespace from a fixed source port, with a short
// deadline (DefaultTimeout). Observed is true when the line came back.
// Predicted is true when explain.Run, asked about the same packet (the same
// addresses and ports), allows both the request and its reply.
package demo

import (
	"cmp"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/explain"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
)

// Defaults of Options.
const (
	DefaultMaxCases = 15
	DefaultTimeout  = 400 * time.Millisecond
	// FirstSourcePort is the source port of the first case; case i uses
	// FirstSourcePort+i, so that every case is a flow of its own.
	FirstSourcePort = 40000
	// InternetPort is the port of the cases from instances to the internet.
	InternetPort = 443
)

// Internet is the From or To of a case whose end is an internet host.
const Internet = "internet"

// Case is one connection to try.
type Case struct {
	// Name says it in one line: "web1 → app1 tcp/8080".
	Name string `json:"case"`
	// From and To are instance names, or Internet.
	From string `json:"from"`
	To   string `json:"to"`
	// Src and Dst are the addresses: an instance's first ENI's, or an
	// internet host's.
	Src netip.Addr `json:"src"`
	Dst netip.Addr `json:"dst"`
	// Proto is tcp, udp, icmp or icmpv6 (an echo request).
	Proto string `json:"proto"`
	// Port is the destination port of tcp and udp.
	Port int `json:"port,omitempty"`
}

// Outcome is a case with its prediction and observation.
type Outcome struct {
	Case
	// Sport is the source port used (tcp and udp).
	Sport int `json:"sport,omitempty"`
	// Predicted: explain allows the request and the reply. Observed: the
	// connection was made and the line echoed.
	Predicted bool `json:"predicted"`
	Observed  bool `json:"observed"`
	Agree     bool `json:"agree"`
	// Why is explain's verdict of the first leg it denies (empty when it
	// allows both); Seen is what the dial saw when it failed ("timeout").
	Why  string `json:"why,omitempty"`
	Seen string `json:"seen,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Lab    string    `json:"lab"`
	Cases  []Outcome `json:"cases"`
	Total  int       `json:"total"`
	Agreed int       `json:"agreed"`
}

// OK reports whether every case agreed.
func (r *Report) OK() bool { return r.Agreed == r.Total }

// WriteText prints the report as a table, explain's reason beside each
// denial and a mark beside each disagreement, then the count line.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tPREDICTED\tOBSERVED\tAGREE\tWHY (explain)")
	for _, o := range r.Cases {
		agree := "yes"
		if !o.Agree {
			agree = "NO"
			if o.Seen != "" {
				agree += " (dial: " + o.Seen + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Name, word(o.Predicted), word(o.Observed), agree, o.Why)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d cases, %d agree\n", r.Total, r.Agreed)
	return err
}

func word(ok bool) string {
	if ok {
		return "allowed"
	}
	return "denied"
}

// service is what a case connects to.
type service struct {
	proto string // tcp, udp, icmp, icmpv6
	port  int
}

func (s service) String() string {
	if s.port != 0 {
		return fmt.Sprintf("%s/%d", s.proto, s.port)
	}
	return s.proto + " echo"
}

// ruleService returns the service a rule opens, if a case can try it.
func ruleService(r *sg.Rule) (service, bool) {
	switch r.Protocol {
	case packet.ProtoTCP, packet.ProtoUDP:
		name := "tcp"
		if r.Protocol == packet.ProtoUDP {
			name = "udp"
		}
		p := r.FromPort
		if p <= 0 {
			p = 80
			if r.ToPort < 80 {
				p = max(r.ToPort, 1)
			}
		}
		return service{name, p}, true
	case ec2.ProtoAll:
		return service{"tcp", 80}, true
	case packet.ProtoICMP:
		if r.ICMPType == 8 || r.ICMPType == -1 {
			return service{"icmp", 0}, true
		}
	case packet.ProtoICMPv6:
		if r.ICMPType == 128 || r.ICMPType == -1 {
			return service{"icmpv6", 0}, true
		}
	}
	return service{}, false
}

// end is an instance (its first ENI) or an internet host.
type end struct {
	name   string
	v4, v6 netip.Addr
	groups []string
}

// Cases derives at most max cases (DefaultMaxCases when max <= 0) from l;
// see the package doc.
func Cases(l *lab.Lab, max int) []Case {
	if max <= 0 {
		max = DefaultMaxCases
	}
	var insts []end
	for _, in := range l.Instances {
		if len(in.Interfaces) == 0 {
			continue
		}
		eni := in.Interfaces[0]
		e := end{name: in.Name, v4: eni.IP, groups: eni.SecurityGroups}
		if len(eni.IPv6) > 0 {
			e.v6 = eni.IPv6[0]
		}
		insts = append(insts, e)
	}
	var inet4, inet6 netip.Addr
	for _, h := range l.Internet.Hosts {
		if h.Is4() && !inet4.IsValid() {
			inet4 = h
		}
		if h.Is6() && !inet6.IsValid() {
			inet6 = h
		}
	}
	groups := map[string]*sg.Group{}
	for _, g := range l.SecurityGroups {
		groups[g.ID] = g
	}
	lists := map[string]*lab.PrefixList{}
	for _, p := range l.PrefixLists {
		lists[p.ID] = p
	}

	// The kinds of case, in display order.
	var inside, fromInet, inetToInside, toInet, ipv6 []Case
	mk := func(from, to string, src, dst netip.Addr, s service) Case {
		name := func(n string, a netip.Addr) string {
			if n == Internet {
				return a.String()
			}
			return n
		}
		c := Case{From: from, To: to, Src: src, Dst: dst, Proto: s.proto, Port: s.port}
		c.Name = fmt.Sprintf("%s → %s %s", name(from, src), name(to, dst), s)
		if src.Is6() {
			c.Name += " (IPv6)"
		}
		return c
	}
	for _, dst := range insts {
		seenIn, seenOut, seen6 := map[service]bool{}, map[service]bool{}, map[service]bool{}
		for _, gid := range dst.groups {
			g := groups[gid]
			if g == nil {
				continue
			}
			for i := range g.Ingress {
				r := &g.Ingress[i]
				s, ok := ruleService(r)
				if !ok {
					continue
				}
				internal, v6 := peerKind(l, r, lists)
				switch {
				case v6:
					if s.proto == "icmp" {
						continue
					}
					if inet6.IsValid() && dst.v6.IsValid() && !internal && !seen6[s] {
						seen6[s] = true
						ipv6 = append(ipv6, mk(Internet, dst.name, inet6, dst.v6, s))
					}
				case s.proto == "icmpv6":
				case internal:
					if seenIn[s] {
						continue
					}
					seenIn[s] = true
					for _, src := range insts {
						if src.name != dst.name {
							inside = append(inside, mk(src.name, dst.name, src.v4, dst.v4, s))
						}
					}
				default:
					if inet4.IsValid() && !seenOut[s] {
						seenOut[s] = true
						fromInet = append(fromInet, mk(Internet, dst.name, inet4, dst.v4, s))
					}
				}
			}
		}
		if inet4.IsValid() {
			for s := range seenIn {
				if !seenOut[s] {
					inetToInside = append(inetToInside, mk(Internet, dst.name, inet4, dst.v4, s))
				}
			}
		}
	}
	sortCases(inetToInside)
	if inet4.IsValid() {
		for _, src := range insts {
			toInet = append(toInet, mk(src.name, Internet, src.v4, inet4, service{"tcp", InternetPort}))
		}
	}
	ipv6 = ipv6[:min(len(ipv6), 1)]

	kinds := [][]Case{inside, fromInet, inetToInside, toInet, ipv6}
	take := make([]int, len(kinds))
	for n, more := 0, true; n < max && more; {
		more = false
		for k := range kinds {
			if n < max && take[k] < len(kinds[k]) {
				take[k]++
				n++
				more = true
			}
		}
	}
	var out []Case
	for k, cs := range kinds {
		out = append(out, cs[:take[k]]...)
	}
	return out
}

// sortCases orders cases of one kind built from a map: by destination in
// the order they were made, then by protocol and port.
func sortCases(cs []Case) {
	// Stable by (To's first appearance, proto, port): insertion sort, the
	// lists are short.
	first := map[string]int{}
	for i, c := range cs {
		if _, ok := first[c.To]; !ok {
			first[c.To] = i
		}
	}
	less := func(a, b Case) bool {
		if c := cmp.Compare(first[a.To], first[b.To]); c != 0 {
			return c < 0
		}
		if c := strings.Compare(a.Proto, b.Proto); c != 0 {
			return c < 0
		}
		return a.Port < b.Port
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && less(cs[j], cs[j-1]); j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// peerKind tells whether a rule's peer is inside the VPC (a group, or an
// address block within the VPC's), and whether it is IPv6.
func peerKind(l *lab.Lab, r *sg.Rule, lists map[string]*lab.PrefixList) (internal, v6 bool) {
	within := func(p netip.Prefix) bool {
		for _, v := range []netip.Prefix{l.VPC.CIDR, l.VPC.IPv6CIDR} {
			if v.IsValid() && p.Addr().Is4() == v.Addr().Is4() && p.Bits() >= v.Bits() && v.Contains(p.Addr()) {
				return true
			}
		}
		return false
	}
	switch {
	case r.Group != "":
		return true, r.Protocol == packet.ProtoICMPv6
	case r.PrefixList != "":
		if p := lists[r.PrefixList]; p != nil && len(p.CIDRs) > 0 {
			return within(p.CIDRs[0]), p.CIDRs[0].Addr().Is6()
		}
		return false, false
	default:
		return within(r.CIDR), r.CIDR.Addr().Is6()
	}
}

// Predict asks explain whether c, from source port sport, and its reply
// get through. why is the verdict of the first leg denied.
func Predict(l *lab.Lab, c Case, sport int) (allowed bool, why string, err error) {
	q := explain.Query{From: c.Src.String(), To: c.Dst.String(), Proto: c.Proto}
	if c.Port != 0 {
		q.Sport, q.Dport = sport, c.Port
	}
	res, err := explain.Run(l, q)
	if err != nil {
		return false, "", fmt.Errorf("explaining %s: %w", c.Name, err)
	}
	if !res.Request.Allowed {
		return false, "request " + res.Request.Verdict, nil
	}
	if res.Reply != nil && !res.Reply.Allowed {
		return false, "reply " + res.Reply.Verdict, nil
	}
	return true, "", nil
}
