package labfile

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

// Marshal writes l as a lab file that Parse reads back to the same lab
// (Line fields aside). It is how the importers write what they read, how
// a running lab shows the policy in force, and how a change to one rule
// is validated: by parsing the whole lab again.
//
// The file is explicit: every security group and network ACL lists its
// ingress and egress rules, an empty list written as [], so no default of
// the file format adds a rule the model does not have. Zero values are
// left out where the file format has a default for them (an empty account
// id, zero quotas or settings, a zero conntrack allowance), so a Lab built
// by hand (an importer's) need only fill in what it knows.
func Marshal(l *lab.Lab) ([]byte, error) {
	m := &marshaller{}
	root := mapping()
	root.add("vpc", m.vpc(l))
	if len(l.Subnets) > 0 {
		list := sequence()
		for _, s := range l.Subnets {
			list.Content = append(list.Content, m.subnet(s).flow())
		}
		root.add("subnets", list.Node)
	}
	if len(l.NetworkACLs) > 0 {
		list := sequence()
		for _, a := range l.NetworkACLs {
			list.Content = append(list.Content, m.acl(a))
		}
		root.add("network_acls", list.Node)
	}
	if len(l.PrefixLists) > 0 {
		list := sequence()
		for _, p := range l.PrefixLists {
			o := mapping()
			o.str("id", p.ID)
			if p.MaxEntries > 0 {
				o.num("max_entries", p.MaxEntries)
			}
			cidrs := sequence()
			for _, c := range p.CIDRs {
				cidrs.Content = append(cidrs.Content, scalar(c.String()))
			}
			o.add("cidrs", cidrs.flow())
			list.Content = append(list.Content, o.Node)
		}
		root.add("prefix_lists", list.Node)
	}
	if len(l.SecurityGroups) > 0 {
		list := sequence()
		for _, g := range l.SecurityGroups {
			list.Content = append(list.Content, m.group(g))
		}
		root.add("security_groups", list.Node)
	}
	if len(l.Instances) > 0 {
		list := sequence()
		for _, in := range l.Instances {
			list.Content = append(list.Content, m.instance(in, l.Settings.PPSAllowance))
		}
		root.add("instances", list.Node)
	}
	if len(l.Internet.Hosts) > 0 {
		hosts := sequence()
		for _, h := range l.Internet.Hosts {
			hosts.Content = append(hosts.Content, scalar(h.String()))
		}
		o := mapping()
		o.add("hosts", hosts.flow())
		root.add("internet", o.Node)
	}
	if l.Quotas != (lab.Quotas{}) {
		q := mapping()
		q.num("nacl_entries", l.Quotas.NACLEntries)
		q.num("sg_rules", l.Quotas.SGRules)
		q.num("sgs_per_eni", l.Quotas.SGsPerENI)
		q.num("rules_times_sgs", l.Quotas.RulesTimesSGs)
		if l.Quotas.SGsPerVPC != 0 {
			q.num("sgs_per_vpc", l.Quotas.SGsPerVPC)
		}
		root.add("quotas", q.Node)
	}
	if l.Settings != (lab.Settings{}) {
		root.add("settings", settingsNode(l.Settings))
	}
	if len(l.FlowLogs) > 0 {
		list := sequence()
		for _, f := range l.FlowLogs {
			list.Content = append(list.Content, m.flowLog(f))
		}
		root.add("flow_logs", list.Node)
	}
	if len(l.MirrorFilters) > 0 {
		list := sequence()
		for _, f := range l.MirrorFilters {
			o := mapping()
			o.str("id", f.ID)
			o.add("ingress", mirrorRules(f.Ingress))
			o.add("egress", mirrorRules(f.Egress))
			list.Content = append(list.Content, o.Node)
		}
		root.add("traffic_mirror_filters", list.Node)
	}
	if len(l.MirrorTargets) > 0 {
		list := sequence()
		for _, t := range l.MirrorTargets {
			o := mapping()
			o.str("id", t.ID)
			if t.ENI != "" {
				o.str("eni", t.ENI)
			}
			m.checkText(t.PcapFile)
			if t.PcapFile != "" {
				o.str("pcap_file", t.PcapFile)
			}
			list.Content = append(list.Content, o.flow())
		}
		root.add("traffic_mirror_targets", list.Node)
	}
	if len(l.MirrorSessions) > 0 {
		list := sequence()
		for _, s := range l.MirrorSessions {
			o := mapping()
			o.str("id", s.ID)
			o.num("number", s.Number)
			o.str("source", s.Source)
			o.str("target", s.Target)
			o.str("filter", s.Filter)
			o.num("vni", int(s.VNI))
			if s.PacketLength > 0 {
				o.num("packet_length", s.PacketLength)
			}
			list.Content = append(list.Content, o.flow())
		}
		root.add("traffic_mirror_sessions", list.Node)
	}
	if len(l.Tags) > 0 {
		root.add("tags", m.tags(l.Tags).Node)
	}
	if m.err != nil {
		return nil, m.err
	}
	var buf bytes.Buffer
	buf.Grow(1 << 16)
	writeBlockMapping(&buf, root.Node, 0)
	return buf.Bytes(), nil
}

// The writer of the document Marshal builds. yaml.v3's encoder takes
// quadratic time on long flow sequences (a 10,000-rule lab took 0.3 s),
// and the document uses a small part of YAML: block mappings and
// sequences, flow mappings and sequences of scalars, and scalars plain
// or double-quoted. So Marshal writes it itself.

func writeBlockMapping(b *bytes.Buffer, n *yaml.Node, indent int) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if i > 0 {
			writeIndent(b, indent)
		}
		writeKeyValue(b, n.Content[i], n.Content[i+1], indent)
	}
}

func writeKeyValue(b *bytes.Buffer, k, v *yaml.Node, indent int) {
	writeScalar(b, k)
	b.WriteByte(':')
	switch {
	case v.Kind == yaml.ScalarNode || v.Style == yaml.FlowStyle || len(v.Content) == 0:
		b.WriteByte(' ')
		writeFlow(b, v)
		b.WriteByte('\n')
	case v.Kind == yaml.MappingNode:
		b.WriteByte('\n')
		writeIndent(b, indent+2)
		writeBlockMapping(b, v, indent+2)
	default: // a block sequence
		b.WriteByte('\n')
		for _, item := range v.Content {
			writeIndent(b, indent+2)
			b.WriteString("- ")
			if item.Kind == yaml.MappingNode && item.Style != yaml.FlowStyle && len(item.Content) > 0 {
				writeBlockMapping(b, item, indent+4)
			} else {
				writeFlow(b, item)
				b.WriteByte('\n')
			}
		}
	}
}

func writeFlow(b *bytes.Buffer, n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				b.WriteString(", ")
			}
			writeScalar(b, n.Content[i])
			b.WriteString(": ")
			writeFlow(b, n.Content[i+1])
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, item := range n.Content {
			if i > 0 {
				b.WriteString(", ")
			}
			writeFlow(b, item)
		}
		b.WriteByte(']')
	default:
		writeScalar(b, n)
	}
}

// writeScalar writes a scalar plain, or double-quoted with Go's escapes,
// all of which YAML's double-quoted style shares (\", \\, \n, \t, \xXX,
// \uXXXX, \UXXXXXXXX, …).
func writeScalar(b *bytes.Buffer, n *yaml.Node) {
	if n.Style == yaml.DoubleQuotedStyle {
		b.WriteString(strconv.Quote(n.Value))
		return
	}
	b.WriteString(n.Value)
}

func writeIndent(b *bytes.Buffer, n int) {
	for range n {
		b.WriteByte(' ')
	}
}

// marshaller keeps the first error met while building the document.
type marshaller struct{ err error }

func (m *marshaller) errorf(format string, args ...any) {
	if m.err == nil {
		m.err = fmt.Errorf("lab: "+format, args...)
	}
}

func (m *marshaller) vpc(l *lab.Lab) *yaml.Node {
	o := mapping()
	o.str("id", l.VPC.ID)
	o.prefix("cidr", l.VPC.CIDR)
	o.prefix("ipv6_cidr", l.VPC.IPv6CIDR)
	if l.VPC.AccountID != "" {
		o.str("account_id", l.VPC.AccountID)
	}
	if l.VPC.Region != "" {
		o.str("region", l.VPC.Region)
	}
	return o.flow()
}

func (m *marshaller) subnet(s *lab.Subnet) node {
	o := mapping()
	o.str("id", s.ID)
	o.prefix("cidr", s.CIDR)
	o.prefix("ipv6_cidr", s.IPv6CIDR)
	if s.NetworkACL != "" {
		o.str("network_acl", s.NetworkACL)
	}
	if s.Public {
		o.add("public", boolean(true))
	}
	if s.AvailabilityZone != "" {
		o.str("availability_zone", s.AvailabilityZone)
	}
	if s.AZID != "" {
		o.str("az_id", s.AZID)
	}
	return o
}

func (m *marshaller) acl(a *nacl.ACL) *yaml.Node {
	o := mapping()
	o.str("id", a.ID)
	for _, dir := range []struct {
		key     string
		entries []nacl.Entry
	}{{"ingress", a.Ingress}, {"egress", a.Egress}} {
		list := sequence()
		for _, e := range dir.entries {
			eo := mapping()
			eo.num("rule", e.Rule)
			if e.Allow {
				eo.str("action", "allow")
			} else {
				eo.str("action", "deny")
			}
			m.traffic(&eo, e.Protocol, e.FromPort, e.ToPort, e.ICMPType, e.ICMPCode)
			eo.prefix("cidr", e.CIDR)
			list.Content = append(list.Content, eo.flow())
		}
		o.add(dir.key, list.Node)
	}
	return o.Node
}

func (m *marshaller) group(g *sg.Group) *yaml.Node {
	o := mapping()
	o.str("id", g.ID)
	m.checkText(g.Description)
	if g.Description != "" {
		o.str("description", g.Description)
	}
	for _, dir := range []struct {
		key   string
		rules []sg.Rule
	}{{"ingress", g.Ingress}, {"egress", g.Egress}} {
		list := sequence()
		for _, r := range dir.rules {
			ro := mapping()
			if r.ID != "" {
				ro.str("id", r.ID)
			}
			m.traffic(&ro, r.Protocol, r.FromPort, r.ToPort, r.ICMPType, r.ICMPCode)
			switch {
			case r.Group != "":
				ro.str("group", r.Group)
			case r.PrefixList != "":
				ro.str("prefix_list", r.PrefixList)
			default:
				ro.prefix("cidr", r.CIDR)
			}
			m.checkText(r.Description)
			if r.Description != "" {
				ro.str("description", r.Description)
			}
			list.Content = append(list.Content, ro.flow())
		}
		o.add(dir.key, list.Node)
	}
	return o.Node
}

// traffic writes protocol, ports and ICMP type and code, leaving out the
// match-all values.
func (m *marshaller) traffic(o *node, proto, from, to, typ, code int) {
	o.str("protocol", protoText(proto))
	if sg.PortsMatter(proto) && (from != 0 || to != 65535) {
		o.str("ports", portRange(from, to))
	}
	if sg.ICMPMatters(proto) {
		if typ != -1 {
			o.num("icmp_type", typ)
		}
		if code != -1 {
			o.num("icmp_code", code)
		}
	}
}

// protoText writes a protocol as the file format reads it.
func protoText(proto int) string {
	s, _ := ec2.ProtocolName(proto)
	return s
}

func portRange(from, to int) string {
	if from == to {
		return strconv.Itoa(from)
	}
	return strconv.Itoa(from) + "-" + strconv.Itoa(to)
}

// instance writes in; its packet-rate allowance only where it differs
// from the lab's (pps, which a parsed instance starts from).
func (m *marshaller) instance(in *lab.Instance, pps int) *yaml.Node {
	o := mapping()
	o.str("name", in.Name)
	if in.ConntrackAllowance > 0 {
		o.num("conntrack_allowance", in.ConntrackAllowance)
	}
	if in.PPSAllowance != pps {
		o.num("pps_allowance", in.PPSAllowance)
	}
	if in.IMDS != "" {
		o.str("imds", in.IMDS)
	}
	list := sequence()
	for _, e := range in.Interfaces {
		eo := mapping()
		eo.str("id", e.ID)
		eo.str("subnet", e.Subnet)
		eo.addr("ip", e.IP)
		if len(e.SecondaryIPs) > 0 {
			eo.add("secondary_ips", addrs(e.SecondaryIPs))
		}
		if len(e.IPv6) > 0 {
			eo.add("ipv6", addrs(e.IPv6))
		}
		if len(e.SecurityGroups) > 0 {
			gs := sequence()
			for _, g := range e.SecurityGroups {
				gs.Content = append(gs.Content, scalar(g))
			}
			eo.add("security_groups", gs.flow())
		}
		eo.add("source_dest_check", boolean(e.SourceDestCheck))
		if e.Conntrack != (lab.ConntrackTimeouts{}) {
			c := mapping()
			for _, t := range []struct {
				key string
				d   time.Duration
			}{{"tcp_established_timeout", e.Conntrack.TCPEstablished}, {"udp_timeout", e.Conntrack.UDP}, {"udp_stream_timeout", e.Conntrack.UDPStream}} {
				if t.d != 0 {
					c.duration(t.key, t.d)
				}
			}
			eo.add("conntrack", c.flow())
		}
		list.Content = append(list.Content, eo.flow())
	}
	o.add("interfaces", list.Node)
	if in.Line == 0 && len(in.Interfaces) == 0 {
		m.errorf("instance %s has no interface", in.Name)
	}
	return o.Node
}

func settingsNode(s lab.Settings) *yaml.Node {
	o := mapping()
	o.add("secondary_ips_in_group_refs", boolean(s.SecondaryIPsInGroupRefs))
	o.add("untracked_across_groups", boolean(s.UntrackedAcrossGroups))
	o.add("admit_related_icmp", boolean(s.AdmitRelatedICMP))
	if s.DefaultAllowance > 0 {
		o.num("default_allowance", s.DefaultAllowance)
	}
	if s.PPSAllowance > 0 {
		o.num("pps_allowance", s.PPSAllowance)
	}
	if s.IMDS != "" {
		o.str("imds", s.IMDS)
	}
	if s.Datapath != "" {
		o.str("datapath", s.Datapath)
	}
	for _, t := range []struct {
		key string
		d   time.Duration
	}{
		{"tcp_syn_sent", s.TCPSynSent}, {"tcp_syn_recv", s.TCPSynRecv}, {"tcp_fin_wait", s.TCPFinWait},
		{"tcp_close_wait", s.TCPCloseWait}, {"tcp_time_wait", s.TCPTimeWait}, {"tcp_last_ack", s.TCPLastAck},
		{"tcp_close", s.TCPClose}, {"icmp", s.ICMP}, {"fragment_timeout", s.FragmentTimeout},
	} {
		if t.d != 0 {
			o.duration(t.key, t.d)
		}
	}
	return o.Node
}

func (m *marshaller) flowLog(f *lab.FlowLog) *yaml.Node {
	o := mapping()
	o.str("id", f.ID)
	switch f.ResourceType {
	case lab.FlowLogVPC:
		o.str("vpc", f.ResourceID)
	case lab.FlowLogSubnet:
		o.str("subnet", f.ResourceID)
	case lab.FlowLogENI:
		o.str("eni", f.ResourceID)
	default:
		m.errorf("flow log %s: resource type %q is not vpc, subnet or network-interface", f.ID, f.ResourceType)
	}
	if f.TrafficType != "" {
		o.str("traffic_type", f.TrafficType)
	}
	if f.MaxAggregationInterval != 0 {
		o.duration("max_aggregation_interval", f.MaxAggregationInterval)
	}
	m.checkText(f.LogFormat)
	m.checkText(f.Destination)
	if f.LogFormat != "" {
		o.str("log_format", f.LogFormat)
	}
	if f.Destination != "" {
		o.str("destination", f.Destination)
	}
	return o.flow()
}

func mirrorRules(rules []lab.MirrorRule) *yaml.Node {
	list := sequence()
	for _, r := range rules {
		o := mapping()
		o.num("rule", r.Number)
		if r.Accept {
			o.str("action", "accept")
		} else {
			o.str("action", "reject")
		}
		o.str("protocol", protoText(r.Protocol))
		o.prefix("source_cidr", r.SourceCIDR)
		o.prefix("destination_cidr", r.DestinationCIDR)
		if sg.PortsMatter(r.Protocol) {
			if r.SourceFromPort != 0 || r.SourceToPort != 65535 {
				o.str("source_ports", portRange(r.SourceFromPort, r.SourceToPort))
			}
			if r.DestinationFromPort != 0 || r.DestinationToPort != 65535 {
				o.str("destination_ports", portRange(r.DestinationFromPort, r.DestinationToPort))
			}
		}
		list.Content = append(list.Content, o.flow())
	}
	return list.Node
}

// duration writes a duration as a number of seconds when it is whole
// (30 reads back as 30s), else in Go's notation.
func (n node) duration(key string, d time.Duration) {
	if d%time.Second == 0 {
		n.num(key, int(d/time.Second))
		return
	}
	n.str(key, d.String())
}

// node is a YAML node under construction.
type node struct{ *yaml.Node }

func mapping() node  { return node{&yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}} }
func sequence() node { return node{&yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}} }

func (m *marshaller) checkText(s string) {
	if !utf8.ValidString(s) {
		m.errorf("%q is not UTF-8, which a lab file is", s)
	}
}

func scalar(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if !plainSafe(s) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// plainSafe reports a string that reads back as the same string when
// written plain: an IPv4 address or block, or a word starting with a
// letter, made of letters, digits and ._/- and not one of YAML's
// booleans or nulls. Anything else is quoted, which is always safe (and
// cheap: this runs for every scalar of a 100,000-rule lab).
func plainSafe(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c >= '0' && c <= '9' {
		if a, err := netip.ParseAddr(s); err == nil {
			return a.Is4()
		}
		p, err := netip.ParsePrefix(s)
		return err == nil && p.Addr().Is4()
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-'):
		default:
			return false
		}
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "y", "n", "null":
		return false
	}
	return true
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func (n node) add(key string, v *yaml.Node) {
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
}

func (n node) str(key, v string) { n.add(key, scalar(v)) }

func (n node) num(key string, v int) {
	n.add(key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)})
}

func (n node) prefix(key string, p netip.Prefix) {
	if p.IsValid() {
		n.str(key, p.String())
	}
}

func (n node) addr(key string, a netip.Addr) {
	if a.IsValid() {
		n.str(key, a.String())
	}
}

func addrs(as []netip.Addr) *yaml.Node {
	list := sequence()
	for _, a := range as {
		list.Content = append(list.Content, scalar(a.String()))
	}
	return list.flow()
}

// flow sets n to flow style ({a: 1, b: 2}) and returns it.
func (n node) flow() *yaml.Node {
	n.Style = yaml.FlowStyle
	return n.Node
}
