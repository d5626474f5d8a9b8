package query_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/internal/sdktest"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/ec2api/query"
)

// errSent stops the SDK once the request is captured.
var errSent = errors.New("captured")

type capture struct{ form url.Values }

func (c *capture) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	c.form, _ = url.ParseQuery(string(b))
	return nil, errSent
}

// sent returns the form the SDK sends for a call.
func sent(t *testing.T, call func(context.Context, *sdk.Client) error) map[string]string {
	t.Helper()
	c := &capture{}
	cl := sdk.New(sdk.Options{Region: "us-east-1", HTTPClient: &http.Client{Transport: c},
		Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String("http://127.0.0.1:1"),
		Retryer: sdktest.Retryer()})
	if err := call(context.Background(), cl); !errors.Is(err, errSent) {
		t.Fatalf("the SDK's call: %v", err)
	}
	p, err := query.Params(c.form)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Action", "Version"} {
		if p[k] == "" {
			t.Fatalf("the SDK sent no %s: %v", k, p)
		}
		delete(p, k)
	}
	return p
}

func decoded(t *testing.T, p map[string]string, req any) {
	t.Helper()
	if err := query.Decode(p, req); err != nil {
		t.Fatalf("Decode(%v): %v", p, err)
	}
}

// TestSDKForms: what aws-sdk-go-v2 sends for each change decodes into
// ec2's request, field for field.
func TestSDKForms(t *testing.T) {
	p := sent(t, func(ctx context.Context, c *sdk.Client) error {
		_, err := c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-web"),
			IpPermissions: []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(80), ToPort: aws.Int32(81),
				IpRanges:         []types.IpRange{{CidrIp: aws.String("10.0.0.0/8"), Description: aws.String("web")}, {CidrIp: aws.String("10.1.0.0/16")}},
				Ipv6Ranges:       []types.Ipv6Range{{CidrIpv6: aws.String("::/0")}},
				PrefixListIds:    []types.PrefixListId{{PrefixListId: aws.String("pl-office")}},
				UserIdGroupPairs: []types.UserIdGroupPair{{GroupId: aws.String("sg-app"), UserId: aws.String("123456789012")}}},
				{IpProtocol: aws.String("icmp"), FromPort: aws.Int32(8), ToPort: aws.Int32(-1), IpRanges: []types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}})
		return err
	})
	var auth ec2.AuthorizeSecurityGroupRequest
	decoded(t, p, &auth)
	i := func(n int) *int { return &n }
	want := ec2.AuthorizeSecurityGroupRequest{GroupId: "sg-web", IpPermissions: []ec2.IpPermission{
		{IpProtocol: "tcp", FromPort: i(80), ToPort: i(81),
			IpRanges:         []ec2.IpRange{{CidrIp: "10.0.0.0/8", Description: "web"}, {CidrIp: "10.1.0.0/16"}},
			Ipv6Ranges:       []ec2.Ipv6Range{{CidrIpv6: "::/0"}},
			PrefixListIds:    []ec2.PrefixListId{{PrefixListId: "pl-office"}},
			UserIdGroupPairs: []ec2.UserIdGroupPair{{GroupId: "sg-app", UserId: "123456789012"}}},
		{IpProtocol: "icmp", FromPort: i(8), ToPort: i(-1), IpRanges: []ec2.IpRange{{CidrIp: "0.0.0.0/0"}}}}}
	if !reflect.DeepEqual(auth, want) {
		t.Errorf("AuthorizeSecurityGroupIngress:\n got  %+v\n want %+v", auth, want)
	}

	p = sent(t, func(ctx context.Context, c *sdk.Client) error {
		_, err := c.RevokeSecurityGroupEgress(ctx, &sdk.RevokeSecurityGroupEgressInput{GroupId: aws.String("sg-db"),
			SecurityGroupRuleIds: []string{"sgr-1", "sgr-2"}})
		return err
	})
	var rev ec2.RevokeSecurityGroupRequest
	decoded(t, p, &rev)
	if !reflect.DeepEqual(rev, ec2.RevokeSecurityGroupRequest{GroupId: "sg-db", SecurityGroupRuleIds: []string{"sgr-1", "sgr-2"}}) {
		t.Errorf("RevokeSecurityGroupEgress: %+v", rev)
	}

	p = sent(t, func(ctx context.Context, c *sdk.Client) error {
		_, err := c.CreateNetworkAclEntry(ctx, &sdk.CreateNetworkAclEntryInput{NetworkAclId: aws.String("acl-db"), RuleNumber: aws.Int32(50),
			Egress: aws.Bool(true), Protocol: aws.String("1"), RuleAction: types.RuleActionDeny, CidrBlock: aws.String("10.0.0.0/8"),
			IcmpTypeCode: &types.IcmpTypeCode{Type: aws.Int32(3), Code: aws.Int32(-1)}, PortRange: &types.PortRange{From: aws.Int32(1), To: aws.Int32(2)}})
		return err
	})
	var entry ec2.NetworkAclEntryRequest
	decoded(t, p, &entry)
	wantEntry := ec2.NetworkAclEntryRequest{NetworkAclId: "acl-db", NetworkAclEntry: ec2.NetworkAclEntry{RuleNumber: 50, Egress: true,
		Protocol: "1", RuleAction: "deny", CidrBlock: "10.0.0.0/8",
		IcmpTypeCode: &ec2.IcmpTypeCode{Type: i(3), Code: i(-1)}, PortRange: &ec2.PortRange{From: i(1), To: i(2)}}}
	if !reflect.DeepEqual(entry, wantEntry) {
		t.Errorf("CreateNetworkAclEntry:\n got  %+v\n want %+v", entry, wantEntry)
	}

	p = sent(t, func(ctx context.Context, c *sdk.Client) error {
		_, err := c.ModifyNetworkInterfaceAttribute(ctx, &sdk.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String("eni-1"),
			Groups: []string{"sg-a", "sg-b"}, SourceDestCheck: &types.AttributeBooleanValue{Value: aws.Bool(false)},
			ConnectionTrackingSpecification: &types.ConnectionTrackingSpecificationRequest{UdpTimeout: aws.Int32(45)}})
		return err
	})
	var mod ec2.ModifyNetworkInterfaceAttributeRequest
	decoded(t, p, &mod)
	wantMod := ec2.ModifyNetworkInterfaceAttributeRequest{NetworkInterfaceId: "eni-1", Groups: []string{"sg-a", "sg-b"},
		SourceDestCheck: &ec2.AttributeBooleanValue{}, ConnectionTrackingSpecification: &ec2.ConnectionTrackingSpecificationRequest{UdpTimeout: i(45)}}
	if !reflect.DeepEqual(mod, wantMod) {
		t.Errorf("ModifyNetworkInterfaceAttribute:\n got  %+v\n want %+v", mod, wantMod)
	}

	p = sent(t, func(ctx context.Context, c *sdk.Client) error {
		_, err := c.CreateFlowLogs(ctx, &sdk.CreateFlowLogsInput{ResourceIds: []string{"vpc-1"}, ResourceType: types.FlowLogsResourceTypeVpc,
			TrafficType: types.TrafficTypeAll, MaxAggregationInterval: aws.Int32(60), LogDestinationType: "file", LogDestination: aws.String("fl")})
		return err
	})
	var fl ec2.CreateFlowLogsRequest
	decoded(t, p, &fl)
	if !reflect.DeepEqual(fl, ec2.CreateFlowLogsRequest{ResourceIds: []string{"vpc-1"}, ResourceType: "VPC", TrafficType: "ALL",
		MaxAggregationInterval: 60, LogDestinationType: "file", LogDestination: "fl"}) {
		t.Errorf("CreateFlowLogs: %+v", fl)
	}
}

// filterRequest is a describe request's filters, as a test shape.
type filterRequest struct {
	GroupIds []string `query:"GroupId"`
	Filters  []struct {
		Name   string
		Values []string `query:"Value"`
	} `query:"Filter"`
	MaxResults int
}

func TestFiltersAndOrder(t *testing.T) {
	var r filterRequest
	// Indexes order the list, gaps close up.
	decoded(t, map[string]string{"GroupId.2": "b", "GroupId.10": "c", "GroupId.1": "a",
		"Filter.1.Name": "vpc-id", "Filter.1.Value.1": "vpc-1", "Filter.1.Value.2": "vpc-2", "Filter.2.Name": "tag:Name", "MaxResults": "5"}, &r)
	if !reflect.DeepEqual(r.GroupIds, []string{"a", "b", "c"}) || len(r.Filters) != 2 || r.Filters[0].Name != "vpc-id" ||
		!reflect.DeepEqual(r.Filters[0].Values, []string{"vpc-1", "vpc-2"}) || r.Filters[1].Name != "tag:Name" || r.Filters[1].Values != nil || r.MaxResults != 5 {
		t.Errorf("decoded %+v", r)
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		params           map[string]string
		code, field, msg string
	}{
		{map[string]string{"GroupIds.1": "x"}, "UnknownParameter", "GroupIds", "GroupIds is not recognized"},
		{map[string]string{"Filter.1.Nam": "x"}, "UnknownParameter", "Filter.1.Nam", "not recognized"},
		{map[string]string{"MaxResults": "five"}, "InvalidParameterValue", "MaxResults", "not an integer"},
		{map[string]string{"MaxResults": "99999999999"}, "InvalidParameterValue", "MaxResults", "not an integer"},
		{map[string]string{"GroupId": "sg-1"}, "InvalidParameterValue", "GroupId", "is a list: give GroupId.1"},
		{map[string]string{"GroupId.0": "sg-1"}, "InvalidParameterValue", "GroupId.0", "not an index"},
		{map[string]string{"GroupId.01": "sg-1"}, "InvalidParameterValue", "GroupId.01", "not an index"},
		{map[string]string{"GroupId.x": "sg-1"}, "InvalidParameterValue", "GroupId.x", "not an index"},
		{map[string]string{"GroupId.10001": "sg-1"}, "InvalidParameterValue", "GroupId.10001", "not an index"},
		{map[string]string{"Filter.1": "x"}, "InvalidParameterValue", "Filter.1", "is a structure: give its members, such as Filter.1.Name"},
		{map[string]string{"MaxResults.1": "1"}, "UnknownParameter", "MaxResults.1", "takes a value"},
		{map[string]string{"GroupId..1": "1"}, "InvalidParameterValue", "GroupId..1", "empty part"},
		{map[string]string{"Filter.1.Name": "a", "Filter.1.Name.x": "b"}, "InvalidParameterValue", "Filter.1.Name.x", "given a value and also"},
		{map[string]string{"a.b.c.d.e.f.g.h.i": "1"}, "InvalidParameterValue", "a.b.c.d.e.f.g.h.i", "nested 9 deep"},
	} {
		var r filterRequest
		err := query.Decode(c.params, &r)
		var e *ec2.Error
		if !errors.As(err, &e) || e.Code != c.code || e.Field != c.field || !strings.Contains(e.Msg, c.msg) {
			t.Errorf("Decode(%v) = %#v, want %s at %s: …%s…", c.params, err, c.code, c.field, c.msg)
		}
	}
	var bools struct{ Egress bool }
	if err := query.Decode(map[string]string{"Egress": "yes"}, &bools); err == nil || !strings.Contains(err.Error(), "true or false") {
		t.Errorf("Egress=yes: %v", err)
	}
	if err := query.Decode(map[string]string{"Egress": "TRUE"}, &bools); err != nil || !bools.Egress {
		t.Errorf("Egress=TRUE: %v, %v", err, bools.Egress)
	}
	if _, err := query.Params(url.Values{"GroupId.1": {"a", "b"}}); err == nil || !strings.Contains(err.Error(), "given 2 times") {
		t.Errorf("a name given twice: %v", err)
	}
}

// FuzzDecode: any form decodes into every change's request or fails with
// an ec2.Error of the decoder's codes, never a panic.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"GroupId=sg-web&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=0.0.0.0%2F0",
		"NetworkAclId=acl-1&RuleNumber=10&Icmp.Type=-1&Icmp.Code=-1&PortRange.From=1",
		"Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1&SecurityGroupRuleId.3=sgr-1",
		"SourceDestCheck.Value=true&ConnectionTrackingSpecification.UdpTimeout=30&SecurityGroupId.1=sg-1",
		"a.b=1&a=2", "..=", "FlowLogId.1.x=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := query.Params(v)
		if err != nil {
			return
		}
		for _, a := range ec2.Actions() {
			if a.Request == nil {
				continue
			}
			err := query.Decode(p, a.Request())
			if err == nil {
				continue
			}
			var e *ec2.Error
			if !errors.As(err, &e) || (e.Code != "InvalidParameterValue" && e.Code != "UnknownParameter") || e.Msg == "" {
				t.Fatalf("%s: Decode(%q) = %#v", a.Name, raw, err)
			}
		}
	})
}
