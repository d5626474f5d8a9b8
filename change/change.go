// Package change applies EC2's policy-changing API calls to a lab, as AWS
// applies them to a VPC: authorize and revoke security-group rules, create,
// replace and delete network-ACL entries, move a subnet to another ACL,
// change an interface's groups or connection-tracking timeouts, and create
// or delete flow logs.
//
// A change never edits the lab in force. Do works on a copy and validates
// the whole result exactly as a lab file is validated (labfile.Parse), so the
// caller gets either a complete new lab to swap in at once or an error and
// nothing changed. Requests are ec2's: the actions of its table, decoded
// into its request shapes (EC2's API's, and the AWS CLI's
// --cli-input-json), and errors carry EC2's error codes.
package change

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
)

// Error is a refused change, with EC2's error code (InvalidGroup.NotFound,
// InvalidPermission.Duplicate, …) and a message that says what to fix.
type Error struct {
	Code    string `json:"Code"`
	Message string `json:"Message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// fromEC2 turns an *ec2.Error into an *Error with its code, the field path
// leading the message.
func fromEC2(err error) error {
	var e *ec2.Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: e.Error()}
	}
	return err
}

// Change is one decoded request.
type Change interface {
	// Action is the IAM action name, such as ec2:AuthorizeSecurityGroupIngress.
	Action() string
	// Resource is the kind and id of the object changed, for
	// authorization: "security-group" and "sg-web", say.
	Resource() (kind, id string)
	// apply makes the change to l, a private copy, and returns the
	// response's payload.
	apply(l *lab.Lab) (any, error)
}

// Resource is the kind and id of one object a change acts on.
type Resource struct{ Kind, ID string }

// Resources returns every object c acts on, each of which must be
// authorized: Change.Resource for most changes, each id for the calls
// that take several (CreateFlowLogs, DeleteFlowLogs).
func Resources(c Change) []Resource {
	if m, ok := c.(interface{ resources() []Resource }); ok {
		if rs := m.resources(); len(rs) > 0 {
			return rs
		}
	}
	kind, id := c.Resource()
	return []Resource{{kind, id}}
}

// Do applies c to a copy of cur and returns the new lab, validated whole,
// and the response for the caller (EC2's response shape). cur is not
// modified. Errors are *Error.
func Do(cur *lab.Lab, c Change) (*lab.Lab, any, error) {
	next := cur.Clone()
	resp, err := c.apply(next)
	if err != nil {
		return nil, nil, err
	}
	// Tags go with what they tag.
	for id := range next.Tags {
		if !next.Taggable(id) {
			delete(next.Tags, id)
		}
	}
	// Flow-log formats are checked here, on the lab before it is written
	// out, so that messages cite the user's lines (a new flow log has
	// none), not the intermediate file's.
	if err := flowlog.Check(next); err != nil {
		return nil, nil, errorf("InvalidParameterValue", "%v", err)
	}
	valid, err := Validate(next)
	if err != nil {
		return nil, nil, err
	}
	return valid, resp, nil
}

// Validate fills in a changed lab's defaults (lab.Normalize) and checks it
// as a lab file is checked (lab.Validate), returning it. The problems are
// reported by field path.
func Validate(l *lab.Lab) (*lab.Lab, error) {
	lab.Normalize(l)
	err := lab.Validate(l)
	if err == nil {
		return l, nil
	}
	var list lab.ErrorList
	if !errors.As(err, &list) {
		return nil, errorf("InvalidParameterValue", "%v", err)
	}
	msgs := make([]string, 0, len(list))
	for _, e := range list {
		msgs = append(msgs, e.Field+": "+e.Msg)
	}
	code := "InvalidParameterValue"
	switch {
	case strings.Contains(list[0].Msg, "quotas.sgs_per_vpc"):
		code = "SecurityGroupLimitExceeded"
	case strings.Contains(list[0].Msg, "quota"):
		code = "RulesPerSecurityGroupLimitExceeded"
		if strings.Contains(list[0].Field, "network_acls") {
			code = "NetworkAclEntryLimitExceeded"
		}
	}
	return nil, errorf(code, "the change would leave an invalid lab: %s", strings.Join(msgs, "; "))
}

// Actions are the EC2 names of the actions Decode knows: those of ec2's
// table with a request.
var Actions = func() []string {
	var names []string
	for _, a := range ec2.Actions() {
		if a.Request != nil {
			names = append(names, a.Name)
		}
	}
	return names
}()

// Decode reads the JSON request body of an action (its EC2 name, such as
// AuthorizeSecurityGroupIngress, or the CLI's, such as
// authorize-security-group-ingress) into the action's ec2 request. Unknown
// fields are errors.
func Decode(action string, body []byte) (Change, error) {
	a, ok := ec2.LookupAction(action)
	if !ok || a.Request == nil {
		return nil, errorf("InvalidAction", "%q is not an action vpclab knows: use one of %s", action, strings.Join(Actions, ", "))
	}
	req, err := a.DecodeJSON(body)
	if err != nil {
		return nil, fromEC2(err)
	}
	return changeOf(a, req), nil
}

// Of returns the change that applies req, a request of a (made by
// a.Request and filled in by the caller's decoder: the EC2 Query API's).
func Of(a *ec2.Action, req any) (Change, error) {
	if a.Request == nil {
		return nil, errorf("InvalidAction", "%s is not an action change applies", a.Name)
	}
	if got, want := fmt.Sprintf("%T", req), fmt.Sprintf("%T", a.Request()); got != want {
		return nil, errorf("InvalidAction", "%s takes a %s, not a %s", a.Name, want, got)
	}
	return changeOf(a, req), nil
}

// call is the action of ec2's table a change was decoded for.
type call struct{ action *ec2.Action }

// Action is the IAM name of the call's action.
func (c call) Action() string { return c.action.IAM() }

// changeOf wraps the decoded request of a in the change that applies it.
func changeOf(a *ec2.Action, req any) Change {
	c := call{a}
	egress := strings.HasSuffix(a.Name, "Egress")
	switch r := req.(type) {
	case *ec2.AuthorizeSecurityGroupRequest:
		return &AuthorizeSecurityGroup{c, *r, egress}
	case *ec2.RevokeSecurityGroupRequest:
		return &RevokeSecurityGroup{c, *r, egress}
	case *ec2.NetworkAclEntryRequest:
		return &NetworkACLEntry{c, *r, strings.HasPrefix(a.Name, "Replace")}
	case *ec2.DeleteNetworkAclEntryRequest:
		return &DeleteNetworkACLEntry{c, *r}
	case *ec2.ReplaceNetworkAclAssociationRequest:
		return &ReplaceNetworkACLAssociation{c, *r}
	case *ec2.ModifyNetworkInterfaceAttributeRequest:
		return &ModifyNetworkInterfaceAttribute{c, *r}
	case *ec2.CreateSecurityGroupRequest:
		return &CreateSecurityGroup{c, *r}
	case *ec2.DeleteSecurityGroupRequest:
		return &DeleteSecurityGroup{c, *r}
	case *ec2.CreateNetworkAclRequest:
		return &CreateNetworkAcl{c, *r}
	case *ec2.DeleteNetworkAclRequest:
		return &DeleteNetworkAcl{c, *r}
	case *ec2.ModifySecurityGroupRulesRequest:
		return &ModifySecurityGroupRules{c, *r}
	case *ec2.UpdateSecurityGroupRuleDescriptionsRequest:
		return &UpdateSecurityGroupRuleDescriptions{c, *r, egress}
	case *ec2.CreateManagedPrefixListRequest:
		return &CreateManagedPrefixList{c, *r}
	case *ec2.ModifyManagedPrefixListRequest:
		return &ModifyManagedPrefixList{c, *r}
	case *ec2.DeleteManagedPrefixListRequest:
		return &DeleteManagedPrefixList{c, *r}
	case *ec2.CreateTagsRequest:
		return &CreateTags{c, *r}
	case *ec2.DeleteTagsRequest:
		return &DeleteTags{c, *r}
	case *ec2.CreateFlowLogsRequest:
		return &CreateFlowLogs{c, *r}
	case *ec2.DeleteFlowLogsRequest:
		return &DeleteFlowLogs{c, *r}
	}
	panic(fmt.Sprintf("change: ec2's action %s has a request change cannot apply (%T)", a.Name, req))
}

// oneOf lists the ids of a kind of object, for not-found messages.
func oneOf[T any](ids []T, id func(T) string) string {
	names := make([]string, 0, len(ids))
	for _, x := range ids {
		names = append(names, id(x))
	}
	slices.Sort(names)
	if len(names) > 10 {
		names = append(names[:10], "…")
	}
	if len(names) == 0 {
		return "the lab has none"
	}
	return "the lab has " + strings.Join(names, ", ")
}
