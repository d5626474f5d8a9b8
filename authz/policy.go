package authz

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// Effect is what a statement does to the requests it applies to.
type Effect uint8

// The effects.
const (
	Allow Effect = iota + 1
	Deny
)

// String returns "Allow" or "Deny", as policies write them.
func (e Effect) String() string {
	switch e {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return fmt.Sprintf("Effect(%d)", uint8(e))
}

// The versions of the policy language IAM knows. A policy without a
// Version has the old one, as in IAM; the two differ only in policy
// variables, which vpclab does not support.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Policy is a parsed, valid policy document. It is not modified after
// parsing: principals and roles share it.
type Policy struct {
	// Name says where the policy comes from, in decisions: "role
	// network-admin", "policy principals[bob].policies[0]", or the file
	// given to ParsePolicy.
	Name string
	// Version is Version2012 or Version2008; ID is the optional Id.
	Version string
	ID      string
	// Statements in document order; the index of a statement here is the
	// index decisions and errors name.
	Statements []Statement
}

// Statement is one statement of a policy. Exactly one of Action and
// NotAction is set, and exactly one of Resource and NotResource.
type Statement struct {
	Sid    string // optional; letters and digits only, unique in its policy
	Effect Effect
	// Action patterns ("ec2:AuthorizeSecurityGroup*", "*") match action
	// names without regard to case; '*' and '?' are wildcards. A statement
	// with NotAction applies to every action that none of its patterns
	// matches.
	Action, NotAction []string
	// Resource patterns ("arn:aws:ec2:*:*:security-group/sg-web", "*")
	// match ARNs exactly, with the same wildcards. A statement with
	// NotResource applies to every resource that none of its patterns
	// matches.
	Resource, NotResource []string
	// Line is where the statement starts in its file (for the built-in
	// roles, in roles/*.json of vpclab's source).
	Line int
}

// applies reports whether s applies to the request.
func (s *Statement) applies(action, resource string) bool {
	if s.Action != nil {
		if !anyMatch(s.Action, action, true) {
			return false
		}
	} else if anyMatch(s.NotAction, action, true) {
		return false
	}
	if s.Resource != nil {
		return anyMatch(s.Resource, resource, false)
	}
	return !anyMatch(s.NotResource, resource, false)
}

// anyMatch reports whether one of the patterns matches s.
func anyMatch(patterns []string, s string, fold bool) bool {
	for _, p := range patterns {
		if match(p, s, fold) {
			return true
		}
	}
	return false
}

// clone returns a deep copy of p.
func (p *Policy) clone() *Policy {
	c := *p
	c.Statements = slices.Clone(p.Statements)
	for i := range c.Statements {
		s := &c.Statements[i]
		s.Action, s.NotAction = slices.Clone(s.Action), slices.Clone(s.NotAction)
		s.Resource, s.NotResource = slices.Clone(s.Resource), slices.Clone(s.NotResource)
	}
	return &c
}

// maxErrors is how many errors a file reports before giving up on the
// rest.
const maxErrors = 50

// ParsePolicy parses and validates one IAM policy document, JSON (or
// YAML); file names it in errors and becomes the policy's Name. It
// returns either a valid Policy and a nil error, or a nil Policy and a
// yamlpos.ErrorList of every problem found, each naming the file, line,
// statement and field ("p.json:7:17: Statement[1].Action: ...").
func ParsePolicy(file string, data []byte) (*Policy, error) {
	r := &reader{Decoder: yamlpos.Decoder{File: file}}
	var p *Policy
	if root := r.document(data, "a policy document"); root != nil {
		p = r.policy(root, "", file)
	}
	if err := r.Errs.Err(maxErrors); err != nil {
		return nil, err
	}
	return p, nil
}

// reader reads the policy documents and principals of one file.
type reader struct {
	yamlpos.Decoder
}

// document parses data as JSON when it holds a JSON object, else as YAML;
// what says what the file should hold.
func (r *reader) document(data []byte, what string) *yaml.Node {
	if isJSON(data) {
		return jsonDocument(&r.Decoder, data)
	}
	before := len(r.Errs)
	n := r.Document(data, "write "+what, "a file holds one "+what)
	// A bare * starts a YAML alias: say so where the parser's message
	// does not.
	if n == nil && len(r.Errs) == before+1 {
		if e := r.Errs[before]; e.Line > 0 && strings.Contains(e.Msg, "did not find expected alphabetic or numeric character") {
			lines := strings.Split(string(data), "\n")
			if l := e.Line - 1; l < len(lines) && bareStar.MatchString(lines[l]) {
				e.Msg += `: in YAML a * standing alone must be quoted, as in Resource: "*"`
			}
		}
	}
	return n
}

// bareStar matches a YAML line whose value starts with an unquoted '*'.
var bareStar = regexp.MustCompile(`(^\s*|[:-]\s+|[\[,]\s*)\*`)

// join returns the field path of key inside path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// refusedKeys are the statement keys IAM knows and vpclab refuses, with
// why: silently ignoring them would grant or deny other than the policy
// says.
var refusedKeys = map[string]string{
	"Condition": "not supported: vpclab evaluates no condition keys, and ignoring a condition " +
		"would grant or deny more than the statement says; remove it, or narrow Action and Resource instead",
	"Principal": "not allowed here: a vpclab policy is attached to a principal, like an IAM " +
		"identity-based policy, so it names no Principal (that belongs in resource-based policies)",
	"NotPrincipal": "not allowed here: a vpclab policy is attached to a principal, like an IAM " +
		"identity-based policy, so it names no NotPrincipal (that belongs in resource-based policies)",
}

// policy reads a policy document at path (a field path, "" for a whole
// file) and names it name. It returns nil when the document has errors.
func (r *reader) policy(n *yaml.Node, path, name string) *Policy {
	before := len(r.Errs)
	o, ok := r.Object(n, path, "a policy document", "Version", "Id", "Statement")
	if !ok {
		return nil
	}
	p := &Policy{Name: name, Version: Version2008}
	if v := o.Vals["Version"]; v != nil {
		if s, ok := r.Scalar(v, o.At("Version"), "a version"); ok {
			if s != Version2012 && s != Version2008 {
				r.Errorf(v, o.At("Version"), "%q is not a version of the policy language: write %q", s, Version2012)
			}
			p.Version = s
		}
	}
	if v := o.Vals["Id"]; v != nil {
		p.ID, _ = r.Scalar(v, o.At("Id"), "an id")
	}
	st := r.Need(o, "Statement", `a policy needs a Statement, such as {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}`)
	sids := map[string]int{}
	switch {
	case st == nil:
	case st.Kind == yaml.SequenceNode:
		if len(st.Content) == 0 {
			r.Errorf(st, o.At("Statement"), "an empty list: a policy needs at least one statement")
		}
		for i, sn := range st.Content {
			s, ok := r.statement(sn, fmt.Sprintf("%s[%d]", o.At("Statement"), i), p.Version, sids)
			if ok {
				p.Statements = append(p.Statements, s)
			}
		}
	case st.Kind == yaml.MappingNode:
		if s, ok := r.statement(st, o.At("Statement"), p.Version, sids); ok {
			p.Statements = append(p.Statements, s)
		}
	default:
		r.Errorf(st, o.At("Statement"), "want a statement or a list of statements, not %s", yamlpos.KindName(st))
	}
	if len(r.Errs) > before {
		return nil
	}
	return p
}

// validSid is what IAM allows in a Sid.
var validSid = regexp.MustCompile(`^[A-Za-z0-9]*$`)

// statement reads one statement; sids maps the Sids seen so far in its
// policy to their lines.
func (r *reader) statement(n *yaml.Node, path, version string, sids map[string]int) (Statement, bool) {
	before := len(r.Errs)
	o, ok := r.Object(r.dropRefused(n, path), path, "a statement",
		"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource")
	if !ok {
		return Statement{}, false
	}
	s := Statement{Line: n.Line}
	if v := o.Vals["Sid"]; v != nil {
		if sid, ok := r.Scalar(v, o.At("Sid"), "a statement id"); ok {
			switch {
			case !validSid.MatchString(sid):
				r.Errorf(v, o.At("Sid"), "%q: a Sid has letters and digits only, as IAM requires", sid)
			case sids[sid] != 0:
				r.Errorf(v, o.At("Sid"), "%q is the Sid of another statement (line %d): Sids are unique in a policy", sid, sids[sid])
			case sid != "":
				sids[sid] = v.Line
			}
			s.Sid = sid
		}
	}
	if v := r.Need(o, "Effect", "a statement needs an Effect: Allow or Deny"); v != nil {
		if e, ok := r.Scalar(v, o.At("Effect"), "Allow or Deny"); ok {
			switch {
			case e == "Allow":
				s.Effect = Allow
			case e == "Deny":
				s.Effect = Deny
			case strings.EqualFold(e, "Allow") || strings.EqualFold(e, "Deny"):
				r.Errorf(v, o.At("Effect"), "%q: write Allow or Deny, with a capital letter, as IAM requires", e)
			default:
				r.Errorf(v, o.At("Effect"), "%q is not an effect: write Allow or Deny", e)
			}
		}
	}
	var actions []string
	var not bool
	if actions, not, ok = r.either(o, "Action", "NotAction", `a statement needs an Action (or NotAction), such as "ec2:Describe*"`); ok {
		for i, a := range actions {
			r.checkAction(o, not, i, a)
		}
		if not {
			s.NotAction = actions
		} else {
			s.Action = actions
		}
	}
	var resources []string
	if resources, not, ok = r.either(o, "Resource", "NotResource", `a statement needs a Resource (or NotResource), such as "*"`); ok {
		for i, res := range resources {
			r.checkResource(o, not, i, res, version)
		}
		if not {
			s.NotResource = resources
		} else {
			s.Resource = resources
		}
	}
	return s, len(r.Errs) == before
}

// dropRefused reports the refusedKeys of the mapping n and returns n
// without them, so that the check of known keys does not report them
// again or list them as allowed.
func (r *reader) dropRefused(n *yaml.Node, path string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return n
	}
	c := *n
	c.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if msg, bad := refusedKeys[k.Value]; bad && k.Kind == yaml.ScalarNode {
			r.Errorf(k, join(path, k.Value), "%s", msg)
			continue
		}
		c.Content = append(c.Content, n.Content[i], n.Content[i+1])
	}
	return &c
}

// either reads the one of the keys yes and no that o holds, a string or a
// list of strings; not says it was no. hint says what to write when
// neither is given.
func (r *reader) either(o yamlpos.Object, yes, no, hint string) (list []string, not bool, ok bool) {
	y, n := o.Vals[yes], o.Vals[no]
	switch {
	case y != nil && n != nil:
		r.Errorf(o.Key(no), o.At(no), "give %s or %s, not both", yes, no)
		return nil, false, false
	case y == nil && n == nil:
		r.Errorf(o.Node, o.At(yes), "missing: %s", hint)
		return nil, false, false
	case n != nil:
		list, ok = r.strings(n, o.At(no))
		return list, true, ok
	}
	list, ok = r.strings(y, o.At(yes))
	return list, false, ok
}

// strings reads a string or a non-empty list of strings.
func (r *reader) strings(n *yaml.Node, field string) ([]string, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		s, ok := r.Scalar(n, field, "a string or a list of strings")
		return []string{s}, ok
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			r.Errorf(n, field, "an empty list: give at least one value")
			return nil, false
		}
		out := make([]string, 0, len(n.Content))
		ok := true
		for i, c := range n.Content {
			s, sok := r.Scalar(c, fmt.Sprintf("%s[%d]", field, i), "a string")
			out = append(out, s)
			ok = ok && sok
		}
		return out, ok
	}
	r.Errorf(n, field, "want a string or a list of strings, not %s", yamlpos.KindName(n))
	return nil, false
}

// item returns the node and field path of value i of key in o (a string
// or a list of them).
func item(o yamlpos.Object, key string, i int) (*yaml.Node, string) {
	n := o.Vals[key]
	if n.Kind == yaml.SequenceNode {
		return n.Content[i], fmt.Sprintf("%s[%d]", o.At(key), i)
	}
	return n, o.At(key)
}

// validAction is the form of an action pattern other than "*": a service
// prefix without wildcards, a colon, and an action name in which '*' and
// '?' may stand for letters.
var validAction = regexp.MustCompile(`^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$`)

// checkAction checks action pattern i of the statement o. Beyond IAM's
// checks of form, it refuses a pattern that names none of vpclab's
// actions: IAM accepts one (it may name an action of a service vpclab does
// not have), but here it can only be a typing mistake, and a Deny with a
// typing mistake denies nothing.
func (r *reader) checkAction(o yamlpos.Object, not bool, i int, a string) {
	key := "Action"
	if not {
		key = "NotAction"
	}
	n, field := item(o, key, i)
	if a == "*" {
		return
	}
	if !validAction.MatchString(a) {
		if svc, _, ok := strings.Cut(a, ":"); ok && strings.ContainsAny(svc, "*?") {
			r.Errorf(n, field, "%q: the service prefix before ':' cannot hold wildcards, as in IAM; write \"*\" for every action", a)
			return
		}
		r.Errorf(n, field, "%q is not an action: write SERVICE:ACTION, such as %q, with '*' and '?' as wildcards, or \"*\"", a, "ec2:DescribeSecurityGroups")
		return
	}
	for _, x := range actions {
		if match(a, x.Name, true) {
			return
		}
	}
	svc, _, _ := strings.Cut(a, ":")
	var same []string
	best, bestDist := "", 4 // suggest only names at most 3 edits away
	for _, x := range actions {
		if strings.HasPrefix(strings.ToLower(x.Name), strings.ToLower(svc)+":") {
			same = append(same, x.Name)
		}
		if d := editDistance(strings.ToLower(a), strings.ToLower(x.Name)); d < bestDist {
			best, bestDist = x.Name, d
		}
	}
	switch {
	case best != "":
		r.Errorf(n, field, "%q names none of the actions vpclab implements: did you mean %q?", a, best)
	case len(same) > 0:
		r.Errorf(n, field, "%q names none of the actions vpclab implements; its %s actions are %s", a, svc, strings.Join(same, ", "))
	default:
		r.Errorf(n, field, "%q names none of the actions vpclab implements: they are the ec2 actions of the lab and vpclab:ApplyLab, vpclab:GetStatus and vpclab:Capture", a)
	}
}

// checkResource checks resource pattern i of the statement o: "*" or an
// ARN pattern.
func (r *reader) checkResource(o yamlpos.Object, not bool, i int, res, version string) {
	key := "Resource"
	if not {
		key = "NotResource"
	}
	n, field := item(o, key, i)
	if res == "*" {
		return
	}
	const form = "arn:aws:ec2:REGION:ACCOUNT:KIND/ID, such as arn:aws:ec2:*:*:security-group/sg-web, or \"*\""
	if !strings.HasPrefix(res, "arn:") {
		r.Errorf(n, field, "%q is not an ARN: write %s", res, form)
		return
	}
	if version == Version2012 && strings.Contains(res, "${") {
		r.Errorf(n, field, "%q: policy variables (${...}) are not supported", res)
		return
	}
	f := strings.SplitN(res, ":", 6)
	if len(f) < 3 || len(f) < 6 && !strings.HasSuffix(res, "*") {
		r.Errorf(n, field, "%q has %d of the 6 fields of an ARN: write %s", res, len(f), form)
		return
	}
	if strings.ContainsAny(f[2], "*?") {
		r.Errorf(n, field, "%q: the service field of an ARN cannot hold wildcards, as in IAM", res)
		return
	}
	if f[2] != "ec2" || len(f) < 6 {
		return
	}
	// The kind of an ec2 ARN, when written out, must be one of the lab's.
	kind, _, slash := strings.Cut(f[5], "/")
	if strings.ContainsAny(kind, "*?") {
		return
	}
	if !slash || !slices.Contains(kinds, kind) {
		r.Errorf(n, field, "%q: the resource of an ec2 ARN is KIND/ID, where KIND is one of %s", res, strings.Join(kinds, ", "))
	}
}

// editDistance returns the Levenshtein distance between a and b (in
// bytes; action names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
