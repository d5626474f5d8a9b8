package ec2

// The shapes of EC2's rule parameters, spelled as EC2's API spells them,
// field for field: the JSON of the API and of the AWS CLI
// (--cli-input-json, describe-* output) decodes into them as it is. Where
// the Query protocol (package ec2api/query) names a field otherwise, its
// `query` tag says how: UserIdGroupPairs are Groups.N, IcmpTypeCode is
// Icmp.

// IpPermission is one protocol and port range with any number of peers,
// each of which is one security-group rule. For TCP and UDP FromPort and
// ToPort are the port range; for ICMP and ICMPv6 they are the type and
// the code.
type IpPermission struct {
	IpProtocol       string            `json:"IpProtocol"`
	FromPort         *int              `json:"FromPort,omitempty"`
	ToPort           *int              `json:"ToPort,omitempty"`
	IpRanges         []IpRange         `json:"IpRanges,omitempty"`
	Ipv6Ranges       []Ipv6Range       `json:"Ipv6Ranges,omitempty"`
	PrefixListIds    []PrefixListId    `json:"PrefixListIds,omitempty"`
	UserIdGroupPairs []UserIdGroupPair `json:"UserIdGroupPairs,omitempty" query:"Groups"`
}

// IpRange is an IPv4 peer.
type IpRange struct {
	CidrIp      string `json:"CidrIp"`
	Description string `json:"Description,omitempty"`
}

// Ipv6Range is an IPv6 peer.
type Ipv6Range struct {
	CidrIpv6    string `json:"CidrIpv6"`
	Description string `json:"Description,omitempty"`
}

// PrefixListId is a prefix-list peer.
type PrefixListId struct {
	PrefixListId string `json:"PrefixListId"`
	Description  string `json:"Description,omitempty"`
}

// UserIdGroupPair is a security-group peer, possibly of another account
// or, through a peering connection, of another VPC.
type UserIdGroupPair struct {
	GroupId                string `json:"GroupId"`
	GroupName              string `json:"GroupName,omitempty"`
	UserId                 string `json:"UserId,omitempty"`
	VpcId                  string `json:"VpcId,omitempty"`
	VpcPeeringConnectionId string `json:"VpcPeeringConnectionId,omitempty"`
	PeeringStatus          string `json:"PeeringStatus,omitempty"`
	Description            string `json:"Description,omitempty"`
}

// NetworkAclEntry is one entry of a network ACL, as describe-network-acls
// shows it and CreateNetworkAclEntry and ReplaceNetworkAclEntry take it
// (with the ACL's id beside it).
type NetworkAclEntry struct {
	RuleNumber    int           `json:"RuleNumber"`
	Egress        bool          `json:"Egress"`
	RuleAction    string        `json:"RuleAction"`
	Protocol      string        `json:"Protocol"`
	CidrBlock     string        `json:"CidrBlock,omitempty"`
	Ipv6CidrBlock string        `json:"Ipv6CidrBlock,omitempty"`
	PortRange     *PortRange    `json:"PortRange,omitempty"`
	IcmpTypeCode  *IcmpTypeCode `json:"IcmpTypeCode,omitempty" query:"Icmp"`
}

// PortRange is a network-ACL entry's TCP or UDP ports, inclusive.
type PortRange struct {
	From *int `json:"From"`
	To   *int `json:"To"`
}

// IcmpTypeCode is a network-ACL entry's ICMP type and code; -1 is any.
type IcmpTypeCode struct {
	Type *int `json:"Type"`
	Code *int `json:"Code"`
}
