package change

import (
	"net/netip"
	"slices"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
)

// CreateManagedPrefixList is EC2's CreateManagedPrefixList. In a lab a
// prefix list's name is its id; entries' descriptions are not kept.
type CreateManagedPrefixList struct {
	call
	ec2.CreateManagedPrefixListRequest
}

func (c *CreateManagedPrefixList) Resource() (string, string) {
	return ec2.KindPrefixList, c.PrefixListName
}

func (c *CreateManagedPrefixList) apply(l *lab.Lab) (any, error) {
	switch {
	case c.PrefixListName == "":
		return nil, errorf("MissingParameter", "give PrefixListName")
	case !groupName.MatchString(c.PrefixListName):
		return nil, errorf("InvalidParameterValue", "PrefixListName %q: in a lab a prefix list's name is its id: 1-64 letters, digits, '.', '_' or '-'", c.PrefixListName)
	case c.AddressFamily != "IPv4" && c.AddressFamily != "IPv6":
		return nil, errorf("InvalidParameterValue", "AddressFamily %q: IPv4 or IPv6", c.AddressFamily)
	case c.MaxEntries < 1:
		return nil, errorf("MissingParameter", "give MaxEntries (1 or more)")
	case l.PrefixList(c.PrefixListName) != nil || l.Taggable(c.PrefixListName):
		return nil, errorf("InvalidParameterValue", "the prefix list %q already exists (or the name is another resource's)", c.PrefixListName)
	}
	p := &lab.PrefixList{ID: c.PrefixListName, MaxEntries: c.MaxEntries}
	if err := addEntries(p, c.Entries, c.AddressFamily == "IPv6", "Entries"); err != nil {
		return nil, err
	}
	l.PrefixLists = append(l.PrefixLists, p)
	if err := tagSpecs(l, p.ID, c.TagSpecifications); err != nil {
		return nil, err
	}
	return prefixListResponse(p), nil
}

func prefixListResponse(p *lab.PrefixList) map[string]any {
	return map[string]any{"PrefixListId": p.ID, "MaxEntries": p.MaxEntries, "IPv6": len(p.CIDRs) > 0 && p.CIDRs[0].Addr().Is6()}
}

func addEntries(p *lab.PrefixList, entries []ec2.PrefixListEntry, v6 bool, field string) error {
	for i, e := range entries {
		c, err := netip.ParsePrefix(e.Cidr)
		if err != nil || c.Addr().Is6() != v6 || c != c.Masked() {
			return errorf("InvalidParameterValue", "%s[%d].Cidr %q: want an %s block such as %s", field, i, e.Cidr, family(v6), map[bool]string{false: "10.0.0.0/8", true: "2001:db8::/32"}[v6])
		}
		if slices.Contains(p.CIDRs, c) {
			return errorf("InvalidParameterValue", "%s[%d].Cidr %s: the prefix list %s has it already", field, i, c, p.ID)
		}
		p.CIDRs = append(p.CIDRs, c)
	}
	if len(p.CIDRs) > p.MaxEntries {
		return errorf("PrefixListMaxEntriesExceeded", "the prefix list %s would have %d entries: its MaxEntries is %d", p.ID, len(p.CIDRs), p.MaxEntries)
	}
	return nil
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// ModifyManagedPrefixList is EC2's ModifyManagedPrefixList: entries added
// and removed, MaxEntries changed. A lab's prefix lists have one version:
// CurrentVersion, when given, is 1.
type ModifyManagedPrefixList struct {
	call
	ec2.ModifyManagedPrefixListRequest
}

func (c *ModifyManagedPrefixList) Resource() (string, string) {
	return ec2.KindPrefixList, c.PrefixListId
}

func (c *ModifyManagedPrefixList) apply(l *lab.Lab) (any, error) {
	p, err := prefixList(l, c.PrefixListId)
	if err != nil {
		return nil, err
	}
	switch {
	case c.CurrentVersion != 0 && c.CurrentVersion != 1:
		return nil, errorf("PrefixListVersionMismatch", "CurrentVersion %d: the prefix list %s is at version 1", c.CurrentVersion, p.ID)
	case c.PrefixListName != "" && c.PrefixListName != p.ID:
		return nil, errorf("InvalidParameterValue", "PrefixListName %q: in a lab a prefix list's name is its id, %s, and stays", c.PrefixListName, p.ID)
	}
	if c.MaxEntries != 0 {
		p.MaxEntries = c.MaxEntries
	}
	v6 := len(p.CIDRs) > 0 && p.CIDRs[0].Addr().Is6()
	for i, e := range c.RemoveEntries {
		cidr, err := netip.ParsePrefix(e.Cidr)
		j := slices.Index(p.CIDRs, cidr)
		if err != nil || j < 0 {
			return nil, errorf("InvalidParameterValue", "RemoveEntries[%d].Cidr %q: the prefix list %s has no such entry", i, e.Cidr, p.ID)
		}
		p.CIDRs = slices.Delete(p.CIDRs, j, j+1)
	}
	if len(p.CIDRs) == 0 && len(c.AddEntries) > 0 {
		if c, err := netip.ParsePrefix(c.AddEntries[0].Cidr); err == nil {
			v6 = c.Addr().Is6()
		}
	}
	if err := addEntries(p, c.AddEntries, v6, "AddEntries"); err != nil {
		return nil, err
	}
	return prefixListResponse(p), nil
}

// DeleteManagedPrefixList is EC2's DeleteManagedPrefixList, refused with
// DependencyViolation while a rule names the list.
type DeleteManagedPrefixList struct {
	call
	ec2.DeleteManagedPrefixListRequest
}

func (c *DeleteManagedPrefixList) Resource() (string, string) {
	return ec2.KindPrefixList, c.PrefixListId
}

func (c *DeleteManagedPrefixList) apply(l *lab.Lab) (any, error) {
	p, err := prefixList(l, c.PrefixListId)
	if err != nil {
		return nil, err
	}
	for _, g := range l.SecurityGroups {
		for _, r := range slices.Concat(g.Ingress, g.Egress) {
			if r.PrefixList == p.ID {
				return nil, errorf("DependencyViolation", "the prefix list %s is referenced by a rule of %s (%s)", p.ID, g.ID, ec2.DescribeRule(r))
			}
		}
	}
	resp := prefixListResponse(p)
	l.PrefixLists = slices.DeleteFunc(l.PrefixLists, func(x *lab.PrefixList) bool { return x == p })
	return resp, nil
}

func prefixList(l *lab.Lab, id string) (*lab.PrefixList, error) {
	if id == "" {
		return nil, errorf("MissingParameter", "give PrefixListId")
	}
	p := l.PrefixList(id)
	if p == nil {
		return nil, errorf("InvalidPrefixListID.NotFound", "the prefix list %q does not exist: %s", id, oneOf(l.PrefixLists, func(p *lab.PrefixList) string { return p.ID }))
	}
	return p, nil
}
