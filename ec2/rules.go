package ec2

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Error is a parameter EC2 refuses: EC2's error code
// (InvalidParameterValue, MissingParameter, …), the path of the field at
// fault, such as IpPermissions[2].FromPort, and what is wrong with it.
type Error struct {
	Code  string
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

func errorf(code, field, format string, args ...any) *Error {
	return &Error{Code: code, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// join extends the field path at by key.
func join(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

// apiNames are the protocol names EC2's API takes in IpProtocol and
// Protocol; every other protocol is given by number.
var apiNames = map[string]int{
	"-1": ProtoAll, "all": ProtoAll, "tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58,
}

// ParseAPIProtocol reads a protocol as EC2's API takes it in a request or
// prints it in a response: tcp, udp, icmp, icmpv6 (any case), -1 or all,
// or a number 0-255. Unlike ParseProtocol it refuses the other IANA
// keywords (gre, sctp, …), which EC2 does not know.
func ParseAPIProtocol(s string) (int, bool) {
	if p, ok := apiNames[strings.ToLower(s)]; ok {
		return p, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}

// PermissionTraffic reads the protocol and ports of the permission p at
// field path at, as EC2 does: a port range for TCP and UDP (-1 to -1 is
// every port), the ICMP type in FromPort and the code in ToPort for ICMP
// and ICMPv6, neither for other protocols. The rule it returns has no
// peer.
func PermissionTraffic(p IpPermission, at string) (sg.Rule, error) {
	r := sg.AnyTraffic()
	proto, ok := ParseAPIProtocol(p.IpProtocol)
	if !ok {
		return r, errorf("InvalidParameterValue", join(at, "IpProtocol"), "%q is not a protocol: use tcp, udp, icmp, icmpv6, -1 or a number 0-255", p.IpProtocol)
	}
	r.Protocol = proto
	switch {
	case PortsMatter(proto):
		if p.FromPort == nil || p.ToPort == nil {
			field := join(at, "FromPort")
			if p.FromPort != nil {
				field = join(at, "ToPort")
			}
			return r, errorf("MissingParameter", field, "%s needs FromPort and ToPort", p.IpProtocol)
		}
		from, to := *p.FromPort, *p.ToPort
		if from == -1 && to == -1 {
			from, to = 0, 65535
		}
		if err := CheckPorts(from, to, join(at, "FromPort"), join(at, "ToPort")); err != nil {
			return r, err
		}
		r.FromPort, r.ToPort = from, to
	case ICMPMatters(proto):
		if p.FromPort != nil {
			r.ICMPType = *p.FromPort
		}
		if p.ToPort != nil {
			r.ICMPCode = *p.ToPort
		}
		if err := checkICMPRequest(r.ICMPType, r.ICMPCode, join(at, "FromPort"), join(at, "ToPort")); err != nil {
			return r, err
		}
	}
	return r, nil
}

// CheckPorts checks a TCP or UDP port range: each port 0-65535, from not
// above to. fromField and toField are the paths of the two, for the error.
func CheckPorts(from, to int, fromField, toField string) error {
	switch {
	case from < 0 || from > 65535:
		return errorf("InvalidParameterValue", fromField, "port %d: want 0-65535", from)
	case to < 0 || to > 65535:
		return errorf("InvalidParameterValue", toField, "port %d: want 0-65535", to)
	case from > to:
		return errorf("InvalidParameterValue", toField, "ports %d-%d: an empty range", from, to)
	}
	return nil
}

// CheckICMP checks an ICMP type and code, each 0-255 or -1 for any.
// typeField and codeField are the paths of the two, for the error.
func CheckICMP(typ, code int, typeField, codeField string) error {
	switch {
	case typ < -1 || typ > 255:
		return errorf("InvalidParameterValue", typeField, "ICMP type %d: want 0-255, or -1 for any", typ)
	case code < -1 || code > 255:
		return errorf("InvalidParameterValue", codeField, "ICMP code %d: want 0-255, or -1 for any", code)
	}
	return nil
}

// checkICMPRequest is CheckICMP for a request, which must also give any
// type with any code.
func checkICMPRequest(typ, code int, typeField, codeField string) error {
	if err := CheckICMP(typ, code, typeField, codeField); err != nil {
		return err
	}
	if typ == -1 && code != -1 {
		return errorf("InvalidParameterValue", codeField, "ICMP type -1 (any) with code %d: any type needs any code, -1", code)
	}
	return nil
}

// PermissionRules turns IpPermissions into security-group rules, one per
// peer, in EC2's order: the IpRanges, Ipv6Ranges, PrefixListIds and
// UserIdGroupPairs of each permission in turn. Field paths in errors start
// at IpPermissions. Peers are checked for their form; whether the prefix
// lists and groups they name exist, and belong to the caller's account and
// VPC, is for the caller to check.
func PermissionRules(perms []IpPermission) ([]sg.Rule, error) {
	if len(perms) == 0 {
		return nil, errorf("MissingParameter", "", "give IpPermissions")
	}
	var rules []sg.Rule
	for i, p := range perms {
		at := "IpPermissions[" + strconv.Itoa(i) + "]"
		base, err := PermissionTraffic(p, at)
		if err != nil {
			return nil, err
		}
		n := len(rules)
		for k, x := range p.IpRanges {
			field := fmt.Sprintf("%s.IpRanges[%d].CidrIp", at, k)
			c, err := ParseCIDR(x.CidrIp, false, field)
			if err != nil {
				return nil, err
			}
			r := base
			r.CIDR, r.Description = c, x.Description
			rules = append(rules, r)
		}
		for k, x := range p.Ipv6Ranges {
			field := fmt.Sprintf("%s.Ipv6Ranges[%d].CidrIpv6", at, k)
			c, err := ParseCIDR(x.CidrIpv6, true, field)
			if err != nil {
				return nil, err
			}
			r := base
			r.CIDR, r.Description = c, x.Description
			rules = append(rules, r)
		}
		for k, x := range p.PrefixListIds {
			if x.PrefixListId == "" {
				return nil, errorf("MissingParameter", fmt.Sprintf("%s.PrefixListIds[%d].PrefixListId", at, k), "give the prefix list's id")
			}
			r := base
			r.PrefixList, r.Description = x.PrefixListId, x.Description
			rules = append(rules, r)
		}
		for k, x := range p.UserIdGroupPairs {
			if x.GroupId == "" {
				return nil, errorf("MissingParameter", fmt.Sprintf("%s.UserIdGroupPairs[%d].GroupId", at, k), "give the group's id")
			}
			r := base
			r.Group, r.Description = x.GroupId, x.Description
			rules = append(rules, r)
		}
		if len(rules) == n {
			return nil, errorf("MissingParameter", at, "the permission names no peer: give IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs")
		}
	}
	return rules, nil
}

// ParseCIDR reads an IPv4 (v6 false) or IPv6 block and clears its host
// bits; field is the path of the value, for the error.
func ParseCIDR(s string, v6 bool, field string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is6() != v6 || p.Addr().Is4In6() {
		fam, key := "an IPv4", "IpRanges.CidrIp and CidrBlock take IPv4 blocks"
		if v6 {
			fam, key = "an IPv6", "Ipv6Ranges.CidrIpv6 and Ipv6CidrBlock take IPv6 blocks"
		}
		return netip.Prefix{}, errorf("InvalidParameterValue", field, "%q is not %s CIDR (%s)", s, fam, key)
	}
	return p.Masked(), nil
}

// Permission returns the permission EC2 shows for one rule: its protocol,
// its ports or ICMP type and code (-1 when they do not apply), and its
// one peer.
func Permission(r sg.Rule) IpPermission {
	from, to := -1, -1
	switch {
	case PortsMatter(r.Protocol):
		from, to = r.FromPort, r.ToPort
	case ICMPMatters(r.Protocol):
		from, to = r.ICMPType, r.ICMPCode
	}
	p := IpPermission{IpProtocol: APIProtocol(r.Protocol), FromPort: &from, ToPort: &to}
	switch {
	case r.Group != "":
		p.UserIdGroupPairs = []UserIdGroupPair{{GroupId: r.Group, Description: r.Description}}
	case r.PrefixList != "":
		p.PrefixListIds = []PrefixListId{{PrefixListId: r.PrefixList, Description: r.Description}}
	case r.CIDR.Addr().Is6():
		p.Ipv6Ranges = []Ipv6Range{{CidrIpv6: r.CIDR.String(), Description: r.Description}}
	default:
		p.IpRanges = []IpRange{{CidrIp: r.CIDR.String(), Description: r.Description}}
	}
	return p
}

// Entry reads a network-ACL entry at field path at as EC2's
// CreateNetworkAclEntry does: a rule number 1-32766, allow or deny, one
// block, a PortRange for TCP and UDP and an IcmpTypeCode for ICMP and
// ICMPv6, both required; other protocols take neither.
func Entry(e NetworkAclEntry, at string) (nacl.Entry, error) {
	out := nacl.Entry{Rule: e.RuleNumber, FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}
	if err := CheckRuleNumber(e.RuleNumber, join(at, "RuleNumber")); err != nil {
		return out, err
	}
	proto, ok := ParseAPIProtocol(e.Protocol)
	if !ok {
		return out, errorf("InvalidParameterValue", join(at, "Protocol"), "%q is not a protocol: use -1, 6 (tcp), 17 (udp), 1 (icmp), 58 (icmpv6) or another number 0-255", e.Protocol)
	}
	out.Protocol = proto
	switch strings.ToLower(e.RuleAction) {
	case "allow":
		out.Allow = true
	case "deny":
	default:
		return out, errorf("InvalidParameterValue", join(at, "RuleAction"), "%q is not allow or deny", e.RuleAction)
	}
	var err error
	switch {
	case e.CidrBlock != "" && e.Ipv6CidrBlock != "":
		return out, errorf("InvalidParameterCombination", at, "give CidrBlock or Ipv6CidrBlock, not both")
	case e.CidrBlock != "":
		out.CIDR, err = ParseCIDR(e.CidrBlock, false, join(at, "CidrBlock"))
	case e.Ipv6CidrBlock != "":
		out.CIDR, err = ParseCIDR(e.Ipv6CidrBlock, true, join(at, "Ipv6CidrBlock"))
	default:
		return out, errorf("MissingParameter", at, "give CidrBlock or Ipv6CidrBlock")
	}
	if err != nil {
		return out, err
	}
	name, _ := ProtocolName(proto)
	switch {
	case PortsMatter(proto):
		pr := e.PortRange
		if pr == nil || pr.From == nil || pr.To == nil {
			return out, errorf("MissingParameter", join(at, "PortRange"), "%s entries need From and To", name)
		}
		out.FromPort, out.ToPort = *pr.From, *pr.To
		if err := CheckPorts(out.FromPort, out.ToPort, join(at, "PortRange.From"), join(at, "PortRange.To")); err != nil {
			return out, err
		}
	case ICMPMatters(proto):
		tc := e.IcmpTypeCode
		if tc == nil || tc.Type == nil || tc.Code == nil {
			return out, errorf("MissingParameter", join(at, "IcmpTypeCode"), "%s entries need Type and Code (-1 for any)", name)
		}
		out.ICMPType, out.ICMPCode = *tc.Type, *tc.Code
		if err := checkICMPRequest(out.ICMPType, out.ICMPCode, join(at, "IcmpTypeCode.Type"), join(at, "IcmpTypeCode.Code")); err != nil {
			return out, err
		}
	}
	return out, nil
}

// CheckRuleNumber checks the number of an entry a request names, at field
// path field: 1-32766, the numbers below the implicit deny.
func CheckRuleNumber(n int, field string) error {
	if n < nacl.MinRule || n > nacl.MaxRule {
		return errorf("InvalidParameterValue", field, "rule %d: entries are numbered %d-%d (%d and %d are the implicit deny)",
			n, nacl.MinRule, nacl.MaxRule, nacl.ImplicitDenyIPv4, nacl.ImplicitDenyIPv6)
	}
	return nil
}

// APIEntry returns the entry EC2 shows for e, in the direction given.
func APIEntry(e nacl.Entry, egress bool) NetworkAclEntry {
	out := NetworkAclEntry{RuleNumber: e.Rule, Egress: egress, RuleAction: "deny", Protocol: strconv.Itoa(e.Protocol)}
	if e.Allow {
		out.RuleAction = "allow"
	}
	if e.CIDR.Addr().Is6() {
		out.Ipv6CidrBlock = e.CIDR.String()
	} else {
		out.CidrBlock = e.CIDR.String()
	}
	switch {
	case PortsMatter(e.Protocol):
		from, to := e.FromPort, e.ToPort
		out.PortRange = &PortRange{From: &from, To: &to}
	case ICMPMatters(e.Protocol):
		typ, code := e.ICMPType, e.ICMPCode
		out.IcmpTypeCode = &IcmpTypeCode{Type: &typ, Code: &code}
	}
	return out
}

// DescribeTraffic says in a few words what a rule or entry of the
// protocol, ports and ICMP type and code given matches, for messages:
// "all traffic", "tcp 443", "udp 1024-65535", "tcp all ports", "icmp type
// 3 code 4", "icmp type 8" (any code), "icmpv6 all types", "proto 47".
func DescribeTraffic(proto, from, to, icmpType, icmpCode int) string {
	name, named := ProtocolName(proto)
	switch {
	case proto == ProtoAll:
		return "all traffic"
	case !named:
		return "proto " + name
	case PortsMatter(proto) && from == 0 && to == 65535:
		return name + " all ports"
	case PortsMatter(proto) && from == to:
		return name + " " + strconv.Itoa(from)
	case PortsMatter(proto):
		return name + " " + strconv.Itoa(from) + "-" + strconv.Itoa(to)
	case !ICMPMatters(proto):
		return name
	case icmpType == -1:
		return name + " all types"
	case icmpCode == -1:
		return name + " type " + strconv.Itoa(icmpType)
	}
	return name + " type " + strconv.Itoa(icmpType) + " code " + strconv.Itoa(icmpCode)
}

// RuleTraffic is DescribeTraffic of a security-group rule.
func RuleTraffic(r sg.Rule) string {
	return DescribeTraffic(r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode)
}

// DescribeRule is RuleTraffic and the rule's peer: "tcp 443
// 10.0.0.0/16", "all traffic group sg-web", "udp 53 prefix list pl-dns".
func DescribeRule(r sg.Rule) string {
	s := RuleTraffic(r)
	switch {
	case r.Group != "":
		return s + " group " + r.Group
	case r.PrefixList != "":
		return s + " prefix list " + r.PrefixList
	}
	return s + " " + r.CIDR.String()
}
