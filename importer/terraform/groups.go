package terraform

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vpclab/vpclab/sg"
)

var (
	schemaGroup = schema{
		read:    []string{"id", "vpc_id", "description", "name", "ingress", "egress"},
		ignored: ignore("name_prefix", "revoke_rules_on_delete"),
	}
	schemaInlineRule = schema{read: []string{"cidr_blocks", "description", "from_port",
		"ipv6_cidr_blocks", "prefix_list_ids", "protocol", "security_groups", "self", "to_port"}}
	schemaGroupRule = schema{
		read: []string{"type", "security_group_id", "protocol", "from_port", "to_port",
			"cidr_blocks", "ipv6_cidr_blocks", "prefix_list_ids", "source_security_group_id",
			"self", "description", "security_group_rule_id"},
		ignored: ignore("id"),
	}
	schemaVPCGroupRule = schema{
		read: []string{"id", "security_group_id", "ip_protocol", "from_port", "to_port",
			"cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id",
			"description", "security_group_rule_id"},
		ignored: ignore(),
	}
)

// ruleSlot locates a rule in a group for merging: the same rule seen in a
// group's inline blocks and in a standalone resource is one rule.
type ruleSlot struct {
	group  string
	egress bool
	key    ruleKey
}

// ruleKey is what makes two rules of a direction the same rule in AWS:
// everything but the id and the description.
type ruleKey struct {
	t          traffic
	cidr       netip.Prefix
	group, pfx string
}

// readSecurityGroups reads the VPC's security groups, then their inline
// rules, then the standalone rule resources, so that rules may reference
// any group.
func (b *builder) readSecurityGroups() {
	type inline struct {
		r *resource
		a attrs
		g *sg.Group
	}
	var groups []inline
	for _, r := range b.resources {
		if r.Mode != modeManaged || (r.Type != "aws_security_group" && r.Type != "aws_default_security_group") {
			continue
		}
		a := b.attrsOf(r)
		id := a.str("id")
		if b.inOtherVPC(r, id, a.str("vpc_id")) {
			continue
		}
		r.consumed = true
		a.checkKeys(schemaGroup)
		if !b.validID(r, "id", id) {
			continue
		}
		if b.groups[id] != nil {
			b.errorf(r, "id", "security group %s is in the state twice", id)
			continue
		}
		g := &sg.Group{ID: id, Description: a.str("description"), Ingress: []sg.Rule{}, Egress: []sg.Rule{}}
		b.groups[id] = g
		b.l.SecurityGroups = append(b.l.SecurityGroups, g)
		groups = append(groups, inline{r, a, g})
	}
	// A standalone rule may add to the VPC's default group when the state
	// does not hold it: the stand-in must exist before any rule references
	// the group, lest the references go to the lab's default instead.
	if b.groups[b.defaultGroup] == nil && b.defaultGroup != "" {
		for _, r := range b.resources {
			if r.Mode == modeManaged && isStandaloneRule(r.Type) && b.attrsOf(r).str("security_group_id") == b.defaultGroup {
				b.defaultGroupStandIn(r)
				break
			}
		}
	}
	for _, in := range groups {
		for _, egress := range []bool{false, true} {
			for _, block := range in.a.blocks(direction(egress)) {
				b.inlineRule(in.r, block, in.g, egress)
			}
		}
	}
	for _, r := range b.resources {
		if r.Mode != modeManaged {
			continue
		}
		switch r.Type {
		case "aws_security_group_rule":
			b.groupRule(r, b.attrsOf(r))
		case "aws_vpc_security_group_ingress_rule":
			b.vpcGroupRule(r, b.attrsOf(r), false)
		case "aws_vpc_security_group_egress_rule":
			b.vpcGroupRule(r, b.attrsOf(r), true)
		}
	}
}

// isStandaloneRule reports whether typ is a security group rule resource.
func isStandaloneRule(typ string) bool {
	switch typ {
	case "aws_security_group_rule", "aws_vpc_security_group_ingress_rule", "aws_vpc_security_group_egress_rule":
		return true
	}
	return false
}

// peers collects the rules one rule block makes, one per peer.
type peers struct {
	b     *builder
	r     *resource
	base  sg.Rule
	rules []sg.Rule
	// named counts the peers the block names, including those left out.
	named int
}

// cidrs adds a rule for each CIDR of the list at key of a, which must be
// of the family v6 says.
func (p *peers) cidrs(a attrs, key string, v6 bool) {
	for i, s := range a.strs(key) {
		field := fmt.Sprintf("%s[%d]", a.at(key), i)
		p.cidr(field, s, v6)
	}
}

// cidr adds a rule for CIDR s, read at field.
func (p *peers) cidr(field, s string, v6 bool) {
	p.named++
	c, ok := p.b.parsePrefix(p.r, field, s)
	if !ok {
		return
	}
	if c.Addr().Is6() != v6 {
		p.b.errorf(p.r, field, "%s is not an %s block", c, map[bool]string{false: "IPv4", true: "IPv6"}[v6])
		return
	}
	rule := p.base
	rule.CIDR = c
	p.rules = append(p.rules, rule)
}

// group adds a rule whose peer is the group id, read at field, unless the
// reference cannot be imported.
func (p *peers) group(field, id string) {
	p.named++
	if gid, ok := p.b.groupRef(p.r, field, id, true); ok {
		rule := p.base
		rule.Group = gid
		p.rules = append(p.rules, rule)
	}
}

// prefixList adds a rule whose peer is the prefix list id, read at field.
func (p *peers) prefixList(field, id string) {
	p.named++
	if pid, ok := p.b.prefixListRef(p.r, field, id); ok {
		rule := p.base
		rule.PrefixList = pid
		p.rules = append(p.rules, rule)
	}
}

// self adds a rule whose peer is the group the rule belongs to.
func (p *peers) self(g *sg.Group) {
	p.named++
	rule := p.base
	rule.Group = g.ID
	p.rules = append(p.rules, rule)
}

// baseRule reads what a rule matches besides its peer: the protocol at
// protoKey and the ports.
func (b *builder) baseRule(a attrs, protoKey string) (sg.Rule, bool) {
	proto, ok := b.protocol(a, protoKey)
	if !ok {
		return sg.Rule{}, false
	}
	t, ok := b.sgTraffic(a, proto)
	return sg.Rule{Protocol: t.proto, FromPort: t.fromPort, ToPort: t.toPort,
		ICMPType: t.icmpType, ICMPCode: t.icmpCode, Description: a.str("description")}, ok
}

// inlineRule reads one inline ingress or egress block of group g's
// resource r: one rule per CIDR, prefix list and group it names.
func (b *builder) inlineRule(r *resource, a attrs, g *sg.Group, egress bool) {
	a.checkKeys(schemaInlineRule)
	base, ok := b.baseRule(a, "protocol")
	if !ok {
		return
	}
	p := &peers{b: b, r: r, base: base}
	p.cidrs(a, "cidr_blocks", false)
	p.cidrs(a, "ipv6_cidr_blocks", true)
	for i, id := range a.strs("prefix_list_ids") {
		p.prefixList(fmt.Sprintf("%s[%d]", a.at("prefix_list_ids"), i), id)
	}
	for i, id := range a.strs("security_groups") {
		p.group(fmt.Sprintf("%s[%d]", a.at("security_groups"), i), id)
	}
	if self, _ := a.boolean("self"); self {
		p.self(g)
	}
	if p.named == 0 {
		b.report.Unsupportedf(b.source, r.Address, a.path, "a rule without a peer matches nothing: not imported")
	}
	for _, rule := range p.rules {
		b.addRule(r, a.path, g, egress, rule)
	}
}

// groupRule reads an aws_security_group_rule: like an inline block, it
// may name several peers.
func (b *builder) groupRule(r *resource, a attrs) {
	var egress bool
	switch typ := a.str("type"); typ {
	case "ingress":
	case "egress":
		egress = true
	default:
		b.errorf(r, "type", "%q: want ingress or egress", typ)
		return
	}
	g := b.ruleTarget(r, a.str("security_group_id"))
	if g == nil {
		return
	}
	r.consumed = true
	a.checkKeys(schemaGroupRule)
	base, ok := b.baseRule(a, "protocol")
	if !ok {
		return
	}
	p := &peers{b: b, r: r, base: base}
	p.cidrs(a, "cidr_blocks", false)
	p.cidrs(a, "ipv6_cidr_blocks", true)
	for i, id := range a.strs("prefix_list_ids") {
		p.prefixList(fmt.Sprintf("prefix_list_ids[%d]", i), id)
	}
	if self, _ := a.boolean("self"); self {
		p.self(g)
	} else if id := a.str("source_security_group_id"); id != "" {
		p.group("source_security_group_id", id)
	}
	if p.named == 0 {
		b.unsupportedf(r, "", "a rule without a peer matches nothing: not imported")
	}
	// The provider sets security_group_rule_id only for a rule with one
	// peer, which is one AWS rule.
	if len(p.rules) == 1 {
		p.rules[0].ID = b.ruleID(r, "security_group_rule_id", a.str("security_group_rule_id"))
	}
	for _, rule := range p.rules {
		b.addRule(r, "", g, egress, rule)
	}
}

// vpcGroupRule reads an aws_vpc_security_group_ingress_rule or
// …_egress_rule: one AWS rule with one peer and its rule id.
func (b *builder) vpcGroupRule(r *resource, a attrs, egress bool) {
	g := b.ruleTarget(r, a.str("security_group_id"))
	if g == nil {
		return
	}
	r.consumed = true
	a.checkKeys(schemaVPCGroupRule)
	base, ok := b.baseRule(a, "ip_protocol")
	if !ok {
		return
	}
	id := a.str("security_group_rule_id")
	if id == "" {
		id = a.str("id")
	}
	base.ID = b.ruleID(r, "security_group_rule_id", id)
	p := &peers{b: b, r: r, base: base}
	var given []string
	for _, key := range []string{"cidr_ipv4", "cidr_ipv6", "prefix_list_id", "referenced_security_group_id"} {
		v := a.str(key)
		if v == "" {
			continue
		}
		given = append(given, key)
		switch key {
		case "cidr_ipv4":
			p.cidr(key, v, false)
		case "cidr_ipv6":
			p.cidr(key, v, true)
		case "prefix_list_id":
			p.prefixList(key, v)
		case "referenced_security_group_id":
			p.group(key, v)
		}
	}
	switch {
	case len(given) > 1:
		b.errorf(r, "", "%s: a rule has exactly one peer", strings.Join(given, " and "))
		return
	case len(given) == 0:
		b.unsupportedf(r, "", "a rule without a peer matches nothing: not imported")
	}
	for _, rule := range p.rules {
		b.addRule(r, "", g, egress, rule)
	}
}

// ruleID returns id, read at field of r, if it is a rule id a lab accepts
// and no other resource gives it; else "" after reporting why.
func (b *builder) ruleID(r *resource, field, id string) string {
	switch first, dup := b.ruleIDs[id]; {
	case id == "":
		return ""
	case !strings.HasPrefix(id, "sgr-") || !idPattern.MatchString(id):
		b.report.Unsupportedf(b.source, r.Address, field, "%q is not a security group rule id (sgr-…): the rule is imported without it", id)
		return ""
	case dup && first != r.Address:
		b.report.Unsupportedf(b.source, r.Address, field, "rule id %s is given by %s too: the state is not consistent; this rule is imported without it", id, first)
		return ""
	}
	b.ruleIDs[id] = r.Address
	return id
}

// addRule adds rule, read at field of r, to a direction of g, merging it
// with the same rule seen before: a refreshed group holds the rules of
// its standalone rule resources inline too.
func (b *builder) addRule(r *resource, field string, g *sg.Group, egress bool, rule sg.Rule) {
	slot := ruleSlot{g.ID, egress, keyOf(rule)}
	list := &g.Ingress
	if egress {
		list = &g.Egress
	}
	i, seen := b.ruleIndex[slot]
	if !seen {
		b.ruleIndex[slot] = len(*list)
		*list = append(*list, rule)
		return
	}
	first := &(*list)[i]
	switch {
	case first.ID == "":
		first.ID = rule.ID
	case rule.ID != "" && rule.ID != first.ID:
		delete(b.ruleIDs, rule.ID)
		b.report.Unsupportedf(b.source, r.Address, field,
			"rule %s repeats rule %s of %s: the state is not consistent; imported once, as %s", rule.ID, first.ID, g.ID, first.ID)
	}
	if first.Description == "" {
		first.Description = rule.Description
	}
}

// ruleTarget resolves the group a standalone rule resource r adds to:
// a group of the state, or a stand-in (the VPC's default group starts
// with AWS's default rules, any other empty), which the report names. It
// returns nil, after reporting r, for a group of another VPC.
func (b *builder) ruleTarget(r *resource, id string) *sg.Group {
	if g := b.groups[id]; g != nil {
		return g
	}
	if vpc, ok := b.elsewhere[id]; ok {
		b.unsupportedf(r, "security_group_id", "security group %s is in %s: a lab is one VPC, and this one imports %s", id, vpc, b.vpcID)
		return nil
	}
	if id == b.defaultGroup && id != "" {
		return b.defaultGroupStandIn(r)
	}
	if _, ok := b.groupRef(r, "security_group_id", id, false); !ok {
		return nil
	}
	return b.groups[id]
}

// defaultGroupStandIn adds the stand-in for the VPC's default group, which
// the state does not hold but whose standalone rule resource r adds to:
// AWS's default rules, and those of the state's standalone rules.
func (b *builder) defaultGroupStandIn(r *resource) *sg.Group {
	id := b.defaultGroup
	g := &sg.Group{ID: id, Description: "default VPC security group",
		Ingress: sg.DefaultIngress(id), Egress: sg.DefaultEgress(b.l.VPC.IPv6CIDR.IsValid())}
	b.groups[id] = g
	b.l.SecurityGroups = append(b.l.SecurityGroups, g)
	b.standIns[id] = true
	for i, rule := range g.Ingress {
		b.ruleIndex[ruleSlot{id, false, keyOf(rule)}] = i
	}
	for i, rule := range g.Egress {
		b.ruleIndex[ruleSlot{id, true, keyOf(rule)}] = i
	}
	b.report.Unsupportedf(b.source, r.Address, "security_group_id",
		"security group %s, the VPC's default, is not in the state: the lab gets a stand-in with AWS's default rules (all traffic from its members in, everything out) and those of the state's standalone rule resources", id)
	return g
}

// keyOf returns a rule's merging key.
func keyOf(rule sg.Rule) ruleKey {
	return ruleKey{
		t:    traffic{rule.Protocol, rule.FromPort, rule.ToPort, rule.ICMPType, rule.ICMPCode},
		cidr: rule.CIDR, group: rule.Group, pfx: rule.PrefixList,
	}
}

// groupRef resolves a reference to security group id, read at field of r:
// a group of the state, the lab's default group for the VPC's default
// group when the state does not hold it, or an empty stand-in, which the
// report names, so that membership and references stay as in AWS. A
// reference of the form ACCOUNT/sg-… names a group of that account. peer
// says whether a rule's peer is meant, which may be a group of another
// VPC (peering) or account, reported and left out; else an interface's
// or a standalone rule's group.
func (b *builder) groupRef(r *resource, field, id string, peer bool) (string, bool) {
	if owner, gid, ok := strings.Cut(id, "/"); ok {
		if owner != b.account {
			b.report.Unsupportedf(b.source, r.Address, field, "%s is a group of account %s, not %s: a lab is one account; the rule is not imported", gid, owner, b.account)
			return "", false
		}
		id = gid
	}
	if b.groups[id] != nil {
		return id, true
	}
	if vpc, ok := b.elsewhere[id]; ok && peer {
		b.report.Unsupportedf(b.source, r.Address, field, "security group %s is in %s (a peered VPC): a lab is one VPC, and this one imports %s; the rule is not imported", id, vpc, b.vpcID)
		return "", false
	}
	if id == b.defaultGroup && id != "" {
		b.usedDefaultGroup = true
		return sg.DefaultGroupID, true
	}
	if !b.validID(r, field, id) {
		return "", false
	}
	g := &sg.Group{ID: id, Ingress: []sg.Rule{}, Egress: []sg.Rule{}}
	b.groups[id] = g
	b.l.SecurityGroups = append(b.l.SecurityGroups, g)
	b.standIns[id] = true
	b.report.Unsupportedf(b.source, r.Address, field,
		"security group %s is not in the state: the lab gets a stand-in, which keeps its members and the references to it, with only the rules of the state's standalone rule resources naming it (with none, it allows nothing); add the others by hand", id)
	return id, true
}
