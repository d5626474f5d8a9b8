package terraform

import (
	"cmp"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
)

// maxPrefixListEntries is AWS's (and a lab's) limit on a prefix list's
// max_entries.
const maxPrefixListEntries = 1000

var (
	schemaPrefixList = schema{
		read:    []string{"id", "address_family", "max_entries", "entry"},
		ignored: ignore("name", "version"),
	}
	schemaPrefixListEntry = schema{read: []string{"cidr"}, ignored: []string{"description"}}
	schemaPrefixListItem  = schema{
		read:    []string{"prefix_list_id", "cidr"},
		ignored: ignore("id", "description"),
	}
)

// readPrefixLists reads the managed prefix lists and their standalone
// entries, and keeps the prefix lists of data sources for the rules that
// reference them.
func (b *builder) readPrefixLists() {
	b.managed("aws_ec2_managed_prefix_list", func(r *resource, a attrs) {
		r.consumed = true
		a.checkKeys(schemaPrefixList)
		pl := &lab.PrefixList{ID: a.str("id")}
		if !b.validID(r, "id", pl.ID) {
			return
		}
		for _, e := range a.blocks("entry") {
			e.checkKeys(schemaPrefixListEntry)
			b.addPrefixListCIDR(r, pl, e.at("cidr"), e.prefix("cidr"))
		}
		pl.MaxEntries, _ = a.integer("max_entries")
		b.addPrefixList(r, pl)
	})
	b.managed("aws_ec2_managed_prefix_list_entry", func(r *resource, a attrs) {
		r.consumed = true
		a.checkKeys(schemaPrefixListItem)
		id := a.str("prefix_list_id")
		pl := b.prefixLists[id]
		if pl == nil {
			if !b.validID(r, "prefix_list_id", id) {
				return
			}
			pl = &lab.PrefixList{ID: id}
			b.addPrefixList(r, pl)
			b.standIns[id] = true
			b.report.Unsupportedf(b.source, r.Address, "prefix_list_id",
				"prefix list %s is not in the state: the lab gets a stand-in with only the entries of its aws_ec2_managed_prefix_list_entry resources", id)
		}
		b.addPrefixListCIDR(r, pl, "cidr", a.prefix("cidr"))
		pl.MaxEntries = max(pl.MaxEntries, len(pl.CIDRs))
	})
	for _, typ := range []string{"aws_ec2_managed_prefix_list", "aws_prefix_list"} {
		b.each(modeData, typ, func(r *resource, a attrs) {
			if id := a.str("id"); id != "" && b.prefixLists[id] == nil && b.dataPrefixLists[id] == nil {
				b.dataPrefixLists[id] = r
			}
		})
	}
}

// addPrefixList adds pl to the lab once its CIDRs are read, and checks its
// size.
func (b *builder) addPrefixList(r *resource, pl *lab.PrefixList) {
	if first := b.prefixLists[pl.ID]; first != nil {
		b.errorf(r, "id", "prefix list %s is in the state twice", pl.ID)
		return
	}
	pl.MaxEntries = max(pl.MaxEntries, len(pl.CIDRs), 1)
	if pl.MaxEntries > maxPrefixListEntries {
		b.errorf(r, "max_entries", "%d entries: a prefix list holds at most %d", pl.MaxEntries, maxPrefixListEntries)
		pl.MaxEntries = maxPrefixListEntries
	}
	b.prefixLists[pl.ID] = pl
	b.l.PrefixLists = append(b.l.PrefixLists, pl)
}

// addPrefixListCIDR adds c, read at field of r, to pl unless it is
// invalid or already there.
func (b *builder) addPrefixListCIDR(r *resource, pl *lab.PrefixList, field string, c netip.Prefix) {
	switch {
	case !c.IsValid():
		b.errorf(r, field, "an entry needs a CIDR")
	case !slices.Contains(pl.CIDRs, c):
		pl.CIDRs = append(pl.CIDRs, c)
	}
}

// prefixListRef resolves a rule's reference to prefix list id, read at
// field of r: a list of the state, one read by a data source (imported
// now), or an empty stand-in, which the report names.
func (b *builder) prefixListRef(r *resource, field, id string) (string, bool) {
	if b.prefixLists[id] != nil {
		return id, true
	}
	if !b.validID(r, field, id) {
		return "", false
	}
	if d := b.dataPrefixLists[id]; d != nil {
		d.consumed = true
		a := b.attrsOf(d)
		pl := &lab.PrefixList{ID: id}
		for _, e := range a.blocks("entries") {
			b.addPrefixListCIDR(d, pl, e.at("cidr"), e.prefix("cidr"))
		}
		for i, s := range a.strs("cidr_blocks") {
			if c, ok := b.parsePrefix(d, a.at("cidr_blocks")+"["+itoa(i)+"]", s); ok {
				b.addPrefixListCIDR(d, pl, "cidr_blocks", c)
			}
		}
		pl.MaxEntries, _ = a.integer("max_entries")
		b.addPrefixList(d, pl)
		return id, true
	}
	b.addPrefixList(r, &lab.PrefixList{ID: id, MaxEntries: 1})
	b.standIns[id] = true
	b.report.Unsupportedf(b.source, r.Address, field,
		"prefix list %s is not in the state: the lab gets an empty stand-in (max_entries 1) that matches nothing; add its CIDRs by hand", id)
	return id, true
}

var (
	schemaACL = schema{
		read:    []string{"id", "vpc_id", "ingress", "egress", "subnet_ids", "default_network_acl_id"},
		ignored: ignore(),
	}
	schemaACLEntry = schema{read: []string{"rule_no", "action", "protocol", "from_port", "to_port",
		"icmp_type", "icmp_code", "cidr_block", "ipv6_cidr_block"}}
	schemaACLRule = schema{
		read: []string{"network_acl_id", "rule_number", "egress", "rule_action", "protocol",
			"from_port", "to_port", "icmp_type", "icmp_code", "cidr_block", "ipv6_cidr_block"},
		ignored: ignore("id"),
	}
	schemaACLAssociation = schema{read: []string{"network_acl_id", "subnet_id"}, ignored: ignore("id")}
)

// aclSlot is an entry's place in an ACL: its direction and number.
type aclSlot struct {
	acl    string
	egress bool
	rule   int
}

// aclSubnets are the subnets an ACL resource lists.
type aclSubnets struct {
	r       *resource
	acl     string
	subnets []string
}

// readNetworkACLs reads the network ACLs with their inline entries, then
// the standalone entries.
func (b *builder) readNetworkACLs() {
	for _, r := range b.resources {
		if r.Mode != modeManaged || (r.Type != "aws_network_acl" && r.Type != "aws_default_network_acl") {
			continue
		}
		a := b.attrsOf(r)
		id := a.str("id")
		if b.inOtherVPC(r, id, a.str("vpc_id")) {
			continue
		}
		r.consumed = true
		a.checkKeys(schemaACL)
		if !b.validID(r, "id", id) {
			continue
		}
		if b.acls[id] != nil {
			b.errorf(r, "id", "network ACL %s is in the state twice", id)
			continue
		}
		acl := &nacl.ACL{ID: id, Ingress: []nacl.Entry{}, Egress: []nacl.Entry{}}
		b.acls[id] = acl
		b.l.NetworkACLs = append(b.l.NetworkACLs, acl)
		for _, egress := range []bool{false, true} {
			for _, e := range a.blocks(direction(egress)) {
				e.checkKeys(schemaACLEntry)
				if entry, ok := b.aclEntry(e, "rule_no", "action"); ok {
					b.addEntry(r, e.path, acl, egress, entry)
				}
			}
		}
	}
	b.managed("aws_network_acl_rule", func(r *resource, a attrs) {
		acl := b.aclRef(r, "network_acl_id", a.str("network_acl_id"))
		if acl == nil {
			return
		}
		r.consumed = true
		a.checkKeys(schemaACLRule)
		egress, _ := a.boolean("egress")
		if entry, ok := b.aclEntry(a, "rule_number", "rule_action"); ok {
			b.addEntry(r, "", acl, egress, entry)
		}
	})
	for _, acl := range b.l.NetworkACLs {
		for _, entries := range [][]nacl.Entry{acl.Ingress, acl.Egress} {
			slices.SortStableFunc(entries, func(x, y nacl.Entry) int { return cmp.Compare(x.Rule, y.Rule) })
		}
	}
}

// direction names a direction as Terraform does.
func direction(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

// aclRef resolves a reference to network ACL id, read at field of r, by
// an aws_network_acl_rule or an association: an ACL of the state, else a
// stand-in, which the report names. The stand-in for the VPC's default
// ACL starts with AWS's default entries (allow all); any other starts
// empty (deny all) and gets only the entries of aws_network_acl_rule
// resources. It returns nil, after reporting r, for an ACL of another VPC.
func (b *builder) aclRef(r *resource, field, id string) *nacl.ACL {
	if acl := b.acls[id]; acl != nil {
		return acl
	}
	if vpc, ok := b.elsewhere[id]; ok {
		b.unsupportedf(r, field, "network ACL %s is in %s: a lab is one VPC, and this one imports %s", id, vpc, b.vpcID)
		return nil
	}
	if !b.validID(r, field, id) {
		return nil
	}
	acl := &nacl.ACL{ID: id, Ingress: []nacl.Entry{}, Egress: []nacl.Entry{}}
	b.acls[id] = acl
	b.l.NetworkACLs = append(b.l.NetworkACLs, acl)
	b.standIns[id] = true
	if id == b.defaultACL {
		v6 := b.l.VPC.IPv6CIDR.IsValid()
		acl.Ingress, acl.Egress = nacl.DefaultEntries(v6), nacl.DefaultEntries(v6)
		for _, e := range acl.Ingress {
			b.aclOrigin[aclSlot{id, false, e.Rule}] = "AWS's default entries"
			b.aclOrigin[aclSlot{id, true, e.Rule}] = "AWS's default entries"
		}
		b.report.Unsupportedf(b.source, r.Address, field,
			"network ACL %s, the VPC's default, is not in the state: the lab gets a stand-in with AWS's default entries (allow all) and those of the state's aws_network_acl_rule resources", id)
		return acl
	}
	b.report.Unsupportedf(b.source, r.Address, field,
		"network ACL %s is not in the state: the lab gets a stand-in with only the entries of the state's aws_network_acl_rule resources (with none, it denies all traffic); add the others by hand", id)
	return acl
}

// addEntry adds entry, read at field of r, to acl, unless an entry of the
// same direction and number is there already: the same entry seen twice
// (a refreshed ACL holds its standalone entries inline too) is kept once,
// a different one is reported.
func (b *builder) addEntry(r *resource, field string, acl *nacl.ACL, egress bool, entry nacl.Entry) {
	slot := aclSlot{acl.ID, egress, entry.Rule}
	list := &acl.Ingress
	if egress {
		list = &acl.Egress
	}
	if first, dup := b.aclOrigin[slot]; dup {
		i := slices.IndexFunc(*list, func(e nacl.Entry) bool { return e.Rule == entry.Rule })
		if (*list)[i] != entry {
			b.report.Unsupportedf(b.source, r.Address, field,
				"%s rule %d of %s differs from the one %s gives: the state is not consistent; kept that one (refresh the state)",
				direction(egress), entry.Rule, acl.ID, first)
		}
		return
	}
	b.aclOrigin[slot] = r.Address
	*list = append(*list, entry)
}

// aclEntry reads a network ACL entry; ruleKey and actionKey name the
// attributes of its number and action, which differ between inline
// blocks and aws_network_acl_rule. It returns false for a malformed entry
// (recorded as an error) and for AWS's implicit deny, which every lab ACL
// ends with anyway.
func (b *builder) aclEntry(a attrs, ruleKey, actionKey string) (nacl.Entry, bool) {
	var e nacl.Entry
	rule, ok := a.integer(ruleKey)
	switch {
	case !ok:
		if !a.has(ruleKey) {
			b.errorf(a.r, a.at(ruleKey), "an entry needs a rule number")
		}
		return e, false
	case rule == nacl.ImplicitDenyIPv4 || rule == nacl.ImplicitDenyIPv6:
		return e, false
	case rule < nacl.MinRule || rule > nacl.MaxRule:
		b.errorf(a.r, a.at(ruleKey), "rule number %d is out of range %d-%d", rule, nacl.MinRule, nacl.MaxRule)
		return e, false
	}
	e.Rule = rule
	switch action := a.str(actionKey); {
	case equalFold(action, "allow"):
		e.Allow = true
	case equalFold(action, "deny"):
	default:
		b.errorf(a.r, a.at(actionKey), "action %q: want allow or deny", action)
		return e, false
	}
	proto, ok := b.protocol(a, "protocol")
	if !ok {
		return e, false
	}
	v4, v6 := a.prefix("cidr_block"), a.prefix("ipv6_cidr_block")
	switch {
	case v4.IsValid() && v6.IsValid():
		b.errorf(a.r, a.path, "an entry has one CIDR: cidr_block (%s) or ipv6_cidr_block (%s)", v4, v6)
		return e, false
	case v4.IsValid() && !v4.Addr().Is4():
		b.errorf(a.r, a.at("cidr_block"), "%s is not an IPv4 block", v4)
		return e, false
	case v6.IsValid() && !v6.Addr().Is6():
		b.errorf(a.r, a.at("ipv6_cidr_block"), "%s is not an IPv6 block", v6)
		return e, false
	case v4.IsValid():
		e.CIDR = v4
	case v6.IsValid():
		e.CIDR = v6
	default:
		b.errorf(a.r, a.path, "an entry needs a CIDR: cidr_block or ipv6_cidr_block")
		return e, false
	}
	t, ok := b.aclTraffic(a, proto)
	e.Protocol, e.FromPort, e.ToPort, e.ICMPType, e.ICMPCode = t.proto, t.fromPort, t.toPort, t.icmpType, t.icmpCode
	return e, ok
}

var (
	schemaSubnet = schema{
		read: []string{"id", "vpc_id", "cidr_block", "ipv6_cidr_block", "availability_zone",
			"availability_zone_id", "ipv6_native"},
		ignored: ignore("assign_ipv6_address_on_creation", "customer_owned_ipv4_pool",
			"enable_dns64", "enable_lni_at_device_index",
			"enable_resource_name_dns_aaaa_record_on_launch",
			"enable_resource_name_dns_a_record_on_launch", "ipv6_cidr_block_association_id",
			"map_customer_owned_ip_on_launch", "map_public_ip_on_launch", "outpost_arn",
			"private_dns_hostname_type_on_launch", "ipv4_ipam_pool_id", "ipv4_netmask_length",
			"ipv6_ipam_pool_id", "ipv6_netmask_length"),
	}
)

// readSubnets reads the VPC's subnets, managed ones and those read by
// aws_subnet data sources, and associates each with its network ACL.
func (b *builder) readSubnets() {
	for _, mode := range []string{modeManaged, modeData} {
		b.each(mode, "aws_subnet", func(r *resource, a attrs) {
			id := a.str("id")
			if mode == modeData && b.subnets[id] != nil {
				r.consumed = true // the managed subnet, read again
				return
			}
			if b.inOtherVPC(r, id, a.str("vpc_id")) {
				return
			}
			r.consumed = true
			if mode == modeManaged {
				a.checkKeys(schemaSubnet)
			}
			if s := b.subnet(r, a, id); s != nil {
				b.subnets[id] = s
				b.l.Subnets = append(b.l.Subnets, s)
			}
		})
	}
	b.associateACLs()
}

// subnet reads one subnet of the VPC; it returns nil, after reporting it,
// for a subnet a lab cannot hold.
func (b *builder) subnet(r *resource, a attrs, id string) *lab.Subnet {
	if !b.validID(r, "id", id) {
		return nil
	}
	if b.subnets[id] != nil {
		b.errorf(r, "id", "subnet %s is in the state twice", id)
		return nil
	}
	vpc := b.l.VPC
	s := &lab.Subnet{ID: id}
	b.zone(r, a, s)
	s.CIDR = a.prefix("cidr_block")
	switch {
	case !s.CIDR.IsValid():
		if native, _ := a.boolean("ipv6_native"); native {
			b.unsupportedf(r, "", "IPv6-only subnet: a lab's subnets have an IPv4 block; not imported, nor what is in it")
		} else {
			b.errorf(r, "cidr_block", "a subnet needs an IPv4 block")
		}
		return nil
	case !s.CIDR.Addr().Is4():
		b.errorf(r, "cidr_block", "%s is not an IPv4 block", s.CIDR)
		return nil
	case !within(s.CIDR, vpc.CIDR):
		b.unsupportedf(r, "cidr_block", "%s is outside the VPC's %s (in a secondary block): a lab's VPC has one IPv4 block; not imported, nor what is in it", s.CIDR, vpc.CIDR)
		return nil
	}
	if c := a.prefix("ipv6_cidr_block"); c.IsValid() {
		switch {
		case !c.Addr().Is6():
			b.errorf(r, "ipv6_cidr_block", "%s is not an IPv6 block", c)
		case !within(c, vpc.IPv6CIDR):
			b.unsupportedf(r, "ipv6_cidr_block", "%s is outside the VPC's IPv6 block %v: a lab's VPC has one; the subnet is imported without IPv6", c, vpc.IPv6CIDR)
		default:
			s.IPv6CIDR = c
		}
	}
	return s
}

// The zone names and ids a lab accepts: those of a region's own zones,
// not Local Zones or Wavelength Zones.
var (
	zoneName = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`)
	zoneID   = regexp.MustCompile(`^[a-z]{2,5}[0-9]-az[0-9]+$`)
)

// zone reads a subnet's availability zone and zone id. A zone a lab
// cannot name (a Local Zone's, say) is reported and left for the lab's
// default.
func (b *builder) zone(r *resource, a attrs, s *lab.Subnet) {
	name, id := a.str("availability_zone"), a.str("availability_zone_id")
	region := b.l.VPC.Region
	switch {
	case name == "":
	case !zoneName.MatchString(name) || !strings.HasPrefix(name, region):
		b.report.Unsupportedf(b.source, r.Address, "availability_zone",
			"%s is not one of %s's own zones (a Local or Wavelength Zone?): the lab gives the subnet its default zone", name, region)
	default:
		s.AvailabilityZone = name
	}
	switch {
	case id == "":
	case !zoneID.MatchString(id):
		b.report.Unsupportedf(b.source, r.Address, "availability_zone_id",
			"%s is not a zone id of a region's own zones: the lab derives the subnet's zone id from its zone", id)
	default:
		s.AZID = id
	}
}

// within reports whether block c lies inside block outer (false when
// outer is the zero Prefix).
func within(c, outer netip.Prefix) bool {
	return outer.IsValid() && c.Bits() >= outer.Bits() && outer.Contains(c.Addr())
}

// associateACLs gives every subnet its network ACL: the one an
// aws_network_acl_association names, else the one whose subnet_ids lists
// it, else the VPC's default ACL.
func (b *builder) associateACLs() {
	b.managed("aws_network_acl_association", func(r *resource, a attrs) {
		subnetID := a.str("subnet_id")
		if vpc, ok := b.elsewhere[subnetID]; ok {
			b.unsupportedf(r, "subnet_id", "subnet %s is in %s: a lab is one VPC, and this one imports %s", subnetID, vpc, b.vpcID)
			return
		}
		s := b.subnets[subnetID]
		if s == nil {
			b.unsupportedf(r, "subnet_id", "subnet %s is not imported (see the report) or not in the state", subnetID)
			return
		}
		aclID := a.str("network_acl_id")
		if aclID == b.defaultACL && b.acls[aclID] == nil {
			r.consumed = true
			a.checkKeys(schemaACLAssociation)
			s.NetworkACL = nacl.DefaultACLID
			b.usedDefaultACL = true
			return
		}
		acl := b.aclRef(r, "network_acl_id", aclID)
		if acl == nil {
			return
		}
		r.consumed = true
		a.checkKeys(schemaACLAssociation)
		s.NetworkACL = acl.ID
	})
	var lists []aclSubnets
	for _, r := range b.resources {
		if r.Mode == modeManaged && (r.Type == "aws_network_acl" || r.Type == "aws_default_network_acl") {
			a := b.attrsOf(r)
			if acl := b.acls[a.str("id")]; acl != nil && !b.standIns[acl.ID] {
				lists = append(lists, aclSubnets{r, acl.ID, a.strs("subnet_ids")})
			}
		}
	}
	for _, list := range lists {
		for _, id := range list.subnets {
			s := b.subnets[id]
			switch {
			case s == nil:
				// A subnet of another VPC or one not imported: reported with
				// the subnet.
			case s.NetworkACL == "":
				s.NetworkACL = list.acl
			case s.NetworkACL != list.acl:
				b.report.Unsupportedf(b.source, list.r.Address, "subnet_ids",
					"lists %s, which the state associates with %s: the state is not consistent; kept %s (refresh the state)", id, s.NetworkACL, s.NetworkACL)
			}
		}
	}
	for _, s := range b.l.Subnets {
		if s.NetworkACL != "" {
			continue
		}
		if b.acls[b.defaultACL] != nil {
			s.NetworkACL = b.defaultACL
		} else {
			s.NetworkACL = nacl.DefaultACLID
			b.usedDefaultACL = true
		}
	}
}

// The blocks of all IPv4 and all IPv6 addresses.
var (
	anyIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	anyIPv6 = netip.MustParsePrefix("::/0")
)
