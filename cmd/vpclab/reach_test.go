package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReachTerraformDiff runs the README's recipe on Terraform states:
// `terraform show -json` before and after a plan (the importer's test
// state, and a copy with the plan's edit of the web security group: http
// from anywhere added, ssh from the office removed), compared with
// --diff as text, JSON and a page, and the new state checked with
// --assert.
func TestReachTerraformDiff(t *testing.T) {
	before, after := "../../importer/terraform/testdata/webapp.json", "../../testdata/reach/webapp-after.json"
	want(t, []string{"reach", "--diff", before, after}, 0, []string{
		"opened:\n  + internet → web-server-1 IPv4 tcp 80 (",
		"now sg-ingress: sg-0a0a0a0a0a0a0a0a1 ingress #0: tcp 80 from 0.0.0.0/0; was no ingress rule of sg-0a0a0a0a0a0a0a0a1",
		"+ internet → web-server-1 IPv6 tcp 80 (",
		"closed:\n  - internet → web-server-1 IPv4 tcp 22 (198.51.100.64/26,203.0.113.0/24 → 10.0.1.10,10.0.1.11,10.0.1.12)",
		"was sg-0a0a0a0a0a0a0a0a1 ingress #3: tcp 22 from pl-0a0a0a0a0a0a0a0a1",
		"2 opened, 1 closed",
	}, nil)
	out := want(t, []string{"reach", "--diff", before, after, "-o", "json"}, 0, nil, nil)
	var d struct {
		Opened, Closed []struct {
			From, To, Proto string
			Family          int
			Values          []struct{ Lo, Hi int }
		}
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("--diff -o json: %v\n%s", err, out)
	}
	if len(d.Opened) != 2 || len(d.Closed) != 1 || d.Opened[0].To != "web-server-1" || d.Opened[0].Values[0].Lo != 80 ||
		d.Closed[0].From != "internet" || d.Closed[0].Values[0].Lo != 22 || d.Closed[0].Values[0].Hi != 22 {
		t.Errorf("--diff -o json: %+v", d)
	}
	page := filepath.Join(t.TempDir(), "review.html")
	want(t, []string{"reach", "--diff", before, after, "-o", "html", page}, 0, []string{"wrote " + page}, nil)
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"o":"tcp 80"`, `"k":"tcp 22"`, `"c":"changed"`} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the review page lacks %s", s)
		}
	}
	asserts := "../../testdata/reach/webapp-assert.yaml"
	want(t, []string{"reach", "--lab", after, "--assert", asserts}, 0, []string{"3 passed, 0 failed"}, nil)
	want(t, []string{"reach", "--lab", before, "--assert", asserts}, 1, []string{"✗", "internet must not reach web-server-1 on tcp/22", "tcp 22 open", "2 passed, 1 failed"}, nil)
}

// TestReachStopped: --stopped takes an instance as stopped, and every
// output says so.
func TestReachStopped(t *testing.T) {
	want(t, []string{"reach", "--stopped", "app1"}, 0, []string{"stopped  ", "stopped (they send and receive nothing", ": app1", "not in this map: the conntrack allowance"}, nil)
	want(t, []string{"reach", "--stopped", "app1", "--from", "web1", "--to", "app1", "-o", "json"}, 0, []string{`"stopped": [`, `"code": "INSTANCE_STOPPED"`, `"unmodelled": [`}, nil)
	want(t, []string{"reach", "--stopped", "app9"}, 1, nil, []string{`"app9" is not an instance`})
}
