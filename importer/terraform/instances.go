package terraform

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

var (
	schemaInstance = schema{
		read: []string{"id", "subnet_id", "private_ip", "secondary_private_ips", "ipv6_addresses",
			"vpc_security_group_ids", "security_groups", "source_dest_check",
			"primary_network_interface_id", "network_interface", "metadata_options"},
		ignored: ignore("ami", "associate_public_ip_address", "availability_zone",
			"capacity_reservation_specification", "cpu_options", "cpu_core_count",
			"cpu_threads_per_core", "credit_specification", "disable_api_stop",
			"disable_api_termination", "ebs_block_device", "ebs_optimized",
			"enable_primary_ipv6", "enclave_options", "ephemeral_block_device",
			"force_destroy", "get_password_data", "hibernation", "host_id",
			"host_resource_group_arn", "iam_instance_profile",
			"instance_initiated_shutdown_behavior", "instance_lifecycle",
			"instance_market_options", "instance_state", "instance_type",
			"ipv6_address_count", "key_name", "launch_template", "maintenance_options",
			"monitoring", "outpost_arn", "password_data", "placement_group",
			"placement_group_id", "placement_partition_number", "primary_network_interface",
			"private_dns", "private_dns_name_options", "public_dns", "public_ip",
			"root_block_device", "spot_instance_request_id", "tenancy", "user_data",
			"user_data_base64", "user_data_replace_on_change", "volume_tags"),
	}
	schemaMetadataOptions = schema{
		read:    []string{"http_tokens", "http_endpoint"},
		ignored: []string{"http_put_response_hop_limit", "instance_metadata_tags", "http_protocol_ipv6"},
	}
	schemaInstanceENI = schema{
		read:    []string{"device_index", "network_interface_id", "network_card_index"},
		ignored: []string{"delete_on_termination"},
	}
	schemaENI = schema{
		read: []string{"id", "subnet_id", "private_ip", "private_ips", "private_ip_list",
			"ipv6_addresses", "ipv6_address_list", "security_groups", "source_dest_check",
			"attachment", "ipv4_prefixes", "ipv6_prefixes"},
		ignored: ignore("description", "interface_type", "ipv4_prefix_count",
			"ipv6_prefix_count", "ipv6_address_count", "ipv6_address_list_enabled",
			"private_ip_list_enabled", "private_ips_count", "mac_address", "outpost_arn",
			"private_dns_name", "enable_primary_ipv6"),
	}
	schemaENIAttachment = schema{
		read:    []string{"instance", "device_index"},
		ignored: []string{"attachment_id", "network_card_index"},
	}
	schemaAttachment = schema{
		read:    []string{"instance_id", "network_interface_id", "device_index"},
		ignored: ignore("id", "attachment_id", "status", "network_card_index"),
	}
	schemaSGAttachment = schema{
		read:    []string{"security_group_id", "network_interface_id"},
		ignored: ignore("id"),
	}
)

// attachment is an ENI's attachment to an instance, as a resource of the
// state says.
type attachment struct {
	eni    string
	device int
	r      *resource // who says so
	field  string
}

// eniSource is an aws_network_interface of the state.
type eniSource struct {
	r    *resource
	a    attrs
	used bool
}

// readInstances reads the instances of the VPC's subnets with their
// network interfaces: the primary one, from the aws_network_interface of
// that id or else from the instance's own attributes, then those attached
// to it, by device index.
func (b *builder) readInstances() {
	enis := map[string]*eniSource{}
	var eniOrder []string
	b.managed("aws_network_interface", func(r *resource, a attrs) {
		id := a.str("id")
		if !b.validID(r, "id", id) || enis[id] != nil {
			if enis[id] != nil {
				b.errorf(r, "id", "network interface %s is in the state twice", id)
			}
			return
		}
		enis[id] = &eniSource{r: r, a: a}
		eniOrder = append(eniOrder, id)
	})
	attached := map[string][]attachment{} // instance id → its attachments
	owner := map[string]string{}          // ENI id → instance id
	attach := func(instance string, at attachment) {
		if instance == "" || at.eni == "" {
			return
		}
		if prev, ok := owner[at.eni]; ok {
			if prev != instance {
				b.errorf(at.r, at.field, "network interface %s is attached to %s and to %s", at.eni, prev, instance)
			}
			return
		}
		owner[at.eni] = instance
		attached[instance] = append(attached[instance], at)
	}
	for _, id := range eniOrder {
		e := enis[id]
		for _, at := range e.a.blocks("attachment") {
			at.checkKeys(schemaENIAttachment)
			dev, _ := at.integer("device_index")
			attach(at.str("instance"), attachment{id, dev, e.r, at.path})
		}
	}
	b.managed("aws_network_interface_attachment", func(r *resource, a attrs) {
		a.checkKeys(schemaAttachment)
		dev, _ := a.integer("device_index")
		attach(a.str("instance_id"), attachment{a.str("network_interface_id"), dev, r, "network_interface_id"})
	})
	b.managed("aws_instance", func(r *resource, a attrs) {
		for _, ni := range a.blocks("network_interface") {
			ni.checkKeys(schemaInstanceENI)
			dev, _ := ni.integer("device_index")
			attach(a.str("id"), attachment{ni.str("network_interface_id"), dev, r, ni.at("network_interface_id")})
		}
	})

	names := map[string]bool{}
	ifaces := map[string]*lab.Interface{}
	instances := map[string]bool{}
	b.managed("aws_instance", func(r *resource, a attrs) {
		id := a.str("id")
		instances[id] = true
		in := b.instance(r, a, id, names, enis, attached[id])
		if in == nil {
			return
		}
		b.l.Instances = append(b.l.Instances, in)
		for _, e := range in.Interfaces {
			ifaces[e.ID] = e
		}
	})

	for _, id := range eniOrder {
		e := enis[id]
		if e.used {
			continue
		}
		subnet := e.a.str("subnet_id")
		switch vpc, other := b.elsewhere[subnet]; {
		case other:
			b.unsupportedf(e.r, "", "in %s, of %s: a lab is one VPC, and this one imports %s", subnet, vpc, b.vpcID)
		case owner[id] != "" && instances[owner[id]]:
			// Its instance was not imported, and the report says why.
			e.r.consumed = true
		case owner[id] != "":
			b.unsupportedf(e.r, "attachment", "attached to %s, which is not in the state: a lab's interfaces belong to its instances; not imported", owner[id])
		default:
			b.unsupportedf(e.r, "", "not attached to an instance: a lab's interfaces belong to its instances; not imported")
		}
	}
	b.managed("aws_network_interface_attachment", func(r *resource, a attrs) {
		if eni := a.str("network_interface_id"); ifaces[eni] != nil {
			r.consumed = true
		} else if !r.consumed {
			b.unsupportedf(r, "network_interface_id", "network interface %s is not imported (see the report) or not in the state", eni)
		}
	})
	b.managed("aws_network_interface_sg_attachment", func(r *resource, a attrs) {
		r.consumed = true
		a.checkKeys(schemaSGAttachment)
		eniID := a.str("network_interface_id")
		e := ifaces[eniID]
		if e == nil {
			b.unsupportedf(r, "network_interface_id", "network interface %s is not imported (see the report) or not in the state", eniID)
			return
		}
		gid, ok := b.groupRef(r, "security_group_id", a.str("security_group_id"), false)
		if ok && !slices.Contains(e.SecurityGroups, gid) {
			e.SecurityGroups = append(e.SecurityGroups, gid)
		}
	})
}

// instance reads one aws_instance and its interfaces; it returns nil,
// after reporting it, for an instance outside the imported subnets.
func (b *builder) instance(r *resource, a attrs, id string, names map[string]bool,
	enis map[string]*eniSource, attached []attachment) *lab.Instance {
	subnet := a.str("subnet_id")
	if vpc, ok := b.elsewhere[subnet]; ok {
		b.unsupportedf(r, "", "in %s, of %s: a lab is one VPC, and this one imports %s", subnet, vpc, b.vpcID)
		return nil
	}
	r.consumed = true
	a.checkKeys(schemaInstance)
	in := &lab.Instance{
		Name:               b.instanceName(a, id, names),
		ConntrackAllowance: b.l.Settings.DefaultAllowance,
		IMDS:               b.l.Settings.IMDS,
	}
	for _, mo := range a.blocks("metadata_options") {
		mo.checkKeys(schemaMetadataOptions)
		if mo.str("http_tokens") == "required" {
			in.IMDS = lab.IMDSv2Only
		}
		if mo.str("http_endpoint") == "disabled" {
			b.report.Unsupportedf(b.source, r.Address, mo.at("http_endpoint"),
				"the instance metadata service is disabled: a lab's instances always reach it")
		}
	}

	primary := a.str("primary_network_interface_id")
	if e := enis[primary]; e != nil {
		e.used = true
		if eni := b.eniFromResource(e.r, e.a, in.Name); eni != nil {
			in.Interfaces = append(in.Interfaces, eni)
		}
	} else {
		if primary == "" {
			primary = "eni-" + id
		}
		if eni := b.eniFromInstance(r, a, primary, in.Name); eni != nil {
			in.Interfaces = append(in.Interfaces, eni)
		}
	}
	if len(in.Interfaces) == 0 {
		b.report.Unsupportedf(b.source, r.Address, "", "its primary network interface is not imported (see the report): the instance is not imported")
		return nil
	}
	slices.SortStableFunc(attached, func(x, y attachment) int { return cmp.Compare(x.device, y.device) })
	for _, at := range attached {
		if at.eni == primary {
			continue
		}
		e := enis[at.eni]
		if e == nil {
			b.report.Unsupportedf(b.source, at.r.Address, at.field,
				"network interface %s, attached to %s, is not in the state: not imported", at.eni, id)
			continue
		}
		e.used = true
		if eni := b.eniFromResource(e.r, e.a, in.Name); eni != nil {
			in.Interfaces = append(in.Interfaces, eni)
		}
	}
	return in
}

// instanceName returns the lab name of instance id: its Name tag made
// into a lab name, else its id; a name already taken gets the id added.
func (b *builder) instanceName(a attrs, id string, taken map[string]bool) string {
	name := sanitizeName(a.tag("Name"))
	if name == "" || taken[name] {
		if name != "" {
			name = truncate(name, 64-len(id)-1) + "-" + id
		} else {
			name = id
		}
	}
	if !idPattern.MatchString(name) || taken[name] {
		name = sanitizeName(id)
	}
	for i := 2; taken[name]; i++ {
		name = truncate(sanitizeName(id), 60) + "-" + itoa(i)
	}
	taken[name] = true
	return name
}

// sanitizeName makes s into a lab name: letters, digits, '.', '_' and
// '-', starting with a letter or digit, at most 64 characters; every run
// of other characters becomes one '-'.
func sanitizeName(s string) string {
	var out strings.Builder
	dash := false
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			out.WriteRune(c)
			dash = false
		case !dash:
			out.WriteByte('-')
			dash = true
		}
	}
	name := strings.TrimLeft(out.String(), "._-")
	return strings.TrimRight(truncate(name, 64), "-")
}

// truncate cuts s to at most n bytes (s is ASCII here).
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:max(n, 0)]
	}
	return s
}

// eniFromInstance builds an instance's primary interface from the
// instance's own attributes.
func (b *builder) eniFromInstance(r *resource, a attrs, id, instance string) *lab.Interface {
	e := &lab.Interface{ID: id, Instance: instance, SourceDestCheck: true, Conntrack: lab.DefaultConntrackTimeouts()}
	if !b.validID(r, "primary_network_interface_id", id) {
		return nil
	}
	s := b.eniSubnet(r, a, "subnet_id")
	if s == nil {
		return nil
	}
	e.Subnet = s.ID
	if !b.addrs(r, e, s, a.at("private_ip"), []string{a.str("private_ip")}, a.at("secondary_private_ips"),
		a.strs("secondary_private_ips"), a.at("ipv6_addresses"), a.strs("ipv6_addresses")) {
		return nil
	}
	slices.SortFunc(e.SecondaryIPs, netip.Addr.Compare) // a set, printed in hash order
	groups, field := a.strs("vpc_security_group_ids"), a.at("vpc_security_group_ids")
	if len(groups) == 0 && len(a.strs("security_groups")) > 0 {
		groups, field = b.groupsByName(r, a), a.at("security_groups")
	}
	e.SecurityGroups = b.eniGroups(r, field, groups)
	if check, ok := a.boolean("source_dest_check"); ok {
		e.SourceDestCheck = check
	}
	return e
}

// eniFromResource builds an interface from its aws_network_interface.
func (b *builder) eniFromResource(r *resource, a attrs, instance string) *lab.Interface {
	r.consumed = true
	a.checkKeys(schemaENI)
	e := &lab.Interface{ID: a.str("id"), Instance: instance, SourceDestCheck: true, Conntrack: lab.DefaultConntrackTimeouts()}
	s := b.eniSubnet(r, a, "subnet_id")
	if s == nil {
		return nil
	}
	e.Subnet = s.ID
	// private_ip_list holds the addresses in order, the primary first;
	// private_ips is a set, with the primary somewhere.
	primary := a.str("private_ip")
	list, listField, listIsSet := a.strs("private_ip_list"), a.at("private_ip_list"), false
	if len(list) == 0 {
		list, listField, listIsSet = a.strs("private_ips"), a.at("private_ips"), true
	}
	if primary == "" && !listIsSet && len(list) > 0 {
		primary = list[0]
	}
	v6, v6Field, v6IsSet := a.strs("ipv6_address_list"), a.at("ipv6_address_list"), false
	if len(v6) == 0 {
		v6, v6Field, v6IsSet = a.strs("ipv6_addresses"), a.at("ipv6_addresses"), true
	}
	if !b.addrs(r, e, s, a.at("private_ip"), []string{primary}, listField, list, v6Field, v6) {
		return nil
	}
	// Sets are printed in hash order.
	if listIsSet {
		slices.SortFunc(e.SecondaryIPs, netip.Addr.Compare)
	}
	if v6IsSet {
		slices.SortFunc(e.IPv6, netip.Addr.Compare)
	}
	for _, key := range []string{"ipv4_prefixes", "ipv6_prefixes"} {
		if p := a.strs(key); len(p) > 0 {
			b.report.Unsupportedf(b.source, r.Address, key, "prefix delegation (%s): a lab's interfaces have single addresses; not imported", strings.Join(p, ", "))
		}
	}
	e.SecurityGroups = b.eniGroups(r, a.at("security_groups"), a.strs("security_groups"))
	if check, ok := a.boolean("source_dest_check"); ok {
		e.SourceDestCheck = check
	}
	return e
}

// eniSubnet returns the imported subnet an interface is in, or nil after
// reporting why it is not imported.
func (b *builder) eniSubnet(r *resource, a attrs, key string) *lab.Subnet {
	id := a.str(key)
	if s := b.subnets[id]; s != nil {
		return s
	}
	switch vpc, other := b.elsewhere[id]; {
	case id == "":
		b.errorf(r, a.at(key), "an interface needs a subnet")
	case other:
		b.unsupportedf(r, a.at(key), "subnet %s is in %s: a lab is one VPC, and this one imports %s", id, vpc, b.vpcID)
	default:
		b.unsupportedf(r, a.at(key), "subnet %s is not imported (see the report) or not in the state: the interface is not imported", id)
	}
	return nil
}

// addrs reads an interface's addresses into e: the primary IPv4 (the one
// string of primary), the secondary IPv4s (secondary may hold the primary
// too, which is skipped) and the IPv6s, each of which must lie in subnet
// s. A secondary or IPv6 address outside the subnet is reported and left
// out; it returns false, after reporting, when the primary is.
func (b *builder) addrs(r *resource, e *lab.Interface, s *lab.Subnet, primaryField string, primary []string,
	secondaryField string, secondary []string, v6Field string, v6 []string) bool {
	if len(primary) != 1 || primary[0] == "" {
		b.errorf(r, primaryField, "an interface needs a primary private IPv4 address")
		return false
	}
	ip, ok := b.parseAddr(r, primaryField, primary[0])
	if !ok {
		return false
	}
	if !b.inSubnet(r, primaryField, ip, s, false) {
		b.report.Unsupportedf(b.source, r.Address, "", "the interface's primary address is not imported: the interface is not imported")
		return false
	}
	e.IP = ip
	for i, text := range secondary {
		field := fmt.Sprintf("%s[%d]", secondaryField, i)
		if a, ok := b.parseAddr(r, field, text); ok && a != ip && b.inSubnet(r, field, a, s, false) && !slices.Contains(e.SecondaryIPs, a) {
			e.SecondaryIPs = append(e.SecondaryIPs, a)
		}
	}
	for i, text := range v6 {
		field := fmt.Sprintf("%s[%d]", v6Field, i)
		if a, ok := b.parseAddr(r, field, text); ok && b.inSubnet(r, field, a, s, true) && !slices.Contains(e.IPv6, a) {
			e.IPv6 = append(e.IPv6, a)
		}
	}
	return true
}

// inSubnet checks that address ip, read at field, is of the family v6
// says and lies in subnet s; an address of the wrong family is an error,
// one outside the subnet's block is reported.
func (b *builder) inSubnet(r *resource, field string, ip netip.Addr, s *lab.Subnet, v6 bool) bool {
	block := s.CIDR
	if v6 {
		block = s.IPv6CIDR
	}
	switch {
	case ip.Is6() != v6:
		b.errorf(r, field, "%s is not an %s address", ip, map[bool]string{false: "IPv4", true: "IPv6"}[v6])
	case !block.IsValid():
		b.report.Unsupportedf(b.source, r.Address, field, "%s: subnet %s has no IPv6 block in the lab (see the report); not imported", ip, s.ID)
	case !block.Contains(ip):
		b.report.Unsupportedf(b.source, r.Address, field, "%s is outside subnet %s's %s; not imported", ip, s.ID, block)
	default:
		return true
	}
	return false
}

// groupsByName resolves an instance's security_groups, which name groups,
// to the ids of the state's groups of those names.
func (b *builder) groupsByName(r *resource, a attrs) []string {
	byName := map[string]string{}
	for _, g := range b.resources {
		if g.Mode == modeManaged && (g.Type == "aws_security_group" || g.Type == "aws_default_security_group") {
			ga := b.attrsOf(g)
			if b.groups[ga.str("id")] != nil {
				name := ga.str("name")
				if g.Type == "aws_default_security_group" && name == "" {
					name = "default"
				}
				byName[name] = ga.str("id")
			}
		}
	}
	var ids []string
	for i, name := range a.strs("security_groups") {
		switch id, ok := byName[name]; {
		case ok:
			ids = append(ids, id)
		case name == "default":
			ids = append(ids, b.defaultGroup)
		default:
			b.report.Unsupportedf(b.source, r.Address, fmt.Sprintf("%s[%d]", a.at("security_groups"), i),
				"no security group named %q is in the state: left out of the interface's groups", name)
		}
	}
	return ids
}

// eniGroups resolves an interface's security group ids, read at field of
// r. AWS puts every interface in at least one group, so a state listing
// none does not know them: the interface gets the VPC's default group,
// and the report says so.
func (b *builder) eniGroups(r *resource, field string, ids []string) []string {
	var out []string
	for i, id := range ids {
		if gid, ok := b.groupRef(r, fmt.Sprintf("%s[%d]", field, i), id, false); ok && !slices.Contains(out, gid) {
			out = append(out, gid)
		}
	}
	if len(out) > 0 {
		return out
	}
	b.report.Unsupportedf(b.source, r.Address, field, "no security group is listed: the interface is imported in the VPC's default group")
	if b.groups[b.defaultGroup] != nil {
		return []string{b.defaultGroup}
	}
	b.usedDefaultGroup = b.usedDefaultGroup || b.defaultGroup != ""
	return []string{sg.DefaultGroupID}
}
