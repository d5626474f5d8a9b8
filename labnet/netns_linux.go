package labnet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// onLockedThread runs fn on a new goroutine locked to its OS thread, so fn
// may switch the thread's namespaces; the caller's thread is never touched.
// fn reports whether it left the thread as it found it. If not, the thread
// stays locked and the runtime ends it with the goroutine rather than
// reuse a thread in the wrong namespace.
func onLockedThread(fn func() (restored bool, err error)) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restored, err := fn()
		if restored {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// prepareNetnsDir makes NetnsDir a shared mount point, bind-mounting it on
// itself first if it is not a mount point, as `ip netns add` does: the
// namespaces' bind mounts then propagate to other mount namespaces.
func prepareNetnsDir() error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return fmt.Errorf("labnet: %w", err)
	}
	for bound := false; ; bound = true {
		err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if err != unix.EINVAL || bound {
			return fmt.Errorf("labnet: making %s a shared mount: %w", NetnsDir, err)
		}
		if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("labnet: bind-mounting %s on itself: %w", NetnsDir, err)
		}
	}
}

// createNamed makes a new network namespace and bind-mounts it on
// NetnsDir/name, which must not exist.
func createNamed(name string) error {
	if err := prepareNetnsDir(); err != nil {
		return err
	}
	path := filepath.Join(NetnsDir, name)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("labnet: creating namespace %s: %w", name, err)
	}
	unix.Close(fd)
	err = onLockedThread(func() (bool, error) {
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return true, err
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return true, err
		}
		mountErr := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, "")
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			return false, errors.Join(mountErr, fmt.Errorf("switching back: %w", err))
		}
		return true, mountErr
	})
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("labnet: creating namespace %s: %w", name, err)
	}
	return nil
}

// openNamed opens the named namespace. It fails with an error wrapping
// os.ErrNotExist when NetnsDir/name is missing or is not a namespace (a
// file left by a crash before its mount).
func openNamed(name string) (netns.NsHandle, error) {
	path := filepath.Join(NetnsDir, name)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return netns.None(), fmt.Errorf("labnet: namespace %s: %w", name, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(fd)
		return netns.None(), fmt.Errorf("labnet: namespace %s: %s is not a mounted namespace: %w", name, path, os.ErrNotExist)
	}
	return netns.NsHandle(fd), nil
}

// deleteNamed deletes every link but loopback in the named namespace, so
// that a process still inside holds no address of the lab, then unmounts
// and removes it. A missing namespace is not an error.
func deleteNamed(name string) error {
	var errs []error
	if ns, err := openNamed(name); err == nil {
		errs = append(errs, deleteLinks(ns))
		ns.Close()
	}
	path := filepath.Join(NetnsDir, name)
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && err != unix.EINVAL && err != unix.ENOENT {
		errs = append(errs, fmt.Errorf("unmounting %s: %w", path, err))
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("labnet: deleting namespace %s: %w", name, err)
	}
	return nil
}

// deleteLinks deletes every link of ns but loopback.
func deleteLinks(ns netns.NsHandle) error {
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer h.Close()
	links, err := retryDump(h.LinkList)
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range links {
		if l.Attrs().EncapType == "loopback" || l.Attrs().Name == "lo" {
			continue
		}
		// A veth's peer in the same namespace goes with it.
		if err := h.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
			errs = append(errs, fmt.Errorf("deleting link %s: %w", l.Attrs().Name, err))
		}
	}
	return errors.Join(errs...)
}

// owned lists the namespaces under NetnsDir that belong to p's lab.
func owned(p *Plan) ([]string, error) {
	ents, err := os.ReadDir(NetnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("labnet: %w", err)
	}
	var out []string
	for _, e := range ents {
		if p.Owns(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// retryDump calls dump until its result is not cut short by a concurrent
// change (netlink.ErrDumpInterrupted), at most 10 times.
func retryDump[T any](dump func() (T, error)) (T, error) {
	for i := 0; ; i++ {
		v, err := dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 9 {
			return v, err
		}
	}
}
