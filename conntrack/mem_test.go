package conntrack

import (
	"runtime"
	"testing"
)

// A table past bigSlab entries takes its further chunks, and a bucket
// array of a region or more its heads, from mapped regions (on Linux,
// unless the race detector is on); its flows are found on either side of
// the boundary, and the regions are unmapped once the table is gone.
func TestMappedRegions(t *testing.T) {
	settle()
	before := OffHeapBytes()
	n := bigSlab*chunkLen + 3*chunkLen
	tb := NewTable(nil, testTimeouts())
	for i := range n {
		k := manyKey(i)
		insert(tb, &k, true, ack, 0)
	}
	for _, i := range []int{1, bigSlab*chunkLen - 1, bigSlab * chunkLen, n - 1} {
		k := manyKey(i)
		if !lookup(tb, &k, true, ack, 1) {
			t.Errorf("flow %d missed", i)
		}
	}
	mapped := OffHeapBytes() - before
	mapping := mapTest()
	switch {
	case mapping && mapped < regionBytes:
		t.Errorf("%d flows hold %d bytes mapped, want at least a region", n, mapped)
	case !mapping && mapped != 0:
		t.Errorf("%d bytes mapped in a build that maps nothing", mapped)
	}
	runtime.KeepAlive(tb)
	tb = nil
	settle()
	if left := OffHeapBytes() - before; left != 0 {
		t.Errorf("%d bytes still mapped after the table was dropped", left)
	}
}

// mapTest maps and unmaps a region, reporting whether mapping works here.
func mapTest() bool {
	b := mapRegion(regionBytes)
	if b == nil {
		return false
	}
	b[0], b[len(b)-1] = 1, 1
	unmapRegion(b)
	return true
}
