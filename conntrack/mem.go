package conntrack

import (
	"runtime"
	"sync/atomic"
	"unsafe"
)

// The memory of a large table. Its lookups read a random entry and a
// random bucket head per packet, and with 4 KiB pages each of those reads
// also misses the TLB: on a virtual machine the page walk costs more than
// the cache miss itself, and a walk holds up a prefetch until it is done.
// So a table past bigSlab entries takes its further slab chunks, and a
// bucket array of at least regionBytes its heads, from regions of 2 MiB,
// aligned, mapped outside the Go heap and offered to the kernel for
// transparent huge pages (mapRegion; on other systems, and under the race
// detector, they come from the Go heap as before). Entries and heads hold
// no pointers, so the garbage collector need not see them; a region is
// unmapped once no table or view refers to it (runtime.AddCleanup).
const (
	regionBytes  = 2 << 20
	regionChunks = regionBytes / int(unsafe.Sizeof(chunk{}))
	// bigSlab: the first chunks (32 Ki entries, 2 MiB, and one more
	// chunk) come from the Go heap, 16 KiB at a time, so that a small
	// table, as most ENIs' are, holds no more than it needs. The chunk
	// more holds slot 0, which is never used: so 2ⁿ flows fill whole
	// regions.
	bigSlab = regionChunks + 1
)

// offHeap counts the bytes of regions mapped, for OffHeapBytes.
var offHeap atomic.Int64

// OffHeapBytes returns the memory the process's tables hold outside the
// Go heap (mapped regions, see the package doc): runtime.MemStats does not
// count it.
func OffHeapBytes() int64 { return offHeap.Load() }

// regions owns the mapped regions of a table's slab; it is unmapped when
// the table and every view of it are gone.
type regions struct{ maps *regionList }

type regionList struct{ b [][]byte }

func newRegions() *regions {
	r := &regions{maps: new(regionList)}
	runtime.AddCleanup(r, func(l *regionList) {
		for _, b := range l.b {
			unmapRegion(b)
		}
	}, r.maps)
	return r
}

// chunks maps a region and returns it as regionChunks chunks, or nil if
// mapping is not available (the caller allocates from the heap).
func (r *regions) chunks() []*chunk {
	b := mapRegion(regionBytes)
	if b == nil {
		return nil
	}
	r.maps.b = append(r.maps.b, b)
	cs := make([]*chunk, regionChunks)
	for i := range cs {
		cs[i] = (*chunk)(unsafe.Pointer(&b[i*int(unsafe.Sizeof(chunk{}))]))
	}
	return cs
}

// headsMem owns a bucket array mapped outside the heap; it is unmapped
// when no view refers to it.
type headsMem struct{ b []byte }

// newHeads returns a zeroed bucket array of n heads: mapped if it fills
// whole regions and mapping is available, else from the Go heap. own,
// if not nil, must stay referenced as long as the heads are used.
func newHeads(n int) (heads []atomic.Uint32, own *headsMem) {
	size := n * int(unsafe.Sizeof(atomic.Uint32{}))
	if size >= regionBytes && size%regionBytes == 0 {
		if b := mapRegion(size); b != nil {
			own = &headsMem{b: b}
			runtime.AddCleanup(own, unmapRegion, b)
			return unsafe.Slice((*atomic.Uint32)(unsafe.Pointer(&b[0])), n), own
		}
	}
	return make([]atomic.Uint32, n), nil
}
