package dataplane

import (
	"fmt"
	"net/netip"

	"github.com/vpclab/vpclab/verdict"
)

// Endpoint is one end of a packet as a user names it: where it enters or
// leaves the dataplane and which address it uses.
type Endpoint struct {
	Port verdict.Port
	Addr netip.Addr
	Name string // as shown: ENI id, "internet" or "vpc-service"
}

// Resolve turns a user's name for one end of a packet into an endpoint of
// IP family 4 or 6 (0: IPv4 unless name is an IPv6 address). name is an
// instance name (its first ENI), an ENI id, or an address: an ENI's
// address, a VPC service address (the built-in service), or any other
// address outside the VPC (behind the internet gateway).
func (s *Snapshot) Resolve(name string, family int) (Endpoint, error) {
	if a, err := netip.ParseAddr(name); err == nil {
		a = a.Unmap()
		if family != 0 && familyOf(a) != family {
			return Endpoint{}, fmt.Errorf("%s is not an IPv%d address", name, family)
		}
		if d, ok := s.dests.get(a); ok {
			switch d.kind {
			case destENI:
				return Endpoint{Port: d.slot, Addr: a, Name: s.enis[d.slot].id}, nil
			case destService:
				return Endpoint{Port: verdict.PortService, Addr: a, Name: "vpc-service"}, nil
			}
		}
		if s.inVPC(a) {
			return Endpoint{Port: verdict.PortNone, Addr: a, Name: "-"}, nil
		}
		return Endpoint{Port: verdict.PortInternet, Addr: a, Name: "internet"}, nil
	}
	if family == 0 {
		family = 4
	}
	var eni *eniPolicy
	if in := s.Lab.Instance(name); in != nil {
		eni = s.enis[s.slotOf(in.Interfaces[0].ID)]
	} else if e := s.Lab.Interface(name); e != nil {
		eni = s.enis[s.slotOf(e.ID)]
	} else {
		return Endpoint{}, fmt.Errorf("%q is not an instance, an ENI or an address of lab %s", name, s.Lab.File)
	}
	for _, a := range eni.addrs {
		if familyOf(a) == family {
			return Endpoint{Port: eni.slot, Addr: a, Name: eni.id}, nil
		}
	}
	return Endpoint{}, fmt.Errorf("%s has no IPv%d address", eni.id, family)
}

func (s *Snapshot) slotOf(eniID string) verdict.Port {
	for _, e := range s.enis {
		if e != nil && e.id == eniID {
			return e.slot
		}
	}
	return verdict.PortNone
}

func familyOf(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}
