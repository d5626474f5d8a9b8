package labfile

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"sort"
	"strings"
	"unicode/utf8"

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
// file (more than one item, a key not where prescan saw it), the whole
// file is parsed again the usual way, which reports what is wrong as
// ever. At a syntax error of the library's inside an item (or in the
// text around the spans), firstError finds the error the whole file's
// parse reports without its tree: the library reads the file with the
// items before the first failing one blanked, and from it on as it is,
// up to contextLimit (16 KiB) past it (errorAt); where that cannot say,
// the whole file is parsed.

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
		if n == nil && len(p.Errs) == 1 && strings.HasPrefix(p.Errs[0].Msg, "invalid YAML: ") {
			// A syntax error outside the spans, or one the spans
			// blanked whole hide (an item indented less than its
			// siblings), or inside an item of theirs.
			t.syntax = t.firstError(nil, 0, 0)
		}
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
// together, fails on its own for one (s nil: when the file's text with
// the spans blanked does); nil when it cannot say without the whole
// file.
//
// The YAML library stops at a file's first error, and what it reports
// depends on where the error is and on the collections around it: its
// line is often that of the collection the error is in (the item, the
// list, or a mapping around it, for an item out of place). So the
// library is given the file itself, the items before the first one that
// fails on its own blanked (they read, and a blanked item changes
// nothing of what the library makes of what follows), and from that
// item on as it is (errorAt): it reports what it reports of the file.
func (t *textLists) firstError(s *span, i, last int) *yamlpos.Error {
	if yamlpos.TooDeep(t.data) {
		return nil // the whole file's parse says so, reading nothing
	}
	if !readable(t.data) {
		// The library checks the characters of what it reads ahead, a
		// buffer at a time, before it scans them: whether a control
		// character or bad UTF-8 is reported before a syntax error
		// depends on how far apart they are, and in a text of items
		// blanked it is not there.
		return nil
	}
	k := -1
	for j := i; s != nil && j <= last && k < 0; j++ {
		if nodes, syntax := t.parse(s, j, j); nodes == nil {
			if !syntax {
				return nil
			}
			k = j
		}
	}
	if s != nil && k < 0 {
		return nil // the items read alone but not together
	}
	s, k, ok := t.failing(s, k)
	if !ok {
		return nil
	}
	return t.errorAt(s, k)
}

// failing returns the first item, in file order, that fails on its own
// for a syntax error, starting from item k of span s (s nil: from the
// end of the file), and holding none that does: every item of a span
// before it reads. ok is false when one fails for another reason.
//
// The items before it are blanked for errorAt, so they must read; the
// ones holding it do not, and are given as they are. That it holds no
// failing item only keeps what errorAt gives as it is small.
func (t *textLists) failing(s *span, k int) (_ *span, _ int, ok bool) {
	const (
		before = iota
		inside
		holding
	)
search:
	for {
		from, to := len(t.data), len(t.data)
		if s != nil {
			from, to = int(s.items[k].off), int(s.items[k].end)
		}
		where := func(it spanItem) int {
			switch {
			case int(it.end) <= from:
				return before
			case int(it.off) >= from && int(it.end) <= to:
				return inside
			}
			return holding
		}
		for _, sp := range t.spans {
			if sp.from >= to {
				break
			}
			for j := 0; j < len(sp.items); j++ {
				it := sp.items[j]
				if int(it.off) >= to {
					break
				}
				w := where(it)
				if it.read || sp == s && j == k || w == holding {
					continue
				}
				// The items from j, up to batchBytes of them, that are
				// not read, in the same place relative to the one failing.
				end := j
				for end+1 < len(sp.items) {
					next := sp.items[end+1]
					if next.read || sp == s && end+1 == k || int(next.off) >= to || where(next) != w || int(next.end-it.off) > batchBytes {
						break
					}
					end++
				}
				if nodes, _ := t.parse(sp, j, end); nodes != nil {
					j = end
					continue
				}
				switch nodes, syntax := t.parse(sp, j, j); {
				case nodes != nil:
					continue // the batch failed for another item: try from the next
				case !syntax:
					return nil, 0, false
				}
				s, k = sp, j // before it, or inside it
				continue search
			}
		}
		return s, k, true
	}
}

// contextLimit is how much of the file after the item failing errorAt
// lets the library read: the parser sees a token or so past an error.
const contextLimit = 16 << 10

// errorAt parses the file with the items of the spans before item k of
// span s blanked (s nil: all of them), and returns the syntax error the
// library finds, or nil when it finds none, or reads past contextLimit
// bytes after the item.
//
// A block list whose items are blanked keeps one, "- _" at its first
// item's '-' (a mapping, "_:" at its first key), so that the library
// sees it start where the file's does (that is the line of its errors)
// and, after it, what follows an item in the same collection: an item
// indented less than its siblings, or a key at the column of the '-',
// is an error after a block list's item and none after the key of no
// value the list blanked whole leaves. Flow collections start at their
// bracket, and their items blanked leave none: the commas go with them.
func (t *textLists) errorAt(s *span, k int) *yamlpos.Error {
	at, end := len(t.data), len(t.data)
	if s != nil {
		at, end = int(s.items[k].off), min(len(t.data), int(s.items[k].end)+contextLimit)
	}
	parts, ok := t.blanked(at)
	if !ok {
		return nil
	}
	rest := &limitReader{data: t.data[at:end], cut: end < len(t.data)}
	dec := yaml.NewDecoder(io.MultiReader(append(parts, rest)...))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if err == nil {
		// As Document: an error past the document is the file's too.
		var next yaml.Node
		if err = dec.Decode(&next); err == nil {
			return nil // a second document: not a syntax error
		}
	}
	if rest.hit || errors.Is(err, io.EOF) {
		return nil
	}
	d := yamlpos.Decoder{File: t.file}
	d.SyntaxError(err)
	return d.Errs[0]
}

// blanked returns readers of the file's text up to offset at, an item's
// start or the end of the file, with the items of the spans before it
// blanked, and those of the spans holding it before the item holding
// it, as errorAt says. ok is false when a span's first token is not
// where prescan saw it, or a blanked text holds a document marker: the
// library would end the collection there.
func (t *textLists) blanked(at int) (parts []io.Reader, ok bool) {
	done := 0 // the text before done is in parts
	blank := func(from, to int) bool {
		if from >= to {
			return true
		}
		text := t.data[from:to]
		if bytes.Contains(text, []byte("\n---")) || bytes.Contains(text, []byte("\n...")) {
			return false
		}
		if from > done {
			parts = append(parts, bytes.NewReader(t.data[done:from]))
		}
		parts = append(parts, &blankReader{data: text})
		done = to
		return true
	}
	for _, sp := range t.spans {
		if sp.from >= at {
			break
		}
		if sp.from < done {
			continue // inside one blanked
		}
		n, to := len(sp.items), sp.to // the items blanked, to the text's end
		if sp.to > at {
			n = sort.Search(len(sp.items), func(i int) bool { return int(sp.items[i].off) > at }) - 1
			if n < 0 || int(sp.items[n].end) <= at {
				return nil, false
			}
			to = int(sp.items[n].off)
		}
		if n == 0 {
			continue
		}
		from := int(sp.items[0].off)
		if !sp.flow {
			tok := from
			for tok < len(t.data) && t.data[tok] == ' ' {
				tok++
			}
			if sp.mapping {
				if tok+2 > len(t.data) || bytes.ContainsAny(t.data[tok:tok+2], "\r\n") {
					return nil, false
				}
				parts = append(parts, bytes.NewReader(t.data[done:tok]), strings.NewReader("_:"))
				done, from = tok+2, tok+2
			} else {
				// "- _": after a '-' of no value the library expects the
				// item's, after the file's item the next one.
				if tok+2 >= len(t.data) || t.data[tok] != '-' || t.data[tok+1] != ' ' || t.data[tok+2] == '\n' || t.data[tok+2] == '\r' {
					return nil, false
				}
				parts = append(parts, bytes.NewReader(t.data[done:tok+2]), strings.NewReader("_"))
				done, from = tok+3, tok+3
			}
		}
		if !blank(from, to) {
			return nil, false
		}
	}
	if at > done {
		parts = append(parts, bytes.NewReader(t.data[done:at]))
	}
	return parts, true
}

// readable reports whether data is UTF-8 of the characters the YAML
// library reads (its reader refuses the others, "control characters are
// not allowed").
func readable(data []byte) bool {
	for len(data) > 0 {
		c := data[0]
		if c < 0x80 {
			if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f {
				return false
			}
			data = data[1:]
			continue
		}
		r, n := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && n <= 1:
			return false
		case r == 0x85, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000:
		default:
			return false
		}
		data = data[n:]
	}
	return true
}

// blankReader reads data with every byte but line ends a space.
type blankReader struct{ data []byte }

func (r *blankReader) Read(b []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(b, r.data)
	for i, c := range b[:n] {
		if c != '\n' && c != '\r' {
			b[i] = ' '
		}
	}
	r.data = r.data[n:]
	return n, nil
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
