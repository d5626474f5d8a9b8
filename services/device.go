package services

import (
	"context"
	"sync/atomic"

	"github.com/vpclab/vpclab/tun"
)

// Device is the services seen as a tun.Device, the shape of every device
// the live forwarder reads and writes: Write hands each frame's packet to
// the stack (Inject), Read returns what the stack sends (Read), each
// behind a virtio-net header.
//
// Write takes frames as a TUN device hands them over: a frame whose
// checksum the kernel left to the device (NEEDS_CSUM) is completed first
// (tun.CompleteChecksum), a GSO super-packet is cut into packets
// (tun.GSOSplit) in a scratch batch made at the first one. A frame that
// cannot be handed over (a malformed header or super-packet, checksum
// offsets outside the packet) is refused: Write returns its error and
// the number of frames before it, as a TUN device does. Write may be
// called from several goroutines and allocates nothing in steady state.
//
// Read puts a zero virtio header in front of each packet (the stack
// completes its checksums and never sends super-packets); its buffers
// should hold VirtioNetHdrLen + the MTU bytes after offset. Close makes a
// blocked Read return ErrClosed; it does not stop the services
// (Services.Close does).
type Device struct {
	inject func(pkt []byte)
	s      *Services // nil: nothing to read
	mtu    int
	ctx    context.Context
	cancel context.CancelFunc
	// spare holds the scratch batches of writers that are done with
	// theirs; a writer takes one with Swap, so none is shared.
	spare [4]atomic.Pointer[scratch]
}

var _ tun.Device = (*Device)(nil)

// maxSegments is how many packets a GSO super-packet to the services may
// be cut into: 64 KiB at the smallest MSS a lab's 9001-byte MTU would
// leave after a 1500-byte path (1024 bytes) and more.
const maxSegments = 64

// batchSize is the Device's BatchSize: tun.NativeTun's.
const batchSize = 128

// scratch receives one super-packet cut into packets.
type scratch struct {
	bufs  [][]byte
	sizes []int
}

// Device returns the services as a tun.Device. Each call returns a new
// Device; the live lab makes one.
func (s *Services) Device() *Device { return newDevice(s.Inject, s, s.mtu) }

// NewDevice returns a Device that hands the packets written to it to
// inject and has nothing to read (Read blocks until Close): the services'
// side of a forwarder without a netstack, for tests. mtu bounds the
// packets a super-packet is cut into.
func NewDevice(inject func(pkt []byte), mtu int) *Device { return newDevice(inject, nil, mtu) }

func newDevice(inject func([]byte), s *Services, mtu int) *Device {
	if mtu <= 0 {
		mtu = 1500
	}
	d := &Device{inject: inject, s: s, mtu: mtu}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	return d
}

// Write hands the packets of the frames bufs[i][offset:] to the services
// (see Device).
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	for i, b := range bufs {
		if err := d.write(b[offset:]); err != nil {
			return i, err
		}
	}
	return len(bufs), nil
}

func (d *Device) write(frame []byte) error {
	var h tun.VirtioNetHdr
	if err := h.Decode(frame); err != nil {
		return err
	}
	pkt := frame[tun.VirtioNetHdrLen:]
	if !h.IsGSO() {
		if err := tun.CompleteChecksum(h, pkt); err != nil {
			return err
		}
		d.inject(pkt)
		return nil
	}
	sc := d.take()
	defer d.give(sc)
	n, err := tun.GSOSplit(h, pkt, sc.bufs, sc.sizes, 0)
	if err != nil {
		return err
	}
	for i := range n {
		d.inject(sc.bufs[i][:sc.sizes[i]])
	}
	return nil
}

// take returns a spare scratch batch, or a new one.
func (d *Device) take() *scratch {
	for i := range d.spare {
		if sc := d.spare[i].Swap(nil); sc != nil {
			return sc
		}
	}
	backing := make([]byte, maxSegments*d.mtu)
	sc := &scratch{bufs: make([][]byte, maxSegments), sizes: make([]int, maxSegments)}
	for i := range sc.bufs {
		sc.bufs[i] = backing[i*d.mtu : (i+1)*d.mtu : (i+1)*d.mtu]
	}
	return sc
}

// give keeps sc for the next writer, if there is room.
func (d *Device) give(sc *scratch) {
	for i := range d.spare {
		if d.spare[i].CompareAndSwap(nil, sc) {
			return
		}
	}
}

// Read reads the packets the services send into bufs[i][offset:], each
// behind a zero virtio header, with the frames' lengths in sizes[i].
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if d.s == nil {
		<-d.ctx.Done()
		return 0, ErrClosed
	}
	n, err := d.s.Read(d.ctx, bufs, sizes, offset+tun.VirtioNetHdrLen)
	if err != nil {
		if d.ctx.Err() != nil {
			return 0, ErrClosed
		}
		return 0, err
	}
	for i := range n {
		clear(bufs[i][offset : offset+tun.VirtioNetHdrLen])
		sizes[i] += tun.VirtioNetHdrLen
	}
	return n, nil
}

// BatchSize returns the frames per Read at best: tun.NativeTun's.
func (d *Device) BatchSize() int { return batchSize }

// Name returns "services".
func (d *Device) Name() string { return "services" }

// Close makes a blocked Read return ErrClosed.
func (d *Device) Close() error {
	d.cancel()
	return nil
}
