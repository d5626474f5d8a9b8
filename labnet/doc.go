// Package labnet owns the kernel side of a live lab: one network namespace
// per instance, one for the internet, and the configuration of the links
// that stand for ENIs inside them. It does not create the links (package
// tun does) and never touches packets.
//
// # Use
//
//	p, err := labnet.NewPlan(l, labnet.Options{})  // pure
//	n, err := labnet.Up(p)                         // lock, leftovers, namespaces
//	defer n.Close()
//	for _, link := range p.Links() {
//		ns, _ := n.Namespace(link.Namespace)
//		dev, err := tun.OpenInNamespace(ns, tun.Config{Name: link.Name, MTU: link.MTU})
//		err = n.Configure(link) // addresses, routes, up
//	}
//
// A device made in the caller's namespace is moved and configured in one
// step by Net.Attach instead. Start and Exec run commands inside a
// namespace; Down removes a crashed run's leftovers; Check says whether
// this host can run a live lab at all.
//
// # What it promises
//
// A Plan is computed from a *lab.Lab without privileges and without side
// effects: the namespace names, and per link its name, MTU, addresses with
// the subnet's prefix length, and routes. Everything labnet does to the
// kernel follows the Plan, so tests of the Plan are tests of the result.
//
// Namespace names are deterministic and collision-safe. An instance's is
// PREFIX LAB ":" INSTANCE and the internet's is PREFIX LAB "@internet"
// (by default vpclab-vpc-example:web1 and vpclab-vpc-example@internet).
// Lab ids and instance names are letters, digits, '.', '_' and '-' only,
// so ':' and '@' cannot occur in them and two different (lab, instance)
// pairs never share a name; nor do two labs, so a lab's leftovers are found
// by name alone. Namespaces are bind mounts under /run/netns, exactly as
// `ip netns add` makes them (on a shared mount of /run/netns), so
// `ip netns list` and `ip netns exec` work on them.
//
// Inside an instance, its ENIs are eth0, eth1, … in device-index order (the
// order of the lab file), each with the ENI id as its alias (`ip link`
// shows it). An ENI link carries the primary and secondary private IPv4
// addresses and the IPv6 addresses with the subnet's prefix lengths (IPv6
// without duplicate address detection), the Plan's MTU (AWS's 9001 by
// default), and default routes through its subnet's router: base+1 of the
// IPv4 block, and base+1 of the IPv6 /64 when the ENI has IPv6 addresses.
// A global router address is used for IPv6 rather than a link-local one
// because the links are TUN devices with no link layer: the gateway only
// names the route, and base+1 is the address AWS reserves for the router
// in both families, the same in every run. The routes are "onlink", so they
// hold whether or not the prefix route exists yet. ENI k of an instance has
// route metric 100·(k+1), so the primary ENI's default route wins.
//
// The internet namespace exists when the lab lists internet hosts. Its one
// link, eth0, carries each host address as a /32 or /128 and on-link
// default routes, and has MTU 1500, the path MTU through an internet
// gateway.
//
// Up takes a lock (flock on /run/vpclab/NAME.lock) held until Close, so a
// second Up or a Down of the same lab is refused with ErrBusy while the
// first runs; the lock dies with its process, so a crash leaves no stale
// lock, and Close and Down remove the lock file. Up first removes what a crashed run left behind. Close and Down
// delete every link in the lab's namespaces before unmounting them, so a
// process still running inside one (from Start) cannot keep the lab's
// addresses alive; both are idempotent. TUN devices go too, and a device
// whose link is gone fails its reads and writes: stop the dataplane first.
//
// Every netlink call goes through a netlink.Handle opened in its namespace
// (netlink.NewHandleAt), never through the package-level handle; dumps
// interrupted by concurrent changes (netlink.ErrDumpInterrupted) are
// retried. The few namespace switches labnet makes itself (creating a
// namespace, starting a command in one) run on a goroutine locked to its
// OS thread, which is switched back afterwards, or retired by the runtime
// if switching back fails; the caller's thread is never switched (except by
// Exec, which replaces the process).
//
// Linux only: on other systems Plan works and the rest reports
// errors.ErrUnsupported.
package labnet
