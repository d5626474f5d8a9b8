package terraform

import "strings"

var (
	schemaRouteTable = schema{
		read:    []string{"id", "vpc_id", "route", "propagating_vgws", "default_route_table_id"},
		ignored: ignore(),
	}
	// schemaInlineRoute lists a route block's attributes: its destination
	// and its targets, one of which is set.
	schemaInlineRoute = schema{read: []string{"cidr_block", "ipv6_cidr_block", "destination_prefix_list_id",
		"gateway_id", "nat_gateway_id", "transit_gateway_id", "vpc_peering_connection_id",
		"vpc_endpoint_id", "network_interface_id", "egress_only_gateway_id", "local_gateway_id",
		"carrier_gateway_id", "core_network_arn", "instance_id"}}
	schemaRoute = schema{
		read: []string{"route_table_id", "destination_cidr_block", "destination_ipv6_cidr_block",
			"destination_prefix_list_id", "gateway_id", "nat_gateway_id", "transit_gateway_id",
			"vpc_peering_connection_id", "vpc_endpoint_id", "network_interface_id",
			"egress_only_gateway_id", "local_gateway_id", "carrier_gateway_id", "core_network_arn",
			"instance_id"},
		ignored: ignore("id", "instance_owner_id", "origin", "state"),
	}
	schemaRouteTableAssociation = schema{
		read:    []string{"subnet_id", "route_table_id", "gateway_id"},
		ignored: ignore("id"),
	}
	schemaMainRouteTableAssociation = schema{
		read:    []string{"vpc_id", "route_table_id"},
		ignored: ignore("id", "original_route_table_id"),
	}
	schemaInternetGateway = schema{read: []string{"id", "vpc_id"}, ignored: ignore()}
	schemaIGWAttachment   = schema{read: []string{"internet_gateway_id", "vpc_id"}, ignored: ignore("id")}
)

// routeTargets are the attributes naming a route's target, with what the
// target is.
var routeTargets = []struct{ key, what string }{
	{"gateway_id", "a gateway"},
	{"nat_gateway_id", "a NAT gateway"},
	{"transit_gateway_id", "a transit gateway"},
	{"vpc_peering_connection_id", "a VPC peering connection"},
	{"vpc_endpoint_id", "a VPC endpoint"},
	{"network_interface_id", "a network interface (an appliance)"},
	{"instance_id", "an instance (an appliance)"},
	{"egress_only_gateway_id", "an egress-only internet gateway"},
	{"local_gateway_id", "an Outposts local gateway"},
	{"carrier_gateway_id", "a carrier gateway"},
	{"core_network_arn", "a Cloud WAN core network"},
}

// route is one route of a route table.
type route struct {
	dest   string // a CIDR or a prefix list id
	target string
	what   string // what the target is, for messages
	r      *resource
	field  string // the route's block, "" for an aws_route
}

// routeTable is a route table of the VPC; r is nil for a table the state
// does not hold but whose aws_route resources it does.
type routeTable struct {
	r      *resource
	routes []route
}

// internet reports whether the route goes to an internet gateway.
func (rt route) internet() bool { return strings.HasPrefix(rt.target, "igw-") }

// readRoutes marks subnets public whose route table (the one associated
// with them, else the VPC's main table) has a route to an internet
// gateway, and reports the routes to anything else but the VPC itself.
func (b *builder) readRoutes() {
	tables := map[string]*routeTable{}
	var order []string
	table := func(id string) *routeTable {
		t := tables[id]
		if t == nil {
			t = &routeTable{}
			tables[id] = t
			order = append(order, id)
		}
		return t
	}
	for _, r := range b.resources {
		if r.Mode != modeManaged || (r.Type != "aws_route_table" && r.Type != "aws_default_route_table") {
			continue
		}
		a := b.attrsOf(r)
		id := a.str("id")
		if b.inOtherVPC(r, id, a.str("vpc_id")) {
			continue
		}
		r.consumed = true
		a.checkKeys(schemaRouteTable)
		table(id).r = r
		if vgws := a.strs("propagating_vgws"); len(vgws) > 0 {
			b.report.NotModelledf(b.source, r.Address, "routes propagated from %s (a site-to-site VPN): a lab does not model them", strings.Join(vgws, ", "))
		}
	}
	// aws_route resources first: a refreshed table holds them inline too,
	// and the resource is the better place to report one.
	b.managed("aws_route", func(r *resource, a attrs) {
		id := a.str("route_table_id")
		if vpc, ok := b.elsewhere[id]; ok {
			b.unsupportedf(r, "route_table_id", "route table %s is in %s: a lab is one VPC, and this one imports %s", id, vpc, b.vpcID)
			return
		}
		r.consumed = true
		a.checkKeys(schemaRoute)
		rt, ok := b.route(a, "destination_cidr_block", "destination_ipv6_cidr_block")
		if ok {
			t := table(id)
			t.routes = append(t.routes, rt)
		}
	})
	for _, id := range order {
		t := tables[id]
		if t.r == nil {
			continue
		}
	blocks:
		for _, block := range b.attrsOf(t.r).blocks("route") {
			block.checkKeys(schemaInlineRoute)
			rt, ok := b.route(block, "cidr_block", "ipv6_cidr_block")
			if !ok {
				continue
			}
			for _, seen := range t.routes {
				if seen.dest == rt.dest {
					continue blocks
				}
			}
			t.routes = append(t.routes, rt)
		}
	}

	main := b.mainRouteTable
	b.managed("aws_main_route_table_association", func(r *resource, a attrs) {
		if !b.inOtherVPC(r, "", a.str("vpc_id")) {
			r.consumed = true
			a.checkKeys(schemaMainRouteTableAssociation)
			main = a.str("route_table_id")
		}
	})
	assoc := map[string]string{} // subnet → route table
	b.managed("aws_route_table_association", func(r *resource, a attrs) {
		subnet, gateway := a.str("subnet_id"), a.str("gateway_id")
		switch vpc, other := b.elsewhere[subnet]; {
		case gateway != "":
			b.notModelledf(r, "route table %s is associated with gateway %s (ingress routing): a lab does not model it", a.str("route_table_id"), gateway)
		case other:
			b.unsupportedf(r, "subnet_id", "subnet %s is in %s: a lab is one VPC, and this one imports %s", subnet, vpc, b.vpcID)
		case b.subnets[subnet] == nil:
			b.unsupportedf(r, "subnet_id", "subnet %s is not imported (see the report) or not in the state", subnet)
		default:
			r.consumed = true
			a.checkKeys(schemaRouteTableAssociation)
			assoc[subnet] = a.str("route_table_id")
		}
	})

	for _, s := range b.l.Subnets {
		id, how := assoc[s.ID], "its route table"
		if id == "" {
			id, how = main, "the VPC's main route table"
		}
		t := tables[id]
		for _, rt := range routesOf(t) {
			s.Public = s.Public || rt.internet()
		}
		switch {
		case s.Public:
		case id == "":
			b.report.Unsupportedf(b.source, b.vpc.Address, "main_route_table_id",
				"subnet %s uses the VPC's main route table, whose id is not in the state: imported as private (public needs a route to an internet gateway)", s.ID)
		case t == nil || t.r == nil:
			b.report.Unsupportedf(b.source, b.vpc.Address, "",
				"subnet %s uses %s %s, which is not in the state: imported as private (public needs a route to an internet gateway)", s.ID, how, id)
		}
	}

	for _, id := range order {
		for _, rt := range tables[id].routes {
			switch {
			case rt.target == "local":
			case rt.internet() && rt.dest != anyIPv4.String() && rt.dest != anyIPv6.String():
				b.report.Unsupportedf(b.source, rt.r.Address, rt.field,
					"the route to %s through %s covers part of the internet: a lab's public subnet reaches all of it", rt.dest, rt.target)
			case rt.internet():
			default:
				b.report.NotModelledf(b.source, rt.r.Address, "route%s to %s through %s, %s: a lab does not model it", at(rt.field), rt.dest, rt.target, rt.what)
			}
		}
	}
	// Internet gateways are what makes a subnet public, nothing more: they
	// are read, and those of other VPCs reported.
	attached := map[string]bool{}
	b.managed("aws_internet_gateway_attachment", func(r *resource, a attrs) {
		if !b.inOtherVPC(r, "", a.str("vpc_id")) {
			r.consumed = true
			a.checkKeys(schemaIGWAttachment)
			attached[a.str("internet_gateway_id")] = true
		}
	})
	b.managed("aws_internet_gateway", func(r *resource, a attrs) {
		id, vpc := a.str("id"), a.str("vpc_id")
		if vpc == "" && attached[id] {
			vpc = b.vpcID // attached by an aws_internet_gateway_attachment
		}
		switch {
		case vpc == "":
			b.unsupportedf(r, "", "attached to no VPC: not imported")
		case !b.inOtherVPC(r, id, vpc):
			r.consumed = true
			a.checkKeys(schemaInternetGateway)
		}
	})
}

// at formats a route's block for messages: " (route[2])", or "" for an
// aws_route.
func at(field string) string {
	if field == "" {
		return ""
	}
	return " (" + field + ")"
}

// routesOf returns the routes of t, none when t is nil.
func routesOf(t *routeTable) []route {
	if t == nil {
		return nil
	}
	return t.routes
}

// route reads a route's destination, at one of v4Key, v6Key or
// destination_prefix_list_id, and its target.
func (b *builder) route(a attrs, v4Key, v6Key string) (route, bool) {
	rt := route{r: a.r, field: a.path}
	for _, key := range []string{v4Key, v6Key} {
		if c := a.prefix(key); c.IsValid() {
			rt.dest = c.String()
		}
	}
	if rt.dest == "" {
		rt.dest = a.str("destination_prefix_list_id")
	}
	for _, t := range routeTargets {
		if v := a.str(t.key); v != "" {
			rt.target, rt.what = v, t.what
			break
		}
	}
	switch {
	case rt.dest == "":
		b.errorf(a.r, a.path, "a route needs a destination")
	case rt.target == "":
		b.errorf(a.r, a.path, "the route to %s has no target", rt.dest)
	default:
		if rt.what == "a gateway" {
			rt.what = gatewayKind(rt.target)
		}
		return rt, true
	}
	return rt, false
}

// gatewayKind says what a gateway_id names.
func gatewayKind(id string) string {
	switch {
	case id == "local":
		return "the VPC"
	case strings.HasPrefix(id, "igw-"):
		return "an internet gateway"
	case strings.HasPrefix(id, "vgw-"):
		return "a virtual private gateway (site-to-site VPN)"
	}
	return "a gateway"
}
