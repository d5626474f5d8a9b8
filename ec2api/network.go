package ec2api

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
)

type xmlState struct {
	State string `xml:"state"`
}

type xmlCidrAssociation struct {
	AssociationId  string   `xml:"associationId"`
	CidrBlock      string   `xml:"cidrBlock"`
	CidrBlockState xmlState `xml:"cidrBlockState"`
}

type xmlIpv6Association struct {
	AssociationId      string   `xml:"associationId"`
	Ipv6CidrBlock      string   `xml:"ipv6CidrBlock"`
	Ipv6CidrBlockState xmlState `xml:"ipv6CidrBlockState"`
}

type xmlVpc struct {
	VpcId                       string               `xml:"vpcId"`
	OwnerId                     string               `xml:"ownerId"`
	State                       string               `xml:"state"`
	CidrBlock                   string               `xml:"cidrBlock"`
	CidrBlockAssociationSet     []xmlCidrAssociation `xml:"cidrBlockAssociationSet>item"`
	Ipv6CidrBlockAssociationSet []xmlIpv6Association `xml:"ipv6CidrBlockAssociationSet>item"`
	DhcpOptionsId               string               `xml:"dhcpOptionsId"`
	InstanceTenancy             string               `xml:"instanceTenancy"`
	IsDefault                   bool                 `xml:"isDefault"`
	TagSet                      []xmlTag             `xml:"tagSet>item"`
}

type describeVpcsResponse struct {
	meta
	Vpcs      []xmlVpc `xml:"vpcSet>item"`
	NextToken string   `xml:"nextToken,omitempty"`
}

type xmlSubnet struct {
	SubnetId                    string               `xml:"subnetId"`
	SubnetArn                   string               `xml:"subnetArn"`
	State                       string               `xml:"state"`
	VpcId                       string               `xml:"vpcId"`
	OwnerId                     string               `xml:"ownerId"`
	CidrBlock                   string               `xml:"cidrBlock"`
	Ipv6CidrBlockAssociationSet []xmlIpv6Association `xml:"ipv6CidrBlockAssociationSet>item"`
	AvailableIpAddressCount     int                  `xml:"availableIpAddressCount"`
	AvailabilityZone            string               `xml:"availabilityZone"`
	AvailabilityZoneId          string               `xml:"availabilityZoneId"`
	DefaultForAz                bool                 `xml:"defaultForAz"`
	MapPublicIpOnLaunch         bool                 `xml:"mapPublicIpOnLaunch"`
	TagSet                      []xmlTag             `xml:"tagSet>item"`
}

type describeSubnetsResponse struct {
	meta
	Subnets   []xmlSubnet `xml:"subnetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

type xmlIcmpTypeCode struct {
	Code int `xml:"code"`
	Type int `xml:"type"`
}

type xmlPortRange struct {
	From int `xml:"from"`
	To   int `xml:"to"`
}

type xmlNetworkAclEntry struct {
	RuleNumber    int              `xml:"ruleNumber"`
	Protocol      string           `xml:"protocol"`
	RuleAction    string           `xml:"ruleAction"`
	Egress        bool             `xml:"egress"`
	CidrBlock     string           `xml:"cidrBlock,omitempty"`
	Ipv6CidrBlock string           `xml:"ipv6CidrBlock,omitempty"`
	IcmpTypeCode  *xmlIcmpTypeCode `xml:"icmpTypeCode,omitempty"`
	PortRange     *xmlPortRange    `xml:"portRange,omitempty"`
}

type xmlAclAssociation struct {
	NetworkAclAssociationId string `xml:"networkAclAssociationId"`
	NetworkAclId            string `xml:"networkAclId"`
	SubnetId                string `xml:"subnetId"`
}

type xmlNetworkAcl struct {
	NetworkAclId   string               `xml:"networkAclId"`
	VpcId          string               `xml:"vpcId"`
	IsDefault      bool                 `xml:"default"`
	EntrySet       []xmlNetworkAclEntry `xml:"entrySet>item"`
	AssociationSet []xmlAclAssociation  `xml:"associationSet>item"`
	TagSet         []xmlTag             `xml:"tagSet>item"`
	OwnerId        string               `xml:"ownerId"`
}

type describeNetworkAclsResponse struct {
	meta
	NetworkAcls []xmlNetworkAcl `xml:"networkAclSet>item"`
	NextToken   string          `xml:"nextToken,omitempty"`
}

type xmlGroupIdentifier struct {
	GroupId   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xmlAttachment struct {
	AttachmentId        string `xml:"attachmentId"`
	InstanceId          string `xml:"instanceId,omitempty"`
	InstanceOwnerId     string `xml:"instanceOwnerId,omitempty"`
	DeviceIndex         int    `xml:"deviceIndex"`
	Status              string `xml:"status"`
	DeleteOnTermination bool   `xml:"deleteOnTermination"`
}

type xmlPrivateIp struct {
	PrivateIpAddress string `xml:"privateIpAddress"`
	Primary          bool   `xml:"primary"`
}

type xmlIpv6Address struct {
	Ipv6Address string `xml:"ipv6Address"`
}

type xmlConntrack struct {
	TcpEstablishedTimeout int `xml:"tcpEstablishedTimeout"`
	UdpStreamTimeout      int `xml:"udpStreamTimeout"`
	UdpTimeout            int `xml:"udpTimeout"`
}

type xmlNetworkInterface struct {
	NetworkInterfaceId              string               `xml:"networkInterfaceId"`
	SubnetId                        string               `xml:"subnetId"`
	VpcId                           string               `xml:"vpcId"`
	AvailabilityZone                string               `xml:"availabilityZone"`
	OwnerId                         string               `xml:"ownerId"`
	Status                          string               `xml:"status"`
	InterfaceType                   string               `xml:"interfaceType"`
	PrivateIpAddress                string               `xml:"privateIpAddress"`
	SourceDestCheck                 bool                 `xml:"sourceDestCheck"`
	GroupSet                        []xmlGroupIdentifier `xml:"groupSet>item"`
	Attachment                      *xmlAttachment       `xml:"attachment"`
	PrivateIpAddressesSet           []xmlPrivateIp       `xml:"privateIpAddressesSet>item"`
	Ipv6AddressesSet                []xmlIpv6Address     `xml:"ipv6AddressesSet>item"`
	ConnectionTrackingConfiguration xmlConntrack         `xml:"connectionTrackingConfiguration"`
	TagSet                          []xmlTag             `xml:"tagSet>item"`
}

type describeNetworkInterfacesResponse struct {
	meta
	NetworkInterfaces []xmlNetworkInterface `xml:"networkInterfaceSet>item"`
	NextToken         string                `xml:"nextToken,omitempty"`
}

type xmlInstanceState struct {
	Code int    `xml:"code"`
	Name string `xml:"name"`
}

type xmlPlacement struct {
	AvailabilityZone string `xml:"availabilityZone"`
}

type xmlInstance struct {
	InstanceId          string                `xml:"instanceId"`
	InstanceState       xmlInstanceState      `xml:"instanceState"`
	PrivateIpAddress    string                `xml:"privateIpAddress"`
	SubnetId            string                `xml:"subnetId"`
	VpcId               string                `xml:"vpcId"`
	Placement           xmlPlacement          `xml:"placement"`
	SourceDestCheck     bool                  `xml:"sourceDestCheck"`
	GroupSet            []xmlGroupIdentifier  `xml:"groupSet>item"`
	NetworkInterfaceSet []xmlNetworkInterface `xml:"networkInterfaceSet>item"`
	TagSet              []xmlTag              `xml:"tagSet>item"`
}

type xmlReservation struct {
	ReservationId string        `xml:"reservationId"`
	OwnerId       string        `xml:"ownerId"`
	Instances     []xmlInstance `xml:"instancesSet>item"`
}

type describeInstancesResponse struct {
	meta
	Reservations []xmlReservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

type xmlFlowLog struct {
	FlowLogId              string `xml:"flowLogId"`
	FlowLogStatus          string `xml:"flowLogStatus"`
	DeliverLogsStatus      string `xml:"deliverLogsStatus"`
	ResourceId             string `xml:"resourceId"`
	TrafficType            string `xml:"trafficType"`
	LogDestinationType     string `xml:"logDestinationType"`
	LogDestination         string `xml:"logDestination"`
	LogFormat              string `xml:"logFormat,omitempty"`
	MaxAggregationInterval int    `xml:"maxAggregationInterval"`
}

type describeFlowLogsResponse struct {
	meta
	FlowLogs  []xmlFlowLog `xml:"flowLogSet>item"`
	NextToken string       `xml:"nextToken,omitempty"`
}

// EC2's instance state codes.
var stateCodes = map[string]int{"pending": 0, "running": 16, "stopping": 64, "stopped": 80}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

// availableAddresses is a subnet's free IPv4 addresses as EC2 counts
// them: the block less AWS's five reserved and the lab's interfaces.
func availableAddresses(l *lab.Lab, s *lab.Subnet) int {
	n := 1<<(32-s.CIDR.Bits()) - 5
	for _, e := range l.Interfaces() {
		if e.Subnet == s.ID {
			n -= 1 + len(e.SecondaryIPs)
		}
	}
	return max(n, 0)
}

func entryXML(e nacl.Entry, egress bool) xmlNetworkAclEntry {
	a := ec2.APIEntry(e, egress)
	out := xmlNetworkAclEntry{RuleNumber: a.RuleNumber, Protocol: a.Protocol, RuleAction: a.RuleAction, Egress: egress,
		CidrBlock: a.CidrBlock, Ipv6CidrBlock: a.Ipv6CidrBlock}
	if a.PortRange != nil {
		out.PortRange = &xmlPortRange{*a.PortRange.From, *a.PortRange.To}
	}
	if a.IcmpTypeCode != nil {
		out.IcmpTypeCode = &xmlIcmpTypeCode{Code: *a.IcmpTypeCode.Code, Type: *a.IcmpTypeCode.Type}
	}
	return out
}

// entries are an ACL's entries as EC2 shows them: each direction's in
// rule-number order, then its implicit denies (*, shown as 32767, and
// 32768 for IPv6 in a VPC with IPv6).
func entries(a *nacl.ACL, ipv6 bool) []xmlNetworkAclEntry {
	var out []xmlNetworkAclEntry
	for _, egress := range []bool{true, false} {
		list := slices.Clone(a.Ingress)
		if egress {
			list = slices.Clone(a.Egress)
		}
		slices.SortFunc(list, func(x, y nacl.Entry) int { return x.Rule - y.Rule })
		for _, e := range list {
			out = append(out, entryXML(e, egress))
		}
		out = append(out, xmlNetworkAclEntry{RuleNumber: nacl.ImplicitDenyIPv4, Protocol: "-1", RuleAction: "deny", Egress: egress, CidrBlock: "0.0.0.0/0"})
		if ipv6 {
			out = append(out, xmlNetworkAclEntry{RuleNumber: nacl.ImplicitDenyIPv6, Protocol: "-1", RuleAction: "deny", Egress: egress, Ipv6CidrBlock: "::/0"})
		}
	}
	return out
}

func groupSet(ids []string) []xmlGroupIdentifier {
	out := make([]xmlGroupIdentifier, len(ids))
	for i, g := range ids {
		out[i] = xmlGroupIdentifier{GroupId: g, GroupName: g}
	}
	return out
}

// interfaceXML is an ENI as DescribeNetworkInterfaces shows it; its
// device index is its place among its instance's interfaces.
func interfaceXML(l *lab.Lab, e *lab.Interface) xmlNetworkInterface {
	az := ""
	if s := l.Subnet(e.Subnet); s != nil {
		az = s.AvailabilityZone
	}
	index := 0
	if in := l.Instance(e.Instance); in != nil {
		index = slices.Index(in.Interfaces, e)
	}
	out := xmlNetworkInterface{NetworkInterfaceId: e.ID, SubnetId: e.Subnet, VpcId: l.VPC.ID, AvailabilityZone: az,
		OwnerId: l.VPC.AccountID, Status: "in-use", InterfaceType: "interface", PrivateIpAddress: e.IP.String(),
		SourceDestCheck: e.SourceDestCheck, GroupSet: groupSet(e.SecurityGroups),
		Attachment: &xmlAttachment{AttachmentId: "eni-attach-" + strings.TrimPrefix(e.ID, "eni-"), InstanceId: e.Instance,
			InstanceOwnerId: l.VPC.AccountID, DeviceIndex: index, Status: "attached", DeleteOnTermination: index == 0},
		PrivateIpAddressesSet: []xmlPrivateIp{{PrivateIpAddress: e.IP.String(), Primary: true}},
		ConnectionTrackingConfiguration: xmlConntrack{TcpEstablishedTimeout: int(e.Conntrack.TCPEstablished.Seconds()),
			UdpStreamTimeout: int(e.Conntrack.UDPStream.Seconds()), UdpTimeout: int(e.Conntrack.UDP.Seconds())},
		TagSet: tagSet(l, e.ID)}
	for _, ip := range e.SecondaryIPs {
		out.PrivateIpAddressesSet = append(out.PrivateIpAddressesSet, xmlPrivateIp{PrivateIpAddress: ip.String()})
	}
	for _, ip := range e.IPv6 {
		out.Ipv6AddressesSet = append(out.Ipv6AddressesSet, xmlIpv6Address{ip.String()})
	}
	return out
}

func addrStrings(e *lab.Interface) []string {
	var out []string
	for _, a := range e.Addrs() {
		out = append(out, a.String())
	}
	return out
}

func init() {
	reg("DescribeVpcs", func(v *view, r *ec2.DescribeVpcsRequest) (body, error) {
		l := v.l
		vpc := &l.VPC
		s := selection[*lab.VPC]{items: []*lab.VPC{vpc}, id: func(x *lab.VPC) string { return x.ID }, idParam: "VpcId",
			notFound: notFound("InvalidVpcID.NotFound", "vpc ID"),
			filters: map[string]func(*lab.VPC) []string{
				"vpc-id":                            func(x *lab.VPC) []string { return one(x.ID) },
				"cidr":                              func(x *lab.VPC) []string { return one(x.CIDR.String()) },
				"cidr-block":                        func(x *lab.VPC) []string { return one(x.CIDR.String()) },
				"cidr-block-association.cidr-block": func(x *lab.VPC) []string { return one(x.CIDR.String()) },
				"ipv6-cidr-block-association.ipv6-cidr-block": func(x *lab.VPC) []string {
					if x.IPv6CIDR.IsValid() {
						return one(x.IPv6CIDR.String())
					}
					return nil
				},
				"state":      func(*lab.VPC) []string { return one("available") },
				"is-default": func(*lab.VPC) []string { return one("false") },
				"owner-id":   func(x *lab.VPC) []string { return one(x.AccountID) },
			},
			tags: func(x *lab.VPC) map[string]string { return l.Tags[x.ID] }}
		picked, next, err := s.pick(r.VpcIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeVpcsResponse{NextToken: next, Vpcs: []xmlVpc{}}
		for _, x := range picked {
			xv := xmlVpc{VpcId: x.ID, OwnerId: x.AccountID, State: "available", CidrBlock: x.CIDR.String(),
				CidrBlockAssociationSet: []xmlCidrAssociation{{AssociationId: "vpc-cidr-assoc-" + x.ID, CidrBlock: x.CIDR.String(), CidrBlockState: xmlState{"associated"}}},
				DhcpOptionsId:           "default", InstanceTenancy: "default", TagSet: tagSet(l, x.ID)}
			if x.IPv6CIDR.IsValid() {
				xv.Ipv6CidrBlockAssociationSet = []xmlIpv6Association{{AssociationId: "vpc-cidr-assoc-ipv6-" + x.ID, Ipv6CidrBlock: x.IPv6CIDR.String(), Ipv6CidrBlockState: xmlState{"associated"}}}
			}
			out.Vpcs = append(out.Vpcs, xv)
		}
		return out, nil
	})

	reg("DescribeSubnets", func(v *view, r *ec2.DescribeSubnetsRequest) (body, error) {
		l := v.l
		s := selection[*lab.Subnet]{items: l.Subnets, id: func(x *lab.Subnet) string { return x.ID }, idParam: "SubnetId",
			notFound: notFound("InvalidSubnetID.NotFound", "subnet ID"),
			filters: map[string]func(*lab.Subnet) []string{
				"subnet-id":               func(x *lab.Subnet) []string { return one(x.ID) },
				"vpc-id":                  func(*lab.Subnet) []string { return one(l.VPC.ID) },
				"cidr-block":              func(x *lab.Subnet) []string { return one(x.CIDR.String()) },
				"availability-zone":       func(x *lab.Subnet) []string { return one(x.AvailabilityZone) },
				"availability-zone-id":    func(x *lab.Subnet) []string { return one(x.AZID) },
				"state":                   func(*lab.Subnet) []string { return one("available") },
				"default-for-az":          func(*lab.Subnet) []string { return one("false") },
				"map-public-ip-on-launch": func(x *lab.Subnet) []string { return one(boolString(x.Public)) },
				"owner-id":                func(*lab.Subnet) []string { return one(l.VPC.AccountID) },
			},
			tags: func(x *lab.Subnet) map[string]string { return l.Tags[x.ID] }}
		picked, next, err := s.pick(r.SubnetIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeSubnetsResponse{NextToken: next, Subnets: []xmlSubnet{}}
		for _, x := range picked {
			xs := xmlSubnet{SubnetId: x.ID, SubnetArn: authz.ARN(l.VPC.Region, l.VPC.AccountID, ec2.KindSubnet, x.ID), State: "available",
				VpcId: l.VPC.ID, OwnerId: l.VPC.AccountID, CidrBlock: x.CIDR.String(), AvailableIpAddressCount: availableAddresses(l, x),
				AvailabilityZone: x.AvailabilityZone, AvailabilityZoneId: x.AZID, MapPublicIpOnLaunch: x.Public, TagSet: tagSet(l, x.ID)}
			if x.IPv6CIDR.IsValid() {
				xs.Ipv6CidrBlockAssociationSet = []xmlIpv6Association{{AssociationId: "subnet-cidr-assoc-" + x.ID, Ipv6CidrBlock: x.IPv6CIDR.String(), Ipv6CidrBlockState: xmlState{"associated"}}}
			}
			out.Subnets = append(out.Subnets, xs)
		}
		return out, nil
	})

	reg("DescribeNetworkAcls", func(v *view, r *ec2.DescribeNetworkAclsRequest) (body, error) {
		l := v.l
		subnetsOf := func(a *nacl.ACL) []string {
			var out []string
			for _, s := range l.Subnets {
				if s.NetworkACL == a.ID {
					out = append(out, s.ID)
				}
			}
			return out
		}
		s := selection[*nacl.ACL]{items: l.NetworkACLs, id: func(a *nacl.ACL) string { return a.ID }, idParam: "NetworkAclId",
			notFound: notFound("InvalidNetworkAclID.NotFound", "network ACL"),
			filters: map[string]func(*nacl.ACL) []string{
				"network-acl-id":             func(a *nacl.ACL) []string { return one(a.ID) },
				"vpc-id":                     func(*nacl.ACL) []string { return one(l.VPC.ID) },
				"default":                    func(a *nacl.ACL) []string { return one(boolString(a.ID == nacl.DefaultACLID)) },
				"association.subnet-id":      subnetsOf,
				"association.network-acl-id": func(a *nacl.ACL) []string { return one(a.ID) },
				"owner-id":                   func(*nacl.ACL) []string { return one(l.VPC.AccountID) },
				"entry.rule-number": func(a *nacl.ACL) []string {
					var out []string
					for _, e := range slices.Concat(a.Ingress, a.Egress) {
						out = append(out, strconv.Itoa(e.Rule))
					}
					return out
				},
			},
			tags: func(a *nacl.ACL) map[string]string { return l.Tags[a.ID] }}
		picked, next, err := s.pick(r.NetworkAclIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeNetworkAclsResponse{NextToken: next, NetworkAcls: []xmlNetworkAcl{}}
		for _, a := range picked {
			xa := xmlNetworkAcl{NetworkAclId: a.ID, VpcId: l.VPC.ID, IsDefault: a.ID == nacl.DefaultACLID, OwnerId: l.VPC.AccountID,
				EntrySet: entries(a, l.VPC.IPv6CIDR.IsValid()), TagSet: tagSet(l, a.ID)}
			for _, sub := range subnetsOf(a) {
				xa.AssociationSet = append(xa.AssociationSet, xmlAclAssociation{NetworkAclAssociationId: change.AssociationID(sub), NetworkAclId: a.ID, SubnetId: sub})
			}
			out.NetworkAcls = append(out.NetworkAcls, xa)
		}
		return out, nil
	})

	eniFilters := func(l *lab.Lab) map[string]func(*lab.Interface) []string {
		return map[string]func(*lab.Interface) []string{
			"network-interface-id":         func(e *lab.Interface) []string { return one(e.ID) },
			"subnet-id":                    func(e *lab.Interface) []string { return one(e.Subnet) },
			"vpc-id":                       func(*lab.Interface) []string { return one(l.VPC.ID) },
			"group-id":                     func(e *lab.Interface) []string { return e.SecurityGroups },
			"group-name":                   func(e *lab.Interface) []string { return e.SecurityGroups },
			"attachment.instance-id":       func(e *lab.Interface) []string { return one(e.Instance) },
			"private-ip-address":           func(e *lab.Interface) []string { return one(e.IP.String()) },
			"addresses.private-ip-address": func(e *lab.Interface) []string { return addrStrings(e) },
			"status":                       func(*lab.Interface) []string { return one("in-use") },
			"source-dest-check":            func(e *lab.Interface) []string { return one(boolString(e.SourceDestCheck)) },
			"owner-id":                     func(*lab.Interface) []string { return one(l.VPC.AccountID) },
			"attachment.status":            func(*lab.Interface) []string { return one("attached") },
			"ipv6-addresses.ipv6-address": func(e *lab.Interface) []string {
				var out []string
				for _, a := range e.IPv6 {
					out = append(out, a.String())
				}
				return out
			},
			"interface-type":               func(*lab.Interface) []string { return one("interface") },
			"attachment.instance-owner-id": func(*lab.Interface) []string { return one(l.VPC.AccountID) },
			"availability-zone":            func(e *lab.Interface) []string { return one(subnetAZ(l, e.Subnet)) },
			"requester-managed":            func(*lab.Interface) []string { return one("false") },
		}
	}

	reg("DescribeNetworkInterfaces", func(v *view, r *ec2.DescribeNetworkInterfacesRequest) (body, error) {
		l := v.l
		s := selection[*lab.Interface]{items: l.Interfaces(), id: func(e *lab.Interface) string { return e.ID }, idParam: "NetworkInterfaceId",
			notFound: notFound("InvalidNetworkInterfaceID.NotFound", "network interface"), filters: eniFilters(l),
			tags: func(e *lab.Interface) map[string]string { return l.Tags[e.ID] }}
		picked, next, err := s.pick(r.NetworkInterfaceIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeNetworkInterfacesResponse{NextToken: next, NetworkInterfaces: []xmlNetworkInterface{}}
		for _, e := range picked {
			out.NetworkInterfaces = append(out.NetworkInterfaces, interfaceXML(l, e))
		}
		return out, nil
	})

	reg("DescribeInstances", func(v *view, r *ec2.DescribeInstancesRequest) (body, error) {
		l := v.l
		primary := func(in *lab.Instance) *lab.Interface { return in.Interfaces[0] }
		s := selection[*lab.Instance]{items: l.Instances, id: func(in *lab.Instance) string { return in.Name }, idParam: "InstanceId",
			notFound: notFound("InvalidInstanceID.NotFound", "instance ID"),
			filters: map[string]func(*lab.Instance) []string{
				"instance-id":         func(in *lab.Instance) []string { return one(in.Name) },
				"instance-state-name": func(in *lab.Instance) []string { return one(v.state(in.Name)) },
				"instance-state-code": func(in *lab.Instance) []string { return one(strconv.Itoa(stateCodes[v.state(in.Name)])) },
				"subnet-id":           func(in *lab.Instance) []string { return one(primary(in).Subnet) },
				"vpc-id":              func(*lab.Instance) []string { return one(l.VPC.ID) },
				"private-ip-address":  func(in *lab.Instance) []string { return one(primary(in).IP.String()) },
				"availability-zone":   func(in *lab.Instance) []string { return one(subnetAZ(l, primary(in).Subnet)) },
				"network-interface.network-interface-id": func(in *lab.Instance) []string {
					var out []string
					for _, e := range in.Interfaces {
						out = append(out, e.ID)
					}
					return out
				},
				"instance.group-id": func(in *lab.Instance) []string { return primary(in).SecurityGroups },
			},
			tags: func(in *lab.Instance) map[string]string { return instanceTags(l, in) }}
		picked, next, err := s.pick(r.InstanceIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeInstancesResponse{NextToken: next, Reservations: []xmlReservation{}}
		for _, in := range picked {
			e := primary(in)
			state := v.state(in.Name)
			if state == "" {
				state = "running"
			}
			xi := xmlInstance{InstanceId: in.Name, InstanceState: xmlInstanceState{Code: stateCodes[state], Name: state},
				PrivateIpAddress: e.IP.String(), SubnetId: e.Subnet, VpcId: l.VPC.ID, Placement: xmlPlacement{subnetAZ(l, e.Subnet)},
				SourceDestCheck: e.SourceDestCheck, GroupSet: groupSet(e.SecurityGroups), TagSet: tagsXML(instanceTags(l, in))}
			for _, x := range in.Interfaces {
				xi.NetworkInterfaceSet = append(xi.NetworkInterfaceSet, interfaceXML(l, x))
			}
			out.Reservations = append(out.Reservations, xmlReservation{ReservationId: "r-" + in.Name, OwnerId: l.VPC.AccountID, Instances: []xmlInstance{xi}})
		}
		return out, nil
	})

	reg("DescribeFlowLogs", func(v *view, r *ec2.DescribeFlowLogsRequest) (body, error) {
		l := v.l
		s := selection[*lab.FlowLog]{items: l.FlowLogs, id: func(f *lab.FlowLog) string { return f.ID }, idParam: "FlowLogId",
			notFound: notFound("InvalidFlowLogId.NotFound", "flow log"),
			filters: map[string]func(*lab.FlowLog) []string{
				"flow-log-id":          func(f *lab.FlowLog) []string { return one(f.ID) },
				"resource-id":          func(f *lab.FlowLog) []string { return one(f.ResourceID) },
				"traffic-type":         func(f *lab.FlowLog) []string { return one(f.TrafficType) },
				"log-destination-type": func(*lab.FlowLog) []string { return one("file") },
				"deliver-log-status":   func(*lab.FlowLog) []string { return one("SUCCESS") },
			},
			tags: func(f *lab.FlowLog) map[string]string { return l.Tags[f.ID] }}
		picked, next, err := s.pick(r.FlowLogIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeFlowLogsResponse{NextToken: next, FlowLogs: []xmlFlowLog{}}
		for _, f := range picked {
			out.FlowLogs = append(out.FlowLogs, xmlFlowLog{FlowLogId: f.ID, FlowLogStatus: "ACTIVE", DeliverLogsStatus: "SUCCESS",
				ResourceId: f.ResourceID, TrafficType: f.TrafficType, LogDestinationType: "file", LogDestination: f.Destination,
				LogFormat: f.LogFormat, MaxAggregationInterval: int(f.MaxAggregationInterval.Seconds())})
		}
		return out, nil
	})
}

func subnetAZ(l *lab.Lab, id string) string {
	if s := l.Subnet(id); s != nil {
		return s.AvailabilityZone
	}
	return ""
}

// tagSet is resource id's tags as EC2 shows them, by key.
func tagSet(l *lab.Lab, id string) []xmlTag { return tagsXML(l.Tags[id]) }

func tagsXML(m map[string]string) []xmlTag {
	var out []xmlTag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, xmlTag{Key: k, Value: m[k]})
	}
	return out
}

// instanceTags are an instance's tags: its Name is its name in the lab,
// as vpclab import aws names instances after their Name tag.
func instanceTags(l *lab.Lab, in *lab.Instance) map[string]string {
	m := maps.Clone(l.Tags[in.Name])
	if m == nil {
		m = map[string]string{}
	}
	m["Name"] = in.Name
	return m
}
