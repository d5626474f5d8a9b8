package tun

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// TestPoller: Wait reports the device that has frames, by its id, and
// only it; TryRead takes them without waiting and then reads nothing;
// a Wait blocked on idle devices returns when a frame comes, and with
// os.ErrClosed once the Poller is closed.
func TestPoller(t *testing.T) {
	ns := newNS(t)
	d0 := openIn(t, ns, Config{Name: "vtun0", MTU: 1500, Offloads: DefaultOffloads}, []string{"198.18.0.1/24"}, nil)
	d1 := openIn(t, ns, Config{Name: "vtun1", MTU: 1500, Offloads: DefaultOffloads}, []string{"198.19.0.1/24"}, nil)
	p, err := NewPoller(2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Add(d0, 7); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(d1, 8); err != nil {
		t.Fatal(err)
	}
	var c net.PacketConn
	inNS(t, ns, func() (err error) { c, err = net.ListenPacket("udp4", "0.0.0.0:0"); return })
	defer c.Close()
	bufs, sizes := [][]byte{make([]byte, MaxFrameSize), make([]byte, MaxFrameSize)}, make([]int, 2)
	// Whatever the kernel sent on its own when the links came up
	// (router solicitations, reports) is drained first.
	for _, d := range []*NativeTun{d0, d1} {
		for {
			n, err := d.TryRead(bufs, sizes, 0)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
	}

	waited := make(chan []int, 1)
	go func() {
		ready := make([]int, 2)
		n, err := p.Wait(ready)
		if err != nil {
			t.Error(err)
		}
		waited <- ready[:n]
	}()
	time.Sleep(50 * time.Millisecond) // Wait parks on idle devices
	if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IP{198, 19, 0, 2}, Port: 9999}); err != nil {
		t.Fatal(err)
	}
	select {
	case ready := <-waited:
		if len(ready) != 1 || ready[0] != 8 {
			t.Fatalf("Wait reported %v, want [8] (vtun1)", ready)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return when a frame came")
	}
	// The datagram, and maybe something the kernel sent on its own after
	// the drain (an IPv6 router solicitation or MLD report), which is
	// left out.
	found := false
	for {
		n, err := d1.TryRead(bufs, sizes, 0)
		if err != nil {
			t.Fatalf("TryRead: %v", err)
		}
		if n == 0 {
			break
		}
		for i := range n {
			pkt := bufs[i][VirtioNetHdrLen:sizes[i]] // after the virtio-net header
			switch {
			case len(pkt) >= 20 && pkt[0]>>4 == 4 && pkt[9] == 17 && net.IP(pkt[16:20]).Equal(net.IP{198, 19, 0, 2}):
				if found {
					t.Fatal("TryRead read the datagram twice")
				}
				found = true
			case len(pkt) > 0 && pkt[0]>>4 == 6, len(pkt) >= 20 && pkt[0]>>4 == 4 && pkt[9] == 2:
				// the kernel's own: IPv6, or IGMP
			default:
				t.Fatalf("TryRead read a frame nobody sent: % x", pkt[:min(len(pkt), 40)])
			}
		}
	}
	if !found {
		t.Fatal("TryRead did not read the datagram")
	}
	if n, err := d1.TryRead(bufs, sizes, 0); err != nil || n != 0 {
		t.Fatalf("TryRead of an empty queue = %d, %v, want 0, nil", n, err)
	}

	closed := make(chan error, 1)
	go func() {
		_, err := p.Wait(make([]int, 2))
		closed <- err
	}()
	time.Sleep(50 * time.Millisecond)
	p.Close()
	select {
	case err := <-closed:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Wait after Close: %v, want os.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a blocked Wait")
	}
}

// TestPollerPause: a paused device with a frame queued is not reported;
// a Wait on paused or idle devices with a deadline returns
// os.ErrDeadlineExceeded when it passes; resumed, the device is reported
// again, its frame still queued. Pause, Resume and SetDeadline allocate
// nothing.
func TestPollerPause(t *testing.T) {
	ns := newNS(t)
	d0 := openIn(t, ns, Config{Name: "vtun0", MTU: 1500, Offloads: DefaultOffloads}, []string{"198.18.0.1/24"}, nil)
	p, err := NewPoller(1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Add(d0, 3); err != nil {
		t.Fatal(err)
	}
	if err := p.Pause(4); err == nil {
		t.Error("Pause of an id never added succeeded")
	}
	var c net.PacketConn
	inNS(t, ns, func() (err error) { c, err = net.ListenPacket("udp4", "0.0.0.0:0"); return })
	defer c.Close()
	bufs, sizes := [][]byte{make([]byte, MaxFrameSize)}, make([]int, 1)
	for { // what the kernel sent on its own
		n, err := d0.TryRead(bufs, sizes, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if err := p.Pause(3); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IP{198, 18, 0, 2}, Port: 9999}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	ready := make([]int, 1)
	start := time.Now()
	if err := p.SetDeadline(start.Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Wait(ready); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Wait on a paused device = %d, %v, want 0, os.ErrDeadlineExceeded", n, err)
	}
	if el := time.Since(start); el < 90*time.Millisecond || el > 2*time.Second {
		t.Errorf("Wait returned after %v, want its deadline's 100 ms", el)
	}
	if n, err := p.Wait(ready); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Wait past its deadline = %d, %v, want 0, os.ErrDeadlineExceeded at once", n, err)
	}
	if err := p.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := p.Resume(3); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Wait(ready); err != nil || n != 1 || ready[0] != 3 {
		t.Fatalf("Wait on the resumed device = %v, %v, want [3]", ready[:n], err)
	}
	if n, err := d0.TryRead(bufs, sizes, 0); err != nil || n == 0 {
		t.Fatalf("TryRead after Resume = %d, %v, want the queued frame", n, err)
	}
	far := time.Now().Add(time.Hour)
	allocs := testing.AllocsPerRun(100, func() {
		p.Pause(3)
		p.SetDeadline(far)
		p.Resume(3)
		p.SetDeadline(time.Time{})
	})
	if allocs != 0 {
		t.Errorf("Pause, SetDeadline, Resume allocate %.1f times, want 0", allocs)
	}
}

// TestTxDropped: datagrams sent to a device nobody reads fill its queue
// and the kernel drops the rest; TxDropped counts them as netlink's link
// statistics do, and allocates nothing.
func TestTxDropped(t *testing.T) {
	ns := newNS(t)
	d := openIn(t, ns, Config{Name: "vtun0", MTU: 1500, Offloads: DefaultOffloads}, []string{"198.18.0.1/24"}, nil)
	before, err := d.TxDropped()
	if err != nil {
		t.Fatal(err)
	}
	var c net.PacketConn
	inNS(t, ns, func() (err error) { c, err = net.ListenPacket("udp4", "0.0.0.0:0"); return })
	defer c.Close()
	const sent = 3000 // beyond the queue's 500 (TUN_READQ_SIZE)
	for range sent {
		c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IP{198, 18, 0, 2}, Port: 9999})
	}
	got, err := d.TxDropped()
	if err != nil {
		t.Fatal(err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByIndex(d.Index())
	if err != nil {
		t.Fatal(err)
	}
	if want := link.Attrs().Statistics.TxDropped; got != want || got-before < sent/2 {
		t.Errorf("TxDropped %d (from %d), netlink says %d, after %d datagrams into a queue of 500", got, before, want, sent)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := d.TxDropped(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("TxDropped allocates %.1f times, want 0", allocs)
	}
	d.Close()
	if _, err := d.TxDropped(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("TxDropped after Close: %v, want os.ErrClosed", err)
	}
}
