package live

import (
	"fmt"

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

// newPoller returns a tun.Poller for n devices.
func newPoller(n int) (poller, error) { return tun.NewPoller(n) }

// addToPoller adds dev, a TUN device, to p (a tun.Poller) as id.
func addToPoller(p poller, dev tun.Device, id int) error {
	t, ok := dev.(*tun.NativeTun)
	tp, ok2 := p.(*tun.Poller)
	if !ok || !ok2 {
		return fmt.Errorf("%s is not a TUN device", dev.Name())
	}
	return tp.Add(t, id)
}
