package lab

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/nacl"
)

// readSubnets reads the subnets section.
func (p *parser) readSubnets(n *yaml.Node) {
	items, _ := p.list(n, "subnets")
	for i, item := range items {
		o, id, ok := p.item(item, "subnets", i, "a subnet", "id", "id", "cidr", "ipv6_cidr", "network_acl", "public",
			"availability_zone", "az_id")
		if !ok {
			continue
		}
		s := &Subnet{ID: id, NetworkACL: nacl.DefaultACLID, Line: item.Line}
		if first := p.subnets[id]; first != nil {
			p.redefined(o, id, first.Line)
		} else if id != "" {
			p.subnets[id] = s
		}
		s.CIDR = p.subnetBlock(p.Need(o, "cidr", "a subnet needs an IPv4 block inside the VPC's, such as 10.0.1.0/24"), o.At("cidr"), false)
		s.IPv6CIDR = p.subnetBlock(o.Vals["ipv6_cidr"], o.At("ipv6_cidr"), true)
		if aclID, ok := p.id(o.Vals["network_acl"], o.At("network_acl")); ok {
			if p.acls[aclID] == nil {
				unknownRef(p, o.Vals["network_acl"], o.At("network_acl"), "network ACL", aclID, p.acls)
			}
			s.NetworkACL = aclID
		}
		if public, ok := p.Boolean(o.Vals["public"], o.At("public")); ok {
			s.Public = public
		}
		s.AvailabilityZone, s.AZID = defaultZone(p.l.VPC.Region)
		if z, ok := p.Scalar(o.Vals["availability_zone"], o.At("availability_zone"), "a zone name such as us-east-1a"); ok {
			if zoneName.MatchString(z) && strings.HasPrefix(z, p.l.VPC.Region) {
				s.AvailabilityZone = z
				if o.Vals["az_id"] == nil {
					s.AZID = regionCode(p.l.VPC.Region) + "-az" + strconv.Itoa(int(z[len(z)-1]-'a')+1)
				}
			} else {
				p.Errorf(o.Vals["availability_zone"], o.At("availability_zone"), "%q is not a zone of %s: write it as %sa, %sb, …", z, p.l.VPC.Region, p.l.VPC.Region, p.l.VPC.Region)
			}
		}
		if z, ok := p.Scalar(o.Vals["az_id"], o.At("az_id"), "a zone id such as use1-az1"); ok {
			if zoneID.MatchString(z) {
				s.AZID = z
			} else {
				p.Errorf(o.Vals["az_id"], o.At("az_id"), "%q is not a zone id: write it as AWS does, such as %s-az1", z, regionCode(p.l.VPC.Region))
			}
		}
		p.l.Subnets = append(p.l.Subnets, s)
	}
}

// redefined reports an object whose id was already used by the object at
// line first.
func (p *parser) redefined(o yamlpos.Object, id string, first int) {
	p.Errorf(o.Vals["id"], o.At("id"), "%s is defined twice (first at line %d): ids are unique", id, first)
}

// subnetBlock reads a subnet's cidr (IPv4, /16 to /28) or ipv6_cidr (IPv6,
// /64), which must lie inside the VPC's block of that family and overlap no
// other subnet. It returns the zero Prefix when the block is absent or
// invalid.
func (p *parser) subnetBlock(n *yaml.Node, field string, v6 bool) netip.Prefix {
	c, ok := p.prefix(n, field)
	if !ok {
		return netip.Prefix{}
	}
	vpc := p.l.VPC.CIDR
	if v6 {
		vpc = p.l.VPC.IPv6CIDR
	}
	switch {
	case !v6 && !c.Addr().Is4():
		p.Errorf(n, field, "%s is IPv6: cidr is the subnet's IPv4 block; put an IPv6 /64 in ipv6_cidr", c)
	case !v6 && (c.Bits() < 16 || c.Bits() > 28):
		p.Errorf(n, field, "%s is a /%d: a subnet's IPv4 block is /16 to /28", c, c.Bits())
	case v6 && !c.Addr().Is6():
		p.Errorf(n, field, "%s is IPv4: ipv6_cidr is the subnet's IPv6 /64; put the IPv4 block in cidr", c)
	case v6 && c.Bits() != 64:
		p.Errorf(n, field, "%s is a /%d: a subnet's IPv6 block is a /64", c, c.Bits())
	case v6 && !vpc.IsValid():
		p.Errorf(n, field, "the VPC has no IPv6 block: a subnet's IPv6 /64 comes from the vpc's ipv6_cidr")
	case vpc.IsValid() && (c.Bits() < vpc.Bits() || !vpc.Contains(c.Addr())):
		p.Errorf(n, field, "%s is outside the VPC's %s", c, vpc)
	default:
		for _, other := range p.l.Subnets {
			b := other.CIDR
			if v6 {
				b = other.IPv6CIDR
			}
			if b.IsValid() && b.Overlaps(c) {
				p.Errorf(n, field, "%s overlaps %s of %s (line %d): subnets do not share addresses", c, b, other.ID, other.Line)
				return netip.Prefix{}
			}
		}
		return c
	}
	return netip.Prefix{}
}

// readNetworkACLs reads the network_acls section and adds the default ACL
// unless the file defines it.
func (p *parser) readNetworkACLs(n *yaml.Node) {
	items, _ := p.list(n, "network_acls")
	for i, item := range items {
		o, id, ok := p.item(item, "network_acls", i, "a network ACL", "id", "id", "ingress", "egress")
		if !ok {
			continue
		}
		a := &nacl.ACL{ID: id, Line: item.Line}
		if first := p.acls[id]; first != nil {
			p.redefined(o, id, first.Line)
		} else if id != "" {
			p.acls[id] = a
		}
		a.Ingress = p.entries(o, "ingress", id == nacl.DefaultACLID)
		a.Egress = p.entries(o, "egress", id == nacl.DefaultACLID)
		p.l.NetworkACLs = append(p.l.NetworkACLs, a)
	}
	if p.acls[nacl.DefaultACLID] == nil {
		a := &nacl.ACL{ID: nacl.DefaultACLID, Ingress: nacl.DefaultEntries(p.l.VPC.IPv6CIDR.IsValid()), Egress: nacl.DefaultEntries(p.l.VPC.IPv6CIDR.IsValid())}
		p.acls[a.ID] = a
		p.l.NetworkACLs = append([]*nacl.ACL{a}, p.l.NetworkACLs...)
	}
}

// The blocks of all IPv4 and all IPv6 addresses.
var (
	anyIPv4 = netip.MustParsePrefix("0.0.0.0/0")
	anyIPv6 = netip.MustParsePrefix("::/0")
)

// entries reads one direction of a network ACL. A missing key means what
// AWS creates: allow-all entries in the default ACL, none elsewhere.
func (p *parser) entries(acl yamlpos.Object, dir string, isDefault bool) []nacl.Entry {
	n := acl.Vals[dir]
	if n == nil {
		if isDefault {
			return nacl.DefaultEntries(p.l.VPC.IPv6CIDR.IsValid())
		}
		return nil
	}
	items, _ := p.list(n, acl.At(dir))
	entries := make([]nacl.Entry, 0, len(items))
	numbers := map[int]int{}     // rule number → line
	var perFamily [2]int         // entries by family: IPv4, IPv6
	var excess [2]yamlpos.Object // the first entry over the quota, by family
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", acl.At(dir), i)
		if v := lookup(item, "rule"); v != nil {
			if num, err := strconv.Atoi(v.Value); err == nil && num >= nacl.MinRule && num <= nacl.MaxRule {
				path = fmt.Sprintf("%s[rule %d]", acl.At(dir), num)
			}
		}
		e, o, ok := p.entry(item, path)
		if !ok {
			continue
		}
		if first, used := numbers[e.Rule]; used {
			p.Errorf(o.Vals["rule"], o.At("rule"), "rule %d is already used at line %d: numbers are unique per direction", e.Rule, first)
		} else {
			numbers[e.Rule] = item.Line
		}
		fam := family(e.CIDR.Addr())
		if perFamily[fam]++; perFamily[fam] == p.l.Quotas.NACLEntries+1 {
			excess[fam] = o
		}
		entries = append(entries, e)
	}
	for fam, o := range excess {
		if o.Node != nil {
			p.Errorf(o.Node, o.Path, "%d %s entries in %s: the quota is %d per direction and family (quotas.nacl_entries; AWS allows up to 40)",
				perFamily[fam], familyName(fam), dir, p.l.Quotas.NACLEntries)
		}
	}
	return entries
}

// entry reads one network ACL entry.
func (p *parser) entry(n *yaml.Node, path string) (nacl.Entry, yamlpos.Object, bool) {
	o, ok := p.Object(n, path, "a network ACL entry", append([]string{"rule", "action", "cidr"}, trafficKeys...)...)
	if !ok {
		return nacl.Entry{}, o, false
	}
	e := nacl.Entry{Line: n.Line}
	e.Rule, ok = p.ruleNumber(p.Need(o, "rule", "an entry needs a rule number, 1-32766"), o.At("rule"))
	if action, aok := p.Scalar(p.Need(o, "action", "use allow or deny"), o.At("action"), "allow or deny"); aok {
		switch strings.ToLower(action) {
		case "allow":
			e.Allow = true
		case "deny":
		default:
			p.Errorf(o.Vals["action"], o.At("action"), "%q is not an action: use allow or deny", action)
			ok = false
		}
	} else {
		ok = false
	}
	t, tok := p.traffic(o)
	e.Protocol, e.FromPort, e.ToPort, e.ICMPType, e.ICMPCode = t.proto, t.fromPort, t.toPort, t.icmpType, t.icmpCode
	var cok bool
	e.CIDR, cok = p.prefix(p.Need(o, "cidr", "an entry needs a CIDR, such as 0.0.0.0/0 or ::/0"), o.At("cidr"))
	return e, o, ok && tok && cok
}

// ruleNumber reads a network ACL rule number.
func (p *parser) ruleNumber(n *yaml.Node, field string) (int, bool) {
	if n != nil {
		if v, err := strconv.Atoi(n.Value); err == nil && (v == nacl.ImplicitDenyIPv4 || v == nacl.ImplicitDenyIPv6) {
			p.Errorf(n, field, "rule %d is the implicit deny (*) that ends every network ACL and cannot be written: use 1-32766", v)
			return 0, false
		}
	}
	return p.Integer(n, field, "a rule number", nacl.MinRule, nacl.MaxRule)
}

// family returns 0 for IPv4 and 1 for IPv6, indexing per-family counts.
func family(a netip.Addr) int {
	if a.Is6() {
		return 1
	}
	return 0
}

// familyName names a family index for messages.
func familyName(fam int) string {
	return [2]string{"IPv4", "IPv6"}[fam]
}
