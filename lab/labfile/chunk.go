package labfile

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"sort"
	"strings"

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
	lows  []int32 // prescanner.lows
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
	// broken: the file has a syntax error inside the collection, which
	// runs to the end of the file (prescanner.breaks). A text blanking
	// it then ends with closers: the brackets closing it and the flow
	// collections it is in, up to the item or the top.
	broken  bool
	closers string
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
	lows   []int32              // layout.lows
	nodes  map[*yaml.Node]*span // the empty nodes standing for spans
	failed bool                 // an item did not read on its own: parse the file whole
	batch  batch
	// syntax, when the reading failed, is the file's syntax error, as
	// the whole file's parse reports it (firstError).
	syntax *yamlpos.Error
}

// inside returns the spans directly inside data[from:to]: not inside
// another one there. ok is false when one runs past to.
func (t *textLists) inside(from, to int) (spans []*span, ok bool) {
	i := sort.Search(len(t.spans), func(i int) bool { return t.spans[i].from >= from })
	end := from
	for ; i < len(t.spans) && t.spans[i].from < to; i++ {
		s := t.spans[i]
		if s.from < end || s.from == from {
			continue // inside the last one, or the list of the item
		}
		if s.to > to {
			return nil, false
		}
		spans = append(spans, s)
		end = s.to
	}
	return spans, true
}

// text returns data[from:to] with the spans directly inside it blanked,
// line ends kept, and those spans; between open and close when they are
// not 0. ok is false when a span runs past to.
func (t *textLists) text(from, to int, open, close byte) (out []byte, spans []*span, ok bool) {
	spans, ok = t.inside(from, to)
	if !ok {
		return nil, nil, false
	}
	closers := ""
	if n := len(spans); n > 0 && spans[n-1].broken {
		closers = spans[n-1].closers // it runs to the end of the file, and of the text
	}
	out = make([]byte, 0, to-from+len(closers)+2)
	pad := 0
	if open != 0 {
		out = append(out, open)
		pad = 1
	}
	out = append(append(out, t.data[from:to]...), closers...)
	if close != 0 {
		out = append(out, close)
	}
	for _, s := range spans {
		for i := s.from - from + pad; i < s.to-from+pad; i++ {
			if c := out[i]; c != '\n' && c != '\r' {
				out[i] = ' '
			}
		}
	}
	return out, spans, true
}

// attach finds in n the nodes of spans (by their keys' positions) and
// puts in their place the empty nodes the parser reads one item at a
// time; it returns false when one is not where prescan saw it.
func (t *textLists) attach(n *yaml.Node, spans []*span) bool {
	for _, s := range spans {
		if !t.attachOne(n, s) {
			return false
		}
	}
	return true
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
	data, spans, ok := t.text(0, len(t.data), 0, 0)
	if !ok {
		t.failed = true
		return nil
	}
	n := p.document(data)
	if n == nil || len(p.Errs) > 0 || !t.attach(n, spans) {
		t.failed = true
		return nil
	}
	return n
}

// item parses item i of span s: a list's item, or a mapping of the
// tags' one entry. It returns nil, and fails the reading, when it does
// not read on its own; when that is for a syntax error inside it, the
// reading records the error (firstError).
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
	nodes, syntax := t.parse(s, i, last)
	if nodes == nil {
		t.failed = true
		if syntax {
			t.syntax = t.firstError(s, i, last)
		}
		return nil
	}
	t.batch = batch{s: s, first: i, nodes: nodes}
	return nodes[0]
}

// parse parses items i to last of span s together and marks them read.
// It returns nil when they do not read on their own, with syntax true
// when that is for a syntax error of the YAML library's.
func (t *textLists) parse(s *span, i, last int) (nodes []*yaml.Node, syntax bool) {
	first := s.items[i]
	// Flow items are read in a collection of their own kind: alone, "-"
	// or ">" would start a block list or text.
	var open, close byte
	if s.flow {
		open, close = '[', ']'
		if s.mapping {
			open, close = '{', '}'
		}
		if s.broken && last == len(s.items)-1 {
			close = 0 // the file does not close it: nor does the item
		}
	}
	data, spans, ok := t.text(int(first.off), int(s.items[last].end), open, close)
	if !ok {
		return nil, false
	}
	if s.flow && (bytes.Contains(data, []byte("\n---")) || bytes.Contains(data, []byte("\n..."))) {
		return nil, false // a document marker at the start of a line of its own
	}
	d := yamlpos.Decoder{File: t.file}
	n := d.Document(data, "", "")
	count := last - i + 1
	switch {
	case n == nil || len(d.Errs) > 0:
		return nil, n == nil && len(d.Errs) == 1 && strings.HasPrefix(d.Errs[0].Msg, "invalid YAML: ")
	case s.mapping && (n.Kind != yaml.MappingNode || len(n.Content) != 2*count):
		return nil, false
	case !s.mapping && (n.Kind != yaml.SequenceNode || len(n.Content) != count):
		return nil, false
	}
	col := 0
	if s.flow {
		col = int(first.col) - 2 // the first item was at column 2, after the bracket
	}
	shift(n, int(first.line)-1, col)
	if !t.attach(n, spans) {
		return nil, false
	}
	nodes = n.Content
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
	return nodes, false
}

// firstError returns the syntax error the parse of the whole file
// reports, when one of items i to last of span s, which do not read
// together, holds it; nil when it cannot say without the whole file.
//
// The YAML library stops at a file's first error, and what it reports
// depends on where it is: its line is often that of the collection the
// error is in (the item, or the list, for an item out of place), and a
// parser's error counts lines from 0. So the error is the one of the
// first item, in the file's order, that does not read on its own,
// parsed again placed as in the file (contextError). It is not, and
// the file is read whole, when the items holding or inside that item
// do not read either: which comes first is not known.
func (t *textLists) firstError(s *span, i, last int) *yamlpos.Error {
	if yamlpos.TooDeep(t.data) {
		return nil // the whole file's parse says so, reading nothing
	}
	k := -1
	for j := i; j <= last && k < 0; j++ {
		if nodes, syntax := t.parse(s, j, j); nodes == nil {
			if !syntax {
				return nil
			}
			k = j
		}
	}
	if k < 0 {
		return nil // the items read alone but not together
	}
	// Every item before it must read, and those inside it.
search:
	for {
		at := s.items[k]
		for _, sp := range t.spans {
			for j := 0; j < len(sp.items); j++ {
				it := sp.items[j]
				if it.off >= at.end {
					break
				}
				if it.read || sp == s && j == k {
					continue
				}
				// The items from j, up to batchBytes of them, that are
				// not read, in the same place relative to the one failing.
				end := j
				for end+1 < len(sp.items) && !sp.items[end+1].read && !(sp == s && end+1 == k) &&
					int(sp.items[end+1].end-it.off) <= batchBytes && (it.end <= at.off) == (sp.items[end+1].end <= at.off) {
					end++
				}
				if nodes, _ := t.parse(sp, j, end); nodes != nil {
					j = end
					continue
				}
				nodes, syntax := t.parse(sp, j, j)
				switch {
				case nodes != nil:
					continue // the batch failed for another item: try from the next
				case !syntax || it.end > at.off:
					return nil // inside the failing one, or holding it
				}
				s, k = sp, j // before it: the file's error is there, or earlier
				continue search
			}
		}
		return t.contextError(s, k)
	}
}

// contextLimit is how much of the file after an item contextError lets
// the library read: the parser sees a token or so past an error.
const contextLimit = 16 << 10

// contextError parses item k of span s placed as in the file: at its
// lines, in a list (or mapping) starting where its own does, and
// followed by the file's text up to the end of the collection (or
// contextLimit bytes of it), so that the library's error reads as the
// whole file's would. It returns nil when the item reads in that place,
// or its error is not found before the limit.
func (t *textLists) contextError(s *span, k int) *yamlpos.Error {
	it := s.items[k]
	text, spans, ok := t.text(int(it.off), int(it.end), 0, 0)
	if !ok {
		return nil
	}
	for _, sp := range spans {
		if !sp.flow && !t.endsBlock(sp) {
			return nil
		}
	}
	var parts []io.Reader
	pad := func(c byte, n int) {
		if n > 0 {
			parts = append(parts, &repeatReader{c: c, n: n})
		}
	}
	line := 1
	if s.flow {
		// The collection's bracket, at its place; blanks up to the item.
		open := "["
		if s.mapping {
			open = "{"
		}
		pad('\n', s.at.line-1)
		pad(' ', s.at.col-1)
		parts = append(parts, strings.NewReader(open))
		col := s.at.col + 1
		if int(it.line) > s.at.line {
			pad('\n', int(it.line)-s.at.line)
			col = 1
		}
		pad(' ', int(it.col)-col)
	} else {
		// Block items start at their line's start. The collection
		// starts at its first item: one of no value stands for it.
		first := s.items[0]
		if k > 0 {
			indent := 0
			for t.data[int(first.off)+indent] == ' ' {
				indent++
			}
			pad('\n', int(first.line)-1)
			pad(' ', indent)
			if s.mapping {
				parts = append(parts, strings.NewReader("_:"))
			} else {
				parts = append(parts, strings.NewReader("-"))
			}
			line = int(first.line)
		}
		pad('\n', int(it.line)-line)
	}
	// The library is given the text up to the end of the collection, to
	// contextLimit bytes past the item, or to a line left of the
	// collection, which the file's collections around it read.
	end, cut := s.to, false
	if s.flow && !s.broken {
		end++ // the closing bracket
	}
	if limit := int(it.end) + contextLimit; limit < end {
		end, cut = limit, true
	}
	if i := sort.Search(len(t.lows), func(i int) bool { return t.lows[i] > it.off }); i < len(t.lows) && int(t.lows[i]) < end {
		end, cut = int(t.lows[i]), true
	}
	if end < int(it.end) {
		text = text[:end-int(it.off)]
	}
	parts = append(parts, bytes.NewReader(text))
	rest := &limitReader{cut: cut}
	if end > int(it.end) {
		rest.data = t.data[it.end:end]
	}
	parts = append(parts, rest)
	var doc yaml.Node
	err := yaml.NewDecoder(io.MultiReader(parts...)).Decode(&doc)
	if err == nil || rest.hit || errors.Is(err, io.EOF) {
		return nil
	}
	d := yamlpos.Decoder{File: t.file}
	d.SyntaxError(err)
	return d.Errs[0]
}

// endsBlock reports whether the file's text after block collection sp
// starts no further right than sp's key, or is blank: only then does its
// key with no value, sp blanked, read as it does with sp. A line right
// of it is in the collection's place for the library; in the file, with
// sp, it may be an error of the collection's (a value where an item
// belongs), which the text blanked does not have.
func (t *textLists) endsBlock(sp *span) bool {
	bol := sp.to
	for i := sp.to; i < len(t.data); i++ {
		switch t.data[i] {
		case ' ', '\r':
		case '\n':
			bol = i + 1
		case '#':
			for i < len(t.data) && t.data[i] != '\n' {
				i++
			}
			bol = i + 1
		default:
			return i-bol+1 <= sp.key.col
		}
	}
	return true
}

// repeatReader reads as n bytes c.
type repeatReader struct {
	c byte
	n int
}

func (r *repeatReader) Read(b []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	b = b[:min(len(b), r.n)]
	for i := range b {
		b[i] = r.c
	}
	r.n -= len(b)
	return len(b), nil
}

// limitReader reads data, then, if cut, fails: the library read past
// what it was given.
type limitReader struct {
	data     []byte
	cut, hit bool
}

var errLimit = errors.New("past the text given")

func (r *limitReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		if r.cut {
			r.hit = true
			return 0, errLimit
		}
		return 0, io.EOF
	}
	n := copy(b, r.data)
	r.data = r.data[n:]
	return n, nil
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
