package authz

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// readLog parses every line of the audit log at path.
func readLog(t *testing.T, path string) []Entry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var e Entry
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %d: %v\n%s", n, err, sc.Text())
		}
		if dec.More() {
			t.Fatalf("line %d holds more than one entry:\n%s", n, sc.Text())
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAuditLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
	at := time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.FixedZone("CET", 3600))
	entries := []Entry{
		{Time: at, Principal: "alice", Action: AuthorizeSecurityGroupIngress, Resource: sgARN("sg-web"),
			Result: ResultApplied, Detail: "tcp 443 from 0.0.0.0/0 <ok> & \"quoted\"\nsecond line", Remote: "uid=0 pid=42"},
		{Time: at, Principal: "bob", Action: StopInstances, Resource: instARN("db"), Result: ResultDenied,
			Detail: "explicitly denied by statement 0"},
		{Time: at, Result: ResultUnauthenticated, Remote: "127.0.0.1:5555"},
	}
	for _, e := range entries {
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	before := time.Now()
	if err := l.Record(Entry{Principal: "carol", Action: ApplyLab, Resource: vpcARN(), Result: ResultInvalid}); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	got := readLog(t, path)
	if len(got) != 4 {
		t.Fatalf("%d entries, want 4", len(got))
	}
	for i, want := range entries {
		want.Time = want.Time.UTC()
		if got[i] != want {
			t.Errorf("entry %d:\n got %+v\nwant %+v", i, got[i], want)
		}
	}
	if tm := got[3].Time; tm.Before(before.Add(-time.Second)) || tm.After(time.Now()) || tm.Location() != time.UTC {
		t.Errorf("filled-in time %v, recorded after %v", tm, before)
	}

	// The raw line: UTC, every field named, one line per entry.
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	want := `{"time":"2025-03-01T11:30:45.123456789Z","principal":"alice","action":"ec2:AuthorizeSecurityGroupIngress",` +
		`"resource":"arn:aws:ec2:us-east-1:123456789012:security-group/sg-web","result":"applied",` +
		`"detail":"tcp 443 from 0.0.0.0/0 <ok> & \"quoted\"\nsecond line","remote":"uid=0 pid=42"}`
	if first != want {
		t.Errorf("first line:\n got %s\nwant %s", first, want)
	}

	// Reopening appends.
	l, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Entry{Result: ResultFailed, Principal: "alice", Action: CreateFlowLogs, Resource: vpcARN()}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if got := readLog(t, path); len(got) != 5 || got[4].Result != ResultFailed {
		t.Errorf("after reopening: %d entries, last %+v", len(got), got[len(got)-1])
	}
}

func TestAuditLogRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Record(Entry{Principal: "alice", Result: "ok"}); err == nil || !strings.Contains(err.Error(), `result "ok"`) {
		t.Errorf("unknown result: got %v", err)
	}
	if err := l.Record(Entry{Principal: "alice"}); err == nil {
		t.Error("empty result accepted")
	}
	l.Close()
	if err := l.Record(Entry{Result: ResultDenied}); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: got %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := readLog(t, path); len(got) != 0 {
		t.Errorf("refused entries were written: %+v", got)
	}

	// A log others may write, and a directory.
	if err := os.Chmod(path, 0o662); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "permissions 0662 let group or others write it") {
		t.Errorf("mode 0662: got %v", err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("a directory opened as the audit log")
	}
}

func TestAuditLogTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	long := strings.Repeat("é", maxField) // 2 bytes each
	if err := l.Record(Entry{Result: ResultInvalid, Resource: long, Detail: "short"}); err != nil {
		t.Fatal(err)
	}
	e := readLog(t, path)[0]
	if len(e.Resource) > maxField || !strings.HasSuffix(e.Resource, "…") || !strings.HasPrefix(e.Resource, "éé") {
		t.Errorf("Resource: %d bytes, ends %q", len(e.Resource), e.Resource[len(e.Resource)-8:])
	}
	if strings.ContainsRune(e.Resource, '\uFFFD') {
		t.Error("the cut split a character")
	}
	if e.Detail != "short" {
		t.Errorf("Detail = %q", e.Detail)
	}
}

// TestAuditLogConcurrent records from many goroutines, with entries long
// enough that interleaved writes would show, and checks every line.
func TestAuditLogConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 25
	detail := strings.Repeat("x", 3000)
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				errs <- l.Record(Entry{Principal: fmt.Sprintf("p%d", w), Action: GetStatus,
					Resource: vpcARN(), Result: ResultAllowed, Detail: fmt.Sprintf("%d %s", i, detail)})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got := readLog(t, path)
	if len(got) != writers*each {
		t.Fatalf("%d entries, want %d", len(got), writers*each)
	}
	seen := map[string]bool{}
	for _, e := range got {
		n, rest, _ := strings.Cut(e.Detail, " ")
		if rest != detail {
			t.Fatalf("entry of %s mangled: %.40q…", e.Principal, e.Detail)
		}
		key := e.Principal + "/" + n
		if seen[key] {
			t.Errorf("entry %s twice", key)
		}
		seen[key] = true
	}
}
