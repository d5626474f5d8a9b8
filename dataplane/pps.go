package dataplane

import (
	"sync/atomic"

	"github.com/vpclab/vpclab/verdict"
)

// PacketAllowance is an instance's packet-rate allowance: the packets per
// second its ENIs may send and receive together, AWS's "bidirectional PPS"
// maximum whose excess the ENA driver counts as pps_allowance_exceeded.
// AWS queues, then drops, what exceeds it; the dataplane has no queue and
// drops at once, past a burst of the allowance's 10 ms (at least
// MinPPSBurst packets, so that a batch read at one instant is not cut).
//
// It is a token bucket kept as the time its next packet is due (a GCRA):
// one atomic word read and swapped per packet, no lock, no allocation.
// Time is the packets' clock (monotonic time when live, the capture's
// timestamps in replay), so replaying a capture drops the same packets
// every time. It is safe for concurrent use.
type PacketAllowance struct {
	cfg      atomic.Pointer[ppsRate] // nil: unlimited
	tat      atomic.Int64            // when the bucket is full again
	exceeded atomic.Uint64
}

// ppsRate is one setting of the allowance: a packet's share of a second
// and how far ahead of the clock the bucket's debt may run.
type ppsRate struct {
	pps       int
	interval  int64 // ns per packet, rounded: 100 ns at the 10M packets/s cap
	tolerance int64 // (burst−1) × interval
}

// MinPPSBurst is the fewest packets a packet-rate allowance lets through
// at one instant: a live lab's worker judges up to this many frames of a
// read at one time stamp.
const MinPPSBurst = 128

// NewPacketAllowance returns an allowance of pps packets per second (0:
// unlimited).
func NewPacketAllowance(pps int) *PacketAllowance {
	a := new(PacketAllowance)
	a.SetRate(pps)
	return a
}

// SetRate changes the allowance to pps packets per second (0: unlimited).
// The bucket keeps what it holds: a lower rate refills it more slowly.
func (a *PacketAllowance) SetRate(pps int) {
	if pps <= 0 {
		a.cfg.Store(nil)
		return
	}
	if c := a.cfg.Load(); c != nil && c.pps == pps {
		return
	}
	iv := max((int64(1e9)+int64(pps)/2)/int64(pps), 1)
	burst := max(int64(pps)/100, MinPPSBurst)
	a.cfg.Store(&ppsRate{pps: pps, interval: iv, tolerance: (burst - 1) * iv})
}

// Rate returns the allowance in packets per second, 0 when unlimited.
func (a *PacketAllowance) Rate() int {
	if c := a.cfg.Load(); c != nil {
		return c.pps
	}
	return 0
}

// Admit takes n packets at time now and reports whether they fit: the
// bucket holds at least one packet's place (a super-packet of n segments
// passes whole and leaves the bucket in debt for the rest). A refusal
// takes nothing and is counted.
func (a *PacketAllowance) Admit(now int64, n int64) bool {
	c := a.cfg.Load()
	if c == nil {
		return true
	}
	for {
		t := a.tat.Load()
		base := max(t, now)
		if base-now > c.tolerance {
			a.exceeded.Add(1)
			return false
		}
		if a.tat.CompareAndSwap(t, base+n*c.interval) {
			return true
		}
	}
}

// Charge takes n more packets at time now without refusing them: the
// other segments of a super-packet that Admit passed.
func (a *PacketAllowance) Charge(now int64, n int64) {
	c := a.cfg.Load()
	if c == nil || n <= 0 {
		return
	}
	for {
		t := a.tat.Load()
		if a.tat.CompareAndSwap(t, max(t, now)+n*c.interval) {
			return
		}
	}
}

// Available returns how many packets Admit would take at time now, at
// most limit (limit when unlimited). The live lab's workers read no more
// than that from the device of an instance over its allowance, so that its
// excess waits in the device's queue, and is dropped there, as AWS queues
// then drops it, instead of costing a read and a judgment each.
func (a *PacketAllowance) Available(now int64, limit int) int {
	c := a.cfg.Load()
	if c == nil {
		return limit
	}
	debt := max(a.tat.Load()-now, 0)
	if debt > c.tolerance {
		return 0
	}
	return int(min(int64(limit), (c.tolerance-debt)/c.interval+1))
}

// Due returns when, at the earliest, Available returns n: the time on
// the packets' clock at which the bucket holds n packets again (at or
// before now if it does already; 0 when unlimited). n is capped at the
// burst. A live lab's worker leaves the device of an instance over its
// allowance unread until then.
func (a *PacketAllowance) Due(now int64, n int) int64 {
	c := a.cfg.Load()
	if c == nil {
		return 0
	}
	burst := c.tolerance/c.interval + 1
	return a.tat.Load() - c.tolerance + (min(int64(max(n, 1)), burst)-1)*c.interval
}

// AddExceeded counts n more packets dropped for lack of allowance before
// they reached the dataplane: a live lab's worker counts so what the
// kernel dropped at the queue of a device it left unread for the
// allowance.
func (a *PacketAllowance) AddExceeded(n uint64) { a.exceeded.Add(n) }

// Exceeded returns how many packets were dropped for lack of allowance
// (pps_allowance_exceeded).
func (a *PacketAllowance) Exceeded() uint64 { return a.exceeded.Load() }

// PacketAllowance returns the packet-rate allowance of the instance owning
// an ENI port, or nil.
func (s *Snapshot) PacketAllowance(p verdict.Port) *PacketAllowance {
	if ep := s.eni(p); ep != nil {
		return ep.pps
	}
	return nil
}

// ppsAdmit charges a packet to the packet-rate allowances of the
// instances it leaves (src) and enters (dst), nil for the internet and
// the services, and drops it if either is used up. A packet to its own ENI
// is charged once.
func (s *Snapshot) ppsAdmit(src, dst *eniPolicy, now int64, v *verdict.Verdict) bool {
	if src != nil && !src.pps.Admit(now, 1) {
		denyPPS(v, src)
		return false
	}
	if dst != nil && dst != src && !dst.pps.Admit(now, 1) {
		denyPPS(v, dst)
		return false
	}
	return true
}

// ChargeSegments charges the n−1 segments after the first of a
// super-packet the engine passed from port from to port to (its verdict's
// From and To) to their instances' packet-rate allowances: the engine
// judges a super-packet once, AWS counts its packets on the wire.
func (e *Engine) ChargeSegments(from, to verdict.Port, n uint64, now int64) {
	if n <= 1 {
		return
	}
	s := e.snap.Load()
	src, dst := s.eni(from), s.eni(to)
	if src != nil {
		src.pps.Charge(now, int64(n-1))
	}
	if dst != nil && dst != src {
		dst.pps.Charge(now, int64(n-1))
	}
}

// denyPPS drops a packet for want of packet-rate allowance on e's
// instance.
func denyPPS(v *verdict.Verdict, e *eniPolicy) {
	v.ENI, v.SG, v.ACL, v.NACLRule = e.id, nil, "", 0
	v.Deny(verdict.StagePPSAllowance, verdict.CodePPSAllowanceExceeded)
}
