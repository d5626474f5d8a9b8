package services

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/tun/tuntest"
	"golang.org/x/net/dns/dnsmessage"
)

// TestDeviceRoundTrip: a DNS query written to the Device as a frame whose
// checksum is left to the device reaches the stack, and the answer is
// read back behind a zero virtio header; Close ends a blocked Read.
func TestDeviceRoundTrip(t *testing.T) {
	s := start(t, Options{})
	d := s.Device()
	pkt := udpPacket(t, web1, netip.MustParseAddr("10.0.0.2"), 5353, 53, query(t, 42, "web1.vpc.internal.", dnsmessage.TypeA))
	// Leave the UDP checksum to the device: the pseudo-header sum in the
	// field, NEEDS_CSUM in the header, as the kernel hands it over.
	frame := make([]byte, tun.VirtioNetHdrLen+len(pkt))
	copy(frame[tun.VirtioNetHdrLen:], pkt)
	ip := frame[tun.VirtioNetHdrLen:]
	sum := tun.PseudoHeaderSum(ip, 17, uint16(len(ip)-20))
	ip[26], ip[27] = byte(sum>>8), byte(sum)
	(&tun.VirtioNetHdr{Flags: tun.VirtioNetHdrFNeedsCsum, CsumStart: 20, CsumOffset: 6}).Encode(frame)
	if n, err := d.Write([][]byte{frame}, 0); n != 1 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	bufs, sizes := [][]byte{make([]byte, 4+tun.VirtioNetHdrLen+1500)}, []int{0}
	done := make(chan struct{})
	var n int
	var err error
	go func() {
		defer close(done)
		n, err = d.Read(bufs, sizes, 4)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no answer read")
	}
	if n != 1 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	out := bufs[0][4 : 4+sizes[0]]
	if !bytes.Equal(out[:tun.VirtioNetHdrLen], make([]byte, tun.VirtioNetHdrLen)) {
		t.Errorf("virtio header % x, want zero", out[:tun.VirtioNetHdrLen])
	}
	reply := out[tun.VirtioNetHdrLen:]
	if reply[0]>>4 != 4 || reply[9] != 17 || netip.AddrFrom4([4]byte(reply[12:16])).String() != "10.0.0.2" {
		t.Fatalf("reply % x", reply)
	}
	if rcode, ans := answers(t, 42, reply[28:]); rcode != dnsmessage.RCodeSuccess || len(ans) == 0 {
		t.Errorf("answer %v %v", rcode, ans)
	}

	go func() {
		time.Sleep(10 * time.Millisecond)
		d.Close()
	}()
	if _, err := d.Read(bufs, sizes, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close: %v, want ErrClosed", err)
	}
}

// TestDeviceWrite: a UDP GSO super-packet is handed over as the datagrams
// it stands for, each complete; a frame that cannot be handed over is
// refused with the count of those before it; steady-state writes
// allocate nothing.
func TestDeviceWrite(t *testing.T) {
	var got [][]byte
	keep := true
	d := NewDevice(func(pkt []byte) {
		if keep {
			got = append(got, bytes.Clone(pkt))
		}
	}, 1500)
	in := tuntest.Frames(tuntest.Run(tuntest.UDP{Dst: "169.254.169.123", Src: "10.0.1.10", DPort: 123, SPort: 40000}, 5)...)
	c := tun.NewCoalescer(8)
	batch := append([][]byte(nil), in...)
	if n, used := c.Coalesce(batch, tun.DefaultOffloads); n != 1 || used != 5 {
		t.Fatalf("coalesced into %d frames of %d, want 1 of 5", n, used)
	}
	var want [][]byte // computed first: Write completes checksums in place
	for _, fr := range in {
		want = append(want, tuntest.Complete(t, fr))
	}
	super := bytes.Clone(batch[0])
	bad := bytes.Clone(super)
	bad[1] = byte(tun.GSOTCPv4) // a TCP super-packet of a UDP packet
	if n, err := d.Write([][]byte{in[0], super, bad, in[1]}, 0); n != 2 || err == nil {
		t.Fatalf("Write = %d, %v; want 2 and an error", n, err)
	}
	if len(got) != 6 {
		t.Fatalf("%d packets handed over, want 6", len(got))
	}
	for i, pkt := range got {
		if w := want[max(i-1, 0)]; !bytes.Equal(pkt, w) {
			t.Errorf("packet %d:\n got % x\nwant % x", i, pkt, w)
		}
	}
	keep = false
	frames := [][]byte{super, in[2]}
	if allocs := testing.AllocsPerRun(1000, func() { d.Write(frames, 0) }); allocs != 0 {
		t.Errorf("%v allocations per Write, want 0", allocs)
	}
}
