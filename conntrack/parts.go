package conntrack

import (
	"math"
	"math/bits"
)

// maxParts bounds NewPartitionedTable's parts.
const maxParts = 64

// NewPartitionedTable returns an empty table, like NewTable, made of parts
// sub-tables (rounded up to a power of two, at most 64): a flow lives in
// the part its hash chooses, and each part has its own writer lock, view,
// bucket array and slab. Writers on flows of different parts never wait
// for one another, so several cores can insert the flows of one ENI
// (replaying a capture, say) without queueing on one mutex; lookups are as
// before, lock-free, with one more load to find the part. The parts share
// the allowance a (its count is atomic); each is sized, presized and
// capped for its share of it, so a small table costs parts times the
// smallest table's memory. parts ≤ 1 makes a plain NewTable.
func NewPartitionedTable(a *Allowance, t Timeouts, parts int) *Table {
	if parts <= 1 {
		return NewTable(a, t)
	}
	if a == nil {
		a = NewAllowance(math.MaxInt)
	}
	parts = min(parts, maxParts)
	b := bits.Len(uint(parts - 1)) // parts rounded up to 1<<b
	tb := &Table{allow: a, free: noSlot, used: 1, cursor: 1, share: 1, partShift: uint8(64 - b)}
	tb.parts = make([]*Table, 1<<b)
	for i := range tb.parts {
		tb.parts[i] = newPart(a, t, int64(len(tb.parts)))
	}
	tb.timeouts.Store(t.table())
	return tb
}

// Parts returns how many sub-tables the table has: 1 unless it was made by
// NewPartitionedTable.
func (t *Table) Parts() int { return max(len(t.parts), 1) }

// part returns the sub-table of a partitioned table that holds p's flow:
// chosen by the hash's top bits, which the bucket index (its low bits)
// does not use.
func (t *Table) part(p *Packed) *Table { return t.parts[p.h>>t.partShift&uint64(len(t.parts)-1)] }

// expireParts is Expire on a partitioned table: the budget split between
// the parts (the remainder going round from call to call), so that each
// examines at most 16 slots per unit of its share; then what is left of the
// budget goes, part after part, to those that used up their share, which
// may hold more expired entries than it.
func (t *Table) expireParts(now int64, budget int) int {
	n := len(t.parts)
	start := int(t.expireNext.Add(1))
	removed := 0
	var full [maxParts]bool
	for j := range n {
		share := budget / n
		if j < budget%n {
			share++
		}
		if share > 0 {
			got := t.parts[(start+j)%n].Expire(now, share)
			removed += got
			full[j] = got == share
		}
	}
	for j := 0; j < n && removed < budget; j++ {
		if full[j] {
			removed += t.parts[(start+j)%n].Expire(now, budget-removed)
		}
	}
	return removed
}

// Shard returns which of n shards (0 to n−1) p's flow falls into, by the
// top bits of its hash: the bits a partitioned table chooses its part by.
// Work split between n cores by Shard (a replay's flows, say) has each
// core write only the parts of its own shard when n is a power of two no
// larger than the table's parts (otherwise some parts are shared at the
// edges of the shards), so that the cores neither wait for one another's
// locks nor pull one another's cache lines.
func (p *Packed) Shard(n int) int {
	if n <= 1 {
		return 0
	}
	hi, _ := bits.Mul64(p.h, uint64(n))
	return int(hi)
}
