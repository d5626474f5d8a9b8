package control

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/internal/heappeak"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
)

// modelLab is a Lab of a model only, for the requests served before (or
// instead of) touching a dataplane; its other methods are left to the
// nil interface and must not be called.
type modelLab struct {
	unused
	l       *lab.Lab
	applied int
}

type unused = Lab

func (m *modelLab) Lab() *lab.Lab { return m.l }

func (m *modelLab) Apply(l *lab.Lab) error {
	m.l = l
	m.applied++
	return nil
}

// TestLabBodyLimit checks that PUT /v1/lab reads no more than a lab within
// the running lab's quotas needs: one byte more is refused with 413,
// saying why, and audited; a body at the limit is read and applied.
func TestLabBodyLimit(t *testing.T) {
	const small = "vpc: {id: vpc-q, cidr: 10.0.0.0/16}\nquotas: {sgs_per_vpc: 3, sg_rules: 2, nacl_entries: 2}\n"
	running, err := labfile.Parse("small.yaml", []byte(small))
	if err != nil {
		t.Fatal(err)
	}
	limit := labfile.MaxSize(running.Quotas)
	if want := int64(1<<20 + 3*(512+8*128+8*128)); limit != want {
		t.Fatalf("MaxSize(%+v) = %d, want %d", running.Quotas, limit, want)
	}
	if got := labfile.MaxSize(lab.DefaultQuotas()); got < maxLabBody {
		t.Errorf("MaxSize(default quotas) = %d: the default cap would be below maxLabBody", got)
	}
	audit, err := authz.Open(filepath.Join(t.TempDir(), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	x := &modelLab{l: running}
	h := Handler(x, Options{Audit: audit, DataDir: t.TempDir()})
	put := func(size int64) *httptest.ResponseRecorder {
		body := small + "# " + strings.Repeat("x", int(size)-len(small)-3) + "\n"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/lab", strings.NewReader(body)))
		return w
	}

	w := put(limit + 1)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "sgs_per_vpc 3, sg_rules 2") {
		t.Errorf("a body one byte over the limit: %d %s", w.Code, w.Body)
	}
	if x.applied != 0 {
		t.Error("an oversized lab was applied")
	}
	if w := put(limit); w.Code != http.StatusOK || x.applied != 1 {
		t.Errorf("a body at the limit: %d %s (applied %d)", w.Code, w.Body, x.applied)
	}

	x.l = labfile.ExampleLab() // the default quotas: the API's ceiling
	w = put(maxLabBody + 1)
	if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "64 MiB") {
		t.Errorf("a body over the ceiling: %d %s", w.Code, w.Body)
	}

	f, err := os.Open(audit.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var e authz.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Action+" "+e.Result+" "+strings.SplitN(e.Detail, ",", 2)[0])
	}
	want := []string{
		"vpclab:ApplyLab invalid the request body is over " + itoa(limit) + " bytes",
		"vpclab:ApplyLab allowed ",
		"vpclab:ApplyLab applied lab.yaml",
		"vpclab:ApplyLab invalid the request body is over " + itoa(maxLabBody) + " bytes",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// bigLab is a lab of groups groups of rules rules each, in flow style.
func bigLab(groups, rules int) []byte {
	b := []byte("vpc: {id: vpc-b, cidr: 10.0.0.0/16}\nsecurity_groups:\n")
	for i := range groups {
		b = fmt.Appendf(b, "  - {id: sg-%d, ingress: [", i)
		for j := range rules {
			b = fmt.Appendf(b, "{protocol: tcp, ports: %d, cidr: 10.0.0.0/8}, ", 1+j)
		}
		b = append(b[:len(b)-2], "]}\n"...)
	}
	return b
}

// TestLabBodyPeakHeap: PUT /v1/lab of a 10 MB lab, applied or refused
// (one group over the quota), takes at most 10 times the body in live
// heap, the body read and the lab applied included; a body saying it is
// over the limit is refused unread.
func TestLabBodyPeakHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("large bodies: not in -short")
	}
	audit, err := authz.Open(filepath.Join(t.TempDir(), "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	x := &modelLab{l: labfile.ExampleLab()}
	h := Handler(x, Options{Audit: audit, DataDir: t.TempDir()})
	for _, c := range []struct {
		name   string
		groups int
		code   int
	}{{"applied", 2499, http.StatusOK}, {"refused", 2500, http.StatusBadRequest}} {
		body := bigLab(c.groups, 60)
		x.l = labfile.ExampleLab()
		var w *httptest.ResponseRecorder
		peak := heappeak.Live(func() {
			w = httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/v1/lab", bytes.NewReader(body)))
		})
		ratio := float64(peak) / float64(len(body))
		t.Logf("%s: %d bytes, peak live heap %d (%.1f×)", c.name, len(body), peak, ratio)
		if w.Code != c.code {
			t.Errorf("%s: %d %.300s, want %d", c.name, w.Code, w.Body, c.code)
		}
		if ratio > 10 {
			t.Errorf("%s: peak live heap %.1f× the body, over 10×", c.name, ratio)
		}
	}

	// A body that says it is over the limit is not read.
	r := httptest.NewRequest(http.MethodPut, "/v1/lab", strings.NewReader("vpc: {}\n"))
	r.ContentLength = maxLabBody + 1
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body saying it is %d bytes: %d %s", r.ContentLength, w.Code, w.Body)
	}
}
