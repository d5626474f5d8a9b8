package lab

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/sg"
)

// The flow-log and traffic-mirroring sections (spec §7). Their references
// (resources, ENIs, filters, targets) are checked against what the file
// defines; the field names of a log format are checked by package flowlog,
// which knows them.

// Limits AWS sets on mirroring.
const (
	maxMirrorSessionsPerSource = 3
	maxVNI                     = 1<<24 - 1
	maxMirrorRule              = 32766
	maxPacketLength            = 65535
)

// logFormatToken is one field of a flow log format: ${name}.
var logFormatToken = regexp.MustCompile(`^\$\{[a-z0-9-]+\}$`)

// readFlowLogs reads the flow_logs section.
func (p *parser) readFlowLogs(n *yaml.Node) {
	items, _ := p.list(n, "flow_logs")
	seen := map[string]int{}
	for i, item := range items {
		o, id, ok := p.item(item, "flow_logs", i, "a flow log", "id", "id", "vpc", "subnet", "eni",
			"traffic_type", "max_aggregation_interval", "log_format", "destination")
		if !ok {
			continue
		}
		if first, dup := seen[id]; dup {
			p.redefined(o, id, first)
		} else if id != "" {
			seen[id] = item.Line
		}
		f := &FlowLog{ID: id, TrafficType: "ALL", MaxAggregationInterval: 600 * time.Second,
			Destination: "flowlogs", Line: item.Line}
		var resources []string
		for _, k := range []string{"vpc", "subnet", "eni"} {
			if o.Vals[k] != nil {
				resources = append(resources, k)
			}
		}
		switch len(resources) {
		case 0:
			p.Errorf(o.Node, o.At("vpc"), "missing: a flow log covers one resource: give vpc, subnet or eni")
		case 1:
			k := resources[0]
			rid, ok := p.id(o.Vals[k], o.At(k))
			if !ok {
				break
			}
			f.ResourceID = rid
			switch k {
			case "vpc":
				f.ResourceType = FlowLogVPC
				if p.l.VPC.ID != "" && rid != p.l.VPC.ID {
					p.Errorf(o.Vals[k], o.At(k), "no VPC %q: the lab's VPC is %s", rid, p.l.VPC.ID)
				}
			case "subnet":
				f.ResourceType = FlowLogSubnet
				if p.subnets[rid] == nil {
					unknownRef(p, o.Vals[k], o.At(k), "subnet", rid, p.subnets)
				}
			case "eni":
				f.ResourceType = FlowLogENI
				if _, ok := p.enis[rid]; !ok {
					unknownRef(p, o.Vals[k], o.At(k), "interface", rid, p.enis)
				}
			}
		default:
			for _, k := range resources[1:] {
				p.Errorf(o.Keys[k], o.At(k), "a flow log covers one resource: give one of vpc, subnet and eni, not %s", strings.Join(resources, " and "))
			}
		}
		if t, ok := p.Scalar(o.Vals["traffic_type"], o.At("traffic_type"), "ACCEPT, REJECT or ALL"); ok {
			switch up := strings.ToUpper(t); up {
			case "ACCEPT", "REJECT", "ALL":
				f.TrafficType = up
			default:
				p.Errorf(o.Vals["traffic_type"], o.At("traffic_type"), "%q is not a traffic type: use ACCEPT, REJECT or ALL", t)
			}
		}
		if d, ok := p.duration(o.Vals["max_aggregation_interval"], o.At("max_aggregation_interval"), time.Second, time.Hour); ok {
			if d != time.Minute && d != 10*time.Minute {
				p.Errorf(o.Vals["max_aggregation_interval"], o.At("max_aggregation_interval"), "%s is not an aggregation interval: AWS offers 60s and 600s", d)
			} else {
				f.MaxAggregationInterval = d
			}
		}
		if s, ok := p.Scalar(o.Vals["log_format"], o.At("log_format"), "fields such as ${srcaddr} separated by spaces"); ok {
			f.LogFormat = p.logFormat(o.Vals["log_format"], o.At("log_format"), s)
		}
		if s, ok := p.Scalar(o.Vals["destination"], o.At("destination"), "a directory"); ok {
			if s == "" {
				p.Errorf(o.Vals["destination"], o.At("destination"), "empty: give the directory the log files go to")
			} else {
				f.Destination = s
			}
		}
		p.l.FlowLogs = append(p.l.FlowLogs, f)
	}
}

// logFormat checks the syntax of a log format: ${field} tokens separated
// by single spaces, each field once.
func (p *parser) logFormat(n *yaml.Node, field, s string) string {
	tokens := strings.Fields(s)
	if len(tokens) == 0 {
		p.Errorf(n, field, "empty: give fields such as ${srcaddr}, or leave log_format out for AWS's default format")
		return ""
	}
	seen := map[string]bool{}
	for _, t := range tokens {
		switch {
		case !logFormatToken.MatchString(t):
			p.Errorf(n, field, "%q is not a field: write each field as ${name}, such as ${srcaddr}, separated by spaces", t)
			return ""
		case seen[t]:
			p.Errorf(n, field, "%s is given twice", t)
			return ""
		}
		seen[t] = true
	}
	return strings.Join(tokens, " ")
}

// readMirrorFilters reads the traffic_mirror_filters section.
func (p *parser) readMirrorFilters(n *yaml.Node) map[string]int {
	items, _ := p.list(n, "traffic_mirror_filters")
	seen := map[string]int{}
	for i, item := range items {
		o, id, ok := p.item(item, "traffic_mirror_filters", i, "a traffic mirror filter", "id", "id", "ingress", "egress")
		if !ok {
			continue
		}
		if first, dup := seen[id]; dup {
			p.redefined(o, id, first)
		} else if id != "" {
			seen[id] = item.Line
		}
		f := &MirrorFilter{ID: id, Line: item.Line}
		f.Ingress = p.mirrorRules(o, "ingress")
		f.Egress = p.mirrorRules(o, "egress")
		p.l.MirrorFilters = append(p.l.MirrorFilters, f)
	}
	return seen
}

// mirrorRules reads one direction of a mirror filter.
func (p *parser) mirrorRules(filter yamlpos.Object, dir string) []MirrorRule {
	items, _ := p.list(filter.Vals[dir], filter.At(dir))
	var rules []MirrorRule
	numbers := map[int]int{}
	for i, item := range items {
		path := fmt.Sprintf("%s[%d]", filter.At(dir), i)
		o, ok := p.Object(item, path, "a traffic mirror filter rule", "rule", "action", "protocol",
			"source_cidr", "destination_cidr", "source_ports", "destination_ports")
		if !ok {
			continue
		}
		r := MirrorRule{Protocol: ec2.ProtoAll, SourceToPort: 65535, DestinationToPort: 65535, Line: item.Line}
		if v, ok := p.Integer(p.Need(o, "rule", "a rule needs a number, 1-32766"), o.At("rule"), "a rule number", 1, maxMirrorRule); ok {
			if first, dup := numbers[v]; dup {
				p.Errorf(o.Vals["rule"], o.At("rule"), "rule %d is used twice in %s (first at line %d)", v, filter.At(dir), first)
			}
			numbers[v] = item.Line
			r.Number = v
		}
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
			r.Protocol, _ = p.protocol(o.Vals["protocol"], o.At("protocol"))
		}
		src, srcOK := p.optPrefix(o, "source_cidr")
		dst, dstOK := p.optPrefix(o, "destination_cidr")
		switch {
		case srcOK && dstOK && src.Addr().Is4() != dst.Addr().Is4():
			p.Errorf(o.Vals["destination_cidr"], o.At("destination_cidr"), "%s and source_cidr %s are of different families: a rule matches IPv4 or IPv6", dst, src)
		case srcOK && dstOK:
		case srcOK:
			dst = netip.PrefixFrom(zeroOf(src.Addr()), 0)
		case dstOK:
			src = netip.PrefixFrom(zeroOf(dst.Addr()), 0)
		default:
			src, dst = netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("0.0.0.0/0")
		}
		r.SourceCIDR, r.DestinationCIDR = src, dst
		for _, k := range []struct {
			key    string
			lo, hi *int
		}{{"source_ports", &r.SourceFromPort, &r.SourceToPort}, {"destination_ports", &r.DestinationFromPort, &r.DestinationToPort}} {
			n := o.Vals[k.key]
			if n == nil {
				continue
			}
			if !sg.PortsMatter(r.Protocol) {
				p.Errorf(o.Keys[k.key], o.At(k.key), "ports apply only to tcp and udp; %s has none to choose", protoName(r.Protocol))
				continue
			}
			if lo, hi, ok := p.ports(n, o.At(k.key)); ok {
				*k.lo, *k.hi = lo, hi
			}
		}
		rules = append(rules, r)
	}
	if rules == nil {
		rules = []MirrorRule{}
	}
	return rules
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
func (p *parser) readMirrorTargets(n *yaml.Node) map[string]*MirrorTarget {
	items, _ := p.list(n, "traffic_mirror_targets")
	seen := map[string]*MirrorTarget{}
	for i, item := range items {
		o, id, ok := p.item(item, "traffic_mirror_targets", i, "a traffic mirror target", "id", "id", "eni", "pcap_file")
		if !ok {
			continue
		}
		t := &MirrorTarget{ID: id, Line: item.Line}
		if first, dup := seen[id]; dup {
			p.redefined(o, id, first.Line)
		} else if id != "" {
			seen[id] = t
		}
		switch eniN, fileN := o.Vals["eni"], o.Vals["pcap_file"]; {
		case eniN != nil && fileN != nil:
			p.Errorf(o.Keys["pcap_file"], o.At("pcap_file"), "a target is an interface or a file: give eni or pcap_file, not both")
		case eniN != nil:
			if eni, ok := p.id(eniN, o.At("eni")); ok {
				if _, ok := p.enis[eni]; !ok {
					unknownRef(p, eniN, o.At("eni"), "interface", eni, p.enis)
				}
				t.ENI = eni
			}
		case fileN != nil:
			if f, ok := p.Scalar(fileN, o.At("pcap_file"), "a file name"); ok && f != "" {
				t.PcapFile = f
			} else if ok {
				p.Errorf(fileN, o.At("pcap_file"), "empty: give the pcap file the copies go to")
			}
		default:
			p.Errorf(o.Node, o.At("eni"), "missing: a target needs eni (an interface of the lab) or pcap_file")
		}
		p.l.MirrorTargets = append(p.l.MirrorTargets, t)
	}
	return seen
}

// readMirrorSessions reads the traffic_mirror_sessions section, after the
// filters and targets it names.
func (p *parser) readMirrorSessions(n *yaml.Node, filters map[string]int, targets map[string]*MirrorTarget) {
	items, _ := p.list(n, "traffic_mirror_sessions")
	seen := map[string]int{}
	bySource := map[string]map[int]int{} // source ENI → session number → line
	type targetUse struct {
		eni  string
		node *yaml.Node
		path string
	}
	var targetENIs []targetUse
	for i, item := range items {
		o, id, ok := p.item(item, "traffic_mirror_sessions", i, "a traffic mirror session", "id", "id", "number", "source",
			"target", "filter", "vni", "packet_length")
		if !ok {
			continue
		}
		if first, dup := seen[id]; dup {
			p.redefined(o, id, first)
		} else if id != "" {
			seen[id] = item.Line
		}
		s := &MirrorSession{ID: id, Line: item.Line}
		if v, ok := p.Integer(p.Need(o, "number", "a session needs a number, 1-32766 (the lowest matching session mirrors a packet)"), o.At("number"), "a session number", 1, maxMirrorRule); ok {
			s.Number = v
		}
		if src, ok := p.id(p.Need(o, "source", "a session needs a source interface"), o.At("source")); ok {
			if _, ok := p.enis[src]; !ok {
				unknownRef(p, o.Vals["source"], o.At("source"), "interface", src, p.enis)
			}
			s.Source = src
			nums := bySource[src]
			if nums == nil {
				nums = map[int]int{}
				bySource[src] = nums
			}
			switch first, dup := nums[s.Number]; {
			case s.Number != 0 && dup:
				p.Errorf(o.Vals["number"], o.At("number"), "%s already has session number %d (line %d): numbers are unique per source", src, s.Number, first)
			case len(nums) == maxMirrorSessionsPerSource:
				p.Errorf(o.Vals["source"], o.At("source"), "%s already has %d sessions, AWS's most per source interface", src, maxMirrorSessionsPerSource)
			default:
				nums[s.Number] = item.Line
			}
		}
		if tid, ok := p.id(p.Need(o, "target", "a session needs a target (traffic_mirror_targets)"), o.At("target")); ok {
			switch t := targets[tid]; {
			case t == nil:
				unknownRef(p, o.Vals["target"], o.At("target"), "traffic mirror target", tid, targets)
			case t.ENI != "" && t.ENI == s.Source:
				p.Errorf(o.Vals["target"], o.At("target"), "%s sends to %s, the source itself: a session's target is another interface", tid, t.ENI)
			case t.ENI != "":
				targetENIs = append(targetENIs, targetUse{t.ENI, o.Vals["target"], o.At("target")})
			}
			s.Target = tid
		}
		if fid, ok := p.id(p.Need(o, "filter", "a session needs a filter (traffic_mirror_filters)"), o.At("filter")); ok {
			if _, ok := filters[fid]; !ok {
				unknownRef(p, o.Vals["filter"], o.At("filter"), "traffic mirror filter", fid, filters)
			}
			s.Filter = fid
		}
		s.VNI = uint32(s.Number)
		if v, ok := p.Integer(o.Vals["vni"], o.At("vni"), "a VXLAN network identifier", 0, maxVNI); ok {
			s.VNI = uint32(v)
		}
		if v, ok := p.Integer(o.Vals["packet_length"], o.At("packet_length"), "a number of bytes to copy of each packet", 1, maxPacketLength); ok {
			s.PacketLength = v
		}
		p.l.MirrorSessions = append(p.l.MirrorSessions, s)
	}
	// AWS: an interface is a mirror source or a target, not both.
	for _, t := range targetENIs {
		if nums := bySource[t.eni]; len(nums) > 0 {
			p.Errorf(t.node, t.path, "%s is the source of a session too: an interface is a mirror source or a target, not both", t.eni)
		}
	}
}
