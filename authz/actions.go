package authz

import (
	"slices"
	"strings"
)

// The actions of the control API: the EC2 API actions vpclab implements,
// under their EC2 names, and three of vpclab's own. Policies name them
// as IAM does, service prefix and action name, matched without regard to
// case.
const (
	// Security groups (resource: the group).
	AuthorizeSecurityGroupIngress = "ec2:AuthorizeSecurityGroupIngress"
	AuthorizeSecurityGroupEgress  = "ec2:AuthorizeSecurityGroupEgress"
	RevokeSecurityGroupIngress    = "ec2:RevokeSecurityGroupIngress"
	RevokeSecurityGroupEgress     = "ec2:RevokeSecurityGroupEgress"

	// Network ACLs (resource: the ACL; for ReplaceNetworkAclAssociation
	// the ACL the subnet is to use, as in EC2).
	CreateNetworkAclEntry        = "ec2:CreateNetworkAclEntry"
	ReplaceNetworkAclEntry       = "ec2:ReplaceNetworkAclEntry"
	DeleteNetworkAclEntry        = "ec2:DeleteNetworkAclEntry"
	ReplaceNetworkAclAssociation = "ec2:ReplaceNetworkAclAssociation"

	// ModifyNetworkInterfaceAttribute (resource: the interface) is one
	// action in EC2 for every attribute of an interface; vpclab serves two
	// of them through it, the attached security groups (--groups) and the
	// connection-tracking timeouts
	// (--connection-tracking-specification). A policy cannot tell them
	// apart, in vpclab as in AWS: whoever may attach groups may also change
	// the timeouts.
	ModifyNetworkInterfaceAttribute = "ec2:ModifyNetworkInterfaceAttribute"

	// Flow logs (resource: for CreateFlowLogs the VPC, subnet or interface
	// to log; for DeleteFlowLogs the flow log).
	CreateFlowLogs = "ec2:CreateFlowLogs"
	DeleteFlowLogs = "ec2:DeleteFlowLogs"

	// Traffic mirroring (resource: for CreateTrafficMirrorSession the
	// source interface; for DeleteTrafficMirrorSession the session).
	CreateTrafficMirrorSession = "ec2:CreateTrafficMirrorSession"
	DeleteTrafficMirrorSession = "ec2:DeleteTrafficMirrorSession"

	// Instances (resource: the instance, named as in the lab file).
	StartInstances = "ec2:StartInstances"
	StopInstances  = "ec2:StopInstances"

	// Reads (resource: the VPC; EC2 has no resource-level permissions for
	// its Describe actions, so policies give them Resource "*").
	DescribeSecurityGroups    = "ec2:DescribeSecurityGroups"
	DescribeNetworkAcls       = "ec2:DescribeNetworkAcls"
	DescribeNetworkInterfaces = "ec2:DescribeNetworkInterfaces"
	DescribeInstances         = "ec2:DescribeInstances"
	DescribeFlowLogs          = "ec2:DescribeFlowLogs"

	// vpclab's own: ApplyLab replaces the whole policy of the running lab
	// with a new lab file's (resource: the VPC); GetStatus reads the
	// counters and conntrack tables (resource: the VPC); Capture records
	// an interface's packets (resource: the interface).
	ApplyLab  = "vpclab:ApplyLab"
	GetStatus = "vpclab:GetStatus"
	Capture   = "vpclab:Capture"
)

// The kinds of resource the actions act on, as they appear in ARNs
// (arn:aws:ec2:REGION:ACCOUNT:KIND/ID).
const (
	KindSecurityGroup        = "security-group"
	KindNetworkACL           = "network-acl"
	KindNetworkInterface     = "network-interface"
	KindInstance             = "instance"
	KindVPC                  = "vpc"
	KindSubnet               = "subnet"
	KindFlowLog              = "vpc-flow-log"
	KindTrafficMirrorSession = "traffic-mirror-session"
)

// kinds lists every kind, for validating the ARNs in policies.
var kinds = []string{KindSecurityGroup, KindNetworkACL, KindNetworkInterface, KindInstance,
	KindVPC, KindSubnet, KindFlowLog, KindTrafficMirrorSession}

// ActionInfo describes one action.
type ActionInfo struct {
	// Name is the action as policies name it: "ec2:StopInstances".
	Name string
	// Kinds are the kinds of resource the action acts on; Authorize
	// refuses an ARN of another kind.
	Kinds []string
	// ReadOnly actions change nothing. The others are the changes the
	// audit log records, allowed or not.
	ReadOnly bool
}

// actions is every action, in the order of the constants.
var actions = []ActionInfo{
	{Name: AuthorizeSecurityGroupIngress, Kinds: []string{KindSecurityGroup}},
	{Name: AuthorizeSecurityGroupEgress, Kinds: []string{KindSecurityGroup}},
	{Name: RevokeSecurityGroupIngress, Kinds: []string{KindSecurityGroup}},
	{Name: RevokeSecurityGroupEgress, Kinds: []string{KindSecurityGroup}},
	{Name: CreateNetworkAclEntry, Kinds: []string{KindNetworkACL}},
	{Name: ReplaceNetworkAclEntry, Kinds: []string{KindNetworkACL}},
	{Name: DeleteNetworkAclEntry, Kinds: []string{KindNetworkACL}},
	{Name: ReplaceNetworkAclAssociation, Kinds: []string{KindNetworkACL}},
	{Name: ModifyNetworkInterfaceAttribute, Kinds: []string{KindNetworkInterface, KindSecurityGroup}}, // the groups attached too, as IAM checks them
	{Name: CreateFlowLogs, Kinds: []string{KindVPC, KindSubnet, KindNetworkInterface}},
	{Name: DeleteFlowLogs, Kinds: []string{KindFlowLog}},
	{Name: CreateTrafficMirrorSession, Kinds: []string{KindNetworkInterface}},
	{Name: DeleteTrafficMirrorSession, Kinds: []string{KindTrafficMirrorSession}},
	{Name: StartInstances, Kinds: []string{KindInstance}},
	{Name: StopInstances, Kinds: []string{KindInstance}},
	{Name: DescribeSecurityGroups, Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: DescribeNetworkAcls, Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: DescribeNetworkInterfaces, Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: DescribeInstances, Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: DescribeFlowLogs, Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: ApplyLab, Kinds: []string{KindVPC}},
	{Name: GetStatus, Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: Capture, Kinds: []string{KindNetworkInterface}, ReadOnly: true},
}

// Actions returns every action vpclab implements, in a fixed order: the
// security-group, network-ACL, interface, flow-log, mirroring and instance
// changes, then the reads, then vpclab's own.
func Actions() []ActionInfo {
	out := slices.Clone(actions)
	for i := range out {
		out[i].Kinds = slices.Clone(out[i].Kinds)
	}
	return out
}

// LookupAction returns the action named name, compared without regard to
// case as IAM does ("EC2:stopinstances" is ec2:StopInstances).
func LookupAction(name string) (ActionInfo, bool) {
	i := actionIndex(name)
	if i < 0 {
		return ActionInfo{}, false
	}
	a := actions[i]
	a.Kinds = slices.Clone(a.Kinds)
	return a, true
}

// actionIndex returns the index in actions of the action named name (any
// case), or -1.
func actionIndex(name string) int {
	for i := range actions {
		if strings.EqualFold(actions[i].Name, name) {
			return i
		}
	}
	return -1
}

// ARN returns the ARN of a resource of the lab: arn:aws:ec2:REGION:ACCOUNT:KIND/ID,
// such as arn:aws:ec2:us-east-1:123456789012:security-group/sg-web. kind is
// one of the Kind constants; id is the resource's id in the lab file (for
// an instance, its name).
func ARN(region, account, kind, id string) string {
	return "arn:aws:ec2:" + region + ":" + account + ":" + kind + "/" + id
}

// arnKind returns the kind of an ARN that ARN could have built, and
// whether it is one: six colon-separated fields, service ec2, a known kind
// and a non-empty id.
func arnKind(arn string) (string, bool) {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "ec2" {
		return "", false
	}
	kind, id, ok := strings.Cut(f[5], "/")
	if !ok || id == "" || !slices.Contains(kinds, kind) {
		return "", false
	}
	return kind, true
}
