package terraform

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/ec2"
)

// traffic is what a security-group rule or network-ACL entry matches
// besides its peer, normalised as labfile.Parse normalises it: fields that do
// not apply to the protocol hold their match-all values, ports 0..65535
// and ICMP type and code -1.
type traffic struct {
	proto              int
	fromPort, toPort   int
	icmpType, icmpCode int
}

// anyTraffic matches every protocol, port and ICMP type.
func anyTraffic(proto int) traffic {
	return traffic{proto: proto, fromPort: 0, toPort: 65535, icmpType: -1, icmpCode: -1}
}

// protocol reads the protocol at key: a name, -1 or all, or an IANA
// number.
func (b *builder) protocol(a attrs, key string) (int, bool) {
	s := strings.ToLower(strings.TrimSpace(a.str(key)))
	if s == "" {
		if !a.has(key) {
			b.errorf(a.r, a.at(key), "a rule needs a protocol")
		}
		return 0, false
	}
	if v, ok := ec2.ParseProtocol(s); ok {
		return v, true
	}
	b.errorf(a.r, a.at(key), "%q is not a protocol: want all (-1), a name such as tcp, or an IANA number 0-255", s)
	return 0, false
}

// sgTraffic reads the ports of a security-group rule of protocol proto
// from fromKey and toKey: a port range for TCP and UDP, the ICMP type and
// code for ICMP and ICMPv6 (-1 for any), nothing for other protocols,
// whose ports AWS ignores. A null port (the aws_vpc_security_group_*_rule
// resources leave them null for all) means all.
func (b *builder) sgTraffic(a attrs, proto int) (traffic, bool) {
	t := anyTraffic(proto)
	from, fromOK := a.integer("from_port")
	to, toOK := a.integer("to_port")
	switch {
	case ec2.PortsMatter(proto):
		if !fromOK && !toOK || from == -1 && to == -1 {
			return t, true
		}
		return t, b.portRange(a, &t, from, to)
	case ec2.ICMPMatters(proto):
		if !fromOK {
			from = -1
		}
		if !toOK {
			to = -1
		}
		return t, b.icmp(a, &t, "from_port", "to_port", from, to)
	}
	return t, true
}

// aclTraffic reads the ports or the ICMP type and code of a network ACL
// entry of protocol proto.
func (b *builder) aclTraffic(a attrs, proto int) (traffic, bool) {
	t := anyTraffic(proto)
	switch {
	case ec2.PortsMatter(proto):
		from, fromOK := a.integer("from_port")
		to, toOK := a.integer("to_port")
		if !fromOK && !toOK {
			return t, true
		}
		return t, b.portRange(a, &t, from, to)
	case ec2.ICMPMatters(proto):
		typ, ok := a.integer("icmp_type")
		if !ok {
			typ = -1
		}
		code, ok := a.integer("icmp_code")
		if !ok {
			code = -1
		}
		return t, b.icmp(a, &t, "icmp_type", "icmp_code", typ, code)
	}
	return t, true
}

// portRange checks and sets a TCP or UDP port range.
func (b *builder) portRange(a attrs, t *traffic, from, to int) bool {
	switch {
	case from < 0 || from > 65535:
		b.errorf(a.r, a.at("from_port"), "port %d is out of range 0-65535", from)
	case to < 0 || to > 65535:
		b.errorf(a.r, a.at("to_port"), "port %d is out of range 0-65535", to)
	case from > to:
		b.errorf(a.r, a.at("from_port"), "the range %d-%d is empty", from, to)
	default:
		t.fromPort, t.toPort = from, to
		return true
	}
	return false
}

// icmp checks and sets an ICMP type and code, read at typeKey and
// codeKey. Any type (-1) means any code too, whatever the code says.
func (b *builder) icmp(a attrs, t *traffic, typeKey, codeKey string, typ, code int) bool {
	switch {
	case typ < -1 || typ > 255:
		b.errorf(a.r, a.at(typeKey), "ICMP type %d is out of range: want -1 (any) or 0-255", typ)
		return false
	case code < -1 || code > 255:
		b.errorf(a.r, a.at(codeKey), "ICMP code %d is out of range: want -1 (any) or 0-255", code)
		return false
	case typ == -1:
		code = -1
	}
	t.icmpType, t.icmpCode = typ, code
	return true
}

// idPattern is what a lab's ids and names may look like.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validID checks an id read at field of r against what a lab accepts.
func (b *builder) validID(r *resource, field, id string) bool {
	if idPattern.MatchString(id) {
		return true
	}
	if id == "" {
		b.errorf(r, field, "missing id")
	} else {
		b.errorf(r, field, "%q is not an id a lab accepts: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return false
}

// equalFold reports whether s and t are equal ignoring case.
func equalFold(s, t string) bool { return strings.EqualFold(s, t) }

// itoa formats an int.
func itoa(i int) string { return strconv.Itoa(i) }
