package ec2

// The requests of the reads, as EC2's API spells them: ids to describe,
// filters and pagination. The Query protocol names each list in the
// singular (GroupId.1, Filter.1.Name, Filter.1.Value.1), as their query
// tags say.

// Filter is one of a describe call's filters: a resource matches when
// its attribute Name has one of Values (* and ? are wildcards).
type Filter struct {
	Name   string   `json:"Name"`
	Values []string `json:"Values" query:"Value"`
}

// Page is a describe call's pagination: at most MaxResults items, from
// where NextToken, the previous page's, left off.
type Page struct {
	MaxResults int    `json:"MaxResults,omitempty"`
	NextToken  string `json:"NextToken,omitempty"`
}

// DescribeSecurityGroupsRequest is the request of DescribeSecurityGroups.
type DescribeSecurityGroupsRequest struct {
	GroupIds   []string `json:"GroupIds,omitempty" query:"GroupId"`
	GroupNames []string `json:"GroupNames,omitempty" query:"GroupName"`
	Filters    []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeSecurityGroupRulesRequest is the request of
// DescribeSecurityGroupRules.
type DescribeSecurityGroupRulesRequest struct {
	SecurityGroupRuleIds []string `json:"SecurityGroupRuleIds,omitempty" query:"SecurityGroupRuleId"`
	Filters              []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeNetworkAclsRequest is the request of DescribeNetworkAcls.
type DescribeNetworkAclsRequest struct {
	NetworkAclIds []string `json:"NetworkAclIds,omitempty" query:"NetworkAclId"`
	Filters       []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeVpcsRequest is the request of DescribeVpcs.
type DescribeVpcsRequest struct {
	VpcIds  []string `json:"VpcIds,omitempty" query:"VpcId"`
	Filters []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeSubnetsRequest is the request of DescribeSubnets.
type DescribeSubnetsRequest struct {
	SubnetIds []string `json:"SubnetIds,omitempty" query:"SubnetId"`
	Filters   []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeNetworkInterfacesRequest is the request of
// DescribeNetworkInterfaces.
type DescribeNetworkInterfacesRequest struct {
	NetworkInterfaceIds []string `json:"NetworkInterfaceIds,omitempty" query:"NetworkInterfaceId"`
	Filters             []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeInstancesRequest is the request of DescribeInstances. A lab
// instance's id is its name.
type DescribeInstancesRequest struct {
	InstanceIds []string `json:"InstanceIds,omitempty" query:"InstanceId"`
	Filters     []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeFlowLogsRequest is the request of DescribeFlowLogs.
type DescribeFlowLogsRequest struct {
	FlowLogIds []string `json:"FlowLogIds,omitempty" query:"FlowLogId"`
	Filters    []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeRouteTablesRequest is the request of DescribeRouteTables.
type DescribeRouteTablesRequest struct {
	RouteTableIds []string `json:"RouteTableIds,omitempty" query:"RouteTableId"`
	Filters       []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// DescribeManagedPrefixListsRequest is the request of
// DescribeManagedPrefixLists.
type DescribeManagedPrefixListsRequest struct {
	PrefixListIds []string `json:"PrefixListIds,omitempty" query:"PrefixListId"`
	Filters       []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// GetManagedPrefixListEntriesRequest is the request of
// GetManagedPrefixListEntries.
type GetManagedPrefixListEntriesRequest struct {
	PrefixListId  string `json:"PrefixListId"`
	TargetVersion int    `json:"TargetVersion,omitempty"`
	Page
}

// DescribeAvailabilityZonesRequest is the request of
// DescribeAvailabilityZones.
type DescribeAvailabilityZonesRequest struct {
	ZoneNames            []string `json:"ZoneNames,omitempty" query:"ZoneName"`
	ZoneIds              []string `json:"ZoneIds,omitempty" query:"ZoneId"`
	AllAvailabilityZones bool     `json:"AllAvailabilityZones,omitempty"`
	Filters              []Filter `json:"Filters,omitempty" query:"Filter"`
}

// DescribeRegionsRequest is the request of DescribeRegions.
type DescribeRegionsRequest struct {
	RegionNames []string `json:"RegionNames,omitempty" query:"RegionName"`
	AllRegions  bool     `json:"AllRegions,omitempty"`
	Filters     []Filter `json:"Filters,omitempty" query:"Filter"`
}

// DescribeAccountAttributesRequest is the request of
// DescribeAccountAttributes.
type DescribeAccountAttributesRequest struct {
	AttributeNames []string `json:"AttributeNames,omitempty" query:"AttributeName"`
}

// DescribeTagsRequest is the request of DescribeTags.
type DescribeTagsRequest struct {
	Filters []Filter `json:"Filters,omitempty" query:"Filter"`
	Page
}

// KindOf is the kind of resource an id names, by its prefix: sg-, acl-,
// subnet-, vpc-, eni-, fl-, tms-; any other id is an instance's (a lab
// instance's id is its name).
func KindOf(id string) string {
	for _, k := range []struct{ prefix, kind string }{
		{"sg-", KindSecurityGroup}, {"acl-", KindNetworkACL}, {"subnet-", KindSubnet}, {"vpc-", KindVPC},
		{"eni-", KindNetworkInterface}, {"fl-", KindFlowLog}, {"tms-", KindTrafficMirrorSession}, {"pl-", KindPrefixList},
	} {
		if len(id) > len(k.prefix) && id[:len(k.prefix)] == k.prefix {
			return k.kind
		}
	}
	return KindInstance
}
