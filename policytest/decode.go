package policytest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/lab"
)

// This file turns YAML nodes into Go values. Every reader reports what is
// wrong at the node's position and returns ok=false; readers given a nil
// node (an absent key) return ok=false without a report.

// decoder collects the errors of one file. They are lab.Errors, so that
// tools report lab files and policy-test files alike.
type decoder struct {
	file string
	errs lab.ErrorList
}

// errorf records an error at node n.
func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.errs = append(d.errs, &lab.Error{File: d.file, Line: n.Line, Column: n.Column,
		Field: field, Msg: fmt.Sprintf(format, args...)})
}

// err returns the errors sorted by position, or nil.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b *lab.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return d.errs
}

// yamlLine extracts the line from go.yaml.in/yaml syntax errors, which read
// "yaml: line N: message".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data as one YAML document without aliases and returns
// its top node, or nil after reporting why it cannot.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &lab.Error{File: d.file, Msg: "the file is empty: a policy test needs a lab and steps"})
		} else {
			d.syntaxError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(&next, "", "a second YAML document: a policy test is one document (remove the '---')")
		return nil
	case !errors.Is(err, io.EOF):
		d.syntaxError(err)
		return nil
	}
	if d.rejectAliases(&doc) {
		return nil
	}
	return doc.Content[0]
}

// syntaxError records an error of the YAML parser.
func (d *decoder) syntaxError(err error) {
	e := &lab.Error{File: d.file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	e.Msg = "invalid YAML: " + e.Msg
	d.errs = append(d.errs, e)
}

// rejectAliases reports every alias in the tree and whether there was one:
// an error inside an aliased value would point at the anchor, far from its
// use.
func (d *decoder) rejectAliases(n *yaml.Node) bool {
	found := false
	if n.Kind == yaml.AliasNode {
		d.errorf(n, "", "YAML aliases (*%s) are not supported: write the value out", n.Value)
		found = true
	}
	for _, c := range n.Content {
		found = d.rejectAliases(c) || found
	}
	return found
}

// kindName names a node's kind for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a single value"
}

// object is a YAML mapping whose keys have been checked against the known
// ones.
type object struct {
	node *yaml.Node
	path string
	keys map[string]*yaml.Node // key name → key node
	vals map[string]*yaml.Node // key name → value node
}

// at returns the field path of a key of o.
func (o object) at(key string) string {
	if o.path == "" {
		return key
	}
	return o.path + "." + key
}

// object checks that n is a mapping whose keys are all in known, each given
// once; what names the mapping for messages ("a step"). It reports the
// other keys and leaves them out, and returns ok=false only when n is not
// a mapping.
func (d *decoder) object(n *yaml.Node, path, what string, known []string) (object, bool) {
	o := object{node: n, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "want %s (a mapping with keys %s), not %s", what, strings.Join(known, ", "), kindName(n))
		return o, false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.errorf(k, path, "a key must be a name, not %s", kindName(k))
		case !slices.Contains(known, k.Value):
			d.errorf(k, o.at(k.Value), "unknown key: the keys of %s are %s", what, strings.Join(known, ", "))
		case o.keys[k.Value] != nil:
			d.errorf(k, o.at(k.Value), "given twice (first at line %d)", o.keys[k.Value].Line)
		default:
			o.keys[k.Value], o.vals[k.Value] = k, v
		}
	}
	return o, true
}

// need returns the value of a required key, reporting its absence; hint
// says what to write.
func (d *decoder) need(o object, key, hint string) *yaml.Node {
	if v := o.vals[key]; v != nil {
		return v
	}
	d.errorf(o.node, o.at(key), "missing: %s", hint)
	return nil
}

// scalar returns the text of a single value; want describes the expected
// value for messages.
func (d *decoder) scalar(n *yaml.Node, field, want string) (string, bool) {
	switch {
	case n == nil:
		return "", false
	case n.Kind != yaml.ScalarNode:
		d.errorf(n, field, "want %s, not %s", want, kindName(n))
		return "", false
	case n.ShortTag() == "!!null":
		d.errorf(n, field, "has no value: want %s", want)
		return "", false
	}
	return n.Value, true
}

// text reads a non-empty single-line value.
func (d *decoder) text(n *yaml.Node, field, want string) (string, bool) {
	s, ok := d.scalar(n, field, want)
	switch {
	case !ok:
		return "", false
	case strings.TrimSpace(s) == "" || strings.ContainsAny(s, "\r\n"):
		d.errorf(n, field, "%q is not %s: want one line of text", s, want)
		return "", false
	}
	return s, true
}

// integer reads a decimal integer in lo..hi; what names it for messages.
func (d *decoder) integer(n *yaml.Node, field, what string, lo, hi int) (int, bool) {
	s, ok := d.scalar(n, field, what)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		d.errorf(n, field, "%q is not %s: use a whole number from %d to %d", s, what, lo, hi)
		return 0, false
	}
	return v, true
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, field string) (bool, bool) {
	s, ok := d.scalar(n, field, "true or false")
	if !ok {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	d.errorf(n, field, "%q is not a boolean: use true or false", s)
	return false, false
}

// oneOf reads one of a few words.
func (d *decoder) oneOf(n *yaml.Node, field string, words ...string) (string, bool) {
	want := strings.Join(words, " or ")
	s, ok := d.scalar(n, field, want)
	if !ok {
		return "", false
	}
	if !slices.Contains(words, s) {
		d.errorf(n, field, "%q is not allowed here: use %s", s, want)
		return "", false
	}
	return s, true
}
