package conntrack

import (
	"math"
	"math/bits"
	"net/netip"
)

// maxParts bounds NewPartitionedTable's parts.
const maxParts = 64

// NewPartitionedTable returns an empty table, like NewTable, made of parts
// sub-tables (rounded up to a power of two, at most 64): a flow lives in
// the part a hash of its two addresses chooses (PairShard), so that every
// flow between two hosts, and the ICMP errors and fragments that go with
// them, is in one part; and each part has its own writer lock, view,
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
	parts = PartCount(parts)
	tb := &Table{allow: a, free: noSlot, used: 1, cursor: 1, share: 1, partShift: uint8(64 - bits.TrailingZeros(uint(parts)))}
	tb.parts = make([]*Table, parts)
	for i := range tb.parts {
		tb.parts[i] = newPart(a, t, int64(len(tb.parts)))
	}
	tb.timeouts.Store(t.table())
	return tb
}

// PartCount returns how many parts NewPartitionedTable makes when asked
// for parts: parts rounded up to a power of two, from 1 to 64.
func PartCount(parts int) int {
	if parts <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(min(parts, maxParts)-1))
}

// Parts returns how many sub-tables the table has: 1 unless it was made by
// NewPartitionedTable.
func (t *Table) Parts() int { return max(len(t.parts), 1) }

// part returns the sub-table of a partitioned table that holds p's flow:
// chosen by the top bits of its address pair's hash (pairHash).
func (t *Table) part(p *Packed) *Table {
	return t.parts[pairHash(p.w[0]^p.w[1]^p.w[2]^p.w[3])>>t.partShift]
}

// pairHash mixes x, the exclusive or of the 64-bit halves of a flow's two
// addresses (an IPv4 address a half of zero and one of 0xffff<<32 | a,
// the form keyWords holds), into a hash whose top bits choose a part and a
// shard. The same both ways, and the same for every flow between two
// hosts.
func pairHash(x uint64) uint64 {
	x ^= x >> 31
	return x * 0x9e3779b97f4a7c15
}

// PairShard returns which of n shards (0 to n−1) the flows between a and b
// fall into: the shard of the part a partitioned table keeps them in.
// Work split between n cores by PairShard (a replay's packets, say) has
// each core write only the parts of its own shard when n is a power of
// two no larger than the table's parts (otherwise some parts are shared
// at the edges of the shards), so that the cores neither wait for one
// another's locks nor pull one another's cache lines. It does not
// allocate.
func PairShard(a, b netip.Addr, n int) int {
	if n <= 1 {
		return 0
	}
	ah, al := addrWords(a)
	bh, bl := addrWords(b)
	return shardOf(pairHash(ah^al^bh^bl), n)
}

// PairShard4 is PairShard for two IPv4 addresses in network byte order,
// as a packet's header holds them (a^b of their big-endian values).
func PairShard4(x uint32, n int) int {
	if n <= 1 {
		return 0
	}
	return shardOf(pairHash(uint64(x)), n)
}

// PairShard6 is PairShard for two IPv6 addresses: x is the exclusive or
// of the four big-endian 64-bit halves of the packet's source and
// destination.
func PairShard6(x uint64, n int) int {
	if n <= 1 {
		return 0
	}
	return shardOf(pairHash(x), n)
}

// shardOf maps h to one of n ranges of the hash space: for n a power of
// two, its top bits, as part takes them.
func shardOf(h uint64, n int) int {
	hi, _ := bits.Mul64(h, uint64(n))
	return int(hi)
}

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

// Shard returns which of n shards (0 to n−1) p's flow falls into: PairShard
// of its addresses.
func (p *Packed) Shard(n int) int {
	if n <= 1 {
		return 0
	}
	return shardOf(pairHash(p.w[0]^p.w[1]^p.w[2]^p.w[3]), n)
}
