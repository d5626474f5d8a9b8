package mirror

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/internal/pktring"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// Sink takes the mirror packets of sessions whose target is an ENI.
type Sink interface {
	// Send delivers a frame of segs mirror packets: a virtio-net header
	// (tun.VirtioNetHdrLen bytes) then IPv4 from s.SourceAddr to
	// s.TargetAddr, UDP to 4789, ready to be written to the target's TUN
	// device as it is.
	//
	// With segs == 1 the header is zero (a plain packet: no GSO, no
	// checksum left to do) and the packet is one mirror packet: outer
	// header, UDP (checksum 0), VXLAN, the inner frame.
	//
	// With segs > 1 (only for a session whose MaxSegments was above 1)
	// the frame is a UDP GSO super-packet (tun.GSOUDPL4) that stands for
	// segs mirror packets of one session and one outer flow: one outer
	// IPv4 and UDP header whose lengths cover the whole, then each mirror
	// packet's UDP payload (VXLAN header and inner frame), every one
	// GSOSize bytes but the last, which may be shorter. The header has
	// NEEDS_CSUM (CsumStart 20, CsumOffset 6) and the UDP checksum field
	// holds the pseudo-header sum, as the kernel's UDP segmentation
	// requires; it cuts the frame into the mirror packets, IPv4 ids
	// counting up from the outer header's, as tun.GSOSplit does.
	//
	// The live dataplane judges frame[tun.VirtioNetHdrLen:] as a packet
	// that entered at s.SourcePort, so that the route and the target's
	// security group decide whether it arrives (AWS does not apply the
	// source's own security group to mirror traffic); a super-packet is
	// judged once for all its mirror packets, as the forwarder does with
	// TCP super-packets: they share every header the dataplane looks at.
	// frame is valid only during the call. Send is called from the
	// mirror's consumer goroutine only and must not offer the packet to
	// the mirror again.
	Send(s *Session, frame []byte, segs int)
	// Flush is called by the consumer after each batch of copies it
	// drained, once it has sent everything the batch produced: a Sink
	// that holds frames back writes them now.
	Flush()
	// MaxSegments returns how many mirror packets of session s (an ENI
	// target) Send may be given in one UDP GSO super-packet: 1 or less
	// for none (every mirror packet is sent on its own), at most
	// MaxGSOSegments. It is asked when the sessions are compiled (New,
	// Reconfigure), with the Mirror's lock held: it must not call the
	// Mirror.
	MaxSegments(s *Session) int
}

// MaxGSOSegments is the most mirror packets a UDP GSO super-packet given
// to a Sink holds: the kernel's UDP_MAX_SEGMENTS (a TUN device refuses a
// frame of more with EINVAL).
const MaxGSOSegments = 64

// Options tune a Mirror. The zero value is usable.
type Options struct {
	// Sink receives the copies for ENI targets. When nil (and Device
	// is) they are counted as failed.
	Sink Sink
	// Device, instead of Sink, makes the copies for ENI targets frames to
	// read (see Device): its reader is then the consumer, and Start and
	// Drain are not to be called.
	Device *Device
	// MTU is the MTU of target ENIs' links: a mirror packet longer is cut
	// to fit, as AWS does. Default labnet.DefaultMTU (9001, AWS's); at least 576.
	MTU int
	// QueueSlots is how many copies may wait for the consumer (rounded up
	// to a power of two); default 256, at most 16384. Each slot holds up
	// to 64 KiB, the largest IP packet or GSO super-packet. The queue is
	// made when a lab first has a session; its pages are touched only as
	// copies fill them.
	QueueSlots int
	// Epoch is the wall-clock time of the packet clock's zero, for pcap
	// timestamps: the live lab's start (its clock counts nanoseconds since
	// then). Zero means the Unix epoch, for a clock of Unix nanoseconds
	// (replay).
	Epoch time.Time
}

// Default option values.
const (
	DefaultQueueSlots = 256
	// DefaultMTU is an ENI's MTU in AWS, as labnet.DefaultMTU (not
	// imported: it would bring netlink to offline users).
	DefaultMTU    = 9001
	maxQueueSlots = 1 << 14 // 1 GiB of address space
	minMTU        = 576
)

// slotSize is the room of a queue slot: the largest IP packet, which is
// also the largest GSO super-packet a TUN device hands over.
const slotSize = 65535

// meta is what a queued copy carries beside its bytes.
type meta struct {
	s     *session
	hdr   tun.VirtioNetHdr
	dir   Direction
	orig  int    // the packet's length before the packet path cut it
	sport uint16 // outer UDP source port
	// hlen is not 0 for a super-packet queued cut (see cutParts): the
	// data is its first hlen bytes (IP and L4 headers, the L4 header at
	// l4), then the first keep payload bytes of each segment (fewer for a
	// last segment that is shorter).
	hlen, l4, keep uint16
	now            int64
}

type ring = pktring.Ring[meta]

// counters are one session's, kept across Reconfigure while its id stays.
type counters struct {
	mirrored, bytes, truncated, dropped, failed atomic.Uint64
}

// Mirror runs a lab's traffic mirror sessions.
type Mirror struct {
	tab  atomic.Pointer[table]
	port func(string) (verdict.Port, bool)
	opts Options
	room int // inner-frame bytes an ENI target takes: MTU minus the outer headers

	mu      sync.Mutex // serialises Reconfigure, Close and the bookkeeping below
	files   map[string]*pcapFile
	retired []*pcapFile // no longer used; the consumer closes them once idle
	ctrs    map[string]*counters
	ring    *ring
	closed  bool
	err     error // the first error a retired file reported on close

	state   atomic.Int32 // consIdle, consRunning, consClosed (device.go)
	stop    atomic.Bool
	done    chan struct{}
	closeMu sync.Once
	cons    consumer // the consumer's state; only the consumer touches it
}

// New compiles l's traffic mirror sessions. port maps an ENI id to its
// dataplane port (dataplane.Engine.Port): the engine must already run l.
// Pcap targets are created (truncated) now. Call Start, or Drain from an
// offline loop, to send copies.
func New(l *lab.Lab, port func(eniID string) (verdict.Port, bool), o Options) (*Mirror, error) {
	if o.MTU == 0 {
		o.MTU = labnet.DefaultMTU
	}
	if o.MTU < minMTU || o.MTU > slotSize {
		return nil, fmt.Errorf("mirror: MTU %d is outside %d-%d", o.MTU, minMTU, slotSize)
	}
	if o.QueueSlots == 0 {
		o.QueueSlots = DefaultQueueSlots
	}
	if o.QueueSlots < 0 || o.QueueSlots > maxQueueSlots {
		return nil, fmt.Errorf("mirror: QueueSlots %d is outside 1-%d", o.QueueSlots, maxQueueSlots)
	}
	if o.Epoch.IsZero() {
		o.Epoch = time.Unix(0, 0)
	}
	if o.Device != nil {
		if o.Sink != nil {
			return nil, errors.New("mirror: Options.Sink and Options.Device are both set")
		}
		if o.Device.m != nil {
			return nil, errors.New("mirror: Options.Device is already another Mirror's")
		}
		o.Sink = o.Device
	}
	m := &Mirror{
		port:  port,
		opts:  o,
		room:  o.MTU - outerLen,
		files: map[string]*pcapFile{},
		ctrs:  map[string]*counters{},
		done:  make(chan struct{}),
	}
	m.cons.init(m)
	m.tab.Store(&table{})
	if err := m.Reconfigure(l); err != nil {
		return nil, err
	}
	if o.Device != nil {
		o.Device.m = m
	}
	return m, nil
}

// Reconfigure replaces the sessions with l's at once: the next Offer sees
// l, never a mix. Apply l to the engine first (its new ENIs need ports).
// Copies already queued go out as their old sessions said. Pcap files that
// l keeps stay open and are appended to; new ones are created; the others
// are closed once the queue has drained. Counters carry over for session
// ids that remain. On error nothing changes.
func (m *Mirror) Reconfigure(l *lab.Lab) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mirror: Reconfigure after Close")
	}
	// A retired file not yet closed is taken back rather than created
	// anew over itself.
	files := maps.Clone(m.files)
	for _, f := range m.retired {
		files[f.path] = f
	}
	t, err := compile(l, m.port, m.room, files, m.ctrs)
	if err != nil {
		for p, f := range files {
			if m.files[p] == nil && !slices.Contains(m.retired, f) {
				f.close() // opened by this call
			}
		}
		return err
	}
	for _, s := range t.sessions {
		s.segs = 1
		if s.file == nil && m.opts.Sink != nil {
			s.segs = min(max(m.opts.Sink.MaxSegments(&s.Session), 1), MaxGSOSegments)
		}
	}
	if m.ring == nil && len(t.sessions) > 0 {
		m.ring = pktring.New[meta](m.opts.QueueSlots, slotSize)
	}
	t.ring = m.ring
	used := map[string]bool{}
	for _, f := range t.files {
		used[f.path] = true
	}
	m.retired = m.retired[:0]
	for p, f := range files {
		if !used[p] {
			m.retired = append(m.retired, f)
			delete(files, p)
		}
	}
	m.files = files
	m.tab.Store(t)
	return nil
}

// Offer considers one packet the engine judged (v, with p parsed from
// pkt) at port at, in direction dir: Egress at v.From as sent, Ingress at
// v.To as delivered. vnet is the packet's virtio-net header, or nil. It
// reports whether a copy was queued. Offer copies what it keeps before it
// returns, allocates nothing, takes no lock and never blocks; with no
// session at the port it costs one atomic load and an index.
func (m *Mirror) Offer(at verdict.Port, dir Direction, v *verdict.Verdict, p *packet.Parsed, vnet, pkt []byte, now int64) bool {
	t := m.tab.Load()
	if uint(at) >= uint(len(t.ports)) { // a negative port too
		return false
	}
	src := t.ports[at]
	if src == nil || !reached(at, dir, v, src.id) {
		return false
	}
	s := src.match(dir, p)
	if s == nil {
		return false
	}
	md := meta{s: s, dir: dir, now: now, sport: flowPort(p)}
	if len(vnet) >= tun.VirtioNetHdrLen {
		md.hdr.Decode(vnet)
	}
	n := s.limit[famIdx(p.Family)] - etherLen // IP bytes a copy keeps
	ok := false
	switch {
	case md.hdr.IsGSO():
		md.orig = len(pkt)
		var parts [1 + maxCutSegments][]byte
		if k := cutParts(&md, pkt, n, &parts); k > 0 {
			ok = t.ring.Put(&md, parts[:k]...)
		} else {
			ok = t.ring.Put(&md, pkt) // split by the consumer
		}
	default:
		if p.Length > 0 && p.Length < len(pkt) {
			pkt = pkt[:p.Length] // link padding is not the packet's
		}
		md.orig = len(pkt)
		ok = t.ring.Put(&md, pkt[:min(len(pkt), n)])
	}
	if !ok {
		s.ctr.dropped.Add(1)
	}
	return ok
}

// maxCutSegments bounds the segments of a super-packet that Offer queues
// cut: their parts are gathered in an array on its stack. A super-packet
// of more (a segment size under about 512 bytes) is queued whole and cut
// by the consumer.
const maxCutSegments = 128

// cutParts prepares the copy of GSO super-packet pkt (virtio header
// md.hdr) for a session that keeps n IP bytes of each packet, when that
// cuts its full-size segments: the copy is then the super-packet's
// headers followed by the first n-hlen payload bytes of each segment,
// which is all the copies of its segments keep, instead of the whole
// super-packet. It fills parts with those slices of pkt, sets md.hlen,
// md.l4 and md.keep and returns how many parts there are; 0 when the
// copies keep whole segments, or the super-packet is one the consumer
// must see whole (tun.GSOSplit refuses it, or it has more than
// maxCutSegments segments).
func cutParts(md *meta, pkt []byte, n int, parts *[1 + maxCutSegments][]byte) int {
	l4, hlen, ok := gsoLayout(md.hdr, pkt)
	mss := int(md.hdr.GSOSize)
	if !ok || n-hlen >= mss {
		return 0
	}
	payload := len(pkt) - hlen
	segs := max((payload+mss-1)/mss, 1)
	if segs > maxCutSegments {
		return 0
	}
	keep := max(n-hlen, 0)
	md.hlen, md.l4, md.keep = uint16(hlen), uint16(l4), uint16(keep)
	parts[0] = pkt[:hlen]
	k := 1
	if keep > 0 {
		for i := range segs {
			start := hlen + i*mss
			parts[k] = pkt[start : start+min(keep, len(pkt)-start)]
			k++
		}
	}
	return k
}

// Packet offers a packet to both its ends: Egress at v.From, Ingress at
// v.To. Use it when the packet is the same for both; the live path, which
// decrements the TTL between them, calls Offer before and after.
func (m *Mirror) Packet(v *verdict.Verdict, p *packet.Parsed, vnet, pkt []byte, now int64) {
	m.Offer(v.From, Egress, v, p, vnet, pkt, now)
	m.Offer(v.To, Ingress, v, p, vnet, pkt, now) // v.To == v.From: sent and received
}

// Begin and End do nothing: a Mirror needs no batch (they make it a
// forwarder's Observer, see package live).
func (m *Mirror) Begin() {}

// End: see Begin.
func (m *Mirror) End() {}

// Judged offers a judged packet as its sender sent it: Offer at v.From,
// Egress (a forwarder's Observer, see package live).
func (m *Mirror) Judged(v *verdict.Verdict, p *packet.Parsed, vnet, pkt []byte, _ uint64, now int64) {
	m.Offer(v.From, Egress, v, p, vnet, pkt, now)
}

// Forwarded offers a forwarded packet as its receiver gets it (its hop
// decremented): Offer at v.To, Ingress.
func (m *Mirror) Forwarded(v *verdict.Verdict, p *packet.Parsed, vnet, pkt []byte, now int64) {
	m.Offer(v.To, Ingress, v, p, vnet, pkt, now)
}

// reached reports whether a packet with verdict v got to the side of the
// ENI at port at that dir names (see the package doc).
func reached(at verdict.Port, dir Direction, v *verdict.Verdict, eni string) bool {
	if v.Code == verdict.CodeExempt {
		return false
	}
	if dir == Ingress {
		return v.Allowed && v.To == at
	}
	if v.From != at {
		return false
	}
	if v.Allowed {
		return true
	}
	switch v.Stage {
	case verdict.StageNACLIngress, verdict.StageSGIngress:
		return true // the receiver's side dropped it: it was sent
	case verdict.StageConntrackAllowance, verdict.StagePPSAllowance:
		return v.ENI != "" && v.ENI != eni // the receiver's instance ran out
	}
	return false
}

// Start runs the consumer in a goroutine until Close. Call it at most
// once, and do not call Drain afterwards. With Options.Device it does
// nothing: the Device's reader is the consumer.
func (m *Mirror) Start() {
	if m.opts.Device != nil || !m.state.CompareAndSwap(consIdle, consRunning) {
		return
	}
	go m.run()
}

// Drain encapsulates and sends the copies queued so far in the calling
// goroutine, flushes the pcap files and returns how many copies it took
// from the queue. It is the consumer of an offline caller (replay) that
// never calls Start; it must not run concurrently with itself or Close.
// It panics after Start and with Options.Device.
func (m *Mirror) Drain() int {
	if m.state.Load() == consRunning || m.opts.Device != nil {
		panic("mirror: Drain with a consumer running")
	}
	n := m.cons.drain()
	m.cons.idle()
	return n
}

// Close stops the consumer after it has sent what is queued, closes the
// pcap files and returns the first error writing or closing one. Offer
// after Close queues nothing. It is idempotent.
func (m *Mirror) Close() error {
	m.closeMu.Do(func() {
		m.mu.Lock()
		m.closed = true
		t := m.tab.Load()
		m.tab.Store(&table{sessions: t.sessions, ring: t.ring}) // no ports: Offer stops
		m.mu.Unlock()
		if m.state.CompareAndSwap(consIdle, consClosed) {
			m.cons.drain() // no consumer: Close is the last
			m.cons.idle()
		} else {
			m.stop.Store(true) // the consumer ends once the queue is empty
			<-m.done
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, f := range t.files {
			if err := f.close(); err != nil && m.err == nil {
				m.err = err
			}
		}
		for _, f := range m.retired {
			if err := f.close(); err != nil && m.err == nil {
				m.err = err
			}
		}
		m.retired = nil
	})
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

// run is the consumer goroutine: it drains the queue, and when it finds
// the queue empty flushes the files and backs off (as pktring.Wait does:
// yielding first, then sleeping up to a millisecond).
func (m *Mirror) run() {
	defer close(m.done)
	idle := 0
	for {
		if m.cons.drain() > 0 {
			idle = 0
			continue
		}
		m.cons.idle()
		if m.stop.Load() {
			m.cons.drain()
			m.cons.idle()
			return
		}
		idle++
		backoff(idle)
	}
}

// backoff waits after the idle'th time in a row the consumer found the
// queue empty: it yields 63 times, then sleeps 10 µs longer each time, up
// to a millisecond.
func backoff(idle int) {
	if idle < 64 {
		runtime.Gosched()
		return
	}
	time.Sleep(min(time.Duration(idle-63)*10*time.Microsecond, time.Millisecond))
}

// SessionStats are one session's counters since it first appeared.
type SessionStats struct {
	ID, Source, Target string
	// Mirrored counts mirror packets sent (a GSO super-packet counts one
	// per segment) and Bytes their length, outer headers included.
	Mirrored, Bytes uint64
	// Truncated counts mirror packets cut by PacketLength or the target's
	// MTU.
	Truncated uint64
	// Dropped counts copies lost because the queue was full.
	Dropped uint64
	// Failed counts copies that could not be sent: a GSO super-packet
	// that could not be split, a pcap write error, no Sink.
	Failed uint64
}

// Stats returns the counters of the sessions in force, in lab order.
func (m *Mirror) Stats() []SessionStats {
	t := m.tab.Load()
	out := make([]SessionStats, 0, len(t.sessions))
	for _, s := range t.sessions {
		c := s.ctr
		out = append(out, SessionStats{
			ID: s.ID, Source: s.Source, Target: s.Target,
			Mirrored: c.mirrored.Load(), Bytes: c.bytes.Load(), Truncated: c.truncated.Load(),
			Dropped: c.dropped.Load(), Failed: c.failed.Load(),
		})
	}
	return out
}

// Sessions returns the sessions in force, in lab order.
func (m *Mirror) Sessions() []*Session {
	t := m.tab.Load()
	out := make([]*Session, len(t.sessions))
	for i, s := range t.sessions {
		out[i] = &s.Session
	}
	return out
}
