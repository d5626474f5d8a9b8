package reach

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/packet"
)

// page is the HTML page: its styles and script are inline, written for
// this page (no library), so it makes no network fetch.
//
//go:embed page/page.html
var page string

var pageTmpl = template.Must(template.New("page").Parse(page))

// pageData is what the page's script reads. It is the map cut down and
// folded so that the page of a 200-ENI lab stays a few megabytes: every
// step and every trail is written once and named by its index, a path's
// flows are shared by the paths that answer the same, and a security
// group's "allows nothing of it" step is written once per ENI and
// direction, the page filling in the range and the peer. -o json has
// the whole map.
type pageData struct {
	Lab        string        `json:"lab"`
	Diff       *pageDiff     `json:"diff,omitempty"`
	Endpoints  []pageEnd     `json:"endpoints"`
	Subnets    []Subnet      `json:"subnets"`
	From       []int         `json:"from"` // matrix rows, endpoint indexes
	To         []int         `json:"to"`   // matrix columns
	Cells      [][]*cellData `json:"cells"`
	Steps      []pageStep    `json:"steps"`
	Trails     [][]int       `json:"trails"`
	Protos     []pageProto   `json:"protos"`
	Flows      []pageFlow    `json:"flows"`
	Flowsets   [][]int       `json:"flowsets"`
	Paths      []pagePath    `json:"paths"`
	Exempt     []Exempt      `json:"exempt"`
	Stopped    []string      `json:"stopped"`
	Unmodelled []string      `json:"unmodelled"`
}

type pageEnd struct {
	Name    string `json:"n"`
	Kind    string `json:"k"`
	Subnet  string `json:"s,omitempty"`
	Stopped bool   `json:"x,omitempty"`
	// Addr4 and Addr6 are the first address of each family.
	Addr4 string `json:"a4,omitempty"`
	Addr6 string `json:"a6,omitempty"`
}

type cellData struct {
	Text  string `json:"x,omitempty"`
	Level int    `json:"l,omitempty"`
	// Change is "opened", "closed" or "changed" (both) under a diff;
	// Opened and Closed say what, per protocol.
	Change string `json:"c,omitempty"`
	Opened string `json:"o,omitempty"`
	Closed string `json:"k,omitempty"`
	// Kept is what was open before and still is, when something opened.
	Kept string `json:"s,omitempty"`
}

type pageStep struct {
	Stage   string `json:"s"`
	Allowed bool   `json:"a,omitempty"`
	Code    string `json:"c"`
	By      string `json:"b"`
	Reply   bool   `json:"r,omitempty"`
	// Template: By holds {traffic} and {src} or {dst}.
	Template bool `json:"t,omitempty"`
}

// pageFlow is a flow, as an array: [proto (index in Protos), open,
// source ports, request, reply], request and reply flat runs of lo, hi,
// allowed (0 or 1), trail.
type pageFlow [5]any

// pageProto is a protocol: its name and number, and Words, how a step
// names its traffic (the page adds the range for TCP, UDP and ICMP).
type pageProto struct {
	Proto  string `json:"p"`
	Number int    `json:"n"`
	Words  string `json:"w"`
}

// pagePath is a path as an array: [from, to, family, flowset] and, when
// they are not the ends' first address of the family, its source and
// destination as people read them.
type pagePath []any

type pageDiff struct {
	Old    string       `json:"old"`
	New    string       `json:"new"`
	Opened []pageChange `json:"opened"`
	Closed []pageChange `json:"closed"`
}

type pageChange struct {
	From    string `json:"f"`
	To      string `json:"t"`
	Family  int    `json:"v"`
	What    string `json:"w"`
	Because string `json:"b"`
	After   int    `json:"a"` // trail
}

// pager builds pageData.
type pager struct {
	pd       *pageData
	ends     map[string]int
	steps    map[pageStep]int
	trails   map[string]int
	flowsets map[string]int
	flows    map[string]int
	protos   map[pageProto]int
	buf      []byte
	other    string // how steps name the other protocols
}

// WriteHTML writes the map as one self-contained page: the matrix with a
// colour per openness, a graph of subnets and instances with an edge per
// open pair (subnets folded into one box each on a large lab, opened by a
// click), and on a click on a cell (or an edge) the pair's open ranges
// with their rule trails and the ranges beside them with what stops them.
// With d (the diff whose new side m is), the cells and edges opened are
// red and those closed grey (a pair that is partly closed shows what is
// still open and, in grey, what closed), and the details list the
// changes with the rule behind each.
func WriteHTML(w io.Writer, m *Map, d *Diff) error {
	pd := &pageData{Lab: m.Lab, Subnets: m.Subnets, Exempt: m.Exempt, Stopped: m.Stopped, Unmodelled: m.Unmodelled}
	pg := &pager{pd: pd, ends: map[string]int{}, steps: map[pageStep]int{}, trails: map[string]int{}, flowsets: map[string]int{}, flows: map[string]int{}, protos: map[pageProto]int{},
		other: "protocol " + strconv.Itoa(int(m.otherRep)) + " (any protocol no rule names)"}
	for _, e := range m.Endpoints {
		i := pg.end(e.Name, e.Kind, e.Subnet, e.Stopped)
		for _, a := range e.Addrs {
			pe := &pd.Endpoints[i]
			switch {
			case a.Is4() && pe.Addr4 == "":
				pe.Addr4 = a.String()
			case a.Is6() && pe.Addr6 == "":
				pe.Addr6 = a.String()
			}
		}
	}
	from, to := m.ends()
	if d != nil {
		// a closed pair may be missing from the new map's ends
		for _, cs := range [][]*Change{d.Opened, d.Closed} {
			for _, c := range cs {
				from, to = appendNew(from, c.From), appendNew(to, c.To)
			}
		}
	}
	for _, f := range from {
		pd.From = append(pd.From, pg.end(f, "gone", "", false))
	}
	for _, t := range to {
		pd.To = append(pd.To, pg.end(t, "gone", "", false))
	}
	var opened, closed map[[2]string]*changeSum
	if d != nil {
		opened, closed = sumChanges(d.Opened), sumChanges(d.Closed)
	}
	for _, f := range from {
		row := make([]*cellData, len(to))
		for j, t := range to {
			if f == t {
				continue
			}
			c := &cellData{Text: m.Cell(f, t), Level: m.Openness(f, t)}
			if m.stoppedPair(f, t) {
				c.Text = "stopped"
			}
			k := [2]string{f, t}
			if s := opened[k]; s != nil {
				c.Change, c.Opened, c.Kept = "opened", s.text(), m.kept(f, t, s)
			}
			if s := closed[k]; s != nil {
				c.Closed = s.text()
				c.Change = map[string]string{"": "closed", "opened": "changed"}[c.Change]
			}
			row[j] = c
		}
		pd.Cells = append(pd.Cells, row)
	}
	for _, p := range m.Paths {
		ends := m.blockText(p)
		from, to := pg.ends[p.From], pg.ends[p.To]
		pp := pagePath{from, to, p.Family, pg.flowset(p)}
		if ends[0] != pd.Endpoints[from].addr(p.Family) || ends[1] != pd.Endpoints[to].addr(p.Family) {
			pp = append(pp, ends[0], ends[1])
		}
		pd.Paths = append(pd.Paths, pp)
	}
	if d != nil {
		pd.Diff = &pageDiff{Old: d.Old, New: d.New, Opened: pg.changes(d.Opened), Closed: pg.changes(d.Closed)}
	}
	data, err := json.Marshal(pd)
	if err != nil {
		return err
	}
	title := "vpclab reach: " + m.Lab
	if d != nil {
		title = "vpclab reach --diff: " + d.Old + " → " + d.New
	}
	// json.Marshal escapes <, > and &, so the data cannot end its script
	// element.
	return pageTmpl.Execute(w, struct {
		Title string
		Data  template.JS
	}{title, template.JS(data)})
}

func (pg *pager) end(name, kind, subnet string, stopped bool) int {
	if i, ok := pg.ends[name]; ok {
		return i
	}
	pg.ends[name] = len(pg.pd.Endpoints)
	pg.pd.Endpoints = append(pg.pd.Endpoints, pageEnd{Name: name, Kind: kind, Subnet: subnet, Stopped: stopped})
	return pg.ends[name]
}

func (pg *pager) step(s *Step, templated bool) int {
	ps := pageStep{Stage: s.Stage, Allowed: s.Allowed, Code: s.Code, By: s.By, Reply: s.Reply}
	if templated && s.tmpl != "" {
		ps.By, ps.Template = s.tmpl, true
	}
	if i, ok := pg.steps[ps]; ok {
		return i
	}
	pg.steps[ps] = len(pg.pd.Steps)
	pg.pd.Steps = append(pg.pd.Steps, ps)
	return pg.steps[ps]
}

func (pg *pager) trail(steps []*Step, templated bool) int {
	idx := make([]int, len(steps))
	pg.buf = pg.buf[:0]
	for i, s := range steps {
		idx[i] = pg.step(s, templated)
		pg.buf = append(pg.buf, byte(idx[i]>>24), byte(idx[i]>>16), byte(idx[i]>>8), byte(idx[i]))
	}
	if i, ok := pg.trails[string(pg.buf)]; ok {
		return i
	}
	pg.trails[string(pg.buf)] = len(pg.pd.Trails)
	pg.pd.Trails = append(pg.pd.Trails, idx)
	return pg.trails[string(pg.buf)]
}

func (e *pageEnd) addr(family int) string {
	if family == 4 {
		return e.Addr4
	}
	return e.Addr6
}

func (pg *pager) segments(segs []*Segment) []int {
	if segs == nil {
		return nil
	}
	out := []int{}
	for _, s := range keep(segs) {
		a := 0
		if s.Allowed {
			a = 1
		}
		out = append(out, int(s.Lo), int(s.Hi), a, pg.trail(s.Trail, true))
	}
	return out
}

func (pg *pager) proto(p pageProto) int {
	if i, ok := pg.protos[p]; ok {
		return i
	}
	pg.protos[p] = len(pg.pd.Protos)
	pg.pd.Protos = append(pg.pd.Protos, p)
	return pg.protos[p]
}

// flowset returns the index of p's flows as the page shows them: every
// open segment with the denied ones beside it, and for a flow with
// nothing open its first denied segment (what stops it). Flows and
// flowsets are each written once.
func (pg *pager) flowset(p *Path) int {
	var set []int
	for _, fl := range p.Flows {
		pp := pageProto{Proto: fl.Proto, Number: fl.Number, Words: fl.Proto}
		var open, back string
		switch fl.Number {
		case packet.ProtoTCP, packet.ProtoUDP:
			open, back = fl.Open.Ports(), fl.SourcePorts.Ports()
		case packet.ProtoICMP, packet.ProtoICMPv6:
			open = fl.Open.ICMP()
		default:
			open = "all"
			if fl.Number == -1 {
				pp.Words = pg.other
			}
		}
		if len(fl.Open) == 0 {
			open, back = "", ""
		}
		f := pageFlow{pg.proto(pp), open, back, pg.segments(fl.Request), pg.segments(fl.Reply)}
		key, _ := json.Marshal(f)
		i, ok := pg.flows[string(key)]
		if !ok {
			i = len(pg.pd.Flows)
			pg.flows[string(key)] = i
			pg.pd.Flows = append(pg.pd.Flows, f)
		}
		set = append(set, i)
	}
	key, _ := json.Marshal(set)
	if i, ok := pg.flowsets[string(key)]; ok {
		return i
	}
	pg.flowsets[string(key)] = len(pg.pd.Flowsets)
	pg.pd.Flowsets = append(pg.pd.Flowsets, set)
	return pg.flowsets[string(key)]
}

func (pg *pager) changes(cs []*Change) []pageChange {
	out := []pageChange{}
	for _, c := range cs {
		what := c.Proto + " " + (&Flow{Number: c.Number}).valueText(c.Values[0])
		switch {
		case c.Replies:
			what = c.Proto + " replies to source ports " + c.Values.Ports()
		case c.Number != packet.ProtoTCP && c.Number != packet.ProtoUDP && c.Number != packet.ProtoICMP && c.Number != packet.ProtoICMPv6:
			what = c.Proto
		}
		out = append(out, pageChange{From: c.From, To: c.To, Family: c.Family, What: "IPv" + strconv.Itoa(c.Family) + " " + what,
			Because: c.Because, After: pg.trail(c.After, false)})
	}
	return out
}

// changeSum is what changed on a pair, per protocol.
type changeSum struct {
	protos  []protoOpen
	replies []string
}

func sumChanges(cs []*Change) map[[2]string]*changeSum {
	out := map[[2]string]*changeSum{}
	for _, c := range cs {
		k := [2]string{c.From, c.To}
		s := out[k]
		if s == nil {
			s = &changeSum{}
			out[k] = s
		}
		if c.Replies {
			s.replies = appendNew(s.replies, c.Proto)
			continue
		}
		i := -1
		for j := range s.protos {
			if s.protos[j].proto == c.Proto {
				i = j
			}
		}
		if i < 0 {
			s.protos = append(s.protos, protoOpen{proto: c.Proto, num: c.Number})
			i = len(s.protos) - 1
		}
		s.protos[i].open = s.protos[i].open.Union(c.Values)
	}
	return out
}

// kept words what is open from one endpoint to another outside what
// opened there (s).
func (m *Map) kept(from, to string, s *changeSum) string {
	var parts []string
	for _, po := range m.openByProto(from, to) {
		for _, o := range s.protos {
			if o.proto == po.proto {
				po.open = po.open.Minus(o.open)
			}
		}
		if len(po.open) > 0 {
			parts = append(parts, po.text())
		}
	}
	return strings.Join(parts, " ")
}

// text says what changed: "tcp 22 icmp 8", and "tcp replies" for a
// protocol whose replies alone changed.
func (s *changeSum) text() string {
	var parts []string
	for _, po := range s.protos {
		parts = append(parts, po.text())
	}
	for _, r := range s.replies {
		if !strings.Contains(" "+strings.Join(parts, " "), " "+r+" ") {
			parts = append(parts, r+" replies")
		}
	}
	return strings.Join(parts, " ")
}

// keep keeps the allowed segments and their neighbours, or the first
// segment when none is allowed.
func keep(segs []*Segment) []*Segment {
	if segs == nil {
		return nil
	}
	var out []*Segment
	for i, s := range segs {
		near := s.Allowed || (i > 0 && segs[i-1].Allowed) || (i+1 < len(segs) && segs[i+1].Allowed)
		if near {
			out = append(out, s)
		}
	}
	if len(out) == 0 && len(segs) > 0 {
		for _, s := range segs {
			if !s.Allowed {
				return []*Segment{s}
			}
		}
	}
	return out
}
