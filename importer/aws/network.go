package aws

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
)

// buildState is what the build knows besides the lab itself.
type buildState struct {
	vpc item[vpc]
	// secondary are the VPC's other IPv4 blocks, which a lab cannot hold.
	secondary []netip.Prefix
	// aclOf is each subnet's network ACL, from the ACLs' associations;
	// defaultACL is the VPC's default ACL ("" when not in the input).
	aclOf      map[string]string
	defaultACL string
	// public says which subnets route to the internet gateway; nil when
	// the input has no route tables.
	public map[string]bool
	// interfaces are the imported interfaces by id, and addrs their
	// addresses with the interface holding each.
	interfaces map[string]*lab.Interface
	addrs      map[netip.Addr]string
	// groupRefs are the security groups referenced by imported rules and
	// interfaces, with where first; groupOrder keeps them in order.
	groupRefs  map[string]ref
	groupOrder []string
	// listRefs are the prefix lists referenced by imported rules.
	listRefs  map[string]ref
	listOrder []string
	// skipped collects the objects of other VPCs, reported together.
	skipped      map[skipKey][]string
	skippedOrder []skipKey
}

// ref is where something was first referenced.
type ref struct {
	src *source
	at  path
}

// skipKey groups the skipped objects of another VPC by file and kind.
type skipKey struct {
	file, kind, vpc string
}

// skip records an object of another VPC.
func (r *run) skip(src *source, kind, vpcID, id string) {
	k := skipKey{file: src.name, kind: kind, vpc: vpcID}
	if _, ok := r.state.skipped[k]; !ok {
		r.state.skippedOrder = append(r.state.skippedOrder, k)
	}
	r.state.skipped[k] = append(r.state.skipped[k], id)
}

// reportSkipped reports the objects of other VPCs, one item per file,
// kind and VPC.
func (r *run) reportSkipped() {
	for _, k := range r.state.skippedOrder {
		ids := r.state.skipped[k]
		vpcID := k.vpc
		why := "of another VPC"
		if vpcID == "" {
			why = "of no VPC (EC2-Classic)"
		}
		r.rep.Unsupportedf(k.file, vpcID, "", "%s %s: not imported (%s)", count(len(ids), k.kind), why, listIDs(ids))
	}
}

// build turns the input into a lab, or records why it cannot.
func (r *run) build() *lab.Lab {
	r.reportUnknown()
	r.state = &buildState{
		aclOf:      map[string]string{},
		interfaces: map[string]*lab.Interface{},
		addrs:      map[netip.Addr]string{},
		groupRefs:  map[string]ref{},
		listRefs:   map[string]ref{},
		skipped:    map[skipKey][]string{},
	}
	v, ok := r.chooseVPC()
	if !ok {
		return nil
	}
	r.state.vpc = v
	r.l = &lab.Lab{Settings: lab.DefaultSettings(), Quotas: lab.DefaultQuotas()}
	r.buildVPC()
	r.buildNetworkACLs()
	r.buildRouteTables()
	r.buildSubnets()
	r.buildInstances()
	r.buildSecurityGroups()
	r.buildPrefixLists()
	r.reportSkipped()
	r.raiseQuotas()
	return r.l
}

// errNoVPC is the error of an input without describe-vpcs output.
var errNoVPC = errors.New("no describe-vpcs output (a JSON object with Vpcs) among the files: the lab needs the VPC's blocks")

// chooseVPC picks the VPC to import: the one Options.VPC names, or the only
// one.
func (r *run) chooseVPC() (item[vpc], bool) {
	vpcs := dedupe(r, r.vpcs, "VPC", func(v vpc) string { return v.VpcId })
	var names []string
	for _, v := range vpcs {
		names = append(names, fmt.Sprintf("%s (%s, in %s)", v.v.VpcId, v.v.CidrBlock, v.src.name))
	}
	switch {
	case len(vpcs) == 0:
		r.errs.plain = append(r.errs.plain, errNoVPC)
	case r.opts.VPC != "":
		for _, v := range vpcs {
			if v.v.VpcId == r.opts.VPC {
				for _, other := range vpcs {
					if other.v.VpcId != v.v.VpcId {
						r.rep.Unsupportedf(other.src.name, other.v.VpcId, "", "another VPC than the one imported (%s): not imported", v.v.VpcId)
					}
				}
				return v, true
			}
		}
		r.errs.plain = append(r.errs.plain, fmt.Errorf("no VPC %s in the input, which describes %s", r.opts.VPC, strings.Join(names, ", ")))
	case len(vpcs) > 1:
		r.errs.plain = append(r.errs.plain, fmt.Errorf("the input describes %d VPCs, %s: choose the one to import with --vpc (vpclab import aws DIR --vpc %s)", len(vpcs), strings.Join(names, ", "), vpcs[0].v.VpcId))
	default:
		return vpcs[0], true
	}
	return item[vpc]{}, false
}

// dedupe drops the objects whose id an earlier one already has, reporting
// them, and the objects without an id, as errors.
func dedupe[T any](r *run, items []item[T], kind string, id func(T) string) []item[T] {
	seen := map[string]item[T]{}
	out := items[:0:0]
	for _, it := range items {
		k := id(it.v)
		if k == "" {
			r.errs.at(it.src, it.at, "a %s without its id", kind)
			continue
		}
		if !validID(k) {
			r.errs.at(it.src, it.at, "%q is not an id a lab can use: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", k)
			continue
		}
		if first, dup := seen[k]; dup {
			r.rep.Unsupportedf(it.src.name, k, "", "%s described again (first in %s at %s): this copy is not read", kind, first.src.name, first.at)
			continue
		}
		seen[k] = it
		out = append(out, it)
	}
	return out
}

// associated reports whether a block association is in force: AWS prints
// "associated" (once "ASSOCIATED"); a missing state counts as associated.
func associated(s *blockState) bool {
	return s == nil || s.State == "" || strings.EqualFold(s.State, "associated")
}

// buildVPC fills in the lab's VPC.
func (r *run) buildVPC() {
	it := r.state.vpc
	v, src := it.v, it.src
	r.l.VPC = lab.VPC{ID: v.VpcId, AccountID: lab.DefaultAccountID, Region: lab.DefaultRegion}
	if accountID.MatchString(v.OwnerId) {
		r.l.VPC.AccountID = v.OwnerId
	} else if v.OwnerId != "" {
		r.rep.Unsupportedf(src.name, v.VpcId, "OwnerId", "%q is not a 12-digit account id: the lab uses %s", v.OwnerId, lab.DefaultAccountID)
	}
	c, err := netip.ParsePrefix(v.CidrBlock)
	switch {
	case v.CidrBlock == "":
		r.errs.at(src, it.at, "the VPC has no CidrBlock: a lab VPC needs its IPv4 block")
	case err != nil || !c.Addr().Is4():
		r.errs.at(src, it.at.key("CidrBlock"), "%q is not an IPv4 CIDR", v.CidrBlock)
	case c.Bits() < 16 || c.Bits() > 28:
		r.errs.at(src, it.at.key("CidrBlock"), "%s is a /%d: a VPC's IPv4 block is /16 to /28", c, c.Bits())
	case specialBlock(c) != "":
		r.errs.at(src, it.at.key("CidrBlock"), "%s overlaps %s: a lab VPC cannot use it", c, specialBlock(c))
	default:
		r.l.VPC.CIDR = c.Masked()
	}
	for j, a := range v.CidrBlockAssociationSet {
		b, err := netip.ParsePrefix(a.CidrBlock)
		switch {
		case err != nil:
			r.errs.at(src, it.at.key("CidrBlockAssociationSet").index(j).key("CidrBlock"), "%q is not a CIDR", a.CidrBlock)
		case b.Masked() == r.l.VPC.CIDR || !associated(a.CidrBlockState):
		default:
			r.state.secondary = append(r.state.secondary, b.Masked())
			r.rep.Unsupportedf(src.name, v.VpcId, "CidrBlockAssociationSet", "secondary IPv4 block %s: a lab VPC has one IPv4 block, so its subnets are not imported", b.Masked())
		}
	}
	for j, a := range v.Ipv6CidrBlockAssociationSet {
		at := it.at.key("Ipv6CidrBlockAssociationSet").index(j)
		if !associated(a.Ipv6CidrBlockState) {
			r.rep.Unsupportedf(src.name, v.VpcId, "Ipv6CidrBlockAssociationSet", "IPv6 block %s is %s: not imported", a.Ipv6CidrBlock, a.Ipv6CidrBlockState.State)
			continue
		}
		b, err := netip.ParsePrefix(a.Ipv6CidrBlock)
		switch {
		case err != nil || !b.Addr().Is6() || b.Addr().Is4In6():
			r.errs.at(src, at.key("Ipv6CidrBlock"), "%q is not an IPv6 CIDR", a.Ipv6CidrBlock)
		case r.l.VPC.IPv6CIDR.IsValid():
			r.rep.Unsupportedf(src.name, v.VpcId, "Ipv6CidrBlockAssociationSet", "IPv6 block %s: a lab VPC has one IPv6 block (%s), so the addresses in this one are not imported", b.Masked(), r.l.VPC.IPv6CIDR)
		case b.Bits() < 44 || b.Bits() > 64:
			r.rep.Unsupportedf(src.name, v.VpcId, "Ipv6CidrBlockAssociationSet", "IPv6 block %s is a /%d: a lab VPC's IPv6 block is /44 to /64, so it is not imported", b.Masked(), b.Bits())
		case specialBlock(b) != "":
			r.rep.Unsupportedf(src.name, v.VpcId, "Ipv6CidrBlockAssociationSet", "IPv6 block %s overlaps %s, which a lab VPC cannot use: not imported", b.Masked(), specialBlock(b))
		default:
			r.l.VPC.IPv6CIDR = b.Masked()
		}
	}
}

// accountID is what an AWS account id looks like.
var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// inVPC sorts objects by VPC: it returns whether vpcID is the imported
// VPC's, and records the object as skipped when it is not.
func (r *run) inVPC(src *source, kind, vpcID, id string) bool {
	if vpcID == r.l.VPC.ID {
		return true
	}
	r.skip(src, kind, vpcID, id)
	return false
}

// buildNetworkACLs imports the VPC's network ACLs and notes which subnet
// each is associated with.
func (r *run) buildNetworkACLs() {
	acls := dedupe(r, r.acls, "network ACL", func(a networkACL) string { return a.NetworkAclId })
	if len(r.acls) == 0 {
		r.rep.Unsupportedf(r.state.vpc.src.name, r.l.VPC.ID, "", "no describe-network-acls output: every subnet is imported with the lab's default network ACL, which allows everything")
	}
	for _, it := range acls {
		a := it.v
		if !r.inVPC(it.src, "network ACL", a.VpcId, a.NetworkAclId) {
			continue
		}
		out := &nacl.ACL{ID: a.NetworkAclId, Ingress: []nacl.Entry{}, Egress: []nacl.Entry{}}
		used := [2]map[int]path{{}, {}} // rule numbers by direction: ingress, egress
		for j, e := range a.Entries {
			at := it.at.key("Entries").index(j)
			entry, ok := r.aclEntry(it.src, at, a.NetworkAclId, e)
			if !ok {
				continue
			}
			dir := 0
			if e.Egress {
				dir = 1
			}
			if first, dup := used[dir][entry.Rule]; dup {
				r.errs.at(it.src, at.key("RuleNumber"), "rule %d is already used at %s: numbers are unique per direction", entry.Rule, first)
				continue
			}
			used[dir][entry.Rule] = at
			if e.Egress {
				out.Egress = append(out.Egress, entry)
			} else {
				out.Ingress = append(out.Ingress, entry)
			}
		}
		sortEntries := func(es []nacl.Entry) {
			slices.SortStableFunc(es, func(x, y nacl.Entry) int { return x.Rule - y.Rule })
		}
		sortEntries(out.Ingress)
		sortEntries(out.Egress)
		r.l.NetworkACLs = append(r.l.NetworkACLs, out)
		if a.IsDefault {
			r.state.defaultACL = a.NetworkAclId
		}
		for _, as := range a.Associations {
			if first, dup := r.state.aclOf[as.SubnetId]; dup && first != a.NetworkAclId {
				r.rep.Unsupportedf(it.src.name, a.NetworkAclId, "Associations", "subnet %s is associated with %s already: this association is not imported", as.SubnetId, first)
				continue
			}
			r.state.aclOf[as.SubnetId] = a.NetworkAclId
		}
	}
}

// aclEntry converts one network ACL entry. It returns ok=false for AWS's
// implicit deny entries, which every lab ACL ends with by itself, and for
// entries with errors, which it records.
func (r *run) aclEntry(src *source, at path, aclID string, e ec2.NetworkAclEntry) (nacl.Entry, bool) {
	var cidr netip.Prefix
	var cidrOK bool
	switch {
	case e.CidrBlock != "" && e.Ipv6CidrBlock != "":
		r.errs.at(src, at, "an entry has one block: CidrBlock %s or Ipv6CidrBlock %s", e.CidrBlock, e.Ipv6CidrBlock)
	case e.CidrBlock != "":
		cidr, cidrOK = r.prefix(src, at.key("CidrBlock"), e.CidrBlock, 4)
	case e.Ipv6CidrBlock != "":
		cidr, cidrOK = r.prefix(src, at.key("Ipv6CidrBlock"), e.Ipv6CidrBlock, 6)
	default:
		r.errs.at(src, at, "an entry needs CidrBlock or Ipv6CidrBlock")
	}
	if e.RuleNumber == nacl.ImplicitDenyIPv4 || e.RuleNumber == nacl.ImplicitDenyIPv6 {
		want := netip.MustParsePrefix("0.0.0.0/0")
		if e.RuleNumber == nacl.ImplicitDenyIPv6 {
			want = netip.MustParsePrefix("::/0")
		}
		if !cidrOK || cidr != want || !strings.EqualFold(e.RuleAction, "deny") || e.Protocol != "-1" {
			r.rep.Unsupportedf(src.name, aclID, at.String(), "entry %d is not AWS's implicit deny (deny all to %s) although it has its number: not imported", e.RuleNumber, want)
		}
		// AWS's catch-all deny, shown as an entry: a lab ACL ends with it
		// by itself.
		return nacl.Entry{}, false
	}
	ok := cidrOK
	if err := ec2.CheckRuleNumber(e.RuleNumber, "RuleNumber"); err != nil {
		r.ec2Error(src, at, err)
		ok = false
	}
	out := nacl.Entry{Rule: e.RuleNumber, CIDR: cidr, FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}
	switch strings.ToLower(e.RuleAction) {
	case "allow":
		out.Allow = true
	case "deny":
	default:
		r.errs.at(src, at.key("RuleAction"), "%q is not an action: allow or deny", e.RuleAction)
		ok = false
	}
	proto, pok := r.protocol(src, at.key("Protocol"), e.Protocol)
	out.Protocol = proto
	ok = ok && pok
	switch {
	case !pok:
	case ec2.PortsMatter(proto) && e.PortRange != nil:
		var from, to int
		if from, to, pok = r.ports(src, at.key("PortRange"), e.PortRange.From, e.PortRange.To, "From", "To"); pok {
			out.FromPort, out.ToPort = from, to
		}
		ok = ok && pok
	case ec2.ICMPMatters(proto) && e.IcmpTypeCode != nil:
		var typ, code int
		if typ, code, pok = r.icmp(src, at.key("IcmpTypeCode"), e.IcmpTypeCode.Type, e.IcmpTypeCode.Code, "Type", "Code"); pok {
			out.ICMPType, out.ICMPCode = typ, code
		}
		ok = ok && pok
	}
	return out, ok
}

// prefix parses a CIDR of the given family (4 or 6) and clears its host
// bits.
func (r *run) prefix(src *source, at path, s string, family int) (netip.Prefix, bool) {
	c, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		r.errs.at(src, at, "%q is not a CIDR", s)
	case c.Addr().Is4In6():
		r.errs.at(src, at, "%q is an IPv4-mapped IPv6 block", s)
	case family == 4 && !c.Addr().Is4():
		r.errs.at(src, at, "%s is IPv6: want an IPv4 block here", c)
	case family == 6 && !c.Addr().Is6():
		r.errs.at(src, at, "%s is IPv4: want an IPv6 block here", c)
	default:
		return c.Masked(), true
	}
	return netip.Prefix{}, false
}

// buildRouteTables works out from the VPC's route tables which subnets
// route to an internet gateway, and reports the routes a lab cannot
// follow.
func (r *run) buildRouteTables() {
	tables := dedupe(r, r.routeTables, "route table", func(t routeTable) string { return t.RouteTableId })
	if len(r.routeTables) == 0 {
		r.rep.Unsupportedf(r.state.vpc.src.name, r.l.VPC.ID, "", "no describe-route-tables output: which subnets route to an internet gateway is unknown, so every subnet is imported as private (a subnet's MapPublicIpOnLaunch does not say it)")
		return
	}
	r.state.public = map[string]bool{}
	var mainPublic *bool
	for _, it := range tables {
		t := it.v
		if !r.inVPC(it.src, "route table", t.VpcId, t.RouteTableId) {
			continue
		}
		public := r.routes(it)
		for _, a := range t.Associations {
			switch {
			case a.Main:
				mainPublic = &public
			case a.SubnetId != "":
				r.state.public[a.SubnetId] = public
			case a.GatewayId != "":
				r.rep.NotModelledf(it.src.name, t.RouteTableId, "associated with gateway %s (ingress routing): a lab does not model gateway route tables", a.GatewayId)
			}
		}
		for _, g := range t.PropagatingVgws {
			r.rep.NotModelledf(it.src.name, t.RouteTableId, "routes propagated from virtual private gateway %s: a lab does not model VPN routing", g.GatewayId)
		}
	}
	if mainPublic != nil {
		// Subnets without an association of their own use the main table;
		// the caller looks them up with subnetPublic.
		r.state.public[""] = *mainPublic
	}
}

// subnetPublic says whether a subnet routes to an internet gateway, and
// whether that is known.
func (r *run) subnetPublic(subnetID string) (public, known bool) {
	if r.state.public == nil {
		return false, false
	}
	if p, ok := r.state.public[subnetID]; ok {
		return p, true
	}
	p, ok := r.state.public[""]
	return p, ok
}

// routes reports the routes of one table a lab cannot follow and returns
// whether the table has a default route to an internet gateway.
func (r *run) routes(it item[routeTable]) (public bool) {
	t := it.v
	for _, rt := range t.Routes {
		dest := cmpOr(rt.DestinationCidrBlock, rt.DestinationIpv6CidrBlock, rt.DestinationPrefixListId)
		target := cmpOr(rt.GatewayId, rt.NatGatewayId, rt.TransitGatewayId, rt.VpcPeeringConnectionId,
			rt.NetworkInterfaceId, rt.InstanceId, rt.EgressOnlyInternetGatewayId, rt.CarrierGatewayId,
			rt.LocalGatewayId, rt.CoreNetworkArn)
		switch {
		case target == "local":
		case strings.EqualFold(rt.State, "blackhole"):
			r.rep.Unsupportedf(it.src.name, t.RouteTableId, "Routes", "route to %s via %s is a blackhole (its target is gone): not imported", dest, target)
		case strings.HasPrefix(target, "igw-") && (dest == "0.0.0.0/0" || dest == "::/0"):
			public = true
		case strings.HasPrefix(target, "igw-"):
			r.rep.Unsupportedf(it.src.name, t.RouteTableId, "Routes", "route to %s via %s: a lab subnet is public (a default route to the internet gateway) or not; narrower internet routes are not imported", dest, target)
		default:
			r.rep.NotModelledf(it.src.name, t.RouteTableId, "route to %s via %s (%s): a lab routes only within the VPC and to the internet gateway", dest, target, routeTarget(target))
		}
	}
	return public
}

// routeTarget names the kind of a route's target by its id's prefix.
func routeTarget(id string) string {
	for _, k := range []struct{ prefix, what string }{
		{"nat-", "NAT gateway"}, {"tgw-", "transit gateway"}, {"pcx-", "VPC peering connection"},
		{"eigw-", "egress-only internet gateway"}, {"vgw-", "virtual private gateway"},
		{"vpce-", "VPC endpoint"}, {"eni-", "network interface"}, {"i-", "instance"},
		{"cagw-", "carrier gateway"}, {"lgw-", "local gateway"}, {"arn:", "core network"},
	} {
		if strings.HasPrefix(id, k.prefix) {
			return k.what
		}
	}
	return "unknown target"
}

// cmpOr returns the first of its arguments that is not empty.
func cmpOr(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// buildSubnets imports the VPC's subnets.
func (r *run) buildSubnets() {
	subnets := dedupe(r, r.subnets, "subnet", func(s subnet) string { return s.SubnetId })
	for _, it := range subnets {
		if it.v.VpcId == r.l.VPC.ID && r.setRegion(it) {
			break
		}
	}
	var unknownPublic []string
	var defaultACL []string
	for _, it := range subnets {
		s, src := it.v, it.src
		if !r.inVPC(src, "subnet", s.VpcId, s.SubnetId) {
			continue
		}
		if s.CidrBlock == "" || s.Ipv6Native {
			r.rep.Unsupportedf(src.name, s.SubnetId, "", "IPv6-only subnet: a lab subnet needs an IPv4 block, so it is not imported, nor its interfaces")
			continue
		}
		c, ok := r.prefix(src, it.at.key("CidrBlock"), s.CidrBlock, 4)
		if !ok {
			continue
		}
		why := ""
		switch {
		case !r.l.VPC.CIDR.Contains(c.Addr()) || c.Bits() < r.l.VPC.CIDR.Bits():
			why = "outside the VPC's " + r.l.VPC.CIDR.String()
			for _, b := range r.state.secondary {
				if b.Contains(c.Addr()) {
					why = "in the VPC's secondary block " + b.String() + ", which a lab cannot hold"
				}
			}
		case c.Bits() > 28:
			why = fmt.Sprintf("a /%d, and a lab subnet is /16 to /28", c.Bits())
		default:
			for _, other := range r.l.Subnets {
				if other.CIDR.Overlaps(c) {
					why = "overlapping " + other.ID + "'s " + other.CIDR.String()
				}
			}
		}
		if why != "" {
			r.rep.Unsupportedf(src.name, s.SubnetId, "CidrBlock", "%s is %s: the subnet is not imported, nor its interfaces", c, why)
			continue
		}
		out := &lab.Subnet{ID: s.SubnetId, CIDR: c}
		r.zone(it, out)
		for j, a := range s.Ipv6CidrBlockAssociationSet {
			if !associated(a.Ipv6CidrBlockState) {
				continue
			}
			b, ok := r.prefix(src, it.at.key("Ipv6CidrBlockAssociationSet").index(j).key("Ipv6CidrBlock"), a.Ipv6CidrBlock, 6)
			if !ok {
				continue
			}
			why := ""
			switch {
			case out.IPv6CIDR.IsValid():
				why = fmt.Sprintf("a lab subnet has one IPv6 block (%s)", out.IPv6CIDR)
			case b.Bits() != 64:
				why = fmt.Sprintf("a /%d, and a lab subnet's IPv6 block is a /64", b.Bits())
			case !r.l.VPC.IPv6CIDR.IsValid() || !r.l.VPC.IPv6CIDR.Contains(b.Addr()):
				why = "outside the lab VPC's IPv6 block"
			default:
				for _, other := range r.l.Subnets {
					if other.IPv6CIDR.IsValid() && other.IPv6CIDR.Overlaps(b) {
						why = "overlapping " + other.ID + "'s " + other.IPv6CIDR.String()
					}
				}
			}
			if why != "" {
				r.rep.Unsupportedf(src.name, s.SubnetId, "Ipv6CidrBlockAssociationSet", "IPv6 block %s is %s: not imported, nor the addresses in it", b, why)
				continue
			}
			out.IPv6CIDR = b
		}
		switch acl, ok := r.state.aclOf[s.SubnetId]; {
		case ok:
			out.NetworkACL = acl
		case r.state.defaultACL != "":
			// A subnet without an association uses the VPC's default ACL.
			out.NetworkACL = r.state.defaultACL
		default:
			out.NetworkACL = nacl.DefaultACLID
			if len(r.acls) > 0 {
				defaultACL = append(defaultACL, s.SubnetId)
			}
		}
		public, known := r.subnetPublic(s.SubnetId)
		out.Public = public
		if !known && r.state.public != nil {
			unknownPublic = append(unknownPublic, s.SubnetId)
		}
		r.l.Subnets = append(r.l.Subnets, out)
	}
	if len(defaultACL) > 0 {
		r.rep.Unsupportedf(r.state.vpc.src.name, r.l.VPC.ID, "", "the network ACLs in the input associate no ACL with subnets %s, and the VPC's default ACL is not among them: those subnets get the lab's default ACL, which allows everything", listIDs(defaultACL))
	}
	if len(unknownPublic) > 0 {
		r.rep.Unsupportedf(r.state.vpc.src.name, r.l.VPC.ID, "", "the route tables in the input have no main table and none associated with subnets %s: they are imported as private", listIDs(unknownPublic))
	}
}

// zone sets a subnet's zone and zone id, when a lab can hold them: a
// lab's zones are those of its region, named as AWS names them (local and
// Wavelength zones are not).
func (r *run) zone(it item[subnet], out *lab.Subnet) {
	s := it.v
	switch z := s.AvailabilityZone; {
	case z == "":
	case lab.ValidZone(z) && strings.HasPrefix(z, r.l.VPC.Region):
		out.AvailabilityZone = z
	default:
		r.rep.Unsupportedf(it.src.name, s.SubnetId, "AvailabilityZone", "zone %q is not a zone of region %s as a lab names them: the lab's default zone is used", z, r.l.VPC.Region)
	}
	switch z := s.AvailabilityZoneId; {
	case z == "":
	case lab.ValidZoneID(z):
		out.AZID = z
	default:
		r.rep.Unsupportedf(it.src.name, s.SubnetId, "AvailabilityZoneId", "zone id %q is not one a lab can hold: the lab's default is used", z)
	}
}

// The region is read from an ARN, else from an availability zone's name.
var (
	arnRegion = regexp.MustCompile(`^arn:aws[a-z-]*:ec2:([a-z0-9-]+):`)
	azRegion  = regexp.MustCompile(`^([a-z]{2}(?:-[a-z]+)+-[0-9]+)[a-z]$`)
)

// setRegion sets the lab's region from a subnet's ARN, else from its
// zone's name, and reports whether the subnet said it.
func (r *run) setRegion(it item[subnet]) bool {
	s := it.v
	region := ""
	if m := arnRegion.FindStringSubmatch(s.SubnetArn); m != nil {
		region = m[1]
	} else if m := azRegion.FindStringSubmatch(s.AvailabilityZone); m != nil {
		region = m[1]
	}
	switch {
	case region == "":
		return false
	case !lab.ValidRegion(region):
		r.rep.Unsupportedf(it.src.name, s.SubnetId, "SubnetArn", "region %q is not one a lab can hold: the lab's region is %s", region, lab.DefaultRegion)
	default:
		r.l.VPC.Region = region
	}
	return true
}
