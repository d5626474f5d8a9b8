package metrics

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestServe scrapes a Server on a loopback port, as Prometheus would.
func TestServe(t *testing.T) {
	src := &fakeSource{r: labReading()}
	c := New(src, Options{})
	reg, err := NewRegistry(c)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Serve("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || !strings.HasSuffix(s.URL(), "/metrics") {
		t.Errorf("URL %q", s.URL())
	}

	if err := testutil.ScrapeAndCompare(s.URL(), strings.NewReader(wantAggregate), labFamilies...); err != nil {
		t.Error(err)
	}
	// The standard families are there too.
	body := get(t, s.URL(), http.StatusOK)
	for _, name := range []string{"vpclab_build_info", "vpclab_policy_applies_total", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("no %s in the scrape", name)
		}
	}
	// A scrape reads the counters of the moment.
	c.ObserveApply(time.Millisecond, true)
	if body := get(t, s.URL(), http.StatusOK); !strings.Contains(body, `vpclab_policy_applies_total{result="success"} 1`) {
		t.Errorf("scrape after an apply:\n%s", body)
	}
	get(t, "http://"+s.Addr().String()+"/", http.StatusOK)
	get(t, "http://"+s.Addr().String()+"/other", http.StatusNotFound)

	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	conn, err := net.DialTimeout("tcp", s.Addr().String(), time.Second)
	if err == nil {
		conn.Close()
		t.Errorf("%s still accepts connections after Close", s.Addr())
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Logf("dial after Close: %v", err)
	}
}

// TestServeFailedScrape checks that a broken Reading fails the scrape with
// a 500 that says why.
func TestServeFailedScrape(t *testing.T) {
	reg, err := NewRegistry(New(&fakeSource{r: Reading{Instances: []Instance{{Name: "web"}, {Name: "web"}}}}, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Serve("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if body := get(t, s.URL(), http.StatusInternalServerError); !strings.Contains(body, `repeats the name "web"`) {
		t.Errorf("failed scrape says:\n%s", body)
	}
}

func TestServeBusyAddress(t *testing.T) {
	reg, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	s, err := Serve("127.0.0.1:0", reg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := s.Addr().String()
	if s2, err := Serve(addr, reg); err == nil {
		s2.Close()
		t.Fatalf("second Serve on %s succeeded", addr)
	} else if !strings.Contains(err.Error(), "metrics: listening on "+addr) || !errors.Is(err, syscall.EADDRINUSE) {
		t.Errorf("second Serve on %s: %v", addr, err)
	}
	if _, err := Serve("127.0.0.1:http-nonesuch", reg); err == nil || !strings.Contains(err.Error(), "127.0.0.1:http-nonesuch") {
		t.Errorf("Serve on a bad port: %v", err)
	}
}

func TestDefaultAddrIsLoopback(t *testing.T) {
	host, _, err := net.SplitHostPort(DefaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("DefaultAddr %s is not a loopback address", DefaultAddr)
	}
}

func TestNewRegistryRefusesDuplicates(t *testing.T) {
	c := New(nil, Options{})
	if _, err := NewRegistry(c, c); err == nil || !strings.Contains(err.Error(), "*metrics.Collector") {
		t.Errorf("registering a collector twice: %v", err)
	}
}

// get fetches url, checks the status and returns the body.
func get(t *testing.T, url string, status int) string {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != status {
		t.Errorf("GET %s: %s, want %d:\n%s", url, resp.Status, status, b)
	}
	return string(b)
}
