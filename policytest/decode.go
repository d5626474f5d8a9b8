package policytest

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// This file holds the readers only policy-test files need, on top of those
// of yamlpos. Like those, every reader reports what is wrong at the node's
// position and returns ok=false; readers given a nil node (an absent key)
// return ok=false without a report.

// decoder reads one policy-test file. Its errors are lab.Errors (the
// yamlpos type that lab.Error names), so that tools report lab files and
// policy-test files alike.
type decoder struct {
	yamlpos.Decoder
}

// document parses data as one YAML document without aliases and returns
// its top node, or nil after reporting why it cannot.
func (d *decoder) document(data []byte) *yaml.Node {
	return d.Document(data, "a policy test needs a lab and steps", "a policy test is one document")
}

// text reads a non-empty single-line value.
func (d *decoder) text(n *yaml.Node, field, want string) (string, bool) {
	s, ok := d.Scalar(n, field, want)
	switch {
	case !ok:
		return "", false
	case strings.TrimSpace(s) == "" || strings.ContainsAny(s, "\r\n"):
		d.Errorf(n, field, "%q is not %s: want one line of text", s, want)
		return "", false
	}
	return s, true
}

// oneOf reads one of a few words.
func (d *decoder) oneOf(n *yaml.Node, field string, words ...string) (string, bool) {
	want := strings.Join(words, " or ")
	s, ok := d.Scalar(n, field, want)
	if !ok {
		return "", false
	}
	if !slices.Contains(words, s) {
		d.Errorf(n, field, "%q is not allowed here: use %s", s, want)
		return "", false
	}
	return s, true
}
