package live

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	start := time.Now().Add(-2 * time.Second)
	x := &Lab{start: start}
	if !x.Started().Equal(start) {
		t.Errorf("Started() = %v, want %v", x.Started(), start)
	}
	n1 := x.Now()
	if n1 < int64(2*time.Second) {
		t.Errorf("Now() = %v, want at least 2s", time.Duration(n1))
	}
	if n2 := x.Now(); n2 < n1 {
		t.Errorf("Now() went back: %d then %d", n1, n2)
	}
}
