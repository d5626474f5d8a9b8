package reach

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vpclab/vpclab/packet"
)

// Diff is what a change opens and closes: path by path, protocol by
// protocol, range by range, with the rule that makes the difference.
type Diff struct {
	Old string `json:"old"`
	New string `json:"new"`
	// Opened holds what gets through (and back) in New and did not in
	// Old; Closed the reverse.
	Opened []*Change `json:"opened"`
	Closed []*Change `json:"closed"`
}

// Change is one range that changed on one path.
type Change struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Family int    `json:"family"`
	// Proto is the flow's protocol; Replies is set when the range is of
	// the request's source ports that replies come back to (TCP, UDP).
	Proto   string `json:"proto"`
	Number  int    `json:"number"`
	Replies bool   `json:"replies,omitempty"`
	Values  Set    `json:"values"`
	// Src and Dst are the addresses (or internet blocks) the change is
	// about, in the map where the range is open.
	Src []string `json:"src"`
	Dst []string `json:"dst"`
	// Before and After are the trails at the range's first value in the
	// old and the new map (empty where the path does not exist); Because
	// is the first step that differs, as it reads after the change.
	Before  []Step `json:"before"`
	After   []Step `json:"after"`
	Because string `json:"because"`
}

type pathKey struct {
	from, to string
	family   int
}

type flowRef struct {
	p  *Path
	fl *Flow
}

// index groups a map's flows by path key and protocol name.
func index(m *Map) map[pathKey]map[string][]flowRef {
	out := map[pathKey]map[string][]flowRef{}
	for _, p := range m.Paths {
		k := pathKey{p.From, p.To, p.Family}
		if out[k] == nil {
			out[k] = map[string][]flowRef{}
		}
		for _, fl := range p.Flows {
			out[k][fl.Proto] = append(out[k][fl.Proto], flowRef{p, fl})
		}
	}
	return out
}

// Compare returns what changes from old to new. Endpoints are matched by
// name; a path only one map has counts as closed in the other. The
// internet's blocks are compared as one: a range counts as open when some
// block has it open.
func Compare(old, new *Map) *Diff {
	d := &Diff{Old: old.Lab, New: new.Lab, Opened: []*Change{}, Closed: []*Change{}}
	oi, ni := index(old), index(new)
	var keys []pathKey
	seen := map[pathKey]bool{}
	for _, m := range []*Map{old, new} {
		for _, p := range m.Paths {
			k := pathKey{p.From, p.To, p.Family}
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	for _, k := range keys {
		var protos []string
		for _, idx := range []map[string][]flowRef{oi[k], ni[k]} {
			for _, p := range sortedKeys(idx) {
				if !slices.Contains(protos, p) {
					protos = append(protos, p)
				}
			}
		}
		for _, proto := range protos {
			of, nf := oi[k][proto], ni[k][proto]
			for _, replies := range []bool{false, true} {
				os, ns := openOf(of, replies), openOf(nf, replies)
				d.Opened = append(d.Opened, changes(k, proto, replies, ns.Minus(os), nf, of, true)...)
				d.Closed = append(d.Closed, changes(k, proto, replies, os.Minus(ns), of, nf, false)...)
			}
		}
	}
	return d
}

func sortedKeys(m map[string][]flowRef) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// openOf is the union of the flows' open values (or, with replies, of the
// source ports their replies come back to).
func openOf(fs []flowRef, replies bool) Set {
	var s Set
	for _, f := range fs {
		if replies {
			if len(f.fl.Open) > 0 {
				s = s.Union(f.fl.SourcePorts)
			}
			continue
		}
		s = s.Union(f.fl.Open)
	}
	return s
}

// changes cuts the changed values vals into the segments of the side
// where they are open (in), and explains each against the other side.
func changes(k pathKey, proto string, replies bool, vals Set, in, other []flowRef, opened bool) []*Change {
	var out []*Change
	if len(vals) == 0 {
		return nil
	}
	for _, f := range in {
		segs := f.fl.Request
		open := f.fl.Open
		if replies {
			segs, open = f.fl.Reply, f.fl.SourcePorts
		}
		for _, s := range segs {
			if !s.Allowed {
				continue
			}
			for _, r := range (Set{s.Range}).Intersect(vals).Intersect(open) {
				c := &Change{From: k.from, To: k.to, Family: k.family, Proto: proto, Number: f.fl.Number,
					Replies: replies, Values: Set{r}, Src: f.p.Src, Dst: f.p.Dst}
				c.Before, c.After = trailAt(other, r.Lo, replies), s.Trail
				if !opened {
					c.Before, c.After = c.After, c.Before
				}
				c.Because = because(c.Before, c.After)
				out = append(out, c)
			}
		}
		vals = vals.Minus(open)
	}
	return out
}

// trailAt returns the trail of value v in the first of fs that has a
// segment holding it.
func trailAt(fs []flowRef, v uint16, replies bool) []Step {
	for _, f := range fs {
		segs := f.fl.Request
		if replies {
			segs = f.fl.Reply
		}
		for _, s := range segs {
			if s.Lo <= v && v <= s.Hi {
				return s.Trail
			}
		}
	}
	return nil
}

// because names the step that makes the difference: the first stage of
// the new trail whose decision or rule differs from the old one's.
func because(before, after []Step) string {
	switch {
	case len(after) == 0:
		return "the path is gone"
	case len(before) == 0:
		return "the path is new"
	}
	for i, s := range after {
		if i >= len(before) {
			return "now " + s.Stage + ": " + s.By
		}
		o := before[i]
		if s.Stage != o.Stage || s.Allowed != o.Allowed || s.By != o.By {
			return "now " + s.Stage + ": " + s.By + "; was " + o.By
		}
	}
	if len(before) > len(after) {
		o := before[len(after)]
		return "was stopped at " + o.Stage + ": " + o.By
	}
	return ""
}

// WriteText writes the diff for people: each opened range, then each
// closed one, with the rule that makes the difference.
func (d *Diff) WriteText(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "reach diff %s → %s\n", d.Old, d.New)
	for _, part := range []struct {
		title, mark string
		cs          []*Change
	}{{"opened", "+", d.Opened}, {"closed", "-", d.Closed}} {
		if len(part.cs) == 0 {
			fmt.Fprintf(b, "\nnothing %s\n", part.title)
			continue
		}
		fmt.Fprintf(b, "\n%s:\n", part.title)
		for _, c := range part.cs {
			fmt.Fprintf(b, "  %s %s\n      %s\n", part.mark, c.Title(), c.Because)
		}
	}
	fmt.Fprintf(b, "\n%d opened, %d closed\n", len(d.Opened), len(d.Closed))
	_, err := io.WriteString(w, b.String())
	return err
}

// Title names the change: "web1 → db1 IPv4 tcp 5432 (10.0.1.10 → 10.0.3.10)".
func (c *Change) Title() string {
	what := c.Proto + " " + (&Flow{Number: c.Number}).valueText(c.Values[0])
	if c.Replies {
		what = c.Proto + " replies to source ports " + c.Values.Ports()
	} else if len(c.Values) > 0 && c.Number != packet.ProtoTCP && c.Number != packet.ProtoUDP && c.Number != packet.ProtoICMP && c.Number != packet.ProtoICMPv6 {
		what = c.Proto
	}
	return fmt.Sprintf("%s → %s IPv%d %s (%s → %s)", c.From, c.To, c.Family, what, short(c.Src), short(c.Dst))
}
