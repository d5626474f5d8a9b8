package change

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/sg"
)

// do decodes and applies one request to the example lab and returns the
// new lab; it fails the test on an error.
func do(t *testing.T, l *lab.Lab, action, body string) (*lab.Lab, any) {
	t.Helper()
	c, err := Decode(action, []byte(body))
	if err != nil {
		t.Fatalf("%s: Decode: %v", action, err)
	}
	next, resp, err := Do(l, c)
	if err != nil {
		t.Fatalf("%s %s: %v", action, body, err)
	}
	return next, resp
}

// refused applies a request that must fail with the given EC2 code and a
// message containing msg, and checks l is untouched.
func refused(t *testing.T, l *lab.Lab, action, body, code, msg string) {
	t.Helper()
	before, _ := labfile.Marshal(l)
	c, err := Decode(action, []byte(body))
	if err == nil {
		_, _, err = Do(l, c)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != code || !strings.Contains(e.Message, msg) {
		t.Errorf("%s %s:\n got  %v\n want %s: …%s…", action, body, err, code, msg)
	}
	if after, _ := labfile.Marshal(l); string(after) != string(before) {
		t.Errorf("%s: a refused change modified the lab in force", action)
	}
}

func TestAuthorizeRevoke(t *testing.T) {
	l := labfile.ExampleLab()
	next, resp := do(t, l, "authorize-security-group-ingress", `{"GroupId": "sg-app", "IpPermissions": [
		{"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9100, "IpRanges": [{"CidrIp": "10.0.1.0/24", "Description": "web"}, {"CidrIp": "10.0.3.7/32"}],
		 "Ipv6Ranges": [{"CidrIpv6": "2600:1f18:aa:bb01::/64"}]},
		{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "UserIdGroupPairs": [{"GroupId": "sg-web"}]}]}`)
	if len(l.Group("sg-app").Ingress) != 1 {
		t.Fatal("the lab in force changed")
	}
	in := next.Group("sg-app").Ingress
	if len(in) != 5 {
		t.Fatalf("sg-app ingress has %d rules, want 1 + 4: %+v", len(in), in)
	}
	want := []sg.Rule{
		{Protocol: 6, FromPort: 9000, ToPort: 9100, ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("10.0.1.0/24"), Description: "web"},
		{Protocol: 6, FromPort: 9000, ToPort: 9100, ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("10.0.3.7/32")},
		{Protocol: 6, FromPort: 9000, ToPort: 9100, ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("2600:1f18:aa:bb01::/64")},
		{Protocol: 1, FromPort: 0, ToPort: 65535, ICMPType: 8, ICMPCode: -1, Group: "sg-web"},
	}
	rules := resp.(map[string]any)["SecurityGroupRules"].([]SecurityGroupRule)
	for i, w := range want {
		got := in[i+1]
		if !strings.HasPrefix(got.ID, "sgr-") || len(got.ID) != 21 || got.ID != rules[i].SecurityGroupRuleID {
			t.Errorf("rule %d: id %q, response id %q", i, got.ID, rules[i].SecurityGroupRuleID)
		}
		got.ID, got.Line = "", 0
		if !reflect.DeepEqual(got, w) {
			t.Errorf("rule %d = %+v\nwant     %+v", i, got, w)
		}
	}
	if r := rules[3]; r.IPProtocol != "icmp" || r.FromPort != 8 || r.ToPort != -1 || r.ReferencedGroupID != "sg-web" {
		t.Errorf("response for the ICMP rule: %+v", r)
	}

	refused(t, next, "AuthorizeSecurityGroupIngress", `{"GroupId": "sg-app", "IpPermissions": [{"IpProtocol": "6", "FromPort": 9000, "ToPort": 9100, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}]}`,
		"InvalidPermission.Duplicate", "tcp 9000-9100 10.0.1.0/24")
	refused(t, next, "AuthorizeSecurityGroupIngress", `{"GroupId": "sg-nope", "IpPermissions": []}`, "InvalidGroup.NotFound", "sg-app, sg-db, sg-web")
	refused(t, next, "AuthorizeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 2}]}`, "MissingParameter", "names no peer")
	refused(t, next, "AuthorizeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`, "MissingParameter", "needs FromPort and ToPort")
	refused(t, next, "AuthorizeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "gre", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`, "InvalidParameterValue", `"gre" is not a protocol`)
	refused(t, next, "AuthorizeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "::/0"}]}]}`, "InvalidParameterValue", "IpRanges.CidrIp")
	refused(t, next, "AuthorizeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "-1", "PrefixListIds": [{"PrefixListId": "pl-x"}]}]}`, "InvalidPrefixListId.NotFound", "pl-office")
	refused(t, next, "AuthorizeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-web", "UserId": "999999999999"}]}]}`, "InvalidParameterValue", "one account")

	// Revoke by description and by id.
	id := next.Group("sg-app").Ingress[2].ID
	after, _ := do(t, next, "RevokeSecurityGroupIngress", fmt.Sprintf(`{"GroupId": "sg-app", "SecurityGroupRuleIds": [%q],
		"IpPermissions": [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": "sg-web"}]}]}`, id))
	if got := after.Group("sg-app").Ingress; len(got) != 3 || got[0].CIDR.String() != "10.0.1.0/24" || got[1].ID == id {
		t.Errorf("after revoke: %+v", got)
	}
	// By id alone, as EC2 allows.
	id2 := after.Group("sg-app").Ingress[1].ID
	byID, _ := do(t, after, "RevokeSecurityGroupIngress", fmt.Sprintf(`{"GroupId": "sg-app", "SecurityGroupRuleIds": [%q]}`, id2))
	if got := byID.Group("sg-app").Ingress; len(got) != 2 || slicesIndex(got, func(r sg.Rule) bool { return r.ID == id2 }) >= 0 {
		t.Errorf("after revoke by id: %+v", got)
	}
	refused(t, after, "RevokeSecurityGroupIngress", `{"GroupId": "sg-app", "SecurityGroupRuleIds": ["sgr-00000000000000000"]}`, "InvalidSecurityGroupRuleId.NotFound", "sgr-00000000000000000")
	refused(t, after, "RevokeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`, "InvalidPermission.NotFound", "egress")
	refused(t, after, "RevokeSecurityGroupEgress", `{"GroupId": "sg-db"}`, "MissingParameter", "SecurityGroupRuleIds")
}

// TestQuota: a change that would exceed the lab's rule quota is refused
// whole, with EC2's limit code.
func TestQuota(t *testing.T) {
	l := labfile.ExampleLab()
	var ranges []string
	for i := range 60 {
		ranges = append(ranges, fmt.Sprintf(`{"CidrIp": "10.9.%d.0/24"}`, i))
	}
	refused(t, l, "AuthorizeSecurityGroupIngress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [`+strings.Join(ranges, ",")+`]}]}`,
		"RulesPerSecurityGroupLimitExceeded", "61 IPv4 rules in ingress")
}

func TestNetworkACLEntries(t *testing.T) {
	l := labfile.ExampleLab()
	next, _ := do(t, l, "create-network-acl-entry", `{"NetworkAclId": "acl-db", "RuleNumber": 50, "Egress": false, "Protocol": "6",
		"RuleAction": "deny", "CidrBlock": "10.0.2.99/32", "PortRange": {"From": 5432, "To": 5432}}`)
	in := next.ACL("acl-db").Ingress
	if len(in) != 2 || in[1].Rule != 50 || in[1].Allow || in[1].FromPort != 5432 || in[1].CIDR.String() != "10.0.2.99/32" {
		t.Fatalf("acl-db ingress: %+v", in)
	}
	refused(t, next, "CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 50, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`,
		"NetworkAclEntryAlreadyExists", "ingress rule 50")
	refused(t, next, "ReplaceNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 51, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`,
		"InvalidNetworkAclEntry.NotFound", "rule 51")
	refused(t, next, "CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 32767, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`,
		"InvalidParameterValue", "implicit deny")
	refused(t, next, "CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 60, "Protocol": "1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`,
		"MissingParameter", "IcmpTypeCode")
	refused(t, next, "CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 60, "Protocol": "-1", "RuleAction": "permit", "CidrBlock": "0.0.0.0/0"}`,
		"InvalidParameterValue", "RuleAction")
	refused(t, next, "CreateNetworkAclEntry", `{"NetworkAclId": "acl-x", "RuleNumber": 60, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`,
		"InvalidNetworkAclID.NotFound", "acl-db, acl-web, default")

	next, _ = do(t, next, "replace-network-acl-entry", `{"NetworkAclId": "acl-db", "RuleNumber": 50, "Egress": false, "Protocol": "1",
		"RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "IcmpTypeCode": {"Type": 8, "Code": -1}}`)
	if e := next.ACL("acl-db").Ingress[1]; e.Rule != 50 || !e.Allow || e.Protocol != 1 || e.ICMPType != 8 {
		t.Errorf("replaced entry: %+v", e)
	}
	next, _ = do(t, next, "delete-network-acl-entry", `{"NetworkAclId": "acl-db", "RuleNumber": 100, "Egress": true}`)
	if len(next.ACL("acl-db").Egress) != 0 || len(next.ACL("acl-db").Ingress) != 2 {
		t.Errorf("after delete: %+v", next.ACL("acl-db"))
	}
	refused(t, next, "DeleteNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 100, "Egress": true}`, "InvalidNetworkAclEntry.NotFound", "egress rule 100")

	next, resp := do(t, next, "replace-network-acl-association", `{"AssociationId": "aclassoc-subnet-app", "NetworkAclId": "acl-db"}`)
	if next.Subnet("subnet-app").NetworkACL != "acl-db" || resp.(map[string]any)["NewAssociationId"] != "aclassoc-subnet-app" {
		t.Errorf("association: %s, %v", next.Subnet("subnet-app").NetworkACL, resp)
	}
	refused(t, next, "ReplaceNetworkAclAssociation", `{"AssociationId": "aclassoc-subnet-x", "NetworkAclId": "acl-db"}`, "InvalidAssociationID.NotFound", "subnet-app")
	refused(t, next, "ReplaceNetworkAclAssociation", `{"AssociationId": "rtbassoc-1", "NetworkAclId": "acl-db"}`, "InvalidAssociationID.NotFound", "aclassoc-")
}

func TestModifyInterface(t *testing.T) {
	l := labfile.ExampleLab()
	next, _ := do(t, l, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "Groups": ["sg-app", "sg-web"]}`)
	if got := next.Interface("eni-app1").SecurityGroups; !reflect.DeepEqual(got, []string{"sg-app", "sg-web"}) {
		t.Errorf("groups = %v", got)
	}
	next, _ = do(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "ConnectionTrackingSpecification": {"TcpEstablishedTimeout": 120, "UdpTimeout": 40}}`)
	if c := next.Interface("eni-app1").Conntrack; c.TCPEstablished != 120*time.Second || c.UDP != 40*time.Second || c.UDPStream != 180*time.Second {
		t.Errorf("conntrack = %+v", c)
	}
	next, _ = do(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "SourceDestCheck": {"Value": false}}`)
	if next.Interface("eni-app1").SourceDestCheck {
		t.Error("source/dest check still on")
	}
	refused(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "Groups": []}`, "InvalidParameterValue", "at least one")
	refused(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "Groups": ["sg-x"]}`, "InvalidGroup.NotFound", "sg-x")
	refused(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "Groups": ["sg-app", "sg-app"]}`, "InvalidParameterValue", "twice")
	refused(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "ConnectionTrackingSpecification": {"UdpTimeout": 61}}`, "InvalidParameterValue", "30-60")
	refused(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "Groups": ["sg-app"], "SourceDestCheck": {"Value": true}}`, "InvalidParameterCombination", "exactly one")
	refused(t, next, "ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-x", "Groups": ["sg-app"]}`, "InvalidNetworkInterfaceID.NotFound", "eni-app1")
}

func TestFlowLogs(t *testing.T) {
	l := labfile.ExampleLab()
	next, resp := do(t, l, "CreateFlowLogs", `{"ResourceIds": ["subnet-web", "subnet-db"], "ResourceType": "Subnet", "TrafficType": "REJECT",
		"MaxAggregationInterval": 60, "LogDestinationType": "file", "LogDestination": "/tmp/x", "LogFormat": "${srcaddr} ${dstaddr}"}`)
	ids := resp.(map[string]any)["FlowLogIds"].([]string)
	if len(next.FlowLogs) != 2 || len(ids) != 2 {
		t.Fatalf("flow logs: %+v, ids %v", next.FlowLogs, ids)
	}
	if f := next.FlowLogs[1]; f.ID != ids[1] || f.ResourceType != lab.FlowLogSubnet || f.ResourceID != "subnet-db" || f.TrafficType != "REJECT" ||
		f.MaxAggregationInterval != time.Minute || f.Destination != "/tmp/x" || f.LogFormat != "${srcaddr} ${dstaddr}" {
		t.Errorf("flow log: %+v", *f)
	}
	refused(t, next, "CreateFlowLogs", `{"ResourceIds": ["subnet-x"], "ResourceType": "Subnet"}`, "InvalidParameterValue", "no subnet")
	refused(t, next, "CreateFlowLogs", `{"ResourceIds": ["vpc-example"], "ResourceType": "VPC", "MaxAggregationInterval": 30}`, "InvalidParameterValue", "60s and 600s")
	refused(t, next, "CreateFlowLogs", `{"ResourceIds": ["vpc-example"], "ResourceType": "VPC", "LogDestinationType": "s3"}`, "InvalidParameterValue", "files")
	next, _ = do(t, next, "DeleteFlowLogs", fmt.Sprintf(`{"FlowLogIds": [%q]}`, ids[0]))
	if len(next.FlowLogs) != 1 || next.FlowLogs[0].ID != ids[1] {
		t.Errorf("after delete: %+v", next.FlowLogs)
	}
	refused(t, next, "DeleteFlowLogs", `{"FlowLogIds": ["fl-nope"]}`, "InvalidFlowLogId.NotFound", ids[1])
}

func TestDecode(t *testing.T) {
	for _, c := range []struct{ action, body, code, msg string }{
		{"AuthorizeSecurityGroupIngress", `{"GroupId": "sg-web", "IpPermission": []}`, "MalformedRequest", `unknown field "IpPermission"`},
		{"AuthorizeSecurityGroupIngress", `{"GroupId": 5}`, "MalformedRequest", "field GroupId: number is not string"},
		{"AuthorizeSecurityGroupIngress", `{"GroupId": "sg-web"} {}`, "MalformedRequest", "more than one"},
		{"CreateVpc", `{}`, "InvalidAction", "CreateNetworkAclEntry"},
	} {
		_, err := Decode(c.action, []byte(c.body))
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("Decode(%s, %s) = %v, want %s …%s…", c.action, c.body, err, c.code, c.msg)
		}
	}
	for _, a := range Actions {
		if got := ec2.APIName(ec2.CLIName(a)); got != a {
			t.Errorf("APIName(CLIName(%s)) = %s (%s)", a, got, ec2.CLIName(a))
		}
		c, err := Decode(a, []byte(`{}`))
		if err != nil || c.Action() != "ec2:"+a {
			t.Errorf("Decode(%s) = %v, %v", a, c, err)
		}
	}
}
