package terraform

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"
)

// attrValues are a resource's attribute values as encoding/json with
// UseNumber decodes them into a map[string]any (nil, bool, json.Number,
// string, []any, map[string]any), read without reflection: most of a
// state's bytes are values, and encoding/json's generic decoding was most
// of an import's time. It is only given what encoding/json has already
// checked is valid JSON; strings with escapes or other than ASCII go to
// encoding/json, so that every value reads exactly as it reads them.
type attrValues map[string]any

// errNotObject is attrValues' error for values that are not an object:
// decode then words the error as encoding/json does.
var errNotObject = errors.New("values: not an object")

func (v *attrValues) UnmarshalJSON(b []byte) error {
	r := jsonReader{b: b}
	r.space()
	switch r.peek() {
	case 'n':
		*v = nil
		return nil
	case '{':
	default:
		return errNotObject
	}
	m, ok := r.value().(map[string]any)
	if !ok || r.err != nil {
		return errNotObject
	}
	if *v == nil {
		*v = m
		return nil
	}
	// A second "values" key: encoding/json adds to the map it has.
	for k, x := range m {
		(*v)[k] = x
	}
	return nil
}

// jsonReader reads one valid JSON value.
type jsonReader struct {
	b    []byte
	i    int
	err  error
	dups int // keys given twice in an object
}

func (r *jsonReader) peek() byte {
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

func (r *jsonReader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jsonReader) value() any {
	r.space()
	if r.err != nil || r.i >= len(r.b) {
		r.fail()
		return nil
	}
	switch c := r.b[r.i]; {
	case c == '{':
		r.i++
		m := map[string]any{}
		r.space()
		if r.peek() == '}' {
			r.i++
			return m
		}
		for r.err == nil {
			r.space()
			k := r.str()
			r.space()
			if r.peek() != ':' {
				r.fail()
				return nil
			}
			r.i++
			if _, dup := m[k]; dup {
				r.dups++
			}
			m[k] = r.value()
			r.space()
			switch r.peek() {
			case ',':
				r.i++
			case '}':
				r.i++
				return m
			default:
				r.fail()
			}
		}
		return nil
	case c == '[':
		r.i++
		l := []any{}
		r.space()
		if r.peek() == ']' {
			r.i++
			return l
		}
		for r.err == nil {
			l = append(l, r.value())
			r.space()
			switch r.peek() {
			case ',':
				r.i++
			case ']':
				r.i++
				return l
			default:
				r.fail()
			}
		}
		return nil
	case c == '"':
		return r.str()
	case c == 't':
		r.i += len("true")
		return true
	case c == 'f':
		r.i += len("false")
		return false
	case c == 'n':
		r.i += len("null")
		return nil
	default: // a number, valid as encoding/json has checked
		start := r.i
		for r.i < len(r.b) {
			switch c := r.b[r.i]; {
			case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				r.i++
				continue
			}
			break
		}
		if r.i == start {
			r.fail()
			return nil
		}
		return json.Number(r.b[start:r.i])
	}
}

// str reads a string; those with escapes or bytes other than ASCII are
// decoded by encoding/json (which replaces invalid UTF-8, as it does).
func (r *jsonReader) str() string {
	if r.peek() != '"' {
		r.fail()
		return ""
	}
	start := r.i
	r.i++
	plain := true
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '\\':
			plain = false
			r.i += 2
			continue
		case c == '"':
			r.i++
			if plain {
				return string(r.b[start+1 : r.i-1])
			}
			var s string
			if err := json.Unmarshal(r.b[start:r.i], &s); err != nil {
				r.fail()
			}
			return s
		case c >= utf8.RuneSelf || c < ' ':
			plain = false
		}
		r.i++
	}
	r.fail()
	return ""
}

func (r *jsonReader) fail() {
	if r.err == nil {
		r.err = errNotObject
	}
}

// fastHeader reads a state document's header without encoding/json's
// reflection, as decode's header reads it; ok is false when the document
// holds anything it reads differently from encoding/json, which then
// reads it: a key given twice, a key of the document's objects in other
// case (encoding/json matches those regardless of case), a value of the
// wrong type (encoding/json words the error).
func fastHeader(data []byte) (h parsedHeader, ok bool) {
	if !json.Valid(data) {
		return h, false
	}
	r := jsonReader{b: data}
	top, isObj := r.value().(map[string]any)
	if r.err != nil || r.dups > 0 || !isObj || folded(top, headerKeys) {
		return h, false
	}
	_, plan1 := top["planned_values"]
	_, plan2 := top["resource_changes"]
	_, resources := top["resources"]
	_, version := top["version"]
	fv, hasFV := top["format_version"]
	h.isPlan, h.rawState, h.hasFormatVersion = plan1 || plan2, resources && version, hasFV
	if hasFV {
		if h.formatVersion, h.versionOK = str(fv); !h.versionOK {
			return h, false
		}
	}
	if _, ok := str(top["terraform_version"]); !ok {
		return h, false
	}
	switch v := top["values"].(type) {
	case nil:
		return h, true
	case map[string]any:
		if folded(v, []string{"root_module"}) {
			return h, false
		}
		h.values = &values{}
		if v["root_module"] != nil {
			if h.values.RootModule, ok = fastModule(v["root_module"]); !ok {
				return h, false
			}
		}
		return h, true
	}
	return h, false
}

// headerKeys are the keys header reads.
var headerKeys = []string{"format_version", "terraform_version", "values", "planned_values", "resource_changes", "resources", "version"}

// fastModule converts a module read by jsonReader.
func fastModule(x any) (*module, bool) {
	o, isObj := x.(map[string]any)
	if !isObj || folded(o, []string{"address", "resources", "child_modules"}) {
		return nil, false
	}
	m := &module{}
	var ok bool
	if m.Address, ok = str(o["address"]); !ok {
		return nil, false
	}
	if rs := o["resources"]; rs != nil {
		l, isList := rs.([]any)
		if !isList {
			return nil, false
		}
		m.Resources = make([]*resource, len(l))
		for i, r := range l {
			if r != nil {
				if m.Resources[i], ok = fastResource(r); !ok {
					return nil, false
				}
			}
		}
	}
	if cs := o["child_modules"]; cs != nil {
		l, isList := cs.([]any)
		if !isList {
			return nil, false
		}
		m.ChildModules = make([]*module, len(l))
		for i, c := range l {
			if c != nil {
				if m.ChildModules[i], ok = fastModule(c); !ok {
					return nil, false
				}
			}
		}
	}
	return m, true
}

// resourceKeys are the keys of a resource.
var resourceKeys = []string{"address", "mode", "type", "name", "deposed_key", "values"}

// fastResource converts a resource read by jsonReader.
func fastResource(x any) (*resource, bool) {
	o, isObj := x.(map[string]any)
	if !isObj || folded(o, resourceKeys) {
		return nil, false
	}
	r := &resource{}
	for _, f := range []struct {
		key string
		dst *string
	}{{"address", &r.Address}, {"mode", &r.Mode}, {"type", &r.Type}, {"name", &r.Name}, {"deposed_key", &r.DeposedKey}} {
		s, ok := str(o[f.key])
		if !ok {
			return nil, false
		}
		*f.dst = s
	}
	switch v := o["values"].(type) {
	case nil:
	case map[string]any:
		r.Values = v
	default:
		return nil, false
	}
	return r, true
}

// str reads a string field: null is "".
func str(x any) (string, bool) {
	switch v := x.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	}
	return "", false
}

// folded reports whether o has a key that is not one of keys but that
// encoding/json would match to one (in other case).
func folded(o map[string]any, keys []string) bool {
	for k := range o {
		if slices.Contains(keys, k) {
			continue
		}
		for _, known := range keys {
			if strings.EqualFold(k, known) {
				return true
			}
		}
	}
	return false
}
