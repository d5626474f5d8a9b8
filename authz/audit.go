package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

// The results an audit entry records.
const (
	// ResultAllowed: the principal may make the change; recorded before a
	// change whose outcome comes later, or for a permitted read worth
	// recording (a capture).
	ResultAllowed = "allowed"
	// ResultDenied: the principal may not (403); nothing changed.
	ResultDenied = "denied"
	// ResultUnauthenticated: no token, or one no principal has (401);
	// nothing changed.
	ResultUnauthenticated = "unauthenticated"
	// ResultInvalid: the request or the state it asks for is not valid
	// (400); nothing changed.
	ResultInvalid = "invalid"
	// ResultFailed: allowed and valid, but applying it failed; nothing
	// changed.
	ResultFailed = "failed"
	// ResultApplied: allowed and applied.
	ResultApplied = "applied"
)

var results = []string{ResultAllowed, ResultDenied, ResultUnauthenticated, ResultInvalid, ResultFailed, ResultApplied}

// Entry is one line of the audit log.
type Entry struct {
	// Time of the attempt; Record fills in the current time when zero. It
	// is written in UTC, RFC 3339 with nanoseconds.
	Time time.Time `json:"time"`
	// Principal is the authenticated principal's name; empty when the
	// request was not authenticated.
	Principal string `json:"principal"`
	// Action is the action attempted ("ec2:AuthorizeSecurityGroupIngress")
	// and Resource the ARN of what it acts on; empty when the request did
	// not get as far as naming them.
	Action   string `json:"action"`
	Resource string `json:"resource"`
	// Result is one of the Result constants.
	Result string `json:"result"`
	// Detail says more: the Decision's Reason, or what was invalid or
	// failed. Optional.
	Detail string `json:"detail,omitempty"`
	// Remote is where the request came from (the peer's address, or for
	// the unix socket its uid and pid). Optional.
	Remote string `json:"remote,omitempty"`
}

// maxField bounds each text field of an entry, so that a request cannot
// make one line arbitrarily long; longer values are cut and end in "…".
const maxField = 4096

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("authz: the audit log is closed")

// AuditLog appends entries to a file, one JSON object a line. Its methods
// are safe for concurrent use: each entry is one write(2) of a whole line
// to a file opened with O_APPEND, made under a lock and followed by
// fsync, so lines never interleave and an entry recorded is on disk
// (changes are rare; the cost does not matter).
type AuditLog struct {
	path string
	mu   sync.Mutex
	f    *os.File // nil once closed
}

// Open opens the audit log at path for appending, creating it with mode
// 0600 if it does not exist. It refuses a file that is not regular or
// that group or others may write: an audit log others can rewrite proves
// nothing.
func Open(path string) (*AuditLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("authz: opening the audit log: %w", err)
	}
	fi, err := f.Stat()
	if err == nil {
		switch {
		case !fi.Mode().IsRegular():
			err = fmt.Errorf("authz: audit log %s is not a regular file (%s)", path, fi.Mode().Type())
		case fi.Mode().Perm()&0o022 != 0:
			err = fmt.Errorf("authz: audit log %s: permissions %04o let group or others write it; run: chmod 600 %s",
				path, fi.Mode().Perm(), path)
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &AuditLog{path: path, f: f}, nil
}

// Path returns the log's path.
func (l *AuditLog) Path() string { return l.path }

// Record appends e as one line and flushes it to disk. It fills in a zero
// Time with the current time, and refuses an unknown Result.
func (l *AuditLog) Record(e Entry) error {
	if !validResult(e.Result) {
		return fmt.Errorf("authz: audit entry with result %q: want one of %v", e.Result, results)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	for _, s := range []*string{&e.Principal, &e.Action, &e.Resource, &e.Detail, &e.Remote} {
		*s = truncate(*s, maxField)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&e); err != nil { // ends the line with '\n'
		return fmt.Errorf("authz: encoding an audit entry: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return ErrClosed
	}
	// One write(2) on a regular file takes the whole line unless the disk
	// is full; os.File.Write retries a short write, under the lock.
	n, err := l.f.Write(buf.Bytes())
	if err == nil && n < buf.Len() {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("authz: writing the audit log %s: %w", l.path, err)
	}
	return nil
}

// Close closes the log. Record fails after it; closing again is a no-op.
func (l *AuditLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("authz: closing the audit log %s: %w", l.path, err)
	}
	return nil
}

func validResult(r string) bool {
	for _, x := range results {
		if r == x {
			return true
		}
	}
	return false
}

// truncate cuts s to at most n bytes, at a character boundary, marking
// the cut with "…".
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
