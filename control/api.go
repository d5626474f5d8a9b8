package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
)

// Options configure the control API.
type Options struct {
	// Principals authenticate requests (Authorization: Bearer TOKEN) and
	// say what each may do. Nil means no tokens: only the unix socket is
	// served, and whoever can open it (root: its mode is 0600) may do
	// everything.
	Principals *authz.Principals
	// Audit, if set, receives every change attempt, allowed or not.
	Audit *authz.AuditLog
	// DataDir is where the files named by changes over the API go (flow
	// logs, pcap mirror targets): see placePaths.
	DataDir string
	// KeepFlowLogs are flow logs given outside the lab file (vpclab up
	// --flow-logs): a whole lab applied with PUT /v1/lab keeps them unless
	// it defines a flow log of the same id.
	KeepFlowLogs []*lab.FlowLog
	// EC2, if set, is where EC2's Query API of the lab is served, for
	// GET /v1/status to say.
	EC2 *EC2Endpoint
	// Metrics, if set, is the URL of the lab's metrics, for GET
	// /v1/status.
	Metrics string
}

// EC2Endpoint is where EC2's Query API of the running lab (package
// ec2api) is served, and with which key.
type EC2Endpoint struct {
	URL    string `json:"url"`
	Region string `json:"region"`
	// CredentialsFile, when set, is the administrator key pair up made,
	// an AWS credentials file only root can read, of profile Profile.
	CredentialsFile string `json:"credentials_file,omitempty"`
	Profile         string `json:"profile,omitempty"`
	// AccessKeys counts the principals who may sign requests.
	AccessKeys int `json:"access_keys"`
}

// Body limits: a whole lab (at most; see labBodyLimit) and one EC2 call.
const (
	maxLabBody = 64 << 20
	maxEC2Body = 1 << 20
)

// labBodyLimit is the largest lab file PUT /v1/lab reads: what a lab
// within the running lab's quotas needs (labfile.MaxSize), at most
// maxLabBody. A lab raising its quotas past what the body allows is
// applied in two steps: the quotas first, then the objects.
func labBodyLimit(running *lab.Lab) (int64, string) {
	q := running.Quotas
	limit := labfile.MaxSize(q)
	if limit >= maxLabBody {
		return maxLabBody, fmt.Sprintf("the most the API reads (%d MiB)", maxLabBody>>20)
	}
	return limit, fmt.Sprintf("the most a lab within the running lab's quotas needs (sgs_per_vpc %d, sg_rules %d, nacl_entries %d); to raise them, apply the quotas alone first", q.SGsPerVPC, q.SGRules, q.NACLEntries)
}

// localPrincipal is who a request on the unix socket is when no
// principals are configured.
const localPrincipal = "local"

type api struct {
	x Lab
	o Options
}

// changeMu serialises the changes of the running lab (a process runs one
// lab): each applies to the lab its predecessor left, never two to the
// same one.
var changeMu sync.Mutex

// Handler returns the control API of x as an http.Handler (Listen serves
// it; tests may use it with httptest). Its endpoints are in the package
// documentation.
func Handler(x Lab, o Options) http.Handler {
	return &api{x: x, o: o}
}

// request is one call being served: who makes it, and what it asks.
type request struct {
	w         http.ResponseWriter
	r         *http.Request
	principal *authz.Principal // nil for localPrincipal
	name      string           // the principal's name
	remote    string
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{w: w, r: r, remote: remoteOf(r)}
	path := r.URL.Path
	switch {
	case path == "/v1/status":
		if a.method(q, http.MethodGet, http.MethodHead) && a.authenticate(q, authz.GetStatus, "") && a.authorize(q, authz.GetStatus, a.vpcARN()) {
			a.status(q)
		}
	case path == "/v1/lab":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			if a.authenticate(q, authz.GetStatus, "") && a.authorize(q, authz.GetStatus, a.vpcARN()) {
				a.getLab(q)
			}
		case http.MethodPut, http.MethodPost:
			if a.authenticate(q, authz.ApplyLab, a.vpcARN()) && a.authorize(q, authz.ApplyLab, a.vpcARN()) {
				a.putLab(q)
			}
		default:
			a.method(q, http.MethodGet, http.MethodPut)
		}
	case strings.HasPrefix(path, "/v1/ec2/"):
		if a.method(q, http.MethodPost) {
			a.ec2(q, strings.TrimPrefix(path, "/v1/ec2/"))
		}
	case path == "/v1/capture":
		if a.method(q, http.MethodGet) && a.authenticate(q, authz.Capture, "") && a.authorizeCapture(q) {
			a.capture(q)
		}
	default:
		writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s; the API has GET /v1/status, GET and PUT /v1/lab, POST /v1/ec2/ACTION and GET /v1/capture?eni=ID", path))
	}
}

// method answers 405 unless the request's method is one of ms.
func (a *api) method(q *request, ms ...string) bool {
	for _, m := range ms {
		if q.r.Method == m {
			return true
		}
	}
	q.w.Header().Set("Allow", strings.Join(ms, ", "))
	writeError(q.w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use %s", q.r.Method, q.r.URL.Path, strings.Join(ms, " or ")))
	return false
}

// authenticate finds who makes the request, answering 401 (and recording
// a change attempt) when the token is missing or unknown.
func (a *api) authenticate(q *request, action, resource string) bool {
	if a.o.Principals == nil {
		q.name = localPrincipal
		return true
	}
	tok, ok := bearer(q.r)
	if ok {
		q.principal, ok = a.o.Principals.Authenticate(tok)
	}
	if !ok {
		msg := "no token: send Authorization: Bearer TOKEN (vpclab reads VPCLAB_TOKEN)"
		if tok != "" {
			msg = "unknown token"
		}
		a.audit(q, action, resource, authz.ResultUnauthenticated, msg)
		q.w.Header().Set("WWW-Authenticate", `Bearer realm="vpclab"`)
		writeError(q.w, http.StatusUnauthorized, msg)
		return false
	}
	q.name = q.principal.Name
	return true
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	tok = strings.TrimSpace(tok)
	return tok, ok && tok != ""
}

// authorize answers 403 (and records a change attempt) unless the
// principal may do action on resource.
func (a *api) authorize(q *request, action, resource string) bool {
	if q.principal == nil { // localPrincipal
		return true
	}
	d := authz.Authorize(q.principal, action, resource)
	if !d.Allowed {
		a.audit(q, action, resource, authz.ResultDenied, d.Reason)
		writeError(q.w, http.StatusForbidden, fmt.Sprintf("%s may not %s on %s: %s", q.name, action, resource, d.Reason))
		return false
	}
	return true
}

// authorizeCapture checks vpclab:Capture on every ENI asked for.
func (a *api) authorizeCapture(q *request) bool {
	for _, v := range q.r.URL.Query()["eni"] {
		for _, id := range strings.Split(v, ",") {
			if !a.authorize(q, authz.Capture, a.arn(authz.KindNetworkInterface, id)) {
				return false
			}
		}
	}
	return true
}

// audit records a change attempt (and a capture: it reads traffic), and
// every request refused for want of a valid token or of a role's leave,
// reads included; the reads allowed are not recorded. Its error matters
// only to begin.
func (a *api) audit(q *request, action, resource, result, detail string) error {
	if a.o.Audit == nil {
		return nil
	}
	refused := result == authz.ResultUnauthenticated || result == authz.ResultDenied
	if info, ok := authz.LookupAction(action); ok && info.ReadOnly && action != authz.Capture && !refused {
		return nil
	}
	return a.o.Audit.Record(authz.Entry{Principal: q.name, Action: action, Resource: resource, Result: result, Detail: detail, Remote: q.remote})
}

// begin records that an allowed change is about to be made. The audit
// log fails closed: when the entry cannot be written, the change is not
// made and the client gets 503.
func (a *api) begin(q *request, action, resource string) bool {
	if err := a.audit(q, action, resource, authz.ResultAllowed, ""); err != nil {
		writeError(q.w, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing was changed: "+err.Error())
		return false
	}
	return true
}

func (a *api) arn(kind, id string) string {
	l := a.x.Lab()
	return authz.ARN(l.VPC.Region, l.VPC.AccountID, kind, id)
}

func (a *api) vpcARN() string { return a.arn(authz.KindVPC, a.x.Lab().VPC.ID) }

func (a *api) status(q *request) {
	query, err := url.ParseQuery(q.r.URL.RawQuery)
	if err != nil {
		writeError(q.w, http.StatusBadRequest, "malformed query: "+err.Error())
		return
	}
	var entries bool
	for k, v := range query {
		switch k {
		case "entries":
			if len(v) != 1 {
				writeError(q.w, http.StatusBadRequest, "give entries once")
				return
			}
			if v[0] != "" { // ?entries alone means yes
				if entries, err = strconv.ParseBool(v[0]); err != nil {
					writeError(q.w, http.StatusBadRequest, fmt.Sprintf("entries=%s: want 1 or 0 (true or false)", v[0]))
					return
				}
			} else {
				entries = true
			}
		default:
			writeError(q.w, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q; /v1/status takes entries", k))
			return
		}
	}
	st := Snapshot(a.x, entries)
	st.EC2 = a.o.EC2
	st.Metrics = a.o.Metrics
	writeJSON(q.w, http.StatusOK, st)
}

// getLab answers the lab in force as a lab file.
func (a *api) getLab(q *request) {
	data, err := labfile.Marshal(a.x.Lab())
	if err != nil {
		writeError(q.w, http.StatusInternalServerError, err.Error())
		return
	}
	q.w.Header().Set("Content-Type", "application/yaml")
	q.w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	q.w.WriteHeader(http.StatusOK)
	if q.r.Method == http.MethodGet {
		q.w.Write(data)
	}
}

// putLab replaces the whole policy with the lab file in the body.
func (a *api) putLab(q *request) {
	res := a.vpcARN()
	limit, why := labBodyLimit(a.x.Lab())
	data, ok := a.body(q, authz.ApplyLab, res, limit, why)
	if !ok {
		return
	}
	name := q.r.URL.Query().Get("file")
	if name == "" {
		name = "lab.yaml"
	}
	l, err := labfile.Parse(name, data)
	if err != nil {
		a.audit(q, authz.ApplyLab, res, authz.ResultInvalid, err.Error())
		writeJSON(q.w, http.StatusBadRequest, Error{Error: "the lab is invalid; the running one stays:\n" + err.Error()})
		return
	}
	for _, f := range a.o.KeepFlowLogs {
		if !slices.ContainsFunc(l.FlowLogs, func(g *lab.FlowLog) bool { return g.ID == f.ID }) {
			l.FlowLogs = append(l.FlowLogs, f)
		}
	}
	if err := placePaths(&a.o, q.principal == nil, a.x.Lab(), l); err != nil {
		a.audit(q, authz.ApplyLab, res, authz.ResultInvalid, err.Error())
		writeError(q.w, http.StatusBadRequest, "not applied; the running lab stays: "+err.Error())
		return
	}
	if !a.begin(q, authz.ApplyLab, res) {
		return
	}
	changeMu.Lock()
	err = a.x.Apply(l)
	changeMu.Unlock()
	if err != nil {
		a.audit(q, authz.ApplyLab, res, authz.ResultFailed, err.Error())
		writeError(q.w, http.StatusConflict, "not applied; the running lab stays: "+err.Error())
		return
	}
	a.audit(q, authz.ApplyLab, res, authz.ResultApplied, name)
	writeJSON(q.w, http.StatusOK, map[string]any{"applied": true, "file": name})
}

// ec2 serves one EC2 action.
func (a *api) ec2(q *request, action string) {
	api := ec2.APIName(action)
	iam := "ec2:" + api
	if !a.authenticate(q, iam, "") {
		return
	}
	data, ok := a.body(q, iam, "", maxEC2Body, "the most an EC2 call needs")
	if !ok {
		return
	}
	if api == "StartInstances" || api == "StopInstances" {
		a.instances(q, api, data)
		return
	}
	c, err := change.Decode(api, data)
	if err != nil {
		a.audit(q, iam, "", authz.ResultInvalid, err.Error())
		writeEC2Error(q.w, err)
		return
	}
	var res string
	for i, r := range change.Resources(c) {
		arn := a.arn(r.Kind, r.ID)
		if i == 0 {
			res = arn
		}
		if !a.authorize(q, c.Action(), arn) {
			return
		}
	}
	if !a.begin(q, c.Action(), res) {
		return
	}
	resp, err := ApplyChange(a.x, a.o, q.principal == nil, c)
	if err != nil {
		a.audit(q, c.Action(), res, authz.ResultFailed, err.Error())
		writeEC2Error(q.w, err)
		return
	}
	a.audit(q, c.Action(), res, authz.ResultApplied, "")
	writeJSON(q.w, http.StatusOK, resp)
}

// ApplyChange applies c to x's lab as POST /v1/ec2/ACTION does, for
// every API of the running lab (package ec2api's too): under the lock
// that serialises the lab's changes, change.Do validates the whole
// result, the files it names are placed (see placePaths; local is
// whether the change comes from the local principal, root on the socket)
// and x.Apply swaps it in. It returns the change's response, or an error
// (a *change.Error, or x.Apply's) and nothing changed. Authorisation and
// the audit log are the caller's.
func ApplyChange(x Lab, o Options, local bool, c change.Change) (any, error) {
	changeMu.Lock()
	defer changeMu.Unlock()
	next, resp, err := change.Do(x.Lab(), c)
	if err != nil {
		return nil, err
	}
	if err := placePaths(&o, local, x.Lab(), next); err != nil {
		return nil, &change.Error{Code: "InvalidParameterValue", Message: err.Error()}
	}
	if err := x.Apply(next); err != nil {
		return nil, err
	}
	return resp, nil
}

// body reads the request body, up to limit bytes (why says what the limit
// is); it answers 413 or 400 (and records the attempt) when it cannot.
func (a *api) body(q *request, action, resource string, limit int64, why string) ([]byte, bool) {
	data, err := readBody(q, limit)
	if err != nil {
		var tooBig *http.MaxBytesError
		code, msg := http.StatusBadRequest, "reading the request body: "+err.Error()
		if errors.As(err, &tooBig) {
			code, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes, %s", limit, why)
		}
		a.audit(q, action, resource, authz.ResultInvalid, msg)
		writeError(q.w, code, msg)
		return nil, false
	}
	return data, true
}

// readBody reads the request body, up to limit bytes. A body that says
// it is longer is refused unread; one that says its length is read into
// a buffer of that length, not one grown by doubling (which would hold
// up to twice a 64 MiB lab while the parser needs the memory).
func readBody(q *request, limit int64) ([]byte, error) {
	n := q.r.ContentLength
	if n > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	r := http.MaxBytesReader(q.w, q.r.Body, limit)
	if n <= 0 {
		return io.ReadAll(r)
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+bytes.MinRead)) // room for ReadFrom to find the end without growing
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}

// EC2Error is the body of a refused EC2 call.
type EC2Error struct {
	Error change.Error `json:"Error"`
}

func writeEC2Error(w http.ResponseWriter, err error) {
	var e *change.Error
	if !errors.As(err, &e) {
		e = &change.Error{Code: "InvalidParameterValue", Message: err.Error()}
		if errors.Is(err, ErrTopology) {
			e.Code = "UnsupportedOperation"
		}
	}
	writeJSON(w, http.StatusBadRequest, EC2Error{Error: *e})
}

// connKey keys the connection in a request's context.
type connKey struct{}

// connContext remembers each request's connection, for remoteOf.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// remoteOf describes who is at the other end: the peer's uid and pid on
// the unix socket (SO_PEERCRED), else its address.
func remoteOf(r *http.Request) string {
	c, _ := r.Context().Value(connKey{}).(net.Conn)
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return r.RemoteAddr
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "unix"
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err != nil || cred == nil {
		return "unix"
	}
	return fmt.Sprintf("unix uid=%d pid=%d", cred.Uid, cred.Pid)
}
