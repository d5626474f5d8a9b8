package live

import (
	"github.com/vishvananda/netns"

	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/tun"
)

// openDevice opens link's TUN device in namespace ns, asking for offloads,
// and returns it with the offloads the kernel agreed to.
func openDevice(ns netns.NsHandle, link *labnet.Link, offloads tun.Offload) (tun.Device, tun.Offload, error) {
	t, err := tun.OpenInNamespace(ns, tun.Config{Name: link.Name, MTU: link.MTU, Offloads: offloads})
	if err != nil {
		return nil, 0, err
	}
	return t, t.Offloads(), nil
}
