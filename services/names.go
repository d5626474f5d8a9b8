package services

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/lab"
)

// Domain is the DNS domain of instance names: web1.vpc.internal.
const Domain = "vpc.internal"

// InstanceID returns the stable instance id vpclab gives the instance
// with the given name: "i-" and 17 hex digits of SHA-256("vpclab/"+name),
// the shape of an AWS instance id.
func InstanceID(name string) string {
	h := sha256.Sum256([]byte("vpclab/" + name))
	return "i-" + hex.EncodeToString(h[:9])[:17]
}

// MAC returns the stable MAC address vpclab gives the ENI with the given
// id: 02 (locally administered, unicast) then five bytes of
// SHA-256("vpclab/"+id). Distinct ids collide with odds of 2^-40 per
// pair; New refuses a lab where two do.
func MAC(eniID string) net.HardwareAddr {
	h := sha256.Sum256([]byte("vpclab/" + eniID))
	return net.HardwareAddr{0x02, h[0], h[1], h[2], h[3], h[4]}
}

// Hostname returns the AWS private DNS name of an IPv4 address,
// "ip-10-0-1-10.ec2.internal" for 10.0.1.10 (the us-east-1 form), or ""
// for an address that is not IPv4.
func Hostname(a netip.Addr) string {
	a = a.Unmap()
	if !a.Is4() {
		return ""
	}
	b := a.As4()
	var s strings.Builder
	s.WriteString("ip-")
	for i, x := range b {
		if i > 0 {
			s.WriteByte('-')
		}
		s.WriteString(strconv.Itoa(int(x)))
	}
	s.WriteString(".ec2.internal")
	return s.String()
}

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
			e := &eni{Interface: ifc, inst: in, subnet: l.Subnet(ifc.Subnet), mac: MAC(ifc.ID).String(), index: i}
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
