package authz

import (
	"encoding/json"
	"testing"
)

// FuzzParsePolicy checks that any input either parses into a policy that
// evaluates without trouble, or fails with an error; and that what strict
// JSON refuses is refused.
func FuzzParsePolicy(f *testing.F) {
	for _, role := range builtinNames {
		data, err := roleFiles.ReadFile("roles/" + role + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"Statement": {"Effect": "Deny", "NotAction": "ec2:Describe*", "NotResource": "arn:aws:ec2:*:*:vpc/*"}}`))
	f.Add([]byte("Statement:\n  - {Effect: Allow, Action: [ec2:StopInstances], Resource: '*'}\n"))
	f.Add([]byte(`{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]}`))
	f.Add([]byte(`{"a": [[[[{"b": 1e400}]]]]} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy("f.json", data)
		if err != nil {
			if p != nil {
				t.Fatal("a policy and an error")
			}
			return
		}
		if isJSON(data) && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if len(p.Statements) == 0 {
			t.Fatal("a policy without statements")
		}
		pr := principalWith("f", p)
		for _, a := range actions {
			Authorize(pr, a.Name, ARN(testRegion, testAccount, a.Kinds[0], "x"))
		}
	})
}

// FuzzParsePrincipals checks that any principals file either parses or
// fails with an error, and that a parsed one holds only principals with
// policies and distinct tokens.
func FuzzParsePrincipals(f *testing.F) {
	f.Add([]byte(testFile))
	f.Add([]byte(`{"principals": [{"name": "a", "token": "0123456789abcdef", "roles": ["viewer"]}]}`))
	f.Add([]byte("principals:\n  - {name: a, token_sha256: " + digest("") + ", roles: [viewer]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := Parse("f.yaml", data)
		if err != nil {
			if ps != nil {
				t.Fatal("principals and an error")
			}
			return
		}
		seen := map[[32]byte]bool{}
		for _, p := range ps.list {
			if len(p.Policies) == 0 {
				t.Fatalf("principal %s has no policies", p.Name)
			}
			if seen[p.digest] || p.digest == emptyDigest {
				t.Fatalf("principal %s: a shared or empty token", p.Name)
			}
			seen[p.digest] = true
		}
		if _, ok := ps.Authenticate(""); ok {
			t.Fatal("the empty token authenticated")
		}
	})
}
