package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/sg"
)

// maxPrefixListEntries is AWS's limit on a prefix list's max_entries.
const maxPrefixListEntries = 1000

// readPrefixLists reads the prefix_lists section.
func (p *parser) readPrefixLists(n *yaml.Node) {
	items, _ := p.list(n, "prefix_lists")
	for i, item := range items {
		o, id, ok := p.item(item, "prefix_lists", i, "a prefix list", "id", "id", "max_entries", "cidrs")
		if !ok {
			continue
		}
		pl := &PrefixList{ID: id, Line: item.Line}
		if first := p.prefixLists[id]; first != nil {
			p.redefined(o, id, first.Line)
		} else if id != "" {
			p.prefixLists[id] = pl
		}
		cidrsN := p.Need(o, "cidrs", "a prefix list needs cidrs, such as [203.0.113.0/24]")
		cidrs, _ := p.list(cidrsN, o.At("cidrs"))
		seen := map[netip.Prefix]int{} // CIDR → line
		for j, cn := range cidrs {
			field := fmt.Sprintf("%s[%d]", o.At("cidrs"), j)
			c, ok := p.prefix(cn, field)
			if !ok {
				continue
			}
			if first, dup := seen[c]; dup {
				p.Errorf(cn, field, "%s is listed twice (first at line %d)", c, first)
				continue
			}
			seen[c] = cn.Line
			pl.CIDRs = append(pl.CIDRs, c)
		}
		pl.MaxEntries = max(len(pl.CIDRs), 1)
		if v, ok := p.Integer(o.Vals["max_entries"], o.At("max_entries"), "a number of entries", 1, maxPrefixListEntries); ok {
			pl.MaxEntries = v
			if len(pl.CIDRs) > v {
				p.Errorf(cidrsN, o.At("cidrs"), "%d CIDRs is more than max_entries (%d): raise max_entries (up to %d) or remove CIDRs",
					len(pl.CIDRs), v, maxPrefixListEntries)
			}
		}
		p.l.PrefixLists = append(p.l.PrefixLists, pl)
	}
}

// readSecurityGroups reads the security_groups section, adds the default
// group unless the file defines it, and checks the references between
// groups.
func (p *parser) readSecurityGroups(n *yaml.Node) {
	items, _ := p.list(n, "security_groups")
	quota := p.l.Quotas.SGsPerVPC
	over := len(items) > quota
	if over {
		// Stop at the quota: the groups past it are not read, so that a
		// file of a million groups costs no more than one at the quota.
		p.Errorf(items[quota], fmt.Sprintf("security_groups[%d]", quota), "%d security groups: the quota is %d per VPC, the default group included (quotas.sgs_per_vpc; AWS's default is 2500)", len(items), quota)
		items = items[:quota]
	}
	for i, item := range items {
		o, id, ok := p.item(item, "security_groups", i, "a security group", "id", "id", "description", "ingress", "egress")
		if !ok {
			continue
		}
		g := &sg.Group{ID: id, Line: item.Line}
		if first := p.groups[id]; first != nil {
			p.redefined(o, id, first.Line)
		} else if id != "" {
			p.groups[id] = g
		}
		if d, ok := p.text(o.Vals["description"], o.At("description")); ok {
			g.Description = d
		}
		// A missing list means what AWS creates: the default group lets in
		// everything from its own members, other groups nothing; every
		// group lets everything out.
		switch {
		case o.Vals["ingress"] != nil:
			g.Ingress = p.rules(o, "ingress")
		case id == sg.DefaultGroupID:
			g.Ingress = sg.DefaultIngress(sg.DefaultGroupID)
		}
		if o.Vals["egress"] != nil {
			g.Egress = p.rules(o, "egress")
		} else {
			g.Egress = sg.DefaultEgress(p.l.VPC.IPv6CIDR.IsValid())
		}
		p.l.SecurityGroups = append(p.l.SecurityGroups, g)
	}
	if p.groups[sg.DefaultGroupID] == nil {
		g := &sg.Group{ID: sg.DefaultGroupID, Description: "default VPC security group",
			Ingress: sg.DefaultIngress(sg.DefaultGroupID), Egress: sg.DefaultEgress(p.l.VPC.IPv6CIDR.IsValid())}
		p.groups[g.ID] = g
		p.l.SecurityGroups = append([]*sg.Group{g}, p.l.SecurityGroups...)
		if len(items) == quota && !over {
			p.Errorf(n, "security_groups", "%d security groups and the default group the VPC adds: the quota is %d per VPC, the default group included (quotas.sgs_per_vpc; AWS's default is 2500)", len(items), quota)
		}
	}
	for _, ref := range p.groupRefs {
		if p.groups[ref.id] == nil {
			unknownRef(p, ref.node, ref.field, "security group", ref.id, p.groups)
		}
	}
}

// rules reads one direction of a security group and checks the rule
// quota.
func (p *parser) rules(group yamlpos.Object, dir string) []sg.Rule {
	items, _ := p.list(group.Vals[dir], group.At(dir))
	rules := make([]sg.Rule, 0, len(items))
	var perFamily [2]int         // quota weight by family: IPv4, IPv6
	var excess [2]yamlpos.Object // the first rule over the quota, by family
	quota := p.l.Quotas.SGRules
	for i, item := range items {
		r, o, ok := p.rule(item, fmt.Sprintf("%s[%d]", group.At(dir), i))
		if !ok {
			continue
		}
		for fam, w := range p.weight(r) {
			if perFamily[fam] <= quota && perFamily[fam]+w > quota {
				excess[fam] = o
			}
			perFamily[fam] += w
		}
		rules = append(rules, r)
	}
	for fam, o := range excess {
		if o.Node != nil {
			p.Errorf(o.Node, o.Path, "%d %s rules in %s (a prefix-list rule counts as its max_entries): the quota is %d per direction and family (quotas.sg_rules)",
				perFamily[fam], familyName(fam), dir, quota)
		}
	}
	return rules
}

// peerKeys are the keys naming a rule's peer, exactly one per rule.
var peerKeys = []string{"cidr", "group", "prefix_list"}

// rule reads one security-group rule.
func (p *parser) rule(n *yaml.Node, path string) (sg.Rule, yamlpos.Object, bool) {
	o, ok := p.Object(n, path, "a security group rule", slices.Concat([]string{"id", "description"}, peerKeys, trafficKeys)...)
	if !ok {
		return sg.Rule{}, o, false
	}
	r := sg.Rule{Line: n.Line}
	if idN := o.Vals["id"]; idN != nil {
		id, idOK := p.id(idN, o.At("id"))
		first, dup := p.ruleIDs[id]
		switch {
		case !idOK:
			ok = false
		case !strings.HasPrefix(id, "sgr-"):
			p.Errorf(idN, o.At("id"), "%q is not a rule id: rule ids start with sgr-, such as sgr-0123456789abcdef0", id)
			ok = false
		case dup:
			p.Errorf(idN, o.At("id"), "%s is defined twice (first at line %d): ids are unique", id, first)
			ok = false
		default:
			p.ruleIDs[id] = idN.Line
			r.ID = id
		}
	}
	if d, dok := p.text(o.Vals["description"], o.At("description")); dok {
		r.Description = d
	}
	t, tok := p.traffic(o)
	r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode = t.proto, t.fromPort, t.toPort, t.icmpType, t.icmpCode
	return r, o, p.peer(o, &r) && ok && tok
}

// peer reads the one peer of a rule.
func (p *parser) peer(o yamlpos.Object, r *sg.Rule) bool {
	var given []string
	for _, k := range peerKeys {
		if o.Vals[k] != nil {
			given = append(given, k)
		}
	}
	switch len(given) {
	case 0:
		p.Errorf(o.Node, o.Path, "missing a peer: give one of cidr, group or prefix_list")
		return false
	case 1:
	default:
		p.Errorf(o.Node, o.Path, "%s: a rule has exactly one peer", strings.Join(given, " and "))
		return false
	}
	key := given[0]
	n, field := o.Vals[key], o.At(key)
	var ok bool
	switch key {
	case "cidr":
		r.CIDR, ok = p.prefix(n, field)
	case "group":
		if r.Group, ok = p.id(n, field); ok {
			p.groupRefs = append(p.groupRefs, groupRef{id: r.Group, node: n, field: field})
		}
	case "prefix_list":
		if r.PrefixList, ok = p.id(n, field); ok && p.prefixLists[r.PrefixList] == nil {
			unknownRef(p, n, field, "prefix list", r.PrefixList, p.prefixLists)
			ok = false
		}
	}
	return ok
}

// weight returns how much rule r counts, by family, toward the rule quotas
// (spec §2.4): a CIDR rule once in its family, a group reference once in
// each family, a prefix-list rule its list's max_entries in each family the
// list holds (in both when the list is empty).
func (p *parser) weight(r sg.Rule) [2]int {
	return ruleWeight(r, p.prefixLists[r.PrefixList])
}
