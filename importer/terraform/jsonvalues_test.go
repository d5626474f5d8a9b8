package terraform

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sameValues checks that attrValues reads every resource's values of
// data as encoding/json does, refusing nothing it reads.
func sameValues(t *testing.T, data []byte) {
	t.Helper()
	var plain plainDocument
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	plainErr := dec.Decode(&plain)
	var fast header
	dec = json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	fastErr := dec.Decode(&fast)
	if plainErr == nil && fastErr != nil {
		t.Fatalf("attrValues refuses what encoding/json reads: %v", fastErr)
	}
	if plainErr != nil || fastErr != nil || plain.Values == nil || plain.Values.RootModule == nil {
		return
	}
	var walk func(p *plainModule, f *module)
	walk = func(p *plainModule, f *module) {
		if len(p.Resources) != len(f.Resources) || len(p.ChildModules) != len(f.ChildModules) {
			t.Fatalf("module %q: %d resources and %d modules, want %d and %d", p.Address, len(f.Resources), len(f.ChildModules), len(p.Resources), len(p.ChildModules))
		}
		for i, r := range p.Resources {
			if r == nil || f.Resources[i] == nil {
				if (r == nil) != (f.Resources[i] == nil) {
					t.Fatalf("resource %d: nil on one side only", i)
				}
				continue
			}
			if got := map[string]any(f.Resources[i].Values); !reflect.DeepEqual(got, r.Values) {
				t.Fatalf("%s: values\n%#v\nwant\n%#v", r.Address, got, r.Values)
			}
		}
		for i, c := range p.ChildModules {
			if c != nil && f.ChildModules[i] != nil {
				walk(c, f.ChildModules[i])
			}
		}
	}
	walk(plain.Values.RootModule, fast.Values.RootModule)
}

// sameHeader checks that fastHeader, where it reads a document, reads it
// as encoding/json does.
func sameHeader(t *testing.T, data []byte) {
	t.Helper()
	fast, ok := fastHeader(data)
	if !ok {
		return
	}
	slow, ok := structHeader(data)
	if !ok {
		t.Fatalf("fastHeader read a document encoding/json does not")
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fastHeader:\n%#v\nencoding/json:\n%#v", fast, slow)
	}
}

func TestAttrValuesAgree(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sameValues(t, data)
		sameHeader(t, data)
		if _, ok := fastHeader(data); !ok {
			t.Errorf("%s: not read by fastHeader", f)
		}
	}
	for _, src := range []string{
		`{"format_version": "1.0", "values": {"root_module": {"resources": [{"address": "a.b", "type": "a", "values": {"s": "caf\u00e9 \"q\"", "u": "é", "bad": "` + "\xff" + `", "n": -1.5e3, "l": [1, [], {}, null, true, false], "d": 1, "d": 2}}]}}}`,
		`{"format_version": "1.0", "values": {"root_module": {"resources": [{"address": "a.b", "type": "a", "values": null}]}}}`,
		`{"format_version": "1.0", "values": {"root_module": {"resources": [{"address": "a.b", "type": "a", "values": "x"}]}}}`,
		`{"format_version": "1.0", "values": {"root_module": {"resources": [{"address": "a.b", "type": "a", "values": []}]}}}`,
		`{"format_version": "1.0", "Values": {}}`,
		`{"format_version": 1, "values": {}}`,
		`{"format_version": "1.0", "terraform_version": 2}`,
		`{"format_version": "1.0", "values": {"root_module": {"resources": [null, {"address": "a", "values": {"x": 1}}, {"address": "a", "values": {"y": 1}, "values": {"z": 2}}]}}}`,
		`{"format_version": "1.0", "values": {"root_module": {"child_modules": [null, {"address": "m"}], "resources": null}}}`,
	} {
		sameValues(t, []byte(src))
		sameHeader(t, []byte(src))
	}
}
