package live

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
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
// read only as far as the allowance admits, then paused (left out of its
// poller) until the allowance holds a batch again: its excess waits in
// its queue and the kernel drops it there, as AWS queues then drops,
// and costs the lab nothing, not a read nor a wakeup (reading it to drop
// it cost a read(2) a frame: under bench/flood's SYN flood, f's allowance
// 20,000/s, the lab read 78-123k frames a second from f's device, and
// 13-15k paused; at 2,000/s, the flooder on a CPU of its own, the
// stream through the lab kept 0.84x of its throughput beside the same
// flood into a sink, and 0.97x paused). What the kernel dropped there meanwhile (the device's TX
// drops, read when it is paused and resumed) is counted as the instance's
// pps_allowance_exceeded.
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
	// to ready and returns how many; past the deadline (SetDeadline) it
	// returns os.ErrDeadlineExceeded instead.
	Wait(ready []int) (int, error)
	// Pause leaves device id out of Wait's reports until Resume (its
	// errors excepted).
	Pause(id int) error
	Resume(id int) error
	// SetDeadline bounds the Waits that find nothing ready; the zero
	// time removes the bound.
	SetDeadline(t time.Time) error
	Close() error
}

// maxPause is the longest a device is paused at once for its instance's
// packet-rate allowance: then it is asked again (the allowance may have
// changed since, by an apply).
const maxPause = int64(100 * time.Millisecond)

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
	// resume is, by id, when a device paused for its instance's
	// packet-rate allowance is read again (the lab's clock, Lab.Now);
	// 0 while it is not paused. paused counts those that are, deadline
	// is the poller's (0: none).
	resume   []int64
	paused   int
	deadline int64
	// drops is, by id, a paused device's TX drops when it was paused
	// (txDropper): what the kernel drops at its queue until it is
	// resumed is its instance's pps_allowance_exceeded.
	drops []uint64
}

// A txDropper is a device that counts what the kernel dropped at its
// queue, as tun.NativeTun's TxDropped does.
type txDropper interface {
	TxDropped() (uint64, error)
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
	w.resume, w.drops = append(w.resume, 0), append(w.drops, 0)
	w.batch = max(w.batch, len(f.bufs))
}

// run is w's loop, until its poller or a device is closed.
func (w *worker) run() {
	defer w.x.wg.Done()
	for {
		var err error
		if w.paused > 0 {
			err = w.wake(w.x.Now())
		}
		n := 0
		if err == nil {
			n, err = w.poll.Wait(w.ready)
			switch {
			case err == nil:
				err = w.round(w.ready[:n])
			case errors.Is(err, os.ErrDeadlineExceeded): // a paused device is due
				err = nil
			default:
				err = fmt.Errorf("live: waiting for frames: %w", err)
			}
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
// packet-rate allowance is not read but paused until the allowance holds
// a batch again (pause): its excess stays in its queue, which the kernel
// bounds and drops from, as AWS queues then drops.
func (w *worker) round(ready []int) error {
	share := max(1, w.batch/max(1, len(ready)))
	snap, now := w.x.engine.Snapshot(), w.x.Now()
	if len(w.want) < len(ready) {
		w.want = make([]int, len(w.fwd))
	}
	want := w.want[:len(ready)]
	for i, id := range ready {
		f := w.fwd[id]
		want[i] = min(share, len(f.bufs))
		if w.resume[id] != 0 {
			// Reported while paused: an error or a hang-up, which a
			// read returns.
			want[i] = 1
			continue
		}
		if a := snap.PacketAllowance(f.from); a != nil {
			if want[i] = a.Available(now, want[i]); want[i] == 0 {
				if err := w.pause(id, a.Due(now, w.batch), now); err != nil {
					return err
				}
			}
		}
	}
	for i, id := range ready {
		f := w.fwd[id]
		if want[i] == 0 {
			continue
		}
		n, err := w.rd[id].TryRead(f.bufs[:want[i]], f.sizes, 0)
		if err != nil {
			return readError(f.d, err)
		}
		if n > 0 {
			f.batch(n, w.x.Now())
		}
	}
	return nil
}

// pause leaves device id unread until time at (at most maxPause after
// now): its poller stops reporting it.
func (w *worker) pause(id int, at, now int64) error {
	at = min(max(at, now+1), now+maxPause)
	if w.resume[id] == 0 {
		if err := w.poll.Pause(id); err != nil {
			return fmt.Errorf("live: pausing %s: %w", w.fwd[id].d.dev.Name(), err)
		}
		w.paused++
		w.drops[id] = w.txDropped(id)
	}
	w.resume[id] = at
	return nil
}

// txDropped returns device id's TX drops so far, 0 if it does not count
// them.
func (w *worker) txDropped(id int) uint64 {
	if d, ok := w.fwd[id].d.dev.(txDropper); ok {
		if n, err := d.TxDropped(); err == nil {
			return n
		}
	}
	return 0
}

// resumed resumes paused device id, counting what the kernel dropped at
// its queue meanwhile as its instance's pps_allowance_exceeded.
func (w *worker) resumed(id int) error {
	f := w.fwd[id]
	if err := w.poll.Resume(id); err != nil {
		return fmt.Errorf("live: resuming %s: %w", f.d.dev.Name(), err)
	}
	w.resume[id] = 0
	w.paused--
	if n := w.txDropped(id); n > w.drops[id] {
		if a := w.x.engine.Snapshot().PacketAllowance(f.from); a != nil {
			a.AddExceeded(n - w.drops[id])
		}
	}
	return nil
}

// wake resumes the paused devices due at now and sets the poller's
// deadline to the next one due (none if none is paused).
func (w *worker) wake(now int64) error {
	var next int64
	for id, at := range w.resume {
		switch {
		case at == 0:
		case at <= now:
			if err := w.resumed(id); err != nil {
				return err
			}
		case next == 0 || at < next:
			next = at
		}
	}
	if next == w.deadline {
		return nil
	}
	w.deadline = next
	var t time.Time
	if next != 0 {
		t = w.x.start.Add(time.Duration(next))
	}
	return w.poll.SetDeadline(t)
}
