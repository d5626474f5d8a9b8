package tun

import (
	"errors"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	// IdealBatchSize is NativeTun's BatchSize: frames per Read or Write.
	IdealBatchSize = 128
	// MaxFrameSize is the largest frame Read can return: a virtio header
	// and a 64 KiB super-packet. Every buffer given to Read must have at
	// least this many bytes after offset, so that no frame is ever cut.
	MaxFrameSize = VirtioNetHdrLen + 65535

	// tempNamePattern names a device created for OpenInNamespace in the
	// creating namespace, where the final name may be taken; the kernel
	// replaces %d with the first free number.
	tempNamePattern = "vpclab%d"
)

// Errors of Open, Read and Write.
var (
	// ErrGSOUnsupported: a GSO frame was written to a device opened
	// without IFF_VNET_HDR; split it with GSOSplit first.
	ErrGSOUnsupported = errors.New("tun: device has no virtio header; GSO frame must be split first")
	// ErrShortFrame: a buffer passed to Write is shorter than a virtio header.
	ErrShortFrame = errors.New("tun: frame shorter than the virtio header")
	// ErrOffloadNeedsCsum: Config.Offloads asks for segmentation without
	// checksum offload, which the kernel ignores.
	ErrOffloadNeedsCsum = errors.New("tun: TSO/USO offloads need OffloadCsum")
)

// Config says how to open a device.
type Config struct {
	// Name is the interface name; "" lets the kernel choose ("tun%d").
	// With OpenInNamespace it is the name in the target namespace.
	Name string
	// MTU is set on the link when non-zero (the kernel's default is 1500).
	MTU int
	// Offloads are asked for with TUNSETOFFLOAD. If the kernel refuses,
	// the USO bits are dropped, then everything but OffloadCsum, then
	// everything. NativeTun.Offloads tells what was agreed. The zero value
	// asks for none (frames still carry a virtio header).
	Offloads Offload
	// NoVnetHdr opens the device without IFF_VNET_HDR, hence without
	// offloads. Read and Write keep the frame layout (see the package doc).
	NoVnetHdr bool
}

// NativeTun is a Linux TUN device opened IFF_TUN|IFF_NO_PI, normally with
// IFF_VNET_HDR. Its non-blocking descriptor is driven by Go's netpoller.
// One goroutine may Read while another Writes; concurrent Reads (or Writes)
// are serialised.
type NativeTun struct {
	file    *os.File
	rc      syscall.RawConn
	nl      *netlink.Handle // handle in the device's namespace
	stats   *stats          // TxDropped's socket, in the device's namespace
	index   int
	name    string
	vnetHdr bool
	offl    Offload
	closed  atomic.Bool
	once    sync.Once

	readMu sync.Mutex
	readFn func(fd uintptr) bool // r.readBatch, bound once: no allocation per Read
	tryFn  func(fd uintptr)      // readBatch for TryRead, bound once
	rbufs  [][]byte
	rsizes []int
	roff   int
	rn     int
	rerr   error

	writeMu sync.Mutex
	writeFn func(fd uintptr) bool
	wbufs   [][]byte
	woff    int
	wn      int
	werr    error
}

var _ Device = (*NativeTun)(nil)

// OpenInNamespace creates a TUN device in the calling goroutine's network
// namespace under a temporary name, moves its link into ns with netlink,
// and there renames it to cfg.Name and sets cfg.MTU. The descriptor keeps
// working across the move; the caller's namespace is never switched. The
// link is left down and without addresses: the caller configures it with a
// netlink handle of ns.
func OpenInNamespace(ns netns.NsHandle, cfg Config) (*NativeTun, error) {
	// Keep netns.Get and TUNSETIFF on one thread, so that the link is
	// looked up in the namespace it was created in.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	here, err := netns.Get()
	if err != nil {
		return nil, err
	}
	defer here.Close()
	t, err := create(cfg, tempNamePattern)
	if err != nil {
		return nil, err
	}
	if err := t.move(here, ns); err != nil {
		t.Close()
		return nil, err
	}
	if err := t.attach(ns, cfg.Name, cfg.MTU); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// create opens /dev/net/tun, makes the interface and negotiates offloads.
func create(cfg Config, name string) (*NativeTun, error) {
	if cfg.Offloads&^OffloadCsum != 0 && cfg.Offloads&OffloadCsum == 0 {
		return nil, ErrOffloadNeedsCsum
	}
	// O_NONBLOCK: the netpoller waits for readiness, and rawRead and
	// rawWrite, which hold their P while in the kernel, never block.
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/dev/net/tun", Err: err}
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return nil, err
	}
	flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if !cfg.NoVnetHdr {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		return nil, os.NewSyscallError("TUNSETIFF", err)
	}
	t := &NativeTun{name: ifr.Name(), vnetHdr: !cfg.NoVnetHdr}
	if t.vnetHdr {
		if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, VirtioNetHdrLen); err != nil {
			return nil, os.NewSyscallError("TUNSETVNETHDRSZ", err)
		}
		t.offl, err = negotiateOffloads(cfg.Offloads, func(o Offload) error {
			return unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, int(o))
		})
		if err != nil {
			return nil, os.NewSyscallError("TUNSETOFFLOAD", err)
		}
	}
	// fd is non-blocking, so os.NewFile registers it with the netpoller.
	t.file = os.NewFile(uintptr(fd), "/dev/net/tun")
	ok = true
	if t.rc, err = t.file.SyscallConn(); err != nil {
		t.file.Close()
		return nil, err
	}
	t.readFn = t.readBatch
	t.tryFn = func(fd uintptr) { t.readBatch(fd) }
	t.writeFn = t.writeBatch
	return t, nil
}

// move hands the link from namespace from to namespace to.
func (t *NativeTun) move(from, to netns.NsHandle) error {
	h, err := netlink.NewHandleAt(from)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(t.name)
	if err != nil {
		return err
	}
	return h.LinkSetNsFd(link, int(to))
}

// attach binds t to a netlink handle of ns (kept until Close), where the
// link is named t.name, renames it to name if that differs and is not
// empty, and sets mtu if non-zero.
func (t *NativeTun) attach(ns netns.NsHandle, name string, mtu int) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	t.nl = h
	link, err := h.LinkByName(t.name)
	if err != nil {
		return err
	}
	if name != "" && name != t.name {
		if err := h.LinkSetName(link, name); err != nil {
			return err
		}
		t.name = name
	}
	if mtu != 0 {
		if err := h.LinkSetMTU(link, mtu); err != nil {
			return err
		}
	}
	t.index = link.Attrs().Index
	return t.openStats(ns)
}

// Name returns the interface name (in the device's namespace).
func (t *NativeTun) Name() string { return t.name }

// Index returns the interface index (in the device's namespace).
func (t *NativeTun) Index() int { return t.index }

// Offloads returns the offloads the kernel agreed to.
func (t *NativeTun) Offloads() Offload { return t.offl }

// VnetHdr reports whether the device was opened with IFF_VNET_HDR.
func (t *NativeTun) VnetHdr() bool { return t.vnetHdr }

// BatchSize returns IdealBatchSize.
func (t *NativeTun) BatchSize() int { return IdealBatchSize }

// MTU returns the link's MTU, asked of the kernel.
func (t *NativeTun) MTU() (int, error) {
	link, err := t.nl.LinkByIndex(t.index)
	if err != nil {
		return 0, err
	}
	return link.Attrs().MTU, nil
}

// SetMTU sets the link's MTU.
func (t *NativeTun) SetMTU(mtu int) error {
	link, err := t.nl.LinkByIndex(t.index)
	if err != nil {
		return err
	}
	return t.nl.LinkSetMTU(link, mtu)
}

// SetReadDeadline makes a blocked or future Read return
// os.ErrDeadlineExceeded once d has passed; the zero time removes it.
func (t *NativeTun) SetReadDeadline(d time.Time) error { return t.file.SetReadDeadline(d) }

// Read implements Device. Each bufs[i] must have MaxFrameSize bytes after
// offset, and sizes at least len(bufs) elements. sizes[i] counts the
// virtio header: the IP packet is bufs[i][offset+VirtioNetHdrLen:offset+sizes[i]].
// If an error comes after some frames were read, those frames are returned
// and the error is left for the next call to meet again.
func (t *NativeTun) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	return t.read(bufs, sizes, offset, true)
}

// read is Read, and TryRead when wait is false: then it returns 0 frames
// at once instead of waiting for one.
func (t *NativeTun) read(bufs [][]byte, sizes []int, offset int, wait bool) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if offset < 0 || len(sizes) < len(bufs) {
		return 0, io.ErrShortBuffer
	}
	for _, b := range bufs {
		if len(b)-offset < MaxFrameSize {
			return 0, io.ErrShortBuffer
		}
	}
	t.readMu.Lock()
	defer t.readMu.Unlock()
	t.rbufs, t.rsizes, t.roff, t.rn, t.rerr = bufs, sizes, offset, 0, nil
	var err error
	if wait {
		err = t.rc.Read(t.readFn)
	} else {
		err = t.rc.Control(t.tryFn)
	}
	n, rerr := t.rn, t.rerr
	t.rbufs, t.rsizes, t.rerr = nil, nil, nil
	if n > 0 {
		return n, nil
	}
	if t.closed.Load() {
		return 0, os.ErrClosed
	}
	if err != nil {
		return 0, err
	}
	return 0, rerr
}

// readBatch is the RawConn.Read callback: it reads frames until the batch
// is full or the queue is empty. Returning false asks the netpoller to wait
// for readability, which it does only while nothing has been read.
func (t *NativeTun) readBatch(fd uintptr) bool {
	for t.rn < len(t.rbufs) {
		b := t.rbufs[t.rn][t.roff:]
		extra := 0
		if !t.vnetHdr {
			clear(b[:VirtioNetHdrLen])
			b = b[VirtioNetHdrLen:]
			extra = VirtioNetHdrLen
		}
		n, errno := rawRead(fd, b)
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return t.rn > 0
		default:
			t.rerr = os.NewSyscallError("read", errno)
			return true
		}
		if n == 0 {
			t.rerr = io.EOF
			return true
		}
		t.rsizes[t.rn] = n + extra
		t.rn++
	}
	return true
}

// Write implements Device. Each bufs[i][offset:] is a whole frame, virtio
// header first; it is written as it is. On a device without IFF_VNET_HDR
// the header is not written: a NEEDS_CSUM checksum is completed in place
// first, and a GSO frame is refused with ErrGSOUnsupported.
func (t *NativeTun) Write(bufs [][]byte, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	if offset < 0 {
		return 0, ErrShortFrame
	}
	t.writeMu.Lock()
	defer t.writeMu.Unlock()
	for i, b := range bufs {
		if len(b)-offset < VirtioNetHdrLen {
			return t.writeSome(bufs[:i], offset, ErrShortFrame)
		}
		if !t.vnetHdr {
			var h VirtioNetHdr
			h.Decode(b[offset:])
			if h.IsGSO() {
				return t.writeSome(bufs[:i], offset, ErrGSOUnsupported)
			}
			if err := CompleteChecksum(h, b[offset+VirtioNetHdrLen:]); err != nil {
				return t.writeSome(bufs[:i], offset, err)
			}
		}
	}
	return t.writeSome(bufs, offset, nil)
}

// writeSome writes bufs and returns after them the error found while
// checking the frame that follows them, if there was no write error.
func (t *NativeTun) writeSome(bufs [][]byte, offset int, next error) (int, error) {
	if len(bufs) > 0 {
		t.wbufs, t.woff, t.wn, t.werr = bufs, offset, 0, nil
		err := t.rc.Write(t.writeFn)
		n, werr := t.wn, t.werr
		t.wbufs, t.werr = nil, nil
		if t.closed.Load() {
			return n, os.ErrClosed
		}
		if err != nil {
			return n, err
		}
		if werr != nil {
			return n, werr
		}
	}
	return len(bufs), next
}

// writeBatch is the RawConn.Write callback.
func (t *NativeTun) writeBatch(fd uintptr) bool {
	for t.wn < len(t.wbufs) {
		b := t.wbufs[t.wn][t.woff:]
		if !t.vnetHdr {
			b = b[VirtioNetHdrLen:]
		}
		switch errno := rawWrite(fd, b); errno {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			t.werr = os.NewSyscallError("write", errno)
			return true
		}
		t.wn++
	}
	return true
}

// Close closes the descriptor, which deletes the (non-persistent) device
// in whatever namespace it is, and releases the netlink handle. A blocked
// Read returns os.ErrClosed.
func (t *NativeTun) Close() error {
	var err error
	t.once.Do(func() {
		t.closed.Store(true)
		err = t.file.Close()
		if t.nl != nil {
			t.nl.Close()
		}
		if st := t.stats; st != nil {
			st.mu.Lock() // not while TxDropped uses the socket
			st.sock.Close()
			st.mu.Unlock()
		}
	})
	return err
}

// ifName reads the interface name back from the descriptor (TUNGETIFF);
// the tests use it to check that the descriptor follows the link.
func (t *NativeTun) ifName() (string, error) {
	ifr, err := unix.NewIfreq("")
	if err != nil {
		return "", err
	}
	var ierr error
	if err := t.rc.Control(func(fd uintptr) { ierr = unix.IoctlIfreq(int(fd), unix.TUNGETIFF, ifr) }); err != nil {
		return "", err
	}
	if ierr != nil {
		return "", os.NewSyscallError("TUNGETIFF", ierr)
	}
	return ifr.Name(), nil
}
