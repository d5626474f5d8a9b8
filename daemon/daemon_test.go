package daemon

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/internal/sdktest"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/metrics"
)

// The run test brings up a small live lab (needs root and /dev/net/tun, as
// the integration tests do) under a prefix and lab id of its own.
const testPrefix = "vpclabdm-"

const testLab = `
vpc: {id: vpc-dm, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
instances:
  - {name: web, subnet: subnet-a, ip: 10.0.1.10}
`

func testPlan(t *testing.T) (*lab.Lab, *labnet.Plan) {
	t.Helper()
	l, err := labfile.Parse("daemon.yaml", []byte(testLab))
	if err != nil {
		t.Fatal(err)
	}
	p, err := labnet.NewPlan(l, labnet.Options{ID: "dm", Prefix: testPrefix})
	if err != nil {
		t.Fatal(err)
	}
	return l, p
}

func TestResolvePaths(t *testing.T) {
	_, p := testPlan(t)
	tests := []struct {
		name string
		cfg  Config
		want Paths
	}{
		{"defaults", Config{}, Paths{
			Data:    filepath.Join(DataRoot, "dm"),
			Audit:   filepath.Join(AuditRoot, "dm.audit.log"),
			Socket:  control.SocketPath(p),
			EC2Keys: filepath.Join(DataRoot, "dm", EC2KeysFile),
		}},
		{"given", Config{DataDir: "/d", AuditLog: "/a.log", Socket: "/s.sock"}, Paths{Data: "/d", Audit: "/a.log", Socket: "/s.sock", EC2Keys: "/d/" + EC2KeysFile}},
		{"audit off", Config{AuditLog: Off}, Paths{Data: filepath.Join(DataRoot, "dm"), Socket: control.SocketPath(p), EC2Keys: filepath.Join(DataRoot, "dm", EC2KeysFile)}},
	}
	for _, tt := range tests {
		if got := tt.cfg.ResolvePaths(p); got != tt.want {
			t.Errorf("%s: ResolvePaths = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestClosersLastFirst(t *testing.T) {
	var c closers
	var order []string
	errLab := errors.New("lab")
	for _, name := range []string{"audit log", "metrics server", "lab", "control socket"} {
		c.push(name, func() error {
			order = append(order, name)
			if name == "lab" {
				return errLab
			}
			return nil
		})
	}
	err := c.close()
	want := []string{"control socket", "lab", "metrics server", "audit log"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("closed %q, want %q", order, want)
	}
	if !errors.Is(err, errLab) {
		t.Errorf("close = %v, want the lab's error", err)
	}
	order = nil
	if err := c.close(); err != nil || order != nil {
		t.Errorf("second close = %v, closed %q; want nothing", err, order)
	}
}

func TestPrincipalsNone(t *testing.T) {
	ps, err := Principals("", func(string) string { return "" })
	if err != nil || ps != nil {
		t.Errorf("Principals with none = %v, %v; want nil, nil", ps, err)
	}
}

func TestControlAddrNeedsPrincipals(t *testing.T) {
	l, _ := testPlan(t)
	dir := t.TempDir()
	_, err := New(Config{Lab: l, Net: labnet.Options{ID: "dm", Prefix: testPrefix},
		DataDir: filepath.Join(dir, "data"), AuditLog: Off, ControlAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "--control-addr needs principals") {
		t.Fatalf("New = %v, want the principals error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
		t.Errorf("data dir after a refused New: %v, want none", err)
	}
}

// TestRun brings a lab up, checks its socket answers, and shuts down on
// the context: the socket, the lab's namespaces and the audit log's handle
// are gone afterwards.
func TestRun(t *testing.T) {
	if err := labnet.Check(); err != nil {
		t.Fatalf("%v\nthis test makes namespaces and TUN devices: run it as root", err)
	}
	l, p := testPlan(t)
	if err := labnet.Down(p); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := Config{Lab: l, Net: labnet.Options{ID: "dm", Prefix: testPrefix},
		DataDir: filepath.Join(dir, "data"), AuditLog: filepath.Join(dir, "audit.log"),
		Socket: filepath.Join(dir, "dm.sock"), MetricsAddr: "127.0.0.1:0", EC2Addr: "127.0.0.1:0"}
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d.Metrics == nil || d.Audit == nil || len(d.Servers) != 1 || d.Servers[0].Path() != cfg.Socket {
		t.Errorf("daemon = %+v, want metrics, audit and the socket %s", d, cfg.Socket)
	}
	st, _, err := control.NewClient(cfg.Socket).GetStatus(context.Background(), false)
	if err != nil {
		t.Fatalf("status over the socket: %v", err)
	}
	if st.Lab != "dm" || len(st.ENIs) != 1 || st.ENIs[0].Instance != "web" || st.ENIs[0].State != control.StateRunning {
		t.Errorf("status = %+v, want lab dm with web's ENI running", st)
	}
	// EC2's Query API, signed with the administrator key pair of the
	// file only root may read, changes the running lab.
	if st.EC2 == nil || st.EC2.URL != d.EC2.URL() || st.EC2.CredentialsFile != d.Paths.EC2Keys || st.EC2.Profile != EC2Profile {
		t.Errorf("status's EC2 API = %+v, want %s with %s", st.EC2, d.EC2.URL(), d.Paths.EC2Keys)
	}
	fi, err := os.Stat(d.Paths.EC2Keys)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v, %v; want mode 0600", fi, err)
	}
	id, secret := readKeys(t, d.Paths.EC2Keys)
	c := sdk.New(sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.EC2.URL()), Retryer: sdktest.Retryer(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
		})})
	if _, err := c.CreateSecurityGroup(context.Background(), &sdk.CreateSecurityGroupInput{GroupName: aws.String("sg-new"), Description: aws.String("new")}); err != nil {
		t.Fatalf("CreateSecurityGroup over the EC2 API: %v", err)
	}
	if d.Lab().Lab().Group("sg-new") == nil {
		t.Error("the running lab has no sg-new")
	}
	resp, err := http.Post(d.EC2.URL(), "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeVpcs&Version=2016-11-15"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned request: %s, want 401", resp.Status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d.Wait(ctx)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(d.Paths.EC2Keys); !os.IsNotExist(err) {
		t.Errorf("the key file after Close: %v, want none", err)
	}
	if _, err := os.Stat(cfg.Socket); !os.IsNotExist(err) {
		t.Errorf("socket after Close: %v, want none", err)
	}
	for _, ns := range p.Namespaces {
		if _, err := os.Stat(filepath.Join(labnet.NetnsDir, ns.Name)); !os.IsNotExist(err) {
			t.Errorf("namespace %s after Close: %v, want none", ns.Name, err)
		}
	}
}

// readKeys reads the key pair of an AWS credentials file.
func readKeys(t *testing.T, path string) (id, secret string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, " = ")
		switch k {
		case "aws_access_key_id":
			id = v
		case "aws_secret_access_key":
			secret = v
		}
	}
	if id == "" || secret == "" || !strings.Contains(string(data), "["+EC2Profile+"]") {
		t.Fatalf("%s is not a credentials file of profile %s:\n%s", path, EC2Profile, data)
	}
	return id, secret
}

func TestTopologyError(t *testing.T) {
	err := error(topologyError{live.ErrTopology})
	if !errors.Is(err, live.ErrTopology) || !errors.Is(err, control.ErrTopology) || err.Error() != live.ErrTopology.Error() {
		t.Errorf("topologyError = %q, want live's message matching live's and control's ErrTopology", err)
	}
	if live.StateRunning != control.StateRunning || live.StateStopped != control.StateStopped {
		t.Errorf("instance states: live %q/%q, control %q/%q", live.StateRunning, live.StateStopped, control.StateRunning, control.StateStopped)
	}
}

// TestUpTwiceAndMetricsPort: with the default metrics port taken (by
// another lab), up serves the metrics on a free port, says so once and
// status names it; up of a lab already up is refused with ErrBusy before
// anything is started (no audit log, no socket); a metrics address given
// that is taken fails up, leaving nothing behind.
func TestUpTwiceAndMetricsPort(t *testing.T) {
	if err := labnet.Check(); err != nil {
		t.Fatalf("%v\nthis test makes namespaces and TUN devices: run it as root", err)
	}
	l, p := testPlan(t)
	if err := labnet.Down(p); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", metrics.DefaultAddr)
	if err != nil && !strings.Contains(err.Error(), "address already in use") {
		t.Fatal(err)
	}
	if taken != nil {
		defer taken.Close()
	}
	dir := t.TempDir()
	config := func(name, metricsAddr string) (Config, *bytes.Buffer) {
		var warn bytes.Buffer
		return Config{Lab: l, Net: labnet.Options{ID: "dm", Prefix: testPrefix},
			DataDir: filepath.Join(dir, name, "data"), AuditLog: filepath.Join(dir, name, "audit.log"),
			Socket: filepath.Join(dir, name, "dm.sock"), MetricsAddr: metricsAddr, EC2Addr: Off, Warn: &warn}, &warn
	}
	cfg, warn := config("first", metrics.DefaultAddr)
	os.MkdirAll(filepath.Join(dir, "first"), 0o700)
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("up with the default metrics port taken: %v", err)
	}
	defer d.Close()
	if d.Metrics == nil || strings.Contains(d.Metrics.URL(), metrics.DefaultAddr) {
		t.Fatalf("metrics = %v, want a free port instead of %s", d.Metrics, metrics.DefaultAddr)
	}
	if w := warn.String(); strings.Count(w, "\n") != 1 || !strings.Contains(w, d.Metrics.URL()) {
		t.Errorf("warning %q, want one line naming %s", w, d.Metrics.URL())
	}
	st, _, err := control.NewClient(cfg.Socket).GetStatus(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Metrics != d.Metrics.URL() {
		t.Errorf("status's metrics %q, want %q", st.Metrics, d.Metrics.URL())
	}
	resp, err := http.Get(d.Metrics.URL())
	if err != nil {
		t.Fatalf("scraping %s: %v", d.Metrics.URL(), err)
	}
	resp.Body.Close()

	again, _ := config("second", "127.0.0.1:0")
	os.MkdirAll(filepath.Join(dir, "second"), 0o700)
	if _, err := New(again); !errors.Is(err, labnet.ErrBusy) {
		t.Errorf("up of a lab already up: %v, want ErrBusy", err)
	}
	for _, path := range []string{again.AuditLog, again.Socket, again.DataDir} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("the refused up made %s (%v)", path, err)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	// An address given that is taken: up fails and cleans up.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	given, _ := config("third", busy.Addr().String())
	os.MkdirAll(filepath.Join(dir, "third"), 0o700)
	if _, err := New(given); err == nil || !strings.Contains(err.Error(), busy.Addr().String()) {
		t.Errorf("up with --metrics-addr %s taken: %v, want an error naming it", busy.Addr(), err)
	}
	for _, ns := range p.Namespaces {
		if _, err := os.Stat(filepath.Join(labnet.NetnsDir, ns.Name)); !os.IsNotExist(err) {
			t.Errorf("namespace %s after the failed up: %v, want none", ns.Name, err)
		}
	}
}
