package change

import (
	"bytes"
	"errors"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
)

// FuzzDo decodes a request body for an action and applies it to the
// example lab: it must never panic, a failure must be an *Error with an
// EC2 code, the lab in force must stay untouched, and a lab Do returns
// must survive a write and a read as a lab file.
func FuzzDo(f *testing.F) {
	for _, s := range []struct{ action, body string }{
		{"AuthorizeSecurityGroupIngress", `{"GroupId": "sg-app", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9100, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}]}`},
		{"AuthorizeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "UserIdGroupPairs": [{"GroupId": "sg-web"}]}]}`},
		{"RevokeSecurityGroupEgress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}`},
		{"RevokeSecurityGroupIngress", `{"GroupId": "sg-app", "SecurityGroupRuleIds": ["sgr-00000000000000000"]}`},
		{"CreateNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 50, "Egress": false, "Protocol": "6", "RuleAction": "deny", "CidrBlock": "10.0.1.0/24", "PortRange": {"From": 22, "To": 22}}`},
		{"ReplaceNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 100, "Protocol": "1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "IcmpTypeCode": {"Type": 8, "Code": -1}}`},
		{"DeleteNetworkAclEntry", `{"NetworkAclId": "acl-db", "RuleNumber": 100, "Egress": true}`},
		{"ReplaceNetworkAclAssociation", `{"AssociationId": "aclassoc-subnet-app", "NetworkAclId": "acl-db"}`},
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "Groups": ["sg-app", "sg-web"]}`},
		{"ModifyNetworkInterfaceAttribute", `{"NetworkInterfaceId": "eni-app1", "SourceDestCheck": {"Value": false}}`},
		{"CreateFlowLogs", `{"ResourceIds": ["eni-web1"], "ResourceType": "NetworkInterface", "TrafficType": "ALL"}`},
		{"AuthorizeSecurityGroupIngress", `{"GroupId": 5}`},
		{"CreateVpc", `{}`},
	} {
		f.Add(s.action, []byte(s.body))
	}
	base := labfile.ExampleLab()
	before, err := labfile.Marshal(base)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, action string, body []byte) {
		c, err := Decode(action, body)
		var next *lab.Lab
		if err == nil {
			next, _, err = Do(base, c)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("%s %s: %v is not an EC2 error", action, body, err)
			}
		}
		if after, _ := labfile.Marshal(base); !bytes.Equal(after, before) {
			t.Fatalf("%s %s: the lab in force changed", action, body)
		}
		if next == nil {
			return
		}
		data, err := labfile.Marshal(next)
		if err != nil {
			t.Fatalf("%s %s: Marshal of the changed lab: %v", action, body, err)
		}
		if _, err := labfile.Parse("changed.yaml", data); err != nil {
			t.Fatalf("%s %s: the changed lab does not read back: %v", action, body, err)
		}
	})
}
