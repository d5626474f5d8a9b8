package labfile

import (
	"fmt"
	"math"
	"strconv"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// This file counts what the quotas bound before the YAML library reads
// the file: the library's tree of a file costs some 30 bytes per byte of
// it, so a file of a million rules would take gigabytes to be refused.
// prescan reads the file's text without building anything (a stack of
// the collections it is in), finds its quotas, counts the items of the
// security group list, of each group's rule lists and of each network
// ACL's entry lists, and refuses at the first list far over its quota:
//
//   - more than twice quotas.sg_rules rules in one direction of a group,
//     or twice quotas.nacl_entries entries in one of an ACL: every rule
//     or entry counts at least once in one IP family, so such a list is
//     over the quota in one family whatever the rules are;
//   - more than twice quotas.sgs_per_vpc security groups, refused as
//     Parse refuses groups past the quota;
//   - more than maxListItems items in a list no quota bounds, more than
//     maxMappingKeys keys in a mapping (maxListItems resources in the
//     tags, lab.MaxTagsPerItem tags in one resource's): the tree refuses
//     them too, as unknown or repeated keys or past the same bounds.
//
// It also records the spans, the lists and the tags Parse reads one item
// at a time (chunk.go): where each item starts and ends, and the
// position of the key whose value the collection is. Where a file's
// layout could make an item read alone differ from the item in the file
// (a list in a list's item, a continued line no more indented than its
// block collection, a line of other characters than ASCII before an
// item's start, whose columns the library counts in characters), prescan
// leaves the collection, or the file, to be read whole.
//
// Lists over their quota by less are left to Parse, which reports every
// problem of the file. prescan understands the YAML lab files use, block
// and flow styles, JSON, quoted and block scalars, comments; at anything
// else (anchors, aliases, complex keys, directives, a second document) it
// gives up and leaves the file to the YAML library, which refuses most of
// them. It never refuses a file Parse would accept.

// prescanRole is what a collection of the file is, as far as the quotas
// go.
type prescanRole uint8

const (
	roleOther   prescanRole = iota
	roleRoot                // the top-level mapping
	roleQuotas              // quotas:
	roleGroups              // security_groups:
	roleGroup               // one security group
	roleRules               // a group's ingress or egress
	roleACLs                // network_acls:
	roleACL                 // one network ACL
	roleEntries             // an ACL's ingress or egress
	roleTags                // tags: the resources tagged
	roleTagSet              // one resource's tags
)

// frame is one collection prescan is in.
type frame struct {
	seq, flow bool
	indent    int // block collections: the column of their keys or dashes
	role      prescanRole
	key       string   // mappings: the current key
	count     int      // lists: the items so far
	index     int      // the collection's index in the list holding it
	id        string   // groups and ACLs: their id, once read
	long      int      // 1 + its index in prescanner.long, if there
	keyAt     position // mappings: where the current key starts
	keyEnd    int      // block mappings: the offset past the current key's ':'
	span      int      // 1 + its index in prescanner.spans, if read one item at a time
	itemOpen  bool     // flow collections read one item at a time: an item is open

	// Flow collections: what the next token is.
	expectItem, expectKey, expectValue bool
}

// position is where an item of the file starts.
type position struct{ line, col int }

// excess is a rule or entry list far over its quota.
type excess struct {
	owner    string // security_groups or network_acls
	index    int    // the owner's index in the file
	id       string // the owner's id, if it has one
	dir      string // ingress or egress
	count    int
	at       position // its item past twice the quota
	quota    int
	quotaKey string
}

// prescanner holds the state of one reading of a file.
type prescanner struct {
	data           []byte
	pos, line, bol int // offset, line (from 1) and offset of the line's start
	stack          []frame
	gaveUp         bool
	// broken: the reading stopped at a syntax error (see breaks).
	broken bool

	countOnly bool // the first reading: the quotas only
	quotas    lab.Quotas

	groups       int      // items of security_groups
	groupAt      position // the item at index quota-1
	groupAfter   position // and at quota
	groupDefault bool     // a group has id default
	excesses     []excess
	long         []longList // lists past maxListItems

	// spans are the collections read one item at a time (chunk.go), in
	// file order; nil where one turned out not to qualify.
	spans []*span
	tok   int // the offset of the token that closes block collections
	// flowValue: the flow collection starting is a flow mapping's value.
	flowValue bool
	// The line holds only ASCII up to asciiFrom, if asciiOK (ascii).
	asciiBol, asciiFrom int
	asciiOK             bool
}

// longList is a list or mapping with more items than a lab file may hold.
type longList struct {
	path  string   // as the file writes it, items by index
	at    position // its first item past the bound
	count int
	bound int
	what  string // "items", "keys" or "tags"
}

// prescan refuses data when a list is far over its quota; it returns nil
// when it finds none or gives up.
func prescan(file string, data []byte) yamlpos.ErrorList {
	errs, _ := prescanLayout(file, data)
	return errs
}

// prescanLayout is prescan that also returns, when the file is accepted,
// the collections of the file to read one item at a time (chunk.go), or
// nil when there are none.
func prescanLayout(file string, data []byte) (yamlpos.ErrorList, *layout) {
	first := prescanner{data: data, countOnly: true, quotas: lab.DefaultQuotas()}
	if !first.run() {
		return nil, nil
	}
	s := prescanner{data: data, quotas: first.quotas}
	if !s.run() {
		return nil, nil
	}
	var spans []*span
	for _, sp := range s.spans {
		if sp != nil {
			spans = append(spans, sp)
		}
	}
	var lay *layout
	if len(spans) > 0 && len(data) <= math.MaxInt32 { // spanItem's offsets
		lay = &layout{spans: spans}
	}
	if s.broken {
		// The library refuses the file for its syntax, before the
		// quotas: the count up to the error does not say more.
		return nil, lay
	}
	var errs yamlpos.ErrorList
	if quota := s.quotas.SGsPerVPC; s.groups > 2*quota {
		offset, at, i := 1, s.groupAt, quota-1
		if s.groupDefault {
			offset, at, i = 0, s.groupAfter, quota
		}
		errs = append(errs, &yamlpos.Error{File: file, Line: at.line, Column: at.col, Field: fmt.Sprintf("security_groups[%d]", i),
			Msg: fmt.Sprintf("%d security groups: the quota is %d per VPC, the default group included (quotas.sgs_per_vpc; AWS's default is 2500)", s.groups+offset, quota)})
	}
	for _, e := range s.excesses {
		if len(errs) >= maxErrors {
			break
		}
		index := e.index
		if e.owner == "security_groups" && !s.groupDefault {
			index++ // the default group Parse adds comes first
		}
		what := "rules"
		if e.owner == "network_acls" {
			what = "entries"
		}
		errs = append(errs, &yamlpos.Error{File: file, Line: e.at.line, Column: e.at.col,
			Field: fmt.Sprintf("%s.%s[%d]", lab.ItemPath(e.owner, index, e.id), e.dir, 2*e.quota),
			Msg: fmt.Sprintf("%d %s in %s: the quota is %d per direction and family (quotas.%s), so at most %d fit, counting both families",
				e.count, what, e.dir, e.quota, e.quotaKey, 2*e.quota)})
	}
	for _, l := range s.long {
		if len(errs) >= maxErrors {
			break
		}
		e := &yamlpos.Error{File: file, Line: l.at.line, Column: l.at.col,
			Field: fmt.Sprintf("%s[%d]", l.path, l.bound),
			Msg:   fmt.Sprintf("%d items: a list of a lab file holds at most %d", l.count, l.bound)}
		switch l.what {
		case "keys":
			e.Field = l.path
			e.Msg = fmt.Sprintf("%d keys: a mapping of a lab file has at most %d (lab files' mappings know fewer keys, each given once)", l.count, l.bound)
		case "resources":
			e.Field = l.path
			e.Msg = fmt.Sprintf("%d resources tagged: a lab tags at most %d", l.count, l.bound)
		case "tags":
			e.Field = l.path
			e.Msg = fmt.Sprintf("%d tags: a resource has at most %d", l.count, l.bound)
		}
		errs = append(errs, e)
	}
	if len(errs) == 0 {
		return nil, lay
	}
	return errs, nil
}

// run reads the whole file; it returns false when it gave up.
func (s *prescanner) run() bool {
	s.pos, s.line, s.bol, s.asciiBol = 0, 1, 0, -1
	if len(s.data) >= 3 && s.data[0] == 0xef && s.data[1] == 0xbb && s.data[2] == 0xbf {
		s.pos = 3 // a byte order mark
	}
	first := true
	for s.pos < len(s.data) && !s.gaveUp {
		// At the start of a line, in block context.
		indent := 0
		for s.pos+indent < len(s.data) && s.data[s.pos+indent] == ' ' {
			indent++
		}
		s.pos += indent
		c := s.peek()
		switch {
		case c == '\n' || c == '\r' || c == 0 && s.pos >= len(s.data):
			s.endLine()
			continue
		case c == '#':
			s.skipLine()
			continue
		case c == '%':
			return false
		case c == '\t':
			// A tab cannot indent a block collection: the library
			// refuses the file at it, or before it.
			s.breaks()
			continue
		case indent == 0 && s.startsWith("---") && s.endsToken(s.pos+3):
			if !first {
				return false // a second document: the library says so
			}
			s.pos += 3
		case indent == 0 && s.startsWith("...") && s.endsToken(s.pos+3):
			return false
		}
		first = false
		s.blockLine()
	}
	s.tok = s.pos
	// At a syntax error, the collections still open end with the file.
	// The item holding the error runs to it: read alone it fails as the
	// file does (chunk.go). A flow collection blanked in a text holding
	// it needs its closing brackets, and those of the flow collections
	// it is in, up to the item or the top: its closers.
	var closers []byte
	var last *span
	for len(s.stack) > 0 {
		f := *s.top()
		if s.broken && f.flow {
			s.endItem(s.top())
		}
		s.pop()
		if !s.broken {
			continue
		}
		if f.span > 0 && s.spans[f.span-1] != nil {
			if last != nil {
				last.closers = string(closers)
			}
			last, closers = s.spans[f.span-1], closers[:0]
			last.broken = true
		}
		if f.flow && f.seq {
			closers = append(closers, ']')
		} else if f.flow {
			closers = append(closers, '}')
		}
	}
	if last != nil {
		last.closers = string(closers)
	}
	return !s.gaveUp
}

// breaks stops the reading at a syntax error, such as a quoted scalar
// or a flow collection the file does not close, or a closing bracket of
// the other kind: the library refuses the file there or before. The
// layout found so far is kept, so that the file is read one item at a
// time up to the error, which the item holding it reports (chunk.go).
func (s *prescanner) breaks() {
	s.broken = true
	s.pos, s.bol = len(s.data), len(s.data)
}

// blockLine reads the rest of a line in block context, from its first
// character.
func (s *prescanner) blockLine() {
	for !s.gaveUp {
		s.skipSpaces()
		col := s.col()
		c := s.peek()
		switch {
		case c == '\n' || c == '\r' || s.pos >= len(s.data):
			s.endLine()
			return
		case c == '#':
			s.skipLine()
			return
		case c == '-' && s.endsToken(s.pos+1):
			s.blockItem(col)
			s.pos++
			continue
		case c == '?' && s.endsToken(s.pos+1), c == '&', c == '*', c == '\t':
			s.gaveUp = true
			return
		case c == '[' || c == '{':
			if t := s.top(); t != nil && !t.flow && col <= t.indent && s.onlySpaces(s.bol, s.pos) {
				// A collection at a line's start no more indented than
				// the block collection around it is not the value of its
				// last key: a key of it (the library reads "? [1]" in
				// "a:\n[1]: 2") or an error. No lab file has one.
				s.gaveUp = true
				return
			}
			s.flow()
			continue
		case c == ',' || c == ']' || c == '}' || c == '@' || c == '`':
			// A flow indicator in block context, or a reserved one,
			// starts no scalar: the library refuses the file there.
			s.breaks()
			return
		case c == '|' || c == '>':
			s.blockScalar()
			return
		}
		// A key or a single value.
		line, start := s.line, s.pos
		text, _ := s.scalar(false)
		if s.gaveUp {
			return
		}
		s.skipSpaces()
		if s.peek() == ':' && s.endsToken(s.pos+1) {
			s.pos++
			s.blockKey(position{line, col}, start, text)
			continue
		}
		s.value(text)
		s.skipSpaces()
		if c := s.peek(); c == '#' || c == '\n' || c == '\r' || s.pos >= len(s.data) {
			continue
		}
		// More of a plain value (a ": " inside it was not a key).
		s.skipLine()
		return
	}
}

// blockItem starts an item of a block list at col.
func (s *prescanner) blockItem(col int) {
	s.tok = s.pos
	for len(s.stack) > 0 && !s.top().flow && s.top().indent > col {
		s.pop()
	}
	if t := s.top(); t == nil || !t.seq || t.indent != col {
		if t != nil && t.seq && !t.flow {
			// A list in a list's item, on a line of its own: no lab file
			// has one, and where it follows an item more indented the
			// library refuses the file but would read the item alone.
			s.unchunkAll()
		}
		s.push(frame{seq: true, indent: col})
	}
	// The item starts at its first character, on this line or a later one.
	at := s.pos + 1
	for at < len(s.data) && s.data[at] == ' ' {
		at++
	}
	s.item(position{s.line, at - s.bol + 1})
}

// blockKey starts key of a block mapping, at at (offset start); the
// input is past its ':'.
func (s *prescanner) blockKey(at position, start int, key string) {
	col := at.col
	s.tok = start
	for len(s.stack) > 0 && !s.top().flow && (s.top().indent > col || s.top().indent == col && s.top().seq) {
		s.pop()
	}
	if t := s.top(); t == nil || t.seq || t.indent != col {
		s.push(frame{indent: col})
		if s.gaveUp {
			return
		}
	}
	t := s.top()
	t.key, t.keyAt, t.keyEnd = key, at, s.pos
	if !s.ascii(start) {
		t.keyAt.col = -1 // columns count characters: none to find
	}
	s.key(t, at, start)
}

// key counts a key of mapping t, at at (offset start), against the most
// keys the mapping may have, and records where a mapping read one entry
// at a time has its entries.
func (s *prescanner) key(t *frame, at position, start int) {
	t.count++
	if s.countOnly {
		return
	}
	if t.span > 0 {
		if sp := s.spans[t.span-1]; sp != nil {
			if t.flow {
				t.itemOpen = true
				if !s.ascii(start) || at.col < 0 {
					s.spans[t.span-1] = nil
				}
				sp.items = append(sp.items, spanItem{off: int32(start), line: int32(at.line), col: int32(at.col)})
			} else if !s.onlySpaces(s.bol, start) {
				s.spans[t.span-1] = nil
			} else {
				if len(sp.items) == 0 {
					sp.at = at // the mapping's node is its first key's
				}
				sp.items = append(sp.items, spanItem{off: int32(s.bol), line: int32(at.line), col: 1})
			}
		}
	}
	bound, what := maxMappingKeys, "keys"
	switch t.role {
	case roleTags:
		bound, what = maxListItems, "resources"
	case roleTagSet:
		bound, what = lab.MaxTagsPerItem, "tags"
	}
	if t.count == bound+1 {
		t.long = len(s.long) + 1
		s.long = append(s.long, longList{path: s.path(), at: at, bound: bound, what: what})
	}
}

// blockScalar skips a block scalar (| or >) and the lines of its text:
// those more indented than the collection holding it, and blank ones.
func (s *prescanner) blockScalar() {
	indent := -1
	if t := s.top(); t != nil {
		indent = t.indent
	}
	s.skipLine()
	for s.pos < len(s.data) {
		n := 0
		for s.pos+n < len(s.data) && s.data[s.pos+n] == ' ' {
			n++
		}
		if c := s.at(s.pos + n); n < indent && c != '\n' && c != '\r' && s.pos+n < len(s.data) {
			return
		}
		s.skipLine()
	}
}

// flow reads a flow collection, from its [ or {, to its end; it may span
// lines.
func (s *prescanner) flow() {
	depth := len(s.stack)
	for !s.gaveUp {
		if s.pos >= len(s.data) {
			s.breaks() // unterminated: the library says where
			return
		}
		c := s.data[s.pos]
		t := s.top()
		switch {
		case c == '\n':
			s.pos++
			s.line, s.bol = s.line+1, s.pos
			if s.continued(true) {
				s.unchunkAll()
			}
		case c == ' ' || c == '\t' || c == '\r':
			s.pos++
		case c == '#':
			// Between tokens, as here, the library starts a comment at
			// any '#', after a quote or a flow indicator too ("a"#, [#):
			// only inside a plain scalar does it need a space before it.
			s.skipToEOL()
		case c == '[' || c == '{':
			if t != nil && t.flow && !t.seq && t.expectKey {
				s.unchunk(t) // a collection as a key
			}
			s.flowValue = t != nil && t.flow && !t.seq && t.expectValue
			s.valueStart()
			s.push(frame{seq: c == '[', flow: true, expectItem: c == '[', expectKey: c == '{'})
			s.pos++
		case c == ']' || c == '}':
			if t == nil || !t.flow || t.seq != (c == ']') {
				s.breaks()
				return
			}
			s.endItem(t)
			s.tok = s.pos
			s.pop()
			s.pos++
			if len(s.stack) < depth+1 {
				return
			}
		case c == ',':
			if t == nil || !t.flow {
				s.breaks()
				return
			}
			if !t.itemOpen {
				s.unchunk(t) // an empty item, which the library refuses
			}
			s.endItem(t)
			t.expectItem, t.expectKey, t.expectValue = t.seq, !t.seq, false
			s.pos++
		case c == ':' && t != nil && t.flow && !t.seq && !t.expectValue:
			if t.expectKey {
				s.key(t, position{s.line, s.col()}, s.pos) // an empty key
				s.unchunk(t)
				t.keyAt = position{-1, -1} // no key to find its value at
			}
			t.expectKey, t.expectValue = false, true
			s.pos++
		case c == '?' || c == '&' || c == '*':
			s.gaveUp = true
			return
		default:
			start := s.pos
			if t != nil && t.flow && !t.seq && t.expectKey {
				at := position{s.line, s.col()}
				if !s.ascii(start) {
					at.col = -1
				}
				t.key, _ = s.scalar(true)
				t.keyAt, t.expectKey = at, false
				s.key(t, at, start)
			} else {
				s.valueStart()
				text, _ := s.scalar(true)
				s.value(text)
			}
			if s.pos == start {
				s.pos++ // a ':' where none belongs: the library says so
			}
		}
	}
}

// valueStart is called where a value starts in a flow collection: an
// item of a list, or a mapping's value.
func (s *prescanner) valueStart() {
	t := s.top()
	if t == nil || !t.flow {
		return
	}
	switch {
	case t.seq && t.expectItem:
		t.expectItem = false
		s.item(position{s.line, s.col()})
	case !t.seq:
		t.expectKey, t.expectValue = false, false
	}
}

// scalar reads a quoted or plain scalar and returns its text (escapes
// left as written). Plain scalars end at the end of the line, at " #" and
// at ": "; in flow context also at , [ ] { } and a ':' before one of them.
func (s *prescanner) scalar(flow bool) (string, bool) {
	start := s.pos
	if q := s.peek(); q == '"' || q == '\'' {
		s.pos++
		under := false // a line no more indented than its block collection
		for s.pos < len(s.data) {
			c := s.data[s.pos]
			switch {
			case q == '"' && c == '\\':
				s.pos++
			case c == '\n':
				s.line, s.bol = s.line+1, s.pos+1
				under = s.continued(false) || under
			case c == q && q == '\'' && s.at(s.pos+1) == '\'':
				s.pos++
			case c == q:
				if under {
					s.unchunkAll()
				}
				s.pos++
				return string(s.data[start+1 : s.pos-1]), true
			}
			s.pos++
		}
		// Unterminated: the library says so at its quote, whatever its
		// lines' indentation, and the item holding it, which runs to
		// the end of the file, says so too.
		s.breaks()
		return "", true
	}
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '\n' || c == '\r' ||
			c == '#' && s.pos > start && isSpace(s.data[s.pos-1]) ||
			c == ':' && (s.endsToken(s.pos+1) || flow && isFlowIndicator(s.at(s.pos+1))) ||
			flow && isFlowIndicator(c) {
			break
		}
		s.pos++
	}
	end := s.pos
	for end > start && isSpace(s.data[end-1]) {
		end--
	}
	return string(s.data[start:end]), false
}

// value records a single value: the mapping's value of its current key.
func (s *prescanner) value(text string) {
	t := s.top()
	if t == nil {
		return
	}
	if t.flow && t.seq {
		return
	}
	switch t.role {
	case roleQuotas:
		if !s.countOnly {
			return
		}
		v, err := strconv.Atoi(text)
		if err != nil || v < 1 {
			return // Parse says what is wrong; prescan counts with the default
		}
		q := &s.quotas
		switch t.key {
		case "sg_rules":
			q.SGRules = min(v, lab.MaxQuotas.SGRules)
		case "nacl_entries":
			q.NACLEntries = min(v, lab.MaxQuotas.NACLEntries)
		case "sgs_per_vpc":
			q.SGsPerVPC = min(v, lab.MaxQuotas.SGsPerVPC)
		}
	case roleGroup, roleACL:
		if t.key == "id" {
			t.id = text
			if t.role == roleGroup && text == sg.DefaultGroupID {
				s.groupDefault = true
			}
		}
	}
}

// item records the start of an item of the list on top of the stack.
func (s *prescanner) item(at position) {
	t := s.top()
	t.count++
	if s.countOnly {
		return
	}
	if t.span > 0 {
		if sp := s.spans[t.span-1]; sp != nil {
			if t.flow {
				t.itemOpen = true
				if !s.ascii(s.pos) {
					s.spans[t.span-1] = nil
				}
				sp.items = append(sp.items, spanItem{off: int32(s.pos), line: int32(at.line), col: int32(at.col)})
			} else if !s.onlySpaces(s.bol, s.pos) {
				s.spans[t.span-1] = nil
			} else {
				sp.items = append(sp.items, spanItem{off: int32(s.bol), line: int32(s.line), col: 1})
			}
		}
	}
	switch t.role {
	case roleGroups:
		s.groups = t.count
		switch t.count - 1 {
		case s.quotas.SGsPerVPC - 1:
			s.groupAt = at
		case s.quotas.SGsPerVPC:
			s.groupAfter = at
		}
	case roleOther, roleACLs:
		if t.count == maxListItems+1 {
			t.long = len(s.long) + 1
			s.long = append(s.long, longList{path: s.path(), at: at, bound: maxListItems, what: "items"})
		}
	case roleRules, roleEntries:
		quota := s.quotas.SGRules
		if t.role == roleEntries {
			quota = s.quotas.NACLEntries
		}
		if t.count == 2*quota+1 {
			owner := s.stack[len(s.stack)-2] // the group or ACL
			e := excess{owner: "security_groups", index: owner.index, dir: owner.key, at: at, quota: quota, quotaKey: "sg_rules"}
			if t.role == roleEntries {
				e.owner, e.quotaKey = "network_acls", "nacl_entries"
			}
			s.excesses = append(s.excesses, e)
		}
	}
}

// push enters a collection inside the one on top of the stack.
func (s *prescanner) push(f frame) {
	parent := s.top()
	switch {
	case parent == nil:
		if !f.seq {
			f.role = roleRoot
		}
	case parent.seq:
		f.index = parent.count - 1
		if !f.seq {
			switch parent.role {
			case roleGroups:
				f.role = roleGroup
			case roleACLs:
				f.role = roleACL
			}
		}
	default:
		switch k := parent.key; {
		case parent.role == roleRoot && k == "quotas" && !f.seq:
			f.role = roleQuotas
		case parent.role == roleRoot && k == "security_groups" && f.seq:
			f.role = roleGroups
		case parent.role == roleRoot && k == "network_acls" && f.seq:
			f.role = roleACLs
		case parent.role == roleGroup && (k == "ingress" || k == "egress") && f.seq:
			f.role = roleRules
		case parent.role == roleACL && (k == "ingress" || k == "egress") && f.seq:
			f.role = roleEntries
		case parent.role == roleRoot && k == "tags" && !f.seq:
			f.role = roleTags
		case parent.role == roleTags && !f.seq:
			f.role = roleTagSet
		}
	}
	if len(s.stack) >= 10*yamlpos.MaxDepth {
		s.gaveUp = true // the library refuses it
		return
	}
	// The lists that are a mapping's value, and the tags, are read one
	// item at a time (chunk.go); a block list only when its key has
	// nothing else on its line.
	if !s.countOnly && parent != nil && !parent.seq && (f.seq || f.role == roleTags) &&
		(f.flow && (parent.flow && s.flowValue || !parent.flow && parent.keyEnd <= s.pos && s.blank(parent.keyEnd, s.pos)) ||
			!f.flow && !parent.flow && parent.keyEnd <= s.bol && s.blank(parent.keyEnd, s.bol)) {
		sp := &span{key: parent.keyAt, at: position{s.line, s.col()}, from: s.bol, flow: f.flow, mapping: !f.seq}
		if f.flow {
			sp.from = s.pos + 1
		}
		if parent.keyAt.col > 0 && s.ascii(s.pos) {
			s.spans = append(s.spans, sp)
			f.span = len(s.spans)
		}
	}
	s.stack = append(s.stack, f)
}

// unchunk gives up reading collection t one item at a time.
func (s *prescanner) unchunk(t *frame) {
	if t.span > 0 {
		s.spans[t.span-1] = nil
	}
}

// continued is called at the start of a line that continues a flow
// collection (flow) or a quoted scalar. One no more indented than the
// block collection holding them is refused by the library, but read
// alone (at the top, where any indentation goes) an item holding it
// would not be: continued reports it, and the file is then read whole.
// Closing brackets may stand anywhere.
func (s *prescanner) continued(flow bool) bool {
	i := s.bol
	for i < len(s.data) && s.data[i] == ' ' {
		i++
	}
	c := s.at(i)
	if i >= len(s.data) || c == '\n' || c == '\r' || c == '#' || flow && (c == ']' || c == '}') {
		return false
	}
	for j := len(s.stack) - 1; j >= 0; j-- {
		if f := &s.stack[j]; !f.flow {
			return i-s.bol+1 <= f.indent
		}
	}
	return false
}

// unchunkAll gives up reading the collections open one item at a time.
func (s *prescanner) unchunkAll() {
	for i := range s.stack {
		s.unchunk(&s.stack[i])
	}
}

// endItem ends the open item of flow collection t, at the input.
func (s *prescanner) endItem(t *frame) {
	if !t.itemOpen {
		return
	}
	t.itemOpen = false
	if t.span > 0 {
		if sp := s.spans[t.span-1]; sp != nil {
			sp.items[len(sp.items)-1].end = int32(s.pos)
		}
	}
}

// pop leaves the collection on top of the stack.
func (s *prescanner) pop() {
	f := s.top()
	if (f.role == roleRules || f.role == roleEntries) && !s.countOnly {
		quota := s.quotas.SGRules
		if f.role == roleEntries {
			quota = s.quotas.NACLEntries
		}
		if f.count > 2*quota {
			s.excesses[len(s.excesses)-1].count = f.count
		}
	}
	if (f.role == roleGroup || f.role == roleACL) && !s.countOnly {
		owner := "security_groups"
		if f.role == roleACL {
			owner = "network_acls"
		}
		for i := len(s.excesses) - 1; i >= 0 && s.excesses[i].owner == owner && s.excesses[i].index == f.index && s.excesses[i].id == ""; i-- {
			if lab.ValidID(f.id) {
				s.excesses[i].id = f.id
			}
		}
	}
	if f.long > 0 {
		s.long[f.long-1].count = f.count
	}
	if f.span > 0 && s.spans[f.span-1] != nil {
		sp := s.spans[f.span-1]
		if f.flow {
			sp.to = s.pos
		} else {
			sp.to = min(s.bol, s.pos, len(s.data))
			if !s.onlySpaces(sp.to, max(sp.to, min(s.tok, len(s.data)))) {
				sp = nil // closed by a token after others on its line
			} else {
				for i := range sp.items {
					sp.items[i].end = int32(sp.to)
					if i+1 < len(sp.items) {
						sp.items[i].end = sp.items[i+1].off
					}
				}
			}
		}
		if sp == nil || sp.to-sp.from < chunkMin || len(sp.items) == 0 {
			sp = nil
		}
		s.spans[f.span-1] = sp
	}
	s.stack = s.stack[:len(s.stack)-1]
}

// path returns the file's path of the list on top of the stack, its items
// by index: instances[3].interfaces.
func (s *prescanner) path() string {
	var b []byte
	for _, f := range s.stack[:len(s.stack)-1] {
		switch {
		case f.seq:
			b = append(append(append(b, '['), strconv.Itoa(f.count-1)...), ']')
		case len(b) > 0:
			b = append(append(b, '.'), f.key...)
		default:
			b = append(b, f.key...)
		}
	}
	return string(b)
}

// ascii reports whether the line holds only ASCII before offset to: the
// YAML library counts columns in characters, prescan in bytes.
func (s *prescanner) ascii(to int) bool {
	if s.asciiBol != s.bol {
		s.asciiBol, s.asciiFrom, s.asciiOK = s.bol, s.bol, true
	}
	for ; s.asciiFrom < to && s.asciiOK; s.asciiFrom++ {
		s.asciiOK = s.data[s.asciiFrom] < 0x80
	}
	return s.asciiOK
}

// blank reports whether data[from:to] holds only spaces, line ends and
// comments.
func (s *prescanner) blank(from, to int) bool {
	for i := from; i < to; i++ {
		switch c := s.data[i]; c {
		case ' ', '\n', '\r':
		case '#':
			// Only blanks before it: between tokens, a comment.
			for i < to && s.data[i] != '\n' {
				i++
			}
		default:
			return false
		}
	}
	return true
}

func (s *prescanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// The reading of the text.

func (s *prescanner) at(i int) byte {
	if i < len(s.data) {
		return s.data[i]
	}
	return 0
}

func (s *prescanner) peek() byte { return s.at(s.pos) }

func (s *prescanner) col() int { return s.pos - s.bol + 1 }

func (s *prescanner) startsWith(p string) bool {
	return len(s.data)-s.pos >= len(p) && string(s.data[s.pos:s.pos+len(p)]) == p
}

// endsToken reports whether i is past the end of a token: the end of the
// data, a space or a line end.
func (s *prescanner) endsToken(i int) bool {
	c := s.at(i)
	return i >= len(s.data) || c == ' ' || c == '\n' || c == '\r' || c == '\t'
}

func (s *prescanner) skipSpaces() {
	for s.pos < len(s.data) && s.data[s.pos] == ' ' {
		s.pos++
	}
}

func (s *prescanner) skipToEOL() {
	for s.pos < len(s.data) && s.data[s.pos] != '\n' {
		s.pos++
	}
}

// skipLine goes past the end of the line.
func (s *prescanner) skipLine() {
	s.skipToEOL()
	s.endLine()
}

// endLine goes past the line end at pos, if there is one.
func (s *prescanner) endLine() {
	if s.peek() == '\r' {
		s.pos++
	}
	if s.peek() == '\n' {
		s.pos++
	}
	s.line, s.bol = s.line+1, s.pos
}

// onlySpaces reports whether data[from:to] is all spaces.
func (s *prescanner) onlySpaces(from, to int) bool {
	for _, c := range s.data[from:to] {
		if c != ' ' {
			return false
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

func isFlowIndicator(c byte) bool { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}' }
