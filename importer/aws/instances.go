package aws

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vpclab/vpclab/lab"
)

// eniInput is an interface as read, from describe-instances or
// describe-network-interfaces.
type eniInput struct {
	eniCommon
	attachment *attachment
	src        *source
	at         path
	// fromInstances is true for interfaces read from describe-instances.
	fromInstances bool
}

// order is the interface's place among its instance's: by network card,
// then device index.
func (e *eniInput) order() (card, device int) {
	if e.attachment == nil {
		return 0, 0
	}
	if e.attachment.NetworkCardIndex != nil {
		card = *e.attachment.NetworkCardIndex
	}
	if e.attachment.DeviceIndex != nil {
		device = *e.attachment.DeviceIndex
	}
	return card, device
}

// instanceInput is an instance as read, with its interfaces from either
// source.
type instanceInput struct {
	id       string
	name     string // before sanitising: the Name tag, else the id
	src      *source
	at       path
	metadata *metadataOptions
	enis     []*eniInput
	// standalone is set for an instance made for an interface that has
	// none.
	standalone bool
}

// Interface types whose interfaces belong to AWS features a lab does not
// model: they are reported and not imported.
var notModelledInterfaces = map[string]string{
	"nat_gateway":     "NAT gateway",
	"transit_gateway": "transit gateway",
}

// buildInstances imports the VPC's instances from describe-instances and
// the interfaces of describe-network-interfaces: those of the instances
// are merged with theirs, those attached to instances missing from
// describe-instances make instances named after the instance id, and those
// attached to none make an instance each, named after the interface.
func (r *run) buildInstances() {
	var instances []*instanceInput
	byID := map[string]*instanceInput{}
	enis := map[string]*eniInput{}

	seen := map[string]item[instance]{}
	for _, it := range r.instances {
		in := it.v
		if in.InstanceId == "" {
			r.errs.at(it.src, it.at, "an instance without its InstanceId")
			continue
		}
		if first, dup := seen[in.InstanceId]; dup {
			r.rep.Unsupportedf(it.src.name, in.InstanceId, "", "instance described again (first in %s at %s): this copy is not read", first.src.name, first.at)
			continue
		}
		seen[in.InstanceId] = it
		if in.State != nil && (in.State.Name == "terminated" || in.State.Name == "shutting-down") {
			r.rep.Unsupportedf(it.src.name, in.InstanceId, "State", "instance is %s: not imported", in.State.Name)
			continue
		}
		if !r.inVPC(it.src, "instance", in.VpcId, in.InstanceId) {
			continue
		}
		ii := &instanceInput{id: in.InstanceId, name: in.InstanceId, src: it.src, at: it.at, metadata: in.MetadataOptions}
		for _, t := range in.Tags {
			if t.Key == "Name" && t.Value != "" {
				ii.name = t.Value
			}
		}
		for j, e := range in.NetworkInterfaces {
			ei := &eniInput{eniCommon: e.eniCommon, attachment: e.Attachment, src: it.src,
				at: it.at.key("NetworkInterfaces").index(j), fromInstances: true}
			if e.NetworkInterfaceId == "" {
				r.errs.at(it.src, ei.at, "an interface without its NetworkInterfaceId")
				continue
			}
			if _, dup := enis[e.NetworkInterfaceId]; dup {
				r.errs.at(it.src, ei.at.key("NetworkInterfaceId"), "interface %s is attached to two instances", e.NetworkInterfaceId)
				continue
			}
			enis[e.NetworkInterfaceId] = ei
			ii.enis = append(ii.enis, ei)
		}
		instances = append(instances, ii)
		byID[ii.id] = ii
	}

	for _, it := range dedupe(r, r.interfaces, "network interface", func(n networkInterface) string { return n.NetworkInterfaceId }) {
		n := it.v
		if !r.inVPC(it.src, "network interface", n.VpcId, n.NetworkInterfaceId) {
			continue
		}
		ni := &eniInput{eniCommon: n.eniCommon, attachment: n.Attachment, src: it.src, at: it.at}
		if known := enis[n.NetworkInterfaceId]; known != nil {
			r.mergeENI(known, ni)
			continue
		}
		var owner *instanceInput
		switch {
		case n.Attachment != nil && n.Attachment.InstanceId != "":
			id := n.Attachment.InstanceId
			if owner = byID[id]; owner == nil {
				if _, described := seen[id]; described {
					// Skipped (terminated or in another VPC): reported.
					continue
				}
				owner = &instanceInput{id: id, name: id, src: it.src, at: it.at}
				byID[id] = owner
				instances = append(instances, owner)
			}
		case notModelledInterfaces[n.InterfaceType] != "":
			r.rep.NotModelledf(it.src.name, n.NetworkInterfaceId, "interface of a %s: a lab does not model %ss", notModelledInterfaces[n.InterfaceType], notModelledInterfaces[n.InterfaceType])
			continue
		case len(n.Groups) == 0:
			r.rep.Unsupportedf(it.src.name, n.NetworkInterfaceId, "Groups", "interface without security groups (type %s): a lab interface always has at least one, so it is not imported", n.InterfaceType)
			continue
		default:
			owner = &instanceInput{id: n.NetworkInterfaceId, name: n.NetworkInterfaceId, src: it.src, at: it.at, standalone: true}
			instances = append(instances, owner)
			what := "an interface attached to no instance"
			if n.RequesterManaged || n.InterfaceType != "interface" && n.InterfaceType != "" {
				what = fmt.Sprintf("an interface of type %s managed by %s", n.InterfaceType, cmpOr(n.RequesterId, n.Attachment.instanceOwner(), "AWS"))
			}
			r.rep.NotModelledf(it.src.name, n.NetworkInterfaceId, "%s: imported as an instance of its own named after the interface; the service behind it is not modelled", what)
		}
		enis[n.NetworkInterfaceId] = ni
		owner.enis = append(owner.enis, ni)
	}

	names := map[string]string{} // lab name → instance id
	for _, ii := range instances {
		slices.SortStableFunc(ii.enis, func(a, b *eniInput) int {
			ac, ad := a.order()
			bc, bd := b.order()
			return cmp.Or(cmp.Compare(ac, bc), cmp.Compare(ad, bd))
		})
		out := &lab.Instance{Name: r.instanceName(ii, names), ConntrackAllowance: r.l.Settings.DefaultAllowance, IMDS: lab.IMDSv1AndV2}
		if md := ii.metadata; md != nil {
			if strings.EqualFold(md.HttpTokens, "required") {
				out.IMDS = lab.IMDSv2Only
			}
			if strings.EqualFold(md.HttpEndpoint, "disabled") {
				r.rep.Unsupportedf(ii.src.name, ii.id, "MetadataOptions.HttpEndpoint", "the metadata service is disabled: a lab instance always has one")
			}
		}
		for _, e := range ii.enis {
			if iface := r.buildInterface(e, out.Name); iface != nil {
				out.Interfaces = append(out.Interfaces, iface)
			}
		}
		if len(out.Interfaces) == 0 {
			if !ii.standalone {
				r.rep.Unsupportedf(ii.src.name, ii.id, "NetworkInterfaces", "no interface of the instance could be imported: the instance is not imported")
			}
			delete(names, out.Name)
			continue
		}
		r.l.Instances = append(r.l.Instances, out)
	}
}

// instanceOwner names who owns the instance an interface is attached to,
// or "".
func (a *attachment) instanceOwner() string {
	if a == nil {
		return ""
	}
	return a.InstanceOwnerId
}

// mergeENI completes an interface read from describe-instances with what
// describe-network-interfaces says of it, and reports where they differ.
func (r *run) mergeENI(known, ni *eniInput) {
	if known.ConnectionTrackingConfiguration == nil {
		known.ConnectionTrackingConfiguration = ni.ConnectionTrackingConfiguration
	}
	differs := func(field string, a, b any) {
		r.rep.Unsupportedf(ni.src.name, ni.NetworkInterfaceId, field,
			"describe-network-interfaces says %v, describe-instances (%s) says %v: the files were taken at different times? describe-instances is imported",
			b, known.src.name, a)
	}
	ipsOf := func(e *eniInput) []string {
		var s []string
		for _, p := range e.PrivateIpAddresses {
			s = append(s, p.PrivateIpAddress)
		}
		for _, p := range e.Ipv6Addresses {
			s = append(s, p.Ipv6Address)
		}
		slices.Sort(s)
		return s
	}
	groupsOf := func(e *eniInput) []string {
		var s []string
		for _, g := range e.Groups {
			s = append(s, g.GroupId)
		}
		slices.Sort(s)
		return s
	}
	if a, b := ipsOf(known), ipsOf(ni); !slices.Equal(a, b) {
		differs("PrivateIpAddresses", a, b)
	}
	if a, b := groupsOf(known), groupsOf(ni); !slices.Equal(a, b) {
		differs("Groups", a, b)
	}
	if a, b := boolOr(known.SourceDestCheck, true), boolOr(ni.SourceDestCheck, true); a != b {
		differs("SourceDestCheck", a, b)
	}
	if known.SubnetId != ni.SubnetId {
		differs("SubnetId", known.SubnetId, ni.SubnetId)
	}
}

// boolOr returns *b, or def when b is nil.
func boolOr(b *bool, def bool) bool {
	if b == nil {
		return def
	}
	return *b
}

// instanceName returns a lab name for an instance: its Name tag made to
// fit the lab's charset ([A-Za-z0-9._-], at most 64, starting with a
// letter or digit), else its id; a name already taken gets the id
// appended. It reports every change.
func (r *run) instanceName(ii *instanceInput, taken map[string]string) string {
	name := cmpOr(sanitize(ii.name), sanitize(ii.id), "instance")
	if other, dup := taken[name]; dup {
		base, id := name, sanitize(ii.id)
		for n := 1; taken[name] != ""; n++ {
			suffix := id
			if n > 1 || id == "" {
				suffix = strings.TrimLeft(id+"-"+strconv.Itoa(n), "-")
			}
			if len(suffix) > 32 { // not an AWS id: keep the name readable
				suffix = strconv.Itoa(n)
			}
			name = strings.TrimRight(base[:min(len(base), 63-len(suffix))], "-._") + "-" + suffix
		}
		r.rep.Unsupportedf(ii.src.name, ii.id, "Tags.Name", "name %q is also %s's: the instance is named %s", ii.name, other, name)
	} else if name != ii.name {
		r.rep.Unsupportedf(ii.src.name, ii.id, "Tags.Name", "name %q is not a lab name (1-64 letters, digits, '.', '_' or '-'): the instance is named %s", ii.name, name)
	}
	taken[name] = ii.id
	return name
}

// sanitize makes s a lab name: runs of other characters become one '-',
// it starts with a letter or digit, and it is cut to 64 bytes.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range s {
		ok := c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-')
		if !ok {
			if !dash {
				b.WriteByte('-')
			}
			dash = true
			continue
		}
		b.WriteRune(c)
		dash = false
	}
	out := strings.TrimLeft(b.String(), "._-")
	if len(out) > 64 {
		out = out[:64]
	}
	return strings.TrimRight(out, "-")
}

// buildInterface converts one interface of the named instance, or returns
// nil after reporting why it cannot be imported.
func (r *run) buildInterface(e *eniInput, instance string) *lab.Interface {
	src, id := e.src, e.NetworkInterfaceId
	if !validID(id) {
		r.errs.at(src, e.at.key("NetworkInterfaceId"), "%q is not an id a lab can use", id)
		return nil
	}
	s := r.l.Subnet(e.SubnetId)
	if s == nil {
		r.rep.Unsupportedf(src.name, id, "SubnetId", "subnet %q is not imported: the interface is not imported", e.SubnetId)
		return nil
	}
	out := &lab.Interface{ID: id, Instance: instance, Subnet: s.ID, SourceDestCheck: boolOr(e.SourceDestCheck, true),
		Conntrack: lab.DefaultConntrackTimeouts()}
	// addrOK says whether interface id may hold address a of block: it must
	// be usable and held by no other interface.
	mine := map[netip.Addr]bool{}
	addrOK := func(a netip.Addr, block netip.Prefix, field string) bool {
		owner, taken := r.state.addrs[a]
		switch {
		case !usable(block, a):
			r.rep.Unsupportedf(src.name, id, field, "%s is reserved by AWS in %s (the first four addresses and the last): not imported", a, block)
		case taken || mine[a]:
			r.rep.Unsupportedf(src.name, id, field, "%s is also %s's: not imported", a, cmpOr(owner, id))
		default:
			mine[a] = true
			return true
		}
		return false
	}
	primary := -1
	for j, p := range e.PrivateIpAddresses {
		if p.Primary {
			primary = j
			break
		}
	}
	if primary < 0 && len(e.PrivateIpAddresses) > 0 {
		primary = 0 // none is marked primary: the first is
	}
	for j, p := range e.PrivateIpAddresses {
		at := e.at.key("PrivateIpAddresses").index(j)
		a, err := netip.ParseAddr(p.PrivateIpAddress)
		switch {
		case err != nil || !a.Is4() || a.Zone() != "":
			r.errs.at(src, at.key("PrivateIpAddress"), "%q is not an IPv4 address", p.PrivateIpAddress)
			continue
		case !s.CIDR.Contains(a):
			r.rep.Unsupportedf(src.name, id, at.String(), "%s is outside subnet %s's %s: not imported", a, s.ID, s.CIDR)
		case !addrOK(a, s.CIDR, at.String()):
		case j == primary:
			out.IP = a
		default:
			out.SecondaryIPs = append(out.SecondaryIPs, a)
		}
		if j == primary && !out.IP.IsValid() {
			r.rep.Unsupportedf(src.name, id, "PrivateIpAddresses", "the primary private IPv4 address is not imported: the interface is not imported")
			return nil
		}
		r.reportPublic(src, id, a, p.Association)
	}
	if !out.IP.IsValid() {
		r.rep.Unsupportedf(src.name, id, "PrivateIpAddresses", "no private IPv4 address: a lab interface needs one, so it is not imported")
		return nil
	}
	if e.Association != nil && !anyAssociation(e.PrivateIpAddresses) {
		r.reportPublic(src, id, out.IP, e.Association)
	}
	for j, p := range e.Ipv6Addresses {
		at := e.at.key("Ipv6Addresses").index(j)
		a, err := netip.ParseAddr(p.Ipv6Address)
		switch {
		case err != nil || !a.Is6() || a.Is4In6() || a.Zone() != "":
			r.errs.at(src, at.key("Ipv6Address"), "%q is not an IPv6 address", p.Ipv6Address)
		case !s.IPv6CIDR.Contains(a):
			r.rep.Unsupportedf(src.name, id, at.String(), "%s is outside the IPv6 block of subnet %s as imported: not imported", a, s.ID)
		case addrOK(a, s.IPv6CIDR, at.String()):
			out.IPv6 = append(out.IPv6, a)
		}
	}
	for k, g := range e.Groups {
		switch {
		case !validID(g.GroupId):
			r.errs.at(src, e.at.key("Groups").index(k).key("GroupId"), "%q is not a group id a lab can use", g.GroupId)
			return nil
		case !slices.Contains(out.SecurityGroups, g.GroupId):
			out.SecurityGroups = append(out.SecurityGroups, g.GroupId)
		}
	}
	if len(out.SecurityGroups) == 0 {
		r.rep.Unsupportedf(src.name, id, "Groups", "interface without security groups: a lab interface always has at least one, so it is not imported")
		return nil
	}
	r.conntrack(e, &out.Conntrack)
	for _, p := range e.Ipv4Prefixes {
		r.rep.Unsupportedf(src.name, id, "Ipv4Prefixes", "delegated prefix %s: a lab interface has single addresses; not imported", p.Ipv4Prefix)
	}
	for _, p := range e.Ipv6Prefixes {
		r.rep.Unsupportedf(src.name, id, "Ipv6Prefixes", "delegated prefix %s: a lab interface has single addresses; not imported", p.Ipv6Prefix)
	}
	if r.state.interfaces[id] != nil {
		r.errs.at(src, e.at.key("NetworkInterfaceId"), "interface %s is described twice", id)
		return nil
	}
	r.state.interfaces[id] = out
	for a := range mine {
		r.state.addrs[a] = id
	}
	for _, g := range out.SecurityGroups {
		r.refGroup(g, src, e.at.key("Groups"))
	}
	return out
}

// anyAssociation reports whether any private address has a public one.
func anyAssociation(ips []privateIP) bool {
	for _, p := range ips {
		if p.Association != nil {
			return true
		}
	}
	return false
}

// reportPublic reports the public addresses tied to a private one.
func (r *run) reportPublic(src *source, eni string, private netip.Addr, a *publicAssociation) {
	if a == nil {
		return
	}
	for _, pub := range []struct{ addr, what string }{
		{a.PublicIp, "public IPv4 address"}, {a.CarrierIp, "carrier IP address"}, {a.CustomerOwnedIp, "customer-owned IP address"},
	} {
		if pub.addr != "" {
			r.rep.NotModelledf(src.name, eni, "%s %s of %s: a lab has no public addresses (traffic to it is not reproduced, and group references never match it, as in AWS)", pub.what, pub.addr, private)
		}
	}
}

// conntrack reads an interface's connection-tracking timeouts into c,
// which holds the defaults. A timeout outside AWS's range is reported and
// left at its default.
func (r *run) conntrack(e *eniInput, c *lab.ConntrackTimeouts) {
	cfg := e.ConnectionTrackingConfiguration
	if cfg == nil {
		return
	}
	for _, t := range []struct {
		key    string
		secs   int
		dst    *time.Duration
		lo, hi int
	}{
		{"TcpEstablishedTimeout", cfg.TcpEstablishedTimeout, &c.TCPEstablished, 60, 432000},
		{"UdpStreamTimeout", cfg.UdpStreamTimeout, &c.UDPStream, 60, 180},
		{"UdpTimeout", cfg.UdpTimeout, &c.UDP, 30, 60},
	} {
		switch {
		case t.secs == 0: // not set: AWS's default
		case t.secs < t.lo || t.secs > t.hi:
			r.rep.Unsupportedf(e.src.name, e.NetworkInterfaceId, "ConnectionTrackingConfiguration."+t.key,
				"%ds is outside AWS's range %d-%ds: the default %s is imported", t.secs, t.lo, t.hi, *t.dst)
		default:
			*t.dst = time.Duration(t.secs) * time.Second
		}
	}
}
