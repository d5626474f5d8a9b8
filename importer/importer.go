// Package importer holds what the importers of real configurations share:
// the report of what they could not carry into a lab. The importers are
// importer/aws (the JSON of the AWS CLI's describe calls) and
// importer/terraform (the JSON of "terraform show -json").
package importer

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/vpclab/vpclab/lab"
)

// Item is one thing an importer did not carry into the lab.
type Item struct {
	// Source is the file the item was read from.
	Source string `json:"source"`
	// Resource names the object: an AWS id (sg-0123…) or a Terraform
	// address (aws_security_group.web).
	Resource string `json:"resource"`
	// Field is the attribute at fault, empty when the whole object is.
	Field string `json:"field,omitempty"`
	// Reason says what was done with it and why.
	Reason string `json:"reason"`
}

func (it Item) String() string {
	s := it.Source
	if it.Resource != "" {
		s += ": " + it.Resource
	}
	if it.Field != "" {
		s += ": " + it.Field
	}
	return s + ": " + it.Reason
}

// Report lists what an import left out. Nothing is dropped silently: an
// importer adds an Item for every field or object it does not carry over.
type Report struct {
	// Unsupported are fields and objects the importer does not understand
	// or cannot express in a lab file.
	Unsupported []Item `json:"unsupported,omitempty"`
	// NotModelled are AWS features a lab cannot model at all (VPC peering,
	// transit gateways, NAT gateways, endpoints, …), found in the input.
	NotModelled []Item `json:"not_modelled,omitempty"`
}

// Unsupportedf records a field or object the importer left out.
func (r *Report) Unsupportedf(source, resource, field, format string, args ...any) {
	r.Unsupported = append(r.Unsupported, Item{Source: source, Resource: resource, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// NotModelledf records an AWS feature found in the input that a lab
// cannot model.
func (r *Report) NotModelledf(source, resource, format string, args ...any) {
	r.NotModelled = append(r.NotModelled, Item{Source: source, Resource: resource, Reason: fmt.Sprintf(format, args...)})
}

// Empty reports whether the import left nothing out.
func (r *Report) Empty() bool { return len(r.Unsupported) == 0 && len(r.NotModelled) == 0 }

// Sort orders the items by source, resource and field, for stable output.
func (r *Report) Sort() {
	cmp := func(a, b Item) int {
		switch {
		case a.Source != b.Source:
			return strings.Compare(a.Source, b.Source)
		case a.Resource != b.Resource:
			return strings.Compare(a.Resource, b.Resource)
		}
		return strings.Compare(a.Field, b.Field)
	}
	slices.SortStableFunc(r.Unsupported, cmp)
	slices.SortStableFunc(r.NotModelled, cmp)
}

// Write prints the report for people, one item a line, under two
// headings; nothing when it is empty.
func (r *Report) Write(w io.Writer) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	if len(r.Unsupported) > 0 {
		p("not imported (%d):\n", len(r.Unsupported))
		for _, it := range r.Unsupported {
			p("  %s\n", it)
		}
	}
	if len(r.NotModelled) > 0 {
		p("found but not modelled by a lab (%d):\n", len(r.NotModelled))
		for _, it := range r.NotModelled {
			p("  %s\n", it)
		}
	}
	return err
}

// RaiseQuotas raises l's quotas to what its objects need (lab.NeededQuotas)
// and returns a description of each need beyond what a lab allows
// (lab.MaxQuotas), for the importer's error; such a quota is raised to
// the maximum only.
func RaiseQuotas(l *lab.Lab) []string {
	need := l.NeededQuotas()
	q := &l.Quotas
	var over []string
	for _, c := range []struct {
		what      string
		quota     *int
		need, max int
	}{
		{"network ACL entries per direction and family", &q.NACLEntries, need.NACLEntries, lab.MaxQuotas.NACLEntries},
		{"security group rules per direction and family", &q.SGRules, need.SGRules, lab.MaxQuotas.SGRules},
		{"security groups per interface", &q.SGsPerENI, need.SGsPerENI, lab.MaxQuotas.SGsPerENI},
		{"rules of an interface's groups together, per direction and family", &q.RulesTimesSGs, need.RulesTimesSGs, lab.MaxQuotas.RulesTimesSGs},
		{"security groups per VPC", &q.SGsPerVPC, need.SGsPerVPC, lab.MaxQuotas.SGsPerVPC},
	} {
		if c.need > c.max {
			over = append(over, fmt.Sprintf("%d %s: a lab allows at most %d", c.need, c.what, c.max))
		}
		*c.quota = max(*c.quota, min(c.need, c.max))
	}
	return over
}
