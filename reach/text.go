package reach

import (
	"fmt"
	"io"
	"strings"

	"github.com/vpclab/vpclab/packet"
)

// Cell sums up what gets from one endpoint to another, both families
// together: per protocol, the open values ("tcp 80,443 icmp 8"), or ""
// when nothing does.
func (m *Map) Cell(from, to string) string {
	open := m.openByProto(from, to)
	var parts []string
	for _, po := range open {
		t := po.text()
		if len(po.back) > 0 && len(po.back.Intersect(Ephemeral)) == 0 {
			t += "*"
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

// Ephemeral are the source ports clients use: Linux's 32768-60999 and
// Windows' 49152-65535 (spec §4.5). A TCP or UDP cell whose replies come
// back to none of them is marked with *: it is open only to clients that
// bind a source port.
var Ephemeral = Set{{32768, 65535}}

// protoOpen is the union of one protocol's open values over the paths of
// a pair.
type protoOpen struct {
	proto string
	num   int
	open  Set
	back  Set // TCP, UDP: the source ports replies come back to
}

func (po protoOpen) text() string {
	switch po.num {
	case packet.ProtoTCP, packet.ProtoUDP:
		return po.proto + " " + po.open.Ports()
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return po.proto + " " + po.open.ICMP()
	}
	return po.proto
}

func (m *Map) openByProto(from, to string) []protoOpen {
	var out []protoOpen
	for _, p := range m.pathsOf(from, to) {
		for _, fl := range p.Flows {
			if len(fl.Open) == 0 {
				continue
			}
			name := fl.Proto
			if fl.Number == packet.ProtoICMPv6 {
				name = "icmpv6"
			}
			k := -1
			for i := range out {
				if out[i].proto == name {
					k = i
				}
			}
			if k < 0 {
				out = append(out, protoOpen{proto: name, num: fl.Number})
				k = len(out) - 1
			}
			out[k].open = out[k].open.Union(fl.Open)
			out[k].back = out[k].back.Union(fl.SourcePorts)
		}
	}
	return out
}

// Openness grades a pair: 0 nothing, 1 a few ports (or ports whose
// replies come back to no ephemeral source port), 2 wide (a thousand
// ports or more, every ICMP type, or another protocol whole), 3 every
// port of TCP and UDP.
func (m *Map) Openness(from, to string) int {
	level := 0
	var tcp, udp bool
	for _, po := range m.openByProto(from, to) {
		l := 1
		switch po.num {
		case packet.ProtoTCP, packet.ProtoUDP:
			if po.open.Size() >= 1000 && len(po.back.Intersect(Ephemeral)) > 0 {
				l = 2 // wide, for clients on their usual source ports
			}
			full := po.open.Covers(Set{{1, 0xffff}})
			tcp = tcp || (po.num == packet.ProtoTCP && full)
			udp = udp || (po.num == packet.ProtoUDP && full)
		case packet.ProtoICMP, packet.ProtoICMPv6:
			if po.open.Size() == 0x10000 {
				l = 2
			}
		default:
			l = 2
		}
		level = max(level, l)
	}
	if tcp && udp {
		level = 3
	}
	return level
}

// WriteText writes the map for people: the matrix (sources down,
// destinations across), then every open path with the rules that open it
// and the denied ranges next to each, then the exempt services.
func (m *Map) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "lab %s\n\n", m.Lab)
	m.writeMatrix(b)
	b.WriteString("\n")
	n := 0
	for _, p := range m.Paths {
		if p.open() {
			n++
			p.write(b, m.blockText(p))
		}
	}
	if n == 0 {
		b.WriteString("no path is open\n\n")
	}
	if len(m.Stopped) > 0 {
		fmt.Fprintf(b, "stopped (they send and receive nothing; every path to or from them stops at route, INSTANCE_STOPPED): %s\n\n", strings.Join(m.Stopped, ", "))
	}
	for _, u := range m.Unmodelled {
		fmt.Fprintf(b, "not in this map: %s\n\n", u)
	}
	b.WriteString("exempt (never filtered, so not findings):\n")
	for _, e := range m.Exempt {
		var as []string
		for _, a := range e.Addrs {
			as = append(as, a.String())
		}
		fmt.Fprintf(b, "  %-26s %s\n", e.Service, strings.Join(as, " "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *Path) open() bool {
	for _, f := range p.Flows {
		if len(f.Open) > 0 {
			return true
		}
	}
	return false
}

// sources and destinations in the map, endpoint order.
func (m *Map) ends() (from, to []string) {
	isFrom, isTo := map[string]bool{}, map[string]bool{}
	for _, p := range m.Paths {
		isFrom[p.From], isTo[p.To] = true, true
	}
	for _, e := range m.Endpoints {
		if isFrom[e.Name] {
			from = append(from, e.Name)
		}
		if isTo[e.Name] {
			to = append(to, e.Name)
		}
	}
	return from, to
}

func (m *Map) writeMatrix(b *strings.Builder) {
	from, to := m.ends()
	width := make([]int, len(to))
	first := len("from \\ to")
	for _, f := range from {
		first = max(first, len(f))
	}
	cells := make([][]string, len(from))
	for i, f := range from {
		cells[i] = make([]string, len(to))
		for j, t := range to {
			c := "·"
			switch {
			case f == t:
				c = ""
			case m.stoppedPair(f, t):
				c = "stopped"
			case m.Cell(f, t) != "":
				c = m.Cell(f, t)
			}
			cells[i][j] = c
			width[j] = max(width[j], len([]rune(c)), len(t))
		}
	}
	fmt.Fprintf(b, "%-*s", first, "from \\ to")
	for j, t := range to {
		fmt.Fprintf(b, "  %-*s", width[j], t)
	}
	b.WriteString("\n")
	for i, f := range from {
		fmt.Fprintf(b, "%-*s", first, f)
		for j := range to {
			fmt.Fprintf(b, "  %s%s", cells[i][j], strings.Repeat(" ", width[j]-len([]rune(cells[i][j]))))
		}
		b.WriteString("\n")
	}
	b.WriteString("(· nothing gets through and back; * replies come back only to source ports outside 32768-65535)\n")
}

// stoppedPair reports whether one end of a pair is a stopped instance.
func (m *Map) stoppedPair(from, to string) bool {
	for _, n := range []string{from, to} {
		if e := m.Endpoint(n); e != nil && e.Stopped {
			return true
		}
	}
	return false
}

// write writes an open path: each open range with its trail and the
// denied ranges next to it, then where replies come back.
func (p *Path) write(b *strings.Builder, ends [2]string) {
	fmt.Fprintf(b, "%s → %s  IPv%d  %s → %s\n", p.From, p.To, p.Family, ends[0], ends[1])
	for _, fl := range p.Flows {
		if len(fl.Open) == 0 {
			continue
		}
		writeSegments(b, fl, fl.Request, fl.Proto+" ", "")
		if fl.Reply != nil {
			fmt.Fprintf(b, "  %s replies come back to source ports %s:\n", fl.Proto, fl.SourcePorts.Ports())
			writeSegments(b, fl, fl.Reply, "source ports ", "  ")
		}
	}
	b.WriteString("\n")
}

// writeSegments writes the allowed segments with their trails and the
// denied ones beside them with what stops them.
func writeSegments(b *strings.Builder, fl *Flow, segs []*Segment, what, indent string) {
	for i, s := range segs {
		if !s.Allowed {
			continue
		}
		value := fl.valueText(s.Range)
		if what == "source ports " {
			value = s.Range.ports()
		}
		fmt.Fprintf(b, "%s  %s%s\n", indent, what, value)
		writeTrail(b, s.Trail, indent+"    ")
		for _, k := range []int{i - 1, i + 1} {
			if k < 0 || k >= len(segs) || segs[k].Allowed {
				continue
			}
			n := segs[k]
			value := fl.valueText(n.Range)
			if what == "source ports " {
				value = n.Range.ports()
			}
			st := n.Stopper()
			fmt.Fprintf(b, "%s    next to it, %s%s stops at %s: %s\n", indent, what, value, st.Stage, st.By)
		}
	}
}

func (fl *Flow) valueText(r Range) string {
	switch fl.Number {
	case packet.ProtoTCP, packet.ProtoUDP:
		return r.ports()
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return "type " + (Set{r}).ICMP()
	}
	return "(no ports)"
}

func writeTrail(b *strings.Builder, trail []*Step, indent string) {
	for _, s := range trail {
		stage := s.Stage
		if s.Reply {
			stage = "reply " + stage
		}
		fmt.Fprintf(b, "%s%-18s %s\n", indent, stage, s.By)
	}
}

// blockText names a path's source and destination for people: the
// addresses, or for the internet its blocks, or when shorter "the
// internet except" the blocks of the pair's other paths.
func (m *Map) blockText(p *Path) [2]string {
	out := [2]string{short(p.Src), short(p.Dst)}
	for side, name := range []string{p.From, p.To} {
		if name != Internet {
			continue
		}
		mine := [][]string{p.Src, p.Dst}[side]
		var others []string
		for _, q := range m.pathsOf(p.From, p.To) {
			if q != p && q.Family == p.Family {
				others = append(others, [][]string{q.Src, q.Dst}[side]...)
			}
		}
		if len(mine) > 3 && len(others) < len(mine) {
			out[side] = "the internet"
			if len(others) > 0 {
				out[side] += " except " + short(others)
			}
		}
	}
	return out
}

// short names a list of addresses or blocks, eliding a long one.
func short(l []string) string {
	if len(l) <= 3 {
		return strings.Join(l, ",")
	}
	return strings.Join(l[:3], ",") + fmt.Sprintf(" and %d more", len(l)-3)
}
