package verdict

import "github.com/vpclab/vpclab/packet"

// Stage is a step of the packet path (spec §5). Its String form is the
// name used everywhere: explain, policy tests, counters.
type Stage uint8

const (
	StageNone Stage = iota
	StageParse
	StageSrcDstCheck
	StageExempt
	StageSGEgress
	StageNACLEgress
	StageNACLIngress
	StageSGIngress
	StageConntrackAllowance
	StageRoute
	// StagePPSAllowance drops what exceeds an instance's packet-rate
	// allowance. It runs once the packet's ends are known, before the
	// filters (listed last only to keep the other stages' numbers).
	StagePPSAllowance
	NumStages
)

var stageNames = [NumStages]string{
	StageNone:               "none",
	StageParse:              "parse",
	StageSrcDstCheck:        "src-dst-check",
	StageExempt:             "exempt",
	StageSGEgress:           "sg-egress",
	StageNACLEgress:         "nacl-egress",
	StageNACLIngress:        "nacl-ingress",
	StageSGIngress:          "sg-ingress",
	StageConntrackAllowance: "conntrack-allowance",
	StageRoute:              "route",
	StagePPSAllowance:       "pps-allowance",
}

func (s Stage) String() string {
	if s < NumStages {
		return stageNames[s]
	}
	return "unknown"
}

// Code explains a verdict, in AWS Reachability Analyzer's vocabulary where
// it has a word for it.
type Code uint8

const (
	CodeNone Code = iota
	// Allowed.
	CodeDelivered         // every stage passed
	CodeExempt            // traffic with a VPC service, never filtered
	CodeSGRuleMatch       // a security-group rule allowed it
	CodeConntrack         // an existing connection-tracking entry allowed it
	CodeNACLAllow         // a network-ACL entry allowed it
	CodeSameSubnet        // both ends in one subnet: no network ACL applies
	CodeFragmentFollowing // a later fragment, following its first fragment
	// Denied.
	CodeMalformed            // the packet could not be parsed
	CodeFragmentOrphan       // a later fragment whose first was not seen
	CodeSourceDestCheck      // the source is not the sending ENI's address
	CodeSGRulesMismatch      // ENI_SG_RULES_MISMATCH: no security-group rule allows it
	CodeSubnetACLRestrict    // SUBNET_ACL_RESTRICTION: a network ACL denies it
	CodeAllowanceExceeded    // the instance's conntrack allowance is used up
	CodeCannotRoute          // CANNOT_ROUTE: nothing in the VPC takes this address
	CodeNoBroadcast          // broadcast or multicast: a VPC has neither
	CodeLinkLocal            // link-local, not routed by the VPC
	CodeTTLExceeded          // TTL or hop limit would reach 0
	CodeNoInternetGateway    // the subnet has no route to the internet gateway
	CodeInstanceStopped      // the sending or receiving instance is stopped (live labs)
	CodePPSAllowanceExceeded // the instance's packet-rate allowance is used up
	NumCodes
)

var codeNames = [NumCodes]string{
	CodeNone:                 "NONE",
	CodeDelivered:            "DELIVERED",
	CodeExempt:               "EXEMPT_VPC_SERVICE",
	CodeSGRuleMatch:          "SG_RULE_MATCH",
	CodeConntrack:            "CONNTRACK_ESTABLISHED",
	CodeNACLAllow:            "NACL_RULE_ALLOW",
	CodeSameSubnet:           "SAME_SUBNET",
	CodeFragmentFollowing:    "FRAGMENT_FOLLOWS_FIRST",
	CodeMalformed:            "MALFORMED_PACKET",
	CodeFragmentOrphan:       "FRAGMENT_ORPHAN",
	CodeSourceDestCheck:      "SOURCE_DEST_CHECK_RESTRICTION",
	CodeSGRulesMismatch:      "ENI_SG_RULES_MISMATCH",
	CodeSubnetACLRestrict:    "SUBNET_ACL_RESTRICTION",
	CodeAllowanceExceeded:    "CONNTRACK_ALLOWANCE_EXCEEDED",
	CodeCannotRoute:          "CANNOT_ROUTE",
	CodeNoBroadcast:          "NO_BROADCAST",
	CodeLinkLocal:            "LINK_LOCAL_NOT_ROUTED",
	CodeTTLExceeded:          "TTL_EXCEEDED",
	CodeNoInternetGateway:    "NO_ROUTE_TO_INTERNET_GATEWAY",
	CodeInstanceStopped:      "INSTANCE_STOPPED",
	CodePPSAllowanceExceeded: "PPS_ALLOWANCE_EXCEEDED",
}

func (c Code) String() string {
	if c < NumCodes {
		return codeNames[c]
	}
	return "UNKNOWN"
}

// Dir is a direction: of a security-group rule list, of a stage, of a
// packet through an ENI.
type Dir uint8

const (
	Ingress Dir = iota
	Egress
)

func (d Dir) String() string {
	if d == Egress {
		return "egress"
	}
	return "ingress"
}

// RuleRef names one rule of one security group, for verdicts and
// explanations.
type RuleRef struct {
	Group string
	Dir   Dir
	Index int    // position in the group's rule list
	ID    string // sgr-… when known
}

// Port says where a packet enters or leaves the dataplane: an ENI (a
// stable slot, ≥ 0), the internet gateway or the VPC's built-in services.
type Port int32

const (
	PortNone     Port = -1
	PortInternet Port = -2
	PortService  Port = -3
)

// Verdict is the fate of one packet. The engine overwrites every field
// except Trace.
type Verdict struct {
	// Allowed is true when the packet is delivered to To.
	Allowed bool
	// Stage is the stage that decided: for a drop, the stage that dropped
	// it; for a delivery, the last stage that let it through.
	Stage Stage
	Code  Code
	// Parse is the parser's reason when Stage is StageParse.
	Parse packet.Reason
	// ACL and NACLRule name the deciding network-ACL entry when Stage is a
	// NACL stage.
	ACL      string
	NACLRule int
	// SG is the security-group rule that matched when Stage is an SG stage
	// and a rule (not a conntrack entry) decided; nil otherwise.
	SG *RuleRef
	// ENI is the id of the ENI whose stage decided, when one did.
	ENI string
	// From and To are the ports the packet entered and was routed to.
	From, To Port
	// Trace, when set by the caller, receives every stage's decision.
	// Explain and policy tests set it; the packet path leaves it nil.
	Trace *Trace
}

// Deny records that stage dropped the packet, with the details already in v.
func (v *Verdict) Deny(stage Stage, code Code) {
	v.Allowed = false
	v.Stage = stage
	v.Code = code
	v.Trace.Add(Step{Stage: stage, Code: code, ENI: v.ENI, ACL: v.ACL, NACLRule: v.NACLRule})
}

// Pass records that a stage let the packet through; the stage's details
// stay in v until a later stage overwrites them.
func (v *Verdict) Pass(stage Stage, code Code) {
	v.Stage, v.Code = stage, code
	if v.Trace != nil {
		v.Trace.Add(Step{Stage: stage, Pass: true, Code: code, ENI: v.ENI, ACL: v.ACL, NACLRule: v.NACLRule, SG: v.SG})
	}
}

// Step is one stage's decision in a Trace.
type Step struct {
	Stage     Stage
	Pass      bool
	Code      Code
	ENI       string // the ENI whose SG or conntrack table was read
	ACL       string
	NACLRule  int
	SG        *RuleRef
	Untracked bool // an SG rule allowed a flow that is not tracked (§3.4)
	NewEntry  bool // the stage needs a conntrack entry when delivered
}

// Trace records the stages a packet went through, in order.
type Trace struct {
	Steps []Step
}

// Add appends s; a nil Trace records nothing.
func (t *Trace) Add(s Step) {
	if t != nil {
		t.Steps = append(t.Steps, s)
	}
}
