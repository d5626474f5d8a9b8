package labfile

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// This file holds the readers only lab files need, on top of those of
// yamlpos. Like those, every reader reports what is wrong at the node's
// position and returns ok=false; readers given a nil node (an absent key)
// return ok=false without a report, so callers chain them without checking
// for absence first.

// document parses data as a single YAML document and returns its top
// node, or nil after reporting why it cannot.
func (p *parser) document(data []byte) *yaml.Node {
	const empty = "a lab needs at least a vpc"
	top := p.Document(data, empty, "a lab file holds one document")
	if top != nil && top.ShortTag() == "!!null" {
		p.Errorf(top, "", "the file is empty: %s", empty)
		return nil
	}
	return top
}

// list returns the items of a sequence node.
func (p *parser) list(n *yaml.Node, field string) (items, bool) {
	if n == nil {
		return items{}, false
	}
	if n.Kind != yaml.SequenceNode {
		if n.ShortTag() == "!!null" {
			p.Errorf(n, field, "has no value: write [] for an empty list, or leave the key out")
		} else {
			p.Errorf(n, field, "want a list, not %s", yamlpos.KindName(n))
		}
		return items{}, false
	}
	list := p.listItems(n)
	if count := list.len(); count > maxListItems {
		if at := list.item(maxListItems); at != nil {
			p.Errorf(at, fmt.Sprintf("%s[%d]", field, maxListItems),
				"%d items: a list of a lab file holds at most %d", count, maxListItems)
		}
		return items{}, false
	}
	return list, true
}

// ruleList is list for a security group's rules, which quotas.sg_rules
// bounds (prescan counts them against it) rather than maxListItems.
func (p *parser) ruleList(n *yaml.Node, field string) (items, bool) {
	if n != nil && n.Kind == yaml.SequenceNode {
		return p.listItems(n), true
	}
	return p.list(n, field)
}

// lookup returns the value of key in mapping n, or nil. It reports
// nothing: it lets a list item be named by its id before its keys are
// checked.
func lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// id reads an identifier (an id, an instance name or a reference);
// lab.Check checks its form.
func (p *parser) id(n *yaml.Node, field string) (string, bool) {
	return p.Scalar(n, field, "an id")
}

// text reads free text.
func (p *parser) text(n *yaml.Node, field string) (string, bool) {
	return p.Scalar(n, field, "text")
}

// duration reads a duration into dst, written like 30s or 5m, or as a
// number of seconds as the AWS API does; lab.Check checks its range.
func (p *parser) duration(n *yaml.Node, field string, dst *time.Duration) {
	s, ok := p.Scalar(n, field, "a duration")
	if !ok {
		return
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil && secs >= 0 && secs <= maxSeconds {
		*dst = time.Duration(secs) * time.Second
	} else if v, err := time.ParseDuration(s); err == nil {
		*dst = v
	} else {
		p.Errorf(n, field, "%q is not a duration: use a number of seconds or a duration like 30s or 5m", s)
	}
}

// maxSeconds is the most seconds a time.Duration holds.
const maxSeconds = int64(1<<63-1) / int64(time.Second)

// integer reads a decimal integer into dst; what names it for messages
// ("a rule number"), and lab.Check checks its range.
func (p *parser) integer(n *yaml.Node, field, what string, dst *int) bool {
	s, ok := p.Scalar(n, field, what)
	if !ok {
		return false
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		p.Errorf(n, field, "%q is not %s: write a whole number", s, what)
		return false
	}
	*dst = v
	return true
}

// prefix reads an IPv4 or IPv6 CIDR and clears its host bits.
func (p *parser) prefix(n *yaml.Node, field string) (netip.Prefix, bool) {
	s, ok := p.Scalar(n, field, "a CIDR")
	if !ok {
		return netip.Prefix{}, false
	}
	c, err := netip.ParsePrefix(s)
	if err != nil {
		if a, aerr := netip.ParseAddr(s); aerr == nil {
			p.Errorf(n, field, "%q is an address, not a CIDR: write a block such as %s", s, netip.PrefixFrom(a, a.BitLen()))
		} else {
			p.Errorf(n, field, "%q is not a CIDR: write an address block such as 10.0.0.0/16 or 2001:db8::/64", s)
		}
		return netip.Prefix{}, false
	}
	return c.Masked(), true // lab.Check refuses IPv4-mapped blocks
}

// addr reads an IPv4 or IPv6 address.
func (p *parser) addr(n *yaml.Node, field string) (netip.Addr, bool) {
	s, ok := p.Scalar(n, field, "an IP address")
	if !ok {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		p.Errorf(n, field, "%q is not an IP address: write one such as 10.0.1.10 or 2001:db8::10", s)
		return netip.Addr{}, false
	}
	return a, true // lab.Check refuses zones and IPv4-mapped addresses
}
