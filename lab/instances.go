package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/sg"
)

// The keys of an instance and of an interface. An instance with exactly
// one interface may give the interface's keys itself instead of a list of
// interfaces.
var (
	instanceKeys  = []string{"name", "conntrack_allowance", "imds", "interfaces"}
	interfaceKeys = []string{"id", "subnet", "ip", "secondary_ips", "ipv6", "security_groups", "source_dest_check", "conntrack"}
)

// readInstances reads the instances section.
func (p *parser) readInstances(n *yaml.Node) {
	items, _ := p.list(n, "instances")
	for i, item := range items {
		o, name, ok := p.item(item, "instances", i, "an instance", "name", slices.Concat(instanceKeys, interfaceKeys)...)
		if !ok {
			continue
		}
		in := &Instance{Name: name, ConntrackAllowance: p.l.Settings.DefaultAllowance, IMDS: p.l.Settings.IMDS, Line: item.Line}
		if v, ok := p.imds(o.Vals["imds"], o.At("imds")); ok {
			in.IMDS = v
		}
		if first, dup := p.instances[name]; dup {
			p.Errorf(o.Vals["name"], o.At("name"), "%s is defined twice (first at line %d): instance names are unique", name, first)
		} else if name != "" {
			p.instances[name] = item.Line
		}
		if v, ok := p.Integer(o.Vals["conntrack_allowance"], o.At("conntrack_allowance"), "a number of tracked flows", 1, maxAllowance); ok {
			in.ConntrackAllowance = v
		}
		var shorthand []string
		for _, k := range interfaceKeys {
			if o.Vals[k] != nil {
				shorthand = append(shorthand, k)
			}
		}
		switch list := o.Vals["interfaces"]; {
		case list != nil && len(shorthand) > 0:
			for _, k := range shorthand {
				p.Errorf(o.Keys[k], o.At(k), "%s belongs in an interface when the instance has interfaces (an instance without them is one interface, described by its own keys)", k)
			}
		case list != nil:
			ifaces, ok := p.list(list, o.At("interfaces"))
			if ok && len(ifaces) == 0 {
				p.Errorf(list, o.At("interfaces"), "an instance needs at least one interface")
			}
			for j, ifaceNode := range ifaces {
				io, id, ok := p.item(ifaceNode, o.At("interfaces"), j, "an interface", "id", interfaceKeys...)
				if ok {
					in.Interfaces = append(in.Interfaces, p.iface(io, id, name))
				}
			}
		case len(shorthand) > 0:
			var id string // empty after an error in the name or id
			if n := o.Vals["id"]; n != nil {
				id, _ = p.id(n, o.At("id"))
			} else if name != "" {
				id = "eni-" + name
			}
			in.Interfaces = append(in.Interfaces, p.iface(o, id, name))
		default:
			p.Errorf(o.Node, o.At("interfaces"), "missing: an instance needs at least one interface: give interfaces, or subnet and ip for an instance with one interface")
		}
		p.l.Instances = append(p.l.Instances, in)
	}
}

// iface reads an interface of the named instance.
func (p *parser) iface(o yamlpos.Object, id, instance string) *Interface {
	e := &Interface{ID: id, Instance: instance, SecurityGroups: []string{sg.DefaultGroupID},
		SourceDestCheck: true, Conntrack: DefaultConntrackTimeouts(), Line: o.Node.Line}
	if first, dup := p.enis[id]; dup {
		at := o.Vals["id"]
		if at == nil { // the shorthand's implied eni-<name>
			at = o.Node
		}
		p.Errorf(at, o.At("id"), "%s is defined twice (first at line %d): interface ids are unique", id, first)
	} else if id != "" {
		p.enis[id] = o.Node.Line
	}

	var s *Subnet
	if sid, ok := p.id(p.Need(o, "subnet", "an interface needs a subnet"), o.At("subnet")); ok {
		if s = p.subnets[sid]; s == nil {
			unknownRef(p, o.Vals["subnet"], o.At("subnet"), "subnet", sid, p.subnets)
		}
		e.Subnet = sid
	}
	ipN := p.Need(o, "ip", "an interface needs a primary private IPv4 address from its subnet")
	if a, ok := p.hostAddr(ipN, o.At("ip"), false, s, id); ok {
		e.IP = a
	}
	secondary, _ := p.list(o.Vals["secondary_ips"], o.At("secondary_ips"))
	for j, n := range secondary {
		if a, ok := p.hostAddr(n, fmt.Sprintf("%s[%d]", o.At("secondary_ips"), j), false, s, id); ok {
			e.SecondaryIPs = append(e.SecondaryIPs, a)
		}
	}
	ipv6, _ := p.list(o.Vals["ipv6"], o.At("ipv6"))
	for j, n := range ipv6 {
		if a, ok := p.hostAddr(n, fmt.Sprintf("%s[%d]", o.At("ipv6"), j), true, s, id); ok {
			e.IPv6 = append(e.IPv6, a)
		}
	}
	if groups := p.ifaceGroups(o); len(groups) > 0 {
		e.SecurityGroups = groups
	}
	p.checkRulesTimesGroups(o, e)
	if check, ok := p.Boolean(o.Vals["source_dest_check"], o.At("source_dest_check")); ok {
		e.SourceDestCheck = check
	}
	p.conntrack(o.Vals["conntrack"], o.At("conntrack"), &e.Conntrack)
	return e
}

// hostAddr reads an address of an interface in subnet s (nil when the
// subnet is unknown): IPv6 when v6, else IPv4. The address must lie in the
// subnet's block of its family, outside the addresses AWS reserves, and be
// used nowhere else.
func (p *parser) hostAddr(n *yaml.Node, field string, v6 bool, s *Subnet, owner string) (netip.Addr, bool) {
	a, ok := p.addr(n, field)
	if !ok {
		return a, false
	}
	var block netip.Prefix // zero when unknown or invalid (reported already)
	if s != nil {
		block = s.CIDR
		if v6 {
			block = s.IPv6CIDR
		}
	}
	first, last := usable(block)
	switch {
	case v6 && !a.Is6():
		p.Errorf(n, field, "%s is IPv4: ipv6 takes IPv6 addresses; give IPv4 ones in ip or secondary_ips", a)
	case !v6 && !a.Is4():
		p.Errorf(n, field, "%s is IPv6: give IPv4 here and IPv6 addresses in ipv6", a)
	case v6 && s != nil && !block.IsValid():
		p.Errorf(n, field, "%s has no IPv6 block: give the subnet an ipv6_cidr before giving its interfaces IPv6 addresses", s.ID)
	case block.IsValid() && !block.Contains(a):
		p.Errorf(n, field, "%s is outside %s's %s: an interface's addresses come from its subnet", a, s.ID, block)
	case block.IsValid() && (a.Less(first) || last.Less(a)):
		p.Errorf(n, field, "%s is reserved by AWS (the first four and the last address of every subnet): use %s-%s", a, first, last)
	default:
		return a, p.claim(a, n, field, owner)
	}
	return a, false
}

// usable returns the first and last address AWS lets interfaces use in a
// subnet's block: all but the first four and the last.
func usable(block netip.Prefix) (first, last netip.Addr) {
	if !block.IsValid() {
		return netip.Addr{}, netip.Addr{}
	}
	return block.Addr().Next().Next().Next().Next(), lastAddr(block).Prev()
}

// lastAddr returns the last address of block.
func lastAddr(block netip.Prefix) netip.Addr {
	b := block.Masked().Addr().AsSlice()
	for i := block.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ifaceGroups reads an interface's security_groups; it returns nil when
// the key is absent, leaving the default group.
func (p *parser) ifaceGroups(o yamlpos.Object) []string {
	n, field := o.Vals["security_groups"], o.At("security_groups")
	items, ok := p.list(n, field)
	if !ok {
		return nil
	}
	if len(items) == 0 {
		p.Errorf(n, field, "an interface needs at least one security group: leave the key out for the VPC's default group")
	}
	if quota := p.l.Quotas.SGsPerENI; len(items) > quota {
		p.Errorf(n, field, "%d security groups: the quota is %d per interface (quotas.sgs_per_eni; AWS allows up to 16)", len(items), quota)
	}
	var groups []string
	for j, gn := range items {
		gf := fmt.Sprintf("%s[%d]", field, j)
		gid, ok := p.id(gn, gf)
		switch {
		case !ok:
		case p.groups[gid] == nil:
			unknownRef(p, gn, gf, "security group", gid, p.groups)
		case slices.Contains(groups, gid):
			p.Errorf(gn, gf, "%s is listed twice", gid)
		default:
			groups = append(groups, gid)
		}
	}
	return groups
}

// checkRulesTimesGroups checks that the groups of interface e hold at most
// quotas.rules_times_sgs rules together, per direction and family.
func (p *parser) checkRulesTimesGroups(o yamlpos.Object, e *Interface) {
	var total [2][2]int // direction (ingress, egress) × family
	for _, gid := range e.SecurityGroups {
		g := p.groups[gid]
		for dir, rules := range [2][]sg.Rule{g.Ingress, g.Egress} {
			for _, r := range rules {
				w := p.weight(r)
				total[dir][0] += w[0]
				total[dir][1] += w[1]
			}
		}
	}
	at := o.Vals["security_groups"]
	if at == nil {
		at = o.Node
	}
	quota := p.l.Quotas.RulesTimesSGs
	for dir, perFamily := range total {
		for fam, n := range perFamily {
			if n > quota {
				p.Errorf(at, o.At("security_groups"), "the groups hold %d %s %s rules together (a prefix-list rule counts as its max_entries): the quota is %d per interface, direction and family (quotas.rules_times_sgs)",
					n, familyName(fam), [2]string{"ingress", "egress"}[dir], quota)
			}
		}
	}
}

// conntrack reads an interface's connection-tracking timeouts into c,
// which holds the defaults.
func (p *parser) conntrack(n *yaml.Node, path string, c *ConntrackTimeouts) {
	timeouts := []struct {
		key    string
		dst    *time.Duration
		lo, hi time.Duration
	}{
		{"tcp_established_timeout", &c.TCPEstablished, 60 * time.Second, 432000 * time.Second},
		{"udp_timeout", &c.UDP, 30 * time.Second, 60 * time.Second},
		{"udp_stream_timeout", &c.UDPStream, 60 * time.Second, 180 * time.Second},
	}
	known := make([]string, len(timeouts))
	for i, t := range timeouts {
		known[i] = t.key
	}
	o, ok := p.Object(n, path, "connection-tracking timeouts", known...)
	if !ok {
		return
	}
	for _, t := range timeouts {
		if v, ok := p.duration(o.Vals[t.key], o.At(t.key), t.lo, t.hi); ok {
			*t.dst = v
		}
	}
}
