package aws

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// source is one input file.
type source struct {
	name string
	data []byte
}

// path locates a value in a JSON document: object keys (string) and list
// indexes (int), from the top.
type path []any

// key returns p extended by an object key. It never shares p's array.
func (p path) key(k string) path { return append(slices.Clip(p), k) }

// index returns p extended by a list index.
func (p path) index(i int) path { return append(slices.Clip(p), i) }

// String formats p as in lab errors: keys joined by dots, indexes in
// brackets, such as SecurityGroups[2].IpPermissions[0].FromPort.
func (p path) String() string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		case int:
			fmt.Fprintf(&b, "[%d]", e)
		}
	}
	return b.String()
}

// position returns the line and column (from 1, in bytes) of the value at
// p in data, or 0, 0 when it cannot be found. It runs only to word errors.
func position(data []byte, p path) (line, col int) {
	off, ok := offsetOf(data, p)
	if !ok {
		return 0, 0
	}
	return lineCol(data, off)
}

// lineCol converts a byte offset into a line and column, from 1.
func lineCol(data []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(data)))
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// offsetOf returns the byte offset where the value at p starts in data.
func offsetOf(data []byte, p path) (int64, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	for _, step := range p {
		tok, err := dec.Token()
		if err != nil {
			return 0, false
		}
		switch step := step.(type) {
		case string:
			if tok != json.Delim('{') {
				return 0, false
			}
			for {
				k, err := dec.Token()
				if err != nil || k == json.Delim('}') {
					return 0, false
				}
				if k == step {
					break
				}
				var skip json.RawMessage
				if dec.Decode(&skip) != nil {
					return 0, false
				}
			}
		case int:
			if tok != json.Delim('[') {
				return 0, false
			}
			for range step {
				var skip json.RawMessage
				if !dec.More() || dec.Decode(&skip) != nil {
					return 0, false
				}
			}
			if !dec.More() {
				return 0, false
			}
		}
	}
	// The decoder stands after the last key or item read; the value starts
	// after the separators and white space that follow.
	off := dec.InputOffset()
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n:,", data[off]) >= 0 {
		off++
	}
	return off, true
}

// errorList collects the errors of an import, each located in its file.
type errorList struct {
	list yamlpos.ErrorList
	// plain are errors about the input as a whole.
	plain []error
}

// at records an error about the value at p in src.
func (e *errorList) at(src *source, p path, format string, args ...any) {
	line, col := position(src.data, p)
	e.list = append(e.list, &yamlpos.Error{File: src.name, Line: line, Column: col,
		Field: p.String(), Msg: fmt.Sprintf(format, args...)})
}

// maxErrors is how many errors an import reports before giving up on the
// rest, as labfile.Parse does.
const maxErrors = 50

// err returns the located errors, sorted by file and position (at most
// maxErrors of them and then one saying how many more there were) as a
// yamlpos.ErrorList, followed by the errors about the input as a whole;
// nil when there are none.
func (e *errorList) err() error {
	var errs []error
	if l := e.list; len(l) > 0 {
		slices.SortStableFunc(l, func(a, b *yamlpos.Error) int {
			return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		if len(l) > maxErrors {
			next := l[maxErrors]
			more := &yamlpos.Error{File: next.File, Line: next.Line, Column: next.Column,
				Msg: fmt.Sprintf("too many errors: %d more not shown", len(l)-maxErrors)}
			l = append(l[:maxErrors:maxErrors], more)
		}
		errs = append(errs, l)
	}
	errs = append(errs, e.plain...)
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// decodeError words an encoding/json error about the value under key in
// src (the whole file when key is empty): the error's offsets count from
// the start of that value.
func decodeError(src *source, key string, err error) *yamlpos.Error {
	var base int64
	if key != "" {
		base, _ = offsetOf(src.data, path{key})
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	e := &yamlpos.Error{File: src.name, Field: key, Msg: err.Error()}
	switch {
	case errors.As(err, &syntax):
		e.Line, e.Column = lineCol(src.data, base+syntax.Offset)
		e.Msg = "not valid JSON: " + syntax.Error()
	case errors.As(err, &typ):
		e.Line, e.Column = lineCol(src.data, valueStart(src.data, base+typ.Offset))
		e.Field = strings.Trim(key+"."+typ.Field, ".")
		e.Msg = fmt.Sprintf("want %s, not a JSON %s", typeName(typ.Type), typ.Value)
	}
	return e
}

// valueStart returns where the scalar that ends at off starts: the
// offsets of encoding/json's type errors are the ends of values. It
// leaves off alone after an object or a list.
func valueStart(data []byte, off int64) int64 {
	off = min(max(off, 0), int64(len(data)))
	switch {
	case off == 0:
	case data[off-1] == '"':
		for i := off - 2; i >= 0; i-- {
			if data[i] != '"' {
				continue
			}
			escapes := 0
			for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
				escapes++
			}
			if escapes%2 == 0 {
				return i
			}
		}
	default:
		for off > 0 && strings.IndexByte("0123456789+-.eEtruefalsn", data[off-1]) >= 0 {
			off--
		}
	}
	return off
}

// typeName names a Go type of the shapes for messages.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Pointer, reflect.Map:
		return "an object"
	}
	return t.String()
}

// unknownKey is a key of the input that no shape lists.
type unknownKey struct {
	pattern  string // path with list indexes left out: SecurityGroups[].Foo
	first    path   // the first place it was seen
	count    int
	src      *source
	resource string // the id of the object where it was first seen
}

// unknownKeys walks the generic value v (decoded with UseNumber) along the
// shape type t and records every key t does not list. Values of ignored
// fields are not walked.
func unknownKeys(t reflect.Type, v any, at path, found map[string]*unknownKey, order *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Slice:
		if t == reflect.TypeFor[json.RawMessage]() {
			return
		}
		items, _ := v.([]any)
		for i, item := range items {
			unknownKeys(t.Elem(), item, at.index(i), found, order)
		}
	case reflect.Struct:
		obj, _ := v.(map[string]any)
		for _, k := range sortedKeys(obj) {
			f, ok := field(t, k)
			if !ok {
				pattern := patternOf(at.key(k))
				u := found[pattern]
				if u == nil {
					u = &unknownKey{pattern: pattern, first: at.key(k)}
					found[pattern] = u
					*order = append(*order, pattern)
				}
				u.count++
				continue
			}
			unknownKeys(f.Type, obj[k], at.key(k), found, order)
		}
	}
}

// field finds the field of struct type t that encoding/json fills from
// key k: an exact name first, then one equal under case folding, as
// encoding/json does. Fields of embedded structs count.
func field(t reflect.Type, k string) (reflect.StructField, bool) {
	ck := fieldKey{t, k}
	if f, ok := fields.Load(ck); ok {
		r := f.(fieldResult)
		return r.f, r.ok
	}
	f, ok := t.FieldByName(k)
	if ok && f.IsExported() {
		fields.Store(ck, fieldResult{f, ok})
		return f, true
	}
	return t.FieldByNameFunc(func(name string) bool { return strings.EqualFold(name, k) })
}

// fields caches field's answers for keys that are a field's own name
// (bounded by the types, whatever the input): reflect's search by name
// was a sixth of an import's time.
var fields sync.Map // fieldKey → fieldResult

type fieldKey struct {
	t reflect.Type
	k string
}

type fieldResult struct {
	f  reflect.StructField
	ok bool
}

// patternOf formats p without its list indexes.
func patternOf(p path) string {
	var b strings.Builder
	for _, e := range p {
		switch e := e.(type) {
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(e)
		case int:
			b.WriteString("[]")
		}
	}
	return b.String()
}

// sortedKeys returns the keys of m in order, for stable reports.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// atoi parses a decimal integer, for protocol numbers.
func atoi(s string) (int, bool) {
	v, err := strconv.Atoi(s)
	return v, err == nil
}
