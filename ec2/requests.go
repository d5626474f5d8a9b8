package ec2

// The requests of the changing actions, as EC2's API and the AWS CLI's
// --cli-input-json spell them (and the Query protocol, where a `query`
// tag says so: SecurityGroupRuleId.N for SecurityGroupRuleIds).
// Action.Request returns a new one of its action; change applies them.

// AuthorizeSecurityGroupRequest is the request of
// AuthorizeSecurityGroupIngress and AuthorizeSecurityGroupEgress.
type AuthorizeSecurityGroupRequest struct {
	GroupId       string         `json:"GroupId"`
	IpPermissions []IpPermission `json:"IpPermissions"`
	Shorthand
}

// Shorthand is EC2's older form of one permission, beside IpPermissions
// in the authorize and revoke requests: a protocol and ports with a CIDR
// or a source group (by id or, in a lab, its name, the same). Permission
// turns it into an IpPermission.
type Shorthand struct {
	IpProtocol                 string `json:"IpProtocol,omitempty"`
	FromPort                   *int   `json:"FromPort,omitempty"`
	ToPort                     *int   `json:"ToPort,omitempty"`
	CidrIp                     string `json:"CidrIp,omitempty"`
	SourceSecurityGroupName    string `json:"SourceSecurityGroupName,omitempty"`
	SourceSecurityGroupOwnerId string `json:"SourceSecurityGroupOwnerId,omitempty"`
}

// Permission returns the permission s stands for, and whether s gives
// one. A source group alone, without a protocol, is every protocol from
// it, as EC2 takes it.
func (s Shorthand) Permission() (IpPermission, bool) {
	if s == (Shorthand{}) {
		return IpPermission{}, false
	}
	p := IpPermission{IpProtocol: s.IpProtocol, FromPort: s.FromPort, ToPort: s.ToPort}
	if p.IpProtocol == "" && s.SourceSecurityGroupName != "" {
		p.IpProtocol = "-1"
	}
	if s.CidrIp != "" {
		p.IpRanges = []IpRange{{CidrIp: s.CidrIp}}
	}
	if s.SourceSecurityGroupName != "" {
		p.UserIdGroupPairs = []UserIdGroupPair{{GroupId: s.SourceSecurityGroupName, UserId: s.SourceSecurityGroupOwnerId}}
	}
	return p, true
}

// RevokeSecurityGroupRequest is the request of RevokeSecurityGroupIngress
// and RevokeSecurityGroupEgress: the rules named by id, or described by
// IpPermissions.
type RevokeSecurityGroupRequest struct {
	GroupId              string         `json:"GroupId"`
	IpPermissions        []IpPermission `json:"IpPermissions,omitempty"`
	SecurityGroupRuleIds []string       `json:"SecurityGroupRuleIds,omitempty" query:"SecurityGroupRuleId"`
	Shorthand
}

// NetworkAclEntryRequest is the request of CreateNetworkAclEntry and
// ReplaceNetworkAclEntry: the ACL and the entry.
type NetworkAclEntryRequest struct {
	NetworkAclId string `json:"NetworkAclId"`
	NetworkAclEntry
}

// DeleteNetworkAclEntryRequest is the request of DeleteNetworkAclEntry.
type DeleteNetworkAclEntryRequest struct {
	NetworkAclId string `json:"NetworkAclId"`
	RuleNumber   int    `json:"RuleNumber"`
	Egress       bool   `json:"Egress"`
}

// ReplaceNetworkAclAssociationRequest is the request of
// ReplaceNetworkAclAssociation. SubnetId may stand for AssociationId (a
// vpclab extension).
type ReplaceNetworkAclAssociationRequest struct {
	AssociationId string `json:"AssociationId,omitempty"`
	SubnetId      string `json:"SubnetId,omitempty"`
	NetworkAclId  string `json:"NetworkAclId"`
}

// ConnectionTrackingSpecificationRequest is an interface's idle timeouts,
// in seconds.
type ConnectionTrackingSpecificationRequest struct {
	TcpEstablishedTimeout *int `json:"TcpEstablishedTimeout,omitempty"`
	UdpStreamTimeout      *int `json:"UdpStreamTimeout,omitempty"`
	UdpTimeout            *int `json:"UdpTimeout,omitempty"`
}

// AttributeBooleanValue is EC2's boxed boolean attribute.
type AttributeBooleanValue struct {
	Value bool `json:"Value"`
}

// ModifyNetworkInterfaceAttributeRequest is the request of
// ModifyNetworkInterfaceAttribute: one attribute of an interface.
type ModifyNetworkInterfaceAttributeRequest struct {
	NetworkInterfaceId              string                                  `json:"NetworkInterfaceId"`
	Groups                          []string                                `json:"Groups,omitempty" query:"SecurityGroupId"`
	ConnectionTrackingSpecification *ConnectionTrackingSpecificationRequest `json:"ConnectionTrackingSpecification,omitempty"`
	SourceDestCheck                 *AttributeBooleanValue                  `json:"SourceDestCheck,omitempty"`
}

// CreateFlowLogsRequest is the request of CreateFlowLogs.
type CreateFlowLogsRequest struct {
	ResourceIds            []string `json:"ResourceIds" query:"ResourceId"`
	ResourceType           string   `json:"ResourceType"`
	TrafficType            string   `json:"TrafficType,omitempty"`
	LogFormat              string   `json:"LogFormat,omitempty"`
	MaxAggregationInterval int      `json:"MaxAggregationInterval,omitempty"`
	LogDestinationType     string   `json:"LogDestinationType,omitempty"`
	LogDestination         string   `json:"LogDestination,omitempty"`
}

// DeleteFlowLogsRequest is the request of DeleteFlowLogs.
type DeleteFlowLogsRequest struct {
	FlowLogIds []string `json:"FlowLogIds" query:"FlowLogId"`
}

// CreateSecurityGroupRequest is the request of CreateSecurityGroup. In a
// lab a group's name is its id: GroupName becomes the new group's id.
type CreateSecurityGroupRequest struct {
	GroupName         string             `json:"GroupName"`
	Description       string             `json:"Description" query:"GroupDescription"`
	VpcId             string             `json:"VpcId,omitempty"`
	TagSpecifications []TagSpecification `json:"TagSpecifications,omitempty" query:"TagSpecification"`
}

// DeleteSecurityGroupRequest is the request of DeleteSecurityGroup: the
// group by id or by name (in a lab, the same).
type DeleteSecurityGroupRequest struct {
	GroupId   string `json:"GroupId,omitempty"`
	GroupName string `json:"GroupName,omitempty"`
}

// CreateNetworkAclRequest is the request of CreateNetworkAcl.
type CreateNetworkAclRequest struct {
	VpcId             string             `json:"VpcId"`
	ClientToken       string             `json:"ClientToken,omitempty"`
	TagSpecifications []TagSpecification `json:"TagSpecifications,omitempty" query:"TagSpecification"`
}

// DeleteNetworkAclRequest is the request of DeleteNetworkAcl.
type DeleteNetworkAclRequest struct {
	NetworkAclId string `json:"NetworkAclId"`
}

// SecurityGroupRuleRequest is one rule as ModifySecurityGroupRules takes
// it: a protocol, ports and one peer.
type SecurityGroupRuleRequest struct {
	IpProtocol        string `json:"IpProtocol"`
	FromPort          *int   `json:"FromPort,omitempty"`
	ToPort            *int   `json:"ToPort,omitempty"`
	CidrIpv4          string `json:"CidrIpv4,omitempty"`
	CidrIpv6          string `json:"CidrIpv6,omitempty"`
	PrefixListId      string `json:"PrefixListId,omitempty"`
	ReferencedGroupId string `json:"ReferencedGroupId,omitempty"`
	Description       string `json:"Description,omitempty"`
}

// Permission is r as an IpPermission of one peer.
func (r SecurityGroupRuleRequest) Permission() IpPermission {
	p := IpPermission{IpProtocol: r.IpProtocol, FromPort: r.FromPort, ToPort: r.ToPort}
	switch {
	case r.CidrIpv4 != "":
		p.IpRanges = []IpRange{{CidrIp: r.CidrIpv4, Description: r.Description}}
	case r.CidrIpv6 != "":
		p.Ipv6Ranges = []Ipv6Range{{CidrIpv6: r.CidrIpv6, Description: r.Description}}
	case r.PrefixListId != "":
		p.PrefixListIds = []PrefixListId{{PrefixListId: r.PrefixListId, Description: r.Description}}
	case r.ReferencedGroupId != "":
		p.UserIdGroupPairs = []UserIdGroupPair{{GroupId: r.ReferencedGroupId, Description: r.Description}}
	}
	return p
}

// SecurityGroupRuleUpdate is one rule ModifySecurityGroupRules replaces.
type SecurityGroupRuleUpdate struct {
	SecurityGroupRuleId string                   `json:"SecurityGroupRuleId"`
	SecurityGroupRule   SecurityGroupRuleRequest `json:"SecurityGroupRule"`
}

// ModifySecurityGroupRulesRequest is the request of
// ModifySecurityGroupRules.
type ModifySecurityGroupRulesRequest struct {
	GroupId            string                    `json:"GroupId"`
	SecurityGroupRules []SecurityGroupRuleUpdate `json:"SecurityGroupRules" query:"SecurityGroupRule"`
}

// SecurityGroupRuleDescription is a rule's new description, by id.
type SecurityGroupRuleDescription struct {
	SecurityGroupRuleId string `json:"SecurityGroupRuleId"`
	Description         string `json:"Description"`
}

// UpdateSecurityGroupRuleDescriptionsRequest is the request of
// UpdateSecurityGroupRuleDescriptionsIngress and -Egress: rules named by
// id, or described by IpPermissions carrying the new descriptions.
type UpdateSecurityGroupRuleDescriptionsRequest struct {
	GroupId                       string                         `json:"GroupId,omitempty"`
	GroupName                     string                         `json:"GroupName,omitempty"`
	IpPermissions                 []IpPermission                 `json:"IpPermissions,omitempty"`
	SecurityGroupRuleDescriptions []SecurityGroupRuleDescription `json:"SecurityGroupRuleDescriptions,omitempty" query:"SecurityGroupRuleDescription"`
}

// InstancesRequest is the request of StartInstances and StopInstances. A
// lab instance's id is its name; Force and Hibernate are accepted and
// change nothing: a lab instance stops at once.
type InstancesRequest struct {
	InstanceIds []string `json:"InstanceIds" query:"InstanceId"`
	Force       bool     `json:"Force,omitempty"`
	Hibernate   bool     `json:"Hibernate,omitempty"`
}

// Tag is one of EC2's tags.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// TagSpecification is the tags a create call puts on what it creates.
type TagSpecification struct {
	ResourceType string `json:"ResourceType,omitempty"`
	Tags         []Tag  `json:"Tags,omitempty" query:"Tag"`
}

// CreateTagsRequest is the request of CreateTags.
type CreateTagsRequest struct {
	Resources []string `json:"Resources" query:"ResourceId"`
	Tags      []Tag    `json:"Tags" query:"Tag"`
}

// DeleteTag is a tag DeleteTags removes: by key, or by key and value
// when Value is given.
type DeleteTag struct {
	Key   string  `json:"Key"`
	Value *string `json:"Value,omitempty"`
}

// DeleteTagsRequest is the request of DeleteTags; without Tags, every
// tag of the resources goes.
type DeleteTagsRequest struct {
	Resources []string    `json:"Resources" query:"ResourceId"`
	Tags      []DeleteTag `json:"Tags,omitempty" query:"Tag"`
}

// PrefixListEntry is one CIDR of a managed prefix list.
type PrefixListEntry struct {
	Cidr        string `json:"Cidr"`
	Description string `json:"Description,omitempty"`
}

// CreateManagedPrefixListRequest is the request of
// CreateManagedPrefixList. In a lab a prefix list's name is its id.
type CreateManagedPrefixListRequest struct {
	PrefixListName    string             `json:"PrefixListName"`
	AddressFamily     string             `json:"AddressFamily"`
	MaxEntries        int                `json:"MaxEntries"`
	Entries           []PrefixListEntry  `json:"Entries,omitempty" query:"Entry"`
	ClientToken       string             `json:"ClientToken,omitempty"`
	TagSpecifications []TagSpecification `json:"TagSpecifications,omitempty" query:"TagSpecification"`
}

// ModifyManagedPrefixListRequest is the request of
// ModifyManagedPrefixList.
type ModifyManagedPrefixListRequest struct {
	PrefixListId   string            `json:"PrefixListId"`
	CurrentVersion int               `json:"CurrentVersion,omitempty"`
	PrefixListName string            `json:"PrefixListName,omitempty"`
	MaxEntries     int               `json:"MaxEntries,omitempty"`
	AddEntries     []PrefixListEntry `json:"AddEntries,omitempty" query:"AddEntry"`
	RemoveEntries  []PrefixListEntry `json:"RemoveEntries,omitempty" query:"RemoveEntry"`
}

// DeleteManagedPrefixListRequest is the request of
// DeleteManagedPrefixList.
type DeleteManagedPrefixListRequest struct {
	PrefixListId string `json:"PrefixListId"`
}
