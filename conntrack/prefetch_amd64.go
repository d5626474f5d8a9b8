package conntrack

import "unsafe"

// prefetch starts bringing the cache line at p into every level of the
// CPU's caches (PREFETCHT0) and returns at once: unlike a load, it does
// not hold up the instructions after it until the line arrives, so the
// misses of a whole batch can be in flight together. It never faults.
//
//go:noescape
func prefetch(p unsafe.Pointer)
