package lab

import (
	"net/netip"
	"time"

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
	// FlowLogs are the lab's VPC Flow Logs (spec §7), in file order.
	FlowLogs []*FlowLog
	// Traffic mirroring (spec §7): filters, targets and sessions, in file
	// order.
	MirrorFilters  []*MirrorFilter
	MirrorTargets  []*MirrorTarget
	MirrorSessions []*MirrorSession
	// Tags are the resources' EC2 tags, by resource id.
	Tags Tags
}

// VPC is the address space of the lab.
type VPC struct {
	ID       string
	CIDR     netip.Prefix
	IPv6CIDR netip.Prefix // invalid (zero) when the VPC has no IPv6 block
	// AccountID (12 digits) and Region are what flow logs and metadata
	// report; defaults DefaultAccountID and DefaultRegion.
	AccountID string
	Region    string
}

// The account and region of a lab that names none.
const (
	DefaultAccountID = "123456789012"
	DefaultRegion    = "us-east-1"
)

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
	// AvailabilityZone (us-east-1a) and AZID (use1-az1) are what flow logs
	// and metadata report; by default the region's first zone.
	AvailabilityZone string
	AZID             string
	Line             int
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
	// PPSAllowance is the most packets per second the instance may send
	// and receive together (AWS's bidirectional PPS maximum, counted by
	// pps_allowance_exceeded); 0 is unlimited. labfile fills it from
	// Settings.PPSAllowance; a lab built in code sets it itself.
	PPSAllowance int
	// IMDS is the instance metadata service's mode: IMDSv1AndV2 (the
	// default, from Settings.IMDS) or IMDSv2Only, where requests without a
	// session token are refused (AWS's HttpTokens required).
	IMDS       string
	Interfaces []*Interface
	Line       int
}

// The instance metadata modes.
const (
	IMDSv1AndV2 = "v1-and-v2"
	IMDSv2Only  = "v2-only"
)

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
	// SGsPerVPC bounds the security groups of the lab, the default group
	// included (AWS: VPC security groups per Region); default 2500, at
	// most 10000.
	SGsPerVPC int
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
	// PPSAllowance is the packet-rate allowance (packets per second, both
	// directions together) of an instance that sets none. AWS publishes no
	// per-type figure, so the default is 0: unlimited.
	PPSAllowance int
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
	// IMDS is the metadata mode of instances that set none: IMDSv1AndV2
	// (the default) or IMDSv2Only.
	IMDS string
	// Datapath is what vpclab up runs when its --datapath flag is not
	// given: DatapathTUN (the default, also for "") or DatapathEBPF. It is
	// not policy: a running lab keeps the datapath it came up with.
	Datapath string
}

// DefaultSettings returns the spec's Policy defaults. The TCP timeouts AWS
// does not publish are Linux nf_conntrack's; Other is AWS's fixed 600 s.
// This is the one home of these values: conntrack takes what it is given.
func DefaultSettings() Settings {
	return Settings{
		SecondaryIPsInGroupRefs: true,
		UntrackedAcrossGroups:   true,
		AdmitRelatedICMP:        false,
		DefaultAllowance:        100000,
		TCPSynSent:              120 * time.Second,
		TCPSynRecv:              60 * time.Second,
		TCPFinWait:              120 * time.Second,
		TCPCloseWait:            60 * time.Second,
		TCPTimeWait:             120 * time.Second,
		TCPLastAck:              30 * time.Second,
		TCPClose:                10 * time.Second,
		ICMP:                    30 * time.Second,
		Other:                   600 * time.Second,
		FragmentTimeout:         30 * time.Second,
		IMDS:                    IMDSv1AndV2,
	}
}

// DefaultConntrackTimeouts returns AWS's default per-ENI timeouts
// (ConnectionTrackingConfiguration): 5 days TCP established, 30 s UDP,
// 180 s UDP stream.
func DefaultConntrackTimeouts() ConntrackTimeouts {
	return ConntrackTimeouts{
		TCPEstablished: 432000 * time.Second,
		UDP:            30 * time.Second,
		UDPStream:      180 * time.Second,
	}
}

// DefaultQuotas returns AWS's default quotas.
func DefaultQuotas() Quotas {
	return Quotas{NACLEntries: 20, SGRules: 60, SGsPerENI: 5, RulesTimesSGs: 1000, SGsPerVPC: 2500}
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

// FlowLog is a VPC flow log (spec §7, AWS's CreateFlowLogs): the traffic
// of every ENI of a VPC, a subnet or one ENI, written as AWS's records.
type FlowLog struct {
	ID string
	// ResourceType is FlowLogVPC, FlowLogSubnet or FlowLogENI, and
	// ResourceID the VPC's, subnet's or ENI's id.
	ResourceType string
	ResourceID   string
	// TrafficType is "ACCEPT", "REJECT" or "ALL".
	TrafficType string
	// MaxAggregationInterval is 60s or 600s (AWS's default).
	MaxAggregationInterval time.Duration
	// LogFormat is AWS's format string: fields as ${field} separated by
	// spaces. Empty means the default version 2 format.
	LogFormat string
	// Destination is the directory the log files are written to.
	Destination string
	Line        int
}

// The resource types of a flow log.
const (
	FlowLogVPC    = "vpc"
	FlowLogSubnet = "subnet"
	FlowLogENI    = "network-interface"
)

// MirrorFilter is a traffic mirror filter: numbered rules per direction,
// lowest number first, first match; no rule, no mirroring.
type MirrorFilter struct {
	ID      string
	Ingress []MirrorRule
	Egress  []MirrorRule
	Line    int
}

// MirrorRule is one rule of a mirror filter.
type MirrorRule struct {
	Number int  // 1-32766, unique per direction
	Accept bool // accept mirrors the packet, reject does not
	// Protocol is an IANA number, or -1 for all.
	Protocol int
	// SourceCIDR and DestinationCIDR default to 0.0.0.0/0 (a rule matches
	// one family: that of its CIDRs).
	SourceCIDR, DestinationCIDR netip.Prefix
	// Port ranges, for TCP and UDP; 0-65535 when not given.
	SourceFromPort, SourceToPort           int
	DestinationFromPort, DestinationToPort int
	Line                                   int
}

// MirrorTarget is where a session sends its copies: an ENI of the lab
// (the copies cross the dataplane as VXLAN over UDP 4789) or a pcap file.
type MirrorTarget struct {
	ID       string
	ENI      string // set for an ENI target
	PcapFile string // set for a file target
	Line     int
}

// MirrorSession copies a source ENI's packets that its filter accepts to
// a target, in VXLAN with its VNI, each cut to PacketLength bytes.
type MirrorSession struct {
	ID     string
	Number int    // 1-32766; the lowest-numbered matching session mirrors a packet
	Source string // ENI id
	Target string // MirrorTarget id
	Filter string // MirrorFilter id
	VNI    uint32 // 0-16777215
	// PacketLength is how many bytes of each packet are copied; 0 means
	// the whole packet.
	PacketLength int
	Line         int
}

// The datapaths of Settings.Datapath.
const (
	DatapathTUN  = "tun"
	DatapathEBPF = "ebpf"
)
