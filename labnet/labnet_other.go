//go:build !linux

package labnet

import (
	"errors"
	"net"
	"os/exec"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// ErrBusy is returned (wrapped) by Up and Down when another Up of the same
// lab holds the lab's lock.
var ErrBusy = errors.New("labnet: the lab is already up")

// Net is a lab that is up; on this system, never.
type Net struct{ plan *Plan }

// Up reports errors.ErrUnsupported: live labs need Linux.
func Up(p *Plan) (*Net, error) { return nil, errors.ErrUnsupported }

// Down reports errors.ErrUnsupported: live labs need Linux.
func Down(p *Plan) error { return errors.ErrUnsupported }

// CheckFree reports errors.ErrUnsupported: live labs need Linux.
func CheckFree(p *Plan) error { return errors.ErrUnsupported }

// Check reports errors.ErrUnsupported: live labs need Linux.
func Check() error { return errors.ErrUnsupported }

// Start reports errors.ErrUnsupported: live labs need Linux.
func Start(ns *Namespace, cmd *exec.Cmd) error { return errors.ErrUnsupported }

// Exec reports errors.ErrUnsupported: live labs need Linux.
func Exec(ns *Namespace, argv, env []string) error { return errors.ErrUnsupported }

// Plan returns the Plan n was brought up from.
func (n *Net) Plan() *Plan { return n.plan }

// Attach reports errors.ErrUnsupported.
func (n *Net) Attach(l *Link, dev netlink.Link) error { return errors.ErrUnsupported }

// Configure reports errors.ErrUnsupported.
func (n *Net) Configure(l *Link) error { return errors.ErrUnsupported }

// Do reports errors.ErrUnsupported.
func (n *Net) Do(namespace string, fn func() error) error { return errors.ErrUnsupported }

// Namespace reports errors.ErrUnsupported.
func (n *Net) Namespace(name string) (netns.NsHandle, error) {
	return netns.None(), errors.ErrUnsupported
}

// Handle reports errors.ErrUnsupported.
func (n *Net) Handle(namespace string) (*netlink.Handle, error) { return nil, errors.ErrUnsupported }

// Close does nothing.
func (n *Net) Close() error { return nil }

// Veth reports errors.ErrUnsupported.
func (n *Net) Veth(l *Link, peer string, mac, peerMAC net.HardwareAddr) (int, error) {
	return 0, errors.ErrUnsupported
}

// RouterLinkUp reports errors.ErrUnsupported.
func (n *Net) RouterLinkUp(name string) (int, error) { return 0, errors.ErrUnsupported }
