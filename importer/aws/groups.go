package aws

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// Traffic: protocols, ports and ICMP types, as security-group rules and
// network-ACL entries give them.

// protocol reads a protocol: a name, -1 for all, or an IANA number.
func (r *run) protocol(src *source, at path, s string) (int, bool) {
	if p, ok := ec2.ParseAPIProtocol(s); ok {
		return p, true
	}
	r.errs.at(src, at, "%q is not a protocol: want tcp, udp, icmp, icmpv6, -1 or a protocol number 0-255", s)
	return 0, false
}

// ports reads a TCP or UDP port range from the keys fromKey and toKey of
// the object at at.
func (r *run) ports(src *source, at path, from, to *int, fromKey, toKey string) (lo, hi int, ok bool) {
	if from == nil || to == nil {
		r.errs.at(src, at, "a TCP or UDP range needs %s and %s", fromKey, toKey)
		return 0, 0, false
	}
	if err := ec2.CheckPorts(*from, *to, fromKey, toKey); err != nil {
		r.ec2Error(src, at, err)
		return 0, 0, false
	}
	return *from, *to, true
}

// ec2Error records an error of ec2's checks, whose field path is relative
// to the object at at.
func (r *run) ec2Error(src *source, at path, err error) {
	var e *ec2.Error
	if !errors.As(err, &e) {
		r.errs.at(src, at, "%v", err)
		return
	}
	for _, k := range strings.Split(e.Field, ".") {
		if k != "" {
			at = at.key(k)
		}
	}
	r.errs.at(src, at, "%s", e.Msg)
}

// icmp reads an ICMP type and code (absent or -1: any) from the keys
// typeKey and codeKey of the object at at. Any type means any code.
func (r *run) icmp(src *source, at path, typ, code *int, typeKey, codeKey string) (t, c int, ok bool) {
	t, c = -1, -1
	if typ != nil {
		t = *typ
	}
	if code != nil {
		c = *code
	}
	if err := ec2.CheckICMP(t, c, typeKey, codeKey); err != nil {
		r.ec2Error(src, at, err)
		return 0, 0, false
	}
	if t == -1 {
		return -1, -1, true
	}
	return t, c, true
}

// sgTraffic reads the protocol and port range of a security-group rule.
// Ports are those of TCP and UDP rules, the ICMP type and code those of
// ICMP and ICMPv6 rules; other protocols have neither.
func (r *run) sgTraffic(src *source, at path, proto string, from, to *int) (sg.Rule, bool) {
	rule := sg.Rule{FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}
	p, ok := r.protocol(src, at.key("IpProtocol"), proto)
	rule.Protocol = p
	switch {
	case !ok:
	case ec2.PortsMatter(p):
		rule.FromPort, rule.ToPort, ok = r.ports(src, at, from, to, "FromPort", "ToPort")
	case ec2.ICMPMatters(p):
		rule.ICMPType, rule.ICMPCode, ok = r.icmp(src, at, from, to, "FromPort", "ToPort")
	}
	return rule, ok
}

// Security groups.

// peerKind is the kind of a rule's peer.
type peerKind int

const (
	peerCIDR peerKind = iota
	peerPrefixList
	peerGroup
)

// candidate is a rule with one peer as read, before its peer is checked.
type candidate struct {
	rule   sg.Rule // traffic, description and id; no peer yet
	egress bool
	kind   peerKind
	cidr   netip.Prefix
	id     string // the prefix list's or group's
	// A group peer's VPC and peering connection, when the input gives
	// them.
	vpcID, peering string
	src            *source
	at             path
}

// key identifies a rule within its group, to match the rules of
// describe-security-groups with those of describe-security-group-rules.
func (c *candidate) key() string {
	peer := c.cidr.String()
	switch c.kind {
	case peerPrefixList:
		peer = "pl:" + c.id
	case peerGroup:
		peer = "sg:" + c.id + "/" + c.peering
	}
	x := c.rule
	return fmt.Sprintf("%t %d %d-%d %d/%d %s", c.egress, x.Protocol, x.FromPort, x.ToPort, x.ICMPType, x.ICMPCode, peer)
}

// describePeer names a candidate's peer for messages.
func (c *candidate) describePeer() string {
	switch c.kind {
	case peerPrefixList:
		return "prefix list " + c.id
	case peerGroup:
		return "group " + c.id
	}
	return c.cidr.String()
}

// direction names a candidate's direction.
func (c *candidate) direction() string {
	if c.egress {
		return "outbound"
	}
	return "inbound"
}

// permissionCandidates splits one permission of describe-security-groups
// into one candidate per peer.
func (r *run) permissionCandidates(src *source, at path, groupID string, p ec2.IpPermission, egress bool) []*candidate {
	base, ok := r.sgTraffic(src, at, p.IpProtocol, p.FromPort, p.ToPort)
	if !ok {
		return nil
	}
	var out []*candidate
	add := func(c *candidate, description string) {
		c.rule, c.egress, c.src = base, egress, src
		c.rule.Description = description
		out = append(out, c)
	}
	for k, x := range p.IpRanges {
		kat := at.key("IpRanges").index(k)
		if c, ok := r.prefix(src, kat.key("CidrIp"), x.CidrIp, 4); ok {
			add(&candidate{kind: peerCIDR, cidr: c, at: kat}, x.Description)
		}
	}
	for k, x := range p.Ipv6Ranges {
		kat := at.key("Ipv6Ranges").index(k)
		if c, ok := r.prefix(src, kat.key("CidrIpv6"), x.CidrIpv6, 6); ok {
			add(&candidate{kind: peerCIDR, cidr: c, at: kat}, x.Description)
		}
	}
	for k, x := range p.PrefixListIds {
		kat := at.key("PrefixListIds").index(k)
		if r.peerID(src, kat.key("PrefixListId"), x.PrefixListId) {
			add(&candidate{kind: peerPrefixList, id: x.PrefixListId, at: kat}, x.Description)
		}
	}
	for k, x := range p.UserIdGroupPairs {
		kat := at.key("UserIdGroupPairs").index(k)
		if r.peerID(src, kat.key("GroupId"), x.GroupId) {
			add(&candidate{kind: peerGroup, id: x.GroupId, vpcID: x.VpcId, peering: x.VpcPeeringConnectionId, at: kat}, x.Description)
		}
	}
	if len(p.IpRanges)+len(p.Ipv6Ranges)+len(p.PrefixListIds)+len(p.UserIdGroupPairs) == 0 {
		r.rep.Unsupportedf(src.name, groupID, at.String(), "%s permission without a peer: it allows nothing, and nothing is imported", ec2.RuleTraffic(base))
	}
	return out
}

// peerID checks the id of a prefix-list or group peer.
func (r *run) peerID(src *source, at path, id string) bool {
	if !validID(id) {
		r.errs.at(src, at, "%q is not an id a lab can use", id)
		return false
	}
	return true
}

// ruleCandidate reads one rule of describe-security-group-rules.
func (r *run) ruleCandidate(it item[securityGroupRule]) (*candidate, bool) {
	x, src, at := it.v, it.src, it.at
	rule, ok := r.sgTraffic(src, at, x.IpProtocol, x.FromPort, x.ToPort)
	rule.Description = x.Description
	if !strings.HasPrefix(x.SecurityGroupRuleId, "sgr-") || !validID(x.SecurityGroupRuleId) {
		r.errs.at(src, at.key("SecurityGroupRuleId"), "%q is not a rule id (sgr-…)", x.SecurityGroupRuleId)
		ok = false
	}
	rule.ID = x.SecurityGroupRuleId
	c := &candidate{rule: rule, egress: x.IsEgress, src: src, at: at}
	var peers []string
	if x.CidrIpv4 != "" {
		peers = append(peers, "CidrIpv4")
		c.kind = peerCIDR
		c.cidr, ok = r.prefixAnd(ok, src, at.key("CidrIpv4"), x.CidrIpv4, 4)
	}
	if x.CidrIpv6 != "" {
		peers = append(peers, "CidrIpv6")
		c.kind = peerCIDR
		c.cidr, ok = r.prefixAnd(ok, src, at.key("CidrIpv6"), x.CidrIpv6, 6)
	}
	if x.PrefixListId != "" {
		peers = append(peers, "PrefixListId")
		c.kind, c.id = peerPrefixList, x.PrefixListId
		ok = r.peerID(src, at.key("PrefixListId"), x.PrefixListId) && ok
	}
	if g := x.ReferencedGroupInfo; g != nil {
		peers = append(peers, "ReferencedGroupInfo")
		c.kind, c.id, c.vpcID, c.peering = peerGroup, g.GroupId, g.VpcId, g.VpcPeeringConnectionId
		ok = r.peerID(src, at.key("ReferencedGroupInfo").key("GroupId"), g.GroupId) && ok
	}
	if len(peers) != 1 {
		r.errs.at(src, at, "a rule has exactly one peer (CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupInfo), not %d: %s", len(peers), strings.Join(peers, ", "))
		ok = false
	}
	return c, ok
}

// prefixAnd is prefix, folding its result into ok.
func (r *run) prefixAnd(ok bool, src *source, at path, s string, family int) (netip.Prefix, bool) {
	c, cok := r.prefix(src, at, s, family)
	return c, ok && cok
}

// groupInput is a security group as read: from describe-security-groups,
// or only from describe-security-group-rules.
type groupInput struct {
	id          string
	description string
	src         *source
	at          path
	candidates  []*candidate
}

// buildSecurityGroups imports the VPC's security groups: those of
// describe-security-groups in the VPC, with rule ids from
// describe-security-group-rules, and the groups known only from
// describe-security-group-rules (which does not give a group's VPC) that
// something of the VPC uses.
func (r *run) buildSecurityGroups() {
	vpcID := r.l.VPC.ID
	var groups []*groupInput
	described := map[string]string{} // group id → VPC id, for every described group
	for _, it := range dedupe(r, r.groups, "security group", func(g securityGroup) string { return g.GroupId }) {
		g := it.v
		described[g.GroupId] = g.VpcId
		if ref, used := r.state.groupRefs[g.GroupId]; used && g.VpcId != vpcID {
			// A group of another VPC on this VPC's interfaces: AWS's
			// security group VPC associations.
			r.rep.Unsupportedf(it.src.name, g.GroupId, "VpcId", "group of %s used at %s (a security group VPC association): imported as a group of %s",
				g.VpcId, ref.at, vpcID)
		} else if !r.inVPC(it.src, "security group", g.VpcId, g.GroupId) {
			continue
		}
		gi := &groupInput{id: g.GroupId, description: g.Description, src: it.src, at: it.at}
		for j, p := range g.IpPermissions {
			gi.candidates = append(gi.candidates, r.permissionCandidates(it.src, it.at.key("IpPermissions").index(j), g.GroupId, p, false)...)
		}
		for j, p := range g.IpPermissionsEgress {
			gi.candidates = append(gi.candidates, r.permissionCandidates(it.src, it.at.key("IpPermissionsEgress").index(j), g.GroupId, p, true)...)
		}
		groups = append(groups, gi)
	}

	imported := map[string]bool{}
	for _, gi := range groups {
		imported[gi.id] = true
	}

	// The rules of describe-security-group-rules, by group.
	rulesOf := map[string][]*candidate{}
	var onlyRules []string // groups known only from their rules, in order
	for _, it := range dedupe(r, r.groupRules, "security group rule", func(x securityGroupRule) string { return x.SecurityGroupRuleId }) {
		x := it.v
		if vpc, ok := described[x.GroupId]; ok && vpc != vpcID && !imported[x.GroupId] {
			r.skip(it.src, "security group rule", vpc, x.SecurityGroupRuleId)
			continue
		}
		c, ok := r.ruleCandidate(it)
		if !ok {
			continue
		}
		if !validID(x.GroupId) {
			r.errs.at(it.src, it.at.key("GroupId"), "%q is not a group id", x.GroupId)
			continue
		}
		if _, ok := described[x.GroupId]; !ok && rulesOf[x.GroupId] == nil {
			onlyRules = append(onlyRules, x.GroupId)
		}
		rulesOf[x.GroupId] = append(rulesOf[x.GroupId], c)
	}

	for _, gi := range groups {
		r.matchRuleIDs(gi, rulesOf[gi.id])
	}
	for _, gi := range r.groupsOnlyInRules(groups, onlyRules, rulesOf) {
		groups = append(groups, gi)
		imported[gi.id] = true
	}
	for _, gi := range groups {
		out := &sg.Group{ID: gi.id, Description: gi.description, Ingress: []sg.Rule{}, Egress: []sg.Rule{}}
		for _, c := range gi.candidates {
			rule, ok := r.resolvePeer(gi.id, c, described, imported)
			if !ok {
				continue
			}
			if c.egress {
				out.Egress = append(out.Egress, rule)
			} else {
				out.Ingress = append(out.Ingress, rule)
			}
		}
		r.l.SecurityGroups = append(r.l.SecurityGroups, out)
	}

	// Groups that rules and interfaces name but the input does not
	// describe.
	for _, id := range r.state.groupOrder {
		if imported[id] {
			continue
		}
		at := r.state.groupRefs[id]
		r.l.SecurityGroups = append(r.l.SecurityGroups, &sg.Group{ID: id, Ingress: []sg.Rule{}, Egress: []sg.Rule{}})
		r.rep.Unsupportedf(at.src.name, id, "", "security group used at %s but not in the input (describe-security-groups): imported without rules, so it allows nothing", at.at)
	}
}

// matchRuleIDs gives the rules of a group of describe-security-groups the
// ids of the same rules in describe-security-group-rules, and reports the
// rules found in one output only.
func (r *run) matchRuleIDs(gi *groupInput, rules []*candidate) {
	if len(rules) == 0 {
		return
	}
	pool := map[string][]*candidate{}
	for _, c := range rules {
		pool[c.key()] = append(pool[c.key()], c)
	}
	for _, c := range gi.candidates {
		k := c.key()
		if match := pool[k]; len(match) > 0 {
			c.rule.ID = match[0].rule.ID
			pool[k] = match[1:]
			continue
		}
		r.rep.Unsupportedf(c.src.name, gi.id, c.at.String(), "no rule of describe-security-group-rules is this %s rule (%s, %s): imported without a rule id",
			c.direction(), ec2.RuleTraffic(c.rule), c.describePeer())
	}
	for _, c := range rules {
		if left := pool[c.key()]; len(left) > 0 && left[0] == c {
			pool[c.key()] = left[1:]
			r.rep.Unsupportedf(c.src.name, c.rule.ID, "", "rule of %s (%s %s, %s) is not in describe-security-groups, whose rules are imported: not imported (were the files taken at different times?)",
				gi.id, c.direction(), ec2.RuleTraffic(c.rule), c.describePeer())
		}
	}
}

// groupsOnlyInRules returns the groups known only from
// describe-security-group-rules that belong to the VPC. That output does
// not give a group's VPC: a group belongs when an imported interface or
// rule uses it, or a rule says its VPC. With no other clue (no
// describe-security-groups output and no interface) every group is taken.
func (r *run) groupsOnlyInRules(groups []*groupInput, ids []string, rulesOf map[string][]*candidate) []*groupInput {
	if len(ids) == 0 {
		return nil
	}
	vpcID := r.l.VPC.ID
	take := map[string]bool{}
	var queue []string
	mark := func(id string) {
		if !take[id] {
			take[id] = true
			queue = append(queue, id)
		}
	}
	for id := range r.state.groupRefs {
		mark(id)
	}
	sameVPC := func(c *candidate) bool {
		return c.kind == peerGroup && c.peering == "" && (c.vpcID == "" || c.vpcID == vpcID)
	}
	for _, gi := range groups {
		for _, c := range gi.candidates {
			if sameVPC(c) {
				mark(c.id)
			}
		}
	}
	for _, id := range ids {
		for _, c := range rulesOf[id] {
			if sameVPC(c) && c.vpcID == vpcID {
				mark(c.id)
			}
		}
	}
	guessed := len(r.groups) == 0 && len(r.state.interfaces) == 0
	if guessed {
		for _, id := range ids {
			mark(id)
		}
	}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, c := range rulesOf[id] {
			if sameVPC(c) {
				mark(c.id)
			}
		}
	}
	var out, left []string
	var added []*groupInput
	for _, id := range ids {
		if !take[id] {
			left = append(left, id)
			continue
		}
		out = append(out, id)
		first := rulesOf[id][0]
		added = append(added, &groupInput{id: id, src: first.src, at: first.at, candidates: rulesOf[id]})
	}
	src := rulesOf[ids[0]][0].src
	if len(out) > 0 {
		why := "used by the VPC's interfaces or rules"
		if guessed {
			why = "taken to be of the VPC: nothing in the input says otherwise"
		}
		r.rep.Unsupportedf(src.name, vpcID, "", "%s known only from describe-security-group-rules (%s), %s: imported without descriptions", count(len(out), "security group"), listIDs(out), why)
	}
	if len(left) > 0 {
		r.rep.Unsupportedf(src.name, vpcID, "", "%s known only from describe-security-group-rules (%s), which does not give a group's VPC, and used by nothing of %s: not imported", count(len(left), "security group"), listIDs(left), vpcID)
	}
	return added
}

// resolvePeer completes a rule of group with its peer. A reference to a
// group of another VPC (through peering, a transit gateway or another
// account) is reported and dropped: a lab holds one VPC. imported are the
// groups of the lab, described the VPC of every group the input describes.
func (r *run) resolvePeer(group string, c *candidate, described map[string]string, imported map[string]bool) (sg.Rule, bool) {
	rule := c.rule
	switch c.kind {
	case peerCIDR:
		rule.CIDR = c.cidr
	case peerPrefixList:
		rule.PrefixList = c.id
		if _, ok := r.state.listRefs[c.id]; !ok {
			r.state.listRefs[c.id] = ref{src: c.src, at: c.at}
			r.state.listOrder = append(r.state.listOrder, c.id)
		}
	case peerGroup:
		vpc := c.vpcID
		if vpc == "" {
			vpc = described[c.id]
		}
		switch {
		case c.peering != "":
			r.rep.NotModelledf(c.src.name, group, "%s rule (%s) references group %s of %s through VPC peering connection %s: a lab holds one VPC; the rule is not imported",
				c.direction(), ec2.RuleTraffic(rule), c.id, cmpOr(c.vpcID, "another VPC"), c.peering)
			return rule, false
		case vpc != "" && vpc != r.l.VPC.ID && !imported[c.id]:
			r.rep.NotModelledf(c.src.name, group, "%s rule (%s) references group %s of %s: a lab holds one VPC; the rule is not imported",
				c.direction(), ec2.RuleTraffic(rule), c.id, vpc)
			return rule, false
		}
		rule.Group = c.id
		r.refGroup(c.id, c.src, c.at)
	}
	return rule, true
}

// refGroup records a reference to a security group.
func (r *run) refGroup(id string, src *source, at path) {
	if _, ok := r.state.groupRefs[id]; !ok {
		r.state.groupRefs[id] = ref{src: src, at: at}
		r.state.groupOrder = append(r.state.groupOrder, id)
	}
}

// Prefix lists.

// maxPrefixListEntries is AWS's and the lab's limit on max entries.
const maxPrefixListEntries = 1000

// buildPrefixLists imports the prefix lists the imported rules use, with
// their entries, and reports the others.
func (r *run) buildPrefixLists() {
	entries := map[string][]entriesFile{}
	for _, f := range r.entries {
		entries[f.listID] = append(entries[f.listID], f)
	}
	lists := dedupe(r, r.prefixLists, "prefix list", func(p prefixList) string { return p.PrefixListId })
	done := map[string]bool{}
	for _, it := range lists {
		p := it.v
		done[p.PrefixListId] = true
		if _, used := r.state.listRefs[p.PrefixListId]; !used {
			r.rep.Unsupportedf(it.src.name, p.PrefixListId, "", "prefix list %s is used by no imported rule: not imported", cmpOr(p.PrefixListName, p.PrefixListId))
			continue
		}
		r.l.PrefixLists = append(r.l.PrefixLists, r.prefixList(it, entries[p.PrefixListId]))
	}
	for _, id := range r.state.listOrder {
		if done[id] {
			continue
		}
		done[id] = true
		at := r.state.listRefs[id]
		pl := &lab.PrefixList{ID: id}
		r.addEntries(pl, "", entries[id])
		pl.MaxEntries = max(len(pl.CIDRs), 1)
		if len(entries[id]) == 0 {
			r.rep.Unsupportedf(at.src.name, id, "", "prefix list used at %s but neither described (describe-managed-prefix-lists) nor its entries given (get-managed-prefix-list-entries): imported without entries, so rules using it match nothing", at.at)
		} else {
			r.rep.Unsupportedf(at.src.name, id, "", "prefix list used at %s but not described (describe-managed-prefix-lists): its max entries are taken to be its %d entries", at.at, len(pl.CIDRs))
		}
		r.l.PrefixLists = append(r.l.PrefixLists, pl)
	}
	for _, f := range r.entries {
		if !done[f.listID] {
			r.rep.Unsupportedf(f.src.name, f.listID, "Entries", "entries of prefix list %s, which is neither described nor used by an imported rule: not imported", f.listID)
		}
	}
}

// prefixList converts a described prefix list, with its entries from
// get-managed-prefix-list-entries or, for describe-prefix-lists, its
// Cidrs.
func (r *run) prefixList(it item[prefixList], files []entriesFile) *lab.PrefixList {
	p, src := it.v, it.src
	pl := &lab.PrefixList{ID: p.PrefixListId}
	family := 0
	switch strings.ToLower(p.AddressFamily) {
	case "ipv4":
		family = 4
	case "ipv6":
		family = 6
	}
	seen := map[netip.Prefix]bool{}
	for j, s := range p.Cidrs {
		if c, ok := r.prefix(src, it.at.key("Cidrs").index(j), s, cmpFamily(family, s)); ok && !seen[c] {
			seen[c] = true
			pl.CIDRs = append(pl.CIDRs, c)
		}
	}
	r.addEntries(pl, p.AddressFamily, files)
	name := cmpOr(p.PrefixListName, p.PrefixListId)
	if p.Cidrs == nil && len(files) == 0 {
		r.rep.Unsupportedf(src.name, p.PrefixListId, "", "no entries for prefix list %s (get-managed-prefix-list-entries --prefix-list-id %s, in a file named after the list): imported without entries, so rules using it match nothing",
			name, p.PrefixListId)
	}
	switch {
	case p.MaxEntries == nil:
		pl.MaxEntries = max(len(pl.CIDRs), 1)
	case *p.MaxEntries < 1 || *p.MaxEntries > maxPrefixListEntries:
		pl.MaxEntries = min(max(len(pl.CIDRs), 1, *p.MaxEntries), maxPrefixListEntries)
		r.rep.Unsupportedf(src.name, p.PrefixListId, "MaxEntries", "max entries %d: a lab's are 1-%d, so %d is imported", *p.MaxEntries, maxPrefixListEntries, pl.MaxEntries)
	default:
		pl.MaxEntries = *p.MaxEntries
	}
	if len(pl.CIDRs) > pl.MaxEntries {
		r.rep.Unsupportedf(src.name, p.PrefixListId, "MaxEntries", "%d entries, more than its max entries (%d): the lab's max entries are %d", len(pl.CIDRs), pl.MaxEntries, len(pl.CIDRs))
		pl.MaxEntries = len(pl.CIDRs)
	}
	if len(pl.CIDRs) > maxPrefixListEntries {
		r.errs.at(src, it.at, "prefix list %s has %d entries: a lab's hold at most %d", p.PrefixListId, len(pl.CIDRs), maxPrefixListEntries)
	}
	return pl
}

// cmpFamily is the family an entry of a list of the given family (0:
// unknown) must have: the list's, else the entry's own.
func cmpFamily(family int, cidr string) int {
	if family != 0 {
		return family
	}
	if strings.Contains(cidr, ":") {
		return 6
	}
	return 4
}

// addEntries adds the entries of get-managed-prefix-list-entries files to
// a prefix list; entries of the wrong family are errors.
func (r *run) addEntries(pl *lab.PrefixList, addressFamily string, files []entriesFile) {
	family := 0
	switch strings.ToLower(addressFamily) {
	case "ipv4":
		family = 4
	case "ipv6":
		family = 6
	}
	seen := map[netip.Prefix]bool{}
	for _, c := range pl.CIDRs {
		seen[c] = true
	}
	for _, f := range files {
		for _, e := range f.entries {
			c, ok := r.prefix(e.src, e.at.key("Cidr"), e.v.Cidr, cmpFamily(family, e.v.Cidr))
			if ok && !seen[c] {
				seen[c] = true
				pl.CIDRs = append(pl.CIDRs, c)
			}
		}
	}
}
