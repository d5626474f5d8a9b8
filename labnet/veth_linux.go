package labnet

import (
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
)

// The eBPF datapath's links: an ENI is a veth pair, its link in the
// instance's namespace and a peer in the router namespace (Plan.Router).

// Veth makes l's link a veth pair: l.Name in l's namespace with MAC mac,
// configured as Configure does and without ARP or neighbour discovery
// (like a TUN device it has no link layer to resolve: every packet goes to
// the peer), and peer in the router namespace with MAC peerMAC, up,
// without ARP. It returns the peer's ifindex in the router namespace.
func (n *Net) Veth(l *Link, peer string, mac, peerMAC net.HardwareAddr) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.state(l)
	if err != nil {
		return 0, err
	}
	rt := n.ns[n.plan.Router]
	if rt == nil {
		return 0, errors.New("labnet: the plan has no router namespace")
	}
	v := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: peer, MTU: l.MTU, HardwareAddr: peerMAC},
		PeerName:         l.Name,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(int(st.fd)),
	}
	if err := rt.h.LinkAdd(v); err != nil {
		return 0, fmt.Errorf("labnet: making the veth pair %s/%s for %s: %w", peer, l.Name, l.Alias(), err)
	}
	fail := func(err error) (int, error) {
		if p, lerr := rt.h.LinkByName(peer); lerr == nil {
			rt.h.LinkDel(p) // its other end goes with it
		}
		return 0, fmt.Errorf("labnet: veth %s (%s): %w", l.Name, l.Alias(), err)
	}
	eth, err := st.h.LinkByName(l.Name)
	if err != nil {
		return fail(err)
	}
	if err := st.h.LinkSetARPOff(eth); err != nil {
		return fail(err)
	}
	if err := configure(st.h, eth, l); err != nil {
		return fail(err)
	}
	p, err := rt.h.LinkByName(peer)
	if err != nil {
		return fail(err)
	}
	if err := rt.h.LinkSetARPOff(p); err != nil {
		return fail(err)
	}
	if err := rt.h.LinkSetUp(p); err != nil {
		return fail(err)
	}
	return p.Attrs().Index, nil
}

// RouterLinkUp sets the named link of the router namespace (a device its
// maker put there, such as a TUN device) up and returns its ifindex.
func (n *Net) RouterLinkUp(name string) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	rt := n.ns[n.plan.Router]
	if n.unlock == nil || rt == nil {
		return 0, errors.New("labnet: the router namespace is not up")
	}
	link, err := rt.h.LinkByName(name)
	if err == nil {
		err = rt.h.LinkSetUp(link)
	}
	if err != nil {
		return 0, fmt.Errorf("labnet: %s in namespace %s: %w", name, n.plan.Router, err)
	}
	return link.Attrs().Index, nil
}
