package labnet

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/vpclab/vpclab/lab"
)

// Defaults of Options.
const (
	DefaultPrefix      = "vpclab-"
	DefaultMTU         = 9001 // an ENI's MTU in AWS (jumbo frames inside the VPC)
	DefaultInternetMTU = 1500 // the path MTU through an internet gateway
	// RunDir holds the lock files. Namespaces live in NetnsDir.
	RunDir   = "/run/vpclab"
	NetnsDir = "/run/netns"
)

// Name separators: neither may occur in a lab id, an instance name or a
// prefix, which is what makes the names collision-safe.
const (
	instanceSep  = ":"
	internetName = "@internet"
	routerName   = "@router"
)

// Options adjust a Plan. The zero value means every default.
type Options struct {
	// ID names the lab in namespace and lock names. Default: the VPC id.
	ID string
	// Prefix starts every namespace and lock name; tests use their own so
	// they never touch a real lab. Default: DefaultPrefix.
	Prefix string
	// MTU of the ENI links (68-65535). Default: DefaultMTU.
	MTU int
	// InternetMTU is the MTU of the internet's link. Default:
	// DefaultInternetMTU.
	InternetMTU int
	// Router plans a router namespace, for the eBPF datapath: its ENI
	// links are veth pairs (Net.Veth) whose peers live there.
	Router bool
}

// Plan is what a lab looks like in the kernel. It is computed by NewPlan
// and read-only afterwards.
type Plan struct {
	ID     string // the lab id of the names
	Prefix string
	// Namespaces are the instances' in file order, then the internet's if
	// the lab has internet hosts.
	Namespaces []*Namespace
	// Router is the name of the router namespace (PREFIX LAB "@router")
	// when Options.Router asked for one, else empty. It holds no Link of
	// the Plan: the ENIs' peers and what the datapath adds are its maker's.
	Router string
}

// Namespace is one named network namespace.
type Namespace struct {
	// Name is the namespace's name: its bind mount is NetnsDir/Name and
	// `ip netns exec Name` enters it.
	Name string
	// Instance is the instance's name; empty for the internet's namespace.
	Instance string
	Links    []*Link
}

// Link is one link inside a namespace: an ENI, or the internet's link.
type Link struct {
	// ENI is the ENI's id, also set as the link's alias; empty for the
	// internet's link, whose alias is "internet".
	ENI       string
	Namespace string // the Name of the namespace holding the link
	Name      string // the link's name inside it (at most 15 bytes)
	MTU       int
	// Addrs are the link's addresses with their prefix lengths, IPv4
	// first: the ENI's primary, its secondaries, then its IPv6 addresses.
	Addrs  []netip.Prefix
	Routes []Route
}

// Alias returns the alias the link is given: the ENI id, or "internet".
func (l *Link) Alias() string {
	if l.ENI == "" {
		return "internet"
	}
	return l.ENI
}

// Route is a route through a link.
type Route struct {
	Dst netip.Prefix
	// Via is the gateway, always treated as on-link; the zero Addr means a
	// route straight out of the link (scope link).
	Via    netip.Addr
	Metric int
}

func (r Route) String() string {
	s := r.Dst.String()
	if r.Via.IsValid() {
		s += " via " + r.Via.String() + " onlink"
	}
	return fmt.Sprintf("%s metric %d", s, r.Metric)
}

// NewPlan computes the Plan of l. It fails only on names it cannot use (an
// Options.ID or Prefix outside letters, digits, '.', '_' and '-') or on a
// lab that validation should have refused.
func NewPlan(l *lab.Lab, o Options) (*Plan, error) {
	if o.ID == "" {
		o.ID = l.VPC.ID
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.MTU == 0 {
		o.MTU = DefaultMTU
	}
	if o.InternetMTU == 0 {
		o.InternetMTU = DefaultInternetMTU
	}
	if err := checkName("lab id", o.ID, 64); err != nil {
		return nil, err
	}
	if err := checkName("name prefix", o.Prefix, 32); err != nil {
		return nil, err
	}
	for _, m := range []int{o.MTU, o.InternetMTU} {
		if m < 68 || m > 65535 {
			return nil, fmt.Errorf("labnet: MTU %d is outside 68-65535", m)
		}
	}
	p := &Plan{ID: o.ID, Prefix: o.Prefix}
	if o.Router {
		p.Router = p.stem() + routerName
	}
	for _, in := range l.Instances {
		if err := checkName("instance name", in.Name, 64); err != nil {
			return nil, err
		}
		ns := &Namespace{Name: p.stem() + instanceSep + in.Name, Instance: in.Name}
		for k, eni := range in.Interfaces {
			link, err := eniLink(l, eni, k, o.MTU)
			if err != nil {
				return nil, err
			}
			link.Namespace = ns.Name
			ns.Links = append(ns.Links, link)
		}
		p.Namespaces = append(p.Namespaces, ns)
	}
	if len(l.Internet.Hosts) > 0 {
		ns := &Namespace{Name: p.stem() + internetName}
		ns.Links = []*Link{internetLink(l.Internet.Hosts, ns.Name, o.InternetMTU)}
		p.Namespaces = append(p.Namespaces, ns)
	}
	return p, nil
}

// eniLink plans the k-th ENI of an instance.
func eniLink(l *lab.Lab, eni *lab.Interface, k, mtu int) (*Link, error) {
	sub := l.Subnet(eni.Subnet)
	if sub == nil || !sub.CIDR.IsValid() || !sub.CIDR.Contains(eni.IP) {
		return nil, fmt.Errorf("labnet: ENI %s: %s is not in its subnet %s", eni.ID, eni.IP, eni.Subnet)
	}
	metric := 100 * (k + 1)
	link := &Link{
		ENI:    eni.ID,
		Name:   fmt.Sprintf("eth%d", k),
		MTU:    mtu,
		Routes: []Route{{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Via: sub.CIDR.Addr().Next(), Metric: metric}},
	}
	for _, a := range append([]netip.Addr{eni.IP}, eni.SecondaryIPs...) {
		link.Addrs = append(link.Addrs, netip.PrefixFrom(a, sub.CIDR.Bits()))
	}
	if len(eni.IPv6) > 0 {
		if !sub.IPv6CIDR.IsValid() {
			return nil, fmt.Errorf("labnet: ENI %s has IPv6 addresses but subnet %s has no IPv6 block", eni.ID, sub.ID)
		}
		for _, a := range eni.IPv6 {
			link.Addrs = append(link.Addrs, netip.PrefixFrom(a, sub.IPv6CIDR.Bits()))
		}
		link.Routes = append(link.Routes, Route{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Via: sub.IPv6CIDR.Addr().Next(), Metric: metric})
	}
	return link, nil
}

// internetLink plans the internet's link: every host address on one link,
// and on-link default routes for the families present.
func internetLink(hosts []netip.Addr, ns string, mtu int) *Link {
	link := &Link{Namespace: ns, Name: "eth0", MTU: mtu}
	var v4, v6 bool
	for _, h := range hosts {
		link.Addrs = append(link.Addrs, netip.PrefixFrom(h, h.BitLen()))
		v4, v6 = v4 || h.Is4(), v6 || h.Is6()
	}
	if v4 {
		link.Routes = append(link.Routes, Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Metric: 100})
	}
	if v6 {
		link.Routes = append(link.Routes, Route{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Metric: 100})
	}
	return link
}

// checkName accepts 1 to max letters, digits, '.', '_' and '-', except "."
// and "..".
func checkName(what, s string, max int) error {
	if s == "" || len(s) > max || s == "." || s == ".." {
		return fmt.Errorf("labnet: %s %q: want 1-%d letters, digits, '.', '_' or '-'", what, s, max)
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("labnet: %s %q: want 1-%d letters, digits, '.', '_' or '-'", what, s, max)
		}
	}
	return nil
}

// stem is what every name of the lab starts with, followed by instanceSep
// or internetName.
func (p *Plan) stem() string { return p.Prefix + p.ID }

// Owns reports whether a namespace name belongs to the lab, whether or not
// the Plan lists it (a leftover of a run of an older version of the lab
// file does too).
func (p *Plan) Owns(name string) bool {
	stem := p.stem()
	if len(name) <= len(stem) || name[:len(stem)] != stem {
		return false
	}
	rest := name[len(stem):]
	return rest == internetName || rest == routerName || rest[:1] == instanceSep && checkName("", rest[1:], 64) == nil
}

// LockPath is the file Up locks.
func (p *Plan) LockPath() string { return filepath.Join(RunDir, p.stem()+".lock") }

// SocketPath is where the running lab's control socket goes (package
// control serves it), next to its lock. Down removes one a killed run
// left.
func (p *Plan) SocketPath() string { return filepath.Join(RunDir, p.stem()+".sock") }

// Instance returns the namespace of the named instance, or nil.
func (p *Plan) Instance(name string) *Namespace {
	for _, ns := range p.Namespaces {
		if ns.Instance == name && name != "" {
			return ns
		}
	}
	return nil
}

// Internet returns the internet's namespace, or nil when the lab has no
// internet hosts.
func (p *Plan) Internet() *Namespace {
	if n := len(p.Namespaces); n > 0 && p.Namespaces[n-1].Instance == "" {
		return p.Namespaces[n-1]
	}
	return nil
}

// ENI returns the link of the ENI with the given id, or nil.
func (p *Plan) ENI(id string) *Link {
	for _, l := range p.Links() {
		if l.ENI == id && id != "" {
			return l
		}
	}
	return nil
}

// Links returns every link of the Plan: the ENIs in file order, then the
// internet's link. The caller makes one device for each and passes it to
// Net.Attach.
func (p *Plan) Links() []*Link {
	var out []*Link
	for _, ns := range p.Namespaces {
		out = append(out, ns.Links...)
	}
	return out
}
