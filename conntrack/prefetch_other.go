//go:build !amd64

package conntrack

import (
	"sync/atomic"
	"unsafe"
)

// prefetchSink keeps prefetch's load from being dropped.
var prefetchSink atomic.Uint32

// prefetch reads the word at p, which must be a 4-byte aligned word of
// the table (a bucket head or an entry): without a prefetch instruction,
// a plain load starts the cache miss, though the CPU holds later
// instructions while it waits for it.
func prefetch(p unsafe.Pointer) {
	if v := (*atomic.Uint32)(p).Load(); v == 1<<31-1 {
		prefetchSink.Store(v) // never, in practice; the compare keeps the load
	}
}
