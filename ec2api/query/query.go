// Package query decodes the parameters of EC2's Query protocol, as the
// AWS CLI, boto3 and the AWS SDKs send them (a POST form body, or a GET
// query string), into ec2's request shapes: IpPermissions.1.FromPort=80,
// IpPermissions.1.Groups.1.GroupId=sg-web, Filter.1.Name=vpc-id,
// Filter.1.Value.1=vpc-1. Errors are *ec2.Error with EC2's codes
// (InvalidParameterValue, UnknownParameter, MissingParameter), naming
// the parameter at fault as it was sent.
//
// A field's name in the protocol is its `query` struct tag, else the name
// of its `json` tag, else its Go name; `query:"-"` leaves it out. Fields
// of embedded structs are the outer struct's. Lists are flattened, as
// EC2's protocol has them: Name.1, Name.2, … (numbered from 1; gaps are
// closed up in order). It owns the wire format alone: it must import
// nothing of vpclab but ec2.
package query

import (
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/ec2"
)

// Limits of one request: a form of more parameters, a list index above
// MaxIndex or a name nested deeper than MaxDepth is refused. Each is well
// past what EC2's own quotas let one call carry.
const (
	MaxParams = 10000
	MaxIndex  = 10000
	MaxDepth  = 8
)

func errorf(code, field, format string, args ...any) *ec2.Error {
	return &ec2.Error{Code: code, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Params turns the decoded form of a request into one value per name. A
// name given twice, or too many names, is InvalidParameterValue.
func Params(v url.Values) (map[string]string, error) {
	if len(v) > MaxParams {
		return nil, errorf("InvalidParameterValue", "", "the request has %d parameters; at most %d are accepted", len(v), MaxParams)
	}
	out := make(map[string]string, len(v))
	for k, vs := range v {
		if len(vs) != 1 {
			return nil, errorf("InvalidParameterValue", k, "the parameter %s is given %d times: give it once", k, len(vs))
		}
		out[k] = vs[0]
	}
	return out, nil
}

// node is one name of the request's parameters, split at its dots:
// IpPermissions.1.FromPort is IpPermissions → 1 → FromPort.
type node struct {
	path string // the name as sent, up to this node
	val  string
	leaf bool
	kids map[string]*node
}

func tree(params map[string]string) (*node, error) {
	root := &node{kids: map[string]*node{}}
	// Sorted, so that the error of a malformed request does not depend on
	// the map's order.
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts := strings.Split(k, ".")
		if len(parts) > MaxDepth {
			return nil, errorf("InvalidParameterValue", k, "the parameter %s is nested %d deep; at most %d is accepted", k, len(parts), MaxDepth)
		}
		n := root
		for i, p := range parts {
			if p == "" {
				return nil, errorf("InvalidParameterValue", k, "the parameter name %q has an empty part", k)
			}
			if n.leaf {
				return nil, errorf("InvalidParameterValue", k, "%s is given a value and also %s: give one", n.path, k)
			}
			c := n.kids[p]
			if c == nil {
				c = &node{path: strings.Join(parts[:i+1], "."), kids: map[string]*node{}}
				n.kids[p] = c
			}
			n = c
		}
		if len(n.kids) > 0 {
			return nil, errorf("InvalidParameterValue", k, "%s is given a value and also parts: give one", k)
		}
		n.leaf, n.val = true, params[k]
	}
	return root, nil
}

// Decode fills req, a pointer to a struct, from params (names as sent, one
// value each; see Params). A name req has no field for is UnknownParameter.
func Decode(params map[string]string, req any) error {
	v := reflect.ValueOf(req)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("query.Decode: %T is not a pointer to a struct", req))
	}
	root, err := tree(params)
	if err != nil {
		return err
	}
	return decode(v.Elem(), root)
}

func decode(v reflect.Value, n *node) error {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return decode(v.Elem(), n)
	case reflect.Struct:
		if n.leaf {
			return errorf("InvalidParameterValue", n.path, "%s is a structure: give its members, such as %s.%s", n.path, n.path, firstField(v.Type()))
		}
		fields := fieldsOf(v.Type())
		for _, k := range sortedKeys(n.kids) {
			idx, ok := fields[k]
			if !ok {
				return errorf("UnknownParameter", n.kids[k].path, "The parameter %s is not recognized", n.kids[k].path)
			}
			if err := decode(v.FieldByIndex(idx), n.kids[k]); err != nil {
				return err
			}
		}
		return nil
	case reflect.Slice:
		if n.leaf {
			return errorf("InvalidParameterValue", n.path, "%s is a list: give %s.1, %s.2, …", n.path, n.path, n.path)
		}
		type item struct {
			i int
			n *node
		}
		items := make([]item, 0, len(n.kids))
		for k, c := range n.kids {
			i, err := strconv.Atoi(k)
			if err != nil || i < 1 || i > MaxIndex || strconv.Itoa(i) != k {
				return errorf("InvalidParameterValue", c.path, "%s: %q is not an index of the list %s (1-%d)", c.path, k, n.path, MaxIndex)
			}
			items = append(items, item{i, c})
		}
		slices.SortFunc(items, func(a, b item) int { return a.i - b.i })
		s := reflect.MakeSlice(v.Type(), len(items), len(items))
		for j, it := range items {
			if err := decode(s.Index(j), it.n); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	}
	if !n.leaf {
		k := sortedKeys(n.kids)[0]
		return errorf("UnknownParameter", n.kids[k].path, "The parameter %s is not recognized (%s takes a value)", n.kids[k].path, n.path)
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.val)
	case reflect.Int, reflect.Int64, reflect.Int32:
		i, err := strconv.ParseInt(strings.TrimSpace(n.val), 10, 32)
		if err != nil {
			return errorf("InvalidParameterValue", n.path, "Invalid value '%s' for %s: it is not an integer", n.val, n.path)
		}
		v.SetInt(i)
	case reflect.Bool:
		switch strings.ToLower(n.val) {
		case "true":
			v.SetBool(true)
		case "false":
			v.SetBool(false)
		default:
			return errorf("InvalidParameterValue", n.path, "Invalid value '%s' for %s: use true or false", n.val, n.path)
		}
	default:
		panic(fmt.Sprintf("query: a request has a field of kind %s", v.Kind()))
	}
	return nil
}

// Name returns the protocol's name of a struct field: its query tag, its
// json tag's name, or its Go name; "" for a field left out.
func Name(f reflect.StructField) string {
	if q, ok := f.Tag.Lookup("query"); ok {
		if q == "-" {
			return ""
		}
		return q
	}
	if j, ok := f.Tag.Lookup("json"); ok {
		name, _, _ := strings.Cut(j, ",")
		if name == "-" {
			return ""
		}
		if name != "" {
			return name
		}
	}
	return f.Name
}

// fieldsOf maps the protocol's names of t's fields to their indexes,
// embedded structs' fields included.
func fieldsOf(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	var walk func(t reflect.Type, at []int)
	walk = func(t reflect.Type, at []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(slices.Clone(at), i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, idx)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name := Name(f); name != "" {
				out[name] = idx
			}
		}
	}
	walk(t, nil)
	return out
}

func firstField(t reflect.Type) string {
	names := make([]string, 0)
	for name := range fieldsOf(t) {
		names = append(names, name)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return "…"
	}
	return names[0]
}

func sortedKeys(m map[string]*node) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
