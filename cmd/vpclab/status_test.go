package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/control"
)

func TestStatusNotUp(t *testing.T) {
	id := "vpc-statustest" + strings.ReplaceAll(filepath.Base(t.TempDir()), "_", "")
	file := filepath.Join(t.TempDir(), "lab.yaml")
	os.WriteFile(file, []byte("vpc: {id: "+id+", cidr: 10.0.0.0/16}\nsubnets:\n  - {id: subnet-a, cidr: 10.0.1.0/24}\n"+
		"security_groups:\n  - {id: sg-a}\ninstances:\n  - {name: a, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-a]}\n"), 0o644)
	sock := "/run/vpclab/vpclab-" + id + ".sock"
	want(t, []string{"status", file}, 1, nil,
		[]string{"lab " + file + " is not up: no control socket at " + sock + "; start it with vpclab up"})
	want(t, []string{"status", file, "-o", "json"}, 1, nil, []string{"is not up"})
	want(t, []string{"status", "a.yaml", "b.yaml"}, 2, nil, []string{"at most one lab file"})
	want(t, []string{"status", "-o", "yaml"}, 2, nil, []string{"text or json"})
	want(t, []string{"status", "--help"}, 0, []string{"vpclab status", "--entries", "-o, --output"}, nil)
}

func TestWriteStatus(t *testing.T) {
	st := &control.Status{Lab: "vpc-1", File: "lab.yaml", UptimeSeconds: 3725, ENIs: []control.ENI{{
		ID: "eni-web", Instance: "web", Allowed: control.Count{Packets: 12, Bytes: 3400},
		Denied: control.Denied{Packets: 5, Bytes: 300, ByStage: map[string]control.Count{
			"sg-ingress": {Packets: 3, Bytes: 180}, "nacl-egress": {Packets: 2, Bytes: 120}}},
		ServicePackets: 1,
		Conntrack: control.Conntrack{Count: 1, Entries: []control.Entry{
			{Key: "tcp 10.0.1.10:40000 <-> 10.0.2.10:8080", State: "ESTABLISHED", ExpiresInSeconds: 431999}}},
		Allowance: control.Allowance{Used: 1, Available: 99, Exceeded: 2},
	}, {ID: "eni-app", Instance: "app", Denied: control.Denied{ByStage: map[string]control.Count{}}}}}
	var b strings.Builder
	writeStatus(&b, st)
	out := b.String()
	for _, s := range []string{
		"lab vpc-1 (lab.yaml), up 1h02m05s",
		"ENI", "ALLOWANCE USED/AVAILABLE",
		"nacl-egress=2 sg-ingress=3", "1/99 (exceeded 2)",
		"conntrack of eni-web (web)", "tcp 10.0.1.10:40000 <-> 10.0.2.10:8080", "ESTABLISHED", "431999s",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}
	if lines := strings.Split(out, "\n"); !strings.HasPrefix(lines[4], "eni-app") || !strings.Contains(lines[4], " - ") {
		t.Errorf("eni-app line: %q\n%s", lines[4], out)
	}
}
