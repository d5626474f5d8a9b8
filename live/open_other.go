//go:build !linux

package live

import (
	"errors"

	"github.com/vishvananda/netns"

	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/tun"
)

// openDevice reports that TUN devices are Linux-only; labnet.Up fails
// before it is reached.
func openDevice(netns.NsHandle, *labnet.Link, tun.Offload) (tun.Device, tun.Offload, error) {
	return nil, 0, errors.ErrUnsupported
}

// newPoller reports that pollers are Linux-only.
func newPoller(int) (poller, error) { return nil, errors.ErrUnsupported }

// addToPoller reports that pollers are Linux-only.
func addToPoller(poller, tun.Device, int) error { return errors.ErrUnsupported }
