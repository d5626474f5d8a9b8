package lab

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/sg"
)

// traffic is what a security-group rule or network-ACL entry matches
// besides its peer. Fields that do not apply to the protocol hold their
// match-all values: ports 0..65535, ICMP type and code -1.
type traffic struct {
	proto              int
	fromPort, toPort   int
	icmpType, icmpCode int
}

// trafficKeys are the keys traffic reads.
var trafficKeys = []string{"protocol", "ports", "icmp_type", "icmp_code"}

// traffic reads the protocol, ports and ICMP keys of a rule or entry.
func (p *parser) traffic(o yamlpos.Object) (traffic, bool) {
	t := traffic{fromPort: 0, toPort: 65535, icmpType: -1, icmpCode: -1}
	var ok bool
	t.proto, ok = p.protocol(p.Need(o, "protocol", "use tcp, udp, icmp, icmpv6, all, or a protocol number"), o.At("protocol"))
	if !ok {
		return t, false
	}
	if n := o.Vals["ports"]; n != nil {
		switch {
		case sg.PortsMatter(t.proto):
			t.fromPort, t.toPort, ok = p.ports(n, o.At("ports"))
		case !sg.ICMPMatters(t.proto):
			// EC2 takes a port range for every other protocol (47, 50,
			// all, …) and ignores it: the rule covers every port.
			_, _, ok = p.ports(n, o.At("ports"))
		default:
			p.Errorf(o.Keys["ports"], o.At("ports"), "ports apply only to tcp and udp; %s has none to choose", protoName(t.proto))
			ok = false
		}
	}
	typeN, codeN := o.Vals["icmp_type"], o.Vals["icmp_code"]
	for _, key := range []string{"icmp_type", "icmp_code"} {
		if o.Vals[key] != nil && !sg.ICMPMatters(t.proto) {
			p.Errorf(o.Keys[key], o.At(key), "%s applies only to icmp and icmpv6, not %s", key, protoName(t.proto))
			ok = false
		}
	}
	if !ok || !sg.ICMPMatters(t.proto) {
		return t, ok
	}
	if typeN != nil {
		t.icmpType, ok = p.Integer(typeN, o.At("icmp_type"), "an ICMP type (-1 for any)", -1, 255)
	}
	if codeN != nil {
		var codeOK bool
		t.icmpCode, codeOK = p.Integer(codeN, o.At("icmp_code"), "an ICMP code (-1 for any)", -1, 255)
		ok = ok && codeOK
	}
	if ok && t.icmpType == -1 && t.icmpCode != -1 {
		p.Errorf(codeN, o.At("icmp_code"), "code %d needs a type: give icmp_type too (any type, -1, requires any code, -1)", t.icmpCode)
		ok = false
	}
	return t, ok
}

// protocol reads a protocol name or IANA number.
func (p *parser) protocol(n *yaml.Node, field string) (int, bool) {
	s, ok := p.Scalar(n, field, "a protocol")
	if !ok {
		return 0, false
	}
	if v, ok := ec2.ParseAPIProtocol(s); ok {
		return v, true
	}
	p.Errorf(n, field, "%q is not a protocol: use tcp, udp, icmp, icmpv6, all (or -1), or an IANA protocol number 0-255", s)
	return 0, false
}

// protoName names a protocol number for messages.
func protoName(proto int) string {
	if s, ok := ec2.ProtocolName(proto); ok {
		return s
	}
	return "protocol " + strconv.Itoa(proto)
}

// ports reads a port, a range lo-hi or "all".
func (p *parser) ports(n *yaml.Node, field string) (lo, hi int, ok bool) {
	s, ok := p.Scalar(n, field, "a port, a range like 1024-65535, or all")
	if !ok {
		return 0, 0, false
	}
	if strings.EqualFold(s, "all") {
		return 0, 65535, true
	}
	loText, hiText, isRange := strings.Cut(s, "-")
	lo, errLo := strconv.Atoi(strings.TrimSpace(loText))
	hi, errHi := lo, error(nil)
	if isRange {
		hi, errHi = strconv.Atoi(strings.TrimSpace(hiText))
	}
	switch {
	case errLo != nil || errHi != nil || lo < 0 || hi > 65535 || hi < 0 || lo > 65535:
		p.Errorf(n, field, "%q is not a port: use 0-65535, a range like 1024-65535, or all", s)
		return 0, 0, false
	case lo > hi:
		p.Errorf(n, field, "%q is an empty range: write the lower port first, as in %d-%d", s, hi, lo)
		return 0, 0, false
	}
	return lo, hi, true
}
