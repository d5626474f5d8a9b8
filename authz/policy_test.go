package authz

import (
	"errors"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

const (
	testRegion  = "us-east-1"
	testAccount = "123456789012"
)

func sgARN(id string) string   { return ARN(testRegion, testAccount, KindSecurityGroup, id) }
func instARN(id string) string { return ARN(testRegion, testAccount, KindInstance, id) }
func vpcARN() string           { return ARN(testRegion, testAccount, KindVPC, "vpc-lab") }

func mustPolicy(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := ParsePolicy("test.json", []byte(doc))
	if err != nil {
		t.Fatalf("ParsePolicy:\n%v", err)
	}
	return p
}

// principalWith returns a principal holding the policies.
func principalWith(name string, pols ...*Policy) *Principal {
	return &Principal{Name: name, Policies: pols}
}

func TestParsePolicyForms(t *testing.T) {
	// Statement as a single object, Action and Resource as strings.
	p := mustPolicy(t, `{"Version": "2012-10-17", "Id": "one",
		"Statement": {"Sid": "Read", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}}`)
	if p.Version != Version2012 || p.ID != "one" || len(p.Statements) != 1 {
		t.Fatalf("got %+v", p)
	}
	s := p.Statements[0]
	if s.Sid != "Read" || s.Effect != Allow || len(s.Action) != 1 || s.Action[0] != "ec2:Describe*" ||
		s.NotAction != nil || len(s.Resource) != 1 || s.NotResource != nil || s.Line != 2 {
		t.Errorf("statement: got %+v", s)
	}

	// Lists, NotAction, NotResource, and no Version (IAM's default).
	p = mustPolicy(t, `{"Statement": [
		{"Effect": "Deny", "NotAction": ["ec2:Describe*", "vpclab:GetStatus"], "NotResource": ["arn:aws:ec2:*:*:vpc/*"]}]}`)
	if p.Version != Version2008 {
		t.Errorf("Version = %q, want %q", p.Version, Version2008)
	}
	s = p.Statements[0]
	if s.Effect != Deny || s.Action != nil || len(s.NotAction) != 2 || s.Resource != nil || len(s.NotResource) != 1 {
		t.Errorf("statement: got %+v", s)
	}

	// YAML works too.
	p, err := ParsePolicy("test.yaml", []byte(`
Version: 2012-10-17
Statement:
  - Effect: Allow
    Action: [ec2:StopInstances]
    Resource: "*"
`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != Version2012 || p.Statements[0].Line != 4 {
		t.Errorf("YAML policy: got %+v", p)
	}

	// Strict JSON: escapes YAML refuses, and tabs.
	p = mustPolicy(t, "{\n\t\"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"ec2:StopInstances\",\n\t\t\"Resource\": \"arn:aws:ec2:*:*:instance\\/w\\u00e9b\"}]}")
	if got := p.Statements[0].Resource[0]; got != "arn:aws:ec2:*:*:instance/wéb" {
		t.Errorf("Resource = %q", got)
	}
}

func TestParsePolicyErrors(t *testing.T) {
	const ok = `"Effect": "Allow", "Action": "ec2:StopInstances", "Resource": "*"`
	tests := []struct {
		name, doc string
		want      []string // substrings of the error, in order
	}{
		{"condition", `{"Version": "2012-10-17", "Statement": [{` + ok + `},
			{"Effect": "Allow", "Action": "ec2:StartInstances", "Resource": "*",
			 "Condition": {"StringEquals": {"aws:username": "bob"}}}]}`,
			[]string{"p.json:3:5: Statement[1].Condition: not supported"}},
		{"principal", `{"Statement": {"Principal": "*", ` + ok + `}}`,
			[]string{"p.json:1:16: Statement.Principal: not allowed here"}},
		{"not principal", `{"Statement": {"NotPrincipal": {"AWS": "x"}, ` + ok + `}}`,
			[]string{"Statement.NotPrincipal: not allowed here"}},
		{"unknown statement key", `{"Statement": [{"Efect": "Allow", "Action": "*", "Resource": "*"}]}`,
			[]string{"p.json:1:16: Statement[0].Effect: missing: a statement needs an Effect", "p.json:1:17: Statement[0].Efect: unknown key: the keys of a statement are Sid, Effect, Action, NotAction, Resource, NotResource"}},
		{"unknown top key", `{"Statements": []}`,
			[]string{"p.json:1:1: Statement: missing: a policy needs a Statement", "p.json:1:2: Statements: unknown key"}},
		{"lower-case effect", `{"Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}`,
			[]string{`Statement[0].Effect: "allow": write Allow or Deny, with a capital letter`}},
		{"bad effect", `{"Statement": [{"Effect": "Permit", "Action": "*", "Resource": "*"}]}`,
			[]string{`Statement[0].Effect: "Permit" is not an effect`}},
		{"action and not action", `{"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "ec2:StopInstances", "Resource": "*"}]}`,
			[]string{"Statement[0].NotAction: give Action or NotAction, not both"}},
		{"no action", `{"Statement": [{"Effect": "Allow", "Resource": "*"}]}`,
			[]string{"Statement[0].Action: missing: a statement needs an Action"}},
		{"no resource", `{"Statement": [{"Effect": "Allow", "Action": "*"}]}`,
			[]string{"Statement[0].Resource: missing: a statement needs a Resource"}},
		{"resource and not resource", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "*"}]}`,
			[]string{"Statement[0].NotResource: give Resource or NotResource, not both"}},
		{"empty action list", `{"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}`,
			[]string{"Statement[0].Action: an empty list"}},
		{"action not a string", `{"Statement": [{"Effect": "Allow", "Action": {"a": 1}, "Resource": "*"}]}`,
			[]string{"Statement[0].Action: want a string or a list of strings, not a mapping"}},
		{"typo in action", `{"Statement": [{"Effect": "Deny", "Action": ["ec2:StopInstances", "ec2:AuthorizeSecurityGroupIngres"], "Resource": "*"}]}`,
			[]string{`p.json:1:67: Statement[0].Action[1]: "ec2:AuthorizeSecurityGroupIngres" names none of the actions vpclab implements: did you mean "ec2:AuthorizeSecurityGroupIngress"?`}},
		{"action vpclab lacks", `{"Statement": [{"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": "*"}]}`,
			[]string{`"ec2:RunInstances" names none of the actions vpclab implements; its ec2 actions are ec2:AuthorizeSecurityGroupIngress,`}},
		{"other service", `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}`,
			[]string{`"s3:*" names none of the actions vpclab implements`}},
		{"malformed action", `{"Statement": [{"Effect": "Allow", "Action": "StopInstances", "Resource": "*"}]}`,
			[]string{`"StopInstances" is not an action: write SERVICE:ACTION`}},
		{"wildcard service", `{"Statement": [{"Effect": "Allow", "Action": "e*:StopInstances", "Resource": "*"}]}`,
			[]string{`the service prefix before ':' cannot hold wildcards`}},
		{"resource not arn", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "sg-web"}]}`,
			[]string{`Statement[0].Resource: "sg-web" is not an ARN`}},
		{"short arn", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ec2:us-east-1"}]}`,
			[]string{`has 4 of the 6 fields of an ARN`}},
		{"wildcard arn service", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:*:*:*:vpc/x"}]}`,
			[]string{`the service field of an ARN cannot hold wildcards`}},
		{"unknown kind", `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": ["*", "arn:aws:ec2:*:*:securitygroup/sg-web"]}]}`,
			[]string{`Statement[0].Resource[1]: "arn:aws:ec2:*:*:securitygroup/sg-web": the resource of an ec2 ARN is KIND/ID`}},
		{"policy variable", `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:ec2:*:*:instance/${aws:username}"}]}`,
			[]string{`policy variables (${...}) are not supported`}},
		{"bad version", `{"Version": "2012-10-18", "Statement": [{` + ok + `}]}`,
			[]string{`Version: "2012-10-18" is not a version of the policy language`}},
		{"no statements", `{"Version": "2012-10-17", "Statement": []}`,
			[]string{"Statement: an empty list: a policy needs at least one statement"}},
		{"statement not object", `{"Statement": "Allow"}`,
			[]string{"Statement: want a statement or a list of statements, not a single value"}},
		{"bad sid", `{"Statement": [{"Sid": "read-only", ` + ok + `}]}`,
			[]string{`Statement[0].Sid: "read-only": a Sid has letters and digits only`}},
		{"duplicate sid", `{"Statement": [{"Sid": "A", ` + ok + `},
			{"Sid": "A", ` + ok + `}]}`,
			[]string{`p.json:2:12: Statement[1].Sid: "A" is the Sid of another statement (line 1)`}},
		{"duplicate key", `{"Statement": [{"Effect": "Allow", "Effect": "Deny", "Action": "*", "Resource": "*"}]}`,
			[]string{"Statement[0].Effect: given twice (first at line 1)"}},
		{"json syntax", "{\"Statement\": [\n  {\"Effect\": \"Allow\",, }]}",
			[]string{"p.json:2:22: invalid JSON: invalid character ','"}},
		{"json truncated", "{\"Statement\": [\n  {\"Effect\": \"Allow\"",
			[]string{"p.json:2:21: invalid JSON: the file ends in the middle of a value"}},
		{"json trailing", `{"Statement": {` + ok + `}} {}`,
			[]string{"invalid JSON: more after the end of the JSON value"}},
		{"not an object", `["Allow"]`,
			[]string{"want a policy document (a mapping with keys Version, Id, Statement), not a list"}},
		{"empty", ``, []string{"p.json: the file is empty"}},
		{"bare star in YAML", "Statement:\n  - Effect: Allow\n    Action: ec2:StopInstances\n    Resource: *\n",
			[]string{`p.json:4: invalid YAML: did not find expected alphabetic or numeric character: in YAML a * standing alone must be quoted, as in Resource: "*"`}},
		{"every error", `{"Statement": [{"Effect": "Maybe", "Action": "x", "Resource": "y", "Condition": {}}]}`,
			[]string{"Statement[0].Effect", "Statement[0].Action", "Statement[0].Resource", "Statement[0].Condition"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy("p.json", []byte(tt.doc))
			if err == nil {
				t.Fatalf("no error; got %+v", p)
			}
			if p != nil {
				t.Errorf("a policy with an error: %+v", p)
			}
			var list yamlpos.ErrorList
			if !errors.As(err, &list) {
				t.Errorf("error %T is not a yamlpos.ErrorList", err)
			}
			msg, rest := err.Error(), err.Error()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order):\n%s", w, msg)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestExplicitDenyWins(t *testing.T) {
	allowAll := mustPolicy(t, `{"Version": "2012-10-17", "Statement": [
		{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}]}`)
	protect := mustPolicy(t, `{"Version": "2012-10-17", "Statement": [
		{"Sid": "Other", "Effect": "Allow", "Action": "ec2:StartInstances", "Resource": "*"},
		{"Sid": "ProtectDB", "Effect": "Deny", "Action": ["ec2:StopInstances"], "Resource": "arn:aws:ec2:*:*:instance/db*"}]}`)
	protect.Name = "policy protect"

	// The order of the policies and of their statements does not matter.
	for _, p := range []*Principal{principalWith("bob", allowAll, protect), principalWith("bob", protect, allowAll)} {
		d := Authorize(p, StopInstances, instARN("db-1"))
		if d.Allowed || !d.Explicit || d.Policy != "policy protect" || d.Statement != 1 {
			t.Errorf("StopInstances on db-1: got %+v, want an explicit deny by statement 1 of policy protect", d)
		}
		for _, w := range []string{"principal bob may not ec2:StopInstances", instARN("db-1"), `explicitly denied by statement 1 (Sid "ProtectDB") of policy protect`} {
			if !strings.Contains(d.Reason, w) {
				t.Errorf("Reason %q lacks %q", d.Reason, w)
			}
		}
		// The Deny does not reach other instances or actions.
		if d := Authorize(p, StopInstances, instARN("web")); !d.Allowed {
			t.Errorf("StopInstances on web: got %+v, want allowed", d)
		}
		if d := Authorize(p, StartInstances, instARN("db-1")); !d.Allowed {
			t.Errorf("StartInstances on db-1: got %+v, want allowed", d)
		}
	}
}

func TestImplicitDeny(t *testing.T) {
	p := principalWith("carol", mustPolicy(t, `{"Statement": {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}}`))
	d := Authorize(p, CreateFlowLogs, vpcARN())
	if d.Allowed || d.Explicit || d.Policy != "" || d.Statement != -1 {
		t.Errorf("got %+v, want an implicit deny", d)
	}
	if !strings.Contains(d.Reason, "ec2:CreateFlowLogs") || !strings.Contains(d.Reason, "implicit deny; its policies: test.json") {
		t.Errorf("Reason = %q", d.Reason)
	}
}

func TestNotActionNotResource(t *testing.T) {
	// Everything but changes to security groups, on everything but sg-prod.
	p := principalWith("dave", mustPolicy(t, `{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "NotAction": ["ec2:AuthorizeSecurityGroup*", "ec2:RevokeSecurityGroup*"], "Resource": "*"},
		{"Effect": "Allow", "Action": "ec2:*SecurityGroup*", "NotResource": "arn:aws:ec2:*:*:security-group/sg-prod"}]}`))
	tests := []struct {
		action, resource string
		want             bool
	}{
		{StopInstances, instARN("web"), true},                  // NotAction leaves it in
		{DescribeSecurityGroups, vpcARN(), true},               // ditto
		{AuthorizeSecurityGroupIngress, sgARN("sg-web"), true}, // second statement
		{AuthorizeSecurityGroupIngress, sgARN("sg-prod"), false},
		{RevokeSecurityGroupEgress, sgARN("sg-prod"), false},
		{RevokeSecurityGroupEgress, sgARN("sg-prod2"), true}, // NotResource is exact
	}
	for _, tt := range tests {
		if d := Authorize(p, tt.action, tt.resource); d.Allowed != tt.want || d.Explicit {
			t.Errorf("%s on %s: got %+v, want Allowed=%v", tt.action, tt.resource, d, tt.want)
		}
	}

	// A Deny with NotResource denies everything else.
	p = principalWith("erin", mustPolicy(t, `{"Statement": [
		{"Effect": "Allow", "Action": "*", "Resource": "*"},
		{"Effect": "Deny", "Action": "ec2:StopInstances", "NotResource": "arn:aws:ec2:*:*:instance/scratch-*"}]}`))
	if d := Authorize(p, StopInstances, instARN("scratch-1")); !d.Allowed {
		t.Errorf("StopInstances on scratch-1: got %+v, want allowed", d)
	}
	if d := Authorize(p, StopInstances, instARN("db")); d.Allowed || !d.Explicit {
		t.Errorf("StopInstances on db: got %+v, want explicitly denied", d)
	}
}

func TestWildcardsInPolicies(t *testing.T) {
	p := principalWith("fay", mustPolicy(t, `{"Statement": [
		{"Effect": "Allow", "Action": ["EC2:authorizesecuritygroup*", "ec2:?evokeSecurityGroupIngress"],
		 "Resource": "arn:aws:ec2:us-east-1:*:security-group/sg-web-*"}]}`))
	tests := []struct {
		action, resource string
		want             bool
	}{
		{AuthorizeSecurityGroupIngress, sgARN("sg-web-1"), true},
		{AuthorizeSecurityGroupEgress, sgARN("sg-web-2"), true},
		{"EC2:AUTHORIZESECURITYGROUPINGRESS", sgARN("sg-web-1"), true}, // actions: any case
		{RevokeSecurityGroupIngress, sgARN("sg-web-1"), true},
		{RevokeSecurityGroupEgress, sgARN("sg-web-1"), false},
		{AuthorizeSecurityGroupIngress, sgARN("sg-Web-1"), false}, // resources: exact case
		{AuthorizeSecurityGroupIngress, sgARN("sg-web"), false},
		{AuthorizeSecurityGroupIngress, ARN("eu-west-1", testAccount, KindSecurityGroup, "sg-web-1"), false},
	}
	for _, tt := range tests {
		if d := Authorize(p, tt.action, tt.resource); d.Allowed != tt.want {
			t.Errorf("%s on %s: got %+v, want Allowed=%v", tt.action, tt.resource, d, tt.want)
		}
	}
}

func TestAuthorizeFailsClosed(t *testing.T) {
	p := principalWith("root", mustPolicy(t, `{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}`))
	tests := []struct {
		name             string
		p                *Principal
		action, resource string
		reason           string
	}{
		{"no principal", nil, StopInstances, instARN("web"), "not authenticated"},
		{"unknown action", p, "ec2:RunInstances", instARN("web"), `"ec2:RunInstances" is not an action vpclab implements`},
		{"wrong kind", p, StopInstances, sgARN("sg-web"), "ec2:StopInstances acts on the ARN of a instance"},
		{"not an ARN", p, StopInstances, "web", "acts on the ARN"},
		{"star", p, GetStatus, "*", "acts on the ARN of a vpc"},
		{"no id", p, GetStatus, "arn:aws:ec2:us-east-1:123456789012:vpc/", "acts on the ARN"},
	}
	for _, tt := range tests {
		d := Authorize(tt.p, tt.action, tt.resource)
		if d.Allowed || d.Statement != -1 || !strings.Contains(d.Reason, tt.reason) {
			t.Errorf("%s: got %+v, want denied with a reason containing %q", tt.name, d, tt.reason)
		}
	}
	// And the same principal may do what it asks properly.
	if d := Authorize(p, StopInstances, instARN("web")); !d.Allowed {
		t.Errorf("got %+v, want allowed", d)
	}
}

func TestActions(t *testing.T) {
	want := []string{
		AuthorizeSecurityGroupIngress, AuthorizeSecurityGroupEgress, RevokeSecurityGroupIngress, RevokeSecurityGroupEgress,
		CreateNetworkAclEntry, ReplaceNetworkAclEntry, DeleteNetworkAclEntry, ReplaceNetworkAclAssociation,
		ModifyNetworkInterfaceAttribute, "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
		"ec2:ModifySecurityGroupRules", "ec2:UpdateSecurityGroupRuleDescriptionsIngress", "ec2:UpdateSecurityGroupRuleDescriptionsEgress",
		"ec2:CreateNetworkAcl", "ec2:DeleteNetworkAcl", "ec2:CreateTags", "ec2:DeleteTags",
		"ec2:CreateManagedPrefixList", "ec2:ModifyManagedPrefixList", "ec2:DeleteManagedPrefixList", CreateFlowLogs, DeleteFlowLogs, CreateTrafficMirrorSession, DeleteTrafficMirrorSession,
		StartInstances, StopInstances,
		DescribeSecurityGroups, DescribeNetworkAcls, DescribeNetworkInterfaces, DescribeInstances, DescribeFlowLogs,
		"ec2:DescribeSecurityGroupRules", "ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeRouteTables",
		"ec2:DescribeManagedPrefixLists", "ec2:GetManagedPrefixListEntries", "ec2:DescribeAvailabilityZones",
		"ec2:DescribeRegions", "ec2:DescribeAccountAttributes", "ec2:DescribeTags",
		ApplyLab, GetStatus, Capture,
	}
	got := Actions()
	if len(got) != len(want) {
		t.Fatalf("%d actions, want %d", len(got), len(want))
	}
	for i, a := range got {
		if a.Name != want[i] {
			t.Errorf("action %d is %s, want %s", i, a.Name, want[i])
		}
		if len(a.Kinds) == 0 {
			t.Errorf("%s acts on no kind of resource", a.Name)
		}
		if ro := strings.Contains(a.Name, ":Describe") || strings.Contains(a.Name, "ec2:Get") || a.Name == GetStatus || a.Name == Capture; a.ReadOnly != ro {
			t.Errorf("%s: ReadOnly = %v", a.Name, a.ReadOnly)
		}
		if l, ok := LookupAction(strings.ToUpper(a.Name)); !ok || l.Name != a.Name {
			t.Errorf("LookupAction(%q) = %v, %v", strings.ToUpper(a.Name), l, ok)
		}
		// Every ARN of the action's kinds is one Authorize accepts.
		for _, k := range a.Kinds {
			if kind, ok := arnKind(ARN(testRegion, testAccount, k, "x-1")); !ok || kind != k {
				t.Errorf("arnKind(ARN(…, %s, …)) = %q, %v", k, kind, ok)
			}
		}
	}
	got[0].Kinds[0] = "changed"
	if Actions()[0].Kinds[0] != KindSecurityGroup {
		t.Error("Actions returns the package's own slices")
	}
	if _, ok := LookupAction("ec2:RunInstances"); ok {
		t.Error("LookupAction found ec2:RunInstances")
	}
	if got := ARN("us-east-1", "123456789012", KindSecurityGroup, "sg-web"); got != "arn:aws:ec2:us-east-1:123456789012:security-group/sg-web" {
		t.Errorf("ARN = %q", got)
	}
}
