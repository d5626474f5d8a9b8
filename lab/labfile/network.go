package labfile

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
)

// readSubnets reads the subnets section.
func (p *parser) readSubnets(n *yaml.Node) {
	items, _ := p.list(n, "subnets")
	for i, item := range items.all() {
		s := &lab.Subnet{Line: item.Line}
		p.l.Subnets = append(p.l.Subnets, s)
		o, id, ok := p.item(item, "subnets", "subnets", i, "a subnet", "id", "id", "cidr", "ipv6_cidr", "network_acl", "public",
			"availability_zone", "az_id")
		if !ok {
			continue
		}
		s.ID = id
		s.CIDR, _ = p.prefix(p.Need(o, "cidr", "a subnet needs an IPv4 block inside the VPC's, such as 10.0.1.0/24"), o.At("cidr"))
		s.IPv6CIDR, _ = p.prefix(o.Vals["ipv6_cidr"], o.At("ipv6_cidr"))
		s.NetworkACL = nacl.DefaultACLID
		if aclID, ok := p.id(o.Vals["network_acl"], o.At("network_acl")); ok {
			s.NetworkACL = aclID
		}
		if public, ok := p.Boolean(o.Vals["public"], o.At("public")); ok {
			s.Public = public
		}
		region := p.l.VPC.Region
		s.AvailabilityZone = region + "a"
		if z, ok := p.Scalar(o.Vals["availability_zone"], o.At("availability_zone"), "a zone name such as us-east-1a"); ok {
			s.AvailabilityZone = z
		}
		s.AZID = lab.ZoneID(region, s.AvailabilityZone)
		if z, ok := p.Scalar(o.Vals["az_id"], o.At("az_id"), "a zone id such as use1-az1"); ok {
			s.AZID = z
		}
	}
}

// readNetworkACLs reads the network_acls section. The file may leave out
// the default ACL, which lab.Normalize then adds first: the model's
// indices of the file's ACLs are one higher.
func (p *parser) readNetworkACLs(n *yaml.Node) {
	items, _ := p.list(n, "network_acls")
	offset := 1
	if items.hasID("id", nacl.DefaultACLID) {
		offset = 0
	}
	for i, item := range items.all() {
		a := &nacl.ACL{Line: item.Line}
		p.l.NetworkACLs = append(p.l.NetworkACLs, a)
		o, id, ok := p.itemAt(item, "network_acls", i, offset, "a network ACL", "id", "id", "ingress", "egress")
		if !ok {
			continue
		}
		a.ID = id
		a.Ingress = p.entries(o, lab.ItemPath("network_acls", i+offset, id), "ingress", id == nacl.DefaultACLID)
		a.Egress = p.entries(o, lab.ItemPath("network_acls", i+offset, id), "egress", id == nacl.DefaultACLID)
	}
}

// itemAt is item for a list whose model holds offset more items before
// the file's (the default group or ACL the file leaves out).
func (p *parser) itemAt(n *yaml.Node, list string, i, offset int, what, idKey string, known ...string) (yamlpos.Object, string, bool) {
	raw := ""
	if v := lookup(n, idKey); v != nil && v.Kind == yaml.ScalarNode {
		raw = v.Value
	}
	if offset == 0 || lab.ValidID(raw) {
		return p.item(n, list, list, i, what, idKey, known...)
	}
	// Named by index: the model's index is not the file's.
	o, ok := p.object(n, fmt.Sprintf("%s[%d]", list, i+offset), fmt.Sprintf("%s[%d]", list, i), what, known...)
	if !ok {
		return o, "", false
	}
	id, _ := p.id(p.Need(o, idKey, fmt.Sprintf("%s needs an %s", what, idKey)), o.At(idKey))
	return o, id, true
}

// entries reads one direction of a network ACL, whose path in the model
// is acl. A missing key means what AWS creates: allow-all entries in the
// default ACL, none elsewhere.
func (p *parser) entries(o yamlpos.Object, acl, dir string, isDefault bool) []nacl.Entry {
	n := o.Vals[dir]
	if n == nil {
		if isDefault {
			return nacl.DefaultEntries(p.l.VPC.IPv6CIDR.IsValid())
		}
		return nil
	}
	items, _ := p.list(n, o.At(dir))
	entries := make([]nacl.Entry, 0, items.len())
	for i, item := range items.all() {
		number := 0
		if v := lookup(item, "rule"); v != nil {
			number, _ = strconv.Atoi(v.Value)
		}
		path := lab.EntryPath(acl+"."+dir, i, number)
		filePath := lab.EntryPath(o.At(dir), i, number)
		entries = append(entries, p.entry(item, path, filePath))
	}
	return entries
}

// entryKeys are the keys of a network ACL entry.
var entryKeys = append([]string{"rule", "action", "cidr"}, trafficKeys...)

// entry reads one network ACL entry.
func (p *parser) entry(n *yaml.Node, path, filePath string) nacl.Entry {
	e := nacl.Entry{Line: n.Line}
	o, ok := p.object(n, path, filePath, "a network ACL entry", entryKeys...)
	if !ok {
		return e
	}
	p.integer(p.Need(o, "rule", "an entry needs a rule number, 1-32766"), o.At("rule"), "a rule number", &e.Rule)
	if action, ok := p.Scalar(p.Need(o, "action", "use allow or deny"), o.At("action"), "allow or deny"); ok {
		switch strings.ToLower(action) {
		case "allow":
			e.Allow = true
		case "deny":
		default:
			p.Errorf(o.Vals["action"], o.At("action"), "%q is not an action: use allow or deny", action)
		}
	}
	t := p.traffic(o)
	e.Protocol, e.FromPort, e.ToPort, e.ICMPType, e.ICMPCode = t.proto, t.fromPort, t.toPort, t.icmpType, t.icmpCode
	e.CIDR, _ = p.prefix(p.Need(o, "cidr", "an entry needs a CIDR, such as 0.0.0.0/0 or ::/0"), o.At("cidr"))
	return e
}
