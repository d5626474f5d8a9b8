package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// This file turns YAML nodes into Go values. Every helper reports what is
// wrong at the node's position and returns ok=false; helpers given a nil
// node (an absent key) return ok=false without a report, so callers chain
// them without checking for absence first.

// decoder collects the errors of one file.
type decoder struct {
	file string
	errs ErrorList
}

// errorf records an error at node n.
func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Column: n.Column,
		Field: field, Msg: fmt.Sprintf(format, args...)})
}

// yamlLine extracts the line from the go.yaml.in/yaml syntax errors, which
// read "yaml: line N: message".
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data as a single YAML document without aliases and
// returns its top node, or nil after reporting why it cannot.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errs = append(d.errs, &Error{File: d.file, Msg: "the file is empty: a lab needs at least a vpc"})
		} else {
			d.syntaxError(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errorf(&next, "", "a second YAML document: a lab file holds one document (remove the '---')")
		return nil
	case !errors.Is(err, io.EOF):
		d.syntaxError(err)
		return nil
	}
	if d.rejectAliases(&doc) {
		return nil
	}
	top := doc.Content[0]
	if top.ShortTag() == "!!null" {
		d.errorf(top, "", "the file is empty: a lab needs at least a vpc")
		return nil
	}
	return top
}

// syntaxError records an error of the YAML parser.
func (d *decoder) syntaxError(err error) {
	e := &Error{File: d.file, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Msg = m[2]
	}
	e.Msg = "invalid YAML: " + e.Msg
	d.errs = append(d.errs, e)
}

// rejectAliases reports every alias in the tree and whether there was one.
// Aliases are refused rather than followed: an error inside an aliased
// value would point at the anchor, far from the use, and following them
// naively costs exponential time on hostile input.
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
	default:
		return "a single value"
	}
}

// join appends a key to a field path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object is a YAML mapping whose keys have been checked against the known
// ones.
type object struct {
	node *yaml.Node
	path string
	keys map[string]*yaml.Node // key name → key node
	vals map[string]*yaml.Node // key name → value node
}

// at returns the path of a key of o.
func (o object) at(key string) string { return join(o.path, key) }

// object checks that n is a mapping whose keys are all in known, each given
// once. what names the mapping for messages ("a subnet").
func (d *decoder) object(n *yaml.Node, path, what string, known ...string) (object, bool) {
	o := object{node: n, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	if n == nil {
		return o, false
	}
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
			d.errorf(k, join(path, k.Value), "unknown key: the keys of %s are %s", what, strings.Join(known, ", "))
		case o.keys[k.Value] != nil:
			d.errorf(k, join(path, k.Value), "given twice (first at line %d)", o.keys[k.Value].Line)
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

// list returns the items of a sequence node.
func (d *decoder) list(n *yaml.Node, field string) ([]*yaml.Node, bool) {
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		if n.ShortTag() == "!!null" {
			d.errorf(n, field, "has no value: write [] for an empty list, or leave the key out")
		} else {
			d.errorf(n, field, "want a list, not %s", kindName(n))
		}
		return nil, false
	}
	return n.Content, true
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

// idPattern is what ids and names may look like: they appear in
// space-separated flow-log records and in field paths.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// lookup returns the value of key in mapping n, or nil. It reports
// nothing: it lets a list item be named by its id before its keys are
// checked.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// validID reports whether n holds a valid id.
func validID(n *yaml.Node) bool {
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" && idPattern.MatchString(n.Value)
}

// id reads an identifier (an id or an instance name).
func (d *decoder) id(n *yaml.Node, field string) (string, bool) {
	s, ok := d.scalar(n, field, "an id")
	if !ok {
		return "", false
	}
	if !validID(n) {
		d.errorf(n, field, "%q is not a valid id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", s)
		return "", false
	}
	return s, true
}

// text reads free text.
func (d *decoder) text(n *yaml.Node, field string) (string, bool) {
	return d.scalar(n, field, "text")
}

// integer reads a decimal integer in lo..hi; unit names what it counts for
// messages ("a rule number").
func (d *decoder) integer(n *yaml.Node, field, unit string, lo, hi int) (int, bool) {
	s, ok := d.scalar(n, field, unit)
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < lo || v > hi {
		d.errorf(n, field, "%q is not %s: use a whole number from %d to %d", s, unit, lo, hi)
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

// duration reads a duration in lo..hi (both whole seconds), written like
// 30s or 5m, or as a number of seconds as the AWS API does.
func (d *decoder) duration(n *yaml.Node, field string, lo, hi time.Duration) (time.Duration, bool) {
	s, ok := d.scalar(n, field, "a duration")
	if !ok {
		return 0, false
	}
	var v time.Duration
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		ok = secs >= int64(lo/time.Second) && secs <= int64(hi/time.Second)
		v = time.Duration(secs) * time.Second
	} else if v, err = time.ParseDuration(s); err == nil {
		ok = v >= lo && v <= hi
	} else {
		d.errorf(n, field, "%q is not a duration: use a number of seconds or a duration like 30s or 5m", s)
		return 0, false
	}
	if !ok {
		d.errorf(n, field, "%s is out of range: use %s-%s", s, seconds(lo), seconds(hi))
		return 0, false
	}
	return v, true
}

// seconds formats a duration the way AWS states its limits: "432000s".
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64(d/time.Second), 10) + "s"
}

// prefix reads an IPv4 or IPv6 CIDR and clears its host bits.
func (d *decoder) prefix(n *yaml.Node, field string) (netip.Prefix, bool) {
	s, ok := d.scalar(n, field, "a CIDR")
	if !ok {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			d.errorf(n, field, "%q is an address, not a CIDR: write a block such as %s", s, netip.PrefixFrom(a, a.BitLen()))
		} else {
			d.errorf(n, field, "%q is not a CIDR: write an address block such as 10.0.0.0/16 or 2001:db8::/64", s)
		}
		return netip.Prefix{}, false
	}
	if p.Addr().Is4In6() {
		d.errorf(n, field, "%q is an IPv4-mapped IPv6 block: write IPv4 blocks as IPv4, such as 10.0.0.0/16", s)
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// addr reads an IPv4 or IPv6 address.
func (d *decoder) addr(n *yaml.Node, field string) (netip.Addr, bool) {
	s, ok := d.scalar(n, field, "an IP address")
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		d.errorf(n, field, "%q is not an IP address: write one such as 10.0.1.10 or 2001:db8::10", s)
	case a.Zone() != "":
		d.errorf(n, field, "%q has a zone: write the address without %%%s", s, a.Zone())
	case a.Is4In6():
		d.errorf(n, field, "%q is an IPv4-mapped IPv6 address: write it as IPv4 (%s)", s, a.Unmap())
	default:
		return a, true
	}
	return netip.Addr{}, false
}
