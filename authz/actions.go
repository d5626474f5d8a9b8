package authz

import (
	"slices"
	"strings"

	"github.com/vpclab/vpclab/ec2"
)

// The actions of the control API are the EC2 actions of ec2's table,
// under their IAM names (ec2:AuthorizeSecurityGroupIngress), and three of
// vpclab's own. Policies name them as IAM does, service prefix and action
// name, matched without regard to case.
const (
	// ApplyLab replaces the whole policy of the running lab with a new lab
	// file's (resource: the VPC).
	ApplyLab = "vpclab:ApplyLab"
	// GetStatus reads the counters and conntrack tables (resource: the
	// VPC).
	GetStatus = "vpclab:GetStatus"
	// Capture records an interface's packets (resource: the interface).
	Capture = "vpclab:Capture"
)

// The kinds of resource the actions act on, as they appear in ARNs
// (arn:aws:ec2:REGION:ACCOUNT:KIND/ID): ec2's.
const (
	KindSecurityGroup        = ec2.KindSecurityGroup
	KindNetworkACL           = ec2.KindNetworkACL
	KindNetworkInterface     = ec2.KindNetworkInterface
	KindInstance             = ec2.KindInstance
	KindVPC                  = ec2.KindVPC
	KindSubnet               = ec2.KindSubnet
	KindFlowLog              = ec2.KindFlowLog
	KindTrafficMirrorSession = ec2.KindTrafficMirrorSession
	KindPrefixList           = ec2.KindPrefixList
)

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

// kinds lists every kind, for validating the ARNs in policies.
var kinds = ec2.Kinds

// actions is every action: ec2's, then vpclab's own.
var actions = func() []ActionInfo {
	var out []ActionInfo
	for _, a := range ec2.Actions() {
		out = append(out, ActionInfo{Name: a.IAM(), Kinds: a.Kinds, ReadOnly: a.ReadOnly})
	}
	return append(out,
		ActionInfo{Name: ApplyLab, Kinds: []string{KindVPC}},
		ActionInfo{Name: GetStatus, Kinds: []string{KindVPC}, ReadOnly: true},
		ActionInfo{Name: Capture, Kinds: []string{KindNetworkInterface}, ReadOnly: true})
}()

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
