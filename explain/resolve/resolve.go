// Package resolve turns the names a user gives the ends of a packet (an
// instance, an ENI id, an address) into where the packet enters or leaves a
// dataplane snapshot, for explain and policytest. It reads the snapshot
// through dataplane's exported methods and must not import explain or
// policytest (both import it).
package resolve

import (
	"fmt"
	"net/netip"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/verdict"
)

// Endpoint is one end of a packet as a user names it: where it enters or
// leaves the dataplane and which address it uses.
type Endpoint struct {
	Port verdict.Port
	Addr netip.Addr
	Name string // as shown: ENI id, "internet" or "vpc-service"
}

// Name turns a user's name for one end of a packet into an endpoint of IP
// family 4 or 6 (0: IPv4 unless name is an IPv6 address). name is an
// instance name (its first ENI), an ENI id, or an address: an ENI's
// address, a VPC service address (the built-in service), or any other
// address outside the VPC (behind the internet gateway).
func Name(s *dataplane.Snapshot, name string, family int) (Endpoint, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		a = a.Unmap()
		if family != 0 && familyOf(a) != family {
			return Endpoint{}, fmt.Errorf("%s is not an IPv%d address", name, family)
		}
		p := s.Owner(a)
		return Endpoint{Port: p, Addr: a, Name: s.PortName(p)}, nil
	}
	if family == 0 {
		family = 4
	}
	var id string
	if in := s.Lab.Instance(name); in != nil {
		id = in.Interfaces[0].ID
	} else if e := s.Lab.Interface(name); e != nil {
		id = e.ID
	} else {
		return Endpoint{}, fmt.Errorf("%q is not an instance, an ENI or an address of lab %s", name, s.Lab.File)
	}
	p, _ := s.Port(id)
	for _, a := range s.Addrs(p) {
		if familyOf(a) == family {
			return Endpoint{Port: p, Addr: a, Name: id}, nil
		}
	}
	return Endpoint{}, fmt.Errorf("%s has no IPv%d address", id, family)
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
