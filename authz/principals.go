package authz

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// Principal is someone the control API knows: a name, the token that
// proves it, and the policies that say what it may do.
type Principal struct {
	// Name identifies the principal in decisions and the audit log.
	Name string
	// Roles are the names of its roles, as given.
	Roles []string
	// Policies are its roles' policies, in the order of Roles, then its
	// own (inline) policies. Authorize considers them all.
	Policies []*Policy
	// AccessKeyID is the principal's AWS access key id, for requests
	// signed with Signature Version 4 (the EC2 Query API); empty when it
	// has none.
	AccessKeyID string

	digest    [sha256.Size]byte // SHA-256 of the token; zero when it has none
	hasToken  bool
	secretKey string // the secret access key: SigV4 needs the key itself
}

// Principals are the principals of a principals file, the custom roles it
// defines, and the principal of the environment (AddEnv). Build them with
// New, Parse or Load; add the environment's before serving: after that
// they are read only, and safe for concurrent use.
type Principals struct {
	list  []*Principal
	roles map[string]*Policy // the file's custom roles (not the built-in ones)
	lines map[string]int     // principal name → line, for duplicate messages (0: the environment)

	// eq compares two digests: subtle.ConstantTimeCompare, or a test's
	// wrapper that counts the comparisons.
	eq func(x, y []byte) int
}

// New returns an empty set of principals, with only the built-in roles:
// for a lab whose only principal comes from the environment.
func New() *Principals {
	return &Principals{roles: map[string]*Policy{}, lines: map[string]int{}, eq: subtle.ConstantTimeCompare}
}

// Len returns the number of principals.
func (ps *Principals) Len() int { return len(ps.list) }

// Names returns the names of the principals, in file order, the
// environment's last.
func (ps *Principals) Names() []string {
	out := make([]string, len(ps.list))
	for i, p := range ps.list {
		out[i] = p.Name
	}
	return out
}

// Role returns the policy of the role name: a built-in role or one the
// file defines.
func (ps *Principals) Role(name string) (*Policy, bool) {
	if p, ok := ps.roles[name]; ok {
		return p.clone(), true
	}
	return BuiltinRole(name)
}

// role returns the shared policy of the role name.
func (ps *Principals) role(name string) *Policy {
	if p, ok := ps.roles[name]; ok {
		return p
	}
	return builtin[name]
}

// roleNames lists every role, built-in first, for messages.
func (ps *Principals) roleNames() string {
	return strings.Join(append(slices.Clone(builtinNames), slices.Sorted(maps.Keys(ps.roles))...), ", ")
}

// Authenticate returns the principal whose token is token. It compares
// the SHA-256 digest of token with every principal's in constant time
// (crypto/subtle), always with every one and without branching on the
// outcome, so the time it takes does not tell whether, or with whom, a
// token matched, or how much of it did. An empty token never matches (and
// returns at once: that a token is empty is no secret).
func (ps *Principals) Authenticate(token string) (*Principal, bool) {
	if ps == nil || token == "" {
		return nil, false
	}
	eq := ps.eq
	if eq == nil {
		eq = subtle.ConstantTimeCompare
	}
	d := sha256.Sum256([]byte(token))
	found := -1
	for i, p := range ps.list {
		m := eq(d[:], p.digest[:])
		if !p.hasToken { // an access key alone: no token matches
			m = 0
		}
		found = subtle.ConstantTimeSelect(m, i, found)
	}
	if found < 0 {
		return nil, false
	}
	return ps.list[found], true
}

// AccessKey returns the principal whose access key id is id, and its
// secret access key. Access key ids are not secret (they travel in every
// request), so the lookup need not take constant time; the signature
// check that uses the secret does.
func (ps *Principals) AccessKey(id string) (*Principal, string, bool) {
	if ps == nil || id == "" {
		return nil, "", false
	}
	for _, p := range ps.list {
		if p.AccessKeyID == id {
			return p, p.secretKey, true
		}
	}
	return nil, "", false
}

// validAccessKeyID is what an access key id may be: AWS's are 16-128
// upper-case letters and digits (AKIA… for users).
var validAccessKeyID = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// checkSecretKey returns why s cannot be a secret access key, or "".
func checkSecretKey(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return "a secret access key is printable ASCII without spaces"
		}
	}
	if len(s) < 16 {
		return "a secret access key has at least 16 characters (AWS's have 40): make one with openssl rand -base64 30"
	}
	return ""
}

// emptyDigest is the SHA-256 of the empty token, which no principal may
// have.
var emptyDigest = sha256.Sum256(nil)

// MinTokenLen is the shortest token accepted in a file or the
// environment: 16 characters, such as those of "openssl rand -hex 16"
// (32 characters), resist guessing.
const MinTokenLen = 16

// checkToken returns why token cannot be a token, or "".
func checkToken(token string) string {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return "a token is printable ASCII without spaces (it travels in an HTTP header): make one with openssl rand -hex 16"
		}
	}
	if len(token) < MinTokenLen {
		return fmt.Sprintf("a token has at least %d characters, to resist guessing: make one with openssl rand -hex 16", MinTokenLen)
	}
	return ""
}

// validName is what IAM allows in the name of a user or role, and vpclab
// in the name of a principal or role.
var validName = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,64}$`)

const nameRule = "1-64 letters, digits and +=,.@_- (as IAM names users and roles)"

// MaxFileSize bounds a principals file.
const MaxFileSize = 1 << 20

// Load reads the principals file at path and parses it with Parse. It
// refuses a file that is not private, as ssh refuses a private key: the
// file must be a regular file owned by the user vpclab runs as, with no
// permissions for group or others (chmod 600), since it holds tokens or
// their digests.
func Load(path string) (*Principals, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat() // of the file opened, not of whatever path names later
	if err != nil {
		return nil, err
	}
	if err := checkPrivate(path, fi, os.Getuid()); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &yamlpos.Error{File: path, Msg: fmt.Sprintf("larger than %d bytes: this is not a principals file", MaxFileSize)}
	}
	return Parse(path, data)
}

// checkPrivate returns an error unless fi, of the file at path, is a
// regular file owned by uid that only its owner may read or write.
func checkPrivate(path string, fi fs.FileInfo, uid int) error {
	if !fi.Mode().IsRegular() {
		return &yamlpos.Error{File: path, Msg: fmt.Sprintf("not a regular file (%s)", fi.Mode().Type())}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return &yamlpos.Error{File: path, Msg: fmt.Sprintf(
			"permissions %04o are too open: the file holds tokens, so group and others may not read or write it; run: chmod 600 %s",
			perm, path)}
	}
	if owner, ok := fileOwner(fi); ok && owner != uid {
		return &yamlpos.Error{File: path, Msg: fmt.Sprintf(
			"owned by uid %d, not by uid %d that vpclab runs as: whoever owns the file may change who may do what; run: chown %d %s",
			owner, uid, uid, path)}
	}
	return nil
}

// Parse decodes and validates a principals file (YAML, or JSON), the
// format the package documentation describes; file names it in errors.
// It returns either the principals and a nil error, or nil and a
// yamlpos.ErrorList of every problem found, each naming the file, line
// and field. It does not check the file's permissions: Load does.
func Parse(file string, data []byte) (*Principals, error) {
	ps := New()
	r := &reader{Decoder: yamlpos.Decoder{File: file}}
	if root := r.document(data, "a principals file: principals: [{name: ..., token_sha256: ..., roles: [...]}]"); root != nil {
		r.principalsFile(ps, root)
	}
	if err := r.Errs.Err(maxErrors); err != nil {
		return nil, err
	}
	return ps, nil
}

// principalsFile reads the top-level mapping into ps.
func (r *reader) principalsFile(ps *Principals, n *yaml.Node) {
	top, ok := r.Object(n, "", "a principals file", "principals", "roles")
	if !ok {
		return
	}
	if rn := top.Vals["roles"]; rn != nil {
		r.roles(ps, rn)
	}
	list := r.Need(top, "principals", "a principals file lists its principals: principals: [{name: alice, token_sha256: ..., roles: [network-admin]}]")
	if list == nil {
		return
	}
	if list.Kind != yaml.SequenceNode {
		r.Errorf(list, "principals", "want a list of principals, not %s", yamlpos.KindName(list))
		return
	}
	if len(list.Content) == 0 {
		r.Errorf(list, "principals", "an empty list: name at least one principal")
	}
	tokens := map[[sha256.Size]byte]string{} // digest → principal, for duplicates
	keys := map[string]string{}              // access key id → principal
	for i, pn := range list.Content {
		if p, tokNode, tokField := r.principal(ps, pn, i); p != nil {
			if other, dup := keys[p.AccessKeyID]; dup && p.AccessKeyID != "" {
				r.Errorf(pn, fmt.Sprintf("principals[%s].access_key_id", p.Name),
					"the same access key id as principal %s (line %d): each principal needs a key of its own", other, ps.lines[other])
				continue
			}
			if p.AccessKeyID != "" {
				keys[p.AccessKeyID] = p.Name
			}
			if !p.hasToken {
				ps.list = append(ps.list, p)
				continue
			}
			if other, dup := tokens[p.digest]; dup {
				r.Errorf(tokNode, tokField,
					"the same token as principal %s (line %d): each principal needs a token of its own", other, ps.lines[other])
				continue
			}
			tokens[p.digest] = p.Name
			ps.list = append(ps.list, p)
		}
	}
}

// roles reads the custom roles: a mapping of role names to policy
// documents.
func (r *reader) roles(ps *Principals, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		r.Errorf(n, "roles", "want a mapping of role names to policy documents, not %s", yamlpos.KindName(n))
		return
	}
	lines := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		field := "roles." + k.Value
		switch {
		case k.Kind != yaml.ScalarNode:
			r.Errorf(k, "roles", "a role's name must be a name, not %s", yamlpos.KindName(k))
			continue
		case !validName.MatchString(k.Value):
			r.Errorf(k, field, "%q is not a role name: use %s", k.Value, nameRule)
			continue
		case builtin[k.Value] != nil:
			r.Errorf(k, field, "%s is a built-in role: give yours another name", k.Value)
			continue
		case lines[k.Value] != 0:
			r.Errorf(k, field, "given twice (first at line %d)", lines[k.Value])
			continue
		}
		lines[k.Value] = k.Line
		if p := r.policy(v, field, "role "+k.Value); p != nil {
			ps.roles[k.Value] = p
		}
	}
}

// principal reads item i of the principals list. It returns the principal
// and the node and field path of its token, or nil when the item has
// errors.
func (r *reader) principal(ps *Principals, n *yaml.Node, i int) (*Principal, *yaml.Node, string) {
	before := len(r.Errs)
	path := fmt.Sprintf("principals[%d]", i)
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if k, v := n.Content[j], n.Content[j+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && validName.MatchString(v.Value) {
				path = fmt.Sprintf("principals[%s]", v.Value)
			}
		}
	}
	o, ok := r.Object(n, path, "a principal", "name", "token", "token_sha256", "access_key_id", "secret_access_key", "roles", "policies")
	if !ok {
		return nil, nil, ""
	}
	p := &Principal{}
	if v := r.Need(o, "name", "a principal needs a name"); v != nil {
		if name, ok := r.Scalar(v, o.At("name"), "a name"); ok {
			switch {
			case !validName.MatchString(name):
				r.Errorf(v, o.At("name"), "%q is not a principal's name: use %s", name, nameRule)
			case ps.lines[name] != 0:
				r.Errorf(v, o.At("name"), "%s is named twice (first at line %d)", name, ps.lines[name])
			default:
				ps.lines[name] = v.Line
			}
			p.Name = name
		}
	}

	tok, sum := o.Vals["token"], o.Vals["token_sha256"]
	akid, secret := o.Vals["access_key_id"], o.Vals["secret_access_key"]
	switch {
	case akid != nil && secret == nil:
		r.Errorf(akid, o.At("access_key_id"), "an access key id needs its secret_access_key")
	case akid == nil && secret != nil:
		r.Errorf(secret, o.At("secret_access_key"), "a secret access key needs its access_key_id")
	case akid != nil:
		if id, ok := r.Scalar(akid, o.At("access_key_id"), "an access key id"); ok {
			if !validAccessKeyID.MatchString(id) {
				r.Errorf(akid, o.At("access_key_id"), "%q is not an access key id: use 16-128 upper-case letters and digits, such as AKIA followed by 16 more", id)
			}
			p.AccessKeyID = id
		}
		if sk, ok := r.Scalar(secret, o.At("secret_access_key"), "a secret access key"); ok {
			if why := checkSecretKey(sk); why != "" {
				r.Errorf(secret, o.At("secret_access_key"), "%s", why)
			}
			p.secretKey = sk
		}
	}
	var tokNode *yaml.Node
	var tokField string
	switch {
	case tok != nil && sum != nil:
		r.Errorf(o.Key("token_sha256"), o.At("token_sha256"), "give token or token_sha256, not both")
	case tok == nil && sum == nil && akid != nil:
		// An access key alone: the principal signs EC2 Query API requests.
	case tok == nil && sum == nil:
		r.Errorf(n, o.At("token_sha256"), "missing: a principal needs token_sha256 (the hex SHA-256 of its token: printf %%s TOKEN | sha256sum) or token, or an access_key_id and secret_access_key")
	case tok != nil:
		tokNode, tokField = tok, o.At("token")
		if t, ok := r.Scalar(tok, o.At("token"), "a token"); ok {
			if why := checkToken(t); why != "" {
				r.Errorf(tok, o.At("token"), "%s", why)
			}
			p.digest, p.hasToken = sha256.Sum256([]byte(t)), true
		}
	default:
		tokNode, tokField = sum, o.At("token_sha256")
		if h, ok := r.Scalar(sum, o.At("token_sha256"), "a SHA-256 digest"); ok {
			b, err := hex.DecodeString(h)
			switch {
			case err != nil || len(b) != sha256.Size:
				r.Errorf(sum, o.At("token_sha256"), "want the SHA-256 of the token in hex (64 digits, as sha256sum prints it), not %q", h)
			case [sha256.Size]byte(b) == emptyDigest:
				r.Errorf(sum, o.At("token_sha256"), "the SHA-256 of the empty token: a token has at least %d characters", MinTokenLen)
			default:
				p.digest, p.hasToken = [sha256.Size]byte(b), true
			}
		}
	}

	if rn := o.Vals["roles"]; rn != nil {
		if names, ok := r.strings(rn, o.At("roles")); ok {
			for j, name := range names {
				node, field := item(o, "roles", j)
				switch {
				case ps.role(name) == nil:
					r.Errorf(node, field, "no role %q: the roles are %s", name, ps.roleNames())
				case slices.Contains(p.Roles, name):
					r.Errorf(node, field, "role %s is listed twice", name)
				default:
					p.Roles = append(p.Roles, name)
					p.Policies = append(p.Policies, ps.role(name))
				}
			}
		}
	}
	if pn := o.Vals["policies"]; pn != nil {
		switch {
		case pn.Kind != yaml.SequenceNode:
			r.Errorf(pn, o.At("policies"), "want a list of policy documents, not %s", yamlpos.KindName(pn))
		default:
			for j, doc := range pn.Content {
				field := fmt.Sprintf("%s[%d]", o.At("policies"), j)
				if pol := r.policy(doc, field, "policy "+field); pol != nil {
					p.Policies = append(p.Policies, pol)
				}
			}
		}
	}
	if o.Vals["roles"] == nil && o.Vals["policies"] == nil {
		r.Errorf(n, o.At("roles"), "missing: a principal needs roles or policies, or it may do nothing (the roles are %s)", ps.roleNames())
	}
	if len(r.Errs) > before {
		return nil, nil, ""
	}
	return p, tokNode, tokField
}

// The environment variables of AddEnv.
const (
	// EnvToken is the token of the environment's principal. It is also
	// what vpclab's client commands send, so that one shell can serve a
	// quick lab and talk to it.
	EnvToken = "VPCLAB_TOKEN"
	// EnvRole lists the principal's roles, separated by commas. It is
	// required: a token alone grants nothing by default.
	EnvRole = "VPCLAB_ROLE"
	// EnvPrincipal names the principal; "env" when unset.
	EnvPrincipal = "VPCLAB_PRINCIPAL"
)

// AddEnv adds the principal that the environment describes, for quick
// labs without a principals file: VPCLAB_TOKEN is its token, VPCLAB_ROLE
// its roles (comma-separated names of built-in roles or of the file's),
// VPCLAB_PRINCIPAL its name (default "env"). getenv is os.Getenv, or a
// test's. It returns the principal, or nil when VPCLAB_TOKEN is unset or
// empty; and an error when the variables are incomplete or invalid, or
// the name or token is a file principal's.
func (ps *Principals) AddEnv(getenv func(string) string) (*Principal, error) {
	token, roles, name := getenv(EnvToken), getenv(EnvRole), getenv(EnvPrincipal)
	if token == "" {
		if roles != "" {
			return nil, fmt.Errorf("authz: %s is set but %s is not: set the token too, or unset %s", EnvRole, EnvToken, EnvRole)
		}
		return nil, nil
	}
	if why := checkToken(token); why != "" {
		return nil, fmt.Errorf("authz: %s: %s", EnvToken, why)
	}
	if name == "" {
		name = "env"
	}
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("authz: %s: %q is not a principal's name: use %s", EnvPrincipal, name, nameRule)
	}
	if line, dup := ps.lines[name]; dup && line > 0 {
		return nil, fmt.Errorf("authz: %s: the principals file names a principal %s too (line %d): set %s to another name",
			EnvPrincipal, name, line, EnvPrincipal)
	} else if dup {
		return nil, fmt.Errorf("authz: %s: the environment's principal %s was added already", EnvPrincipal, name)
	}
	if strings.TrimSpace(roles) == "" {
		return nil, fmt.Errorf("authz: %s is set but %s is not: name the principal's roles, such as %s=%s (the roles are %s)",
			EnvToken, EnvRole, EnvRole, RoleViewer, ps.roleNames())
	}
	p := &Principal{Name: name, digest: sha256.Sum256([]byte(token)), hasToken: true}
	for _, role := range strings.Split(roles, ",") {
		role = strings.TrimSpace(role)
		pol := ps.role(role)
		switch {
		case pol == nil:
			return nil, fmt.Errorf("authz: %s: no role %q: the roles are %s", EnvRole, role, ps.roleNames())
		case slices.Contains(p.Roles, role):
			return nil, fmt.Errorf("authz: %s: role %s is listed twice", EnvRole, role)
		}
		p.Roles = append(p.Roles, role)
		p.Policies = append(p.Policies, pol)
	}
	for _, q := range ps.list {
		if q.hasToken && q.digest == p.digest {
			return nil, fmt.Errorf("authz: %s is the token of principal %s of the principals file: give each its own", EnvToken, q.Name)
		}
	}
	ps.lines[name] = 0
	ps.list = append(ps.list, p)
	return p, nil
}

// NewAccessKey returns a new random access key pair, shaped as AWS's: an
// id of AKIA and 16 upper-case letters and digits, a secret of 40
// characters.
func NewAccessKey() (id, secret string) {
	const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [16 + 30]byte
	rand.Read(b[:])
	id = "AKIA"
	for _, c := range b[:16] {
		id += string(idChars[int(c)%len(idChars)])
	}
	return id, base64.StdEncoding.EncodeToString(b[16:])
}

// AddAccessKey adds a principal named name that signs with the access key
// id and secret given, with the roles given (built-in, or the file's),
// such as the administrator key pair vpclab up makes for a lab without a
// principals file.
func (ps *Principals) AddAccessKey(name, id, secret string, roles ...string) (*Principal, error) {
	switch {
	case !validName.MatchString(name):
		return nil, fmt.Errorf("authz: %q is not a principal's name: use %s", name, nameRule)
	case !validAccessKeyID.MatchString(id):
		return nil, fmt.Errorf("authz: %q is not an access key id: 16-128 upper-case letters and digits", id)
	case checkSecretKey(secret) != "":
		return nil, fmt.Errorf("authz: the secret access key of %s: %s", name, checkSecretKey(secret))
	}
	if _, dup := ps.lines[name]; dup {
		return nil, fmt.Errorf("authz: a principal %s exists already", name)
	}
	if p, _, dup := ps.AccessKey(id); dup {
		return nil, fmt.Errorf("authz: the access key %s is %s's already", id, p.Name)
	}
	p := &Principal{Name: name, AccessKeyID: id, secretKey: secret}
	for _, role := range roles {
		pol := ps.role(role)
		if pol == nil {
			return nil, fmt.Errorf("authz: no role %q: the roles are %s", role, ps.roleNames())
		}
		p.Roles = append(p.Roles, role)
		p.Policies = append(p.Policies, pol)
	}
	ps.lines[name] = 0
	ps.list = append(ps.list, p)
	return p, nil
}

// AccessKeys counts the principals with an access key: those who may
// sign EC2 Query API requests.
func (ps *Principals) AccessKeys() int {
	if ps == nil {
		return 0
	}
	n := 0
	for _, p := range ps.list {
		if p.AccessKeyID != "" {
			n++
		}
	}
	return n
}
