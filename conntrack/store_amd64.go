//go:build amd64 && !race

package conntrack

import (
	"sync/atomic"
	"unsafe"
)

// store64 and store32 are the stores of the table's shared words that need
// no more than release order: a writer filling or freeing a slot, whose
// readers find it through a later store (a bucket head, a link) or notice
// its sequence number change, and a lookup's refresh of an entry's
// last-seen time. sync/atomic's Store is an XCHG on amd64, a full barrier
// that drains the store buffer and holds back every later load, some 20
// cycles each time; x86's ordering (TSO) already keeps a plain store after
// the loads and stores before it, and an aligned 8- or 4-byte MOV is
// atomic. The compiler keeps the stores of a function in program order
// with its other memory operations, atomic ones included. Under the race
// detector, and on other architectures, they are sync/atomic's Store
// (store_other.go), so the detector checks the protocol as written.
func store64(p *atomic.Uint64, v uint64) { *(*uint64)(unsafe.Pointer(p)) = v }

func store64i(p *atomic.Int64, v int64) { *(*int64)(unsafe.Pointer(p)) = v }

func store32(p *atomic.Uint32, v uint32) { *(*uint32)(unsafe.Pointer(p)) = v }
