package labfile

import (
	"bytes"
	"iter"
	"sort"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// This file reads a file's large collections one item at a time. The
// YAML library's tree of a file costs some 23-30 bytes per byte of it:
// a lab of 2,400 groups of 80 rules (10 MB) took 30 times its size in
// live heap, whatever its style. prescan finds every list that is the
// value of a mapping's key (block or flow style, in YAML or JSON, at any
// depth) and the tags mapping, and where each of their items starts and
// ends (a span). The file is parsed with the text of the spans that are
// not inside another blanked (their line ends and columns kept); each
// span's node becomes an empty list or mapping whose items are parsed
// from the text as the parser reads them, in the same way, their nodes'
// lines and columns moved to the file's. What the parser keeps of a node
// (place) is its position, so each item's tree is garbage once read.
// At the first thing an item's text does not parse as it does in the
// file (a syntax error, more than one item, a key not where prescan saw
// it), the whole file is parsed again the usual way, which reports what
// is wrong as ever.

// chunkMin is the size of the smallest span read one item at a time:
// below it, the item's tree costs less than the parses would. Tests set
// it to 0 so that every list is.
var chunkMin = 16 << 10

// layout is where a file's spans are.
type layout struct {
	spans []*span // in file order
}

// span is a list (or the tags mapping) whose items are read one at a
// time.
type span struct {
	key      position // the key the collection is the value of
	at       position // the collection's node: its first item, or its [ or {
	from, to int      // the text blanked: its lines, or inside its brackets
	flow     bool
	mapping  bool
	items    []spanItem
}

// spanItem is the text of one item: block items from the start of their
// first line to the next item's; flow items from their first character
// (at line, col) to their , or closing bracket.
type spanItem struct {
	off, end  int32
	line, col int32
	read      bool // parsed on its own, without a problem
}

// textLists reads the spans of one file.
type textLists struct {
	file   string
	data   []byte
	spans  []*span
	nodes  map[*yaml.Node]*span // the empty nodes standing for spans
	failed bool                 // an item did not read on its own: parse the file whole
	batch  batch
}

// inside returns the spans directly inside data[from:to]: not inside
// another one there.
func (t *textLists) inside(from, to int) []*span {
	i := sort.Search(len(t.spans), func(i int) bool { return t.spans[i].from >= from })
	var out []*span
	end := from
	for ; i < len(t.spans) && t.spans[i].from < to; i++ {
		s := t.spans[i]
		if s.from < end || s.from == from {
			continue // inside the last one, or the list of the item
		}
		if s.to > to {
			t.failed = true
			return nil
		}
		out = append(out, s)
		end = s.to
	}
	return out
}

// text returns data[from:to] with the spans directly inside it blanked,
// line ends kept, and those spans; between open and close when they are
// not 0.
func (t *textLists) text(from, to int, open, close byte) ([]byte, []*span) {
	spans := t.inside(from, to)
	var out []byte
	pad := 0
	if open != 0 {
		out = make([]byte, 0, to-from+2)
		out = append(append(append(out, open), t.data[from:to]...), close)
		pad = 1
	} else {
		out = bytes.Clone(t.data[from:to])
	}
	for _, s := range spans {
		for i := s.from - from + pad; i < s.to-from+pad; i++ {
			if c := out[i]; c != '\n' && c != '\r' {
				out[i] = ' '
			}
		}
	}
	return out, spans
}

// attach finds in n the nodes of spans (by their keys' positions) and
// puts in their place the empty nodes the parser reads one item at a
// time; it fails the reading when one is not where prescan saw it.
func (t *textLists) attach(n *yaml.Node, spans []*span) {
	for _, s := range spans {
		if !t.attachOne(n, s) {
			t.failed = true
			return
		}
	}
}

func (t *textLists) attachOne(n *yaml.Node, s *span) bool {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Line == s.key.line && k.Column == s.key.col {
				kind := yaml.SequenceNode
				if s.mapping {
					kind = yaml.MappingNode
				}
				if s.flow {
					// The blanked collection: [ ] or { }.
					if v.Kind != kind || len(v.Content) != 0 || v.Line != s.at.line || v.Column != s.at.col {
						return false
					}
				} else {
					// The blanked lines: no value.
					if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!null" || v.Value != "" {
						return false
					}
					tag := "!!seq"
					if s.mapping {
						tag = "!!map"
					}
					v = &yaml.Node{Kind: kind, Tag: tag, Line: s.at.line, Column: s.at.col}
					n.Content[i+1] = v
				}
				t.nodes[v] = s
				return true
			}
		}
	}
	for _, c := range n.Content {
		if c.Line <= s.key.line && t.attachOne(c, s) {
			return true
		}
	}
	return false
}

// root parses the file with its outermost spans blanked.
func (t *textLists) root(p *parser) *yaml.Node {
	data, spans := t.text(0, len(t.data), 0, 0)
	if t.failed {
		return nil
	}
	n := p.document(data)
	if n == nil || len(p.Errs) > 0 {
		t.failed = true
		return nil
	}
	t.attach(n, spans)
	return n
}

// item parses item i of span s: a list's item, or a mapping of the
// tags' one entry. It returns nil, and fails the reading, when it does
// not read on its own.
func (t *textLists) item(s *span, i int) *yaml.Node {
	if t.failed {
		return nil
	}
	if b := &t.batch; b.s == s && i >= b.first && i < b.first+len(b.nodes) {
		return b.nodes[i-b.first]
	}
	// The items from i, up to batchBytes of them (one at least), are read
	// together: they are a list (or mapping) in the file as they are in
	// their text, and a parse costs some microseconds.
	last := i
	for last+1 < len(s.items) && int(s.items[last+1].end-s.items[i].off) <= batchBytes {
		last++
	}
	first := s.items[i]
	// Flow items are read in a collection of their own kind: alone, "-"
	// or ">" would start a block list or text.
	var open, close byte
	if s.flow {
		open, close = '[', ']'
		if s.mapping {
			open, close = '{', '}'
		}
	}
	data, spans := t.text(int(first.off), int(s.items[last].end), open, close)
	if t.failed {
		return nil
	}
	if s.flow && (bytes.Contains(data, []byte("\n---")) || bytes.Contains(data, []byte("\n..."))) {
		t.failed = true // a document marker at the start of a line of its own
		return nil
	}
	d := yamlpos.Decoder{File: t.file}
	n := d.Document(data, "", "")
	count := last - i + 1
	switch {
	case n == nil || len(d.Errs) > 0:
		n = nil
	case s.mapping && (n.Kind != yaml.MappingNode || len(n.Content) != 2*count):
		n = nil
	case !s.mapping && (n.Kind != yaml.SequenceNode || len(n.Content) != count):
		n = nil
	}
	if n == nil {
		t.failed = true
		return nil
	}
	col := 0
	if s.flow {
		col = int(first.col) - 2 // the first item was at column 2, after the bracket
	}
	shift(n, int(first.line)-1, col)
	t.attach(n, spans)
	if t.failed {
		return nil
	}
	nodes := n.Content
	if s.mapping {
		// Each entry, as a mapping of its own.
		nodes = make([]*yaml.Node, count)
		for k := range nodes {
			nodes[k] = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: n.Content[2*k : 2*k+2]}
		}
	}
	for k := i; k <= last; k++ {
		s.items[k].read = true
	}
	t.batch = batch{s: s, first: i, nodes: nodes}
	return nodes[0]
}

// batchBytes is the most text of items item parses together (when each
// is shorter): their tree costs some 25 times as much.
const batchBytes = 4 << 10

// batch is the items last parsed together.
type batch struct {
	s     *span
	first int
	nodes []*yaml.Node
}

// checkUnread parses the items the parser did not read (under an
// unknown or repeated key, past a quota, after an error): the whole
// tree would find their syntax errors. It fails the reading at the
// first that does not read on its own.
func (t *textLists) checkUnread() {
	for _, s := range t.spans {
		for i := range s.items {
			if !s.items[i].read && t.item(s, i) == nil {
				return
			}
		}
	}
}

// shift moves n and the nodes below it down by lines lines, and those
// on its first line right by cols columns.
func shift(n *yaml.Node, lines, cols int) {
	if n.Line == 1 {
		n.Column += cols
	}
	n.Line += lines
	for _, c := range n.Content {
		shift(c, lines, cols)
	}
}

// items are the items of a list: of its node in the tree, or read one at
// a time from the text.
type items struct {
	nodes []*yaml.Node
	t     *textLists
	s     *span
}

// listItems returns the items of sequence n.
func (p *parser) listItems(n *yaml.Node) items {
	if p.lists != nil {
		if s := p.lists.nodes[n]; s != nil {
			return items{t: p.lists, s: s}
		}
	}
	return items{nodes: n.Content}
}

func (it items) len() int {
	if it.s != nil {
		return len(it.s.items)
	}
	return len(it.nodes)
}

// item returns item i, or nil when it cannot be read on its own (the
// file is then parsed again whole).
func (it items) item(i int) *yaml.Node {
	if it.s != nil {
		return it.t.item(it.s, i)
	}
	return it.nodes[i]
}

// all yields the items in order, up to the first that cannot be read.
func (it items) all() iter.Seq2[int, *yaml.Node] {
	return func(yield func(int, *yaml.Node) bool) {
		for i := range it.len() {
			n := it.item(i)
			if n == nil || !yield(i, n) {
				return
			}
		}
	}
}

// hasID reports whether an item is a mapping whose key is value; of the
// items read from the text, only those whose text holds value are read.
func (it items) hasID(key, value string) bool {
	for i := range it.len() {
		if it.s != nil {
			sp := it.s.items[i]
			if !bytes.Contains(it.t.data[sp.off:sp.end], []byte(value)) {
				continue
			}
		}
		if v := lookup(it.item(i), key); v != nil && v.Value == value {
			return true
		}
	}
	return false
}

// pairs yields the keys and values of mapping n: of its node in the tree,
// or read one entry at a time from the text.
func (p *parser) pairs(n *yaml.Node) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(k, v *yaml.Node) bool) {
		if p.lists != nil {
			if s := p.lists.nodes[n]; s != nil {
				for i := range s.items {
					e := p.lists.item(s, i)
					if e == nil || !yield(e.Content[0], e.Content[1]) {
						return
					}
				}
				return
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(n.Content[i], n.Content[i+1]) {
				return
			}
		}
	}
}

// pairsLen returns the number of entries of mapping n.
func (p *parser) pairsLen(n *yaml.Node) int {
	if p.lists != nil {
		if s := p.lists.nodes[n]; s != nil {
			return len(s.items)
		}
	}
	return len(n.Content) / 2
}

// plainBreaks reports whether every line break of data is "\n" or
// "\r\n", the ones prescan counts lines by, and the file is UTF-8: the
// YAML library also breaks lines at a lone "\r" and at NEL, LS and PS, and
// reads UTF-16, and an item read on its own would then be placed at the
// wrong lines.
func plainBreaks(data []byte) bool {
	if bytes.IndexByte(data, 0) >= 0 || bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return false
	}
	for i, c := range data {
		if c == '\r' && (i+1 >= len(data) || data[i+1] != '\n') {
			return false
		}
	}
	for _, b := range []string{"\u0085", "\u2028", "\u2029"} {
		if bytes.Contains(data, []byte(b)) {
			return false
		}
	}
	return true
}
