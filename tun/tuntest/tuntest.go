// Package tuntest is for tests of code that moves frames through a
// tun.Device: an in-memory Device, and builders of the UDP frames the
// offload code (GSO, coalescing) is tested with. It needs no privileges
// and imports only tun, packet and gVisor's checksum.
package tuntest

import (
	"bytes"
	"errors"
	"sync"

	"github.com/vpclab/vpclab/tun"
)

// ErrClosed is what Read and Write return once the Device is closed.
var ErrClosed = errors.New("tuntest: device closed")

// ErrRefused is what Write returns for a frame Refuse refused.
var ErrRefused = errors.New("tuntest: frame refused")

// Device is an in-memory tun.Device. Frames queued with Queue are read by
// Read; frames written are counted and, with Keep, copied. The zero value
// is a device of batch size 4 that keeps nothing. It is safe for
// concurrent use; its Write allocates nothing unless Keep is set.
type Device struct {
	// Batch is BatchSize's answer; 0 means 4.
	Batch int
	// Keep makes Write keep a copy of every frame written (Frames).
	Keep bool
	// Refuse, if set, makes Write refuse the frames it returns true for:
	// Write stops there and returns ErrRefused, as a TUN device does.
	Refuse func(frame []byte) bool

	mu      sync.Mutex
	cond    *sync.Cond
	queue   [][]byte
	closed  bool
	written int
	frames  [][]byte
}

var _ tun.Device = (*Device)(nil)

func (d *Device) wait() {
	if d.cond == nil {
		d.cond = sync.NewCond(&d.mu)
	}
	d.cond.Wait()
}

// Queue copies frames to be returned by Read, in order.
func (d *Device) Queue(frames ...[]byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, f := range frames {
		d.queue = append(d.queue, bytes.Clone(f))
	}
	if d.cond != nil {
		d.cond.Broadcast()
	}
}

// Read blocks until a frame is queued or the device is closed, then
// copies up to len(bufs) queued frames, frame i into bufs[i][offset:].
// A frame longer than its buffer is cut.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.queue) == 0 && !d.closed {
		d.wait()
	}
	if len(d.queue) == 0 {
		return 0, ErrClosed
	}
	n := 0
	for n < len(bufs) && len(d.queue) > 0 {
		sizes[n] = copy(bufs[n][offset:], d.queue[0])
		d.queue[0] = nil
		d.queue = d.queue[1:]
		n++
	}
	return n, nil
}

// TryRead is Read without waiting: with no frame queued it returns 0 and
// no error (ErrClosed once the device is closed), as
// tun.NativeTun.TryRead does.
func (d *Device) TryRead(bufs [][]byte, sizes []int, offset int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.queue) == 0 && d.closed {
		return 0, ErrClosed
	}
	n := 0
	for n < len(bufs) && len(d.queue) > 0 {
		sizes[n] = copy(bufs[n][offset:], d.queue[0])
		d.queue[0] = nil
		d.queue = d.queue[1:]
		n++
	}
	return n, nil
}

// Queued returns how many queued frames Read has not taken yet.
func (d *Device) Queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

// Write takes the frames bufs[i][offset:], counting them and, with Keep,
// copying them, until Refuse refuses one.
func (d *Device) Write(bufs [][]byte, offset int) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, ErrClosed
	}
	for i, b := range bufs {
		if d.Refuse != nil && d.Refuse(b[offset:]) {
			return i, ErrRefused
		}
		d.written++
		if d.Keep {
			d.frames = append(d.frames, bytes.Clone(b[offset:]))
		}
	}
	return len(bufs), nil
}

// Written returns how many frames Write took.
func (d *Device) Written() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.written
}

// Frames returns copies of the frames Write took while Keep was set.
func (d *Device) Frames() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.frames
}

// BatchSize returns Batch, or 4.
func (d *Device) BatchSize() int {
	if d.Batch > 0 {
		return d.Batch
	}
	return 4
}

// Name returns "mem".
func (d *Device) Name() string { return "mem" }

// Close makes a blocked Read return ErrClosed, and every later call.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.cond != nil {
		d.cond.Broadcast()
	}
	return nil
}
