package terraform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// This file reads the document "terraform show -json" prints for a state
// (https://developer.hashicorp.com/terraform/internals/json-format):
//
//	{"format_version": "1.0", "terraform_version": "1.9.5",
//	 "values": {"root_module": {"resources": [...], "child_modules": [...]}}}
//
// Every module holds resources, each with an address
// (module.net.aws_subnet.a["x"]), a mode ("managed" or "data"), a type, a
// name and its attribute values; child modules nest the same shape.

// document is the top of a "terraform show -json" state document.
type document struct {
	FormatVersion    string  `json:"format_version"`
	TerraformVersion string  `json:"terraform_version"`
	Values           *values `json:"values"`
}

// values is a state's values: its outputs and its root module.
type values struct {
	RootModule *module `json:"root_module"`
}

// module is one module of the state: its resources and its child modules.
type module struct {
	Address      string      `json:"address"`
	Resources    []*resource `json:"resources"`
	ChildModules []*module   `json:"child_modules"`
}

// resource is one resource instance of the state.
type resource struct {
	Address string `json:"address"`
	Mode    string `json:"mode"`
	Type    string `json:"type"`
	Name    string `json:"name"`
	// DeposedKey is set on an object create_before_destroy replaced but
	// did not destroy: it still exists, and is imported like the others.
	DeposedKey string `json:"deposed_key"`
	// Values are the instance's attributes, decoded with numbers kept as
	// json.Number: nil, bool, json.Number, string, []any or map[string]any.
	Values attrValues `json:"values"`

	// consumed records that the importer read the resource, into the lab
	// or into the report; the resources left unconsumed at the end are
	// reported as not imported.
	consumed bool
}

// The resource modes.
const (
	modeManaged = "managed"
	modeData    = "data"
)

// IsState reports whether data looks like the JSON "terraform show -json"
// prints for a state: an object with a format_version and no plan keys.
// It checks the top-level keys only and does not validate the resources.
func IsState(data []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(data, &top) != nil {
		return false
	}
	var version string
	if json.Unmarshal(top["format_version"], &version) != nil || version == "" {
		return false
	}
	for _, planKey := range []string{"planned_values", "resource_changes", "prior_state"} {
		if top[planKey] != nil {
			return false
		}
	}
	return true
}

// decode parses a state document and returns its resources, those of the
// root module first, then each child module's, depth first.
//
// It reads the document once (fastHeader, else encoding/json into
// header), and again only to say what is wrong with one it cannot read.
func decode(name string, data []byte) ([]*resource, error) {
	h, ok := readHeader(data)
	if !ok {
		return nil, decodeError(name, data)
	}
	switch {
	case h.isPlan:
		return nil, fmt.Errorf("%s: this is a plan: import the state instead, the output of \"terraform show -json\" without a plan file", name)
	case !h.hasFormatVersion && h.rawState:
		return nil, fmt.Errorf("%s: this is a raw state file (terraform.tfstate): import what \"terraform show -json\" prints for it instead", name)
	case !h.hasFormatVersion:
		return nil, fmt.Errorf("%s: no format_version: this is not the output of \"terraform show -json\"", name)
	case !h.versionOK:
		return nil, decodeError(name, data) // not a string
	}
	doc := document{FormatVersion: h.formatVersion, Values: h.values}
	major, _, _ := strings.Cut(doc.FormatVersion, ".")
	if major != "1" {
		return nil, fmt.Errorf("%s: format_version %q: only version 1.x of the JSON output format is known", name, doc.FormatVersion)
	}
	if doc.Values == nil || doc.Values.RootModule == nil {
		return nil, fmt.Errorf("%s: the state holds no resources (no values.root_module): apply the configuration first, or check that this is the right workspace", name)
	}
	var out []*resource
	var walk func(m *module, path string) error
	walk = func(m *module, path string) error {
		for i, r := range m.Resources {
			if r == nil || r.Address == "" || r.Type == "" {
				return fmt.Errorf("%s: %s.resources[%d]: a resource needs an address and a type", name, path, i)
			}
			if r.Mode != modeManaged && r.Mode != modeData {
				return fmt.Errorf("%s: %s: mode %q: want managed or data", name, r.Address, r.Mode)
			}
			if r.DeposedKey != "" {
				r.Address += " (deposed " + r.DeposedKey + ")"
			}
			out = append(out, r)
		}
		for i, c := range m.ChildModules {
			if c == nil {
				return fmt.Errorf("%s: %s.child_modules[%d]: want a module, not null", name, path, i)
			}
			at := c.Address
			if at == "" {
				at = fmt.Sprintf("%s.child_modules[%d]", path, i)
			}
			if err := walk(c, at); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(doc.Values.RootModule, "values.root_module"); err != nil {
		return nil, err
	}
	return out, nil
}

// parsedHeader is what decode needs of a state document's header.
type parsedHeader struct {
	isPlan, rawState, hasFormatVersion bool
	formatVersion                      string
	versionOK                          bool // format_version is a string (or null)
	values                             *values
}

// readHeader reads a state document's header: by fastHeader, else with
// encoding/json; ok is false when it cannot be read.
func readHeader(data []byte) (parsedHeader, bool) {
	if h, ok := fastHeader(data); ok {
		return h, true
	}
	return structHeader(data)
}

// structHeader is readHeader with encoding/json.
func structHeader(data []byte) (parsedHeader, bool) {
	var h header
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&h); err != nil || dec.InputOffset() < int64(len(data)) && !onlySpace(data[dec.InputOffset():]) {
		return parsedHeader{}, false
	}
	p := parsedHeader{isPlan: h.PlannedValues != nil || h.ResourceChanges != nil, rawState: h.Resources != nil && h.Version != nil,
		hasFormatVersion: h.FormatVersion != nil, values: h.Values}
	p.versionOK = json.Unmarshal(h.FormatVersion, &p.formatVersion) == nil
	return p, true
}

// header is a state document as decode reads it: its version and values,
// and the keys that say it is something else (a plan, a raw state file),
// which are only looked for, not read.
type header struct {
	FormatVersion json.RawMessage `json:"format_version"` // a string, read once present
	Values        *values         `json:"values"`
	// TerraformVersion is not used, but a state's is a string.
	TerraformVersion string          `json:"terraform_version"`
	PlannedValues    json.RawMessage `json:"planned_values"`
	ResourceChanges  json.RawMessage `json:"resource_changes"`
	Resources        json.RawMessage `json:"resources"`
	Version          json.RawMessage `json:"version"`
}

// onlySpace reports whether b holds JSON white space only.
func onlySpace(b []byte) bool {
	return len(bytes.TrimLeft(b, " \t\r\n")) == 0
}

// decodeError says why data is not a state document decode can read: the
// error of the first step it fails, reading it as a JSON object, then
// checking its keys, then reading it as a document.
func decodeError(name string, data []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return jsonError(name, data, err, "a JSON object")
	}
	switch {
	case top["planned_values"] != nil || top["resource_changes"] != nil:
		return fmt.Errorf("%s: this is a plan: import the state instead, the output of \"terraform show -json\" without a plan file", name)
	case top["format_version"] == nil && top["resources"] != nil && top["version"] != nil:
		return fmt.Errorf("%s: this is a raw state file (terraform.tfstate): import what \"terraform show -json\" prints for it instead", name)
	case top["format_version"] == nil:
		return fmt.Errorf("%s: no format_version: this is not the output of \"terraform show -json\"", name)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc plainDocument
	if err := dec.Decode(&doc); err != nil {
		return jsonError(name, data, err, "a terraform show -json document")
	}
	return fmt.Errorf("%s: not a terraform show -json document", name)
}

// plainDocument is document with the values of resources decoded by
// encoding/json itself, for decodeError's messages.
type plainDocument struct {
	FormatVersion    string `json:"format_version"`
	TerraformVersion string `json:"terraform_version"`
	Values           *struct {
		RootModule *plainModule `json:"root_module"`
	} `json:"values"`
}

type plainModule struct {
	Address   string `json:"address"`
	Resources []*struct {
		Address    string         `json:"address"`
		Mode       string         `json:"mode"`
		Type       string         `json:"type"`
		Name       string         `json:"name"`
		DeposedKey string         `json:"deposed_key"`
		Values     map[string]any `json:"values"`
	} `json:"resources"`
	ChildModules []*plainModule `json:"child_modules"`
}

// jsonError turns a decoding error into one naming the file and, for
// syntax and type errors, the line and column.
func jsonError(name string, data []byte, err error, want string) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("%s:%s: not valid JSON: %v", name, position(data, syntax.Offset), syntax)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return fmt.Errorf("%s:%s: want %s, not a JSON %s", name, position(data, typ.Offset), want, typ.Value)
		}
		return fmt.Errorf("%s:%s: %s: want %s, not a JSON %s", name, position(data, typ.Offset), field, kindName(typ.Type), typ.Value)
	}
	return fmt.Errorf("%s: %v", name, err)
}

// kindName names what a Go type decodes from, for messages.
func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	}
	return "a number"
}

// position returns "LINE:COL", counting from 1, of the byte an error
// offset points after: encoding/json's offsets count the bytes read,
// the offending one included.
func position(data []byte, off int64) string {
	off = min(max(off-1, 0), int64(len(data)))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return strconv.Itoa(line) + ":" + strconv.Itoa(col)
}
