package labfile

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// The keys of an instance and of an interface. An instance with exactly
// one interface may give the interface's keys itself instead of a list of
// interfaces.
var (
	instanceKeys  = []string{"name", "conntrack_allowance", "pps_allowance", "imds", "interfaces"}
	interfaceKeys = []string{"id", "subnet", "ip", "secondary_ips", "ipv6", "security_groups", "source_dest_check", "conntrack"}
)

// readInstances reads the instances section.
func (p *parser) readInstances(n *yaml.Node) {
	items, _ := p.list(n, "instances")
	for i, item := range items.all() {
		in := &lab.Instance{ConntrackAllowance: p.l.Settings.DefaultAllowance, PPSAllowance: p.l.Settings.PPSAllowance, IMDS: p.l.Settings.IMDS, Line: item.Line}
		p.l.Instances = append(p.l.Instances, in)
		o, name, ok := p.item(item, "instances", "instances", i, "an instance", "name", slices.Concat(instanceKeys, interfaceKeys)...)
		if !ok {
			continue
		}
		in.Name = name
		path := lab.ItemPath("instances", i, name)
		if v, ok := p.imds(o.Vals["imds"], o.At("imds")); ok {
			in.IMDS = v
		}
		p.integer(o.Vals["conntrack_allowance"], o.At("conntrack_allowance"), "a number of tracked flows", &in.ConntrackAllowance)
		p.integer(o.Vals["pps_allowance"], o.At("pps_allowance"), "packets per second (0: unlimited)", &in.PPSAllowance)
		var shorthand []string
		for _, k := range interfaceKeys {
			if o.Vals[k] != nil {
				shorthand = append(shorthand, k)
			}
		}
		switch list := o.Vals["interfaces"]; {
		case list != nil:
			for _, k := range shorthand {
				p.Errorf(o.Key(k), o.At(k), "%s belongs in an interface when the instance has interfaces (an instance without them is one interface, described by its own keys)", k)
			}
			ifaces, _ := p.list(list, o.At("interfaces"))
			in.Interfaces = []*lab.Interface{}
			for j, ifaceNode := range ifaces.all() {
				e := p.newInterface(ifaceNode, name)
				in.Interfaces = append(in.Interfaces, e)
				io, id, ok := p.item(ifaceNode, path+".interfaces", o.At("interfaces"), j, "an interface", "id", interfaceKeys...)
				if ok {
					e.ID = id
					p.iface(io, lab.ItemPath(path+".interfaces", j, id), e)
				}
			}
		case len(shorthand) > 0:
			e := p.newInterface(item, name)
			if n := o.Vals["id"]; n != nil {
				e.ID, _ = p.id(n, o.At("id"))
			} else if name != "" {
				e.ID = "eni-" + name
			}
			// The model's interface is the instance's own keys in the file.
			ipath := lab.ItemPath(path+".interfaces", 0, e.ID)
			p.at(ipath, o.Path, item)
			for _, k := range interfaceKeys {
				p.at(ipath+"."+k, o.At(k), o.Vals[k])
			}
			in.Interfaces = append(in.Interfaces, e)
			p.iface(o, ipath, e)
		default:
			p.Errorf(o.Node, o.At("interfaces"), "missing: an instance needs at least one interface: give interfaces, or subnet and ip for an instance with one interface")
		}
	}
}

// newInterface returns an interface of the named instance, from the file
// at n, with AWS's defaults.
func (p *parser) newInterface(n *yaml.Node, instance string) *lab.Interface {
	return &lab.Interface{Instance: instance, SecurityGroups: []string{sg.DefaultGroupID},
		SourceDestCheck: true, Conntrack: lab.DefaultConntrackTimeouts(), Line: n.Line}
}

// iface reads the keys of interface e, whose path in the model is path.
func (p *parser) iface(o yamlpos.Object, path string, e *lab.Interface) {
	e.Subnet, _ = p.id(p.Need(o, "subnet", "an interface needs a subnet"), o.At("subnet"))
	e.IP, _ = p.addr(p.Need(o, "ip", "an interface needs a primary private IPv4 address from its subnet"), o.At("ip"))
	e.SecondaryIPs = p.addrs(o, path, "secondary_ips")
	e.IPv6 = p.addrs(o, path, "ipv6")
	if items, ok := p.list(o.Vals["security_groups"], o.At("security_groups")); ok {
		e.SecurityGroups = make([]string, items.len())
		for j, gn := range items.all() {
			p.item1(path+".security_groups", o.At("security_groups"), j, gn)
			e.SecurityGroups[j], _ = p.id(gn, fmt.Sprintf("%s[%d]", o.At("security_groups"), j))
		}
	}
	if check, ok := p.Boolean(o.Vals["source_dest_check"], o.At("source_dest_check")); ok {
		e.SourceDestCheck = check
	}
	p.conntrack(o.Vals["conntrack"], path+".conntrack", o.At("conntrack"), &e.Conntrack)
}

// addrs reads a list of addresses of an interface.
func (p *parser) addrs(o yamlpos.Object, path, key string) []netip.Addr {
	items, _ := p.list(o.Vals[key], o.At(key))
	var as []netip.Addr
	for j, n := range items.all() {
		p.item1(path+"."+key, o.At(key), j, n)
		a, _ := p.addr(n, fmt.Sprintf("%s[%d]", o.At(key), j))
		as = append(as, a)
	}
	return as
}

// conntrack reads an interface's connection-tracking timeouts into c,
// which holds the defaults.
func (p *parser) conntrack(n *yaml.Node, path, filePath string, c *lab.ConntrackTimeouts) {
	timeouts := []struct {
		key string
		dst *time.Duration
	}{
		{"tcp_established_timeout", &c.TCPEstablished},
		{"udp_timeout", &c.UDP},
		{"udp_stream_timeout", &c.UDPStream},
	}
	known := make([]string, len(timeouts))
	for i, t := range timeouts {
		known[i] = t.key
	}
	o, ok := p.object(n, path, filePath, "connection-tracking timeouts", known...)
	if !ok {
		return
	}
	for _, t := range timeouts {
		p.duration(o.Vals[t.key], o.At(t.key), t.dst)
	}
}
