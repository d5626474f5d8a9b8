package authz

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	aliceToken = "alice-0123456789abcdef0123456789"
	bobToken   = "bob-fedcba9876543210fedcba987654"
	carolToken = "carol-00000000000000000000000000"
)

func digest(token string) string {
	d := sha256.Sum256([]byte(token))
	return hex.EncodeToString(d[:])
}

// testFile is a principals file with every feature: both token forms,
// built-in and custom roles, and an inline policy.
var testFile = fmt.Sprintf(`
roles:
  sg-editor:
    Version: "2012-10-17"
    Statement:
      - Sid: EditWeb
        Effect: Allow
        Action: ["ec2:AuthorizeSecurityGroup*", "ec2:RevokeSecurityGroup*"]
        Resource: "arn:aws:ec2:*:*:security-group/sg-web"
principals:
  - name: alice
    token_sha256: %s
    roles: [network-admin]
  - name: bob
    token: %s
    roles: [instance-operator]
    policies:
      - Version: "2012-10-17"
        Statement:
          Sid: ProtectDB
          Effect: Deny
          Action: ec2:StopInstances
          Resource: "arn:aws:ec2:*:*:instance/db"
  - name: carol
    token_sha256: %s
    roles: [viewer, sg-editor]
`, digest(aliceToken), bobToken, strings.ToUpper(digest(carolToken)))

func mustParse(t *testing.T, data string) *Principals {
	t.Helper()
	ps, err := Parse("principals.yaml", []byte(data))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return ps
}

func TestParsePrincipals(t *testing.T) {
	ps := mustParse(t, testFile)
	if got := strings.Join(ps.Names(), ","); got != "alice,bob,carol" || ps.Len() != 3 {
		t.Fatalf("Names() = %s, Len() = %d", got, ps.Len())
	}
	alice, ok := ps.Authenticate(aliceToken)
	if !ok || alice.Name != "alice" || strings.Join(alice.Roles, ",") != "network-admin" {
		t.Fatalf("alice: %+v, %v", alice, ok)
	}
	bob, ok := ps.Authenticate(bobToken)
	if !ok || bob.Name != "bob" || len(bob.Policies) != 2 {
		t.Fatalf("bob: %+v, %v", bob, ok)
	}
	carol, ok := ps.Authenticate(carolToken) // its digest is written in upper case
	if !ok || carol.Name != "carol" || strings.Join(carol.Roles, ",") != "viewer,sg-editor" {
		t.Fatalf("carol: %+v, %v", carol, ok)
	}

	tests := []struct {
		p                 *Principal
		action, resource  string
		allowed, explicit bool
		reason            string
	}{
		{alice, AuthorizeSecurityGroupIngress, sgARN("sg-db"), true, false, "role network-admin"},
		{bob, StopInstances, instARN("web"), true, false, `statement 1 (Sid "StartAndStop") of role instance-operator`},
		{bob, StopInstances, instARN("db"), false, true, `statement 0 (Sid "ProtectDB") of policy principals[bob].policies[0]`},
		{bob, AuthorizeSecurityGroupIngress, sgARN("sg-web"), false, false, "implicit deny; its policies: role instance-operator, policy principals[bob].policies[0]"},
		{carol, AuthorizeSecurityGroupIngress, sgARN("sg-web"), true, false, `Sid "EditWeb") of role sg-editor`},
		{carol, AuthorizeSecurityGroupIngress, sgARN("sg-db"), false, false, "implicit deny"},
		{carol, DescribeInstances, vpcARN(), true, false, "role viewer"},
	}
	for _, tt := range tests {
		d := Authorize(tt.p, tt.action, tt.resource)
		if d.Allowed != tt.allowed || d.Explicit != tt.explicit || !strings.Contains(d.Reason, tt.reason) {
			t.Errorf("%s %s on %s: got %+v, want Allowed=%v Explicit=%v and a Reason containing %q",
				tt.p.Name, tt.action, tt.resource, d, tt.allowed, tt.explicit, tt.reason)
		}
	}

	if pol, ok := ps.Role("sg-editor"); !ok || pol.Name != "role sg-editor" {
		t.Errorf("Role(sg-editor) = %+v, %v", pol, ok)
	}
	if _, ok := ps.Role(RoleViewer); !ok {
		t.Error("Role(viewer) not found")
	}
}

func TestParsePrincipalsJSON(t *testing.T) {
	ps := mustParse(t, fmt.Sprintf(`{"principals": [{"name": "alice", "token_sha256": "%s", "roles": ["viewer"],
		"policies": [{"Statement": {"Effect": "Allow", "Action": "vpclab:Capture", "Resource": "arn:aws:ec2:*:*:network-interface\/eni-web"}}]}]}`,
		digest(aliceToken)))
	p, ok := ps.Authenticate(aliceToken)
	if !ok {
		t.Fatal("alice not found")
	}
	if d := Authorize(p, Capture, ARN(testRegion, testAccount, KindNetworkInterface, "eni-web")); !d.Allowed {
		t.Errorf("Capture: %+v", d)
	}
}

func TestParsePrincipalsErrors(t *testing.T) {
	tok := func(s string) string { return s + strings.Repeat("0", 32) }
	tests := []struct {
		name, file string
		want       []string // substrings of the error, in order
	}{
		{"no principals key", "roles: {}\n", []string{"principals.yaml:1:1: principals: missing"}},
		{"empty list", "principals: []\n", []string{"principals.yaml:1:13: principals: an empty list"}},
		{"no name", "principals:\n  - {token: " + tok("a") + ", roles: [viewer]}\n",
			[]string{"principals.yaml:2:5: principals[0].name: missing: a principal needs a name"}},
		{"bad name", "principals:\n  - {name: 'al ice', token: " + tok("a") + ", roles: [viewer]}\n",
			[]string{`principals[0].name: "al ice" is not a principal's name`}},
		{"duplicate name", "principals:\n  - {name: a, token: " + tok("a") + ", roles: [viewer]}\n  - {name: a, token: " + tok("b") + ", roles: [viewer]}\n",
			[]string{"principals.yaml:3:12: principals[a].name: a is named twice (first at line 2)"}},
		{"no token", "principals:\n  - {name: a, roles: [viewer]}\n",
			[]string{"principals[a].token_sha256: missing: a principal needs token_sha256"}},
		{"both tokens", "principals:\n  - {name: a, token: " + tok("a") + ", token_sha256: " + digest("x") + ", roles: [viewer]}\n",
			[]string{"principals[a].token_sha256: give token or token_sha256, not both"}},
		{"short token", "principals:\n  - {name: a, token: short, roles: [viewer]}\n",
			[]string{"principals[a].token: a token has at least 16 characters"}},
		{"token with space", "principals:\n  - {name: a, token: 'abc def ghi jkl mno', roles: [viewer]}\n",
			[]string{"principals[a].token: a token is printable ASCII without spaces"}},
		{"bad digest", "principals:\n  - {name: a, token_sha256: abc, roles: [viewer]}\n",
			[]string{`principals[a].token_sha256: want the SHA-256 of the token in hex (64 digits, as sha256sum prints it), not "abc"`}},
		{"empty digest", "principals:\n  - {name: a, token_sha256: " + digest("") + ", roles: [viewer]}\n",
			[]string{"principals[a].token_sha256: the SHA-256 of the empty token"}},
		{"same token", "principals:\n  - {name: a, token: " + tok("a") + ", roles: [viewer]}\n  - {name: b, token_sha256: " + digest(tok("a")) + ", roles: [viewer]}\n",
			[]string{"principals.yaml:3:29: principals[b].token_sha256: the same token as principal a (line 2)"}},
		{"unknown role", "principals:\n  - {name: a, token: " + tok("a") + ", roles: [viewer, admin]}\n",
			[]string{`principals[a].roles[1]: no role "admin": the roles are network-admin, instance-operator, viewer`}},
		{"role twice", "principals:\n  - {name: a, token: " + tok("a") + ", roles: [viewer, viewer]}\n",
			[]string{"principals[a].roles[1]: role viewer is listed twice"}},
		{"nothing granted", "principals:\n  - {name: a, token: " + tok("a") + "}\n",
			[]string{"principals[a].roles: missing: a principal needs roles or policies"}},
		{"unknown key", "principals:\n  - {name: a, token: " + tok("a") + ", role: viewer}\n",
			[]string{"principals[a].role: unknown key: the keys of a principal are name, token, token_sha256, access_key_id, secret_access_key, roles, policies"}},
		{"bad inline policy", "principals:\n  - name: a\n    token: " + tok("a") + "\n    policies:\n      - Statement:\n          Effect: Allow\n          Action: ec2:StopInstances\n          Resource: '*'\n          Condition: {Bool: {aws:MultiFactorAuthPresent: 'true'}}\n",
			[]string{"principals.yaml:9:11: principals[a].policies[0].Statement.Condition: not supported"}},
		{"redefined built-in role", "roles:\n  viewer: {Statement: {Effect: Allow, Action: '*', Resource: '*'}}\nprincipals:\n  - {name: a, token: " + tok("a") + ", roles: [viewer]}\n",
			[]string{"principals.yaml:2:3: roles.viewer: viewer is a built-in role: give yours another name"}},
		{"bad custom role", "roles:\n  mine: {Statement: {Effect: Allow, Action: ec2:Stop, Resource: '*'}}\nprincipals:\n  - {name: a, token: " + tok("a") + ", roles: [mine]}\n",
			[]string{`roles.mine.Statement.Action: "ec2:Stop" names none of the actions`, `no role "mine"`}},
		{"yaml alias", "x: &t " + tok("a") + "\nprincipals:\n  - {name: a, token: *t, roles: [viewer]}\n",
			[]string{"YAML aliases (*t) are not supported"}},
		{"not a mapping", "- a\n", []string{"want a principals file (a mapping with keys principals, roles), not a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := Parse("principals.yaml", []byte(tt.file))
			if err == nil {
				t.Fatalf("no error; got %v", ps.Names())
			}
			rest := err.Error()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error does not contain %q (in order):\n%s", w, err)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// countingEq wraps subtle.ConstantTimeCompare and counts its calls.
type countingEq struct{ n int }

func (c *countingEq) eq(x, y []byte) int {
	c.n++
	return subtle.ConstantTimeCompare(x, y)
}

func TestAuthenticate(t *testing.T) {
	ps := mustParse(t, testFile)
	var c countingEq
	ps.eq = c.eq
	tests := []struct {
		name, token string
		want        string // principal, or "" for none
		compares    int
	}{
		{"first", aliceToken, "alice", 3},
		{"middle", bobToken, "bob", 3},
		{"last", carolToken, "carol", 3},
		{"unknown", "mallory-0123456789abcdef01234567", "", 3},
		{"prefix", aliceToken[:len(aliceToken)-1], "", 3},
		{"longer", aliceToken + "0", "", 3},
		{"other case", strings.ToUpper(bobToken), "", 3},
		{"the digest itself", digest(aliceToken), "", 3},
		{"empty", "", "", 0},
	}
	for _, tt := range tests {
		c.n = 0
		p, ok := ps.Authenticate(tt.token)
		switch {
		case tt.want == "" && (ok || p != nil):
			t.Errorf("%s: authenticated as %s", tt.name, p.Name)
		case tt.want != "" && (!ok || p.Name != tt.want):
			t.Errorf("%s: got %v, %v, want %s", tt.name, p, ok, tt.want)
		}
		// Every principal's digest is compared, whoever matches.
		if c.n != tt.compares {
			t.Errorf("%s: %d comparisons, want %d", tt.name, c.n, tt.compares)
		}
	}
	var none *Principals
	if _, ok := none.Authenticate(aliceToken); ok {
		t.Error("nil Principals authenticated a token")
	}
	if _, ok := New().Authenticate(""); ok {
		t.Error("an empty token matched in an empty set")
	}
}

func TestAddEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	const tok = "env-token-0123456789abcdef"

	// Unset: nobody.
	ps := New()
	if p, err := ps.AddEnv(env()); p != nil || err != nil || ps.Len() != 0 {
		t.Errorf("no variables: %v, %v", p, err)
	}

	// Token and roles, including a custom role of the file.
	ps = mustParse(t, testFile)
	p, err := ps.AddEnv(env(EnvToken, tok, EnvRole, " viewer , sg-editor"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "env" || strings.Join(p.Roles, ",") != "viewer,sg-editor" || ps.Len() != 4 {
		t.Errorf("got %+v; %d principals", p, ps.Len())
	}
	if q, ok := ps.Authenticate(tok); !ok || q != p {
		t.Errorf("Authenticate(env token) = %v, %v", q, ok)
	}
	if d := Authorize(p, AuthorizeSecurityGroupIngress, sgARN("sg-web")); !d.Allowed {
		t.Errorf("env principal: %+v", d)
	}

	// A name of its own.
	ps = New()
	if p, err := ps.AddEnv(env(EnvToken, tok, EnvRole, RoleNetworkAdmin, EnvPrincipal, "lab-admin")); err != nil || p.Name != "lab-admin" {
		t.Errorf("named: %+v, %v", p, err)
	}
	// Twice.
	if _, err := ps.AddEnv(env(EnvToken, tok, EnvRole, RoleNetworkAdmin, EnvPrincipal, "lab-admin")); err == nil ||
		!strings.Contains(err.Error(), "the environment's principal lab-admin was added already") {
		t.Errorf("added twice: %v", err)
	}

	errs := []struct {
		name string
		env  func(string) string
		want string
	}{
		{"token without role", env(EnvToken, tok), "VPCLAB_TOKEN is set but VPCLAB_ROLE is not: name the principal's roles"},
		{"role without token", env(EnvRole, RoleViewer), "VPCLAB_ROLE is set but VPCLAB_TOKEN is not"},
		{"short token", env(EnvToken, "abc", EnvRole, RoleViewer), "VPCLAB_TOKEN: a token has at least 16 characters"},
		{"unknown role", env(EnvToken, tok, EnvRole, "root"), `VPCLAB_ROLE: no role "root"`},
		{"empty role in list", env(EnvToken, tok, EnvRole, "viewer,"), `VPCLAB_ROLE: no role ""`},
		{"role twice", env(EnvToken, tok, EnvRole, "viewer,viewer"), "VPCLAB_ROLE: role viewer is listed twice"},
		{"bad name", env(EnvToken, tok, EnvRole, RoleViewer, EnvPrincipal, "a b"), `VPCLAB_PRINCIPAL: "a b" is not a principal's name`},
		{"file's name", env(EnvToken, tok, EnvRole, RoleViewer, EnvPrincipal, "bob"), "VPCLAB_PRINCIPAL: the principals file names a principal bob too (line 14)"},
		{"file's token", env(EnvToken, bobToken, EnvRole, RoleViewer), "VPCLAB_TOKEN is the token of principal bob"},
	}
	for _, tt := range errs {
		ps := mustParse(t, testFile)
		p, err := ps.AddEnv(tt.env)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, %v; want an error containing %q", tt.name, p, err, tt.want)
		}
		if ps.Len() != 3 {
			t.Errorf("%s: a principal was added on error", tt.name)
		}
	}
}

func TestLoadChecksFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "principals.yaml")
	if err := os.WriteFile(path, []byte(testFile), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := Load(path)
	if err != nil {
		t.Fatalf("mode 0600: %v", err)
	}
	if ps.Len() != 3 {
		t.Errorf("%d principals", ps.Len())
	}

	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		want := fmt.Sprintf("%s: permissions %04o are too open", path, mode)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("mode %04o: got %v, want an error containing %q", mode, err, want)
		}
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("mode 0400: %v", err)
	}

	// Owned by another user.
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	err = checkPrivate(path, fi, os.Getuid()+1)
	if want := fmt.Sprintf("owned by uid %d, not by uid %d that vpclab runs as", os.Getuid(), os.Getuid()+1); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("another owner: got %v, want an error containing %q", err, want)
	}

	// Not a regular file.
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: got %v", err)
	}
	// Missing.
	if _, err := Load(filepath.Join(dir, "none.yaml")); !os.IsNotExist(err) {
		t.Errorf("a missing file: got %v", err)
	}
	// Errors of content name the path.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("principals: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":1:13: principals: an empty list") {
		t.Errorf("bad content: got %v", err)
	}
}

// TestConcurrentUse authenticates and authorizes from many goroutines
// (run with -race).
func TestConcurrentUse(t *testing.T) {
	ps := mustParse(t, testFile)
	done := make(chan bool)
	for i := range 8 {
		go func() {
			ok := true
			for j := range 200 {
				tok := []string{aliceToken, bobToken, carolToken, "nobody-000000000000000000000"}[(i+j)%4]
				p, found := ps.Authenticate(tok)
				if found {
					Authorize(p, StopInstances, instARN("db"))
				} else if tok != "nobody-000000000000000000000" {
					ok = false
				}
			}
			done <- ok
		}()
	}
	deadline := time.After(30 * time.Second)
	for range 8 {
		select {
		case ok := <-done:
			if !ok {
				t.Error("a known token did not authenticate")
			}
		case <-deadline:
			t.Fatal("timed out")
		}
	}
}

// TestDocExample parses the example of the package documentation, read
// from doc.go, with real digests in place of the elided ones.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	in := false
	for _, l := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(l, "//\t# /etc/vpclab/principals.yaml"):
			in = true
		case in && !strings.HasPrefix(l, "//\t"):
			in = false
		}
		if in {
			lines = append(lines, strings.TrimPrefix(l, "//\t"))
		}
	}
	if len(lines) < 10 {
		t.Fatalf("no example found in doc.go (%d lines)", len(lines))
	}
	example := strings.Join(lines, "\n")
	example = strings.Replace(example, "5b1a...e0c2", digest(aliceToken), 1)
	example = strings.Replace(example, "9f0c...41ab", digest(bobToken), 1)
	ps := mustParse(t, example)
	bob, ok := ps.Authenticate(bobToken)
	if !ok {
		t.Fatal("bob not found")
	}
	if d := Authorize(bob, StopInstances, instARN("db")); d.Allowed || !d.Explicit {
		t.Errorf("bob stops db: %+v", d)
	}
	carol, ok := ps.Authenticate("3c5e0d0a4b1f8e27a9d6c2b4e5f70819")
	if !ok {
		t.Fatal("carol not found")
	}
	if d := Authorize(carol, RevokeSecurityGroupIngress, sgARN("sg-web")); !d.Allowed {
		t.Errorf("carol revokes on sg-web: %+v", d)
	}
	if d := Authorize(carol, RevokeSecurityGroupIngress, sgARN("sg-db")); d.Allowed {
		t.Errorf("carol revokes on sg-db: %+v", d)
	}
}

func TestAccessKeys(t *testing.T) {
	ps, err := Parse("p.yaml", []byte(`principals:
  - name: alice
    access_key_id: AKIAVPCLABALICE00001
    secret_access_key: alice-secret-key-0123456789
    roles: [network-admin]
  - name: bob
    token: 0123456789abcdef0123
    access_key_id: AKIAVPCLABBOB0000001
    secret_access_key: bob-secret-key-0123456789
    roles: [viewer]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, secret, ok := ps.AccessKey("AKIAVPCLABALICE00001")
	if !ok || p.Name != "alice" || secret != "alice-secret-key-0123456789" {
		t.Errorf("AccessKey(alice) = %v %q %v", p, secret, ok)
	}
	if _, _, ok := ps.AccessKey("AKIAVPCLABNOBODY0001"); ok {
		t.Error("an unknown key was found")
	}
	if p, ok := ps.Authenticate("0123456789abcdef0123"); !ok || p.Name != "bob" {
		t.Errorf("bob's token: %v %v", p, ok)
	}
	// alice has no token: the empty token's digest, or a zero digest, must
	// not reach her.
	for _, tok := range []string{"", "alice-secret-key-0123456789"} {
		if p, ok := ps.Authenticate(tok); ok && p.Name == "alice" {
			t.Errorf("token %q authenticates alice, who has only an access key", tok)
		}
	}
	for _, bad := range []struct{ yaml, want string }{
		{"  - {name: a, access_key_id: AKIAVPCLABALICE00001, roles: [viewer]}", "needs its secret_access_key"},
		{"  - {name: a, secret_access_key: alice-secret-key-0123456789, roles: [viewer]}", "needs its access_key_id"},
		{"  - {name: a, access_key_id: akia-lower, secret_access_key: alice-secret-key-0123456789, roles: [viewer]}", "is not an access key id"},
		{"  - {name: a, access_key_id: AKIAVPCLABALICE00001, secret_access_key: short, roles: [viewer]}", "at least 16"},
		{"  - {name: a, access_key_id: AKIAVPCLABALICE00001, secret_access_key: alice-secret-key-0123456789, roles: [viewer]}\n  - {name: b, access_key_id: AKIAVPCLABALICE00001, secret_access_key: other-secret-key-0123456789, roles: [viewer]}", "same access key id as principal a"},
	} {
		_, err := Parse("p.yaml", []byte("principals:\n"+bad.yaml+"\n"))
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: got %v, want %q", bad.yaml, err, bad.want)
		}
	}
}

func TestAddAccessKey(t *testing.T) {
	ps := New()
	id, secret := NewAccessKey()
	id2, _ := NewAccessKey()
	if !validAccessKeyID.MatchString(id) || !strings.HasPrefix(id, "AKIA") || len(id) != 20 || len(secret) != 40 || checkSecretKey(secret) != "" || id == id2 {
		t.Fatalf("NewAccessKey = %q, %q (then %q)", id, secret, id2)
	}
	p, err := ps.AddAccessKey("admin", id, secret, RoleNetworkAdmin, RoleInstanceOperator)
	if err != nil {
		t.Fatal(err)
	}
	if got, sec, ok := ps.AccessKey(id); !ok || got != p || sec != secret || ps.AccessKeys() != 1 {
		t.Errorf("AccessKey(%s) = %v, %q, %v", id, got, sec, ok)
	}
	if d := Authorize(p, StopInstances, ARN(testRegion, testAccount, KindInstance, "web")); !d.Allowed {
		t.Errorf("the administrator may not stop an instance: %s", d.Reason)
	}
	for _, c := range []struct {
		name, id, secret, role, msg string
	}{
		{"admin", id2, secret, RoleViewer, "exists already"},
		{"other", id, secret, RoleViewer, "is admin's already"},
		{"other", "akia-lower", secret, RoleViewer, "not an access key id"},
		{"other", id2, "short", RoleViewer, "at least 16"},
		{"other", id2, secret, "root", `no role "root"`},
		{"bad name", id2, secret, RoleViewer, "not a principal's name"},
	} {
		if _, err := ps.AddAccessKey(c.name, c.id, c.secret, c.role); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("AddAccessKey(%s, %s): %v, want …%s…", c.name, c.id, err, c.msg)
		}
	}
	if ps.Len() != 1 {
		t.Errorf("%d principals after the refused ones", ps.Len())
	}
}
