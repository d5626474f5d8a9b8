package labfile

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/sg"
)

// traffic is what a security-group rule or network-ACL entry matches
// besides its peer. Fields the file leaves out hold their match-all
// values: ports 0..65535, ICMP type and code -1.
type traffic struct {
	proto              int
	fromPort, toPort   int
	icmpType, icmpCode int
}

// trafficKeys are the keys traffic reads.
var trafficKeys = []string{"protocol", "ports", "icmp_type", "icmp_code"}

// noProtocol stands for a protocol the file does not give or that cannot
// be read (reported already): lab.Check refuses it without looking at the
// ports and ICMP fields that depend on the protocol.
const noProtocol = -2

// traffic reads the protocol, ports and ICMP keys of a rule or entry;
// lab.Check checks which of them apply to the protocol.
func (p *parser) traffic(o yamlpos.Object) traffic {
	t := traffic{proto: noProtocol, fromPort: 0, toPort: 65535, icmpType: -1, icmpCode: -1}
	if v, ok := p.protocol(p.Need(o, "protocol", "use tcp, udp, icmp, icmpv6, all, or a protocol number"), o.At("protocol")); ok {
		t.proto = v
	}
	if n := o.Vals["ports"]; n != nil {
		lo, hi, ok := p.ports(n, o.At("ports"))
		// EC2 takes a port range for every protocol but tcp, udp, icmp
		// and icmpv6 (47, 50, all, …) and ignores it: the rule covers
		// every port.
		if ok && (sg.PortsMatter(t.proto) || sg.ICMPMatters(t.proto)) {
			t.fromPort, t.toPort = lo, hi
		}
	}
	p.integer(o.Vals["icmp_type"], o.At("icmp_type"), "an ICMP type (-1 for any)", &t.icmpType)
	p.integer(o.Vals["icmp_code"], o.At("icmp_code"), "an ICMP code (-1 for any)", &t.icmpCode)
	return t
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
