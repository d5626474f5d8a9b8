package ec2

import (
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/sg"
)

// ProtoAll is EC2's protocol "-1": every protocol, every port.
const ProtoAll = -1

// protocolNumbers are the protocol names EC2 accepts, with their IANA
// numbers: the security-group names (tcp, udp, icmp, icmpv6, all or -1)
// and the IANA keywords network ACLs accept besides numbers.
var protocolNumbers = map[string]int{
	"all": ProtoAll, "-1": ProtoAll,
	"hopopt": 0, "icmp": 1, "igmp": 2, "ggp": 3, "ipv4": 4, "st": 5, "tcp": 6,
	"cbt": 7, "egp": 8, "igp": 9, "udp": 17, "rdp": 27, "dccp": 33, "ipv6": 41,
	"ipv6-route": 43, "ipv6-frag": 44, "rsvp": 46, "gre": 47, "esp": 50, "ah": 51,
	"icmpv6": 58, "ipv6-icmp": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "eigrp": 88,
	"ospfigp": 89, "ipip": 94, "etherip": 97, "pim": 103, "ipcomp": 108, "vrrp": 112,
	"l2tp": 115, "isis-over-ipv4": 124, "sctp": 132, "udplite": 136, "mpls-in-ip": 137,
}

// commonNames are the protocols vpclab writes by name; others are written
// as numbers.
var commonNames = map[int]string{
	ProtoAll: "all", 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6",
}

// ParseProtocol reads a protocol as EC2 does: a name (any case; see
// protocolNumbers), -1 or all, or an IANA number 0-255.
func ParseProtocol(s string) (int, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if v, ok := protocolNumbers[s]; ok {
		return v, true
	}
	if v, err := strconv.Atoi(s); err == nil && v >= 0 && v <= 255 {
		return v, true
	}
	return 0, false
}

// ProtocolName returns the name vpclab writes for a protocol number in
// lab files and messages: all, icmp, tcp, udp, icmpv6, else the number.
func ProtocolName(p int) (string, bool) {
	s, ok := commonNames[p]
	if !ok {
		return strconv.Itoa(p), false
	}
	return s, true
}

// APIProtocol returns the protocol as EC2's API answers it in
// IpProtocol: "-1" for all, the common names, else the number.
func APIProtocol(p int) string {
	if p == ProtoAll {
		return "-1"
	}
	s, _ := ProtocolName(p)
	return s
}

// PortsMatter reports whether rules of the protocol have a port range:
// EC2 takes and ignores one for every other protocol.
func PortsMatter(p int) bool { return sg.PortsMatter(p) }

// ICMPMatters reports whether rules of the protocol have an ICMP type and
// code.
func ICMPMatters(p int) bool { return sg.ICMPMatters(p) }
