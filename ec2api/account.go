package ec2api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
)

// The reads of the lab's routing, prefix lists and account: what SDKs
// and Terraform ask before they change anything.

type xmlRoute struct {
	DestinationCidrBlock     string `xml:"destinationCidrBlock,omitempty"`
	DestinationIpv6CidrBlock string `xml:"destinationIpv6CidrBlock,omitempty"`
	GatewayId                string `xml:"gatewayId"`
	Origin                   string `xml:"origin"`
	State                    string `xml:"state"`
}

type xmlRouteAssociation struct {
	RouteTableAssociationId string   `xml:"routeTableAssociationId"`
	RouteTableId            string   `xml:"routeTableId"`
	SubnetId                string   `xml:"subnetId,omitempty"`
	Main                    bool     `xml:"main"`
	AssociationState        xmlState `xml:"associationState"`
}

type xmlRouteTable struct {
	RouteTableId   string                `xml:"routeTableId"`
	VpcId          string                `xml:"vpcId"`
	OwnerId        string                `xml:"ownerId"`
	RouteSet       []xmlRoute            `xml:"routeSet>item"`
	AssociationSet []xmlRouteAssociation `xml:"associationSet>item"`
	TagSet         []xmlTag              `xml:"tagSet>item"`
}

type describeRouteTablesResponse struct {
	meta
	RouteTables []xmlRouteTable `xml:"routeTableSet>item"`
	NextToken   string          `xml:"nextToken,omitempty"`
}

// A lab routes as two tables: the main one, local routes only, for its
// private subnets; and one with the internet gateway for its public ones.
const (
	mainRouteTable   = "rtb-main"
	publicRouteTable = "rtb-public"
)

// routeTable is one of the two, with the subnets that use it.
type routeTable struct {
	id      string
	public  bool
	subnets []string
}

func internetGateway(l *lab.Lab) string { return "igw-" + strings.TrimPrefix(l.VPC.ID, "vpc-") }

func routeTables(l *lab.Lab) []*routeTable {
	main, public := &routeTable{id: mainRouteTable}, &routeTable{id: publicRouteTable, public: true}
	for _, s := range l.Subnets {
		if s.Public {
			public.subnets = append(public.subnets, s.ID)
		} else {
			main.subnets = append(main.subnets, s.ID)
		}
	}
	if len(public.subnets) == 0 {
		return []*routeTable{main}
	}
	return []*routeTable{main, public}
}

func (t *routeTable) xml(l *lab.Lab) xmlRouteTable {
	out := xmlRouteTable{RouteTableId: t.id, VpcId: l.VPC.ID, OwnerId: l.VPC.AccountID,
		RouteSet: []xmlRoute{{DestinationCidrBlock: l.VPC.CIDR.String(), GatewayId: "local", Origin: "CreateRouteTable", State: "active"}}}
	if l.VPC.IPv6CIDR.IsValid() {
		out.RouteSet = append(out.RouteSet, xmlRoute{DestinationIpv6CidrBlock: l.VPC.IPv6CIDR.String(), GatewayId: "local", Origin: "CreateRouteTable", State: "active"})
	}
	if t.public {
		igw := internetGateway(l)
		out.RouteSet = append(out.RouteSet, xmlRoute{DestinationCidrBlock: "0.0.0.0/0", GatewayId: igw, Origin: "CreateRoute", State: "active"})
		if l.VPC.IPv6CIDR.IsValid() {
			out.RouteSet = append(out.RouteSet, xmlRoute{DestinationIpv6CidrBlock: "::/0", GatewayId: igw, Origin: "CreateRoute", State: "active"})
		}
	} else {
		out.AssociationSet = append(out.AssociationSet, xmlRouteAssociation{RouteTableAssociationId: "rtbassoc-main", RouteTableId: t.id, Main: true, AssociationState: xmlState{"associated"}})
	}
	for _, s := range t.subnets {
		out.AssociationSet = append(out.AssociationSet, xmlRouteAssociation{RouteTableAssociationId: "rtbassoc-" + s, RouteTableId: t.id, SubnetId: s, AssociationState: xmlState{"associated"}})
	}
	return out
}

type xmlPrefixList struct {
	PrefixListId   string   `xml:"prefixListId"`
	PrefixListName string   `xml:"prefixListName"`
	PrefixListArn  string   `xml:"prefixListArn"`
	AddressFamily  string   `xml:"addressFamily"`
	MaxEntries     int      `xml:"maxEntries"`
	OwnerId        string   `xml:"ownerId"`
	State          string   `xml:"state"`
	Version        int      `xml:"version"`
	TagSet         []xmlTag `xml:"tagSet>item"`
}

type describeManagedPrefixListsResponse struct {
	meta
	PrefixLists []xmlPrefixList `xml:"prefixListSet>item"`
	NextToken   string          `xml:"nextToken,omitempty"`
}

type xmlPrefixListEntry struct {
	Cidr string `xml:"cidr"`
}

type getManagedPrefixListEntriesResponse struct {
	meta
	Entries   []xmlPrefixListEntry `xml:"entrySet>item"`
	NextToken string               `xml:"nextToken,omitempty"`
}

func family(p *lab.PrefixList) string {
	if len(p.CIDRs) > 0 && p.CIDRs[0].Addr().Is6() {
		return "IPv6"
	}
	return "IPv4"
}

type xmlAvailabilityZone struct {
	ZoneName           string `xml:"zoneName"`
	ZoneId             string `xml:"zoneId"`
	ZoneState          string `xml:"zoneState"`
	RegionName         string `xml:"regionName"`
	ZoneType           string `xml:"zoneType"`
	OptInStatus        string `xml:"optInStatus"`
	GroupName          string `xml:"groupName"`
	NetworkBorderGroup string `xml:"networkBorderGroup"`
}

type describeAvailabilityZonesResponse struct {
	meta
	Zones []xmlAvailabilityZone `xml:"availabilityZoneInfo>item"`
}

type xmlRegion struct {
	RegionName     string `xml:"regionName"`
	RegionEndpoint string `xml:"regionEndpoint"`
	OptInStatus    string `xml:"optInStatus"`
}

type describeRegionsResponse struct {
	meta
	Regions []xmlRegion `xml:"regionInfo>item"`
}

type xmlAttributeValue struct {
	AttributeValue string `xml:"attributeValue"`
}

type xmlAccountAttribute struct {
	AttributeName     string              `xml:"attributeName"`
	AttributeValueSet []xmlAttributeValue `xml:"attributeValueSet>item"`
}

type describeAccountAttributesResponse struct {
	meta
	Attributes []xmlAccountAttribute `xml:"accountAttributeSet>item"`
}

type zone struct{ name, id string }

func init() {
	reg("DescribeRouteTables", func(v *view, r *ec2.DescribeRouteTablesRequest) (body, error) {
		l := v.l
		s := selection[*routeTable]{items: routeTables(l), id: func(t *routeTable) string { return t.id }, idParam: "RouteTableId",
			notFound: notFound("InvalidRouteTableID.NotFound", "route table"),
			filters: map[string]func(*routeTable) []string{
				"route-table-id":             func(t *routeTable) []string { return one(t.id) },
				"vpc-id":                     func(*routeTable) []string { return one(l.VPC.ID) },
				"association.subnet-id":      func(t *routeTable) []string { return t.subnets },
				"association.main":           func(t *routeTable) []string { return one(boolString(!t.public)) },
				"association.route-table-id": func(t *routeTable) []string { return one(t.id) },
				"owner-id":                   func(*routeTable) []string { return one(l.VPC.AccountID) },
				"route.gateway-id": func(t *routeTable) []string {
					if t.public {
						return []string{"local", internetGateway(l)}
					}
					return one("local")
				},
			},
			tags: func(*routeTable) map[string]string { return nil }}
		picked, next, err := s.pick(r.RouteTableIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeRouteTablesResponse{NextToken: next, RouteTables: []xmlRouteTable{}}
		for _, t := range picked {
			out.RouteTables = append(out.RouteTables, t.xml(l))
		}
		return out, nil
	})

	reg("DescribeManagedPrefixLists", func(v *view, r *ec2.DescribeManagedPrefixListsRequest) (body, error) {
		l := v.l
		s := selection[*lab.PrefixList]{items: l.PrefixLists, id: func(p *lab.PrefixList) string { return p.ID }, idParam: "PrefixListId",
			notFound: notFound("InvalidPrefixListID.NotFound", "prefix list"),
			filters: map[string]func(*lab.PrefixList) []string{
				"prefix-list-id":   func(p *lab.PrefixList) []string { return one(p.ID) },
				"prefix-list-name": func(p *lab.PrefixList) []string { return one(p.ID) },
				"owner-id":         func(*lab.PrefixList) []string { return one(l.VPC.AccountID) },
			},
			tags: func(p *lab.PrefixList) map[string]string { return l.Tags[p.ID] }}
		picked, next, err := s.pick(r.PrefixListIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeManagedPrefixListsResponse{NextToken: next, PrefixLists: []xmlPrefixList{}}
		for _, p := range picked {
			out.PrefixLists = append(out.PrefixLists, xmlPrefixList{PrefixListId: p.ID, PrefixListName: p.ID,
				PrefixListArn: authz.ARN(l.VPC.Region, l.VPC.AccountID, "prefix-list", p.ID), AddressFamily: family(p),
				MaxEntries: p.MaxEntries, OwnerId: l.VPC.AccountID, State: "create-complete", Version: 1, TagSet: tagSet(l, p.ID)})
		}
		return out, nil
	})

	reg("GetManagedPrefixListEntries", func(v *view, r *ec2.GetManagedPrefixListEntriesRequest) (body, error) {
		if r.PrefixListId == "" {
			return nil, errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter PrefixListId")
		}
		p := v.l.PrefixList(r.PrefixListId)
		if p == nil {
			return nil, notFound("InvalidPrefixListID.NotFound", "prefix list")(r.PrefixListId)
		}
		if r.TargetVersion != 0 && r.TargetVersion != 1 {
			return nil, invalid("TargetVersion %d: a lab's prefix lists have one version, 1", r.TargetVersion)
		}
		var entries []xmlPrefixListEntry
		for _, c := range p.CIDRs {
			entries = append(entries, xmlPrefixListEntry{c.String()})
		}
		s := selection[xmlPrefixListEntry]{items: entries, id: func(e xmlPrefixListEntry) string { return e.Cidr }, idParam: "PrefixListId"}
		picked, next, err := s.pick(nil, nil, r.Page)
		if err != nil {
			return nil, err
		}
		return &getManagedPrefixListEntriesResponse{Entries: append([]xmlPrefixListEntry{}, picked...), NextToken: next}, nil
	})

	reg("DescribeAvailabilityZones", func(v *view, r *ec2.DescribeAvailabilityZonesRequest) (body, error) {
		l := v.l
		var zones []zone
		for _, s := range l.Subnets {
			z := zone{s.AvailabilityZone, s.AZID}
			if !slices.Contains(zones, z) {
				zones = append(zones, z)
			}
		}
		for _, id := range r.ZoneIds {
			if !slices.ContainsFunc(zones, func(z zone) bool { return z.id == id }) {
				return nil, invalid("The zone ID '%s' is not valid: the lab's zones are its subnets'", id)
			}
		}
		s := selection[zone]{items: zones, id: func(z zone) string { return z.name }, idParam: "ZoneName",
			notFound: func(id string) *Error {
				return invalid("The zone name '%s' is not valid: the lab's zones are its subnets'", id)
			},
			filters: map[string]func(zone) []string{
				"zone-name":   func(z zone) []string { return one(z.name) },
				"zone-id":     func(z zone) []string { return one(z.id) },
				"region-name": func(zone) []string { return one(l.VPC.Region) },
				"state":       func(zone) []string { return one("available") },
				"zone-type":   func(zone) []string { return one("availability-zone") },
			}}
		picked, _, err := s.pick(r.ZoneNames, r.Filters, ec2.Page{})
		if err != nil {
			return nil, err
		}
		out := &describeAvailabilityZonesResponse{Zones: []xmlAvailabilityZone{}}
		for _, z := range picked {
			if len(r.ZoneIds) > 0 && !slices.Contains(r.ZoneIds, z.id) {
				continue
			}
			out.Zones = append(out.Zones, xmlAvailabilityZone{ZoneName: z.name, ZoneId: z.id, ZoneState: "available", RegionName: l.VPC.Region,
				ZoneType: "availability-zone", OptInStatus: "opt-in-not-required", GroupName: l.VPC.Region, NetworkBorderGroup: l.VPC.Region})
		}
		return out, nil
	})

	reg("DescribeRegions", func(v *view, r *ec2.DescribeRegionsRequest) (body, error) {
		l := v.l
		s := selection[string]{items: []string{l.VPC.Region}, id: func(s string) string { return s }, idParam: "RegionName",
			notFound: func(id string) *Error {
				return invalid("Invalid region: %s (the lab is in %s)", id, l.VPC.Region)
			},
			filters: map[string]func(string) []string{
				"region-name":   one,
				"endpoint":      func(s string) []string { return one("ec2." + s + ".amazonaws.com") },
				"opt-in-status": func(string) []string { return one("opt-in-not-required") },
			}}
		picked, _, err := s.pick(r.RegionNames, r.Filters, ec2.Page{})
		if err != nil {
			return nil, err
		}
		out := &describeRegionsResponse{Regions: []xmlRegion{}}
		for _, name := range picked {
			out.Regions = append(out.Regions, xmlRegion{RegionName: name, RegionEndpoint: "ec2." + name + ".amazonaws.com", OptInStatus: "opt-in-not-required"})
		}
		return out, nil
	})

	reg("DescribeAccountAttributes", func(v *view, r *ec2.DescribeAccountAttributesRequest) (body, error) {
		l := v.l
		// What an account with one VPC and no EC2-Classic answers, with the
		// lab's quotas where it has them.
		all := []xmlAccountAttribute{
			{"supported-platforms", []xmlAttributeValue{{"VPC"}}},
			{"default-vpc", []xmlAttributeValue{{"none"}}},
			{"max-instances", []xmlAttributeValue{{"20"}}},
			{"vpc-max-security-groups-per-interface", []xmlAttributeValue{{strconv.Itoa(l.Quotas.SGsPerENI)}}},
			{"max-elastic-ips", []xmlAttributeValue{{"5"}}},
			{"vpc-max-elastic-ips", []xmlAttributeValue{{"5"}}},
		}
		out := &describeAccountAttributesResponse{Attributes: []xmlAccountAttribute{}}
		for _, name := range r.AttributeNames {
			if !slices.ContainsFunc(all, func(a xmlAccountAttribute) bool { return a.AttributeName == name }) {
				return nil, invalid("The attribute name '%s' is not valid", name)
			}
		}
		for _, a := range all {
			if len(r.AttributeNames) == 0 || slices.Contains(r.AttributeNames, a.AttributeName) {
				out.Attributes = append(out.Attributes, a)
			}
		}
		return out, nil
	})
}
