package labnet

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrBusy is returned (wrapped) by Up and Down when another Up of the same
// lab, in this process or another, holds the lab's lock.
var ErrBusy = errors.New("labnet: the lab is already up")

// Net is a lab that is up: its namespaces exist, with loopback up, and the
// lab's lock is held. Attach fills them with links. Close takes it all
// down again. Its methods are safe for concurrent use.
type Net struct {
	plan *Plan

	mu     sync.Mutex
	unlock func()         // nil once closed
	hostNS netns.NsHandle // the namespace of the caller of Up
	host   *netlink.Handle
	ns     map[string]*nsState // by namespace name
}

type nsState struct {
	fd netns.NsHandle
	h  *netlink.Handle
}

// Up takes the lab's lock, removes what a crashed run of the lab left
// behind (as Down), and makes the Plan's namespaces with loopback up. It
// fails with ErrBusy while another Up of the lab holds the lock. On any
// other failure it leaves nothing behind.
func Up(p *Plan) (*Net, error) {
	if err := checkPrivileges(); err != nil {
		return nil, err
	}
	unlock, err := lock(p)
	if err != nil {
		return nil, err
	}
	n := &Net{plan: p, unlock: unlock, hostNS: netns.None(), ns: make(map[string]*nsState)}
	if err := n.up(); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return n, nil
}

func (n *Net) up() error {
	if err := removeAll(n.plan); err != nil {
		return err
	}
	runtime.LockOSThread() // netns.Get reads the calling thread's namespace
	hostNS, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("labnet: opening the current namespace: %w", err)
	}
	n.hostNS = hostNS
	if n.host, err = netlink.NewHandleAt(hostNS, unix.NETLINK_ROUTE); err != nil {
		return fmt.Errorf("labnet: netlink in the current namespace: %w", err)
	}
	for _, ns := range n.plan.Namespaces {
		if err := n.makeNamespace(ns.Name); err != nil {
			return err
		}
	}
	if n.plan.Router != "" {
		if err := n.makeNamespace(n.plan.Router); err != nil {
			return err
		}
		// The router speaks no IPv6 of its own on the peers (no router
		// solicitation, no MLD report reaches an instance).
		err := n.do(n.plan.Router, func() error {
			return os.WriteFile("/proc/sys/net/ipv6/conf/default/disable_ipv6", []byte("1"), 0)
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) { // a kernel without IPv6 has nothing to disable
			return fmt.Errorf("labnet: namespace %s: disabling IPv6: %w", n.plan.Router, err)
		}
	}
	return nil
}

// makeNamespace creates the named namespace with loopback up.
func (n *Net) makeNamespace(name string) error {
	if err := createNamed(name); err != nil {
		return err
	}
	st := &nsState{fd: netns.None()}
	n.ns[name] = st
	var err error
	if st.fd, err = openNamed(name); err != nil {
		return err
	}
	if st.h, err = netlink.NewHandleAt(st.fd, unix.NETLINK_ROUTE); err != nil {
		return fmt.Errorf("labnet: netlink in namespace %s: %w", name, err)
	}
	lo, err := st.h.LinkByName("lo")
	if err == nil {
		err = st.h.LinkSetUp(lo)
	}
	if err != nil {
		return fmt.Errorf("labnet: namespace %s: loopback: %w", name, err)
	}
	return nil
}

// Plan returns the Plan n was brought up from.
func (n *Net) Plan() *Plan { return n.plan }

// Attach moves dev, a link in the namespace of the caller of Up (such as a
// TUN device the caller made), into l's namespace and configures it as l
// says: name, alias, MTU, up, addresses (IPv6 without duplicate address
// detection), routes. l must be one of n.Plan().Links().
//
// dev keeps its name while it moves, so it must not be named like a link
// already in the namespace (lo, or an ENI link already attached); a
// kernel-chosen name such as tun3 is always safe. If configuring fails,
// dev is deleted so that no half-configured link stays.
func (n *Net) Attach(l *Link, dev netlink.Link) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.state(l)
	if err != nil {
		return err
	}
	old := dev.Attrs().Name
	if err := n.host.LinkSetNsFd(dev, int(st.fd)); err != nil {
		return fmt.Errorf("labnet: moving %s into namespace %s for %s: %w", old, l.Namespace, l.Alias(), err)
	}
	moved, err := st.h.LinkByName(old)
	if err != nil {
		return fmt.Errorf("labnet: %s in namespace %s: %w", old, l.Namespace, err)
	}
	if err := configure(st.h, moved, l); err != nil {
		if delErr := st.h.LinkDel(moved); delErr != nil {
			err = errors.Join(err, fmt.Errorf("deleting it: %w", delErr))
		}
		return fmt.Errorf("labnet: configuring %s as %s in namespace %s: %w", old, l.Alias(), l.Namespace, err)
	}
	return nil
}

// Configure configures a link already in l's namespace under the name
// l.Name, such as a TUN device made by tun.OpenInNamespace with the handle
// of Namespace(l.Namespace), l.Name and l.MTU: alias, MTU, up, addresses,
// routes, as Attach does. l must be one of n.Plan().Links(). The link is
// left as it is if configuring fails: its maker owns it.
func (n *Net) Configure(l *Link) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	st, err := n.state(l)
	if err != nil {
		return err
	}
	link, err := st.h.LinkByName(l.Name)
	if err == nil {
		err = configure(st.h, link, l)
	}
	if err != nil {
		return fmt.Errorf("labnet: configuring %s (%s) in namespace %s: %w", l.Name, l.Alias(), l.Namespace, err)
	}
	return nil
}

// state returns the state of l's namespace, if l is n's and n is up.
func (n *Net) state(l *Link) (*nsState, error) {
	if n.unlock == nil {
		return nil, errors.New("labnet: the lab is closed")
	}
	st := n.ns[l.Namespace]
	if st == nil || !slices.Contains(n.plan.Links(), l) {
		return nil, fmt.Errorf("labnet: link %s (%s) is not in the plan", l.Name, l.Alias())
	}
	return st, nil
}

// configure gives link, in h's namespace, what l says.
func configure(h *netlink.Handle, link netlink.Link, l *Link) error {
	if link.Attrs().Name != l.Name {
		if err := h.LinkSetName(link, l.Name); err != nil {
			return fmt.Errorf("renaming to %s: %w", l.Name, err)
		}
	}
	if err := h.LinkSetAlias(link, l.Alias()); err != nil {
		return fmt.Errorf("alias: %w", err)
	}
	if err := h.LinkSetMTU(link, l.MTU); err != nil {
		return fmt.Errorf("MTU %d: %w", l.MTU, err)
	}
	// No IPv6 link-local address: an ENI has none in a VPC, and without
	// one the kernel sends no router solicitation from fe80::/10 when the
	// link comes up, which the dataplane would count, log and capture as
	// a spoofed packet (src-dst-check).
	if err := h.LinkSetIP6AddrGenMode(link, 1); err != nil { // IN6_ADDR_GEN_MODE_NONE
		return fmt.Errorf("IPv6 address generation: %w", err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("up: %w", err)
	}
	for _, a := range l.Addrs {
		addr := &netlink.Addr{IPNet: ipNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := h.AddrReplace(link, addr); err != nil {
			return fmt.Errorf("address %s: %w", a, err)
		}
	}
	for _, r := range l.Routes {
		route := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: ipNet(r.Dst), Priority: r.Metric}
		if r.Via.IsValid() {
			route.Gw = r.Via.AsSlice()
			route.SetFlag(netlink.FLAG_ONLINK)
		} else {
			route.Scope = netlink.SCOPE_LINK
		}
		if err := h.RouteReplace(route); err != nil {
			return fmt.Errorf("route %s: %w", r, err)
		}
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Namespace returns a handle of the named namespace of the lab, such as
// tun.OpenInNamespace takes. It is valid until Close; do not close it.
func (n *Net) Namespace(name string) (netns.NsHandle, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.ns[name]
	if n.unlock == nil || st == nil {
		return netns.None(), fmt.Errorf("labnet: namespace %s is not up", name)
	}
	return st.fd, nil
}

// Do runs fn on an OS thread inside the named namespace of the lab and
// then switches the thread back (if that fails, the thread ends with its
// goroutine and never runs other code). Sockets fn opens belong to that
// namespace for good and may be used from any goroutine.
func (n *Net) Do(namespace string, fn func() error) error {
	h, err := n.Namespace(namespace)
	if err != nil {
		return err
	}
	return doIn(h, namespace, fn)
}

// do is Do while n is being brought up (n.mu need not be taken: Up has
// not returned n yet).
func (n *Net) do(namespace string, fn func() error) error {
	return doIn(n.ns[namespace].fd, namespace, fn)
}

// doIn runs fn on an OS thread inside namespace h, as Do.
func doIn(h netns.NsHandle, namespace string, fn func() error) error {
	var ferr error
	err := onLockedThread(func() (bool, error) {
		orig, err := netns.Get()
		if err != nil {
			return true, fmt.Errorf("labnet: opening the current namespace: %w", err)
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			return true, fmt.Errorf("labnet: entering namespace %s: %w", namespace, err)
		}
		ferr = fn()
		return netns.Set(orig) == nil, nil
	})
	if err != nil {
		return err
	}
	return ferr
}

// Handle returns the netlink handle of the named namespace of the lab, for
// reading its state (tests, status). It is valid until Close.
func (n *Net) Handle(namespace string) (*netlink.Handle, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	st := n.ns[namespace]
	if n.unlock == nil || st == nil || st.h == nil {
		return nil, fmt.Errorf("labnet: namespace %s is not up", namespace)
	}
	return st.h, nil
}

// Close deletes the lab's links and namespaces, including leftovers of
// earlier runs, and releases the lock. Calling it again does nothing.
func (n *Net) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.unlock == nil {
		return nil
	}
	for _, st := range n.ns {
		if st.h != nil {
			st.h.Close()
		}
		st.fd.Close()
	}
	n.ns = nil
	if n.host != nil {
		n.host.Close()
	}
	n.hostNS.Close()
	err := removeAll(n.plan)
	n.unlock()
	n.unlock = nil
	return err
}

// Down deletes the links and namespaces of p's lab that a crashed run left
// behind, including namespaces of instances p no longer has, and its
// control socket (SocketPath). It fails with
// ErrBusy while an Up of the lab holds the lock. With nothing to remove it
// does nothing.
func Down(p *Plan) error {
	if err := checkPrivileges(); err != nil {
		return err
	}
	unlock, err := lock(p)
	if err != nil {
		return err
	}
	defer unlock()
	// No Up holds the lock, so a socket is a killed run's.
	err = removeAll(p)
	if rerr := os.Remove(p.SocketPath()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, fmt.Errorf("labnet: %w", rerr))
	}
	return err
}

// removeAll deletes every namespace of p's lab, planned or not.
func removeAll(p *Plan) error {
	names, err := owned(p)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		errs = append(errs, deleteNamed(name))
	}
	return errors.Join(errs...)
}

// lock takes the lab's lock: an exclusive flock on p.LockPath(), which
// holds the holder's pid for the error of the next taker. The kernel
// releases it when the holder's process ends, so it never goes stale. The
// holder removes the file as it lets go, and a taker that finds it has
// locked a removed file tries again, so two holders never lock two files;
// a holder killed (kill -9) leaves the file, which the next taker reuses.
func lock(p *Plan) (unlock func(), err error) {
	if err := os.MkdirAll(RunDir, 0o755); err != nil {
		return nil, fmt.Errorf("labnet: %w", err)
	}
	path := p.LockPath()
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("labnet: %w", err)
		}
		for {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			if err != unix.EINTR {
				break
			}
		}
		if err == unix.EWOULDBLOCK {
			b, _ := os.ReadFile(path)
			f.Close()
			holder := "another process"
			if pid := strings.TrimSpace(string(b)); pid != "" {
				holder = "process " + pid
				if pid == strconv.Itoa(os.Getpid()) {
					holder = "this process"
				}
			}
			return nil, fmt.Errorf("%w: lab %s is held by %s (lock %s); stop it first", ErrBusy, p.ID, holder, path)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("labnet: locking %s: %w", path, err)
		}
		// The holder before us removes the file as it lets go: the lock is
		// ours only if the path still names the file we locked.
		var held, named unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) != nil || unix.Stat(path, &named) != nil ||
			held.Dev != named.Dev || held.Ino != named.Ino {
			f.Close()
			continue
		}
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		// Removing the file before closing it, while the lock is held,
		// leaves nothing behind and lets no one lock a removed file.
		return func() { os.Remove(path); f.Close() }, nil
	}
}

// CheckFree fails with ErrBusy (wrapped) while another Up of p's lab
// holds its lock, without keeping the lock: for callers that must refuse
// a lab already up before they start anything else (vpclab up). Up takes
// the lock for good.
func CheckFree(p *Plan) error {
	unlock, err := lock(p)
	if err != nil {
		return err
	}
	unlock()
	return nil
}
