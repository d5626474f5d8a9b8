package reach

import (
	"fmt"
	"io"
	"net/netip"
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
	Before  []*Step `json:"before"`
	After   []*Step `json:"after"`
	Because string  `json:"because"`
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
// name, addresses by what they hold: each address (or internet block) of a
// path is compared with the path of the other map that holds its first
// address, so a block of the internet that opens is found even when
// another closes. A path only one map has counts as closed in the other.
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
				d.Opened = append(d.Opened, changes(k, proto, replies, nf, of, true)...)
				d.Closed = append(d.Closed, changes(k, proto, replies, of, nf, false)...)
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

// openOf is what f has open: its values, or with replies the source
// ports its replies come back to (when a value is open).
func openOf(f *flowRef, replies bool) Set {
	if f == nil {
		return nil
	}
	if replies {
		if len(f.fl.Open) == 0 {
			return nil
		}
		return f.fl.SourcePorts
	}
	return f.fl.Open
}

// firstAddr is the first address of a path's address or block label.
func firstAddr(label string) netip.Addr {
	if p, err := netip.ParsePrefix(label); err == nil {
		return p.Masked().Addr()
	}
	a, _ := netip.ParseAddr(label)
	return a
}

// holds reports whether one of a path's labels holds a.
func holds(labels []string, a netip.Addr) bool {
	for _, l := range labels {
		if p, err := netip.ParsePrefix(l); err == nil && p.Contains(a) {
			return true
		}
		if l == a.String() {
			return true
		}
	}
	return false
}

// match returns the flow of fs whose path holds src and dst.
func match(fs []flowRef, src, dst netip.Addr) *flowRef {
	for i := range fs {
		if holds(fs[i].p.Src, src) && holds(fs[i].p.Dst, dst) {
			return &fs[i]
		}
	}
	return nil
}

// changes finds, for each address pair of each flow of in, the values
// open there and not in the matching flow of other, cut into in's
// segments; opened says in is the new side.
func changes(k pathKey, proto string, replies bool, in, other []flowRef, opened bool) []*Change {
	var out []*Change
	byKey := map[string]*Change{}
	for fi := range in {
		f := &in[fi]
		open := openOf(f, replies)
		if len(open) == 0 {
			continue
		}
		segs := f.fl.Request
		if replies {
			segs = f.fl.Reply
		}
		for _, sl := range f.p.Src {
			for _, dl := range f.p.Dst {
				o := match(other, firstAddr(sl), firstAddr(dl))
				vals := open.Minus(openOf(o, replies))
				if len(vals) == 0 {
					continue
				}
				for _, s := range segs {
					if !s.Allowed {
						continue
					}
					for _, r := range (Set{s.Range}).Intersect(vals) {
						var before, after []*Step
						if o != nil {
							before = trailAt(o, r.Lo, replies)
						}
						after = s.Trail
						if !opened {
							before, after = after, before
						}
						why := because(before, after)
						key := fmt.Sprint(fi, r, why)
						if c := byKey[key]; c != nil {
							c.Src, c.Dst = appendNew(c.Src, sl), appendNew(c.Dst, dl)
							continue
						}
						c := &Change{From: k.from, To: k.to, Family: k.family, Proto: proto, Number: f.fl.Number,
							Replies: replies, Values: Set{r}, Src: []string{sl}, Dst: []string{dl},
							Before: before, After: after, Because: why}
						byKey[key] = c
						out = append(out, c)
					}
				}
			}
		}
	}
	return out
}

// trailAt returns the trail of value v in f.
func trailAt(f *flowRef, v uint16, replies bool) []*Step {
	segs := f.fl.Request
	if replies {
		segs = f.fl.Reply
	}
	for _, s := range segs {
		if s.Lo <= v && v <= s.Hi {
			return s.Trail
		}
	}
	return nil
}

// because names the step that makes the difference: the first stage of
// the new trail whose decision or rule differs from the old one's.
func because(before, after []*Step) string {
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
