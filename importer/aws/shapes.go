package aws

import (
	"encoding/json"

	"github.com/vpclab/vpclab/ec2"
)

// This file holds the shapes of the AWS CLI's JSON output that the importer
// reads, one struct per object type, named after the API's types. Field
// names are the CLI's keys. Every key the CLI is known to print is listed:
// those the importer reads with their type, those it deliberately leaves
// aside (names, tags, DNS names, MAC addresses, times, states, ARNs…,
// nothing that changes which packets pass) as ignored. The rule shapes
// (IpPermission and its peers, NetworkAclEntry) are ec2's. A key listed
// nowhere is reported as unknown, so that a field AWS adds later is never
// dropped unseen.

// ignored is a key the importer knows and deliberately does not read.
type ignored = json.RawMessage

// tag is one of an object's tags; only an instance's Name tag is read.
type tag struct {
	Key, Value string
}

// vpc is an item of describe-vpcs' Vpcs.
type vpc struct {
	VpcId                       string
	OwnerId                     string
	CidrBlock                   string
	CidrBlockAssociationSet     []cidrAssociation
	Ipv6CidrBlockAssociationSet []ipv6Association
	State                       string

	IsDefault, DhcpOptionsId, InstanceTenancy, Tags, BlockPublicAccessStates,
	EncryptionControl ignored
}

// cidrAssociation is a VPC's IPv4 block.
type cidrAssociation struct {
	CidrBlock      string
	CidrBlockState *blockState

	AssociationId ignored
}

// ipv6Association is a VPC's or a subnet's IPv6 block.
type ipv6Association struct {
	Ipv6CidrBlock      string
	Ipv6CidrBlockState *blockState

	AssociationId, NetworkBorderGroup, Ipv6Pool, Ipv6IpamPoolId,
	Ipv6AddressAttribute, IpSource ignored
}

// blockState is the state of a block's association.
type blockState struct {
	State string

	StatusMessage ignored
}

// subnet is an item of describe-subnets' Subnets.
type subnet struct {
	SubnetId                    string
	VpcId                       string
	CidrBlock                   string
	Ipv6CidrBlockAssociationSet []ipv6Association
	Ipv6Native                  bool
	AvailabilityZone            string
	AvailabilityZoneId          string
	SubnetArn                   string
	OutpostArn                  string

	// MapPublicIpOnLaunch says whether instances get a public address, not
	// whether the subnet routes to the internet: route tables say that.
	MapPublicIpOnLaunch ignored

	OwnerId, State, AvailableIpAddressCount, DefaultForAz,
	MapCustomerOwnedIpOnLaunch, CustomerOwnedIpv4Pool,
	AssignIpv6AddressOnCreation, EnableDns64, EnableLniAtDeviceIndex,
	PrivateDnsNameOptionsOnLaunch, BlockPublicAccessStates, Type, Tags ignored
}

// networkACL is an item of describe-network-acls' NetworkAcls.
type networkACL struct {
	NetworkAclId string
	VpcId        string
	IsDefault    bool
	Entries      []ec2.NetworkAclEntry
	Associations []aclAssociation

	OwnerId, Tags ignored
}

// aclAssociation ties a subnet to its network ACL.
type aclAssociation struct {
	NetworkAclId string
	SubnetId     string

	NetworkAclAssociationId ignored
}

// securityGroup is an item of describe-security-groups' SecurityGroups.
type securityGroup struct {
	GroupId             string
	GroupName           string
	Description         string
	VpcId               string
	OwnerId             string
	IpPermissions       []ec2.IpPermission
	IpPermissionsEgress []ec2.IpPermission

	SecurityGroupArn, Tags ignored
}

// securityGroupRule is an item of describe-security-group-rules'
// SecurityGroupRules: one rule with exactly one peer.
type securityGroupRule struct {
	SecurityGroupRuleId string
	GroupId             string
	IsEgress            bool
	IpProtocol          string
	FromPort, ToPort    *int
	CidrIpv4            string
	CidrIpv6            string
	PrefixListId        string
	ReferencedGroupInfo *referencedGroup
	Description         string

	GroupOwnerId, SecurityGroupRuleArn, Tags ignored
}

// referencedGroup is a rule's security-group peer.
type referencedGroup struct {
	GroupId                string
	UserId                 string
	VpcId                  string
	VpcPeeringConnectionId string
	PeeringStatus          string
}

// prefixList is an item of PrefixLists: of describe-managed-prefix-lists
// (without Cidrs; the entries come from get-managed-prefix-list-entries), or
// of the older describe-prefix-lists (AWS's service lists, with Cidrs).
type prefixList struct {
	PrefixListId   string
	PrefixListName string
	AddressFamily  string
	MaxEntries     *int
	OwnerId        string
	State          string
	Cidrs          []string

	PrefixListArn, Version, StateMessage, Tags, IpamPrefixListResolverSyncEnabled,
	IpamPrefixListResolverTargetId ignored
}

// prefixListEntry is an item of get-managed-prefix-list-entries' Entries.
type prefixListEntry struct {
	Cidr string

	Description ignored
}

// reservation is an item of describe-instances' Reservations.
type reservation struct {
	Instances []instance

	Groups, OwnerId, RequesterId, ReservationId ignored
}

// instance is an EC2 instance.
type instance struct {
	InstanceId        string
	VpcId             string
	State             *instanceState
	Tags              []tag
	NetworkInterfaces []instanceENI
	MetadataOptions   *metadataOptions

	// The primary interface's, repeated.
	SubnetId, PrivateIpAddress, PrivateDnsName, SecurityGroups, SourceDestCheck,
	PublicIpAddress, PublicDnsName, Ipv6Address ignored

	AmiLaunchIndex, ImageId, InstanceType, KernelId, KeyName, LaunchTime,
	Monitoring, Placement, Platform, ProductCodes, RamdiskId,
	StateTransitionReason, Architecture, BlockDeviceMappings, ClientToken,
	EbsOptimized, EnaSupport, Hypervisor, IamInstanceProfile, InstanceLifecycle,
	ElasticGpuAssociations, ElasticInferenceAcceleratorAssociations, OutpostArn,
	RootDeviceName, RootDeviceType, SpotInstanceRequestId, SriovNetSupport,
	StateReason, VirtualizationType, CpuOptions, CapacityBlockId,
	CapacityReservationId, CapacityReservationSpecification, HibernationOptions,
	Licenses, EnclaveOptions, BootMode, PlatformDetails, UsageOperation,
	UsageOperationUpdateTime, PrivateDnsNameOptions, TpmSupport,
	MaintenanceOptions, CurrentInstanceBootMode, NetworkPerformanceOptions,
	Operator ignored
}

// instanceState is an instance's state (pending, running, stopped…).
type instanceState struct {
	Name string

	Code ignored
}

// metadataOptions are an instance's metadata service settings.
type metadataOptions struct {
	HttpTokens   string
	HttpEndpoint string

	State, HttpPutResponseHopLimit, HttpProtocolIpv6, InstanceMetadataTags ignored
}

// eniCommon holds the fields an interface has in describe-instances and
// describe-network-interfaces alike.
type eniCommon struct {
	NetworkInterfaceId              string
	SubnetId                        string
	VpcId                           string
	PrivateIpAddresses              []privateIP
	Ipv6Addresses                   []ipv6Address
	Groups                          []groupIdentifier
	SourceDestCheck                 *bool
	ConnectionTrackingConfiguration *conntrackConfig
	InterfaceType                   string
	Association                     *publicAssociation
	Ipv4Prefixes                    []ipv4Prefix
	Ipv6Prefixes                    []ipv6Prefix

	PrivateIpAddress, Description, MacAddress, OwnerId, PrivateDnsName,
	Status, Operator ignored
}

// instanceENI is an interface in describe-instances.
type instanceENI struct {
	eniCommon
	Attachment *attachment
}

// networkInterface is an item of describe-network-interfaces'
// NetworkInterfaces.
type networkInterface struct {
	eniCommon
	Attachment       *attachment
	RequesterManaged bool
	RequesterId      string

	AvailabilityZone, TagSet, DenyAllIgwTraffic, Ipv6Native, Ipv6Address,
	OutpostArn, AssociatedSubnets, AvailabilityZoneId ignored
}

// attachment ties an interface to an instance.
type attachment struct {
	InstanceId       string
	InstanceOwnerId  string
	DeviceIndex      *int
	NetworkCardIndex *int

	AttachTime, AttachmentId, DeleteOnTermination, Status, EnaSrdSpecification,
	EnaQueueCount ignored
}

// privateIP is one private IPv4 address of an interface.
type privateIP struct {
	PrivateIpAddress string
	Primary          bool
	Association      *publicAssociation

	PrivateDnsName ignored
}

// ipv6Address is one IPv6 address of an interface.
type ipv6Address struct {
	Ipv6Address string

	IsPrimaryIpv6 ignored
}

// ipv4Prefix and ipv6Prefix are prefixes delegated to an interface.
type ipv4Prefix struct{ Ipv4Prefix string }
type ipv6Prefix struct{ Ipv6Prefix string }

// groupIdentifier is a security group attached to an interface.
type groupIdentifier struct {
	GroupId string

	GroupName ignored
}

// conntrackConfig is an interface's connection-tracking timeouts, in
// seconds; zero when not set.
type conntrackConfig struct {
	TcpEstablishedTimeout int
	UdpStreamTimeout      int
	UdpTimeout            int
}

// publicAssociation is a public or Elastic IP address of an interface.
type publicAssociation struct {
	PublicIp        string
	CarrierIp       string
	CustomerOwnedIp string

	AllocationId, AssociationId, IpOwnerId, PublicDnsName ignored
}

// routeTable is an item of describe-route-tables' RouteTables.
type routeTable struct {
	RouteTableId    string
	VpcId           string
	Associations    []routeTableAssociation
	Routes          []route
	PropagatingVgws []struct{ GatewayId string }

	OwnerId, Tags ignored
}

// routeTableAssociation ties a subnet (or a gateway) to a route table, or
// marks the VPC's main table.
type routeTableAssociation struct {
	Main      bool
	SubnetId  string
	GatewayId string

	RouteTableAssociationId, RouteTableId, AssociationState ignored
}

// route is one route of a route table.
type route struct {
	DestinationCidrBlock        string
	DestinationIpv6CidrBlock    string
	DestinationPrefixListId     string
	GatewayId                   string
	NatGatewayId                string
	TransitGatewayId            string
	VpcPeeringConnectionId      string
	NetworkInterfaceId          string
	InstanceId                  string
	EgressOnlyInternetGatewayId string
	CarrierGatewayId            string
	LocalGatewayId              string
	CoreNetworkArn              string
	State                       string

	Origin, InstanceOwnerId ignored
}
