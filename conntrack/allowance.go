package conntrack

import "sync/atomic"

// Allowance is an instance's budget of tracked flows, shared by the tables
// of its ENIs (spec §3.7). It is safe for concurrent use.
type Allowance struct {
	max      atomic.Int64
	inUse    atomic.Int64
	exceeded atomic.Uint64
}

// NewAllowance returns an allowance of max tracked flows.
func NewAllowance(max int) *Allowance {
	a := new(Allowance)
	a.max.Store(int64(max))
	return a
}

// SetMax changes the budget. Lowering it below InUse removes no entry: new
// ones are refused until enough have expired.
func (a *Allowance) SetMax(max int) { a.max.Store(int64(max)) }

// Available returns how many more flows may be tracked
// (conntrack_allowance_available): max − in use, at least 0.
func (a *Allowance) Available() int { return int(max(a.max.Load()-a.inUse.Load(), 0)) }

// InUse returns the number of entries held by the instance's tables,
// including expired entries not yet removed.
func (a *Allowance) InUse() int { return int(a.inUse.Load()) }

// Exceeded returns how many new flows were refused for lack of allowance
// (conntrack_allowance_exceeded).
func (a *Allowance) Exceeded() uint64 { return a.exceeded.Load() }

// NoteExceeded counts a packet the dataplane dropped for lack of allowance
// without calling Insert.
func (a *Allowance) NoteExceeded() { a.exceeded.Add(1) }

// take reserves one flow, or reports false when none is left.
func (a *Allowance) take() bool {
	for {
		n := a.inUse.Load()
		if n >= a.max.Load() {
			return false
		}
		if a.inUse.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release returns n flows.
func (a *Allowance) release(n int64) { a.inUse.Add(-n) }
