// Package describe words the rules that decide a packet's fate the way
// every command shows them: a network-ACL entry by ACL and number with
// what it matches ("acl-db rule 100: allow tcp 5432 from 10.0.2.0/24"), a
// security-group rule by group, direction and position with its id, line
// and traffic ("sg-web ingress #2 (sgr-0a1b, line 52): tcp 22 from
// pl-office"). explain and reach share it so that a rule reads the same in
// both. It reads the lab model only: it must not import dataplane,
// explain or reach.
package describe

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// NACLEntry describes entry number rule of network ACL aclID in one
// direction, for IP family 4 or 6: "acl-db rule 100: allow tcp 5432 from
// 10.0.2.0/24", or "acl-db rule 32767 (the implicit deny)".
func NACLEntry(l *lab.Lab, aclID string, rule int, egress bool, family int) string {
	head := fmt.Sprintf("%s rule %d", ACLName(aclID), rule)
	if rule == nacl.ImplicitDenyIPv4 || rule == nacl.ImplicitDenyIPv6 {
		return head + " (the implicit deny)"
	}
	a := l.ACL(aclID)
	if a == nil {
		return head
	}
	entries := a.Ingress
	if egress {
		entries = a.Egress
	}
	for _, en := range entries {
		if en.Rule == rule && en.CIDR.Addr().Is6() == (family == 6) {
			action := "deny"
			if en.Allow {
				action = "allow"
			}
			dir := "from"
			if egress {
				dir = "to"
			}
			return fmt.Sprintf("%s: %s %s %s %s", head, action, ec2.DescribeTraffic(en.Protocol, en.FromPort, en.ToPort, en.ICMPType, en.ICMPCode), dir, en.CIDR)
		}
	}
	return head
}

// ACLName names a network ACL in explanations: its id, or "default ACL"
// for the VPC's default one, whose id alone reads oddly.
func ACLName(id string) string {
	if id == nacl.DefaultACLID {
		return "default ACL"
	}
	return id
}

// SGRule identifies a security-group rule.
type SGRule struct {
	// Group is the group's id, Direction ingress or egress.
	Group     string `json:"group"`
	Direction string `json:"direction"`
	// Index is the rule's position in the group's list, from 0, as
	// policy tests name it (sg-web/ingress/2) and lab errors show it
	// (security_groups[sg-web].ingress[2]).
	Index int `json:"index"`
	// ID is the rule's sgr-… id when the lab gives one.
	ID string `json:"id,omitempty"`
	// Line is the rule's line in the lab file (0 when unknown).
	Line int `json:"line,omitempty"`
	// Rule describes the rule: "tcp 8080 from sg-web".
	Rule string `json:"rule"`
	// Default is set for a rule AWS makes that the lab file does not
	// write: the default group's "all from its own members", a group's
	// "all to 0.0.0.0/0" (and ::/0).
	Default bool `json:"default,omitempty"`
}

// Rule identifies and describes rule index of a group's rules in
// direction dir ("ingress" or "egress"); id is the rule's id when the
// caller knows it.
func Rule(l *lab.Lab, group, dir string, index int, id string) *SGRule {
	r := &SGRule{Group: group, Direction: dir, Index: index, ID: id}
	g := l.Group(group)
	if g == nil {
		return r
	}
	rules, peerWord := g.Ingress, "from"
	if dir == "egress" {
		rules, peerWord = g.Egress, "to"
	}
	if index < 0 || index >= len(rules) {
		return r
	}
	rule := rules[index]
	if r.ID == "" {
		r.ID = rule.ID
	}
	r.Line = rule.Line
	peer := rule.CIDR.String()
	switch {
	case rule.Group != "":
		peer = rule.Group
	case rule.PrefixList != "":
		peer = rule.PrefixList
	}
	r.Rule = fmt.Sprintf("%s %s %s", ec2.RuleTraffic(rule), peerWord, peer)
	r.Default = rule.Line == 0 && rule.ID == "" && rule.Protocol == ec2.ProtoAll &&
		(dir == "egress" && rule.CIDR.IsValid() && rule.CIDR.Bits() == 0 ||
			dir == "ingress" && group == sg.DefaultGroupID && rule.Group == group)
	return r
}

// String returns "sg-web ingress #2 (sgr-0a1b, line 52): tcp 8080 from
// sg-app", counting rules from 0.
func (r *SGRule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s #%d", r.Group, r.Direction, r.Index)
	var ids []string
	if r.ID != "" {
		ids = append(ids, r.ID)
	}
	switch {
	case r.Line > 0:
		ids = append(ids, "line "+strconv.Itoa(r.Line))
	case r.Default:
		ids = append(ids, "default rule") // made by AWS, not written in the lab
	}
	if len(ids) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(ids, ", "))
	}
	if r.Rule != "" {
		b.WriteString(": ")
		b.WriteString(r.Rule)
	}
	return b.String()
}

// Name is the rule's name in policy tests and assertions: its sgr-… id
// when it has one, else group/direction/index (sg-web/ingress/2).
func (r *SGRule) Name() string {
	if r.ID != "" {
		return r.ID
	}
	return r.Group + "/" + r.Direction + "/" + strconv.Itoa(r.Index)
}

// NoSGRule explains a security group that allowed nothing: "no egress rule
// of sg-db on eni-db1 allows tcp 8080 to 10.0.2.10". traffic says what was
// sent ("tcp 8080", "tcp 1-79"), peer is the other end's address.
func NoSGRule(l *lab.Lab, eni string, egress bool, traffic, peer string) string {
	groups := "its security groups"
	if e := l.Interface(eni); e != nil {
		groups = strings.Join(e.SecurityGroups, ", ")
	}
	return NoSGRuleOf(groups, eni, egress, traffic, peer)
}

// NoSGRuleOf is NoSGRule with the ENI's groups named by the caller
// ("sg-web, sg-admin").
func NoSGRuleOf(groups, eni string, egress bool, traffic, peer string) string {
	dir, word := "ingress", "from"
	if egress {
		dir, word = "egress", "to"
	}
	return "no " + dir + " rule of " + groups + " on " + eni + " allows " + traffic + " " + word + " " + peer
}
