package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

// The tests bring up a small live lab (needs root and /dev/net/tun, as the
// integration tests do) under a prefix and lab id of their own, and serve
// its control API on a socket in a temporary directory.

const testPrefix = "vpclabct-"

const testLab = `
vpc: {id: vpc-ct, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
  - {id: subnet-b, cidr: 10.0.2.0/24}
security_groups:
  - id: sg-web
  - id: sg-app
    ingress:
      - {protocol: tcp, ports: 8080, group: sg-web}
instances:
  - {name: web, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-web]}
  - {name: app, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-app]}
`

func startLab(t *testing.T) (*live.Lab, *lab.Lab) {
	t.Helper()
	if err := labnet.Check(); err != nil {
		t.Fatalf("%v\nthese tests make namespaces and TUN devices: run them as root", err)
	}
	l, err := labfile.Parse("control.yaml", []byte(testLab))
	if err != nil {
		t.Fatal(err)
	}
	// A fixed id, not one per process: Down below then also removes what a
	// crashed earlier run left, and no lock files pile up.
	o := live.Options{Net: labnet.Options{ID: "ct", Prefix: testPrefix}}
	p, err := labnet.NewPlan(l, o.Net)
	if err != nil {
		t.Fatal(err)
	}
	if err := labnet.Down(p); err != nil {
		t.Fatal(err)
	}
	x, err := live.Start(l, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := x.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	return x, l
}

func listen(t *testing.T, x *live.Lab, l *lab.Lab, path string) *Server {
	t.Helper()
	s, err := Listen(asLab(x), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func status(t *testing.T, path string, entries bool) *Status {
	t.Helper()
	st, body, err := NewClient(path).GetStatus(context.Background(), entries)
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(body) {
		t.Fatalf("invalid JSON: %s", body)
	}
	return st
}

func eni(t *testing.T, st *Status, id string) ENI {
	t.Helper()
	for _, e := range st.ENIs {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no ENI %s in %+v", id, st.ENIs)
	return ENI{}
}

// echoConn starts an echo server on app's 10.0.2.10:8080 and returns a
// connection to it from web; both end with the test.
func echoConn(t *testing.T, x *live.Lab) net.Conn {
	t.Helper()
	var ln net.Listener
	if err := inNS(t, x, "app", func() (err error) {
		ln, err = net.Listen("tcp4", "10.0.2.10:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	var c net.Conn
	if err := inNS(t, x, "web", func() (err error) {
		c, err = (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp4", "10.0.2.10:8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// inNS runs fn on a thread inside the instance's namespace.
func inNS(t *testing.T, x *live.Lab, instance string, fn func() error) error {
	t.Helper()
	return x.Net().Do(x.Plan().Instance(instance).Name, fn)
}

func TestServer(t *testing.T) {
	x, l := startLab(t)
	path := filepath.Join(t.TempDir(), "lab.sock")
	s := listen(t, x, l, path)

	t.Run("socket", func(t *testing.T) {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Errorf("socket mode %v, want a socket with mode 0600", fi.Mode())
		}
		if s.Path() != path {
			t.Errorf("Path() = %s, want %s", s.Path(), path)
		}
		// No temporary name is left behind.
		if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
			t.Errorf("the directory holds %d entries, want only the socket", len(ents))
		}
	})

	t.Run("idle", func(t *testing.T) {
		st := status(t, path, false)
		if st.Lab != x.Plan().ID || st.File != "control.yaml" || st.UptimeSeconds < 0 || st.Started.IsZero() {
			t.Errorf("header: %+v", st)
		}
		if len(st.ENIs) != 2 {
			t.Fatalf("%d ENIs, want 2", len(st.ENIs))
		}
		w := eni(t, st, "eni-web")
		if w.Instance != "web" || w.Device != "eth0" || w.Namespace != x.Plan().Instance("web").Name ||
			len(w.Addresses) != 1 || w.Addresses[0] != "10.0.1.10/24" {
			t.Errorf("eni-web: %+v", w)
		}
		if w.Allowance.Available == 0 {
			t.Errorf("eni-web allowance: %+v", w.Allowance)
		}
	})

	t.Run("traffic", func(t *testing.T) {
		before := eni(t, status(t, path, false), "eni-web")
		c := echoConn(t, x)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		msg := []byte("hello through the control test")
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			t.Fatal(err)
		}
		// Port 9999 is not open in sg-app: dropped at sg-ingress.
		if err := inNS(t, x, "web", func() error {
			c, err := (&net.Dialer{Timeout: 300 * time.Millisecond}).Dial("tcp4", "10.0.2.10:9999")
			if err == nil {
				c.Close()
				return errors.New("connected to 10.0.2.10:9999, want dropped")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}

		st := status(t, path, true)
		w := eni(t, st, "eni-web")
		if w.Allowed.Packets <= before.Allowed.Packets || w.Allowed.Bytes <= before.Allowed.Bytes {
			t.Errorf("allowed did not grow: %+v then %+v", before.Allowed, w.Allowed)
		}
		sgIn := w.Denied.ByStage["sg-ingress"]
		if sgIn.Packets == 0 || w.Denied.Packets < sgIn.Packets || w.Denied.Bytes < sgIn.Bytes {
			t.Errorf("denied: %+v, want packets at sg-ingress", w.Denied)
		}
		if w.Conntrack.Count == 0 || len(w.Conntrack.Entries) != w.Conntrack.Count {
			t.Fatalf("conntrack: %+v", w.Conntrack)
		}
		var found bool
		for _, e := range w.Conntrack.Entries {
			if strings.Contains(e.Key, "10.0.2.10:8080") && e.State == "ESTABLISHED" && e.ExpiresInSeconds > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("no ESTABLISHED entry to 10.0.2.10:8080 in %+v", w.Conntrack.Entries)
		}
		if w.Allowance.Used == 0 {
			t.Errorf("allowance: %+v, want some used", w.Allowance)
		}
		// Without ?entries the count alone.
		if w := eni(t, status(t, path, false), "eni-web"); w.Conntrack.Entries != nil || w.Conntrack.Count == 0 {
			t.Errorf("without entries: %+v", w.Conntrack)
		}
	})

	t.Run("errors", func(t *testing.T) {
		hc := NewClient(path).http
		for _, tc := range []struct {
			method, url string
			code        int
			want        string
		}{
			{"GET", "http://vpclab/v2/nothing", 404, "no such endpoint"},
			{"GET", "http://vpclab/", 404, "no such endpoint"},
			{"POST", "http://vpclab/v1/status", 405, "use GET"},
			{"GET", "http://vpclab/v1/status?entries=maybe", 400, "entries=maybe"},
			{"GET", "http://vpclab/v1/status?entries=1&entries=0", 400, "once"},
			{"GET", "http://vpclab/v1/status?colour=red", 400, "unknown query parameter"},
			{"GET", "http://vpclab/v1/status?a=%zz", 400, "malformed query"},
		} {
			req, _ := http.NewRequest(tc.method, tc.url, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e Error
			if resp.StatusCode != tc.code || resp.Header.Get("Content-Type") != "application/json" ||
				json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, tc.want) {
				t.Errorf("%s %s: %d %s, want %d with %q", tc.method, tc.url, resp.StatusCode, body, tc.code, tc.want)
			}
		}
	})

	t.Run("close", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("socket still there after Close: %v", err)
		}
		_, _, err := NewClient(path).GetStatus(context.Background(), false)
		if !errors.Is(err, ErrNotUp) {
			t.Errorf("after Close: %v, want ErrNotUp", err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})

	t.Run("stale", func(t *testing.T) {
		// A socket a crashed run left behind: bound, nobody listening.
		stale := filepath.Join(t.TempDir(), "stale.sock")
		ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		ln.SetUnlinkOnClose(false)
		ln.Close()
		_, _, err = NewClient(stale).GetStatus(context.Background(), false)
		if !errors.Is(err, ErrNotUp) {
			t.Errorf("stale socket: %v, want ErrNotUp", err)
		}
		listen(t, x, l, stale)
		if st := status(t, stale, false); len(st.ENIs) != 2 {
			t.Errorf("after replacing the stale socket: %+v", st)
		}
		// Anything but a socket is left alone.
		file := filepath.Join(t.TempDir(), "file.sock")
		os.WriteFile(file, []byte("mine"), 0o644)
		if s, err := Listen(asLab(x), file, Options{}); err == nil {
			s.Close()
			t.Errorf("Listen replaced a regular file")
		}
		if b, _ := os.ReadFile(file); string(b) != "mine" {
			t.Errorf("the regular file was changed")
		}
	})
}

func TestNotUp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	_, _, err := NewClient(path).GetStatus(context.Background(), false)
	var nu *NotUpError
	if !errors.Is(err, ErrNotUp) || !errors.As(err, &nu) || nu.Path != path || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want ErrNotUp naming %s", err, path)
	}
}

func TestSocketPath(t *testing.T) {
	l, err := labfile.Parse("control.yaml", []byte(testLab))
	if err != nil {
		t.Fatal(err)
	}
	p, err := labnet.NewPlan(l, labnet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := SocketPath(p), "/run/vpclab/vpclab-vpc-ct.sock"; got != want {
		t.Errorf("SocketPath = %s, want %s", got, want)
	}
	if filepath.Dir(SocketPath(p)) != filepath.Dir(p.LockPath()) {
		t.Errorf("socket %s not next to the lock %s", SocketPath(p), p.LockPath())
	}
}
