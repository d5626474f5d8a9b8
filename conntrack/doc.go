// Package conntrack keeps the per-ENI connection-tracking tables that make
// security groups stateful (spec §3): flow keys, entries, the TCP and UDP
// state logic, idle timeouts, expiry and the per-instance allowance. It
// imports only packet (for the protocol numbers and TCP flags), never the
// lab model or the dataplane.
//
// The dataplane decides when to look up and when to insert; this package
// promises that Lookup is lock-free, allocation-free and safe against every
// concurrent writer, and that a hit is never wrong: a packet hits only the
// live entry of its own flow.
//
// Every Table method takes the flow key in one form, Packed: per packet, the
// dataplane fills a reused Packed with Packed.Set (hashing the key once) and
// calls Lookup on the sender's and the receiver's table; when the packet is
// delivered without a hit on a tracked flow, it calls Insert (which may
// refuse for lack of Allowance). Key is the readable form, for EntryInfo and
// tests; Key.Pack turns it into a Packed.
// Now and then, e.g. once per batch, it calls Expire on every table.
//
// # Time
//
// Every call takes now, a virtual clock in nanoseconds; the package never
// reads the wall clock. Timeouts are idle times: an entry lives while
// now − last packet < the timeout of its state (a 30 s timeout lasts 30 s), read from the table's
// current Timeouts (so SetTimeouts reaches live entries).
//
// # Design
//
// A table is a slab of 64-byte, pointer-free entries, grown in 16 KiB chunks
// and addressed by uint32 index, and a power-of-two array of bucket heads
// chaining entries by index. All of it is reached through one immutable
// view published with an atomic pointer. Every field readers and writers
// share is read with sync/atomic and written with sync/atomic's CAS or
// with store64/store32: on amd64 those are plain MOVs, which x86's
// ordering makes release stores (sync/atomic's Store is an XCHG, a full
// barrier each time); under the race detector and on other architectures
// they are sync/atomic's Store, so the detector checks the protocol as
// written.
//
// Writers (Insert, Expire, Flush) serialise on a per-table mutex and recycle
// slots in place. Readers guard against that as Linux's SLAB_TYPESAFE_BY_RCU
// conntrack does: each entry's control word holds a sequence number that
// grows when the slot is freed or filled, and a reader re-reads it after the
// key; state transitions are CAS on that word, so a reader never changes a
// recycled entry's state; and each chain ends in a marker naming its bucket,
// so a reader that followed a recycled entry into another chain walks again.
//
// A partitioned table (NewPartitionedTable) is 2ⁿ such tables, its parts:
// a flow lives in the part that the top bits of a hash of its two
// addresses choose, so that writers of different parts never wait for one
// another and several cores can insert one ENI's flows; a lookup costs one
// more load. The parts share the allowance, whose count is atomic, and each
// is sized for its share of it. PairShard (and Packed.Shard) splits work
// between cores by the same bits, so that each core writes its own parts
// only: by address pair rather than by the whole flow's hash, so that a
// packet can be given its core from its IP header alone, and every flow
// between two hosts, with its fragments and ICMP errors, is on one core.
//
// The bucket array doubles when the load passes 3/4, a little at a time and
// without blocking anyone, until it has a bucket for every flow the
// allowance permits: a full table's load is then at most 1. Each entry has two link fields; the new array is
// chained through the one the current array does not use, a few slots per
// Insert, while readers go on walking the current array, whose chains this
// never touches; once every slot is in, the new array is published. So no
// call does more than a few slots of rehashing. A new table starts with
// enough buckets for its allowance, but at most 4 Ki (16 KiB): sizing them
// for any allowance would cost 4 bytes × allowance for every ENI of an
// instance, whatever its traffic, and spread a small table's heads over
// more cache lines than its flows need.
//
// A packed key carries the low 22 bits of its hash in the unused top of its
// last word, so removal and rehashing find an entry's bucket from the entry
// alone (arrays of more than 4 Mi buckets hash the key again).
//
// Reading ahead: a lookup in a large table costs a cache miss for the
// bucket head and one for the entry. Prefetch reads both for one packet;
// PrefetchBucket, PrefetchEntry and PrefetchChain are the steps the
// dataplane's ProcessBatch takes for each packet of a read batch: the
// heads while it parses the batch, then, while it judges the packets
// before, the entries the heads name and the second entry of chains whose
// first holds another flow, so that a batch's misses overlap one another
// and the judging instead of following one another. On amd64 they are
// PREFETCHT0 (prefetch_amd64.s), elsewhere plain loads. An entry's address
// is its chunk's plus an offset, with no nil check of the chunk: that
// check reads the chunk's first line, another entry's, a miss no step
// starts ahead.
//
// Large tables live off the Go heap (mem.go): past 32 Ki entries a table
// takes its further slab chunks, and any bucket array of 2 MiB or more,
// from 2 MiB-aligned anonymous mappings marked MADV_HUGEPAGE, unmapped by
// a cleanup once no view refers to them. On this project's VMs a random
// read that also misses the TLB of a 4 KiB page costs more than the cache
// miss itself. Under -race, off Linux or with -tags conntrack_heaponly
// everything is on the heap. OffHeapBytes counts the mappings.
//
// Expiry is amortised: a cursor walks the slab, and each Insert removes the
// expired entries at the cursor up to the first live one after them (at
// most 8 slots: one per new flow in a steady state, a run after a burst of
// expiries), as does Expire within its budget. An
// expired entry stops matching at once and holds its allowance until one of
// them removes it, so the dataplane should call Expire on every table now
// and then.
//
// Memory is 64 bytes per entry plus 4 to 11 bytes of bucket array per
// entry (twice that while a doubling is under way), heap and mappings
// together: about 72 bytes per flow at a million flows in a larger
// allowance, 68 when they fill an allowance of 2²⁰ (the array stops at a
// bucket per flow of the allowance).
package conntrack
