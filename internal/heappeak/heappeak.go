// Package heappeak measures the most live heap a piece of code reaches,
// for the tests that bound memory to a multiple of their input (lab files,
// control API bodies). It imports only the standard library.
package heappeak

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Live returns the most live heap, in bytes, seen while f runs, less the
// heap before: the collector runs at every 5% of growth and a sampler reads
// the live heap the last one marked (runtime/metrics /gc/heap/live), so the
// figure is within about 5% of the true peak.
func Live(f func()) uint64 {
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 { metrics.Read(s); return s[0].Value.Uint64() }
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Microsecond):
			}
		}
	}()
	f()
	close(stop)
	<-done
	return max(peak.Load(), base) - base
}
