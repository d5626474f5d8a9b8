package authz

import (
	"fmt"
	"strings"
	"testing"
)

// TestRolesTable checks each built-in role against each action. The table
// must list every action: a new action fails here until someone decides
// which roles may take it.
func TestRolesTable(t *testing.T) {
	type allowed struct{ admin, operator, viewer bool }
	table := map[string]allowed{
		AuthorizeSecurityGroupIngress:                    {true, false, false},
		AuthorizeSecurityGroupEgress:                     {true, false, false},
		RevokeSecurityGroupIngress:                       {true, false, false},
		RevokeSecurityGroupEgress:                        {true, false, false},
		CreateNetworkAclEntry:                            {true, false, false},
		ReplaceNetworkAclEntry:                           {true, false, false},
		DeleteNetworkAclEntry:                            {true, false, false},
		ReplaceNetworkAclAssociation:                     {true, false, false},
		ModifyNetworkInterfaceAttribute:                  {true, true, false},
		"ec2:CreateSecurityGroup":                        {true, false, false},
		"ec2:DeleteSecurityGroup":                        {true, false, false},
		"ec2:ModifySecurityGroupRules":                   {true, false, false},
		"ec2:UpdateSecurityGroupRuleDescriptionsIngress": {true, false, false},
		"ec2:UpdateSecurityGroupRuleDescriptionsEgress":  {true, false, false},
		"ec2:CreateNetworkAcl":                           {true, false, false},
		"ec2:DeleteNetworkAcl":                           {true, false, false},
		"ec2:CreateManagedPrefixList":                    {true, false, false},
		"ec2:ModifyManagedPrefixList":                    {true, false, false},
		"ec2:DeleteManagedPrefixList":                    {true, false, false},
		"ec2:CreateTags":                                 {true, false, false},
		"ec2:DeleteTags":                                 {true, false, false},
		"ec2:DescribeTags":                               {true, true, true},
		CreateFlowLogs:                                   {true, false, false},
		DeleteFlowLogs:                                   {true, false, false},
		CreateTrafficMirrorSession:                       {true, false, false},
		DeleteTrafficMirrorSession:                       {true, false, false},
		StartInstances:                                   {false, true, false},
		StopInstances:                                    {false, true, false},
		DescribeSecurityGroups:                           {true, true, true},
		DescribeNetworkAcls:                              {true, true, true},
		DescribeNetworkInterfaces:                        {true, true, true},
		DescribeInstances:                                {true, true, true},
		DescribeFlowLogs:                                 {true, true, true},
		"ec2:DescribeSecurityGroupRules":                 {true, true, true},
		"ec2:DescribeVpcs":                               {true, true, true},
		"ec2:DescribeSubnets":                            {true, true, true},
		"ec2:DescribeRouteTables":                        {true, true, true},
		"ec2:DescribeManagedPrefixLists":                 {true, true, true},
		"ec2:GetManagedPrefixListEntries":                {true, true, true},
		"ec2:DescribeAvailabilityZones":                  {true, true, true},
		"ec2:DescribeRegions":                            {true, true, true},
		"ec2:DescribeAccountAttributes":                  {true, true, true},
		ApplyLab:                                         {true, false, false},
		GetStatus:                                        {true, true, true},
		Capture:                                          {true, false, false},
	}
	if len(table) != len(Actions()) {
		t.Fatalf("the table lists %d actions, vpclab has %d", len(table), len(Actions()))
	}
	principals := map[string]*Principal{}
	for _, role := range BuiltinRoles() {
		pol, ok := BuiltinRole(role)
		if !ok {
			t.Fatalf("no built-in role %s", role)
		}
		principals[role] = principalWith("p-"+role, pol)
	}
	for _, a := range Actions() {
		want, ok := table[a.Name]
		if !ok {
			t.Errorf("%s is not in the table", a.Name)
			continue
		}
		for _, kind := range a.Kinds {
			resource := ARN(testRegion, testAccount, kind, "id-1")
			for role, w := range map[string]bool{RoleNetworkAdmin: want.admin, RoleInstanceOperator: want.operator, RoleViewer: want.viewer} {
				d := Authorize(principals[role], a.Name, resource)
				if d.Allowed != w {
					t.Errorf("%s %s on %s: got %+v, want Allowed=%v", role, a.Name, resource, d, w)
				}
				// The built-in roles only allow: what they do not allow is
				// denied implicitly, so that roles add up.
				if d.Explicit {
					t.Errorf("%s %s: an explicit deny: %+v", role, a.Name, d)
				}
				if w && !strings.Contains(d.Reason, "of role "+role) {
					t.Errorf("%s %s: Reason %q does not name the role", role, a.Name, d.Reason)
				}
				if !strings.Contains(d.Reason, a.Name) || !strings.Contains(d.Reason, resource) {
					t.Errorf("%s %s: Reason %q does not name the action and resource", role, a.Name, d.Reason)
				}
			}
		}
	}
}

// TestRolesAddUp checks that a principal with two roles may do what
// either may.
func TestRolesAddUp(t *testing.T) {
	ps, err := Parse("p.yaml", []byte(fmt.Sprintf(`
principals:
  - {name: both, token: %s, roles: [network-admin, instance-operator]}
`, strings.Repeat("b", 32))))
	if err != nil {
		t.Fatal(err)
	}
	p, ok := ps.Authenticate(strings.Repeat("b", 32))
	if !ok {
		t.Fatal("no principal")
	}
	for _, a := range Actions() {
		if d := Authorize(p, a.Name, ARN(testRegion, testAccount, a.Kinds[0], "x")); !d.Allowed {
			t.Errorf("%s: got %+v, want allowed", a.Name, d)
		}
	}
}

func TestBuiltinRoles(t *testing.T) {
	if got := BuiltinRoles(); strings.Join(got, ",") != "network-admin,instance-operator,viewer" {
		t.Errorf("BuiltinRoles() = %v", got)
	}
	for _, role := range BuiltinRoles() {
		p, _ := BuiltinRole(role)
		if p.Name != "role "+role || p.Version != Version2012 {
			t.Errorf("%s: Name %q, Version %q", role, p.Name, p.Version)
		}
		// A copy: changing it changes nothing else.
		p.Statements[0].Effect = Deny
		if q, _ := BuiltinRole(role); q.Statements[0].Effect != Allow {
			t.Errorf("%s: BuiltinRole returns the shared policy", role)
		}
	}
	if _, ok := BuiltinRole("admin"); ok {
		t.Error("BuiltinRole found admin")
	}
}
