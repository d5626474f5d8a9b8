package authz

import (
	"embed"
	"fmt"
	"slices"
)

// The built-in roles. Their policies are the JSON files under roles/ in
// vpclab's source, built into the binary.
const (
	// RoleNetworkAdmin creates, changes and deletes security groups
	// (their rules, and which groups an interface has) and network ACLs
	// (their entries and associations),
	// flow logs and traffic mirroring; replaces the whole lab policy
	// (vpclab:ApplyLab); captures packets; reads everything.
	RoleNetworkAdmin = "network-admin"
	// RoleInstanceOperator attaches existing security groups to
	// interfaces (ec2:ModifyNetworkInterfaceAttribute, which also sets
	// their connection-tracking timeouts), starts and stops instances and
	// reads everything; no statement allows it to change a rule.
	RoleInstanceOperator = "instance-operator"
	// RoleViewer reads: the Describe and Get actions and vpclab:GetStatus.
	RoleViewer = "viewer"
)

//go:embed roles/*.json
var roleFiles embed.FS

// builtinNames lists the built-in roles, most powerful first.
var builtinNames = []string{RoleNetworkAdmin, RoleInstanceOperator, RoleViewer}

// builtin holds the built-in roles' policies, parsed once. They are part
// of the program: one that does not parse is a bug, caught by the tests.
var builtin = func() map[string]*Policy {
	m := make(map[string]*Policy, len(builtinNames))
	for _, name := range builtinNames {
		file := "roles/" + name + ".json"
		data, err := roleFiles.ReadFile(file)
		if err != nil {
			panic(fmt.Sprintf("authz: built-in role %s: %v", name, err))
		}
		p, err := ParsePolicy(file, data)
		if err != nil {
			panic(fmt.Sprintf("authz: built-in role %s: %v", name, err))
		}
		p.Name = "role " + name
		m[name] = p
	}
	return m
}()

// BuiltinRoles returns the names of the built-in roles: network-admin,
// instance-operator, viewer.
func BuiltinRoles() []string { return slices.Clone(builtinNames) }

// BuiltinRole returns a copy of the policy of the built-in role name.
func BuiltinRole(name string) (*Policy, bool) {
	p, ok := builtin[name]
	if !ok {
		return nil, false
	}
	return p.clone(), true
}
