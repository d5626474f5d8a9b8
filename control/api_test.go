package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/lab/labfile"
)

const (
	adminToken  = "admin-0123456789abcdef"
	viewerToken = "viewer-0123456789abcdef"
	opToken     = "operator-0123456789abcdef"
)

const principalsFile = `principals:
  - {name: alice, token: ` + adminToken + `, roles: [network-admin]}
  - {name: victor, token: ` + viewerToken + `, roles: [viewer]}
  - {name: oscar, token: ` + opToken + `, roles: [instance-operator]}
`

func ec2Call(t *testing.T, c *Client, action, body string) ([]byte, error) {
	t.Helper()
	return c.EC2(context.Background(), action, []byte(body))
}

func wantEC2Error(t *testing.T, err error, code string) {
	t.Helper()
	var e *EC2CallError
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("got %v, want EC2 error %s", err, code)
	}
}

// TestAPIChanges drives the change endpoints on a running lab without
// principals (the unix socket's peer may do everything).
func TestAPIChanges(t *testing.T) {
	x, l := startLab(t)
	path := filepath.Join(t.TempDir(), "lab.sock")
	listen(t, x, l, path)
	c := NewClient(path)
	c.Token = ""

	resp, err := ec2Call(t, c, "AuthorizeSecurityGroupIngress", `{"GroupId": "sg-app", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9000, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Return             bool
		SecurityGroupRules []struct{ SecurityGroupRuleId string }
	}
	if json.Unmarshal(resp, &out) != nil || !out.Return || len(out.SecurityGroupRules) != 1 {
		t.Fatalf("response %s", resp)
	}
	if in := x.Lab().Group("sg-app").Ingress; len(in) != 2 || in[1].ID != out.SecurityGroupRules[0].SecurityGroupRuleId {
		t.Fatalf("sg-app ingress after authorize: %+v", in)
	}
	before := x.Lab()
	_, err = ec2Call(t, c, "authorize-security-group-ingress", `{"GroupId": "sg-app", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9000, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}]}`)
	wantEC2Error(t, err, "InvalidPermission.Duplicate")
	_, err = ec2Call(t, c, "AuthorizeSecurityGroupIngress", `{"GroupId": "sg-app", "IpPermissions": [`)
	wantEC2Error(t, err, "MalformedRequest")
	_, err = ec2Call(t, c, "CreateVpc", `{}`)
	wantEC2Error(t, err, "InvalidAction")
	if x.Lab() != before {
		t.Error("a refused change replaced the lab in force")
	}

	// The lab in force reads back, and a whole lab applies.
	data, err := c.GetLab(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got, err := labfile.Parse("got.yaml", data)
	if err != nil || len(got.Group("sg-app").Ingress) != 2 {
		t.Fatalf("GET /v1/lab: %v\n%s", err, data)
	}
	if err := c.PutLab(context.Background(), "control.yaml", []byte(testLab)); err != nil {
		t.Fatal(err)
	}
	if in := x.Lab().Group("sg-app").Ingress; len(in) != 1 || x.Lab().File != "control.yaml" {
		t.Errorf("after PUT /v1/lab: %+v", in)
	}
	before = x.Lab()
	err = c.PutLab(context.Background(), "bad.yaml", []byte(strings.Replace(testLab, "ports: 8080", "ports: 80800", 1)))
	if err == nil || !strings.Contains(err.Error(), "bad.yaml:") || !strings.Contains(err.Error(), "ports") {
		t.Errorf("invalid lab: %v", err)
	}
	err = c.PutLab(context.Background(), "moved.yaml", []byte(strings.Replace(testLab, "ip: 10.0.2.10", "ip: 10.0.2.11", 1)))
	if err == nil || !strings.Contains(err.Error(), "addresses of eni-app") {
		t.Errorf("topology change: %v", err)
	}
	if x.Lab() != before {
		t.Error("a refused lab replaced the lab in force")
	}

	// Stop and start an instance.
	resp, err = ec2Call(t, c, "StopInstances", `{"InstanceIds": ["app"]}`)
	if err != nil || !strings.Contains(string(resp), `"Name": "stopped"`) || !strings.Contains(string(resp), `"Code": 16`) {
		t.Errorf("StopInstances: %s, %v", resp, err)
	}
	if st := status(t, path, false); eni(t, st, "eni-app").State != "stopped" || eni(t, st, "eni-web").State != "running" {
		t.Errorf("states after stop: %+v", st.ENIs)
	}
	_, err = ec2Call(t, c, "StartInstances", `{"InstanceIds": ["app", "nope"]}`)
	wantEC2Error(t, err, "InvalidInstanceID.NotFound")
	if x.InstanceState("app") != "stopped" {
		t.Error("a refused StartInstances started an instance")
	}
	if _, err = ec2Call(t, c, "StartInstances", `{"InstanceIds": ["app"]}`); err != nil || x.InstanceState("app") != "running" {
		t.Errorf("StartInstances: %v, state %s", err, x.InstanceState("app"))
	}

	// An oversized body is refused cleanly.
	big := `{"GroupId": "sg-app", "IpPermissions": [], "x": "` + strings.Repeat("a", maxEC2Body) + `"}`
	_, err = ec2Call(t, c, "AuthorizeSecurityGroupIngress", big)
	if err == nil || !strings.Contains(err.Error(), "413") {
		t.Errorf("oversized body: %v", err)
	}
}

// TestAPIAuthorization checks each role against the endpoints, the 401s
// and 403s, and the audit log.
func TestAPIAuthorization(t *testing.T) {
	x, l := startLab(t)
	dir := t.TempDir()
	pf := filepath.Join(dir, "principals.yaml")
	if err := os.WriteFile(pf, []byte(principalsFile), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := authz.Load(pf)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := authz.Open(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer audit.Close()
	path := filepath.Join(dir, "lab.sock")
	s, err := Listen(asLab(x), path, Options{Principals: ps, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_ = l
	as := func(token string) *Client { c := NewClient(path); c.Token = token; return c }
	const authorize = `{"GroupId": "sg-app", "IpPermissions": [{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}]}`
	const groups = `{"NetworkInterfaceId": "eni-app", "Groups": ["sg-app", "sg-web"]}`

	if _, _, err := as("").GetStatus(context.Background(), false); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("status without a token: %v", err)
	}
	if _, _, err := as("not-a-token-0123456789").GetStatus(context.Background(), false); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("status with an unknown token: %v", err)
	}
	if _, err := as("").EC2(context.Background(), "AuthorizeSecurityGroupIngress", []byte(authorize)); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("change without a token: %v", err)
	}
	if _, err := as("not-a-token-0123456789").EC2(context.Background(), "AuthorizeSecurityGroupIngress", []byte(authorize)); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("change with an unknown token: %v", err)
	}
	for _, tok := range []string{viewerToken, opToken} {
		if _, _, err := as(tok).GetStatus(context.Background(), false); err != nil {
			t.Errorf("status as %s: %v", tok, err)
		}
		_, err := as(tok).EC2(context.Background(), "AuthorizeSecurityGroupIngress", []byte(authorize))
		if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "ec2:AuthorizeSecurityGroupIngress") {
			t.Errorf("authorize as %s: %v, want 403 naming the action", tok, err)
		}
		if err := as(tok).PutLab(context.Background(), "x.yaml", []byte(testLab)); err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("apply as %s: %v", tok, err)
		}
	}
	if len(x.Lab().Group("sg-app").Ingress) != 1 {
		t.Fatal("a refused principal changed the lab")
	}
	if _, err := as(viewerToken).EC2(context.Background(), "ModifyNetworkInterfaceAttribute", []byte(groups)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("viewer changed groups: %v", err)
	}
	if _, err := as(opToken).EC2(context.Background(), "ModifyNetworkInterfaceAttribute", []byte(groups)); err != nil {
		t.Errorf("operator attaching groups: %v", err)
	}
	if _, err := as(adminToken).EC2(context.Background(), "AuthorizeSecurityGroupIngress", []byte(authorize)); err != nil {
		t.Errorf("admin authorizing: %v", err)
	}
	if _, err := as(viewerToken).EC2(context.Background(), "StopInstances", []byte(`{"InstanceIds": ["app"]}`)); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("viewer stopping an instance: %v", err)
	}
	if _, err := as(opToken).EC2(context.Background(), "StopInstances", []byte(`{"InstanceIds": ["app"]}`)); err != nil || x.InstanceState("app") != "stopped" {
		t.Errorf("operator stopping an instance: %v", err)
	}
	if got := x.Lab(); len(got.Group("sg-app").Ingress) != 2 || len(got.Interface("eni-app").SecurityGroups) != 2 {
		t.Errorf("after the allowed changes: %+v, %v", got.Group("sg-app").Ingress, got.Interface("eni-app").SecurityGroups)
	}

	// The audit log: one line per change attempt, in order.
	f, err := os.Open(audit.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var results []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e authz.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		if e.Time.IsZero() || !strings.HasPrefix(e.Remote, "unix uid=") {
			t.Errorf("audit entry %+v: no time or remote", e)
		}
		results = append(results, fmt.Sprintf("%s %s %s", e.Principal, e.Action, e.Result))
	}
	want := []string{
		" vpclab:GetStatus unauthenticated", // failed authentications of reads are recorded too
		" vpclab:GetStatus unauthenticated",
		" ec2:AuthorizeSecurityGroupIngress unauthenticated",
		" ec2:AuthorizeSecurityGroupIngress unauthenticated",
		"victor ec2:AuthorizeSecurityGroupIngress denied",
		"victor vpclab:ApplyLab denied",
		"oscar ec2:AuthorizeSecurityGroupIngress denied",
		"oscar vpclab:ApplyLab denied",
		"victor ec2:ModifyNetworkInterfaceAttribute denied",
		"oscar ec2:ModifyNetworkInterfaceAttribute allowed",
		"oscar ec2:ModifyNetworkInterfaceAttribute applied",
		"alice ec2:AuthorizeSecurityGroupIngress allowed",
		"alice ec2:AuthorizeSecurityGroupIngress applied",
		"victor ec2:StopInstances denied",
		"oscar ec2:StopInstances allowed",
		"oscar ec2:StopInstances applied",
	}
	if strings.Join(results, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant\n%s", strings.Join(results, "\n"), strings.Join(want, "\n"))
	}

	// The audit log fails closed: no entry, no change.
	audit.Close()
	before := x.Lab()
	_, err = as(adminToken).EC2(context.Background(), "RevokeSecurityGroupIngress", []byte(strings.Replace(authorize, `"GroupId"`, `"GroupId"`, 1)))
	if err == nil || !strings.Contains(err.Error(), "503") || x.Lab() != before {
		t.Errorf("change with the audit log closed: %v (lab replaced: %v)", err, x.Lab() != before)
	}
}

// TestSlowClient: a client that never finishes its headers is cut off,
// and others are served meanwhile.
func TestSlowClient(t *testing.T) {
	saved := readHeaderTimeout
	readHeaderTimeout = 300 * time.Millisecond
	defer func() { readHeaderTimeout = saved }()
	x, l := startLab(t)
	path := filepath.Join(t.TempDir(), "lab.sock")
	listen(t, x, l, path)
	slow, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /v1/ec2/AuthorizeSecurityGroupIngress HTTP/1.1\r\nHost: vpclab\r\n")
	if _, _, err := NewClient(path).GetStatus(context.Background(), false); err != nil {
		t.Errorf("status while a client is slow: %v", err)
	}

	// Traffic goes on meanwhile: an echo across the lab, while the slow
	// client hangs and a malformed and an oversized request are refused.
	conn := echoConn(t, x)
	c := NewClient(path)
	c.Token = ""
	for i := range 20 {
		switch i % 2 {
		case 0:
			ec2Call(t, c, "AuthorizeSecurityGroupIngress", `{"GroupId": `)
		case 1:
			ec2Call(t, c, "AuthorizeSecurityGroupIngress", `{"x": "`+strings.Repeat("a", maxEC2Body)+`"}`)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		msg := []byte(fmt.Sprintf("echo %d while bad requests are refused", i))
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo %d: %q, %v", i, got, err)
		}
	}
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(slow), nil)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("slow client got %s", resp.Status)
		}
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Error("the server kept the slow client's connection open")
	}
}

// TestAPIPathsAndResources: files named over the API stay under the data
// directory, and a call naming several resources is authorized on each.
func TestAPIPathsAndResources(t *testing.T) {
	x, _ := startLab(t)
	dir := t.TempDir()
	pf := filepath.Join(dir, "principals.yaml")
	const guarded = principalsFile + `  - name: gina
    token: gina-0123456789abcdef
    roles: [network-admin]
    policies:
      - Version: "2012-10-17"
        Statement:
          - {Effect: Deny, Action: "ec2:CreateFlowLogs", Resource: "arn:aws:ec2:*:*:subnet/subnet-b"}
`
	if err := os.WriteFile(pf, []byte(guarded), 0o600); err != nil {
		t.Fatal(err)
	}
	ps, err := authz.Load(pf)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	path := filepath.Join(dir, "lab.sock")
	s, err := Listen(asLab(x), path, Options{Principals: ps, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := NewClient(path)
	c.Token = adminToken
	for _, dest := range []string{"/etc/vpclab-test", "../escape", "a/../../b"} {
		_, err := c.EC2(context.Background(), "CreateFlowLogs", []byte(fmt.Sprintf(`{"ResourceIds": ["vpc-ct"], "ResourceType": "VPC", "LogDestination": %q}`, dest)))
		wantEC2Error(t, err, "InvalidParameterValue")
		if _, serr := os.Stat("/etc/vpclab-test"); serr == nil {
			t.Fatal("a flow log was created in /etc")
		}
	}
	if len(x.Lab().FlowLogs) != 0 {
		t.Fatalf("refused flow logs were added: %+v", x.Lab().FlowLogs)
	}
	if _, err := c.EC2(context.Background(), "CreateFlowLogs", []byte(`{"ResourceIds": ["vpc-ct"], "ResourceType": "VPC", "LogDestination": "flows"}`)); err != nil {
		t.Fatal(err)
	}
	if got := x.Lab().FlowLogs; len(got) != 1 || got[0].Destination != filepath.Join(data, "flows") {
		t.Errorf("flow log destination: %+v, want under %s", got, data)
	}
	// A lab file putting a pcap target outside is refused too.
	bad := testLab + "traffic_mirror_filters: [{id: f}]\ntraffic_mirror_targets: [{id: t, pcap_file: /etc/vpclab-test.pcap}]\ntraffic_mirror_sessions: [{id: s, number: 1, source: eni-web, target: t, filter: f}]\n"
	if err := c.PutLab(context.Background(), "bad.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), "relative") {
		t.Errorf("pcap target in /etc: %v", err)
	}
	if _, serr := os.Stat("/etc/vpclab-test.pcap"); serr == nil {
		os.Remove("/etc/vpclab-test.pcap")
		t.Fatal("a pcap file was created in /etc")
	}

	// gina may create flow logs, except on subnet-b: naming it beside
	// another subnet does not get round the Deny.
	g := NewClient(path)
	g.Token = "gina-0123456789abcdef"
	_, err = g.EC2(context.Background(), "CreateFlowLogs", []byte(`{"ResourceIds": ["subnet-a", "subnet-b"], "ResourceType": "Subnet", "LogDestination": "g"}`))
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "subnet/subnet-b") {
		t.Errorf("two subnets, one denied: %v", err)
	}
	if _, err := g.EC2(context.Background(), "CreateFlowLogs", []byte(`{"ResourceIds": ["subnet-a"], "ResourceType": "Subnet", "LogDestination": "g"}`)); err != nil {
		t.Errorf("subnet-a alone: %v", err)
	}
}
