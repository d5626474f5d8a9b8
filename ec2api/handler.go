package ec2api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/ec2api/query"
	"github.com/vpclab/vpclab/ec2api/sigv4"
	"github.com/vpclab/vpclab/lab"
)

// Lab is what the endpoint needs of the running lab. daemon adapts the
// live lab to it, applying changes as the control API does.
type Lab interface {
	// Lab is the model now enforced.
	Lab() *lab.Lab
	// Change applies c to the lab, validated whole and swapped in at once,
	// serialised with every other change of the lab; it returns the
	// change's response (change.Do's) or an error, and then nothing
	// changed.
	Change(c change.Change) (any, error)
	// InstanceState is "running" or "stopped"; empty for no such
	// instance.
	InstanceState(name string) string
	// SetInstanceState starts (running) or stops an instance, serialised
	// with the lab's changes, and returns its previous state.
	SetInstanceState(name string, running bool) (previous string, err error)
}

// Options configure the endpoint.
type Options struct {
	// Principals hold the access keys requests are signed with and what
	// each principal may do. Without any, every request is refused
	// (AuthFailure): the port is open to every local user.
	Principals *authz.Principals
	// Audit, if set, receives every change attempt, allowed or not, and
	// every request whose signature fails.
	Audit *authz.AuditLog
	// Now is the clock signatures are checked against; nil is time.Now.
	Now func() time.Time
}

// MaxBody is the largest request body read: EC2's own limit of a Query
// request is smaller.
const MaxBody = 1 << 20

// STSVersion is the API version of STS's GetCallerIdentity.
const STSVersion = "2011-06-15"

// Handler returns the endpoint serving x (ListenTCP serves it; tests may
// use it with httptest).
func Handler(x Lab, o Options) http.Handler {
	s := &server{x: x, o: o}
	s.v = &sigv4.Verifier{Services: []string{"ec2", "sts"}, Now: o.Now, Secret: func(id string) (string, bool) {
		_, secret, ok := o.Principals.AccessKey(id)
		return secret, ok
	}}
	return s
}

type server struct {
	x Lab
	o Options
	v *sigv4.Verifier
}

// call is one request being served.
type call struct {
	w         http.ResponseWriter
	r         *http.Request
	id        string // the request id
	action    string // Action=
	sts       bool   // an STS call: answered in STS's envelope
	principal *authz.Principal
	dryRun    bool
	l         *lab.Lab // the lab in force when the call began
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{w: w, r: r, id: newRequestID()}
	if err := s.serve(c); err != nil {
		s.fail(c, err)
	}
}

// fail answers err in the envelope of the call's protocol.
func (s *server) fail(c *call, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = errorf(http.StatusInternalServerError, "InternalError", err.Error())
	}
	if c.sts {
		typ := "Sender"
		if e.Status >= 500 {
			typ = "Receiver"
		}
		writeXML(c.w, e.Status, stsErrorResponse{Xmlns: stsNamespace, Type: typ, Code: e.Code, Message: e.Message, RequestID: c.id})
		return
	}
	writeXML(c.w, e.Status, errorResponse{Errors: []xmlErr{{e.Code, e.Message}}, RequestID: c.id})
}

// ec2Error is an *ec2.Error or *change.Error as EC2 answers it.
func ec2Error(err error) *Error {
	var ee *ec2.Error
	if errors.As(err, &ee) {
		return errorf(statusOf(ee.Code), ee.Code, ee.Error())
	}
	var ce *change.Error
	if errors.As(err, &ce) {
		return errorf(statusOf(ce.Code), ce.Code, ce.Message)
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return errorf(http.StatusBadRequest, "InvalidParameterValue", err.Error())
}

// reserved are the parameters of every request, not of its action: the
// protocol's and the presigned signature's.
func reserved(name string) bool {
	switch name {
	case "Action", "Version", "DryRun":
		return true
	}
	return strings.HasPrefix(name, "X-Amz-")
}

func (s *server) serve(c *call) error {
	r := c.r
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		c.w.Header().Set("Allow", "GET, POST")
		return errorf(http.StatusMethodNotAllowed, "UnsupportedProtocol", fmt.Sprintf("method %s: EC2's Query API is POST (a form body) or GET (a query string)", r.Method))
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", fmt.Sprintf("the request body is over %d bytes", MaxBody))
		}
		return errorf(http.StatusBadRequest, "InvalidRequest", "reading the request body: "+err.Error())
	}
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return errorf(http.StatusBadRequest, "MalformedQueryString", "the query string: "+err.Error())
	}
	if r.Method == http.MethodPost && len(body) > 0 {
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/x-www-form-urlencoded") {
			return errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("Content-Type %q: EC2's Query API takes application/x-www-form-urlencoded", ct))
		}
		bf, err := url.ParseQuery(string(body))
		if err != nil {
			return errorf(http.StatusBadRequest, "MalformedQueryString", "the form body: "+err.Error())
		}
		for k, vs := range bf {
			form[k] = append(form[k], vs...)
		}
	}
	params, err := query.Params(form)
	if err != nil {
		return ec2Error(err)
	}
	c.action = params["Action"]
	c.sts = params["Version"] == STSVersion || c.action == "GetCallerIdentity"
	c.l = s.x.Lab()

	cred, err := s.v.Verify(r, body)
	if err == nil {
		var ok bool
		if c.principal, _, ok = s.o.Principals.AccessKey(cred.AccessKeyID); !ok {
			err = &sigv4.Error{Code: sigv4.AuthFailure, Message: "unknown access key"} // a race with nothing: keys are read only
		}
	}
	if err != nil {
		var se *sigv4.Error
		e := errorf(http.StatusUnauthorized, sigv4.AuthFailure, err.Error())
		if errors.As(err, &se) {
			e = errorf(statusOf(se.Code), se.Code, se.Message)
		}
		if s.o.Principals == nil || s.o.Principals.Len() == 0 {
			e.Message = "this lab has no access keys (vpclab up --principals FILE with access_key_id and secret_access_key): " + e.Message
		}
		// Every refused signature is recorded, reads too: someone tried.
		s.record(c, "ec2:"+c.action, "", authz.ResultUnauthenticated, e.Message, true)
		return e
	}

	if c.action == "" {
		return errorf(http.StatusBadRequest, "MissingAction", "the request names no Action")
	}
	if c.sts {
		return s.sts(c, params)
	}
	if v, ok := params["DryRun"]; ok {
		switch strings.ToLower(v) {
		case "true":
			c.dryRun = true
		case "false":
		default:
			return errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("Invalid value '%s' for DryRun: use true or false", v))
		}
	}
	for k := range params {
		if reserved(k) {
			delete(params, k)
		}
	}
	if d, ok := describers[c.action]; ok {
		return s.read(c, d, params)
	}
	a, ok := ec2.LookupAction(c.action)
	if ok && a.Name == c.action && (a.Name == "StartInstances" || a.Name == "StopInstances") {
		return s.instances(c, a, params)
	}
	if !ok || a.Name != c.action || a.Request == nil {
		return errorf(http.StatusBadRequest, "InvalidAction", fmt.Sprintf("The action %s is not valid for this web service (vpclab serves %s)", c.action, strings.Join(Actions(), ", ")))
	}
	return s.change(c, a, params)
}

// record writes an audit entry of the call. Reads are recorded only when
// always is set (a refused signature).
func (s *server) record(c *call, action, resource, result, detail string, always bool) error {
	if s.o.Audit == nil {
		return nil
	}
	if info, ok := authz.LookupAction(action); ok && info.ReadOnly && !always {
		return nil
	}
	name := ""
	if c.principal != nil {
		name = c.principal.Name
	}
	return s.o.Audit.Record(authz.Entry{Principal: name, Action: action, Resource: resource, Result: result, Detail: detail, Remote: "ec2api " + c.r.RemoteAddr})
}

func (c *call) arn(kind, id string) string {
	return authz.ARN(c.l.VPC.Region, c.l.VPC.AccountID, kind, id)
}

// authorize refuses with UnauthorizedOperation (and records the attempt)
// unless the principal may do action on resource.
func (s *server) authorize(c *call, action, resource string) error {
	d := authz.Authorize(c.principal, action, resource)
	if d.Allowed {
		return nil
	}
	s.record(c, action, resource, authz.ResultDenied, d.Reason, false)
	return errorf(http.StatusForbidden, "UnauthorizedOperation", fmt.Sprintf("You are not authorized to perform this operation. User: %s is not authorized to perform: %s on resource: %s (%s)",
		principalARN(c.l, c.principal), action, resource, d.Reason))
}

var errDryRun = errorf(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")

// change serves one of change's actions: decode, authorize every
// resource, dry run or apply, audit.
func (s *server) change(c *call, a *ec2.Action, params map[string]string) error {
	iam := a.IAM()
	req := a.Request()
	if err := query.Decode(params, req); err != nil {
		s.record(c, iam, "", authz.ResultInvalid, err.Error(), false)
		return ec2Error(err)
	}
	ch, err := change.Of(a, req)
	if err != nil {
		s.record(c, iam, "", authz.ResultInvalid, err.Error(), false)
		return ec2Error(err)
	}
	var res string
	for i, r := range change.Resources(ch) {
		arn := c.arn(r.Kind, r.ID)
		if i == 0 {
			res = arn
		}
		if err := s.authorize(c, iam, arn); err != nil {
			return err
		}
	}
	if c.dryRun {
		return errDryRun
	}
	if err := s.record(c, iam, res, authz.ResultAllowed, "", false); err != nil {
		return errorf(http.StatusServiceUnavailable, "Unavailable", "the audit log cannot be written, so nothing was changed: "+err.Error())
	}
	resp, err := s.x.Change(ch)
	if err != nil {
		s.record(c, iam, res, authz.ResultFailed, err.Error(), false)
		return ec2Error(err)
	}
	s.record(c, iam, res, authz.ResultApplied, "", false)
	writeResponse(c.w, a.Name, c.id, changeResponse(a.Name, resp, c.l))
	return nil
}

// read serves a describe call: authorized on the VPC, as EC2's Describe
// actions have no resource-level permissions.
func (s *server) read(c *call, d describer, params map[string]string) error {
	iam := "ec2:" + c.action
	if err := s.authorize(c, iam, c.arn(ec2.KindVPC, c.l.VPC.ID)); err != nil {
		return err
	}
	req := d.request()
	if err := query.Decode(params, req); err != nil {
		return ec2Error(err)
	}
	if c.dryRun {
		return errDryRun
	}
	b, err := d.describe(&view{l: c.l, state: s.x.InstanceState}, req)
	if err != nil {
		return ec2Error(err)
	}
	writeResponse(c.w, c.action, c.id, b)
	return nil
}

// Actions are the EC2 actions the endpoint serves, and STS's
// GetCallerIdentity.
func Actions() []string {
	var out []string
	for _, a := range ec2.Actions() {
		if _, ok := describers[a.Name]; ok || a.Request != nil || a.Name == "StartInstances" || a.Name == "StopInstances" {
			out = append(out, a.Name)
		}
	}
	return append(out, "GetCallerIdentity")
}
