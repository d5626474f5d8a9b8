package live

import (
	"fmt"
	"runtime"
)

// The workers: the loops that read the ENIs' and the internet's devices.
// Each serves its devices in rounds: it asks its poller which have frames,
// reads from each of those its share of a batch (the batch divided among
// them, at least one frame) and forwards it (forwarder.batch), then asks
// again. A device that always has frames, a flooding instance's, so gets
// its share of every round and no more, and the others' packets wait for
// one round at most, however fast it sends; what it sends beyond its share
// waits in its own device's queue, which the kernel bounds and drops from
// (the flooder's TUN device counts them as TX drops). A device whose
// instance is over its packet-rate allowance (settings.pps_allowance) is
// read only as far as the allowance admits, and not at all while others
// are ready.
//
// With the devices read one goroutine each, their turns were the Go
// scheduler's: a reader that always finds frames never parks, and with one
// P (GOMAXPROCS 1, the default on two CPUs) the other readers' readiness
// was noticed by sysmon's netpoll every 10 ms, which cut an established
// TCP stream under a SYN flood from another instance to a tenth of its
// throughput (bench/flood).
//
// The devices are dealt to the workers in order, round robin. Options.
// Workers says how many there are: by default GOMAXPROCS, at most one per
// device. The services' device, which no poller can watch, keeps a
// goroutine of its own (forward), as does the mirror's sink.

// A poller waits until some of its devices have frames to read:
// tun.Poller for TUN devices (open_linux.go).
type poller interface {
	// Wait blocks until at least one device has frames, writes their ids
	// to ready and returns how many.
	Wait(ready []int) (int, error)
	Close() error
}

// A tryReader is a device that reads without waiting, as tun.NativeTun's
// TryRead does: 0 frames and no error when none is queued.
type tryReader interface {
	TryRead(bufs [][]byte, sizes []int, offset int) (int, error)
}

// worker is one loop over the devices it was dealt, by id: their
// forwarders and readers.
type worker struct {
	x     *Lab
	poll  poller
	fwd   []*forwarder
	rd    []tryReader
	batch int // frames per round, shared among the ready devices
	ready []int
	want  []int // by index in ready: frames to read this round
}

// workers returns how many workers serve n devices when o asks for want:
// want if positive, else GOMAXPROCS; at most n, at least one.
func workers(want, n int) int {
	if want <= 0 {
		want = runtime.GOMAXPROCS(0)
	}
	return max(1, min(want, n))
}

// startForwarders starts the readers of x's devices: the workers for the
// devices a poller can watch, a goroutine each for the others.
func (x *Lab) startForwarders(want int) error {
	var polled []*Device
	for _, d := range x.dests {
		if _, ok := d.dev.(tryReader); ok && d.Link != nil && want >= 0 {
			polled = append(polled, d)
			continue
		}
		x.wg.Add(1)
		go func() {
			defer x.wg.Done()
			x.forward(d)
		}()
	}
	if x.mirrorDev != nil {
		x.mirrorDone = make(chan struct{})
		go func() {
			defer close(x.mirrorDone)
			x.forward(x.mirrorDev)
		}()
	}
	if len(polled) == 0 {
		return nil
	}
	ws := make([]*worker, workers(want, len(polled)))
	for i := range ws {
		p, err := newPoller(len(polled))
		if err != nil {
			return fmt.Errorf("live: a poller for the devices: %w", err)
		}
		x.pollers = append(x.pollers, p)
		ws[i] = &worker{x: x, poll: p}
	}
	for i, d := range polled {
		w := ws[i%len(ws)]
		if err := addToPoller(w.poll, d.dev, len(w.fwd)); err != nil {
			return fmt.Errorf("live: polling %s (%s): %w", d.Link.Name, d.Link.Alias(), err)
		}
		w.add(newForwarder(x, d), d.dev.(tryReader))
	}
	for _, w := range ws {
		w.ready = make([]int, len(w.fwd))
		w.want = make([]int, len(w.fwd))
		x.wg.Add(1)
		go w.run()
	}
	return nil
}

// add gives w a device's forwarder and reader, as the next id.
func (w *worker) add(f *forwarder, r tryReader) {
	w.fwd = append(w.fwd, f)
	w.rd = append(w.rd, r)
	w.batch = max(w.batch, len(f.bufs))
}

// run is w's loop, until its poller or a device is closed.
func (w *worker) run() {
	defer w.x.wg.Done()
	for {
		n, err := w.poll.Wait(w.ready)
		if err == nil {
			err = w.round(w.ready[:n])
		} else {
			err = fmt.Errorf("live: waiting for frames: %w", err)
		}
		if err != nil {
			if !w.x.closing.Load() {
				w.x.fail(err)
			}
			return
		}
	}
}

// round reads from each of the ready devices (ids) its share of a batch
// and forwards what it read. A device whose instance is over its
// packet-rate allowance waits while other devices are ready: its excess
// stays in its queue, which the kernel bounds and drops from, as AWS
// queues then drops. Alone, it is read as ever, and the engine drops its
// excess (reading it one frame at a time would cost a read a frame).
func (w *worker) round(ready []int) error {
	share := max(1, w.batch/max(1, len(ready)))
	snap, now := w.x.engine.Snapshot(), w.x.Now()
	if len(w.want) < len(ready) {
		w.want = make([]int, len(w.fwd))
	}
	want := w.want[:len(ready)]
	over := 0
	for i, id := range ready {
		f := w.fwd[id]
		want[i] = min(share, len(f.bufs))
		if a := snap.PacketAllowance(f.from); a != nil {
			if want[i] = a.Available(now, want[i]); want[i] == 0 {
				over++
			}
		}
	}
	for i, id := range ready {
		f := w.fwd[id]
		n := want[i]
		if n == 0 {
			if over < len(ready) {
				continue
			}
			n = min(share, len(f.bufs))
		}
		n, err := w.rd[id].TryRead(f.bufs[:n], f.sizes, 0)
		if err != nil {
			return readError(f.d, err)
		}
		if n > 0 {
			f.batch(n, w.x.Now())
		}
	}
	return nil
}
