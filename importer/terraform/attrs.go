package terraform

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// attrs reads one object of a resource's values: the values themselves or
// a nested block such as one ingress rule. A value of the wrong JSON type
// is an error naming the resource and the field's path; a null or missing
// value reads as the zero value, as Terraform prints unset attributes as
// null.
type attrs struct {
	b    *builder
	r    *resource
	path string // the object's path in the values, "" at the top
	m    map[string]any
}

// attrsOf returns the reader of r's values.
func (b *builder) attrsOf(r *resource) attrs {
	return attrs{b: b, r: r, m: r.Values}
}

// at returns the path of key in the object, for messages.
func (a attrs) at(key string) string {
	if a.path == "" {
		return key
	}
	return a.path + "." + key
}

// wrongType records that key holds a value of the wrong type.
func (a attrs) wrongType(key, want string) {
	a.b.errorf(a.r, a.at(key), "want %s, not %s", want, describe(a.m[key]))
}

// describe names a JSON value's type and, for scalars, the value.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case json.Number:
		return "the number " + v.String()
	case string:
		return strconv.Quote(v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// has reports whether key holds a value other than null.
func (a attrs) has(key string) bool { return a.m[key] != nil }

// str returns the string at key; "" when null.
func (a attrs) str(key string) string {
	switch v := a.m[key].(type) {
	case nil:
		return ""
	case string:
		return v
	}
	a.wrongType(key, "a string")
	return ""
}

// integer returns the integer at key, and false when it is null. Numbers
// written as strings are accepted: Terraform converts between the two.
func (a attrs) integer(key string) (int, bool) {
	var text string
	switch v := a.m[key].(type) {
	case nil:
		return 0, false
	case json.Number:
		text = v.String()
	case string:
		text = v
	default:
		a.wrongType(key, "an integer")
		return 0, false
	}
	n, err := strconv.Atoi(text)
	if err != nil {
		a.wrongType(key, "an integer")
		return 0, false
	}
	return n, true
}

// boolean returns the boolean at key, and false when it is null.
func (a attrs) boolean(key string) (value, present bool) {
	switch v := a.m[key].(type) {
	case nil:
		return false, false
	case bool:
		return v, true
	}
	a.wrongType(key, "true or false")
	return false, false
}

// strs returns the list (or set) of strings at key; nil when null.
func (a attrs) strs(key string) []string {
	var items []any
	switch v := a.m[key].(type) {
	case nil:
		return nil
	case []any:
		items = v
	default:
		a.wrongType(key, "a list of strings")
		return nil
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			a.b.errorf(a.r, fmt.Sprintf("%s[%d]", a.at(key), i), "want a string, not %s", describe(item))
			continue
		}
		out = append(out, s)
	}
	return out
}

// blocks returns the nested blocks at key (a list or set of objects); nil
// when null.
func (a attrs) blocks(key string) []attrs {
	var items []any
	switch v := a.m[key].(type) {
	case nil:
		return nil
	case []any:
		items = v
	default:
		a.wrongType(key, "a list of blocks")
		return nil
	}
	out := make([]attrs, 0, len(items))
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", a.at(key), i)
		m, ok := item.(map[string]any)
		if !ok {
			a.b.errorf(a.r, path, "want a block (an object), not %s", describe(item))
			continue
		}
		out = append(out, attrs{b: a.b, r: a.r, path: path, m: m})
	}
	return out
}

// tag returns the value of the tag named name, "" when there is none.
// tags_all holds the provider's default tags too, so it is read when
// tags lacks the key.
func (a attrs) tag(name string) string {
	for _, key := range []string{"tags", "tags_all"} {
		switch v := a.m[key].(type) {
		case nil:
		case map[string]any:
			if s, ok := v[name].(string); ok {
				return s
			}
		default:
			a.wrongType(key, "a map of tags")
		}
	}
	return ""
}

// prefix returns the CIDR at key, host bits cleared; the zero Prefix when
// the value is null or empty. A value that is not a CIDR is an error.
func (a attrs) prefix(key string) netip.Prefix {
	s := a.str(key)
	if s == "" {
		return netip.Prefix{}
	}
	c, ok := a.b.parsePrefix(a.r, a.at(key), s)
	if !ok {
		return netip.Prefix{}
	}
	return c
}

// parsePrefix parses a CIDR read at field and clears its host bits.
func (b *builder) parsePrefix(r *resource, field, s string) (netip.Prefix, bool) {
	c, err := netip.ParsePrefix(s)
	if err != nil || c.Addr().Is4In6() || c.Addr().Zone() != "" {
		b.errorf(r, field, "%q is not a CIDR", s)
		return netip.Prefix{}, false
	}
	return c.Masked(), true
}

// parseAddr parses an IP address read at field.
func (b *builder) parseAddr(r *resource, field, s string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Is4In6() || ip.Zone() != "" {
		b.errorf(r, field, "%q is not an IP address", s)
		return netip.Addr{}, false
	}
	return ip, true
}

// schema lists the attributes of an object that the importer knows: those
// it reads and those it deliberately leaves aside because they do not
// change which packets pass (names, tags, ARNs, timeouts…). An attribute
// in neither list that holds a value is reported, so that an attribute a
// provider adds later is never dropped unseen.
type schema struct {
	read, ignored []string
}

// known reports whether key is in the schema.
func (s schema) known(key string) bool {
	return slices.Contains(s.read, key) || slices.Contains(s.ignored, key)
}

// checkKeys reports the attributes of the object that s does not know and
// that hold something (not null, "", false, 0, [] or {}).
func (a attrs) checkKeys(s schema) {
	var keys []string
	for k, v := range a.m {
		if !s.known(k) && !empty(v) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a.b.report.Unsupportedf(a.b.source, a.r.Address, a.at(k), "unknown attribute, not imported: the importer does not know how it changes which packets pass")
	}
}

// empty reports whether a JSON value holds nothing.
func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// common are the attributes every resource may carry and none of which
// matters to a lab: identity, tags, timeouts and the provider's region.
var common = []string{"arn", "owner_id", "tags", "tags_all", "timeouts", "region"}

// ignore returns common extended by more attributes to leave aside.
func ignore(more ...string) []string {
	return append(slices.Clone(common), more...)
}

// joinAddrs formats ids with the addresses of their resources, for
// messages: "vpc-a (aws_vpc.a), vpc-b (module.x.aws_vpc.b)".
func joinAddrs(ids []string, addr map[string]string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s (%s)", id, addr[id])
	}
	return strings.Join(parts, ", ")
}
