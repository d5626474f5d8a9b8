package tun

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawRead is read(2) on a NativeTun's descriptor, and rawWrite write(2),
// made with RawSyscall: without telling the scheduler that the
// goroutine enters a system call (entersyscall/exitsyscall), which
// unix.Read and unix.Write do.
//
// That is safe only because the descriptor is non-blocking: neither call
// can wait, so the P they hold is never held for long. It pays because
// these calls are the forwarding loop's hot path and a write to a TUN
// device runs the receiving side's stack inline (netif_receive_skb down to
// tcp_v4_rcv, and the wakeup of the receiving socket), which takes long
// enough for sysmon to see the P in a system call, retake it and hand it
// to another thread, to be won back on return. On the paravirtualised
// machine of the end-to-end benchmark, where every wakeup and context
// switch is dear, that bookkeeping was over a tenth of the forwarder's
// samples (sysmon's own wakeups ~10%, handoffs and exitsyscall the rest);
// dropping it raised the median 1-stream TCP throughput by ~8%, 4 streams
// by ~10% and 64-byte UDP by ~40%.
//
// Both return the errno rather than an error, so that the EAGAIN and EINTR
// of the hot path are told apart without building an interface value.
func rawRead(fd uintptr, b []byte) (int, unix.Errno) {
	n, _, errno := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// rawWrite is write(2) with RawSyscall; see rawRead.
func rawWrite(fd uintptr, b []byte) unix.Errno {
	_, _, errno := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	return errno
}
