package ec2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
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
	KindPrefixList           = "prefix-list"
)

// Kinds lists every kind of resource.
var Kinds = []string{KindSecurityGroup, KindNetworkACL, KindNetworkInterface, KindInstance,
	KindVPC, KindSubnet, KindFlowLog, KindTrafficMirrorSession, KindPrefixList}

// FlagKind says how the AWS CLI reads a flag's value into the request.
type FlagKind uint8

const (
	FlagString    FlagKind = iota // a string
	FlagInt                       // a whole number
	FlagBool                      // present or not
	FlagBoolValue                 // present or not, sent as {"Value": bool}
	FlagStrings                   // a list, comma-separated or repeated
	FlagKV                        // Key=N,Key=N into an object
	FlagJSON                      // JSON, as it is
	FlagPerm                      // vpclab's shorthand for one IpPermission
)

// Flag is one command-line flag of an action, as the AWS CLI spells it.
type Flag struct {
	Name  string   // without the dashes: group-id
	Usage string   // one line for --help
	Kind  FlagKind // how it is read
	Field string   // the request's field it sets; "" for FlagPerm
}

// Action is one EC2 action vpclab serves.
type Action struct {
	// Name is EC2's: AuthorizeSecurityGroupIngress, the Action= of the
	// Query API.
	Name string
	// Kinds are the kinds of resource it acts on, for authorization.
	Kinds []string
	// ReadOnly actions change nothing.
	ReadOnly bool
	// Flags are the command-line flags of `vpclab ec2 CLI-NAME`; an
	// action without flags has no such command.
	Flags []Flag
	// Request, when set, returns a new, empty request of the action for
	// DecodeJSON (and the Query API) to fill in; change applies it. The
	// reads and the instance calls, which control serves, have none.
	Request func() any
}

// IAM is the action's name in policies: ec2:AuthorizeSecurityGroupIngress.
func (a *Action) IAM() string { return "ec2:" + a.Name }

// CLIName is the AWS CLI's name of the action:
// authorize-security-group-ingress.
func (a *Action) CLIName() string { return CLIName(a.Name) }

func newRequest[T any]() any { return new(T) }

// actions is every EC2 action vpclab serves: the security-group,
// network-ACL, interface, flow-log, mirroring and instance changes, then
// the reads.
var actions = []Action{
	{Name: "AuthorizeSecurityGroupIngress", Kinds: []string{KindSecurityGroup}, Flags: sgFlags(false), Request: newRequest[AuthorizeSecurityGroupRequest]},
	{Name: "AuthorizeSecurityGroupEgress", Kinds: []string{KindSecurityGroup}, Flags: sgFlags(false), Request: newRequest[AuthorizeSecurityGroupRequest]},
	{Name: "RevokeSecurityGroupIngress", Kinds: []string{KindSecurityGroup}, Flags: sgFlags(true), Request: newRequest[RevokeSecurityGroupRequest]},
	{Name: "RevokeSecurityGroupEgress", Kinds: []string{KindSecurityGroup}, Flags: sgFlags(true), Request: newRequest[RevokeSecurityGroupRequest]},
	{Name: "CreateNetworkAclEntry", Kinds: []string{KindNetworkACL}, Flags: naclEntryFlags(), Request: newRequest[NetworkAclEntryRequest]},
	{Name: "ReplaceNetworkAclEntry", Kinds: []string{KindNetworkACL}, Flags: naclEntryFlags(), Request: newRequest[NetworkAclEntryRequest]},
	{Name: "DeleteNetworkAclEntry", Kinds: []string{KindNetworkACL}, Request: newRequest[DeleteNetworkAclEntryRequest], Flags: []Flag{
		{"network-acl-id", "the network ACL", FlagString, "NetworkAclId"},
		{"rule-number", "the rule number", FlagInt, "RuleNumber"},
		{"egress", "the egress rule (default: ingress)", FlagBool, "Egress"},
	}},
	// For ReplaceNetworkAclAssociation the resource is the ACL the subnet
	// is to use, as in EC2.
	{Name: "ReplaceNetworkAclAssociation", Kinds: []string{KindNetworkACL}, Request: newRequest[ReplaceNetworkAclAssociationRequest], Flags: []Flag{
		{"association-id", "the association (aclassoc-<subnet id>)", FlagString, "AssociationId"},
		{"subnet-id", "the subnet, instead of --association-id", FlagString, "SubnetId"},
		{"network-acl-id", "the network ACL to associate", FlagString, "NetworkAclId"},
	}},
	// ModifyNetworkInterfaceAttribute is one action in EC2 for every
	// attribute of an interface; a policy cannot tell them apart, in
	// vpclab as in AWS. It acts on the groups attached too, as IAM checks
	// them.
	{Name: "ModifyNetworkInterfaceAttribute", Kinds: []string{KindNetworkInterface, KindSecurityGroup}, Request: newRequest[ModifyNetworkInterfaceAttributeRequest], Flags: []Flag{
		{"network-interface-id", "the interface", FlagString, "NetworkInterfaceId"},
		{"groups", "the security groups, replacing the interface's", FlagStrings, "Groups"},
		{"connection-tracking-specification", "TcpEstablishedTimeout=N,UdpStreamTimeout=N,UdpTimeout=N (seconds)", FlagKV, "ConnectionTrackingSpecification"},
		{"source-dest-check", "turn the source/destination check on (=false: off)", FlagBoolValue, "SourceDestCheck"},
	}},
	// CreateSecurityGroup acts on the new group (and, in IAM, the VPC);
	// DeleteSecurityGroup on the group.
	{Name: "CreateSecurityGroup", Kinds: []string{KindSecurityGroup, KindVPC}, Request: newRequest[CreateSecurityGroupRequest], Flags: []Flag{
		{"group-name", "the group's name, which is its id in a lab", FlagString, "GroupName"},
		{"description", "what the group is for", FlagString, "Description"},
		{"vpc-id", "the VPC (the lab's; may be left out)", FlagString, "VpcId"},
	}},
	{Name: "DeleteSecurityGroup", Kinds: []string{KindSecurityGroup}, Request: newRequest[DeleteSecurityGroupRequest], Flags: []Flag{
		{"group-id", "the security group", FlagString, "GroupId"},
		{"group-name", "the security group, by name (in a lab, its id)", FlagString, "GroupName"},
	}},
	{Name: "ModifySecurityGroupRules", Kinds: []string{KindSecurityGroup}, Request: newRequest[ModifySecurityGroupRulesRequest], Flags: []Flag{
		{"group-id", "the security group", FlagString, "GroupId"},
		{"security-group-rules", "EC2's SecurityGroupRules (id and new rule) as JSON", FlagJSON, "SecurityGroupRules"},
	}},
	{Name: "UpdateSecurityGroupRuleDescriptionsIngress", Kinds: []string{KindSecurityGroup}, Request: newRequest[UpdateSecurityGroupRuleDescriptionsRequest], Flags: descFlags()},
	{Name: "UpdateSecurityGroupRuleDescriptionsEgress", Kinds: []string{KindSecurityGroup}, Request: newRequest[UpdateSecurityGroupRuleDescriptionsRequest], Flags: descFlags()},
	// CreateNetworkAcl acts on the VPC (and, in IAM, the new ACL).
	{Name: "CreateNetworkAcl", Kinds: []string{KindNetworkACL, KindVPC}, Request: newRequest[CreateNetworkAclRequest], Flags: []Flag{
		{"vpc-id", "the VPC (the lab's)", FlagString, "VpcId"},
	}},
	{Name: "DeleteNetworkAcl", Kinds: []string{KindNetworkACL}, Request: newRequest[DeleteNetworkAclRequest], Flags: []Flag{
		{"network-acl-id", "the network ACL", FlagString, "NetworkAclId"},
	}},
	// CreateTags and DeleteTags act on the resources they tag, of any
	// kind (the kind an id's prefix says: sg-, acl-, subnet-, vpc-, eni-,
	// fl-; else an instance).
	{Name: "CreateTags", Kinds: Kinds, Request: newRequest[CreateTagsRequest], Flags: []Flag{
		{"resources", "the resources' ids", FlagStrings, "Resources"},
		{"tags", "EC2's Tags as JSON: [{\"Key\": \"Name\", \"Value\": \"web\"}]", FlagJSON, "Tags"},
	}},
	{Name: "DeleteTags", Kinds: Kinds, Request: newRequest[DeleteTagsRequest], Flags: []Flag{
		{"resources", "the resources' ids", FlagStrings, "Resources"},
		{"tags", "the tags as JSON (a Key alone: whatever its value); none: every tag", FlagJSON, "Tags"},
	}},
	{Name: "CreateManagedPrefixList", Kinds: []string{KindPrefixList}, Request: newRequest[CreateManagedPrefixListRequest], Flags: []Flag{
		{"prefix-list-name", "the list's name, which is its id in a lab", FlagString, "PrefixListName"},
		{"address-family", "IPv4 or IPv6", FlagString, "AddressFamily"},
		{"max-entries", "the most entries it may hold (rules using it count it)", FlagInt, "MaxEntries"},
		{"entries", "EC2's Entries as JSON: [{\"Cidr\": \"10.0.0.0/8\"}]", FlagJSON, "Entries"},
	}},
	{Name: "ModifyManagedPrefixList", Kinds: []string{KindPrefixList}, Request: newRequest[ModifyManagedPrefixListRequest], Flags: []Flag{
		{"prefix-list-id", "the prefix list", FlagString, "PrefixListId"},
		{"max-entries", "a new maximum", FlagInt, "MaxEntries"},
		{"add-entries", "entries to add, as JSON", FlagJSON, "AddEntries"},
		{"remove-entries", "entries to remove, as JSON", FlagJSON, "RemoveEntries"},
	}},
	{Name: "DeleteManagedPrefixList", Kinds: []string{KindPrefixList}, Request: newRequest[DeleteManagedPrefixListRequest], Flags: []Flag{
		{"prefix-list-id", "the prefix list", FlagString, "PrefixListId"},
	}},
	// CreateFlowLogs acts on what it logs.
	{Name: "CreateFlowLogs", Kinds: []string{KindVPC, KindSubnet, KindNetworkInterface}, Request: newRequest[CreateFlowLogsRequest], Flags: []Flag{
		{"resource-type", "VPC, Subnet or NetworkInterface", FlagString, "ResourceType"},
		{"resource-ids", "the resources' ids", FlagStrings, "ResourceIds"},
		{"traffic-type", "ACCEPT, REJECT or ALL", FlagString, "TrafficType"},
		{"log-format", "AWS's format, such as '${srcaddr} ${dstaddr}'", FlagString, "LogFormat"},
		{"max-aggregation-interval", "60 or 600 (seconds)", FlagInt, "MaxAggregationInterval"},
		{"log-destination-type", "file (the only one a lab writes)", FlagString, "LogDestinationType"},
		{"log-destination", "the directory", FlagString, "LogDestination"},
	}},
	{Name: "DeleteFlowLogs", Kinds: []string{KindFlowLog}, Request: newRequest[DeleteFlowLogsRequest], Flags: []Flag{
		{"flow-log-ids", "the flow logs", FlagStrings, "FlowLogIds"},
	}},
	// CreateTrafficMirrorSession acts on the source interface.
	{Name: "CreateTrafficMirrorSession", Kinds: []string{KindNetworkInterface}},
	{Name: "DeleteTrafficMirrorSession", Kinds: []string{KindTrafficMirrorSession}},
	{Name: "StartInstances", Kinds: []string{KindInstance}, Flags: []Flag{
		{"instance-ids", "the instances (their names in the lab)", FlagStrings, "InstanceIds"},
	}},
	{Name: "StopInstances", Kinds: []string{KindInstance}, Flags: []Flag{
		{"instance-ids", "the instances (their names in the lab)", FlagStrings, "InstanceIds"},
		{"force", "accepted; a lab instance stops at once anyway", FlagBool, "Force"},
	}},
	// EC2 has no resource-level permissions for its Describe and Get
	// actions: they act on the VPC, and policies give them Resource "*".
	{Name: "DescribeSecurityGroups", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeNetworkAcls", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeNetworkInterfaces", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeInstances", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeFlowLogs", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeSecurityGroupRules", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeVpcs", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeSubnets", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeRouteTables", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeManagedPrefixLists", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "GetManagedPrefixListEntries", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeAvailabilityZones", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeRegions", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeAccountAttributes", Kinds: []string{KindVPC}, ReadOnly: true},
	{Name: "DescribeTags", Kinds: []string{KindVPC}, ReadOnly: true},
}

func sgFlags(revoke bool) []Flag {
	f := []Flag{
		{"group-id", "the security group", FlagString, "GroupId"},
		{"ip-permissions", "EC2's IpPermissions as JSON", FlagJSON, "IpPermissions"},
		{"protocol", "shorthand: tcp, udp, icmp, icmpv6, -1 or a number", FlagPerm, ""},
		{"port", "shorthand: a port, a range 1024-65535, or -1; for ICMP the type", FlagPerm, ""},
		{"cidr", "shorthand: the peer CIDR (IPv4 or IPv6)", FlagPerm, ""},
		{"source-group", "shorthand: the peer security group", FlagPerm, ""},
		{"description", "shorthand: the rule's description", FlagPerm, ""},
	}
	if revoke {
		f = append(f, Flag{"security-group-rule-ids", "the rules to revoke, by id", FlagStrings, "SecurityGroupRuleIds"})
	}
	return f
}

func descFlags() []Flag {
	return []Flag{
		{"group-id", "the security group", FlagString, "GroupId"},
		{"ip-permissions", "the rules, with their new descriptions, as EC2's IpPermissions JSON", FlagJSON, "IpPermissions"},
		{"security-group-rule-descriptions", "SecurityGroupRuleId and Description pairs as JSON", FlagJSON, "SecurityGroupRuleDescriptions"},
	}
}

func naclEntryFlags() []Flag {
	return []Flag{
		{"network-acl-id", "the network ACL", FlagString, "NetworkAclId"},
		{"rule-number", "1-32766", FlagInt, "RuleNumber"},
		{"egress", "an egress entry (default: ingress)", FlagBool, "Egress"},
		{"protocol", "-1, 6 (tcp), 17 (udp), 1 (icmp), 58 (icmpv6), …", FlagString, "Protocol"},
		{"rule-action", "allow or deny", FlagString, "RuleAction"},
		{"cidr-block", "the IPv4 block", FlagString, "CidrBlock"},
		{"ipv6-cidr-block", "the IPv6 block", FlagString, "Ipv6CidrBlock"},
		{"port-range", "From=N,To=M", FlagKV, "PortRange"},
		{"icmp-type-code", "Type=N,Code=M (-1 any)", FlagKV, "IcmpTypeCode"},
	}
}

// Actions returns every EC2 action vpclab serves, in a fixed order. The
// slice is the caller's; the actions' slices are shared and must not be
// modified.
func Actions() []Action { return append([]Action(nil), actions...) }

// LookupAction returns the action of EC2's name (AuthorizeSecurityGroupIngress),
// the CLI's (authorize-security-group-ingress) or IAM's
// (ec2:AuthorizeSecurityGroupIngress, any case, as IAM compares them).
func LookupAction(name string) (*Action, bool) {
	if len(name) > 4 && strings.EqualFold(name[:4], "ec2:") {
		name = name[4:]
	}
	name = APIName(name)
	for i := range actions {
		if strings.EqualFold(actions[i].Name, name) {
			return &actions[i], true
		}
	}
	return nil, false
}

// DecodeJSON decodes a JSON request body into a new request of a: unknown
// fields and trailing data are errors (MalformedRequest), and an action
// without a Request is InvalidAction.
func (a *Action) DecodeJSON(body []byte) (any, error) {
	if a.Request == nil {
		return nil, errorf("InvalidAction", "", "%s takes no request vpclab decodes", a.Name)
	}
	req := a.Request()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return nil, errorf("MalformedRequest", "", "%s: %v", a.Name, jsonError(err, req))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errorf("MalformedRequest", "", "%s: more than one JSON value in the body", a.Name)
	}
	return req, nil
}

// jsonError words a decoding error of req, naming the field by its path
// in the request as sent (without the names of embedded shapes, such as
// NetworkAclEntryRequest's NetworkAclEntry).
func jsonError(err error, req any) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		t := reflect.TypeOf(req).Elem()
		for i := range t.NumField() {
			if f := t.Field(i); f.Anonymous {
				field = strings.TrimPrefix(field, f.Name+".")
			}
		}
		return fmt.Sprintf("field %s: %s is not %s", field, te.Value, te.Type)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// APIName turns a CLI action name (authorize-security-group-ingress) into
// EC2's (AuthorizeSecurityGroupIngress); an API name is returned as it is.
func APIName(action string) string {
	if !strings.Contains(action, "-") {
		return action
	}
	var b strings.Builder
	for _, w := range strings.Split(action, "-") {
		if w == "" {
			continue
		}
		switch w {
		case "acl":
			w = "Acl"
		default:
			w = strings.ToUpper(w[:1]) + w[1:]
		}
		b.WriteString(w)
	}
	return b.String()
}

// CLIName is the AWS CLI's name of an action: AuthorizeSecurityGroupIngress
// is authorize-security-group-ingress.
func CLIName(api string) string {
	var b strings.Builder
	for i, r := range api {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
