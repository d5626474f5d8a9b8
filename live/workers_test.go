package live

import (
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab/labfile"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/services"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/tun/tuntest"
	"github.com/vpclab/vpclab/verdict"
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
	w = &worker{x: x}
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

// TestWorkerPPSAllowance: f's device is read as far as its instance's
// packet-rate allowance admits; once it is used up f waits while q is
// ready (its frames stay queued), and alone it is read and its frames
// dropped as pps_allowance_exceeded.
func TestWorkerPPSAllowance(t *testing.T) {
	const batch = 128
	w, f, q, _ := fairWorker(t, batch)
	l, err := labfile.Parse("fair.yaml", []byte(strings.Replace(fairLab, "ip: 10.0.1.10}", "ip: 10.0.1.10, pps_allowance: 1}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	w.x.start = time.Now()         // the packets' clock from 0, not the saturated time since year 1
	w.x.engine.Apply(l, w.x.Now()) // 1 packet a second, a burst of MinPPSBurst
	f.Queue(datagrams("10.0.1.10", 10000)...)
	for round := range 3 {
		q.Queue(datagrams("10.0.1.11", 5)...)
		before := f.Queued()
		if err := w.round([]int{0, 1}); err != nil {
			t.Fatal(err)
		}
		if n := q.Queued(); n != 0 {
			t.Fatalf("round %d: q has %d frames left", round, n)
		}
		want := batch / 2 // the allowance's burst is two shares
		if round == 2 {
			want = 0 // used up: f waits while q is ready
		}
		if taken := before - f.Queued(); taken != want {
			t.Errorf("round %d: f had %d frames read, want %d", round, taken, want)
		}
	}
	before := f.Queued()
	if err := w.round([]int{0}); err != nil {
		t.Fatal(err)
	}
	if taken := before - f.Queued(); taken != batch {
		t.Errorf("f alone had %d frames read, want a batch, %d", taken, batch)
	}
	pa := w.x.engine.Snapshot().PacketAllowance(w.fwd[0].from)
	if pa.Exceeded() != batch {
		t.Errorf("f's pps_allowance_exceeded %d, want %d", pa.Exceeded(), batch)
	}
	if c := w.fwd[0].d.Counters.Load(); c.DeniedPacketsBy[verdict.StagePPSAllowance][verdict.CodePPSAllowanceExceeded] != batch {
		t.Errorf("f's device counted %d pps drops, want %d", c.DeniedPacketsBy[verdict.StagePPSAllowance][verdict.CodePPSAllowanceExceeded], batch)
	}
}
