// Package yamlpos decodes YAML files through go.yaml.in/yaml/v3 nodes so
// that every error names the file, line, column and field it is about. It
// owns what the lab and policy-test readers share: reporting fileerr's
// errors at a node, parsing one alias-free document, and the readers of mappings with
// known keys and of single values (text, integers, booleans).
//
// Every reader reports what is wrong at the node's position and returns
// ok=false; readers given a nil node (an absent key) return ok=false
// without a report, so callers chain them without checking for absence
// first. What a file means, and the readers only one kind of file needs,
// stay with the package that reads it.
package yamlpos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/fileerr"
)

// Error and ErrorList are fileerr's: one problem in a file, and all of
// them.
type (
	Error     = fileerr.Error
	ErrorList = fileerr.ErrorList
)

// Decoder collects the errors of one file.
type Decoder struct {
	File string // names the file in errors
	Errs ErrorList
}

// Errorf records an error at node n; field is the path of the value.
func (d *Decoder) Errorf(n *yaml.Node, field, format string, args ...any) {
	d.Errs = append(d.Errs, &Error{File: d.File, Line: n.Line, Column: n.Column,
		Field: field, Msg: fmt.Sprintf(format, args...)})
}

// yamlLine extracts the line from the go.yaml.in/yaml syntax errors, which
// read "yaml: line N: message".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Document parses data as a single YAML document without aliases and
// returns its top node, or nil after reporting why it cannot. The top node
// may be a null. The reports of an empty file and of a second document
// end in empty and oneDoc, which say what the file should hold.
func (d *Decoder) Document(data []byte, empty, oneDoc string) *yaml.Node {
	if line, col, ok := tooDeep(data); ok {
		d.Errs = append(d.Errs, &Error{File: d.File, Line: line, Column: col,
			Msg: fmt.Sprintf("invalid YAML: lists and mappings nested deeper than %d levels: the file needs a handful", MaxDepth)})
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.Errs = append(d.Errs, &Error{File: d.File, Msg: "the file is empty: " + empty})
		} else {
			d.SyntaxError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.Errorf(&next, "", "a second YAML document: %s (remove the '---')", oneDoc)
		return nil
	case !errors.Is(err, io.EOF):
		d.SyntaxError(err)
		return nil
	}
	if d.rejectAliases(&doc) {
		return nil
	}
	return doc.Content[0]
}

// SyntaxError records err, an error of the YAML library's parser, as
// Document does: at its line, when it names one. Readers that parse
// part of a file themselves, placed as in the file, report the library's
// errors through it so that they read as the whole file's would.
func (d *Decoder) SyntaxError(err error) {
	e := &Error{File: d.File, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	e.Msg = "invalid YAML: " + e.Msg
	d.Errs = append(d.Errs, e)
}

// rejectAliases reports every alias in the tree and whether there was one.
// Aliases are refused rather than followed: an error inside an aliased
// value would point at the anchor, far from the use, and following them
// naively costs exponential time on hostile input.
func (d *Decoder) rejectAliases(n *yaml.Node) bool {
	found := false
	if n.Kind == yaml.AliasNode {
		d.Errorf(n, "", "YAML aliases (*%s) are not supported: write the value out", n.Value)
		found = true
	}
	for _, c := range n.Content {
		found = d.rejectAliases(c) || found
	}
	return found
}

// KindName names a node's kind for messages: "a mapping", "a list" or "a
// single value".
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return "a single value"
	}
}

// Object is a YAML mapping whose keys have been checked against the known
// ones.
type Object struct {
	Node *yaml.Node
	Path string                // field path of the mapping ("" at the top)
	Vals map[string]*yaml.Node // key name → value node
}

// Key returns the node of key name (its first, the one Vals holds), or
// nil.
func (o Object) Key(name string) *yaml.Node {
	if o.Vals[name] == nil {
		return nil
	}
	for i := 0; i+1 < len(o.Node.Content); i += 2 {
		if k := o.Node.Content[i]; k.Kind == yaml.ScalarNode && k.Value == name {
			return k
		}
	}
	return nil
}

// At returns the field path of a key of o.
func (o Object) At(key string) string {
	if o.Path == "" {
		return key
	}
	return o.Path + "." + key
}

// Object checks that n is a mapping whose keys are all in known, each given
// once; what names the mapping for messages ("a subnet"). It reports the
// other keys and leaves them out, and returns ok=false only when n is nil
// or not a mapping.
func (d *Decoder) Object(n *yaml.Node, path, what string, known ...string) (Object, bool) {
	o := Object{Node: n, Path: path, Vals: map[string]*yaml.Node{}}
	if n == nil {
		return o, false
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "want %s (a mapping with keys %s), not %s", what, strings.Join(known, ", "), KindName(n))
		return o, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.Errorf(k, path, "a key must be a name, not %s", KindName(k))
		case !slices.Contains(known, k.Value):
			d.Errorf(k, o.At(k.Value), "unknown key: the keys of %s are %s", what, strings.Join(known, ", "))
		case o.Vals[k.Value] != nil:
			d.Errorf(k, o.At(k.Value), "given twice (first at line %d)", o.Key(k.Value).Line)
		default:
			o.Vals[k.Value] = v
		}
	}
	return o, true
}

// Need returns the value of a required key, reporting its absence at the
// mapping; hint says what to write.
func (d *Decoder) Need(o Object, key, hint string) *yaml.Node {
	if v := o.Vals[key]; v != nil {
		return v
	}
	d.Errorf(o.Node, o.At(key), "missing: %s", hint)
	return nil
}

// Scalar returns the text of a single value; want describes the expected
// value for messages.
func (d *Decoder) Scalar(n *yaml.Node, field, want string) (string, bool) {
	switch {
	case n == nil:
		return "", false
	case n.Kind != yaml.ScalarNode:
		d.Errorf(n, field, "want %s, not %s", want, KindName(n))
		return "", false
	case n.ShortTag() == "!!null":
		d.Errorf(n, field, "has no value: want %s", want)
		return "", false
	}
	return n.Value, true
}

// Integer reads a decimal integer in lo..hi; what names it for messages
// ("a rule number").
func (d *Decoder) Integer(n *yaml.Node, field, what string, lo, hi int) (int, bool) {
	s, ok := d.Scalar(n, field, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		d.Errorf(n, field, "%q is not %s: use a whole number from %d to %d", s, what, lo, hi)
		return 0, false
	}
	return v, true
}

// Boolean reads true or false, in any case.
func (d *Decoder) Boolean(n *yaml.Node, field string) (bool, bool) {
	s, ok := d.Scalar(n, field, "true or false")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	d.Errorf(n, field, "%q is not a boolean: use true or false", s)
	return false, false
}

// MaxDepth is the deepest nesting of flow lists and mappings ([ and {)
// Document reads. The YAML library builds a node per level before any
// check of ours, costing hundreds of bytes per byte of input; the files
// read here need a few levels.
const MaxDepth = 64

// TooDeep reports whether Document refuses data for collections nested
// deeper than MaxDepth: it says so before the YAML library reads
// anything, whatever else is wrong with data.
func TooDeep(data []byte) bool {
	_, _, ok := tooDeep(data)
	return ok
}

// tooDeep scans data for flow collections nested deeper than MaxDepth and
// returns the position of the first opening past it. It tracks quoted
// scalars and comments roughly (a quote opens a scalar only where one may
// start), which can only make it see less nesting than there is, never
// more, so it refuses no file that the YAML library would read at a sane
// depth.
func tooDeep(data []byte) (line, col int, ok bool) {
	depth, line, col := 0, 1, 0
	var quote byte // the open quote, or 0
	prev := byte('\n')
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		switch {
		case c == '\n':
			line, col = line+1, 0
			if quote == 0 {
				prev = c
				continue
			}
		case quote == '"' && c == '\\':
			i++ // an escaped character
			col++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '#' && (prev == ' ' || prev == '\t' || prev == '\n'):
			for i+1 < len(data) && data[i+1] != '\n' {
				i++
			}
		case (c == '"' || c == '\'') && strings.IndexByte(" \t\n[{,:-", prev) >= 0:
			quote = c
		case c == '[' || c == '{':
			if depth++; depth > MaxDepth {
				return line, col, true
			}
		case c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
		prev = c
	}
	return 0, 0, false
}
