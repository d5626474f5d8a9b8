package lab

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a lab file.
type Error struct {
	File string
	// Line and Column locate the offending value, counting from 1; they
	// are 0 when the position is unknown.
	Line, Column int
	// Field is the path of the offending value, such as
	// security_groups[sg-web].ingress[2].ports or
	// network_acls[acl-a].ingress[rule 110].protocol. List items are named
	// by their id when they have a valid one, else by their index from 0.
	// It is empty for problems with the file as a whole.
	Field string
	// Msg says what is wrong and what is allowed instead.
	Msg string
}

// Error returns "FILE:LINE:COL: FIELD: MSG", leaving out the parts that are
// unknown or empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found in a lab file, sorted by position. Parse
// reports at most 50 of them, followed by one saying how many more there
// were.
type ErrorList []*Error

// maxErrors is how many errors Parse reports before giving up on the rest.
const maxErrors = 50

// Error returns the errors one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the errors, so that errors.As finds an *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// err sorts the list by position, shortens it to maxErrors and returns it,
// or nil when it is empty.
func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	if len(l) > maxErrors {
		next := l[maxErrors]
		more := &Error{File: next.File, Line: next.Line, Column: next.Column,
			Msg: fmt.Sprintf("too many errors: %d more not shown", len(l)-maxErrors)}
		l = append(l[:maxErrors:maxErrors], more)
	}
	return l
}
