package reach

import (
	_ "embed"
	"encoding/json"
	"html/template"
	"io"
)

// page is the HTML page: its styles and script are inline, written for
// this page (no library), so it makes no network fetch.
//
//go:embed page/page.html
var page string

var pageTmpl = template.Must(template.New("page").Parse(page))

// pageData is what the page's script reads.
type pageData struct {
	Map   *Map                           `json:"map"`
	Diff  *Diff                          `json:"diff,omitempty"`
	From  []string                       `json:"from"`
	To    []string                       `json:"to"`
	Cells map[string]map[string]cellData `json:"cells"`
	// Ends names each path's two ends for people, in Map.Paths order.
	Ends [][2]string `json:"ends"`
}

type cellData struct {
	Text  string `json:"text"`
	Level int    `json:"level"`
	// Change is "opened", "closed" or "changed" (both) under a diff.
	Change string `json:"change,omitempty"`
}

// WriteHTML writes the map as one self-contained page: the matrix with a
// colour per openness, a graph of subnets and instances with an edge per
// open pair, and on a click on a cell (or an edge) the pair's open ranges
// with their rule trails and the ranges beside them with what stops them.
// With d (the diff whose new side m is), the cells and edges opened are
// red and those closed grey, and the details list the changes with the
// rule behind each.
func WriteHTML(w io.Writer, m *Map, d *Diff) error {
	pd := pageData{Map: forPage(m), Diff: d, Cells: map[string]map[string]cellData{}}
	pd.From, pd.To = m.ends()
	if d != nil {
		// a closed pair may be missing from the new map's ends
		for _, cs := range [][]*Change{d.Opened, d.Closed} {
			for _, c := range cs {
				pd.From = appendNew(pd.From, c.From)
				pd.To = appendNew(pd.To, c.To)
			}
		}
	}
	for _, f := range pd.From {
		pd.Cells[f] = map[string]cellData{}
		for _, t := range pd.To {
			if f == t {
				continue
			}
			pd.Cells[f][t] = cellData{Text: m.Cell(f, t), Level: m.Openness(f, t)}
		}
	}
	for _, p := range m.Paths {
		pd.Ends = append(pd.Ends, m.blockText(p))
	}
	if d != nil {
		mark := func(cs []*Change, what string) {
			for _, c := range cs {
				cd := pd.Cells[c.From][c.To]
				if cd.Change != "" && cd.Change != what {
					what = "changed"
				}
				cd.Change = what
				pd.Cells[c.From][c.To] = cd
			}
		}
		mark(d.Opened, "opened")
		mark(d.Closed, "closed")
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

// forPage returns the map the page shows: every open segment with the
// denied ones beside it, and for a flow with nothing open its first
// denied segment (what stops it), so that the page of a large lab stays
// small. The full map is -o json's.
func forPage(m *Map) *Map {
	out := *m
	out.Paths = make([]*Path, len(m.Paths))
	for i, p := range m.Paths {
		q := *p
		q.Flows = make([]*Flow, len(p.Flows))
		for j, fl := range p.Flows {
			f := *fl
			f.Request, f.Reply = keep(fl.Request), keep(fl.Reply)
			q.Flows[j] = &f
		}
		out.Paths[i] = &q
	}
	return &out
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
