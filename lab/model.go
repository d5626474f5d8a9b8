package lab

import (
	"net/netip"
	"time"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Lab is one validated VPC.
type Lab struct {
	// File is the path the lab was read from ("example.yaml" for the
	// built-in example).
	File           string
	VPC            VPC
	Subnets        []*Subnet
	NetworkACLs    []*nacl.ACL
	PrefixLists    []*PrefixList
	SecurityGroups []*sg.Group
	Instances      []*Instance
	Internet       Internet
	Quotas         Quotas
	Settings       Settings
}

// VPC is the address space of the lab.
type VPC struct {
	ID       string
	CIDR     netip.Prefix
	IPv6CIDR netip.Prefix // invalid (zero) when the VPC has no IPv6 block
}

// Subnet is a block of the VPC with exactly one network ACL.
type Subnet struct {
	ID       string
	CIDR     netip.Prefix
	IPv6CIDR netip.Prefix // zero when none
	// NetworkACL is the associated ACL's id (nacl.DefaultACLID when the
	// file names none).
	NetworkACL string
	// Public subnets route to the internet gateway.
	Public bool
	Line   int
}

// PrefixList is a named set of CIDRs usable as a security-group peer.
type PrefixList struct {
	ID         string
	MaxEntries int
	CIDRs      []netip.Prefix
	Line       int
}

// Instance owns one or more network interfaces and the connection-tracking
// allowance they share.
type Instance struct {
	Name string
	// ConntrackAllowance is the most tracked flows the instance may hold.
	ConntrackAllowance int
	Interfaces         []*Interface
	Line               int
}

// Interface is an ENI.
type Interface struct {
	ID           string
	Instance     string // owning instance's name
	Subnet       string
	IP           netip.Addr   // primary private IPv4
	SecondaryIPs []netip.Addr // secondary private IPv4s
	IPv6         []netip.Addr
	// SecurityGroups lists the attached groups' ids, in file order; never
	// empty (sg.DefaultGroupID when the file lists none).
	SecurityGroups  []string
	SourceDestCheck bool
	Conntrack       ConntrackTimeouts
	Line            int
}

// Addrs returns every private address of the interface, IPv4 first.
func (i *Interface) Addrs() []netip.Addr {
	out := make([]netip.Addr, 0, 1+len(i.SecondaryIPs)+len(i.IPv6))
	out = append(out, i.IP)
	out = append(out, i.SecondaryIPs...)
	return append(out, i.IPv6...)
}

// ConntrackTimeouts are the per-ENI idle timeouts AWS lets users set
// (spec §3.6).
type ConntrackTimeouts struct {
	TCPEstablished time.Duration // 60s..432000s, default 432000s
	UDP            time.Duration // 30s..60s, default 30s
	UDPStream      time.Duration // 60s..180s, default 180s
}

// Internet describes what lies behind the internet gateway.
type Internet struct {
	Hosts []netip.Addr
}

// Quotas are the limits enforced at load time (spec §2.4, §4.8).
// Rules are counted per direction and IP family; a prefix-list rule counts
// as its list's max entries and a group-referencing rule once in each family.
type Quotas struct {
	NACLEntries int // entries per ACL, direction and family; default 20, at most 40
	SGRules     int // rules per group, direction and family; default 60; AWS's most is 1000, a lab may go to 100000
	SGsPerENI   int // groups per ENI; default 5, at most 16
	// RulesTimesSGs bounds the rules of all the groups of one ENI together,
	// per direction and family (AWS: rules per group × groups per ENI);
	// default 1000, at most 1600000.
	RulesTimesSGs int
}

// Settings are the spec's Policy choices, each with the spec's default.
type Settings struct {
	// SecondaryIPsInGroupRefs: a referenced group matches its members'
	// secondary private addresses too (§2.2). Default true.
	SecondaryIPsInGroupRefs bool
	// UntrackedAcrossGroups: the two rules that make a flow untracked may
	// come from different groups on the ENI (§3.4). Default true.
	UntrackedAcrossGroups bool
	// AdmitRelatedICMP: ICMP errors quoting a tracked flow pass by its
	// entry (§3.8). Default false.
	AdmitRelatedICMP bool
	// DefaultAllowance is the conntrack allowance of an instance that sets
	// none. Default 100000.
	DefaultAllowance int
	// Timeouts AWS does not publish (§3.6), as Linux nf_conntrack.
	TCPSynSent   time.Duration // 120s
	TCPSynRecv   time.Duration // 60s
	TCPFinWait   time.Duration // 120s
	TCPCloseWait time.Duration // 60s
	TCPTimeWait  time.Duration // 120s
	TCPLastAck   time.Duration // 30s
	TCPClose     time.Duration // 10s (after RST)
	ICMP         time.Duration // 30s
	// Other is the idle timeout of flows of other protocols: 600s, fixed by
	// AWS (§3.3, §3.6).
	Other time.Duration
	// FragmentTimeout is how long later fragments follow the first
	// fragment's verdict (§8). Default 30s.
	FragmentTimeout time.Duration
}

// DefaultSettings returns the spec's Policy defaults. The timeouts are
// conntrack.DefaultTimeouts.
func DefaultSettings() Settings {
	t := conntrack.DefaultTimeouts()
	return Settings{
		SecondaryIPsInGroupRefs: true,
		UntrackedAcrossGroups:   true,
		AdmitRelatedICMP:        false,
		DefaultAllowance:        100000,
		TCPSynSent:              t.TCPSynSent,
		TCPSynRecv:              t.TCPSynRecv,
		TCPFinWait:              t.TCPFinWait,
		TCPCloseWait:            t.TCPCloseWait,
		TCPTimeWait:             t.TCPTimeWait,
		TCPLastAck:              t.TCPLastAck,
		TCPClose:                t.TCPClose,
		ICMP:                    t.ICMP,
		Other:                   t.Other,
		FragmentTimeout:         30 * time.Second,
	}
}

// DefaultConntrackTimeouts returns AWS's default per-ENI timeouts, those of
// conntrack.DefaultTimeouts.
func DefaultConntrackTimeouts() ConntrackTimeouts {
	t := conntrack.DefaultTimeouts()
	return ConntrackTimeouts{
		TCPEstablished: t.TCPEstablished,
		UDP:            t.UDP,
		UDPStream:      t.UDPStream,
	}
}

// DefaultQuotas returns AWS's default quotas.
func DefaultQuotas() Quotas {
	return Quotas{NACLEntries: 20, SGRules: 60, SGsPerENI: 5, RulesTimesSGs: 1000}
}

// Lookup helpers. They scan; use them at load and compile time only.

// Subnet returns the subnet with the given id, or nil.
func (l *Lab) Subnet(id string) *Subnet {
	for _, s := range l.Subnets {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// ACL returns the network ACL with the given id, or nil.
func (l *Lab) ACL(id string) *nacl.ACL {
	for _, a := range l.NetworkACLs {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Group returns the security group with the given id, or nil.
func (l *Lab) Group(id string) *sg.Group {
	for _, g := range l.SecurityGroups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

// PrefixList returns the prefix list with the given id, or nil.
func (l *Lab) PrefixList(id string) *PrefixList {
	for _, p := range l.PrefixLists {
		if p.ID == id {
			return p
		}
	}
	return nil
}

// Instance returns the instance with the given name, or nil.
func (l *Lab) Instance(name string) *Instance {
	for _, in := range l.Instances {
		if in.Name == name {
			return in
		}
	}
	return nil
}

// Interfaces returns every ENI of the lab, in file order.
func (l *Lab) Interfaces() []*Interface {
	var out []*Interface
	for _, in := range l.Instances {
		out = append(out, in.Interfaces...)
	}
	return out
}

// Interface returns the ENI with the given id, or nil.
func (l *Lab) Interface(id string) *Interface {
	for _, in := range l.Instances {
		for _, e := range in.Interfaces {
			if e.ID == id {
				return e
			}
		}
	}
	return nil
}
