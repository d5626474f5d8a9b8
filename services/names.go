package services

import (
	"net/netip"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
)

// eni is what the services know of one ENI.
type eni struct {
	*lab.Interface
	inst   *lab.Instance
	subnet *lab.Subnet
	mac    string   // as IMDS shows it: "02:ab:…"
	index  int      // device number in its instance
	v4     []string // IPv4 addresses, primary first, as strings
}

// directory indexes a lab's ENIs by address and MAC. It is built once and
// read only.
type directory struct {
	l      *lab.Lab
	byAddr map[netip.Addr]*eni
	byMAC  map[string]*eni
	byInst map[string][]*eni // ENIs of each instance, in file order
}

func newDirectory(l *lab.Lab) (*directory, error) {
	d := &directory{l: l, byAddr: map[netip.Addr]*eni{}, byMAC: map[string]*eni{}, byInst: map[string][]*eni{}}
	for _, in := range l.Instances {
		for i, ifc := range in.Interfaces {
			e := &eni{Interface: ifc, inst: in, subnet: l.Subnet(ifc.Subnet), mac: labnet.MAC(ifc.ID).String(), index: i}
			if o, dup := d.byMAC[e.mac]; dup {
				return nil, &macCollision{a: o.ID, b: ifc.ID}
			}
			d.byMAC[e.mac] = e
			for _, a := range ifc.Addrs() {
				d.byAddr[a] = e
				if a.Is4() {
					e.v4 = append(e.v4, a.String())
				}
			}
			d.byInst[in.Name] = append(d.byInst[in.Name], e)
		}
	}
	return d, nil
}

// primary returns the instance's first ENI, or nil if it has none.
func (d *directory) primary(inst string) *eni {
	if es := d.byInst[inst]; len(es) > 0 {
		return es[0]
	}
	return nil
}

type macCollision struct{ a, b string }

func (e *macCollision) Error() string {
	return "services: ENIs " + e.a + " and " + e.b + " derive the same MAC; rename one"
}
