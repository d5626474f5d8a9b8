package integration

// The real aws CLI (Debian's awscli) driving a running lab through EC2's
// Query API (package ec2api), on live traffic: the lab of change_test.go,
// its endpoint served on a loopback port of the host with an
// administrator key pair, every connection opened inside the lab's
// namespaces.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/internal/sdktest"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/daemon"
	"github.com/vpclab/vpclab/ec2api"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/verdict"
)

// awsCLI is Debian's aws, by path: another aws on PATH (a pyenv shim, a
// pip install) may be another version or none.
const awsCLI = "/usr/bin/aws"

type awsEnv struct {
	t      *testing.T
	url    string
	home   string
	key    string
	secret string
}

// run runs the aws CLI with the endpoint and key pair of e and returns
// its standard output; stderr and the exit status are returned as err.
func (e *awsEnv) run(secret string, args ...string) ([]byte, error) {
	e.t.Helper()
	cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", e.url, "--output", "json", "--no-cli-pager"}, args...)...)
	cmd.Env = []string{"HOME=" + e.home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + e.key, "AWS_SECRET_ACCESS_KEY=" + secret,
		"AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=" + filepath.Join(e.home, "none"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(e.home, "none")}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &cliError{err: err, stderr: stderr.String()}
	}
	return out, nil
}

type cliError struct {
	err    error
	stderr string
}

func (e *cliError) Error() string { return e.err.Error() + ": " + e.stderr }

// ok runs the CLI, which must succeed, and decodes its JSON into v (if
// not nil).
func (e *awsEnv) ok(v any, args ...string) {
	e.t.Helper()
	out, err := e.run(e.secret, args...)
	if err != nil {
		e.t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	if v != nil {
		if err := json.Unmarshal(out, v); err != nil {
			e.t.Fatalf("aws %s: %v in %s", strings.Join(args, " "), err, out)
		}
	}
}

// ec2Start brings up the change tests' lab and serves its EC2 API with
// one administrator key pair and an audit log.
func ec2Start(t *testing.T, id string) (*live.Lab, *awsEnv, string) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		t.Fatalf("%s: %v: these tests run the aws CLI: install Debian's package awscli (apt-get install awscli; .ci/run does)", awsCLI, err)
	}
	return ec2Serve(t, id)
}

// ec2Serve is ec2Start without the CLI.
func ec2Serve(t *testing.T, id string) (*live.Lab, *awsEnv, string) {
	t.Helper()
	x := startLabFile(t, id, chgLab)
	for _, port := range []string{"7000", "7100", "7101", "7102", "7103", "7104", "7105"} {
		echoServer(t, x, "srv", chgSrvIP+":"+port)
	}
	ps := authz.New()
	key, secret := authz.NewAccessKey()
	if _, err := ps.AddAccessKey("admin", key, secret, authz.RoleNetworkAdmin, authz.RoleInstanceOperator); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.log")
	audit, err := authz.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { audit.Close() })
	s, err := ec2api.ListenTCP(daemon.EC2Lab(daemon.ControlLab(x), control.Options{}), "127.0.0.1:0", ec2api.Options{Principals: ps, Audit: audit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("closing the EC2 API: %v", err)
		}
	})
	return x, &awsEnv{t: t, url: s.URL(), home: dir, key: key, secret: secret}, auditPath
}

// TestAWSCLI: with the aws CLI, create a group, authorize a port and
// attach the group to srv's interface: a real connection cli → srv on
// that port passes. Revoke the rule: the next connection is dropped, the
// tracked one lives on, and describe shows the group without the rule. A
// wrongly signed request is refused and audited.
func TestAWSCLI(t *testing.T) {
	x, aws, auditPath := ec2Start(t, "ec2-cli")
	chgDropped(t, x, "7100")

	var created struct{ GroupId string }
	aws.ok(&created, "ec2", "create-security-group", "--group-name", "sg-api", "--description", "made by the aws CLI", "--vpc-id", "vpc-chg")
	if created.GroupId != "sg-api" {
		t.Fatalf("create-security-group: GroupId %q", created.GroupId)
	}
	perm := `[{"IpProtocol": "tcp", "FromPort": 7100, "ToPort": 7100, "IpRanges": [{"CidrIp": "10.0.1.0/24", "Description": "cli's subnet"}]}]`
	var auth struct {
		Return             bool
		SecurityGroupRules []struct{ SecurityGroupRuleId string }
	}
	aws.ok(&auth, "ec2", "authorize-security-group-ingress", "--group-id", "sg-api", "--ip-permissions", perm)
	if !auth.Return || len(auth.SecurityGroupRules) != 1 {
		t.Fatalf("authorize-security-group-ingress: %+v", auth)
	}
	aws.ok(nil, "ec2", "modify-network-interface-attribute", "--network-interface-id", "eni-srv", "--groups", "sg-srv", "sg-api")

	conn := chgDial(t, x, "7100")

	aws.ok(nil, "ec2", "revoke-security-group-ingress", "--group-id", "sg-api", "--ip-permissions", perm)
	chgDropped(t, x, "7100")
	wantDenied(t, x, "eni-cli", verdict.StageSGIngress)
	echo(t, conn, []byte("tracked: still going after the aws CLI's revoke"))

	var desc struct {
		SecurityGroups []struct {
			GroupId             string
			Description         string
			IpPermissions       []any
			IpPermissionsEgress []struct{ IpProtocol string }
		}
	}
	aws.ok(&desc, "ec2", "describe-security-groups", "--group-ids", "sg-api")
	if len(desc.SecurityGroups) != 1 || desc.SecurityGroups[0].Description != "made by the aws CLI" || len(desc.SecurityGroups[0].IpPermissions) != 0 ||
		len(desc.SecurityGroups[0].IpPermissionsEgress) != 1 || desc.SecurityGroups[0].IpPermissionsEgress[0].IpProtocol != "-1" {
		t.Errorf("describe-security-groups after the revoke: %+v", desc)
	}
	var enis struct {
		NetworkInterfaces []struct{ Groups []struct{ GroupId string } }
	}
	aws.ok(&enis, "ec2", "describe-network-interfaces", "--network-interface-ids", "eni-srv")
	if len(enis.NetworkInterfaces) != 1 || len(enis.NetworkInterfaces[0].Groups) != 2 || enis.NetworkInterfaces[0].Groups[1].GroupId != "sg-api" {
		t.Errorf("describe-network-interfaces eni-srv: %+v", enis)
	}

	// A NACL entry denying cli's subnet cuts srv:7000 at the next packet.
	c7000 := chgDial(t, x, "7000")
	aws.ok(nil, "ec2", "create-network-acl-entry", "--network-acl-id", "acl-srv", "--rule-number", "50", "--protocol", "6",
		"--rule-action", "deny", "--ingress", "--cidr-block", "10.0.1.0/24", "--port-range", "From=7000,To=7000")
	chgStalled(t, c7000, []byte("cut by the NACL entry"))
	aws.ok(nil, "ec2", "delete-network-acl-entry", "--network-acl-id", "acl-srv", "--rule-number", "50", "--ingress")
	chgResumed(t, c7000, []byte("cut by the NACL entry"))

	// Refused: a wrong signature, a duplicate; each is EC2's error.
	if _, err := aws.run("wrong-secret-key-0123456789abcdefghijklm", "ec2", "describe-vpcs"); err == nil || !strings.Contains(err.Error(), "AuthFailure") {
		t.Errorf("a wrongly signed describe-vpcs: %v, want AuthFailure", err)
	}
	aws.ok(nil, "ec2", "authorize-security-group-ingress", "--group-id", "sg-api", "--ip-permissions", perm)
	if _, err := aws.run(aws.secret, "ec2", "authorize-security-group-ingress", "--group-id", "sg-api", "--ip-permissions", perm); err == nil ||
		!strings.Contains(err.Error(), "InvalidPermission.Duplicate") {
		t.Errorf("a duplicate rule: %v, want InvalidPermission.Duplicate", err)
	}
	if _, err := aws.run(aws.secret, "ec2", "delete-security-group", "--group-id", "sg-api"); err == nil || !strings.Contains(err.Error(), "DependencyViolation") {
		t.Errorf("deleting a group in use: %v, want DependencyViolation", err)
	}
	if _, err := aws.run(aws.secret, "ec2", "authorize-security-group-ingress", "--group-id", "sg-srv", "--dry-run", "--ip-permissions",
		`[{"IpProtocol": "tcp", "FromPort": 7300, "ToPort": 7300, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}]`); err == nil || !strings.Contains(err.Error(), "DryRunOperation") {
		t.Errorf("a dry run: %v, want DryRunOperation", err)
	}
	var id struct{ Arn string }
	aws.ok(&id, "sts", "get-caller-identity")
	if id.Arn != "arn:aws:iam::123456789012:user/admin" {
		t.Errorf("get-caller-identity: %+v", id)
	}

	log, err := os.ReadFile(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"principal":"","action":"ec2:DescribeVpcs","resource":"","result":"unauthenticated"`,
		`"principal":"admin","action":"ec2:RevokeSecurityGroupIngress","resource":"arn:aws:ec2:us-east-1:123456789012:security-group/sg-api","result":"applied"`,
		`"principal":"admin","action":"ec2:CreateSecurityGroup","resource":"arn:aws:ec2:us-east-1:123456789012:security-group/sg-api","result":"applied"`,
	} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("the audit log lacks %s:\n%s", want, log)
		}
	}
}

// TestEC2APIFirstPacket: the first packet after AuthorizeSecurityGroupIngress
// answers is judged by the new rule: the change is in force before the
// answer leaves. Each time, cli dials a port the rule opens as soon as the
// SDK has the answer: the first SYN passes (a dropped one would be
// retransmitted a second later), and the time from the answer to the
// connection is at most 10 ms (the median of five).
func TestEC2APIFirstPacket(t *testing.T) {
	x, e, _ := ec2Serve(t, "ec2-first")
	c := sdk.New(sdk.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Retryer: sdktest.Retryer(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: e.key, SecretAccessKey: e.secret}, nil
		})})
	var took []time.Duration
	for port := 7101; port <= 7105; port++ {
		p := strconv.Itoa(port)
		chgDropped(t, x, p)
		_, err := c.AuthorizeSecurityGroupIngress(context.Background(), &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-srv"),
			IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(port)), ToPort: aws.Int32(int32(port)),
				IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.1.0/24")}}}}})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		conn, err := dial(t, x, "cli", chgSrvIP+":"+p, 0, 5*time.Second)
		d := time.Since(start)
		if err != nil {
			t.Fatalf("cli → srv:%s right after the answer: %v", p, err)
		}
		conn.Close()
		if d >= 900*time.Millisecond {
			t.Errorf("srv:%s: connected %v after the answer: the first SYN was dropped", p, d)
		}
		took = append(took, d)
	}
	slices.Sort(took)
	t.Logf("from the answer to the connection (SYN, SYN-ACK, ACK through the lab): %v; median %v", took, took[2])
	if took[2] > 10*time.Millisecond {
		t.Errorf("median %v from the answer to the connection, want at most 10ms", took[2])
	}
}
