// Package terraform imports a lab from a Terraform state: the JSON that
// "terraform show -json" prints for it (format_version 1.x), whose
// values.root_module and child modules hold the state's resources with
// their attributes.
//
// It reads one VPC of the state (aws_vpc) with its subnets, network ACLs
// (aws_network_acl, aws_default_network_acl, aws_network_acl_rule and the
// associations), security groups (aws_security_group,
// aws_default_security_group, aws_security_group_rule,
// aws_vpc_security_group_ingress_rule and …_egress_rule), managed prefix
// lists, instances and network interfaces, and marks a subnet public when
// its route table sends traffic to an internet gateway. Ids are the AWS
// ids of the state; an instance is named after its Name tag, else its id.
//
// # What the state means
//
// A refreshed state records what exists in AWS, and the importer takes it
// literally. In particular Terraform removes the egress rule AWS gives a
// new security group unless the configuration declares one, so a group
// whose state holds no egress rule has none: its Egress is an empty,
// non-nil list, which a lab file writes as "egress: []" (a missing egress
// key would mean AWS's allow-all default). Every group and ACL of the
// result states both directions this way.
//
// A group's rules are the union of its inline ingress and egress blocks
// and of every standalone rule resource naming it; because a refresh
// copies a group's standalone rules into its inline blocks too, a rule
// seen twice is kept once (and keeps the rule id the standalone resource
// gives it). Inline blocks bundle peers: a block with two CIDRs and a
// group becomes three rules, one per peer. Network ACL entries are merged
// the same way, by direction and rule number.
//
// # What the state does not hold
//
// A VPC or subnet Terraform only reads (an aws_vpc or aws_subnet data
// source) is imported like a managed one, and so is a prefix list read by
// an aws_prefix_list or aws_ec2_managed_prefix_list data source when a
// rule references it. A reference to a security group, network ACL or
// prefix list that the state does not hold at all (made outside
// Terraform) keeps its id: the lab gets a stand-in holding what the state
// says of it (the rules of standalone resources naming it, nothing else),
// which the report names, so that membership and references stay as in
// AWS while the rest is left for the user to fill in. The stand-ins for
// the VPC's default group and ACL start with AWS's defaults; where nothing
// adds to them, the lab's built-in default group and ACL, which have
// AWS's rules for a new VPC, stand for them.
//
// # What is left out
//
// Nothing is dropped silently: every resource of the state either goes
// into the lab or into the Report. Other data sources, resource types a
// lab has no place for, attributes the importer does not know, and
// values a lab cannot hold go to Unsupported; AWS features a lab cannot
// model (VPC peering, transit and NAT gateways, endpoints, routes to
// anything but an internet gateway…) go to NotModelled.
//
// The lab's quotas are AWS's defaults, raised to what the imported
// objects need, counted as labfile.Parse counts them; its settings are the
// defaults.
package terraform

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/vpclab/vpclab/importer"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Import reads the state document at path and imports it with Parse.
func Import(path string) (*lab.Lab, *importer.Report, error) {
	return ImportVPC(path, "")
}

// ImportVPC reads the state document at path and imports it with
// ParseVPC.
func ImportVPC(path, vpcID string) (*lab.Lab, *importer.Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseVPC(path, data, vpcID)
}

// Parse imports the only VPC of a state document; name names the document
// in errors and in the report. It is an error for the state to hold no
// VPC or several: ParseVPC chooses one.
func Parse(name string, data []byte) (*lab.Lab, *importer.Report, error) {
	return ParseVPC(name, data, "")
}

// maxErrors is how many errors Parse lists before summing up the rest.
const maxErrors = 20

// ParseVPC imports the VPC vpcID of a state document (the only one when
// vpcID is empty). It returns the lab, with defaults filled in and quotas
// raised to what it needs, and the report of what the lab leaves out; or
// an error listing what in the document is malformed, each naming the
// resource's address and the attribute.
func ParseVPC(name string, data []byte, vpcID string) (*lab.Lab, *importer.Report, error) {
	resources, err := decode(name, data)
	if err != nil {
		return nil, nil, err
	}
	b := newBuilder(name, resources)
	if err := b.selectVPC(vpcID); err != nil {
		return nil, nil, err
	}
	b.build()
	if len(b.errs) > 0 {
		errs := b.errs
		if len(errs) > maxErrors {
			errs = append(slices.Clone(errs[:maxErrors]), fmt.Errorf("%s: and %d more errors", name, len(b.errs)-maxErrors))
		}
		return nil, nil, errors.Join(errs...)
	}
	b.report.Sort()
	return b.l, b.report, nil
}

// builder builds one lab from the resources of one state.
type builder struct {
	source    string
	resources []*resource
	report    *importer.Report
	errs      []error
	l         *lab.Lab

	// The imported VPC and what it says of its defaults.
	vpc            *resource
	vpcID          string
	account        string // owner of the VPC, for cross-account group references
	mainRouteTable string
	defaultGroup   string // the VPC's default security group's id
	defaultACL     string // the VPC's default network ACL's id

	// elsewhere maps the ids of subnets, groups, ACLs and route tables of
	// other VPCs to their VPC, to tell references to them from references
	// to objects the state does not hold.
	elsewhere map[string]string

	subnets     map[string]*lab.Subnet
	acls        map[string]*nacl.ACL
	aclOrigin   map[aclSlot]string // where each ACL entry came from
	standIns    map[string]bool    // ids of the stand-ins made for missing objects
	groups      map[string]*sg.Group
	ruleIndex   map[ruleSlot]int  // where each group's rules are, for merging
	ruleIDs     map[string]string // rule id → address of the resource giving it
	prefixLists map[string]*lab.PrefixList
	// dataPrefixLists are prefix lists read by data sources, imported when
	// a rule references them.
	dataPrefixLists map[string]*resource
	// The lab's built-in default group and ACL stand for the VPC's when
	// the state does not hold them; these record that a reference needed
	// them, for the report.
	usedDefaultGroup, usedDefaultACL bool
}

func newBuilder(source string, resources []*resource) *builder {
	return &builder{
		source:          source,
		resources:       resources,
		report:          &importer.Report{},
		elsewhere:       map[string]string{},
		subnets:         map[string]*lab.Subnet{},
		acls:            map[string]*nacl.ACL{},
		aclOrigin:       map[aclSlot]string{},
		standIns:        map[string]bool{},
		groups:          map[string]*sg.Group{},
		ruleIndex:       map[ruleSlot]int{},
		ruleIDs:         map[string]string{},
		prefixLists:     map[string]*lab.PrefixList{},
		dataPrefixLists: map[string]*resource{},
	}
}

// errorf records a malformed value of resource r; field is the
// attribute's path, empty for the whole resource.
func (b *builder) errorf(r *resource, field, format string, args ...any) {
	at := r.Address
	if field != "" {
		at += ": " + field
	}
	b.errs = append(b.errs, fmt.Errorf("%s: %s: %s", b.source, at, fmt.Sprintf(format, args...)))
}

// unsupportedf reports a field of r, or r itself when field is empty,
// that the lab leaves out, and marks r read.
func (b *builder) unsupportedf(r *resource, field, format string, args ...any) {
	r.consumed = true
	b.report.Unsupportedf(b.source, r.Address, field, format, args...)
}

// notModelledf reports r as an AWS feature that a lab cannot model, and
// marks it read.
func (b *builder) notModelledf(r *resource, format string, args ...any) {
	r.consumed = true
	b.report.NotModelledf(b.source, r.Address, format, args...)
}

// each calls f for every resource of the given mode and type, in state
// order.
func (b *builder) each(mode, typ string, f func(r *resource, a attrs)) {
	for _, r := range b.resources {
		if r.Mode == mode && r.Type == typ {
			f(r, b.attrsOf(r))
		}
	}
}

// managed calls f for every managed resource of type typ.
func (b *builder) managed(typ string, f func(r *resource, a attrs)) {
	b.each(modeManaged, typ, f)
}

// inOtherVPC reports whether the object of r, which belongs to VPC vpc,
// is outside the imported VPC; if so it records the object's id and
// reports r.
func (b *builder) inOtherVPC(r *resource, id, vpc string) bool {
	if vpc == b.vpcID {
		return false
	}
	if id != "" {
		b.elsewhere[id] = vpc
	}
	if vpc == "" {
		b.unsupportedf(r, "vpc_id", "not in a VPC (EC2-Classic): a lab is one VPC, %s", b.vpcID)
	} else {
		b.unsupportedf(r, "", "in %s: a lab is one VPC, and this one imports %s", vpc, b.vpcID)
	}
	return true
}

// schemaVPC lists the attributes of aws_vpc (and of the aws_vpc data
// source, which has a few more).
var schemaVPC = schema{
	read: []string{"id", "cidr_block", "ipv6_cidr_block", "owner_id", "arn",
		"default_security_group_id", "default_network_acl_id", "main_route_table_id"},
	ignored: ignore("assign_generated_ipv6_cidr_block", "default_route_table_id",
		"dhcp_options_id", "enable_dns_hostnames", "enable_dns_support",
		"enable_network_address_usage_metrics", "instance_tenancy",
		"ipv4_ipam_pool_id", "ipv4_netmask_length", "ipv6_association_id",
		"ipv6_cidr_block_network_border_group", "ipv6_ipam_pool_id",
		"ipv6_netmask_length", "enable_classiclink", "enable_classiclink_dns_support",
		// The data source's.
		"cidr_block_associations", "default", "filter", "state",
		"ipv6_cidr_block_associations"),
}

// selectVPC picks the VPC to import: vpcID, or the state's only VPC.
// Managed aws_vpc resources come first; an aws_vpc data source stands in
// for a VPC the state does not manage.
func (b *builder) selectVPC(vpcID string) error {
	byID := map[string]*resource{}
	addr := map[string]string{}
	var ids []string
	for _, mode := range []string{modeManaged, modeData} {
		b.each(mode, "aws_vpc", func(r *resource, a attrs) {
			id := a.str("id")
			if id == "" || byID[id] != nil {
				return
			}
			byID[id], addr[id] = r, r.Address
			ids = append(ids, id)
		})
	}
	if len(b.errs) > 0 {
		return errors.Join(b.errs...)
	}
	switch {
	case vpcID != "" && byID[vpcID] == nil && len(ids) == 0:
		return fmt.Errorf("%s: no VPC %s: the state holds no aws_vpc", b.source, vpcID)
	case vpcID != "" && byID[vpcID] == nil:
		return fmt.Errorf("%s: no VPC %s: the state holds %s", b.source, vpcID, joinAddrs(ids, addr))
	case vpcID == "" && len(ids) == 0:
		return fmt.Errorf("%s: the state holds no aws_vpc (resource or data source): a lab needs its VPC's address blocks", b.source)
	case vpcID == "" && len(ids) > 1:
		return fmt.Errorf("%s: the state holds %d VPCs, %s: a lab is one VPC: choose the one to import with --vpc (vpclab import terraform FILE --vpc %s)", b.source, len(ids), joinAddrs(ids, addr), ids[0])
	case vpcID == "":
		vpcID = ids[0]
	}
	b.vpc, b.vpcID = byID[vpcID], vpcID
	return nil
}

// build reads the state into b.l.
func (b *builder) build() {
	b.l = &lab.Lab{File: b.source, Quotas: lab.DefaultQuotas(), Settings: lab.DefaultSettings()}
	b.readVPC()
	b.readPrefixLists()
	b.readNetworkACLs()
	b.readSubnets()
	b.readSecurityGroups()
	b.readInstances()
	b.readRoutes()
	b.finish()
	b.raiseQuotas()
	b.leftovers()
}

// readVPC reads the imported VPC and reports the other VPCs and the
// blocks a lab's VPC cannot hold.
func (b *builder) readVPC() {
	r, a := b.vpc, b.attrsOf(b.vpc)
	r.consumed = true
	if r.Mode == modeManaged {
		a.checkKeys(schemaVPC)
	}
	v := &b.l.VPC
	v.ID = b.vpcID
	v.CIDR = a.prefix("cidr_block")
	switch {
	case !v.CIDR.IsValid():
		b.errorf(r, "cidr_block", "the VPC needs an IPv4 block")
	case !v.CIDR.Addr().Is4():
		b.errorf(r, "cidr_block", "%s is not an IPv4 block", v.CIDR)
	}
	if c := a.prefix("ipv6_cidr_block"); c.IsValid() {
		if c.Addr().Is6() {
			v.IPv6CIDR = c
		} else {
			b.errorf(r, "ipv6_cidr_block", "%s is not an IPv6 block", c)
		}
	}
	v.AccountID, v.Region = lab.DefaultAccountID, lab.DefaultRegion
	if owner := a.str("owner_id"); isAccountID(owner) {
		v.AccountID = owner
	}
	// arn:aws:ec2:REGION:ACCOUNT:vpc/ID; a VPC read by a data source may
	// lack it, and then its subnets' zones tell the region.
	if parts := strings.Split(a.str("arn"), ":"); len(parts) >= 6 && parts[3] != "" {
		v.Region = parts[3]
		if !isAccountID(a.str("owner_id")) && isAccountID(parts[4]) {
			v.AccountID = parts[4]
		}
	} else {
		b.regionFromZones()
	}
	b.account = v.AccountID
	b.defaultGroup = a.str("default_security_group_id")
	b.defaultACL = a.str("default_network_acl_id")
	b.mainRouteTable = a.str("main_route_table_id")

	for _, mode := range []string{modeManaged, modeData} {
		b.each(mode, "aws_vpc", func(o *resource, oa attrs) {
			if id := oa.str("id"); id != b.vpcID {
				b.unsupportedf(o, "", "another VPC, %s: a lab is one VPC, and this one imports %s", id, b.vpcID)
			} else if o != r {
				o.consumed = true // the same VPC, read twice
			}
		})
	}
	b.managed("aws_vpc_ipv4_cidr_block_association", func(o *resource, oa attrs) {
		if vpc := oa.str("vpc_id"); !b.inOtherVPC(o, "", vpc) {
			b.unsupportedf(o, "cidr_block", "secondary IPv4 block %s: a lab's VPC has one IPv4 block, and subnets in this one are not imported", oa.str("cidr_block"))
		}
	})
	b.managed("aws_vpc_ipv6_cidr_block_association", func(o *resource, oa attrs) {
		if vpc := oa.str("vpc_id"); b.inOtherVPC(o, "", vpc) {
			return
		}
		c := oa.prefix("ipv6_cidr_block")
		switch {
		case !c.IsValid():
			b.unsupportedf(o, "ipv6_cidr_block", "no IPv6 block is known for the association (it comes from a pool): subnets' IPv6 blocks in it are not imported")
		case !c.Addr().Is6():
			b.errorf(o, "ipv6_cidr_block", "%s is not an IPv6 block", c)
		case !v.IPv6CIDR.IsValid():
			o.consumed = true
			v.IPv6CIDR = c
		case v.IPv6CIDR != c:
			b.unsupportedf(o, "ipv6_cidr_block", "second IPv6 block %s: a lab's VPC has one IPv6 block (%s), and subnets' IPv6 blocks in this one are not imported", c, v.IPv6CIDR)
		default:
			o.consumed = true
		}
	})
}

// regionFromZones sets the VPC's region to that of its first subnet's
// zone, when a subnet of the state names one.
func (b *builder) regionFromZones() {
	for _, r := range b.resources {
		if r.Type != "aws_subnet" {
			continue
		}
		a := b.attrsOf(r)
		if zone := a.str("availability_zone"); a.str("vpc_id") == b.vpcID && zoneName.MatchString(zone) {
			b.l.VPC.Region = zone[:len(zone)-1]
			return
		}
	}
}

// isAccountID reports whether s is a 12-digit AWS account id.
func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// finish assembles the lab's lists: the built-in default group and ACL
// first, as labfile.Parse adds them, then what the state holds, in state
// order, then the stand-ins.
func (b *builder) finish() {
	v6 := b.l.VPC.IPv6CIDR.IsValid()
	b.l.SecurityGroups = slices.Insert(b.l.SecurityGroups, 0, &sg.Group{
		ID: sg.DefaultGroupID, Description: "default VPC security group",
		Ingress: sg.DefaultIngress(sg.DefaultGroupID), Egress: sg.DefaultEgress(v6),
	})
	b.l.NetworkACLs = slices.Insert(b.l.NetworkACLs, 0, &nacl.ACL{
		ID: nacl.DefaultACLID, Ingress: nacl.DefaultEntries(v6), Egress: nacl.DefaultEntries(v6),
	})
	if b.usedDefaultGroup {
		b.report.Unsupportedf(b.source, b.vpc.Address, fieldIf(b.defaultGroup, "default_security_group_id"),
			"the VPC's default security group%s is not in the state: the lab's default group, with AWS's rules for a new VPC (all traffic from its members in, everything out), stands in for it", orNone(b.defaultGroup))
	}
	if b.usedDefaultACL {
		b.report.Unsupportedf(b.source, b.vpc.Address, fieldIf(b.defaultACL, "default_network_acl_id"),
			"the VPC's default network ACL%s is not in the state: the lab's default ACL, with AWS's entries for a new VPC (allow all), stands in for it", orNone(b.defaultACL))
	}
}

// orNone formats an id that may be unknown for messages: " sg-…", or ""
// when the state does not give it.
func orNone(id string) string {
	if id == "" {
		return ""
	}
	return " " + id
}

// fieldIf returns field when the attribute holds id, "" when the state
// does not give it.
func fieldIf(id, field string) string {
	if id == "" {
		return ""
	}
	return field
}

// Resource types whose resources are AWS features a lab cannot model, by
// type prefix.
var notModelled = []struct{ prefix, what string }{
	{"aws_vpc_peering_connection", "VPC peering"},
	{"aws_ec2_transit_gateway", "a transit gateway"},
	{"aws_nat_gateway", "a NAT gateway"},
	{"aws_vpc_endpoint", "a VPC endpoint"},
	{"aws_egress_only_internet_gateway", "an egress-only internet gateway"},
	{"aws_vpn_", "a site-to-site VPN"},
	{"aws_customer_gateway", "a site-to-site VPN"},
	{"aws_dx_", "Direct Connect"},
	{"aws_eip", "an Elastic IP address"},
	{"aws_lb", "a load balancer"},
	{"aws_alb", "a load balancer"},
	{"aws_elb", "a load balancer"},
	{"aws_networkfirewall_", "Network Firewall"},
	{"aws_ec2_client_vpn_", "Client VPN"},
	{"aws_vpc_dhcp_options", "DHCP options"},
	{"aws_route53_resolver_", "Route 53 Resolver"},
	{"aws_ec2_carrier_gateway", "a carrier gateway"},
	{"aws_ec2_local_gateway", "an Outposts local gateway"},
	{"aws_vpclattice_", "VPC Lattice"},
	{"aws_networkmanager_", "Cloud WAN"},
	{"aws_globalaccelerator_", "Global Accelerator"},
	{"aws_ec2_instance_connect_endpoint", "an EC2 Instance Connect endpoint"},
	{"aws_vpc_block_public_access", "VPC Block Public Access"},
}

// leftovers reports every resource nothing read.
func (b *builder) leftovers() {
	for _, r := range b.resources {
		if r.consumed {
			continue
		}
		switch {
		case r.Mode == modeData:
			b.unsupportedf(r, "", "data source: read by Terraform, not imported")
		case r.Type == "aws_flow_log":
			b.unsupportedf(r, "", "flow log: its destination (S3, CloudWatch Logs, Firehose) has no lab equivalent; add it to the lab's flow_logs by hand")
		case strings.HasPrefix(r.Type, "aws_ec2_traffic_mirror_"):
			b.unsupportedf(r, "", "traffic mirroring is not imported; add the lab's mirror filters, targets and sessions by hand")
		default:
			for _, nm := range notModelled {
				if strings.HasPrefix(r.Type, nm.prefix) {
					b.notModelledf(r, "%s: a lab does not model it", nm.what)
					break
				}
			}
			if !r.consumed {
				b.unsupportedf(r, "", "resource type %s is not part of a lab", r.Type)
			}
		}
	}
}
