package labfile

import (
	"fmt"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// readPrefixLists reads the prefix_lists section.
func (p *parser) readPrefixLists(n *yaml.Node) {
	items, _ := p.list(n, "prefix_lists")
	for i, item := range items.all() {
		pl := &lab.PrefixList{Line: item.Line}
		p.l.PrefixLists = append(p.l.PrefixLists, pl)
		o, id, ok := p.item(item, "prefix_lists", "prefix_lists", i, "a prefix list", "id", "id", "max_entries", "cidrs")
		if !ok {
			continue
		}
		pl.ID = id
		cidrs, _ := p.list(p.Need(o, "cidrs", "a prefix list needs cidrs, such as [203.0.113.0/24]"), o.At("cidrs"))
		path := lab.ItemPath("prefix_lists", i, id)
		for j, cn := range cidrs.all() {
			p.item1(path+".cidrs", o.At("cidrs"), j, cn)
			c, _ := p.prefix(cn, fmt.Sprintf("%s[%d]", o.At("cidrs"), j))
			pl.CIDRs = append(pl.CIDRs, c)
		}
		pl.MaxEntries = max(len(pl.CIDRs), 1)
		p.integer(o.Vals["max_entries"], o.At("max_entries"), "a number of entries", &pl.MaxEntries)
	}
}

// readSecurityGroups reads the security_groups section. The file may leave
// out the default group, which lab.Normalize then adds first: the model's
// indices of the file's groups are one higher.
func (p *parser) readSecurityGroups(n *yaml.Node) {
	items, _ := p.list(n, "security_groups")
	count := items.len()
	offset := 1
	if items.hasID("id", sg.DefaultGroupID) {
		offset = 0
	}
	if quota := p.l.Quotas.SGsPerVPC - offset; count > quota && quota >= 0 {
		// Stop at the quota (the default group counts when the file
		// leaves it out): the groups past it are not read, so that a file
		// of a million groups costs no more than one at the quota.
		if at := items.item(quota); at != nil {
			p.Errorf(at, fmt.Sprintf("security_groups[%d]", quota), "%d security groups: the quota is %d per VPC, the default group included (quotas.sgs_per_vpc; AWS's default is 2500)", count+offset, quota+offset)
		}
		count = quota
	}
	for i := range count {
		item := items.item(i)
		if item == nil {
			return // chunk.go: the file is parsed again whole
		}
		g := &sg.Group{Line: item.Line}
		p.l.SecurityGroups = append(p.l.SecurityGroups, g)
		o, id, ok := p.itemAt(item, "security_groups", i, offset, "a security group", "id", "id", "description", "ingress", "egress")
		if !ok {
			continue
		}
		g.ID = id
		if d, ok := p.text(o.Vals["description"], o.At("description")); ok {
			g.Description = d
		}
		path := lab.ItemPath("security_groups", i+offset, id)
		// A missing list means what AWS creates: the default group lets in
		// everything from its own members, other groups nothing; every
		// group lets everything out.
		switch {
		case o.Vals["ingress"] != nil:
			g.Ingress = p.rules(o, path, "ingress")
		case id == sg.DefaultGroupID:
			g.Ingress = sg.DefaultIngress(sg.DefaultGroupID)
		}
		if o.Vals["egress"] != nil {
			g.Egress = p.rules(o, path, "egress")
		} else {
			g.Egress = sg.DefaultEgress(p.l.VPC.IPv6CIDR.IsValid())
		}
	}
}

// rules reads one direction of a security group, whose path in the model
// is group.
func (p *parser) rules(o yamlpos.Object, group, dir string) []sg.Rule {
	fileList := o.At(dir)
	items, _ := p.ruleList(o.Vals[dir], fileList)
	rules := make([]sg.Rule, 0, items.len())
	for i, item := range items.all() {
		n := "[" + strconv.Itoa(i) + "]"
		rules = append(rules, p.rule(item, group+"."+dir+n, fileList+n))
	}
	return rules
}

// peerKeys are the keys naming a rule's peer, exactly one per rule.
var peerKeys = []string{"cidr", "group", "prefix_list"}

// ruleKeys are the keys of a rule.
var ruleKeys = slices.Concat([]string{"id", "description"}, peerKeys, trafficKeys)

// rule reads one security-group rule.
func (p *parser) rule(n *yaml.Node, path, filePath string) sg.Rule {
	r := sg.Rule{Line: n.Line}
	o, ok := p.object(n, path, filePath, "a security group rule", ruleKeys...)
	if !ok {
		return r
	}
	if id, ok := p.id(o.Vals["id"], o.At("id")); ok {
		r.ID = id
	}
	if d, ok := p.text(o.Vals["description"], o.At("description")); ok {
		r.Description = d
	}
	t := p.traffic(o)
	r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode = t.proto, t.fromPort, t.toPort, t.icmpType, t.icmpCode
	if n := o.Vals["cidr"]; n != nil {
		r.CIDR, _ = p.prefix(n, o.At("cidr"))
	}
	if g, ok := p.id(o.Vals["group"], o.At("group")); ok {
		r.Group = g
	}
	if pl, ok := p.id(o.Vals["prefix_list"], o.At("prefix_list")); ok {
		r.PrefixList = pl
	}
	return r
}
