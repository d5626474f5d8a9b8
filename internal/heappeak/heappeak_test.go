package heappeak

import "testing"

var sink []byte

// TestLive: a 64 MiB allocation held while f runs is seen, within the
// sampler's 5%; nothing held is not.
func TestLive(t *testing.T) {
	const n = 64 << 20
	got := Live(func() {
		sink = make([]byte, n)
		for i := range sink {
			sink[i] = 1
		}
	})
	sink = nil
	if got < n*95/100 || got > n*3/2 {
		t.Errorf("Live saw %d bytes of a %d-byte allocation", got, n)
	}
	if got := Live(func() {}); got > 4<<20 {
		t.Errorf("Live saw %d bytes where nothing was allocated", got)
	}
}
