package change

import (
	"testing"

	"github.com/vpclab/vpclab/lab/labfile"
)

func TestCreateDeleteSecurityGroup(t *testing.T) {
	l := labfile.ExampleLab()
	next, resp := do(t, l, "CreateSecurityGroup", `{"GroupName": "sg-cache", "Description": "cache", "VpcId": "vpc-example"}`)
	g := next.Group("sg-cache")
	if g == nil || resp.(map[string]any)["GroupId"] != "sg-cache" || g.Description != "cache" || len(g.Ingress) != 0 {
		t.Fatalf("created %+v, response %v", g, resp)
	}
	// AWS's default egress: everything out, IPv6 too in a VPC with IPv6.
	if len(g.Egress) != 2 || g.Egress[0].Protocol != -1 || g.Egress[0].CIDR.String() != "0.0.0.0/0" || g.Egress[1].CIDR.String() != "::/0" {
		t.Errorf("egress %+v", g.Egress)
	}
	refused(t, next, "CreateSecurityGroup", `{"GroupName": "sg-cache", "Description": "again"}`, "InvalidGroup.Duplicate", "already exists")
	refused(t, next, "CreateSecurityGroup", `{"GroupName": "sg-x"}`, "MissingParameter", "GroupDescription")
	refused(t, next, "CreateSecurityGroup", `{"GroupName": "a b", "Description": "x"}`, "InvalidParameterValue", "1-64 letters")
	refused(t, next, "CreateSecurityGroup", `{"GroupName": "sg-x", "Description": "x", "VpcId": "vpc-other"}`, "InvalidVpcID.NotFound", "vpc-example")

	// In use by an interface, named by a rule, the default: refused.
	refused(t, next, "DeleteSecurityGroup", `{"GroupId": "sg-db"}`, "DependencyViolation", "interface eni-db1")
	refused(t, next, "DeleteSecurityGroup", `{"GroupId": "default"}`, "CannotDelete", "default")
	refused(t, next, "DeleteSecurityGroup", `{"GroupId": "sg-nope"}`, "InvalidGroup.NotFound", "sg-cache")
	withRef, _ := do(t, next, "AuthorizeSecurityGroupIngress", `{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "UserIdGroupPairs": [{"GroupId": "sg-cache"}]}]}`)
	refused(t, withRef, "DeleteSecurityGroup", `{"GroupName": "sg-cache"}`, "DependencyViolation", "a rule of sg-db")
	gone, _ := do(t, next, "DeleteSecurityGroup", `{"GroupName": "sg-cache"}`)
	if gone.Group("sg-cache") != nil {
		t.Error("sg-cache is still there")
	}
}

// TestRuleID: a rule of the lab file has an id of its own, stable, that
// revoke takes.
func TestRuleID(t *testing.T) {
	l := labfile.ExampleLab()
	r := l.Group("sg-web").Ingress[0]
	if r.ID != "" {
		t.Fatalf("the example's rule has id %q: this test is of the ids of rules without one", r.ID)
	}
	id := RuleID("sg-web", false, r)
	if id != RuleID("sg-web", false, r) || len(id) != 21 || id == RuleID("sg-web", true, r) || id == RuleID("sg-app", false, r) {
		t.Errorf("RuleID = %q", id)
	}
	next, _ := do(t, l, "RevokeSecurityGroupIngress", `{"GroupId": "sg-web", "SecurityGroupRuleIds": ["`+id+`"]}`)
	if n := len(next.Group("sg-web").Ingress); n != len(l.Group("sg-web").Ingress)-1 {
		t.Errorf("%d rules after revoking %s", n, id)
	}
	if got := Rule("sg-web", false, r); got.SecurityGroupRuleID != id || got.IPProtocol != "tcp" || got.FromPort != 80 {
		t.Errorf("Rule = %+v", got)
	}
}
