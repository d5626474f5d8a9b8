// Package fileerr holds the error type of every reader of a user's file
// (lab files, policy tests, principals): one problem with its file, line,
// column and field path, and the list of them a reader returns. It is a
// leaf: it imports no YAML or JSON library, so that the lab model can
// report problems keyed by field path without linking a decoder.
package fileerr

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a file.
type Error struct {
	File string
	// Line and Column locate the offending value, counting from 1; they
	// are 0 when the position is unknown.
	Line, Column int
	// Field is the path of the offending value: keys joined by dots, list
	// items in brackets, such as security_groups[sg-web].ingress[2].ports
	// or steps[3].send.dport. The reader of the file chooses how list items
	// are named (by index from 0, or by id). It is empty for problems with
	// the file as a whole.
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

// ErrorList is every problem found in a file.
type ErrorList []*Error

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

// Err sorts the list by position (stably, so errors at one position keep
// the order they were found in) and returns it, or nil when it is empty.
// When limit > 0 and there are more than limit errors, it keeps the first
// limit and adds one, at the next error's position, saying how many more
// there were.
func (l ErrorList) Err(limit int) error {
	if len(l) == 0 {
		return nil
	}
	slices.SortStableFunc(l, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	if limit > 0 && len(l) > limit {
		next := l[limit]
		more := &Error{File: next.File, Line: next.Line, Column: next.Column,
			Msg: fmt.Sprintf("too many errors: %d more not shown", len(l)-limit)}
		l = append(l[:limit:limit], more)
	}
	return l
}
