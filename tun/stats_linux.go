package tun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// stats is a device's own rtnetlink socket, in its namespace, for
// TxDropped: one request and one reply in buffers made once.
type stats struct {
	mu   sync.Mutex
	sock *nl.NetlinkSocket
	req  [32]byte // nlmsghdr + ifinfomsg: RTM_GETLINK of the device
	buf  []byte
	seq  uint32
}

// openStats opens t's statistics socket in namespace ns, where the link
// is t.index.
func (t *NativeTun) openStats(ns netns.NsHandle) error {
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("a netlink socket in the device's namespace: %w", err)
	}
	st := &stats{sock: s, buf: make([]byte, 64<<10)}
	ne := binary.NativeEndian
	ne.PutUint32(st.req[0:], uint32(len(st.req))) // nlmsg_len
	ne.PutUint16(st.req[4:], unix.RTM_GETLINK)    // nlmsg_type
	ne.PutUint16(st.req[6:], unix.NLM_F_REQUEST)  // nlmsg_flags
	st.req[16] = unix.AF_UNSPEC                   // ifi_family
	ne.PutUint32(st.req[20:], uint32(int32(t.index)))
	t.stats = st
	return nil
}

// errNoStats is TxDropped's error for a device without a statistics
// socket.
var errNoStats = errors.New("tun: the device has no statistics socket")

// TxDropped returns the frames the kernel dropped at the device's queue
// so far: what its instance sent while nobody read the device, past what
// the queue holds (the link's tx_dropped). It is one rtnetlink request
// (RTM_GETLINK) on a socket of the device's own and allocates nothing.
func (t *NativeTun) TxDropped() (uint64, error) {
	st := t.stats
	if st == nil {
		return 0, errNoStats
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if t.closed.Load() {
		return 0, os.ErrClosed
	}
	st.seq++
	ne := binary.NativeEndian
	ne.PutUint32(st.req[8:], st.seq)
	fd := st.sock.GetFd()
	for {
		if _, err := unix.Write(fd, st.req[:]); err != unix.EINTR {
			if err != nil {
				return 0, os.NewSyscallError("netlink write", err)
			}
			break
		}
	}
	for {
		n, err := unix.Read(fd, st.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, os.NewSyscallError("netlink read", err)
		}
		v, ok, err := txDroppedOf(st.buf[:n], st.seq)
		if ok || err != nil {
			return v, err
		}
	}
}

// txDroppedOf finds the link's tx_dropped (IFLA_STATS64) in b, rtnetlink
// messages read in reply to request seq. ok is false when b holds no
// reply to seq (an earlier request's, left by an interrupted call).
func txDroppedOf(b []byte, seq uint32) (v uint64, ok bool, err error) {
	ne := binary.NativeEndian
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(ne.Uint32(b[0:]))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return 0, false, errors.New("tun: a truncated netlink reply")
		}
		m := b[:l]
		b = b[min(len(b), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
		if ne.Uint32(m[8:]) != seq {
			continue
		}
		switch ne.Uint16(m[4:]) {
		case unix.NLMSG_ERROR:
			if len(m) >= unix.NLMSG_HDRLEN+4 {
				if e := int32(ne.Uint32(m[unix.NLMSG_HDRLEN:])); e < 0 {
					return 0, true, os.NewSyscallError("RTM_GETLINK", unix.Errno(-e))
				}
			}
			return 0, true, errors.New("tun: RTM_GETLINK acknowledged without the link")
		case unix.RTM_NEWLINK:
			attrs := m[min(len(m), unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg):]
			for len(attrs) >= unix.SizeofRtAttr {
				al, at := int(ne.Uint16(attrs[0:])), ne.Uint16(attrs[2:])
				if al < unix.SizeofRtAttr || al > len(attrs) {
					break
				}
				if at == unix.IFLA_STATS64 && al >= unix.SizeofRtAttr+8*8 {
					return ne.Uint64(attrs[unix.SizeofRtAttr+7*8:]), true, nil // tx_dropped, the 8th counter
				}
				attrs = attrs[min(len(attrs), (al+unix.RTA_ALIGNTO-1)&^(unix.RTA_ALIGNTO-1)):]
			}
			return 0, true, errors.New("tun: the link's reply has no IFLA_STATS64")
		}
	}
	return 0, false, nil
}
