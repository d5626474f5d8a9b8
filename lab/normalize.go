package lab

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Normalize fills in what AWS creates or assumes where l leaves a field at
// its zero value: the account and region, the quotas and Policy settings,
// the default network ACL and security group (first in their lists), a
// subnet's ACL and zone, a prefix list's max entries, an instance's
// allowance and metadata mode from the settings, an interface's instance,
// group and timeouts, a flow log's traffic type, interval and directory.
// A rule for a protocol other than tcp, udp, icmp and icmpv6 covers every
// port, as in EC2, whatever range it was given, and CIDRs have their host
// bits cleared, as in a lab file. Readers of lab files and
// importers call it before Validate; it leaves alone every field that is
// set, valid or not.
func Normalize(l *Lab) {
	v := &l.VPC
	v.AccountID = or(v.AccountID, DefaultAccountID)
	v.Region = or(v.Region, DefaultRegion)

	dq, q := DefaultQuotas(), &l.Quotas
	for _, f := range []struct {
		dst *int
		def int
	}{
		{&q.NACLEntries, dq.NACLEntries}, {&q.SGRules, dq.SGRules}, {&q.SGsPerENI, dq.SGsPerENI},
		{&q.RulesTimesSGs, dq.RulesTimesSGs}, {&q.SGsPerVPC, dq.SGsPerVPC},
	} {
		*f.dst = or(*f.dst, f.def)
	}
	ds, s := DefaultSettings(), &l.Settings
	s.DefaultAllowance = or(s.DefaultAllowance, ds.DefaultAllowance)
	s.IMDS = or(s.IMDS, ds.IMDS)
	for _, d := range []struct {
		dst *time.Duration
		def time.Duration
	}{
		{&s.TCPSynSent, ds.TCPSynSent}, {&s.TCPSynRecv, ds.TCPSynRecv}, {&s.TCPFinWait, ds.TCPFinWait},
		{&s.TCPCloseWait, ds.TCPCloseWait}, {&s.TCPTimeWait, ds.TCPTimeWait}, {&s.TCPLastAck, ds.TCPLastAck},
		{&s.TCPClose, ds.TCPClose}, {&s.ICMP, ds.ICMP}, {&s.Other, ds.Other}, {&s.FragmentTimeout, ds.FragmentTimeout},
	} {
		*d.dst = or(*d.dst, d.def)
	}

	l.AddDefaults()
	v.CIDR, v.IPv6CIDR = v.CIDR.Masked(), masked(v.IPv6CIDR)
	for _, a := range l.NetworkACLs {
		for _, entries := range [][]nacl.Entry{a.Ingress, a.Egress} {
			for i := range entries {
				e := &entries[i]
				e.FromPort, e.ToPort = allPorts(e.Protocol, e.FromPort, e.ToPort)
				e.CIDR = masked(e.CIDR)
			}
		}
	}
	for _, g := range l.SecurityGroups {
		for _, rules := range [][]sg.Rule{g.Ingress, g.Egress} {
			for i := range rules {
				r := &rules[i]
				r.FromPort, r.ToPort = allPorts(r.Protocol, r.FromPort, r.ToPort)
				r.CIDR = masked(r.CIDR)
			}
		}
	}
	for _, pl := range l.PrefixLists {
		for i, c := range pl.CIDRs {
			pl.CIDRs[i] = masked(c)
		}
	}
	for _, f := range l.MirrorFilters {
		for _, rules := range [][]MirrorRule{f.Ingress, f.Egress} {
			for i := range rules {
				rules[i].SourceCIDR, rules[i].DestinationCIDR = masked(rules[i].SourceCIDR), masked(rules[i].DestinationCIDR)
			}
		}
	}
	for _, sn := range l.Subnets {
		sn.CIDR, sn.IPv6CIDR = masked(sn.CIDR), masked(sn.IPv6CIDR)
		sn.NetworkACL = or(sn.NetworkACL, nacl.DefaultACLID)
		sn.AvailabilityZone = or(sn.AvailabilityZone, v.Region+"a")
		sn.AZID = or(sn.AZID, ZoneID(v.Region, sn.AvailabilityZone))
	}
	for _, pl := range l.PrefixLists {
		pl.MaxEntries = or(pl.MaxEntries, max(len(pl.CIDRs), 1))
	}
	dc := DefaultConntrackTimeouts()
	for _, in := range l.Instances {
		in.ConntrackAllowance = or(in.ConntrackAllowance, s.DefaultAllowance)
		in.IMDS = or(in.IMDS, s.IMDS)
		for _, e := range in.Interfaces {
			e.Instance = or(e.Instance, in.Name)
			if e.SecurityGroups == nil {
				e.SecurityGroups = []string{sg.DefaultGroupID}
			}
			c := &e.Conntrack
			c.TCPEstablished = or(c.TCPEstablished, dc.TCPEstablished)
			c.UDP = or(c.UDP, dc.UDP)
			c.UDPStream = or(c.UDPStream, dc.UDPStream)
		}
	}
	for _, f := range l.FlowLogs {
		f.TrafficType = or(f.TrafficType, "ALL")
		f.MaxAggregationInterval = or(f.MaxAggregationInterval, 600*time.Second)
		f.Destination = or(f.Destination, "flowlogs")
	}
}

// masked clears the host bits of c (10.1.2.3/16 is 10.1.0.0/16), as a lab
// file's reader does; an invalid c stays invalid.
func masked(c netip.Prefix) netip.Prefix {
	if !c.IsValid() {
		return c
	}
	return c.Masked()
}

// or returns v, or def when v is the zero value.
func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// allPorts returns the port range of a rule or entry: every port for a
// protocol whose ports do not count (all but tcp, udp, icmp and icmpv6),
// else from-to.
func allPorts(proto, from, to int) (int, int) {
	if !sg.PortsMatter(proto) && !sg.ICMPMatters(proto) {
		return 0, 65535
	}
	return from, to
}

// AddDefaults adds what every VPC has unless l defines it: the default
// network ACL, allowing everything, and the default security group,
// letting in its own members and everything out, each first in its list.
func (l *Lab) AddDefaults() {
	ipv6 := l.VPC.IPv6CIDR.IsValid()
	if l.ACL(nacl.DefaultACLID) == nil {
		a := &nacl.ACL{ID: nacl.DefaultACLID, Ingress: nacl.DefaultEntries(ipv6), Egress: nacl.DefaultEntries(ipv6)}
		l.NetworkACLs = slices.Insert(l.NetworkACLs, 0, a)
	}
	if l.Group(sg.DefaultGroupID) == nil {
		g := &sg.Group{ID: sg.DefaultGroupID, Description: "default VPC security group",
			Ingress: sg.DefaultIngress(sg.DefaultGroupID), Egress: sg.DefaultEgress(ipv6)}
		l.SecurityGroups = slices.Insert(l.SecurityGroups, 0, g)
	}
}

// ZoneID returns the zone id AWS gives zone of region (us-east-1b of
// us-east-1 is use1-az2), or the region's first (use1-az1) when zone is
// not one of the region's.
func ZoneID(region, zone string) string {
	n := 1
	if zoneName.MatchString(zone) && strings.HasPrefix(zone, region) {
		n = int(zone[len(zone)-1]-'a') + 1
	}
	return regionCode(region) + "-az" + strconv.Itoa(n)
}
