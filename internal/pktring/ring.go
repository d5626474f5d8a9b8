// Package pktring is a bounded queue of packet copies that the packet path
// fills and one goroutine drains, for the taps that must never slow the
// path down: traffic mirroring and live capture.
//
// Put never blocks, never allocates and takes no lock: when the ring is
// full the copy is dropped and counted, which is what AWS does with mirror
// traffic it cannot carry. It is Dmitry Vyukov's bounded MPMC queue (each
// slot carries a sequence number that says whose turn it is), with the
// packet bytes copied into storage the slot owns.
package pktring

import (
	"runtime"
	"sync/atomic"
)

// Ring holds copies of packets with a metadata value of type M each.
// Many goroutines may Put; one goroutine at a time may Get.
type Ring[M any] struct {
	_     [64]byte // keep the producers' cursor off the neighbours' lines
	tail  atomic.Uint64
	_     [56]byte
	head  atomic.Uint64
	_     [56]byte
	drops atomic.Uint64
	mask  uint64
	slots []slot[M]
}

type slot[M any] struct {
	seq  atomic.Uint64
	meta M
	n    int // bytes of data stored
	orig int // length of the packet before truncation
	data []byte
}

// New returns a ring of n slots (rounded up to a power of two, at least
// 2) that keep up to size bytes of each packet.
func New[M any](n, size int) *Ring[M] {
	c := 2
	for c < n {
		c <<= 1
	}
	r := &Ring[M]{mask: uint64(c - 1), slots: make([]slot[M], c)}
	backing := make([]byte, c*size)
	for i := range r.slots {
		r.slots[i].seq.Store(uint64(i))
		r.slots[i].data = backing[i*size : (i+1)*size : (i+1)*size]
	}
	return r
}

// Put copies meta and as much of the packet parts as fits a slot (the
// parts are concatenated: a header and a payload, say). It returns false,
// counting a drop, when the ring is full.
func (r *Ring[M]) Put(meta *M, parts ...[]byte) bool {
	pos := r.tail.Load()
	for {
		s := &r.slots[pos&r.mask]
		seq := s.seq.Load()
		switch diff := int64(seq) - int64(pos); {
		case diff == 0:
			if r.tail.CompareAndSwap(pos, pos+1) {
				s.meta = *meta
				n, orig := 0, 0
				for _, p := range parts {
					orig += len(p)
					n += copy(s.data[n:], p)
				}
				s.n, s.orig = n, orig
				s.seq.Store(pos + 1) // publish to the consumer
				return true
			}
			pos = r.tail.Load()
		case diff < 0: // the consumer has not freed this slot: full
			r.drops.Add(1)
			return false
		default: // another producer took pos
			pos = r.tail.Load()
		}
	}
}

// Get calls fn with the oldest packet copy, its length before truncation
// and its metadata, then frees the slot; data is valid only during fn. It
// reports false when the ring is empty. Only one goroutine may call Get.
func (r *Ring[M]) Get(fn func(meta *M, data []byte, orig int)) bool {
	pos := r.head.Load()
	s := &r.slots[pos&r.mask]
	if s.seq.Load() != pos+1 {
		return false // empty, or a producer is still copying into it
	}
	fn(&s.meta, s.data[:s.n], s.orig)
	var zero M
	s.meta = zero // drop references the metadata may hold
	r.head.Store(pos + 1)
	s.seq.Store(pos + r.mask + 1) // free for the producer one lap later
	return true
}

// Drain calls Get until the ring is empty and returns how many packets
// it handed to fn.
func (r *Ring[M]) Drain(fn func(meta *M, data []byte, orig int)) int {
	n := 0
	for r.Get(fn) {
		n++
	}
	return n
}

// Wait drains the ring, polling with backoff while it is empty, until
// stop returns true; it drains what is left before returning. It suits a
// consumer goroutine that may lag behind the packet path.
func (r *Ring[M]) Wait(stop func() bool, fn func(meta *M, data []byte, orig int)) {
	idle := 0
	for {
		if r.Drain(fn) > 0 {
			idle = 0
			continue
		}
		if stop() {
			r.Drain(fn)
			return
		}
		idle++
		switch {
		case idle < 64:
			runtime.Gosched()
		default:
			sleep(idle)
		}
	}
}

// Dropped returns how many copies Put refused because the ring was full.
func (r *Ring[M]) Dropped() uint64 { return r.drops.Load() }

// Len returns how many copies wait in the ring (a snapshot).
func (r *Ring[M]) Len() int {
	return int(r.tail.Load() - r.head.Load())
}

// Cap returns the number of slots.
func (r *Ring[M]) Cap() int { return len(r.slots) }
