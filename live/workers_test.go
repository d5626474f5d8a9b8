package live

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab/labfile"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/services"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/tun/tuntest"
)

// fairLab: f floods t, q sends t a few datagrams; both allowed.
const fairLab = `
vpc: {id: vpc-fair, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-t
    ingress:
      - {protocol: udp, ports: 5201, cidr: 10.0.0.0/16}
instances:
  - {name: f, subnet: subnet-a, ip: 10.0.1.10}
  - {name: q, subnet: subnet-a, ip: 10.0.1.11}
  - {name: t, subnet: subnet-a, ip: 10.0.1.12, security_groups: [sg-t]}
`

// fairWorker returns a lab of fairLab over in-memory devices of batch
// size batch, and one worker serving f's and q's (ids 0 and 1), as
// startForwarders deals them.
func fairWorker(t *testing.T, batch int) (w *worker, f, q, dst *tuntest.Device) {
	l, err := labfile.Parse("fair.yaml", []byte(fairLab))
	if err != nil {
		t.Fatal(err)
	}
	x := &Lab{engine: dataplane.New(l), mtu: labnet.DefaultMTU}
	mems := make([]*tuntest.Device, 3)
	for i, id := range []string{"eni-f", "eni-q", "eni-t"} {
		p, ok := x.engine.Port(id)
		if !ok {
			t.Fatalf("no port for %s", id)
		}
		mems[i] = &tuntest.Device{Batch: batch}
		d := &Device{Port: p, dev: mems[i], index: i}
		x.devices = append(x.devices, d)
		for int(p) >= len(x.bySlot) {
			x.bySlot = append(x.bySlot, nil)
		}
		x.bySlot[p] = d
	}
	x.addServices(services.NewDevice(func([]byte) {}, x.mtu))
	w = &worker{x: x, poll: &fakePoller{paused: map[int]bool{}}}
	for _, d := range x.devices[:2] {
		w.add(newForwarder(x, d), d.dev.(tryReader))
	}
	w.ready = make([]int, len(w.fwd))
	return w, mems[0], mems[1], mems[2]
}

// datagrams returns n frames of UDP datagrams from src to 10.0.1.12:5201,
// each of a new flow (source port) unless one is set.
func datagrams(src string, n int, one ...bool) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		sport := uint16(1000)
		if len(one) == 0 {
			sport += uint16(i)
		}
		b := make([]byte, tun.VirtioNetHdrLen+128)
		out[i] = b[:tuntest.UDPFrame(b, tuntest.UDP{Src: src, Dst: "10.0.1.12", SPort: sport, DPort: 5201, TTL: 64})]
	}
	return out
}

// TestWorkerFair: while one device (f's) has thousands of frames queued,
// another's (q's) few are all forwarded in the first round in which it is
// ready, and f never gets more than its share of a batch per round: a
// flood cannot starve another device, whatever its rate.
func TestWorkerFair(t *testing.T) {
	const batch = 128
	w, f, q, dst := fairWorker(t, batch)
	f.Queue(datagrams("10.0.1.10", 10000)...)
	q.Queue(datagrams("10.0.1.11", 5)...)

	// Both ready: f gets half a batch, q its 5.
	if err := w.round([]int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if n := q.Queued(); n != 0 {
		t.Errorf("after one round q still has %d of its 5 frames queued", n)
	}
	if taken := 10000 - f.Queued(); taken != batch/2 {
		t.Errorf("f had %d frames read in a round shared with q, want its share %d", taken, batch/2)
	}
	if got := dst.Written(); got != batch/2+5 {
		t.Errorf("%d frames written to t, want %d", got, batch/2+5)
	}

	// f alone: a whole batch per round, no more.
	before := f.Queued()
	if err := w.round([]int{0}); err != nil {
		t.Fatal(err)
	}
	if taken := before - f.Queued(); taken != batch {
		t.Errorf("f alone had %d frames read in a round, want a batch, %d", taken, batch)
	}

	// q again, behind f's flood: served in the next round.
	q.Queue(datagrams("10.0.1.11", 3)...)
	if err := w.round([]int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if n := q.Queued(); n != 0 {
		t.Errorf("q's later frames: %d still queued after a round", n)
	}
	if c := w.fwd[1].d.Counters.Load(); c.AllowedPackets != 8 {
		t.Errorf("q's counters: %d allowed, want 8", c.AllowedPackets)
	}
}

// TestWorkerShareFloor: with more ready devices than frames in a batch,
// each still gets a frame a round.
func TestWorkerShareFloor(t *testing.T) {
	w, f, q, _ := fairWorker(t, 1)
	f.Queue(datagrams("10.0.1.10", 3)...)
	q.Queue(datagrams("10.0.1.11", 3)...)
	if err := w.round([]int{0, 1}); err != nil {
		t.Fatal(err)
	}
	if f.Queued() != 2 || q.Queued() != 2 {
		t.Errorf("queued after a round of batch 1: f %d, q %d, want 2 and 2", f.Queued(), q.Queued())
	}
}

// TestWorkerNoAllocs: a round allocates nothing.
func TestWorkerNoAllocs(t *testing.T) {
	w, f, q, _ := fairWorker(t, 64)
	// Queued beforehand (Queue copies), one flow each (a new flow's
	// conntrack entry is the engine's to allocate).
	f.Queue(datagrams("10.0.1.10", 32*110, true)...)
	q.Queue(datagrams("10.0.1.11", 32*110, true)...)
	allocs := testing.AllocsPerRun(100, func() {
		if err := w.round([]int{0, 1}); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a round allocates %.1f times, want 0", allocs)
	}
	if f.Queued() == 32*110 {
		t.Error("the rounds read nothing")
	}
}

// TestWorkers: GOMAXPROCS workers by default, never more than devices,
// at least one.
func TestWorkers(t *testing.T) {
	for _, c := range []struct{ want, n, got int }{{2, 5, 2}, {8, 3, 3}, {1, 0, 1}} {
		if got := workers(c.want, c.n); got != c.got {
			t.Errorf("workers(%d, %d) = %d, want %d", c.want, c.n, got, c.got)
		}
	}
}

// fakePoller is the poller of a worker whose rounds a test drives: it
// records what the worker paused and its deadline.
type fakePoller struct {
	paused   map[int]bool
	deadline time.Time
	pauses   int
}

func (p *fakePoller) Wait([]int) (int, error) { return 0, errors.New("fakePoller: no Wait") }
func (p *fakePoller) Pause(id int) error {
	p.paused[id] = true
	p.pauses++
	return nil
}
func (p *fakePoller) Resume(id int) error           { delete(p.paused, id); return nil }
func (p *fakePoller) SetDeadline(t time.Time) error { p.deadline = t; return nil }
func (p *fakePoller) Close() error                  { return nil }

// TestWorkerPPSAllowance: f's device is read as far as its instance's
// packet-rate allowance admits; once it is used up f is not read, with q
// ready or alone (its frames stay queued, for the kernel to drop), but
// paused until the allowance holds a batch again, the poller's deadline
// then; due, it is resumed and read again as far as the allowance admits,
// and what its queue dropped meanwhile is counted as f's
// pps_allowance_exceeded.
func TestWorkerPPSAllowance(t *testing.T) {
	const batch = 128
	w, f, q, _ := fairWorker(t, batch)
	fp := w.poll.(*fakePoller)
	l, err := labfile.Parse("fair.yaml", []byte(strings.Replace(fairLab, "ip: 10.0.1.10}", "ip: 10.0.1.10, pps_allowance: 10}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	w.x.start = time.Now() // the packets' clock from 0, not the saturated time since year 1
	// 100 ms a packet, a burst of MinPPSBurst: slow enough that the time
	// the rounds take on a loaded machine adds no packet to the bucket.
	w.x.engine.Apply(l, w.x.Now())
	f.Queue(datagrams("10.0.1.10", 10000)...)
	qd := &queueDrops{Device: f, n: 100}
	w.fwd[0].d.dev = qd // f's device counts the kernel's drops at its queue
	for round := range 3 {
		q.Queue(datagrams("10.0.1.11", 5)...)
		ready := []int{0, 1}
		if round == 2 {
			ready = ready[:1] // f alone
		}
		before := f.Queued()
		if err := w.round(ready); err != nil {
			t.Fatal(err)
		}
		want := batch / 2 // the allowance's burst is two shares
		if round == 2 {
			want = 0 // used up: f is paused, though alone
		}
		if taken := before - f.Queued(); taken != want {
			t.Errorf("round %d: f had %d frames read, want %d", round, taken, want)
		}
		if round < 2 && q.Queued() != 0 {
			t.Fatalf("round %d: q has %d frames left", round, q.Queued())
		}
	}
	if !fp.paused[0] || fp.paused[1] || fp.pauses != 1 {
		t.Fatalf("paused %v (%d pauses), want f's device (0) alone, once", fp.paused, fp.pauses)
	}
	// q's last frames, with f paused.
	if err := w.round([]int{1}); err != nil || q.Queued() != 0 {
		t.Fatalf("q's round: %v, %d frames left", err, q.Queued())
	}
	now := w.x.Now()
	if err := w.wake(now); err != nil {
		t.Fatal(err)
	}
	// The bucket holds a batch only after 128 packets at 100 ms each, so
	// the worker wakes at maxPause to look again.
	due := time.Duration(w.resume[0])
	if d := fp.deadline.Sub(w.x.start); d != due || due < 100*time.Millisecond || due > 100*time.Millisecond+time.Duration(now) {
		t.Fatalf("the poller's deadline %v after start, f due at %v (now %v), want both at about 100 ms (maxPause, before the bucket holds a batch)", d, due, time.Duration(now))
	}
	// Due: resumed, the deadline gone, and read as far as the allowance
	// admits.
	w.x.start = w.x.start.Add(-2 * time.Duration(batch) * 100 * time.Millisecond) // the clock moved on
	qd.n += 250                                                                   // meanwhile the kernel dropped 250 of f's frames at its queue
	if err := w.wake(w.x.Now()); err != nil {
		t.Fatal(err)
	}
	if fp.paused[0] || w.paused != 0 || !fp.deadline.IsZero() {
		t.Fatalf("after its time: paused %v (%d), deadline %v; want none", fp.paused, w.paused, fp.deadline)
	}
	before := f.Queued()
	if err := w.round([]int{0}); err != nil {
		t.Fatal(err)
	}
	if taken := before - f.Queued(); taken != batch {
		t.Errorf("f resumed had %d frames read, want a batch, %d", taken, batch)
	}
	pa := w.x.engine.Snapshot().PacketAllowance(w.fwd[0].from)
	if pa.Exceeded() != 250 {
		t.Errorf("f's pps_allowance_exceeded %d, want the 250 its queue dropped while paused (the worker read no frame past the allowance)", pa.Exceeded())
	}
}

// queueDrops is a device that counts n frames dropped at its queue.
type queueDrops struct {
	*tuntest.Device
	n uint64
}

func (d *queueDrops) TxDropped() (uint64, error) { return d.n, nil }

// TestWorkerPauseNoAllocs: pausing, waking and resuming a device
// allocates nothing.
func TestWorkerPauseNoAllocs(t *testing.T) {
	w, _, _, _ := fairWorker(t, 64)
	w.x.start = time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		now := w.x.Now()
		if err := w.pause(0, now+int64(time.Millisecond), now); err != nil {
			t.Fatal(err)
		}
		if err := w.wake(now); err != nil {
			t.Fatal(err)
		}
		if err := w.wake(now + int64(time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("pause and wake allocate %.1f times, want 0", allocs)
	}
	if w.paused != 0 {
		t.Errorf("%d devices still paused", w.paused)
	}
}
