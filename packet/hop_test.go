package packet

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// headerChecksum is the IPv4 header checksum of h, computed afresh.
func headerChecksum(h []byte) uint16 {
	h10, h11 := h[10], h[11]
	h[10], h[11] = 0, 0
	c := ^checksum.Checksum(h, 0)
	h[10], h[11] = h10, h11
	return c
}

func TestDecrementHopIPv4(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := make([]byte, 20)
	for range 100000 {
		for i := range h {
			h[i] = byte(r.Uint32())
		}
		h[0], h[8] = 0x45, byte(2+r.IntN(254))
		binary.BigEndian.PutUint16(h[10:], headerChecksum(h))
		ttl := h[8]
		DecrementHop(h)
		got, want := binary.BigEndian.Uint16(h[10:]), headerChecksum(h)
		// 0x0000 and 0xffff are both one's-complement zero.
		if h[8] != ttl-1 || (got != want && got|want != 0xffff) {
			t.Fatalf("ttl %d→%d, checksum %#04x, want ttl %d, checksum %#04x", ttl, h[8], got, ttl-1, want)
		}
	}
}

func TestDecrementHopIPv6(t *testing.T) {
	h := make([]byte, 40)
	h[0], h[7] = 0x60, 64
	DecrementHop(h)
	if h[7] != 63 {
		t.Fatalf("hop limit %d, want 63", h[7])
	}
}
