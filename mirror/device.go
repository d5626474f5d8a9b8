package mirror

import (
	"errors"
	"net"
	"sync/atomic"

	"github.com/vpclab/vpclab/verdict"
)

// Device is the mirror's consumer as a tun.Device, the way the live
// dataplane takes the copies for ENI targets: it reads the mirror
// packets from it as from any other device and forwards each from the
// port its session's source ENI has (Ports), so that one forwarder loop
// serves ENIs, services and mirror alike.
//
// Read is the consumer: it drains the queue (writing pcap targets as it
// goes), encapsulates, and returns the frames for ENI targets, each a
// virtio-net header then the mirror packet or UDP GSO super-packet that
// Sink.Send describes. It blocks, polling with the backoff of Start's
// goroutine, until there is a frame, and returns net.ErrClosed once the
// Mirror is closed and everything queued before has been read. Pass the
// Device in Options.Device and do not call Start or Drain: its reader
// is the consumer. Write refuses every frame: nothing is routed to the
// mirror.
//
// Only one goroutine may Read. A copy that yields more frames than the
// Read has buffers (a super-packet split into its segments) keeps the
// rest for the next Read, in buffers kept for reuse: once they have
// grown to the largest such burst, Read allocates nothing.
type Device struct {
	m        *Mirror
	maxSegs  func(*Session) int
	ports    []verdict.Port // the entry port of each frame of the last Read
	tooSmall atomic.Uint64

	// The Read in progress: Send fills bufs[k][off:] and sizes[k].
	bufs  [][]byte
	sizes []int
	off   int
	k     int
	// Frames that did not fit the Read that produced them: over[first:n].
	over         []held
	first, nOver int
}

// held is a frame kept for the next Read.
type held struct {
	buf  []byte
	port verdict.Port
}

// NewDevice returns a Device for Options.Device. maxSegments says how
// many mirror packets of session s (an ENI target) a frame may hold, as
// Sink.MaxSegments does: MaxGSOSegments where the target's TUN device
// takes UDP GSO super-packets, 1 elsewhere; nil means 1 for all.
func NewDevice(maxSegments func(s *Session) int) *Device {
	return &Device{maxSegs: maxSegments}
}

// Consumer states (Mirror.state).
const (
	consIdle    int32 = iota // no consumer yet: Close drains itself
	consRunning              // Start's goroutine or a Device's reader
	consClosed               // closed with no consumer running
)

// Read reads up to len(bufs) frames (see Device); bufs[i][offset:] must
// hold the largest, a virtio-net header and 65535 bytes, else the frame
// is dropped and counted (TooSmall). Ports()[:n] are the frames' entry
// ports.
func (d *Device) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	m := d.m
	if m == nil {
		return 0, errors.New("mirror: Device read before New")
	}
	if !m.state.CompareAndSwap(consIdle, consRunning) && m.state.Load() != consRunning {
		return 0, net.ErrClosed
	}
	if len(d.ports) < len(bufs) {
		d.ports = make([]verdict.Port, len(bufs))
	}
	d.bufs, d.sizes, d.off, d.k = bufs, sizes, offset, 0
	defer func() { d.bufs, d.sizes = nil, nil }()
	idle := 0
	for {
		if d.takeHeld(); d.k > 0 {
			return d.k, nil
		}
		if m.cons.drainN(len(bufs)) > 0 {
			idle = 0
			if d.k > 0 {
				return d.k, nil
			}
			continue // only pcap targets' copies, or failures
		}
		m.cons.idle()
		if m.stop.Load() {
			// Close waits for this: what was queued before it is read.
			m.cons.drain()
			m.cons.idle()
			if d.takeHeld(); d.k > 0 {
				return d.k, nil
			}
			if d.nOver == 0 && m.state.CompareAndSwap(consRunning, consClosed) {
				close(m.done)
			}
			return 0, net.ErrClosed
		}
		idle++
		backoff(idle)
	}
}

// takeHeld moves the frames kept from earlier Reads into the Read's
// buffers, as many as fit.
func (d *Device) takeHeld() {
	for d.first < d.nOver && d.k < len(d.bufs) {
		h := &d.over[d.first]
		d.put(h.buf, h.port)
		d.first++
	}
	if d.first == d.nOver {
		d.first, d.nOver = 0, 0
	}
}

// put copies frame, entering at port, into the Read's next buffer.
func (d *Device) put(frame []byte, port verdict.Port) {
	b := d.bufs[d.k][d.off:]
	if len(frame) > len(b) {
		d.tooSmall.Add(1)
		return
	}
	d.sizes[d.k] = copy(b, frame)
	d.ports[d.k] = port
	d.k++
}

// Ports returns the entry port of each frame of the last Read: the
// port of its session's source ENI (Session.SourcePort), where the
// dataplane is to judge it, as if the source had sent it.
func (d *Device) Ports() []verdict.Port { return d.ports }

// TooSmall counts the frames dropped because a Read's buffer could not
// hold them.
func (d *Device) TooSmall() uint64 { return d.tooSmall.Load() }

// Send, Flush and MaxSegments make the Device the consumer's Sink.
func (d *Device) Send(s *Session, frame []byte, _ int) {
	if d.nOver == 0 && d.k < len(d.bufs) {
		d.put(frame, s.SourcePort)
		return
	}
	if d.nOver == len(d.over) {
		d.over = append(d.over, held{})
	}
	h := &d.over[d.nOver]
	h.buf = append(h.buf[:0], frame...)
	h.port = s.SourcePort
	d.nOver++
}

// Flush does nothing: Read returns the frames.
func (d *Device) Flush() {}

// MaxSegments is NewDevice's maxSegments.
func (d *Device) MaxSegments(s *Session) int {
	if d.maxSegs == nil {
		return 1
	}
	return d.maxSegs(s)
}

// Write refuses frames: nothing is routed to the mirror.
func (d *Device) Write(bufs [][]byte, _ int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	return 0, errors.New("mirror: the mirror's device takes no packets")
}

// BatchSize is the frames a Read returns at best.
func (d *Device) BatchSize() int { return 64 }

// Name names the device in errors.
func (d *Device) Name() string { return "traffic mirroring" }

// Close closes the Mirror (Mirror.Close), which makes Read return
// net.ErrClosed once it has returned what was queued. Do not call it
// from the reading goroutine: it waits for that reader.
func (d *Device) Close() error {
	if d.m == nil {
		return nil
	}
	return d.m.Close()
}
