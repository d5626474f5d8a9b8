package labnet

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// The names of the address plan: the stable ids, MACs and host names
// vpclab derives from a lab's instance names, ENI ids and addresses, read
// by the services (metadata, DNS) and the mirror (VXLAN frames) alike.

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
