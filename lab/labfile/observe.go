package labfile

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
)

// The flow-log and traffic-mirroring sections (spec §7). lab.Check checks
// their references (resources, ENIs, filters, targets); package flowlog
// checks the field names of a log format, which it knows.

// readFlowLogs reads the flow_logs section.
func (p *parser) readFlowLogs(n *yaml.Node) {
	items, _ := p.list(n, "flow_logs")
	for i, item := range items.all() {
		f := &lab.FlowLog{TrafficType: "ALL", MaxAggregationInterval: 600 * time.Second, Destination: "flowlogs", Line: item.Line}
		p.l.FlowLogs = append(p.l.FlowLogs, f)
		o, id, ok := p.item(item, "flow_logs", "flow_logs", i, "a flow log", "id", "id", "vpc", "subnet", "eni",
			"traffic_type", "max_aggregation_interval", "log_format", "destination")
		if !ok {
			continue
		}
		f.ID = id
		var resources []string
		for _, k := range []string{"vpc", "subnet", "eni"} {
			if o.Vals[k] != nil {
				resources = append(resources, k)
			}
		}
		if len(resources) > 0 {
			k := resources[0]
			f.ResourceID, _ = p.id(o.Vals[k], o.At(k))
			f.ResourceType = map[string]string{"vpc": lab.FlowLogVPC, "subnet": lab.FlowLogSubnet, "eni": lab.FlowLogENI}[k]
		}
		for _, k := range resources[min(1, len(resources)):] {
			p.Errorf(o.Key(k), o.At(k), "a flow log covers one resource: give one of vpc, subnet and eni, not %s", strings.Join(resources, " and "))
		}
		if t, ok := p.Scalar(o.Vals["traffic_type"], o.At("traffic_type"), "ACCEPT, REJECT or ALL"); ok {
			f.TrafficType = strings.ToUpper(t)
		}
		p.duration(o.Vals["max_aggregation_interval"], o.At("max_aggregation_interval"), &f.MaxAggregationInterval)
		if s, ok := p.Scalar(o.Vals["log_format"], o.At("log_format"), "fields such as ${srcaddr} separated by spaces"); ok {
			f.LogFormat = strings.Join(strings.Fields(s), " ")
			if f.LogFormat == "" {
				p.Errorf(o.Vals["log_format"], o.At("log_format"), "empty: give fields such as ${srcaddr}, or leave log_format out for AWS's default format")
			}
		}
		if s, ok := p.Scalar(o.Vals["destination"], o.At("destination"), "a directory"); ok {
			f.Destination = s
		}
	}
}

// readMirrorFilters reads the traffic_mirror_filters section.
func (p *parser) readMirrorFilters(n *yaml.Node) {
	items, _ := p.list(n, "traffic_mirror_filters")
	for i, item := range items.all() {
		f := &lab.MirrorFilter{Line: item.Line, Ingress: []lab.MirrorRule{}, Egress: []lab.MirrorRule{}}
		p.l.MirrorFilters = append(p.l.MirrorFilters, f)
		o, id, ok := p.item(item, "traffic_mirror_filters", "traffic_mirror_filters", i, "a traffic mirror filter", "id", "id", "ingress", "egress")
		if !ok {
			continue
		}
		f.ID = id
		path := lab.ItemPath("traffic_mirror_filters", i, id)
		f.Ingress = p.mirrorRules(o, path, "ingress")
		f.Egress = p.mirrorRules(o, path, "egress")
	}
}

// mirrorRules reads one direction of a mirror filter, whose path in the
// model is filter.
func (p *parser) mirrorRules(o yamlpos.Object, filter, dir string) []lab.MirrorRule {
	items, _ := p.list(o.Vals[dir], o.At(dir))
	rules := []lab.MirrorRule{}
	for i, item := range items.all() {
		rules = append(rules, p.mirrorRule(item, fmt.Sprintf("%s.%s[%d]", filter, dir, i), fmt.Sprintf("%s[%d]", o.At(dir), i)))
	}
	return rules
}

// mirrorRule reads one rule of a mirror filter.
func (p *parser) mirrorRule(n *yaml.Node, path, filePath string) lab.MirrorRule {
	r := lab.MirrorRule{Protocol: ec2.ProtoAll, SourceToPort: 65535, DestinationToPort: 65535, Line: n.Line}
	o, ok := p.object(n, path, filePath, "a traffic mirror filter rule", "rule", "action", "protocol",
		"source_cidr", "destination_cidr", "source_ports", "destination_ports")
	if !ok {
		return r
	}
	p.integer(p.Need(o, "rule", "a rule needs a number, 1-32766"), o.At("rule"), "a rule number", &r.Number)
	if a, ok := p.Scalar(p.Need(o, "action", "use accept or reject"), o.At("action"), "accept or reject"); ok {
		switch strings.ToLower(a) {
		case "accept":
			r.Accept = true
		case "reject":
		default:
			p.Errorf(o.Vals["action"], o.At("action"), "%q is not an action: use accept (mirror) or reject (do not mirror)", a)
		}
	}
	if o.Vals["protocol"] != nil {
		r.Protocol = noProtocol
		if v, ok := p.protocol(o.Vals["protocol"], o.At("protocol")); ok {
			r.Protocol = v
		}
	}
	src, srcOK := p.optPrefix(o, "source_cidr")
	dst, dstOK := p.optPrefix(o, "destination_cidr")
	switch {
	case srcOK && dstOK:
	case srcOK:
		dst = netip.PrefixFrom(zeroOf(src.Addr()), 0)
	case dstOK:
		src = netip.PrefixFrom(zeroOf(dst.Addr()), 0)
	case o.Vals["source_cidr"] == nil && o.Vals["destination_cidr"] == nil:
		src, dst = netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("0.0.0.0/0")
	}
	r.SourceCIDR, r.DestinationCIDR = src, dst
	for _, k := range []struct {
		key    string
		lo, hi *int
	}{{"source_ports", &r.SourceFromPort, &r.SourceToPort}, {"destination_ports", &r.DestinationFromPort, &r.DestinationToPort}} {
		if n := o.Vals[k.key]; n != nil {
			if lo, hi, ok := p.ports(n, o.At(k.key)); ok {
				*k.lo, *k.hi = lo, hi
			}
		}
	}
	return r
}

// optPrefix reads an optional CIDR key of o.
func (p *parser) optPrefix(o yamlpos.Object, key string) (netip.Prefix, bool) {
	if o.Vals[key] == nil {
		return netip.Prefix{}, false
	}
	return p.prefix(o.Vals[key], o.At(key))
}

func zeroOf(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// readMirrorTargets reads the traffic_mirror_targets section.
func (p *parser) readMirrorTargets(n *yaml.Node) {
	items, _ := p.list(n, "traffic_mirror_targets")
	for i, item := range items.all() {
		t := &lab.MirrorTarget{Line: item.Line}
		p.l.MirrorTargets = append(p.l.MirrorTargets, t)
		o, id, ok := p.item(item, "traffic_mirror_targets", "traffic_mirror_targets", i, "a traffic mirror target", "id", "id", "eni", "pcap_file")
		if !ok {
			continue
		}
		t.ID = id
		if eniN := o.Vals["eni"]; eniN != nil {
			t.ENI, _ = p.id(eniN, o.At("eni"))
		}
		if fileN := o.Vals["pcap_file"]; fileN != nil {
			if f, ok := p.Scalar(fileN, o.At("pcap_file"), "a file name"); ok && f != "" {
				t.PcapFile = f
			} else if ok {
				p.Errorf(fileN, o.At("pcap_file"), "empty: give the pcap file the copies go to")
			}
		}
	}
}

// readMirrorSessions reads the traffic_mirror_sessions section.
func (p *parser) readMirrorSessions(n *yaml.Node) {
	items, _ := p.list(n, "traffic_mirror_sessions")
	for i, item := range items.all() {
		s := &lab.MirrorSession{Line: item.Line}
		p.l.MirrorSessions = append(p.l.MirrorSessions, s)
		o, id, ok := p.item(item, "traffic_mirror_sessions", "traffic_mirror_sessions", i, "a traffic mirror session", "id", "id", "number", "source",
			"target", "filter", "vni", "packet_length")
		if !ok {
			continue
		}
		s.ID = id
		p.integer(p.Need(o, "number", "a session needs a number, 1-32766 (the lowest matching session mirrors a packet)"), o.At("number"), "a session number", &s.Number)
		s.Source, _ = p.id(p.Need(o, "source", "a session needs a source interface"), o.At("source"))
		s.Target, _ = p.id(p.Need(o, "target", "a session needs a target (traffic_mirror_targets)"), o.At("target"))
		s.Filter, _ = p.id(p.Need(o, "filter", "a session needs a filter (traffic_mirror_filters)"), o.At("filter"))
		if s.Number > 0 && s.Number <= lab.MaxVNI {
			s.VNI = uint32(s.Number)
		}
		if v, ok := p.Integer(o.Vals["vni"], o.At("vni"), "a VXLAN network identifier", 0, lab.MaxVNI); ok {
			s.VNI = uint32(v)
		}
		p.integer(o.Vals["packet_length"], o.At("packet_length"), "a number of bytes to copy of each packet", &s.PacketLength)
	}
}
