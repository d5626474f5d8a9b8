package capture

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/internal/pktring"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// Ring sizing of a session that gives no Slots: about ringBudget bytes of
// packet copies, between minSlots and maxSlots slots. At the default
// snaplen that is 128 GSO super-packets.
const (
	ringBudget = 8 << 20
	minSlots   = 64
	maxSlots   = 8192
	// MaxSlots is the largest ring a session may ask for.
	MaxSlots = 1 << 20
	// maxPort bounds the ENI ports a session may name: the table of
	// sessions has a slot per port up to the highest.
	maxPort = 1 << 20
	// batch is how many packets the writer takes from the ring between
	// flushes when the ring does not run empty first.
	batch = 256
)

// Tap hands copies of the packets seen at ENIs to the capture sessions
// attached to them. The packet path calls OfferVerdict (or Offer) for
// every packet; with no session attached that costs one atomic load, and
// with sessions it copies the packet into each one's ring without a lock
// or an allocation. Attach and Close may be called at any time, from any
// goroutine.
type Tap struct {
	epoch    int64 // wall-clock ns of the packet clock's zero
	mu       sync.Mutex
	sessions []*Session
	tab      atomic.Pointer[table] // nil while no session is attached
}

// table maps ports to the sessions that show them. It is immutable: Attach
// and Close publish a new one.
type table struct {
	ports [][]tapEntry // by port; nil where no session captures
}

// tapEntry is one session's interest in one port.
type tapEntry struct {
	s     *Session
	iface uint32 // the interface of the session's file
	eni   string // the ENI's id, to tell whose conntrack allowance a verdict names
	drops *atomic.Uint64
}

// meta is what a ring slot holds beside the packet bytes.
type meta struct {
	ts    int64 // ns since the Unix epoch
	iface uint32
	dir   Direction
	v     verdict.Verdict // Trace is nil
}

// NewTap returns a tap whose packet clock (the now argument of Offer and
// OfferVerdict, in nanoseconds) started at start: the live dataplane's
// clock, time since the lab started. Packets are stamped start + now.
func NewTap(start time.Time) *Tap {
	return &Tap{epoch: start.UnixNano()}
}

// Begin and End do nothing: a Tap needs no batch (they make it a
// forwarder's Observer, see package live).
func (t *Tap) Begin() {}

// End: see Begin.
func (t *Tap) End() {}

// Judged is OfferVerdict for a forwarder's Observer (package live): the
// virtio header and the segment count are not looked at.
func (t *Tap) Judged(v *verdict.Verdict, _ *packet.Parsed, _, pkt []byte, _ uint64, now int64) {
	t.OfferVerdict(v, pkt, now)
}

// Forwarded does nothing: a packet is captured as judged (Judged).
func (t *Tap) Forwarded(*verdict.Verdict, *packet.Parsed, []byte, []byte, int64) {}

// OfferVerdict shows a judged packet to the sessions capturing the ENIs it
// passed: outbound at v.From when an ENI sent it, whatever the verdict;
// inbound at v.To when it is an ENI and the packet was delivered there or
// dropped by the receiving side (nacl-ingress, sg-ingress, or the
// receiving instance's conntrack allowance). Call it after the engine's
// verdict and before anything changes pkt (the TTL decrement). now is the
// engine's clock.
func (t *Tap) OfferVerdict(v *verdict.Verdict, pkt []byte, now int64) {
	tb := t.tab.Load()
	if tb == nil {
		return
	}
	ts := t.epoch + now
	if v.From >= 0 {
		tb.offer(v.From, Outbound, v, pkt, ts)
	}
	if v.To < 0 || int(v.To) >= len(tb.ports) {
		return
	}
	switch {
	case v.Allowed, v.Stage == verdict.StageNACLIngress, v.Stage == verdict.StageSGIngress:
		tb.offer(v.To, Inbound, v, pkt, ts)
	case v.Stage == verdict.StageConntrackAllowance, v.Stage == verdict.StagePPSAllowance:
		for i := range tb.ports[v.To] {
			if e := &tb.ports[v.To][i]; e.eni == v.ENI {
				e.put(Inbound, v, pkt, ts)
			}
		}
	}
}

// Offer shows a packet seen at port in direction dir, with its verdict,
// to the sessions capturing that port; now is the engine's clock. Use it
// where OfferVerdict's rule of which ENIs see a packet does not fit.
func (t *Tap) Offer(port verdict.Port, dir Direction, v *verdict.Verdict, pkt []byte, now int64) {
	if tb := t.tab.Load(); tb != nil {
		tb.offer(port, dir, v, pkt, t.epoch+now)
	}
}

// Capturing reports whether any session is attached: a packet path may
// skip work that only feeds the tap.
func (t *Tap) Capturing() bool { return t.tab.Load() != nil }

// Ports appends to dst the ports some session captures, in order, and
// returns the result.
func (t *Tap) Ports(dst []verdict.Port) []verdict.Port {
	tb := t.tab.Load()
	if tb == nil {
		return dst
	}
	for p, es := range tb.ports {
		if len(es) > 0 {
			dst = append(dst, verdict.Port(p))
		}
	}
	return dst
}

func (tb *table) offer(port verdict.Port, dir Direction, v *verdict.Verdict, pkt []byte, ts int64) {
	if port < 0 || int(port) >= len(tb.ports) {
		return
	}
	for i := range tb.ports[port] {
		tb.ports[port][i].put(dir, v, pkt, ts)
	}
}

func (e *tapEntry) put(dir Direction, v *verdict.Verdict, pkt []byte, ts int64) {
	m := meta{ts: ts, iface: e.iface, dir: dir, v: *v}
	m.v.Trace = nil
	if !e.s.ring.Put(&m, pkt) {
		e.drops.Add(1)
	}
}

// Point is an ENI a session captures: its dataplane port and how the file
// names it. Interface.Name must be the ENI's id.
type Point struct {
	Port      verdict.Port
	Interface Interface
}

// Options tune a capture session.
type Options struct {
	// Snaplen is the most bytes kept of each packet: 0 means
	// DefaultSnaplen, which keeps every packet whole.
	Snaplen int
	// Slots is the number of packets the ring between the packet path
	// and the writer holds (rounded up to a power of two): 0 picks about
	// 8 MiB of copies, 64 to 8192 slots. When the writer falls behind by
	// more, copies are dropped and counted.
	Slots int
}

// Stats count a session's packets.
type Stats struct {
	// Packets is the packets written to the file, Truncated those of them
	// cut at the snaplen.
	Packets, Truncated uint64
	// Dropped is the copies lost because the ring was full: the writer
	// (or whatever reads its output) fell behind the packet path.
	Dropped uint64
}

// Session is one capture: the packets seen at its points, written as
// pcapng to its output by a goroutine of its own until Close.
type Session struct {
	tap     *Tap
	points  []Point
	ring    *pktring.Ring[meta]
	wr      *Writer
	label   string // the ENI ids, for errors
	start   int64  // wall-clock ns
	ifstats []ifaceCounts
	stop    atomic.Bool
	done    chan struct{}
	once    sync.Once
	err     error // set by the writer goroutine before done closes

	packets, truncated atomic.Uint64
}

// ifaceCounts are one interface's counts, for its statistics block.
type ifaceCounts struct {
	written uint64 // the writer goroutine's only
	dropped atomic.Uint64
}

// Attach starts a session that writes the packets seen at points to w as
// pcapng, one interface per point in that order. It writes the file's
// header to w at once (so that a reader at the other end of a pipe can
// start) and fails if it cannot, or if points is empty, names a port that
// is not an ENI's (negative, or above 2^20) or names one twice, or opts
// are out of range. w is not
// closed by the session; if it has a Flush method, it is called after
// each batch of packets.
func (t *Tap) Attach(w io.Writer, points []Point, opts Options) (*Session, error) {
	if len(points) == 0 {
		return nil, errors.New("capture: no ENI to capture")
	}
	seen := map[verdict.Port]bool{}
	for i, p := range points {
		switch {
		case p.Port < 0 || p.Port > maxPort:
			return nil, fmt.Errorf("capture: point %d (%s): port %d is not an ENI's", i, p.Interface.Name, p.Port)
		case seen[p.Port]:
			return nil, fmt.Errorf("capture: point %d (%s): port %d is captured twice", i, p.Interface.Name, p.Port)
		}
		seen[p.Port] = true
	}
	snaplen := opts.Snaplen
	if snaplen == 0 {
		snaplen = DefaultSnaplen
	}
	if snaplen < 0 || snaplen > MaxSnaplen {
		return nil, fmt.Errorf("capture: snaplen %d is out of range 1-%d", opts.Snaplen, MaxSnaplen)
	}
	slots := opts.Slots
	if slots == 0 {
		slots = min(max(ringBudget/snaplen, minSlots), maxSlots)
	}
	if slots < 0 || slots > MaxSlots {
		return nil, fmt.Errorf("capture: %d ring slots is out of range 1-%d", opts.Slots, MaxSlots)
	}
	ifaces := make([]Interface, len(points))
	names := make([]string, len(points))
	for i, p := range points {
		ifaces[i], names[i] = p.Interface, p.Interface.Name
	}
	wr, err := NewWriter(w, snaplen, ifaces...)
	if err == nil {
		err = wr.Flush()
	}
	if err != nil {
		return nil, fmt.Errorf("capture: writing the file header: %w", err)
	}
	s := &Session{
		tap:     t,
		points:  append([]Point(nil), points...),
		ring:    pktring.New[meta](slots, snaplen),
		wr:      wr,
		label:   strings.Join(names, ", "),
		start:   time.Now().UnixNano(),
		ifstats: make([]ifaceCounts, len(points)),
		done:    make(chan struct{}),
	}
	t.mu.Lock()
	t.sessions = append(t.sessions, s)
	t.publish()
	t.mu.Unlock()
	go s.run()
	return s, nil
}

// detach removes s from the tap: packets the packet path offers after it
// returns no longer reach s.
func (t *Tap) detach(s *Session) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, x := range t.sessions {
		if x == s {
			t.sessions = append(t.sessions[:i], t.sessions[i+1:]...)
			t.publish()
			return
		}
	}
}

// publish builds the table of the attached sessions and makes it the
// packet path's. t.mu is held.
func (t *Tap) publish() {
	if len(t.sessions) == 0 {
		t.tab.Store(nil)
		return
	}
	n := 0
	for _, s := range t.sessions {
		for _, p := range s.points {
			n = max(n, int(p.Port)+1)
		}
	}
	tb := &table{ports: make([][]tapEntry, n)}
	for _, s := range t.sessions {
		for i, p := range s.points {
			tb.ports[p.Port] = append(tb.ports[p.Port], tapEntry{
				s: s, iface: uint32(i), eni: p.Interface.Name, drops: &s.ifstats[i].dropped,
			})
		}
	}
	t.tab.Store(tb)
}

// run is the session's writer: it drains the ring into the file, flushing
// after each batch, until Close or a write error.
func (s *Session) run() {
	defer close(s.done)
	write := s.write
	idle := 0
	for {
		n := 0
		for n < batch && s.ring.Get(write) {
			n++
		}
		if n > 0 && s.err == nil {
			s.err = s.wr.Flush()
		}
		if s.err != nil {
			s.tap.detach(s)
			s.err = fmt.Errorf("capture: writing the capture of %s: %w", s.label, s.err)
			return
		}
		if n > 0 {
			idle = 0
			continue
		}
		if s.stop.Load() {
			s.finish()
			return
		}
		idle++
		backoff(idle)
	}
}

// write writes one packet from the ring; after an error it skips the rest.
func (s *Session) write(m *meta, data []byte, orig int) {
	if s.err != nil {
		return
	}
	if s.err = s.wr.WritePacket(int(m.iface), m.ts, m.dir, data, orig, &m.v); s.err != nil {
		return
	}
	s.ifstats[m.iface].written++
	s.packets.Add(1)
	if len(data) < orig {
		s.truncated.Add(1)
	}
}

// finish writes what the ring still holds and the interfaces' statistics,
// then flushes.
func (s *Session) finish() {
	s.ring.Drain(s.write)
	end := time.Now().UnixNano()
	for i := range s.ifstats {
		if s.err != nil {
			break
		}
		c := &s.ifstats[i]
		s.err = s.wr.WriteStats(i, InterfaceStats{Start: s.start, End: end, Written: c.written, Dropped: c.dropped.Load()})
	}
	if s.err == nil {
		s.err = s.wr.Flush()
	}
	if s.err != nil {
		s.err = fmt.Errorf("capture: writing the capture of %s: %w", s.label, s.err)
	}
}

// backoff waits between polls of an empty ring: it yields at first, then
// sleeps, up to a millisecond, which a capture's latency can afford and an
// idle lab's CPU appreciates.
func backoff(idle int) {
	if idle < 64 {
		runtime.Gosched()
		return
	}
	time.Sleep(min(time.Duration(idle-63)*10*time.Microsecond, time.Millisecond))
}

// Close ends the session: packets offered from now on are not captured;
// those already in the ring are written, then each interface's statistics
// block, and the output is flushed. It returns the first error writing
// the file, if any. A packet offered while Close runs may or may not be
// written. Close may be called more than once.
func (s *Session) Close() error {
	s.once.Do(func() {
		s.tap.detach(s)
		s.stop.Store(true)
	})
	<-s.done
	return s.err
}

// Done is closed when the session has ended: after Close, or when writing
// failed (a reader that went away). Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns the error that ended the session, or nil while it runs or
// if it ended without one.
func (s *Session) Err() error {
	select {
	case <-s.done:
		return s.err
	default:
		return nil
	}
}

// Points returns the ENIs the session captures.
func (s *Session) Points() []Point { return append([]Point(nil), s.points...) }

// Stats returns the session's counts so far.
func (s *Session) Stats() Stats {
	return Stats{Packets: s.packets.Load(), Truncated: s.truncated.Load(), Dropped: s.ring.Dropped()}
}
