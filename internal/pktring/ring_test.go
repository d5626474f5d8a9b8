package pktring

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"testing"
)

type meta struct {
	producer, seq int
}

func TestFIFOAndTruncation(t *testing.T) {
	r := New[meta](3, 8) // rounds up to 4 slots
	if r.Cap() != 4 {
		t.Fatalf("Cap = %d, want 4", r.Cap())
	}
	for i := range 4 {
		if !r.Put(&meta{seq: i}, []byte{byte(i), 1, 2}, []byte{3, 4, 5, 6, 7, 8, 9}) {
			t.Fatalf("Put %d refused", i)
		}
	}
	if r.Put(&meta{seq: 4}, []byte{1}) {
		t.Fatal("Put into a full ring succeeded")
	}
	if r.Dropped() != 1 || r.Len() != 4 {
		t.Fatalf("Dropped = %d, Len = %d; want 1, 4", r.Dropped(), r.Len())
	}
	for i := range 4 {
		ok := r.Get(func(m *meta, data []byte, orig int) {
			if m.seq != i || len(data) != 8 || orig != 10 || data[0] != byte(i) || data[7] != 7 {
				t.Errorf("got seq %d, %v (orig %d); want seq %d, 8 bytes of 10", m.seq, data, orig, i)
			}
		})
		if !ok {
			t.Fatalf("Get %d: empty", i)
		}
	}
	if r.Get(func(*meta, []byte, int) { t.Error("Get from an empty ring called fn") }) {
		t.Fatal("Get from an empty ring reported true")
	}
	// The ring is reusable after a lap.
	if !r.Put(&meta{seq: 9}, []byte{9}) || r.Drain(func(m *meta, d []byte, _ int) {
		if m.seq != 9 || len(d) != 1 {
			t.Errorf("after a lap: seq %d, %v", m.seq, d)
		}
	}) != 1 {
		t.Fatal("Put/Drain after a lap failed")
	}
}

// TestConcurrent runs several producers against one consumer: every copy
// is either received exactly once, intact and in each producer's order, or
// counted as dropped.
func TestConcurrent(t *testing.T) {
	const producers, each = 4, 20000
	r := New[meta](64, 16)
	var done atomic.Bool
	var wg sync.WaitGroup
	var accepted atomic.Int64
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf [16]byte
			for i := range each {
				binary.LittleEndian.PutUint64(buf[:], uint64(p))
				binary.LittleEndian.PutUint64(buf[8:], uint64(i))
				if r.Put(&meta{producer: p, seq: i}, buf[:]) {
					accepted.Add(1)
				}
			}
		}()
	}
	go func() { wg.Wait(); done.Store(true) }()
	last := make([]int, producers)
	for i := range last {
		last[i] = -1
	}
	got := 0
	r.Wait(done.Load, func(m *meta, data []byte, orig int) {
		got++
		p, i := int(binary.LittleEndian.Uint64(data)), int(binary.LittleEndian.Uint64(data[8:]))
		if p != m.producer || i != m.seq || orig != 16 {
			t.Fatalf("slot mixes two copies: meta %+v, data says producer %d seq %d", *m, p, i)
		}
		if i <= last[p] {
			t.Fatalf("producer %d: seq %d after %d", p, i, last[p])
		}
		last[p] = i
	})
	if int64(got) != accepted.Load() || uint64(got)+r.Dropped() != producers*each {
		t.Fatalf("received %d, accepted %d, dropped %d; want received = accepted and received + dropped = %d",
			got, accepted.Load(), r.Dropped(), producers*each)
	}
}

func TestPutGetNoAllocs(t *testing.T) {
	r := New[meta](8, 64)
	pkt := make([]byte, 100)
	m := meta{seq: 1}
	fn := func(*meta, []byte, int) {}
	if n := testing.AllocsPerRun(1000, func() {
		r.Put(&m, pkt)
		r.Get(fn)
	}); n != 0 {
		t.Fatalf("Put+Get allocate %v times", n)
	}
}

func BenchmarkPutGet(b *testing.B) {
	r := New[meta](256, 128)
	pkt := make([]byte, 1500)
	m := meta{}
	fn := func(*meta, []byte, int) {}
	for b.Loop() {
		r.Put(&m, pkt)
		r.Get(fn)
	}
}
