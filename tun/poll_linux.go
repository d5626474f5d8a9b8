package tun

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Poller tells which of a set of NativeTun devices have frames to read,
// so that one loop can serve them all in turn (TryRead each ready one for
// a share of a batch) instead of one goroutine per device, whose turns
// the Go scheduler, not the loop, decides: a goroutine that always finds
// frames never parks, and while it holds the only P the others' readiness
// is seen by sysmon's netpoll, every 10 ms.
//
// It is an epoll instance, level-triggered, over the devices'
// descriptors. Wait asks it without blocking and, only when no device is
// ready, parks in Go's netpoller on the epoll descriptor itself (which is
// readable while a device is). Wait and TryRead allocate nothing. One
// goroutine may Wait at a time.
type Poller struct {
	file   *os.File
	rc     syscall.RawConn
	closed atomic.Bool
	mu     sync.Mutex
	events []unix.EpollEvent
	waitFn func(fd uintptr) bool
	fds    []int32 // by id: the devices' descriptors, for Pause and Resume
	// modify's epoll_ctl: its arguments and result, and ctl bound once.
	ctlFn  func(fd uintptr)
	ctlEv  unix.EpollEvent
	ctlFd  int32
	ctlErr syscall.Errno
	ready  []int
	n      int
	err    error
}

// NewPoller returns an empty Poller, reporting at most most ready devices
// per Wait.
func NewPoller(most int) (*Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("fcntl", err)
	}
	p := &Poller{file: os.NewFile(uintptr(fd), "epoll"), events: make([]unix.EpollEvent, max(1, most))}
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		return nil, err
	}
	p.waitFn, p.ctlFn = p.poll, p.ctl
	return p, nil
}

// Add adds t, to be reported by Wait as id.
func (p *Poller) Add(t *NativeTun, id int) error {
	var aerr error
	err := p.rc.Control(func(epfd uintptr) {
		cerr := t.rc.Control(func(fd uintptr) {
			ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(id)}
			aerr = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_ADD, int(fd), &ev)
			if aerr == nil {
				for len(p.fds) <= id {
					p.fds = append(p.fds, -1)
				}
				p.fds[id] = int32(fd)
			}
		})
		if aerr == nil {
			aerr = cerr
		}
	})
	if err != nil {
		return err
	}
	if aerr != nil {
		return os.NewSyscallError("epoll_ctl", aerr)
	}
	return nil
}

// Wait blocks until at least one of the devices has a frame to read (or
// its descriptor an error), writes the ids of such devices to ready and
// returns how many. It returns os.ErrClosed once Close was called.
func (p *Poller) Wait(ready []int) (int, error) {
	if len(ready) == 0 {
		return 0, io.ErrShortBuffer
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready, p.n, p.err = ready, 0, nil
	err := p.rc.Read(p.waitFn)
	n, perr := p.n, p.err
	p.ready = nil
	if n > 0 {
		return n, nil
	}
	if p.closed.Load() {
		return 0, os.ErrClosed
	}
	if err != nil {
		return 0, err
	}
	return 0, perr
}

// poll is the RawConn.Read callback: epoll_wait without blocking.
// Returning false, when nothing is ready, parks the goroutine in the
// netpoller until the epoll descriptor is readable.
func (p *Poller) poll(fd uintptr) bool {
	ev := p.events[:min(len(p.events), len(p.ready))]
	for {
		// epoll_pwait with no signal mask is epoll_wait, which arm64
		// and riscv64 do not have.
		n, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(unsafe.SliceData(ev))), uintptr(len(ev)), 0, 0, 0)
		switch errno {
		case 0:
		case unix.EINTR:
			continue
		default:
			p.err = os.NewSyscallError("epoll_wait", errno)
			return true
		}
		for i := range int(n) {
			p.ready[i] = int(ev[i].Fd)
		}
		p.n = int(n)
		return n > 0
	}
}

// Pause stops Wait from reporting device id until Resume: its frames
// stay in its queue, which the kernel bounds and drops from (counted as
// the device's TX drops), and cost this side nothing. Resume undoes it.
// Both are one epoll_ctl and allocate nothing; a device's error or hang-up
// is reported while it is paused too. They are for the goroutine that
// Waits, one call at a time.
func (p *Poller) Pause(id int) error { return p.modify(id, 0) }

// Resume makes Wait report device id again when it has frames.
func (p *Poller) Resume(id int) error { return p.modify(id, unix.EPOLLIN) }

// modify sets the events Wait reports for device id.
func (p *Poller) modify(id int, events uint32) error {
	if id < 0 || id >= len(p.fds) || p.fds[id] < 0 {
		return os.ErrNotExist
	}
	p.ctlEv = unix.EpollEvent{Events: events, Fd: int32(id)}
	p.ctlFd, p.ctlErr = p.fds[id], 0
	if err := p.rc.Control(p.ctlFn); err != nil {
		return err
	}
	if p.ctlErr != 0 {
		return os.NewSyscallError("epoll_ctl", p.ctlErr)
	}
	return nil
}

// ctl is the RawConn.Control callback of modify.
func (p *Poller) ctl(epfd uintptr) {
	_, _, p.ctlErr = unix.RawSyscall6(unix.SYS_EPOLL_CTL, epfd, unix.EPOLL_CTL_MOD, uintptr(p.ctlFd), uintptr(unsafe.Pointer(&p.ctlEv)), 0, 0)
}

// SetDeadline makes a Wait that finds no device ready return
// os.ErrDeadlineExceeded once t has passed (at once if it has); the zero
// time removes it. It allocates nothing.
func (p *Poller) SetDeadline(t time.Time) error { return p.file.SetReadDeadline(t) }

// Close releases the epoll instance; a blocked Wait returns os.ErrClosed.
// The devices stay open.
func (p *Poller) Close() error {
	p.closed.Store(true)
	return p.file.Close()
}

// TryRead is Read without waiting: it returns at once, with 0 frames and
// no error when none is queued. It is how a loop over a Poller reads.
func (t *NativeTun) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	return t.read(bufs, sizes, offset, false)
}
