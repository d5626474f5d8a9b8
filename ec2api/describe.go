package ec2api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
)

// view is what a describe call reads: the lab in force when the call
// began, and the instances' states.
type view struct {
	l     *lab.Lab
	state func(name string) string
}

// describer is one read: a new request for the decoder, and the answer.
type describer struct {
	request  func() any
	describe func(v *view, req any) (body, error)
}

// describers are the reads the endpoint serves, by action.
var describers = map[string]describer{}

// reg registers a read whose request is a *R.
func reg[R any](action string, f func(v *view, r *R) (body, error)) {
	describers[action] = describer{
		request:  func() any { return new(R) },
		describe: func(v *view, req any) (body, error) { return f(v, req.(*R)) },
	}
}

// Page sizes: EC2's range of MaxResults for the describe calls here.
const (
	minResults = 5
	maxResults = 1000
)

// selection is how a describe call picks its items: the ids asked for,
// the filters, the page.
type selection[T any] struct {
	items    []T
	id       func(T) string
	idParam  string // GroupId, for messages
	notFound func(id string) *Error
	filters  map[string]func(T) []string
	// tags, if set, are an item's tags, for the tag:KEY, tag-key and
	// tag-value filters.
	tags func(T) map[string]string
}

func invalid(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf(format, args...))
}

// pick returns the page of items that match ids and filters, and the
// token of the next page ("" at the end).
func (s selection[T]) pick(ids []string, fs []ec2.Filter, page ec2.Page) ([]T, string, error) {
	if len(ids) > 0 && page.MaxResults != 0 {
		return nil, "", errorf(http.StatusBadRequest, "InvalidParameterCombination", fmt.Sprintf("%s and MaxResults cannot be given together", s.idParam))
	}
	if page.MaxResults != 0 && (page.MaxResults < minResults || page.MaxResults > maxResults) {
		return nil, "", invalid("MaxResults %d: give %d-%d", page.MaxResults, minResults, maxResults)
	}
	for _, id := range ids {
		if !slices.ContainsFunc(s.items, func(x T) bool { return s.id(x) == id }) {
			return nil, "", s.notFound(id)
		}
	}
	for i, f := range fs {
		if f.Name == "" {
			return nil, "", errorf(http.StatusBadRequest, "MissingParameter", fmt.Sprintf("Filter.%d.Name: a filter needs a name", i+1))
		}
		if _, ok := s.filters[f.Name]; !ok && !(s.tags != nil && isTagFilter(f.Name)) {
			names := make([]string, 0, len(s.filters))
			for n := range s.filters {
				names = append(names, n)
			}
			slices.Sort(names)
			if s.tags != nil {
				names = append(names, "tag:KEY", "tag-key", "tag-value")
			}
			return nil, "", invalid("The filter '%s' is invalid: vpclab knows %s", f.Name, strings.Join(names, ", "))
		}
	}
	var out []T
	for _, x := range s.items {
		if len(ids) > 0 && !slices.Contains(ids, s.id(x)) {
			continue
		}
		if s.matches(x, fs) {
			out = append(out, x)
		}
	}
	start := 0
	if page.NextToken != "" {
		n, ok := parseToken(page.NextToken)
		if !ok || n > len(out) {
			return nil, "", errorf(http.StatusBadRequest, "InvalidPaginationToken", fmt.Sprintf("The token '%s' is invalid", page.NextToken))
		}
		start = n
	}
	out = out[start:]
	if page.MaxResults != 0 && len(out) > page.MaxResults {
		return out[:page.MaxResults], token(start + page.MaxResults), nil
	}
	return out, "", nil
}

func isTagFilter(name string) bool {
	return strings.HasPrefix(name, "tag:") || name == "tag-key" || name == "tag-value"
}

// matches: every filter matches (one of its values, each).
func (s selection[T]) matches(x T, fs []ec2.Filter) bool {
	for _, f := range fs {
		var have []string
		switch {
		case strings.HasPrefix(f.Name, "tag:") && s.tags != nil:
			if v, ok := s.tags(x)[strings.TrimPrefix(f.Name, "tag:")]; ok {
				have = []string{v}
			}
		case f.Name == "tag-key" && s.tags != nil:
			for k := range s.tags(x) {
				have = append(have, k)
			}
		case f.Name == "tag-value" && s.tags != nil:
			for _, v := range s.tags(x) {
				have = append(have, v)
			}
		default:
			have = s.filters[f.Name](x)
		}
		if !slices.ContainsFunc(f.Values, func(want string) bool {
			return slices.ContainsFunc(have, func(h string) bool { return glob(want, h) })
		}) {
			return false
		}
	}
	return true
}

// glob matches s against pattern, where * is any run of characters and
// ? any one, as EC2's filter values.
func glob(pattern, s string) bool {
	px, sx := 0, 0
	star, mark := -1, 0
	for sx < len(s) {
		switch {
		case px < len(pattern) && (pattern[px] == '?' || pattern[px] == s[sx]):
			px++
			sx++
		case px < len(pattern) && pattern[px] == '*':
			star, mark = px, sx
			px++
		case star >= 0:
			px = star + 1
			mark++
			sx = mark
		default:
			return false
		}
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

// A page token is the offset of the next page, opaque to the client.
const tokenPrefix = "vpclab:"

func token(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + strconv.Itoa(n)))
}

func parseToken(t string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil {
		return 0, false
	}
	s, ok := strings.CutPrefix(string(b), tokenPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

func notFound(code, what string) func(string) *Error {
	return func(id string) *Error {
		return errorf(http.StatusBadRequest, code, fmt.Sprintf("The %s '%s' does not exist", what, id))
	}
}

func one(s string) []string { return []string{s} }

func boolString(b bool) string { return strconv.FormatBool(b) }
