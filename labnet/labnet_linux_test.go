package labnet

// Root tests. They bring small labs up for real, with veth links standing
// in for the TUN devices (so they do not depend on package tun), and read
// the result back through netlink handles and /proc. No packet is sent:
// the stand-ins are veth pairs whose peers stay down in the test's
// namespace (the kernel of the CI runner has no dummy links).
//
// Every test has its own lab id under the prefix "labnettest-", so no test
// touches a real lab (prefix "vpclab-") or another test's lab. Each removes
// the leftovers of an earlier crashed run of itself at start, and removes
// everything it made in t.Cleanup, failed or not.
//
//	 test process's namespace              /run/netns (bind mounts, as `ip netns add` makes)
//	 ────────────────────────              ─────────────────────────────────────────────────
//	                                       labnettest-ID:gw                       lo up
//	 lntID0p (down) ═veth═ lntID0 ─Attach─▶  eth0  alias eni-gw-a  mtu 9001
//	                                           10.9.1.10/24 10.9.1.11/24 10.9.1.12/24
//	                                           2001:db8:9:1::10/64 2001:db8:9:1::11/64 nodad
//	                                           default via 10.9.1.1 onlink metric 100
//	                                           default via 2001:db8:9:1::1 onlink metric 100
//	 lntID1p (down) ═veth═ lntID1 ─Attach─▶  eth1  alias eni-gw-b  10.9.2.20/28
//	                                           default via 10.9.2.17 onlink metric 200
//	                                       labnettest-ID:c                        lo up
//	 lntID2p (down) ═veth═ lntID2 ─Attach─▶  eth0  alias eni-c  10.9.2.21/28
//	                                           default via 10.9.2.17 onlink metric 100
//	                                       labnettest-ID@internet                 lo up
//	 lntID3p (down) ═veth═ lntID3 ─Attach─▶  eth0  alias internet  mtu 1500
//	                                           203.0.113.5/32 2001:db8::5/128 nodad
//	                                           default dev eth0, ::/0 dev eth0 (scope link)
//
// Start and Exec run cat /proc/self/net/{dev,if_inet6} inside labnettest-ID:gw.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/vpclab/vpclab/lab/labfile"
)

const testPrefix = "labnettest-"

// testLab is multiLab with internet hosts.
const testLab = multiLab + `
internet: {hosts: [203.0.113.5, "2001:db8::5"]}
`

// Helper modes of the test binary, for what must run in another process.
const (
	envExec = "LABNET_TEST_EXEC" // Exec cat /proc/self/net/dev in this namespace
	envDown = "LABNET_TEST_DOWN" // Down the testLab of this id, print the error
)

func TestMain(m *testing.M) {
	if ns := os.Getenv(envExec); ns != "" {
		err := Exec(&Namespace{Name: ns}, []string{"cat", "/proc/self/net/dev"}, os.Environ())
		fmt.Fprintln(os.Stderr, err) // Exec returns only on failure
		os.Exit(2)
	}
	if id := os.Getenv(envDown); id != "" {
		p := mustPlan(nil, id)
		fmt.Println(Down(p))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// requireRoot fails the test, clearly, when it cannot run: CI runs these
// as root, so they never skip.
func requireRoot(t *testing.T) {
	t.Helper()
	if err := checkPrivileges(); err != nil {
		t.Fatalf("%v\nThe labnet root tests make network namespaces: run them as root (sudo go test ./labnet/).", err)
	}
}

func mustPlan(t *testing.T, id string) *Plan {
	l, err := labfile.Parse("test.yaml", []byte(testLab))
	if err == nil {
		var p *Plan
		if p, err = NewPlan(l, Options{ID: id, Prefix: testPrefix}); err == nil {
			return p
		}
	}
	if t == nil {
		panic(err)
	}
	t.Fatal(err)
	return nil
}

// testPlan returns the Plan of testLab under the lab id id, having removed
// the leftovers of an earlier crashed run; everything of the lab goes in
// t.Cleanup.
func testPlan(t *testing.T, id string) *Plan {
	t.Helper()
	requireRoot(t)
	p := mustPlan(t, id)
	if err := Down(p); err != nil {
		t.Fatalf("removing leftovers of an earlier run: %v", err)
	}
	t.Cleanup(func() {
		if err := Down(p); err != nil && !errors.Is(err, ErrBusy) {
			t.Errorf("cleanup: %v", err)
		}
		os.Remove(p.LockPath())
	})
	return p
}

// hostHandle returns a netlink handle in the test's own namespace.
func hostHandle(t *testing.T) *netlink.Handle {
	t.Helper()
	runtime.LockOSThread()
	ns, err := netns.Get()
	runtime.UnlockOSThread()
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// standIns makes one veth pair per link of p in the test's namespace:
// lnt<id><i>, to attach, and its peer lnt<id><i>p, which stays here, down,
// so that nothing a lab link sends goes anywhere. Leftovers of those names
// are deleted first, and whatever is still here in t.Cleanup.
func standIns(t *testing.T, h *netlink.Handle, id string, p *Plan) []netlink.Link {
	t.Helper()
	var out []netlink.Link
	for i := range p.Links() {
		name := fmt.Sprintf("lnt%s%d", id, i)
		del := func() {
			if l, err := h.LinkByName(name); err == nil {
				h.LinkDel(l) // and its peer
			}
		}
		del()
		t.Cleanup(del)
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: name + "p"}
		if err := h.LinkAdd(v); err != nil {
			t.Fatalf("adding veth pair %s: %v", name, err)
		}
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// upAndAttach brings p up and attaches a stand-in to each of its links.
func upAndAttach(t *testing.T, id string, p *Plan) *Net {
	t.Helper()
	devs := standIns(t, hostHandle(t), id, p)
	n, err := Up(p)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	for i, l := range p.Links() {
		if err := n.Attach(l, devs[i]); err != nil {
			t.Fatalf("Attach(%s): %v", l.Alias(), err)
		}
	}
	return n
}

// ownedNow lists the lab's namespaces under /run/netns.
func ownedNow(t *testing.T, p *Plan) []string {
	t.Helper()
	names, err := owned(p)
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestCheck(t *testing.T) {
	requireRoot(t)
	if err := Check(); err != nil && !strings.Contains(err.Error(), "/dev/net/tun") {
		t.Errorf("Check() = %v; as root, only /dev/net/tun may be wrong", err)
	}
}

func TestUpAttachClose(t *testing.T) {
	p := testPlan(t, "up")
	n := upAndAttach(t, "up", p)

	if got, want := ownedNow(t, p), []string{"labnettest-up:c", "labnettest-up:gw", "labnettest-up@internet"}; !slices.Equal(got, want) {
		t.Errorf("namespaces %v, want %v", got, want)
	}
	for _, ns := range p.Namespaces {
		h, err := n.Handle(ns.Name)
		if err != nil {
			t.Fatal(err)
		}
		checkNamespace(t, h, ns)
	}
	if ip, err := exec.LookPath("ip"); err == nil {
		out, err := exec.Command(ip, "netns", "list").CombinedOutput()
		if err != nil {
			t.Errorf("ip netns list: %v\n%s", err, out)
		}
		for _, ns := range p.Namespaces {
			if !bytes.Contains(out, []byte(ns.Name)) {
				t.Errorf("ip netns list does not show %s:\n%s", ns.Name, out)
			}
		}
	} else {
		t.Log("iproute2 is not installed: `ip netns list` not compared")
	}

	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := ownedNow(t, p); len(got) != 0 {
		t.Errorf("after Close: namespaces %v remain", got)
	}
	host := hostHandle(t)
	for i := range p.Links() {
		if l, err := host.LinkByName(fmt.Sprintf("lntup%d", i)); err == nil {
			t.Errorf("after Close: %s is back in the host namespace", l.Attrs().Name)
		}
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := Down(p); err != nil {
		t.Errorf("Down after Close: %v", err)
	}
	if err := Down(p); err != nil {
		t.Errorf("second Down: %v", err)
	}
	if err := n.Attach(p.Links()[0], &netlink.Veth{}); err == nil {
		t.Error("Attach after Close succeeded")
	}
}

// checkNamespace compares what netlink shows in ns with its plan.
func checkNamespace(t *testing.T, h *netlink.Handle, ns *Namespace) {
	t.Helper()
	links, err := retryDump(h.LinkList)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range links {
		a := l.Attrs()
		names = append(names, a.Name)
		if a.Name == "lo" && a.Flags&net.FlagUp == 0 {
			t.Errorf("%s: lo is down", ns.Name)
		}
	}
	want := []string{"lo"}
	for _, l := range ns.Links {
		want = append(want, l.Name)
	}
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("%s: links %v, want %v", ns.Name, names, want)
	}
	for _, pl := range ns.Links {
		link, err := h.LinkByName(pl.Name)
		if err != nil {
			t.Errorf("%s: %v", ns.Name, err)
			continue
		}
		a := link.Attrs()
		if a.Alias != pl.Alias() || a.MTU != pl.MTU || a.Flags&net.FlagUp == 0 {
			t.Errorf("%s %s: alias %q mtu %d flags %v, want alias %q mtu %d up", ns.Name, pl.Name, a.Alias, a.MTU, a.Flags, pl.Alias(), pl.MTU)
		}
		addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(link, netlink.FAMILY_ALL) })
		if err != nil {
			t.Fatal(err)
		}
		var got []netip.Prefix
		for _, ad := range addrs {
			ip, _ := netip.AddrFromSlice(ad.IP)
			ones, _ := ad.Mask.Size()
			pr := netip.PrefixFrom(ip.Unmap(), ones)
			if ip.Is6() && ip.IsLinkLocalUnicast() {
				continue // the kernel's own fe80:: address
			}
			got = append(got, pr)
			if ip.Is6() && ad.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) != 0 {
				t.Errorf("%s %s: %s is tentative (flags %#x): DAD was not skipped", ns.Name, pl.Name, pr, ad.Flags)
			}
		}
		sortPrefixes(got)
		wantAddrs := slices.Clone(pl.Addrs)
		sortPrefixes(wantAddrs)
		if !slices.Equal(got, wantAddrs) {
			t.Errorf("%s %s: addresses %v, want %v", ns.Name, pl.Name, got, wantAddrs)
		}
		for _, r := range pl.Routes {
			if !hasRoute(t, h, link, r) {
				t.Errorf("%s %s: no route %s", ns.Name, pl.Name, r)
			}
		}
	}
}

func sortPrefixes(ps []netip.Prefix) {
	slices.SortFunc(ps, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
}

// hasRoute reports whether h's main table holds r through link.
func hasRoute(t *testing.T, h *netlink.Handle, link netlink.Link, r Route) bool {
	fam := netlink.FAMILY_V4
	if r.Dst.Addr().Is6() {
		fam = netlink.FAMILY_V6
	}
	routes, err := retryDump(func() ([]netlink.Route, error) { return h.RouteList(link, fam) })
	if err != nil {
		t.Fatal(err)
	}
	for _, got := range routes {
		dst := netip.PrefixFrom(r.Dst.Addr(), 0) // a nil Dst is the default route
		if got.Dst != nil {
			ip, _ := netip.AddrFromSlice(got.Dst.IP)
			ones, _ := got.Dst.Mask.Size()
			dst = netip.PrefixFrom(ip.Unmap(), ones)
		}
		gw, _ := netip.AddrFromSlice(got.Gw)
		onlink := got.Flags&int(netlink.FLAG_ONLINK) != 0
		if dst == r.Dst && gw.Unmap() == r.Via && got.Priority == r.Metric && onlink == r.Via.IsValid() {
			return true
		}
	}
	return false
}

// TestStart runs commands inside an instance's namespace with Start, and
// checks that Close leaves a process still inside without the lab's links.
func TestStart(t *testing.T) {
	p := testPlan(t, "start")
	n := upAndAttach(t, "start", p)
	gw := p.Instance("gw")

	var out bytes.Buffer
	cmd := exec.Command("cat", "/proc/self/net/dev", "/proc/self/net/if_inet6")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := Start(gw, cmd); err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("cat: %v\n%s", err, out.Bytes())
	}
	for _, want := range []string{"lo:", "eth0:", "eth1:", "20010db8000900010000000000000010"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("inside %s, no %q in:\n%s", gw.Name, want, out.Bytes())
		}
	}
	if strings.Contains(out.String(), "lntstart") {
		t.Errorf("inside %s, the host's links show:\n%s", gw.Name, out.Bytes())
	}

	// A process left inside holds the namespace, but not its links.
	sleep := exec.Command("sleep", "60")
	if err := Start(gw, sleep); err != nil {
		t.Fatalf("Start sleep: %v", err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	if err := n.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ns, err := netns.GetFromPid(sleep.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := retryDump(h.LinkList)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if l.Attrs().Name != "lo" {
			t.Errorf("after Close, a process inside still has %s", l.Attrs().Name)
		}
	}
	if err := Start(gw, exec.Command("true")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Start in a namespace that is down = %v, want an error wrapping os.ErrNotExist", err)
	}
}

// TestExec runs the test binary in Exec mode: it becomes cat inside the
// namespace.
func TestExec(t *testing.T) {
	p := testPlan(t, "exec")
	upAndAttach(t, "exec", p)
	gw := p.Instance("gw")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envExec+"="+gw.Name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("Exec: %v\n%s", err, out)
	}
	for _, want := range []string{"lo:", "eth0:", "eth1:"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("Exec in %s: no %q in:\n%s", gw.Name, want, out)
		}
	}
}

// TestLock checks that a second Up, or a Down, of a lab that is up is
// refused, in this process and from another, and that Close frees it.
func TestLock(t *testing.T) {
	p := testPlan(t, "lock")
	n, err := Up(p)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { n.Close() })

	if n2, err := Up(p); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "this process") {
		if n2 != nil {
			n2.Close()
		}
		t.Errorf("second Up = %v, want ErrBusy held by this process", err)
	}
	if err := Down(p); !errors.Is(err, ErrBusy) {
		t.Errorf("Down while up = %v, want ErrBusy", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envDown+"=lock")
	out, err := cmd.CombinedOutput()
	if want := fmt.Sprintf("held by process %d", os.Getpid()); err != nil || !bytes.Contains(out, []byte(want)) {
		t.Errorf("Down from another process: %v %s, want an error saying %q", err, out, want)
	}
	if got := ownedNow(t, p); len(got) != len(p.Namespaces) {
		t.Errorf("refused calls changed the namespaces: %v", got)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.LockPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close, the lock file: %v; want it removed", err)
	}
	n, err = Up(p)
	if err != nil {
		t.Fatalf("Up after Close: %v", err)
	}
	n.Close()
	if err := Down(p); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if _, err := os.Stat(p.LockPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Down, the lock file: %v; want it removed", err)
	}
}

// TestLeftovers checks that Up removes what a crashed run left: a
// namespace of an instance the lab no longer has (with a link inside) and
// a name never mounted, and nothing of another lab whose id starts alike.
func TestLeftovers(t *testing.T) {
	p := testPlan(t, "left")
	other := testPlan(t, "left-x")
	for _, name := range []string{"labnettest-left:ghost", "labnettest-left-x:c"} {
		if err := createNamed(name); err != nil {
			t.Fatal(err)
		}
	}
	ghost, err := openNamed("labnettest-left:ghost")
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ghost, unix.NETLINK_ROUTE)
	ghost.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth1"}); err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(NetnsDir, "labnettest-left:half")
	if err := os.WriteFile(half, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(half) })

	n, err := Up(p)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	want := []string{"labnettest-left:c", "labnettest-left:gw", "labnettest-left@internet"}
	if got := ownedNow(t, p); !slices.Equal(got, want) {
		t.Errorf("after Up: namespaces %v, want %v", got, want)
	}
	if got := ownedNow(t, other); !slices.Equal(got, []string{"labnettest-left-x:c"}) {
		t.Errorf("Up of lab left touched lab left-x: %v", got)
	}
	if _, err := retryDump(h.LinkList); err != nil {
		t.Fatal(err)
	}
	if l, err := h.LinkByName("eth0"); err == nil {
		t.Errorf("the leftover namespace's %s survived", l.Attrs().Name)
	}
}

// TestAttachErrors checks that Attach refuses links outside the plan and
// leaves no half-configured link when configuring fails.
func TestAttachErrors(t *testing.T) {
	p := testPlan(t, "att")
	devs := standIns(t, hostHandle(t), "att", p)
	n, err := Up(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	stranger := *p.Links()[0]
	if err := n.Attach(&stranger, devs[0]); err == nil {
		t.Error("Attach of a link not in the plan succeeded")
	}
	gw := p.Instance("gw")
	if err := n.Attach(gw.Links[0], devs[0]); err != nil {
		t.Fatal(err)
	}
	// A second device for the same ENI: the name eth0 is taken.
	if err := n.Attach(gw.Links[0], devs[1]); err == nil {
		t.Error("a second Attach of the same ENI succeeded")
	}
	h, _ := n.Handle(gw.Name)
	if _, err := h.LinkByName(devs[1].Attrs().Name); err == nil {
		t.Errorf("the refused device %s stayed in %s", devs[1].Attrs().Name, gw.Name)
	}
}

// TestAttachTUN attaches real TUN devices, made here through netlink (not
// package tun) and held open as the dataplane will hold them, so the links
// have carrier: the configuration must come out the same on a device with
// no link layer. Nothing reads or writes the devices.
func TestAttachTUN(t *testing.T) {
	p := testPlan(t, "tun")
	if err := checkTUN(); err != nil {
		t.Skipf("no TUN device here, so the veth tests stand alone: %v", err)
	}
	host := hostHandle(t)
	var devs []netlink.Link
	for i := range p.Links() {
		name := fmt.Sprintf("lnttun%d", i)
		if l, err := host.LinkByName(name); err == nil {
			host.LinkDel(l)
		}
		tun := &netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: name}, Mode: netlink.TUNTAP_MODE_TUN,
			Flags: netlink.TUNTAP_NO_PI, NonPersist: true, Queues: 1}
		if err := host.LinkAdd(tun); err != nil {
			t.Fatalf("adding TUN %s: %v", name, err)
		}
		t.Cleanup(func() {
			for _, f := range tun.Fds {
				f.Close() // a non-persistent TUN goes with its last file
			}
		})
		devs = append(devs, tun)
	}
	n, err := Up(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	for i, l := range p.Links() {
		if err := n.Attach(l, devs[i]); err != nil {
			t.Fatalf("Attach(%s): %v", l.Alias(), err)
		}
	}
	for _, ns := range p.Namespaces {
		h, err := n.Handle(ns.Name)
		if err != nil {
			t.Fatal(err)
		}
		checkNamespace(t, h, ns)
		for _, pl := range ns.Links {
			if l, err := h.LinkByName(pl.Name); err != nil || l.Attrs().RawFlags&unix.IFF_LOWER_UP == 0 {
				t.Errorf("%s %s: no carrier while its TUN file is open (%v)", ns.Name, pl.Name, err)
			}
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if got := ownedNow(t, p); len(got) != 0 {
		t.Errorf("after Close: namespaces %v remain", got)
	}
}

// TestConfigure brings links into the namespaces the way
// tun.OpenInNamespace does (moved in through Net.Namespace, renamed there
// to the plan's name, left down), then configures them in place.
func TestConfigure(t *testing.T) {
	p := testPlan(t, "cfg")
	host := hostHandle(t)
	devs := standIns(t, host, "cfg", p)
	n, err := Up(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	for i, l := range p.Links() {
		ns, err := n.Namespace(l.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		if err := host.LinkSetNsFd(devs[i], int(ns)); err != nil {
			t.Fatal(err)
		}
		h, err := n.Handle(l.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		moved, err := h.LinkByName(devs[i].Attrs().Name)
		if err == nil {
			err = h.LinkSetName(moved, l.Name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Configure(l); err != nil {
			t.Fatalf("Configure(%s): %v", l.Alias(), err)
		}
	}
	for _, ns := range p.Namespaces {
		h, _ := n.Handle(ns.Name)
		checkNamespace(t, h, ns)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Configure(p.Links()[0]); err == nil {
		t.Error("Configure after Close succeeded")
	}
	if _, err := n.Namespace(p.Links()[0].Namespace); err == nil {
		t.Error("Namespace after Close succeeded")
	}
}
