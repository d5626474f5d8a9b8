package ec2api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpclab/vpclab/internal/sdktest"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2api"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
)

// memLab is a lab in memory, changed as a running lab is: each change
// applies to what the previous one left.
type memLab struct {
	mu      sync.Mutex
	l       *lab.Lab
	stopped map[string]bool
}

func (m *memLab) Lab() *lab.Lab {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.l
}

func (m *memLab) Change(c change.Change) (any, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	next, resp, err := change.Do(m.l, c)
	if err != nil {
		return nil, err
	}
	m.l = next
	return resp, nil
}

func (m *memLab) SetInstanceState(name string, running bool) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	prev := m.state(name)
	m.stopped[name] = !running
	return prev, nil
}

func (m *memLab) InstanceState(name string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state(name)
}

func (m *memLab) state(name string) string {
	if m.l.Instance(name) == nil {
		return ""
	}
	if m.stopped[name] {
		return "stopped"
	}
	return "running"
}

const (
	adminKey    = "AKIAVPCLABADMIN00001"
	adminSecret = "admin-secret-key-0123456789abcdef"
	viewerKey   = "AKIAVPCLABVIEWER0001"
	viewerSec   = "viewer-secret-key-0123456789abcde"
)

const principalsFile = `principals:
  - name: alice
    access_key_id: ` + adminKey + `
    secret_access_key: ` + adminSecret + `
    roles: [network-admin, instance-operator]
  - name: victor
    access_key_id: ` + viewerKey + `
    secret_access_key: ` + viewerSec + `
    roles: [viewer]
`

type env struct {
	t     testing.TB
	lab   *memLab
	url   string
	audit string
}

// start serves the example lab over httptest, with the principals above
// and an audit log.
func start(t testing.TB) *env {
	t.Helper()
	current = t
	ps, err := authz.Parse("principals.yaml", []byte(principalsFile))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	audit, err := authz.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { audit.Close() })
	m := &memLab{l: labfile.ExampleLab(), stopped: map[string]bool{}}
	srv := httptest.NewServer(ec2api.Handler(m, ec2api.Options{Principals: ps, Audit: audit}))
	t.Cleanup(srv.Close)
	return &env{t: t, lab: m, url: srv.URL, audit: path}
}

func (e *env) client(key, secret string) *sdk.Client {
	return sdk.New(sdk.Options{Region: "eu-west-3", BaseEndpoint: aws.String(e.url), Retryer: sdktest.Retryer(),
		Credentials: aws.NewCredentialsCache(credentials(key, secret))})
}

type staticCreds struct{ c aws.Credentials }

func (s staticCreds) Retrieve(context.Context) (aws.Credentials, error) { return s.c, nil }

func credentials(key, secret string) aws.CredentialsProvider {
	return staticCreds{aws.Credentials{AccessKeyID: key, SecretAccessKey: secret, Source: "test"}}
}

// code is the EC2 error code of err, "" for none.
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func (e *env) auditLog() string {
	b, err := os.ReadFile(e.audit)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

// current is the running test, for must: the tests here do not run in
// parallel.
var current testing.TB

// must fails the current test on err.
func must[T any](v T, err error) T {
	current.Helper()
	if err != nil {
		current.Fatal(err)
	}
	return v
}

func wantCode(t *testing.T, what string, err error, want string) {
	t.Helper()
	if got := code(err); got != want {
		t.Errorf("%s: error %v (code %q), want %s", what, err, got, want)
	}
}

func TestSecurityGroups(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()

	out := must(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{"sg-web"}}))
	if len(out.SecurityGroups) != 1 {
		t.Fatalf("DescribeSecurityGroups(sg-web): %d groups", len(out.SecurityGroups))
	}
	g := out.SecurityGroups[0]
	if aws.ToString(g.GroupId) != "sg-web" || aws.ToString(g.GroupName) != "sg-web" || aws.ToString(g.Description) != "web servers" ||
		aws.ToString(g.VpcId) != "vpc-example" || aws.ToString(g.OwnerId) != "123456789012" {
		t.Errorf("sg-web: %+v", g)
	}
	// 80 from 0.0.0.0/0 and ::/0 is one permission with two peers.
	var p80 *types.IpPermission
	for i, p := range g.IpPermissions {
		if aws.ToString(p.IpProtocol) == "tcp" && aws.ToInt32(p.FromPort) == 80 {
			p80 = &g.IpPermissions[i]
		}
	}
	if p80 == nil || len(p80.IpRanges) != 1 || aws.ToString(p80.IpRanges[0].CidrIp) != "0.0.0.0/0" || len(p80.Ipv6Ranges) != 1 {
		t.Errorf("sg-web's port 80: %+v", p80)
	}
	if len(g.IpPermissionsEgress) != 1 || aws.ToString(g.IpPermissionsEgress[0].IpProtocol) != "-1" || g.IpPermissionsEgress[0].FromPort != nil {
		t.Errorf("sg-web's egress: %+v", g.IpPermissionsEgress)
	}

	// Authorize, see it in force and described; a duplicate is refused.
	perm := types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(9000), ToPort: aws.Int32(9000),
		IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.1.0/24"), Description: aws.String("from web")}}}
	auth := must(c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-app"), IpPermissions: []types.IpPermission{perm}}))
	if !aws.ToBool(auth.Return) || len(auth.SecurityGroupRules) != 1 || !strings.HasPrefix(aws.ToString(auth.SecurityGroupRules[0].SecurityGroupRuleId), "sgr-") ||
		aws.ToString(auth.SecurityGroupRules[0].CidrIpv4) != "10.0.1.0/24" || aws.ToInt32(auth.SecurityGroupRules[0].FromPort) != 9000 {
		t.Errorf("AuthorizeSecurityGroupIngress: %+v", auth)
	}
	ruleID := aws.ToString(auth.SecurityGroupRules[0].SecurityGroupRuleId)
	if in := e.lab.Lab().Group("sg-app").Ingress; len(in) != 2 || in[1].FromPort != 9000 || in[1].ID != ruleID {
		t.Errorf("sg-app in force: %+v", in)
	}
	_, err := c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-app"), IpPermissions: []types.IpPermission{perm}})
	wantCode(t, "a duplicate", err, "InvalidPermission.Duplicate")
	_, err = c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-nope"), IpPermissions: []types.IpPermission{perm}})
	wantCode(t, "an unknown group", err, "InvalidGroup.NotFound")
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{"sg-nope"}})
	wantCode(t, "describing an unknown group", err, "InvalidGroup.NotFound")

	rules := must(c.DescribeSecurityGroupRules(ctx, &sdk.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{"sg-app"}}}}))
	var found bool
	for _, r := range rules.SecurityGroupRules {
		if aws.ToString(r.GroupId) != "sg-app" {
			t.Errorf("filter group-id=sg-app gave a rule of %s", aws.ToString(r.GroupId))
		}
		found = found || aws.ToString(r.SecurityGroupRuleId) == ruleID
	}
	if !found || len(rules.SecurityGroupRules) != 4 { // 8080 from sg-web, 9000, all out to 0.0.0.0/0 and ::/0
		t.Errorf("sg-app's rules: %d, %s found: %v", len(rules.SecurityGroupRules), ruleID, found)
	}

	// Revoke by id, and by permission; revoking it again is NotFound.
	must(c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String("sg-app"), SecurityGroupRuleIds: []string{ruleID}}))
	if in := e.lab.Lab().Group("sg-app").Ingress; len(in) != 1 {
		t.Errorf("after revoke by id: %+v", in)
	}
	_, err = c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String("sg-app"), IpPermissions: []types.IpPermission{perm}})
	wantCode(t, "revoking what is not there", err, "InvalidPermission.NotFound")
	must(c.RevokeSecurityGroupEgress(ctx, &sdk.RevokeSecurityGroupEgressInput{GroupId: aws.String("sg-app"), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}))
	if eg := e.lab.Lab().Group("sg-app").Egress; len(eg) != 1 || eg[0].CIDR.String() != "::/0" {
		t.Errorf("after revoking the egress rule: %+v", eg)
	}
	must(c.AuthorizeSecurityGroupEgress(ctx, &sdk.AuthorizeSecurityGroupEgressInput{GroupId: aws.String("sg-app"), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("udp"), FromPort: aws.Int32(53), ToPort: aws.Int32(53), Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}}}}))

	// Create, refuse while in use, delete.
	cr := must(c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("cache"), Description: aws.String("the cache"), VpcId: aws.String("vpc-example")}))
	if aws.ToString(cr.GroupId) != "cache" || !strings.HasSuffix(aws.ToString(cr.SecurityGroupArn), ":security-group/cache") {
		t.Errorf("CreateSecurityGroup: %+v", cr)
	}
	_, err = c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("cache"), Description: aws.String("again")})
	wantCode(t, "a second group of the name", err, "InvalidGroup.Duplicate")
	_, err = c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String("sg-web")})
	wantCode(t, "deleting a group in use", err, "DependencyViolation")
	must(c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String("cache")}))
	if e.lab.Lab().Group("cache") != nil {
		t.Error("the group cache is still there")
	}
}

func TestPagination(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	for _, n := range []string{"g1", "g2", "g3", "g4", "g5", "g6", "g7"} {
		must(c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String(n), Description: aws.String(n)}))
	}
	pages := sdk.NewDescribeSecurityGroupsPaginator(c, &sdk.DescribeSecurityGroupsInput{MaxResults: aws.Int32(5)})
	var ids []string
	var n int
	for pages.HasMorePages() {
		out := must(pages.NextPage(ctx))
		n++
		for _, g := range out.SecurityGroups {
			ids = append(ids, aws.ToString(g.GroupId))
		}
	}
	// default, sg-web, sg-app, sg-db and the seven: 11 in pages of 5.
	if n != 3 || len(ids) != 11 || ids[0] != "default" || ids[10] != "g7" {
		t.Errorf("%d pages: %v", n, ids)
	}
	_, err := c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{MaxResults: aws.Int32(2)})
	wantCode(t, "MaxResults 2", err, "InvalidParameterValue")
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{NextToken: aws.String("bogus")})
	wantCode(t, "a bogus token", err, "InvalidPaginationToken")
	_, err = c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("colour"), Values: []string{"red"}}}})
	wantCode(t, "an unknown filter", err, "InvalidParameterValue")
	out := must(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("group-name"), Values: []string{"g*", "sg-d?"}}}}))
	if len(out.SecurityGroups) != 8 {
		t.Errorf("group-name g* or sg-d?: %d groups", len(out.SecurityGroups))
	}
}

func TestNetworkACLs(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	must(c.CreateNetworkAclEntry(ctx, &sdk.CreateNetworkAclEntryInput{NetworkAclId: aws.String("acl-db"), RuleNumber: aws.Int32(50),
		Protocol: aws.String("6"), RuleAction: types.RuleActionDeny, Egress: aws.Bool(false), CidrBlock: aws.String("10.0.2.99/32"),
		PortRange: &types.PortRange{From: aws.Int32(5432), To: aws.Int32(5432)}}))
	_, err := c.CreateNetworkAclEntry(ctx, &sdk.CreateNetworkAclEntryInput{NetworkAclId: aws.String("acl-db"), RuleNumber: aws.Int32(50),
		Protocol: aws.String("-1"), RuleAction: types.RuleActionAllow, Egress: aws.Bool(false), CidrBlock: aws.String("0.0.0.0/0")})
	wantCode(t, "a second entry 50", err, "NetworkAclEntryAlreadyExists")
	must(c.ReplaceNetworkAclEntry(ctx, &sdk.ReplaceNetworkAclEntryInput{NetworkAclId: aws.String("acl-db"), RuleNumber: aws.Int32(50),
		Protocol: aws.String("1"), RuleAction: types.RuleActionAllow, Egress: aws.Bool(false), CidrBlock: aws.String("10.0.0.0/16"),
		IcmpTypeCode: &types.IcmpTypeCode{Type: aws.Int32(8), Code: aws.Int32(-1)}}))
	out := must(c.DescribeNetworkAcls(ctx, &sdk.DescribeNetworkAclsInput{NetworkAclIds: []string{"acl-db"}}))
	if len(out.NetworkAcls) != 1 {
		t.Fatalf("%d ACLs", len(out.NetworkAcls))
	}
	a := out.NetworkAcls[0]
	var e50 *types.NetworkAclEntry
	var implicit int
	for i, x := range a.Entries {
		if aws.ToInt32(x.RuleNumber) == 50 && !aws.ToBool(x.Egress) {
			e50 = &a.Entries[i]
		}
		if aws.ToInt32(x.RuleNumber) == 32767 {
			implicit++
		}
	}
	if e50 == nil || aws.ToString(e50.Protocol) != "1" || e50.RuleAction != types.RuleActionAllow || e50.IcmpTypeCode == nil ||
		aws.ToInt32(e50.IcmpTypeCode.Type) != 8 || aws.ToString(e50.CidrBlock) != "10.0.0.0/16" {
		t.Errorf("entry 50: %+v", e50)
	}
	if implicit != 2 || len(a.Associations) != 1 || aws.ToString(a.Associations[0].SubnetId) != "subnet-db" || aws.ToBool(a.IsDefault) {
		t.Errorf("acl-db: implicit denies %d, associations %+v, default %v", implicit, a.Associations, aws.ToBool(a.IsDefault))
	}
	must(c.DeleteNetworkAclEntry(ctx, &sdk.DeleteNetworkAclEntryInput{NetworkAclId: aws.String("acl-db"), RuleNumber: aws.Int32(50), Egress: aws.Bool(false)}))
	_, err = c.DeleteNetworkAclEntry(ctx, &sdk.DeleteNetworkAclEntryInput{NetworkAclId: aws.String("acl-db"), RuleNumber: aws.Int32(50), Egress: aws.Bool(false)})
	wantCode(t, "deleting it again", err, "InvalidNetworkAclEntry.NotFound")
	def := must(c.DescribeNetworkAcls(ctx, &sdk.DescribeNetworkAclsInput{Filters: []types.Filter{{Name: aws.String("default"), Values: []string{"true"}}}}))
	if len(def.NetworkAcls) != 1 || aws.ToString(def.NetworkAcls[0].NetworkAclId) != "default" {
		t.Errorf("default=true: %+v", def.NetworkAcls)
	}
	assoc := must(c.ReplaceNetworkAclAssociation(ctx, &sdk.ReplaceNetworkAclAssociationInput{AssociationId: aws.String("aclassoc-subnet-app"), NetworkAclId: aws.String("acl-db")}))
	if aws.ToString(assoc.NewAssociationId) != "aclassoc-subnet-app" || e.lab.Lab().Subnet("subnet-app").NetworkACL != "acl-db" {
		t.Errorf("ReplaceNetworkAclAssociation: %+v", assoc)
	}
}

func TestDescribeNetwork(t *testing.T) {
	e := start(t)
	c := e.client(viewerKey, viewerSec)
	ctx := context.Background()
	vpcs := must(c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{}))
	if len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].VpcId) != "vpc-example" || aws.ToString(vpcs.Vpcs[0].CidrBlock) != "10.0.0.0/16" ||
		len(vpcs.Vpcs[0].Ipv6CidrBlockAssociationSet) != 1 || vpcs.Vpcs[0].State != types.VpcStateAvailable {
		t.Errorf("DescribeVpcs: %+v", vpcs.Vpcs)
	}
	_, err := c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{"vpc-other"}})
	wantCode(t, "another VPC", err, "InvalidVpcID.NotFound")
	subnets := must(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{Filters: []types.Filter{{Name: aws.String("vpc-id"), Values: []string{"vpc-example"}}}}))
	if len(subnets.Subnets) != 3 || aws.ToString(subnets.Subnets[0].SubnetId) != "subnet-web" || !aws.ToBool(subnets.Subnets[0].MapPublicIpOnLaunch) ||
		aws.ToInt32(subnets.Subnets[1].AvailableIpAddressCount) != 256-5-1 {
		t.Errorf("DescribeSubnets: %+v", subnets.Subnets)
	}
	enis := must(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{"sg-db"}}}}))
	if len(enis.NetworkInterfaces) != 1 || aws.ToString(enis.NetworkInterfaces[0].NetworkInterfaceId) != "eni-db1" ||
		aws.ToString(enis.NetworkInterfaces[0].Attachment.InstanceId) != "db1" || aws.ToString(enis.NetworkInterfaces[0].PrivateIpAddress) == "" {
		t.Errorf("DescribeNetworkInterfaces group-id=sg-db: %+v", enis.NetworkInterfaces)
	}
	e.lab.SetInstanceState("app1", false)
	inst := must(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"stopped"}}}}))
	if len(inst.Reservations) != 1 || aws.ToString(inst.Reservations[0].Instances[0].InstanceId) != "app1" ||
		inst.Reservations[0].Instances[0].State.Name != types.InstanceStateNameStopped || len(inst.Reservations[0].Instances[0].NetworkInterfaces) != 1 {
		t.Errorf("DescribeInstances stopped: %+v", inst.Reservations)
	}
	byTag := must(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{Filters: []types.Filter{{Name: aws.String("tag:Name"), Values: []string{"web1"}}}}))
	if len(byTag.Reservations) != 1 {
		t.Errorf("tag:Name=web1: %d reservations", len(byTag.Reservations))
	}
	must(c.DescribeFlowLogs(ctx, &sdk.DescribeFlowLogsInput{}))
}

// TestAuth: what a principal may not do is UnauthorizedOperation, a
// wrong signature AuthFailure, a dry run DryRunOperation; each change
// attempt and each refused signature is in the audit log.
func TestAuth(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	perm := []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(1), ToPort: aws.Int32(1), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}}

	_, err := e.client(viewerKey, viewerSec).AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: perm})
	wantCode(t, "the viewer authorizing", err, "UnauthorizedOperation")
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Errorf("UnauthorizedOperation's status: %v", err)
	}
	_, err = e.client(viewerKey, viewerSec).DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{DryRun: aws.Bool(true)})
	wantCode(t, "the viewer's dry run of a read", err, "DryRunOperation")

	_, err = e.client(adminKey, "not-the-secret-key-0123456789abc").DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{})
	wantCode(t, "a wrong secret", err, "AuthFailure")
	_, err = e.client("AKIAVPCLABNOBODY0001", adminSecret).DescribeVpcs(ctx, &sdk.DescribeVpcsInput{})
	wantCode(t, "an unknown key", err, "AuthFailure")
	resp, err := http.Post(e.url, "application/x-www-form-urlencoded", strings.NewReader("Action=DescribeVpcs&Version=2016-11-15"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an unsigned request: %s", resp.Status)
	}

	// A replayed request: signed correctly by the admin, but captured
	// 20 minutes ago (more than sigv4.MaxSkew), is refused and audited.
	body := "Action=RevokeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-db"
	old, err := http.NewRequest(http.MethodPost, e.url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	old.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: adminKey, SecretAccessKey: adminSecret}, old,
		hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now().Add(-20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	resp, err = http.DefaultClient.Do(old)
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK || !strings.Contains(string(reply), "RequestExpired") {
		t.Errorf("a replayed request: %s %s, want RequestExpired", resp.Status, reply)
	}

	admin := e.client(adminKey, adminSecret)
	_, err = admin.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: perm, DryRun: aws.Bool(true)})
	wantCode(t, "the admin's dry run", err, "DryRunOperation")
	if len(e.lab.Lab().Group("sg-db").Ingress) != 1 {
		t.Error("a dry run changed the lab")
	}
	_, err = admin.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(90), ToPort: aws.Int32(80), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}}})
	wantCode(t, "ports 90-80", err, "InvalidParameterValue")
	must(admin.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: perm}))

	log := e.auditLog()
	for _, want := range []string{
		`"principal":"victor","action":"ec2:AuthorizeSecurityGroupIngress","resource":"arn:aws:ec2:us-east-1:123456789012:security-group/sg-db","result":"denied"`,
		`"action":"ec2:DescribeSecurityGroups","resource":"","result":"unauthenticated"`,
		`"action":"ec2:DescribeVpcs","resource":"","result":"unauthenticated"`,
		`"action":"ec2:RevokeSecurityGroupIngress","resource":"","result":"unauthenticated","detail":"the request was signed at`,
		`"principal":"alice","action":"ec2:AuthorizeSecurityGroupIngress","resource":"arn:aws:ec2:us-east-1:123456789012:security-group/sg-db","result":"failed"`,
		`"principal":"alice","action":"ec2:AuthorizeSecurityGroupIngress","resource":"arn:aws:ec2:us-east-1:123456789012:security-group/sg-db","result":"applied"`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the audit log lacks %s:\n%s", want, log)
		}
	}
	// Allowed: the failed change and the applied one; not the dry run,
	// not the reads.
	if n := strings.Count(log, `"result":"allowed"`); n != 2 {
		t.Errorf("the audit log has %d allowed entries, want 2:\n%s", n, log)
	}

	id := must(sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: credentials(viewerKey, viewerSec)}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(id.Arn) != "arn:aws:iam::123456789012:user/victor" || aws.ToString(id.Account) != "123456789012" || aws.ToString(id.UserId) != viewerKey {
		t.Errorf("GetCallerIdentity: %s %s %s", aws.ToString(id.Arn), aws.ToString(id.Account), aws.ToString(id.UserId))
	}
	_, err = sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: credentials(viewerKey, "wrong-secret-key-0123456789abcdef")}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, "GetCallerIdentity wrongly signed", err, "AuthFailure")
}

// TestShorthand: EC2's older top-level parameters (boto3 scripts'
// IpProtocol=, CidrIp=, SourceSecurityGroupName=) authorize and revoke
// one permission; mixed with IpPermissions they are refused.
func TestShorthand(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	must(c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("203.0.113.0/24")}))
	must(c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), SourceSecurityGroupName: aws.String("sg-web")}))
	in := e.lab.Lab().Group("sg-db").Ingress
	if len(in) != 3 || in[1].Protocol != 6 || in[1].FromPort != 22 || in[1].CIDR.String() != "203.0.113.0/24" || in[2].Protocol != -1 || in[2].Group != "sg-web" {
		t.Fatalf("sg-db's ingress: %+v", in)
	}
	must(c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String("sg-db"),
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("203.0.113.0/24")}))
	if in := e.lab.Lab().Group("sg-db").Ingress; len(in) != 2 {
		t.Errorf("after the revoke: %+v", in)
	}
	_, err := c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), CidrIp: aws.String("10.0.0.0/8"),
		IpProtocol: aws.String("udp"), FromPort: aws.Int32(1), ToPort: aws.Int32(1),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("10.0.0.0/8")}}}}})
	wantCode(t, "both forms", err, "InvalidParameterCombination")
}

// TestTerraformSequence: the calls Terraform's aws_security_group and
// aws_vpc_security_group_ingress_rule make on create, refresh and
// destroy, through the SDK Terraform is built on: check the credentials,
// create the group, read it until it is there, revoke the default
// egress, authorize, read the rule back by id, then revoke and delete.
func TestTerraformSequence(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	stsc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(e.url), Credentials: credentials(adminKey, adminSecret)})
	id := must(stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if aws.ToString(id.Account) != "123456789012" {
		t.Fatalf("account %q", aws.ToString(id.Account))
	}
	vpcs := must(c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{VpcIds: []string{"vpc-example"}}))
	if len(vpcs.Vpcs) != 1 {
		t.Fatal("no vpc-example")
	}
	g := must(c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("tf-web"), Description: aws.String("Managed by Terraform"), VpcId: aws.String("vpc-example")}))
	gid := aws.ToString(g.GroupId)
	// Terraform waits for the group with DescribeSecurityGroups by id.
	desc := must(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{gid}}))
	if len(desc.SecurityGroups) != 1 || len(desc.SecurityGroups[0].IpPermissionsEgress) != 1 ||
		len(desc.SecurityGroups[0].IpPermissionsEgress[0].IpRanges) != 1 || len(desc.SecurityGroups[0].IpPermissionsEgress[0].Ipv6Ranges) != 1 {
		t.Fatalf("the new group: %+v", desc.SecurityGroups)
	}
	// Terraform revokes the default egress rules (egress is managed).
	must(c.RevokeSecurityGroupEgress(ctx, &sdk.RevokeSecurityGroupEgressInput{GroupId: aws.String(gid), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("-1"), FromPort: aws.Int32(0), ToPort: aws.Int32(0), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}},
		{IpProtocol: aws.String("-1"), FromPort: aws.Int32(0), ToPort: aws.Int32(0), Ipv6Ranges: []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}}}}}))
	// aws_vpc_security_group_ingress_rule: authorize one, read it back by
	// its id with DescribeSecurityGroupRules.
	auth := must(c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(gid), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(443), ToPort: aws.Int32(443), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0"), Description: aws.String("https")}}}}}))
	rid := aws.ToString(auth.SecurityGroupRules[0].SecurityGroupRuleId)
	rules := must(c.DescribeSecurityGroupRules(ctx, &sdk.DescribeSecurityGroupRulesInput{SecurityGroupRuleIds: []string{rid}}))
	if len(rules.SecurityGroupRules) != 1 || aws.ToString(rules.SecurityGroupRules[0].Description) != "https" || aws.ToBool(rules.SecurityGroupRules[0].IsEgress) {
		t.Errorf("the rule read back: %+v", rules.SecurityGroupRules)
	}
	desc = must(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{gid}}))
	if len(desc.SecurityGroups[0].IpPermissionsEgress) != 0 || len(desc.SecurityGroups[0].IpPermissions) != 1 {
		t.Errorf("refresh: %+v", desc.SecurityGroups[0])
	}
	// Destroy: the rule, then the group; gone, describing it is NotFound.
	must(c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String(gid), SecurityGroupRuleIds: []string{rid}}))
	must(c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String(gid)}))
	_, err := c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{GroupIds: []string{gid}})
	wantCode(t, "the deleted group", err, "InvalidGroup.NotFound")
}

// TestAccountReads: what SDKs and Terraform read before changing
// anything: routes, prefix lists, zones, regions, account attributes.
func TestAccountReads(t *testing.T) {
	e := start(t)
	c := e.client(viewerKey, viewerSec)
	ctx := context.Background()
	rts := must(c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{"subnet-web"}}}}))
	if len(rts.RouteTables) != 1 {
		t.Fatalf("subnet-web's route tables: %+v", rts.RouteTables)
	}
	var igw bool
	for _, r := range rts.RouteTables[0].Routes {
		igw = igw || (aws.ToString(r.DestinationCidrBlock) == "0.0.0.0/0" && strings.HasPrefix(aws.ToString(r.GatewayId), "igw-"))
	}
	if !igw {
		t.Errorf("subnet-web (public) has no route to the internet gateway: %+v", rts.RouteTables[0].Routes)
	}
	main := must(c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{Filters: []types.Filter{{Name: aws.String("association.main"), Values: []string{"true"}}}}))
	if len(main.RouteTables) != 1 || len(main.RouteTables[0].Routes) != 2 { // local IPv4 and IPv6
		t.Errorf("the main route table: %+v", main.RouteTables)
	}
	pls := must(c.DescribeManagedPrefixLists(ctx, &sdk.DescribeManagedPrefixListsInput{}))
	if len(pls.PrefixLists) != 1 || aws.ToString(pls.PrefixLists[0].PrefixListId) != "pl-office" || aws.ToInt32(pls.PrefixLists[0].MaxEntries) != 10 {
		t.Errorf("DescribeManagedPrefixLists: %+v", pls.PrefixLists)
	}
	entries := must(c.GetManagedPrefixListEntries(ctx, &sdk.GetManagedPrefixListEntriesInput{PrefixListId: aws.String("pl-office")}))
	if len(entries.Entries) != 1 || aws.ToString(entries.Entries[0].Cidr) != "203.0.113.0/24" {
		t.Errorf("GetManagedPrefixListEntries: %+v", entries.Entries)
	}
	_, err := c.GetManagedPrefixListEntries(ctx, &sdk.GetManagedPrefixListEntriesInput{PrefixListId: aws.String("pl-nope")})
	wantCode(t, "an unknown prefix list", err, "InvalidPrefixListID.NotFound")
	azs := must(c.DescribeAvailabilityZones(ctx, &sdk.DescribeAvailabilityZonesInput{}))
	if len(azs.AvailabilityZones) != 1 || aws.ToString(azs.AvailabilityZones[0].ZoneName) != "us-east-1a" || aws.ToString(azs.AvailabilityZones[0].ZoneId) == "" {
		t.Errorf("DescribeAvailabilityZones: %+v", azs.AvailabilityZones)
	}
	regions := must(c.DescribeRegions(ctx, &sdk.DescribeRegionsInput{}))
	if len(regions.Regions) != 1 || aws.ToString(regions.Regions[0].RegionName) != "us-east-1" {
		t.Errorf("DescribeRegions: %+v", regions.Regions)
	}
	attrs := must(c.DescribeAccountAttributes(ctx, &sdk.DescribeAccountAttributesInput{AttributeNames: []types.AccountAttributeName{types.AccountAttributeNameSupportedPlatforms}}))
	if len(attrs.AccountAttributes) != 1 || aws.ToString(attrs.AccountAttributes[0].AttributeValues[0].AttributeValue) != "VPC" {
		t.Errorf("DescribeAccountAttributes: %+v", attrs.AccountAttributes)
	}
}

// TestRuleEdits: ModifySecurityGroupRules, the description updates,
// CreateNetworkAcl and DeleteNetworkAcl.
func TestRuleEdits(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	rules := must(c.DescribeSecurityGroupRules(ctx, &sdk.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{"sg-db"}}}}))
	var id string
	for _, r := range rules.SecurityGroupRules {
		if !aws.ToBool(r.IsEgress) {
			id = aws.ToString(r.SecurityGroupRuleId)
		}
	}
	must(c.ModifySecurityGroupRules(ctx, &sdk.ModifySecurityGroupRulesInput{GroupId: aws.String("sg-db"), SecurityGroupRules: []types.SecurityGroupRuleUpdate{
		{SecurityGroupRuleId: aws.String(id), SecurityGroupRule: &types.SecurityGroupRuleRequest{IpProtocol: aws.String("tcp"),
			FromPort: aws.Int32(5433), ToPort: aws.Int32(5433), ReferencedGroupId: aws.String("sg-app"), Description: aws.String("moved")}}}}))
	in := e.lab.Lab().Group("sg-db").Ingress
	if len(in) != 1 || in[0].FromPort != 5433 || in[0].ID != id || in[0].Description != "moved" {
		t.Errorf("after ModifySecurityGroupRules: %+v", in)
	}
	_, err := c.ModifySecurityGroupRules(ctx, &sdk.ModifySecurityGroupRulesInput{GroupId: aws.String("sg-db"), SecurityGroupRules: []types.SecurityGroupRuleUpdate{
		{SecurityGroupRuleId: aws.String("sgr-00000000000000000"), SecurityGroupRule: &types.SecurityGroupRuleRequest{IpProtocol: aws.String("-1"), CidrIpv4: aws.String("10.0.0.0/8")}}}})
	wantCode(t, "an unknown rule", err, "InvalidSecurityGroupRuleId.NotFound")
	must(c.UpdateSecurityGroupRuleDescriptionsIngress(ctx, &sdk.UpdateSecurityGroupRuleDescriptionsIngressInput{GroupId: aws.String("sg-db"),
		SecurityGroupRuleDescriptions: []types.SecurityGroupRuleDescription{{SecurityGroupRuleId: aws.String(id), Description: aws.String("by id")}}}))
	if d := e.lab.Lab().Group("sg-db").Ingress[0].Description; d != "by id" {
		t.Errorf("description %q", d)
	}
	// A rule of the file without an id keeps its id when its description changes.
	web := must(c.DescribeSecurityGroupRules(ctx, &sdk.DescribeSecurityGroupRulesInput{Filters: []types.Filter{{Name: aws.String("group-id"), Values: []string{"sg-web"}}}}))
	wid := aws.ToString(web.SecurityGroupRules[0].SecurityGroupRuleId)
	must(c.UpdateSecurityGroupRuleDescriptionsIngress(ctx, &sdk.UpdateSecurityGroupRuleDescriptionsIngressInput{GroupId: aws.String("sg-web"),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(80),
			IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0"), Description: aws.String("http")}}}}}))
	if r := e.lab.Lab().Group("sg-web").Ingress[0]; r.Description != "http" || r.ID != wid {
		t.Errorf("sg-web's first rule: %+v, want description http and id %s", r, wid)
	}
	_, err = c.UpdateSecurityGroupRuleDescriptionsEgress(ctx, &sdk.UpdateSecurityGroupRuleDescriptionsEgressInput{GroupId: aws.String("sg-db"),
		IpPermissions: []types.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
	wantCode(t, "describing a rule sg-db has not", err, "InvalidPermission.NotFound")

	acl := must(c.CreateNetworkAcl(ctx, &sdk.CreateNetworkAclInput{VpcId: aws.String("vpc-example")}))
	aid := aws.ToString(acl.NetworkAcl.NetworkAclId)
	if !strings.HasPrefix(aid, "acl-") || len(acl.NetworkAcl.Entries) != 4 || e.lab.Lab().ACL(aid) == nil { // the implicit denies, in and out, IPv4 and IPv6
		t.Errorf("CreateNetworkAcl: %+v", acl.NetworkAcl)
	}
	_, err = c.DeleteNetworkAcl(ctx, &sdk.DeleteNetworkAclInput{NetworkAclId: aws.String("acl-db")})
	wantCode(t, "deleting an ACL in use", err, "DependencyViolation")
	must(c.DeleteNetworkAcl(ctx, &sdk.DeleteNetworkAclInput{NetworkAclId: aws.String(aid)}))
	if e.lab.Lab().ACL(aid) != nil {
		t.Error("the new ACL is still there")
	}
}

func TestStartStopInstances(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	c := e.client(adminKey, adminSecret)
	out := must(c.StopInstances(ctx, &sdk.StopInstancesInput{InstanceIds: []string{"db1"}}))
	if len(out.StoppingInstances) != 1 || out.StoppingInstances[0].CurrentState.Name != types.InstanceStateNameStopped ||
		out.StoppingInstances[0].PreviousState.Name != types.InstanceStateNameRunning || e.lab.InstanceState("db1") != "stopped" {
		t.Errorf("StopInstances: %+v", out.StoppingInstances)
	}
	must(c.StartInstances(ctx, &sdk.StartInstancesInput{InstanceIds: []string{"db1"}}))
	if e.lab.InstanceState("db1") != "running" {
		t.Error("db1 is not running again")
	}
	_, err := c.StopInstances(ctx, &sdk.StopInstancesInput{InstanceIds: []string{"nope"}})
	wantCode(t, "an unknown instance", err, "InvalidInstanceID.NotFound")
	_, err = e.client(viewerKey, viewerSec).StopInstances(ctx, &sdk.StopInstancesInput{InstanceIds: []string{"db1"}})
	wantCode(t, "the viewer stopping", err, "UnauthorizedOperation")
}

// TestTags: CreateTags, TagSpecifications, DeleteTags; describe calls
// and DescribeTags show the tags; a deleted resource's tags go with it.
func TestTags(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	must(c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{"sg-web", "subnet-db"}, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}}))
	g := must(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{Filters: []types.Filter{{Name: aws.String("tag:team"), Values: []string{"blue"}}}}))
	if len(g.SecurityGroups) != 1 || aws.ToString(g.SecurityGroups[0].GroupId) != "sg-web" || len(g.SecurityGroups[0].Tags) != 1 {
		t.Errorf("tag:team=blue groups: %+v", g.SecurityGroups)
	}
	sub := must(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{SubnetIds: []string{"subnet-db"}}))
	if len(sub.Subnets[0].Tags) != 1 || aws.ToString(sub.Subnets[0].Tags[0].Value) != "blue" {
		t.Errorf("subnet-db's tags: %+v", sub.Subnets[0].Tags)
	}
	must(c.CreateSecurityGroup(ctx, &sdk.CreateSecurityGroupInput{GroupName: aws.String("tagged"), Description: aws.String("x"),
		TagSpecifications: []types.TagSpecification{{ResourceType: types.ResourceTypeSecurityGroup, Tags: []types.Tag{{Key: aws.String("Name"), Value: aws.String("tagged")}}}}}))
	tags := must(c.DescribeTags(ctx, &sdk.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-type"), Values: []string{"security-group"}}}}))
	if len(tags.Tags) != 2 || aws.ToString(tags.Tags[0].ResourceId) != "sg-web" || aws.ToString(tags.Tags[1].ResourceId) != "tagged" {
		t.Errorf("DescribeTags of the groups: %+v", tags.Tags)
	}
	_, err := c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{"sg-nope"}, Tags: []types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}})
	wantCode(t, "tagging what is not there", err, "InvalidID")
	_, err = c.CreateTags(ctx, &sdk.CreateTagsInput{Resources: []string{"sg-web"}, Tags: []types.Tag{{Key: aws.String("aws:x"), Value: aws.String("b")}}})
	wantCode(t, "an aws: key", err, "InvalidParameterValue")
	must(c.DeleteTags(ctx, &sdk.DeleteTagsInput{Resources: []string{"sg-web"}, Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("red")}}}))
	if e.lab.Lab().Tags["sg-web"]["team"] != "blue" {
		t.Error("DeleteTags of another value removed the tag")
	}
	must(c.DeleteTags(ctx, &sdk.DeleteTagsInput{Resources: []string{"sg-web"}, Tags: []types.Tag{{Key: aws.String("team")}}}))
	must(c.DeleteSecurityGroup(ctx, &sdk.DeleteSecurityGroupInput{GroupId: aws.String("tagged")}))
	if tags := e.lab.Lab().Tags; len(tags) != 1 || tags["subnet-db"]["team"] != "blue" {
		t.Errorf("tags left: %v", tags)
	}
	inst := must(c.DescribeTags(ctx, &sdk.DescribeTagsInput{Filters: []types.Filter{{Name: aws.String("resource-id"), Values: []string{"web1"}}}}))
	if len(inst.Tags) != 1 || aws.ToString(inst.Tags[0].Key) != "Name" || inst.Tags[0].ResourceType != types.ResourceTypeInstance {
		t.Errorf("web1's tags: %+v", inst.Tags)
	}
}

func TestManagedPrefixLists(t *testing.T) {
	e := start(t)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	cr := must(c.CreateManagedPrefixList(ctx, &sdk.CreateManagedPrefixListInput{PrefixListName: aws.String("pl-partners"), AddressFamily: aws.String("IPv4"),
		MaxEntries: aws.Int32(3), Entries: []types.AddPrefixListEntry{{Cidr: aws.String("192.0.2.0/24"), Description: aws.String("partner a")}}}))
	if aws.ToString(cr.PrefixList.PrefixListId) != "pl-partners" || aws.ToInt32(cr.PrefixList.MaxEntries) != 3 {
		t.Errorf("CreateManagedPrefixList: %+v", cr.PrefixList)
	}
	must(c.ModifyManagedPrefixList(ctx, &sdk.ModifyManagedPrefixListInput{PrefixListId: aws.String("pl-partners"),
		AddEntries:    []types.AddPrefixListEntry{{Cidr: aws.String("198.51.100.0/24")}},
		RemoveEntries: []types.RemovePrefixListEntry{{Cidr: aws.String("192.0.2.0/24")}}}))
	got := must(c.GetManagedPrefixListEntries(ctx, &sdk.GetManagedPrefixListEntriesInput{PrefixListId: aws.String("pl-partners")}))
	if len(got.Entries) != 1 || aws.ToString(got.Entries[0].Cidr) != "198.51.100.0/24" {
		t.Errorf("entries: %+v", got.Entries)
	}
	_, err := c.ModifyManagedPrefixList(ctx, &sdk.ModifyManagedPrefixListInput{PrefixListId: aws.String("pl-partners"), AddEntries: []types.AddPrefixListEntry{
		{Cidr: aws.String("10.1.0.0/16")}, {Cidr: aws.String("10.2.0.0/16")}, {Cidr: aws.String("10.3.0.0/16")}}})
	wantCode(t, "past MaxEntries", err, "PrefixListMaxEntriesExceeded")
	// A rule naming it holds it; the rule gone, it may go.
	must(c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5432), PrefixListIds: []types.PrefixListId{{PrefixListId: aws.String("pl-partners")}}}}}))
	_, err = c.DeleteManagedPrefixList(ctx, &sdk.DeleteManagedPrefixListInput{PrefixListId: aws.String("pl-partners")})
	wantCode(t, "deleting a list in use", err, "DependencyViolation")
	_, err = c.DeleteManagedPrefixList(ctx, &sdk.DeleteManagedPrefixListInput{PrefixListId: aws.String("pl-nope")})
	wantCode(t, "deleting an unknown list", err, "InvalidPrefixListID.NotFound")
	must(c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: []types.IpPermission{
		{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(5432), ToPort: aws.Int32(5432), PrefixListIds: []types.PrefixListId{{PrefixListId: aws.String("pl-partners")}}}}}))
	must(c.DeleteManagedPrefixList(ctx, &sdk.DeleteManagedPrefixListInput{PrefixListId: aws.String("pl-partners")}))
	if e.lab.Lab().PrefixList("pl-partners") != nil {
		t.Error("pl-partners is still there")
	}
}
