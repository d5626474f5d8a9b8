package ec2

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestActionTable(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range Actions() {
		if seen[a.Name] {
			t.Errorf("%s is in the table twice", a.Name)
		}
		seen[a.Name] = true
		if a.IAM() != "ec2:"+a.Name {
			t.Errorf("%s: IAM() = %q", a.Name, a.IAM())
		}
		if got := APIName(a.CLIName()); got != a.Name {
			t.Errorf("APIName(%q) = %q, want %q", a.CLIName(), got, a.Name)
		}
		if len(a.Kinds) == 0 {
			t.Errorf("%s acts on no kind of resource", a.Name)
		}
		for _, k := range a.Kinds {
			if !slices.Contains(Kinds, k) {
				t.Errorf("%s acts on %q, not a kind of Kinds", a.Name, k)
			}
		}
		if a.ReadOnly != (strings.HasPrefix(a.Name, "Describe") || strings.HasPrefix(a.Name, "Get")) {
			t.Errorf("%s: ReadOnly = %v", a.Name, a.ReadOnly)
		}
		for _, name := range []string{a.Name, a.CLIName(), a.IAM(), strings.ToUpper(a.IAM())} {
			if l, ok := LookupAction(name); !ok || l.Name != a.Name {
				t.Errorf("LookupAction(%q) = %v, %v", name, l, ok)
			}
		}
		if a.Request == nil {
			continue
		}
		// Every flag sets a field of the request (or is the IpPermission
		// shorthand, of requests that have IpPermissions).
		typ := reflect.TypeOf(a.Request()).Elem()
		for _, f := range a.Flags {
			field := f.Field
			if f.Kind == FlagPerm {
				field = "IpPermissions"
			}
			if _, ok := typ.FieldByName(field); !ok {
				t.Errorf("%s: flag --%s sets %q, which %s does not have", a.Name, f.Name, field, typ)
			}
		}
		if _, err := a.DecodeJSON([]byte(`{}`)); err != nil {
			t.Errorf("%s: DecodeJSON({}) = %v", a.Name, err)
		}
	}
	for _, name := range []string{"RunInstances", "ec2:", "", "s3:DeleteFlowLogs"} {
		if a, ok := LookupAction(name); ok {
			t.Errorf("LookupAction(%q) found %s", name, a.Name)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	a, _ := LookupAction("create-network-acl-entry")
	req, err := a.DecodeJSON([]byte(`{"NetworkAclId": "acl-1", "RuleNumber": 10, "Protocol": "6", "RuleAction": "allow",
		"CidrBlock": "0.0.0.0/0", "PortRange": {"From": 80, "To": 80}}`))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := req.(*NetworkAclEntryRequest)
	if !ok || r.NetworkAclId != "acl-1" || r.RuleNumber != 10 || *r.PortRange.To != 80 {
		t.Fatalf("decoded %#v", req)
	}
	for _, c := range []struct{ body, code, msg string }{
		{`{"NetworkAclId": "acl-1", "Rule": 1}`, "MalformedRequest", `unknown field "Rule"`},
		{`{"RuleNumber": "ten"}`, "MalformedRequest", "field RuleNumber: string is not int"},
		{`{} {}`, "MalformedRequest", "more than one JSON value"},
	} {
		_, err := a.DecodeJSON([]byte(c.body))
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("DecodeJSON(%s) = %v, want %s …%s…", c.body, err, c.code, c.msg)
		}
	}
	d, _ := LookupAction("DescribeInstances")
	var e *Error
	if _, err := d.DecodeJSON([]byte(`{}`)); !errors.As(err, &e) || e.Code != "InvalidAction" {
		t.Errorf("DescribeInstances: DecodeJSON = %v, want InvalidAction", err)
	}
}
