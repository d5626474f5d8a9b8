package mirror

import (
	"bytes"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// deviceBufs returns n read buffers of the size a Device needs.
func deviceBufs(n int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, tun.VirtioNetHdrLen+65535)
	}
	return bufs, make([]int, n)
}

// readAll reads d until it has got want frames, with batches of len(bufs),
// and returns the frames (without their virtio headers), their ports and
// the size of each Read.
func readAll(t *testing.T, d *Device, bufs [][]byte, sizes []int, want int) (frames [][]byte, ports []verdict.Port, reads []int) {
	t.Helper()
	for len(frames) < want {
		n, err := d.Read(bufs, sizes, 0)
		if err != nil {
			t.Fatalf("Read after %d frames of %d: %v", len(frames), want, err)
		}
		reads = append(reads, n)
		for i := range n {
			frames = append(frames, bytes.Clone(bufs[i][tun.VirtioNetHdrLen:sizes[i]]))
			ports = append(ports, d.Ports()[i])
		}
	}
	return frames, ports, reads
}

// TestDevice: a Device's Reads return the mirror packets a Sink would be
// sent, each with its session's source port; a copy that yields more
// frames than a Read has buffers is kept for the next Reads; a Read
// waits for copies; Close lets the reader take what was queued, then
// Read says net.ErrClosed.
func TestDevice(t *testing.T) {
	dev, coll := NewDevice(nil), &collector{}
	m, err := New(mirrorAll(t, 0), fixedPorts, Options{Device: dev, QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := New(mirrorAll(t, 0), fixedPorts, Options{Sink: coll, QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	offer := func(vnet, b []byte, p *packet.Parsed) {
		t.Helper()
		if !m.Offer(portWeb1, Egress, v, p, vnet, b, 0) || !ref.Offer(portWeb1, Egress, v, p, vnet, b, 0) {
			t.Fatal("not mirrored")
		}
	}
	for i := range 3 {
		b, p := pkt(t, tcp(web1, db1, 40000+uint16(i), 5432, 100))
		offer(nil, b, p)
	}
	// A super-packet of 5 segments: 5 mirror packets from one copy.
	h, super := gsoPacket(t, tcp(web1, db1, 40010, 5432, 5*1000), 1000, packet.TCPAck, false)
	vnet := make([]byte, tun.VirtioNetHdrLen)
	h.Encode(vnet)
	var sp packet.Parsed
	sp.Decode(super)
	offer(vnet, super, &sp)
	ref.Drain()
	want := coll.take()
	if len(want) != 8 {
		t.Fatalf("the Sink was sent %d mirror packets, want 8", len(want))
	}
	bufs, sizes := deviceBufs(2)
	got, ports, reads := readAll(t, dev, bufs, sizes, len(want))
	if len(got) != len(want) {
		t.Fatalf("read %d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i].pkt) {
			t.Errorf("frame %d differs from what the Sink got", i)
		}
		if ports[i] != portWeb1 {
			t.Errorf("frame %d enters at port %d, want web1's %d", i, ports[i], portWeb1)
		}
	}
	for _, n := range reads {
		if n < 1 || n > 2 {
			t.Errorf("Reads of %v frames: each must be 1 or 2", reads)
		}
	}

	// A Read waits for a copy.
	done := make(chan int)
	go func() {
		n, err := dev.Read(bufs, sizes, 0)
		if err != nil {
			t.Error(err)
		}
		done <- n
	}()
	select {
	case n := <-done:
		t.Fatalf("Read returned %d frames with nothing queued", n)
	case <-time.After(20 * time.Millisecond):
	}
	b, p := pkt(t, tcp(web1, db1, 40020, 5432, 10))
	m.Offer(portWeb1, Egress, v, p, nil, b, 0)
	if n := <-done; n != 1 {
		t.Fatalf("Read returned %d frames, want 1", n)
	}

	// Close: the reader gets what was queued, then net.ErrClosed.
	m.Offer(portWeb1, Egress, v, p, nil, b, 0)
	m.Offer(portWeb1, Egress, v, p, nil, b, 0)
	reader := make(chan error)
	go func() {
		n := 0
		for {
			k, err := dev.Read(bufs, sizes, 0)
			n += k
			if err != nil {
				if n != 2 {
					t.Errorf("read %d frames before %v, want the 2 queued", n, err)
				}
				reader <- err
				return
			}
		}
	}()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-reader; !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := dev.Read(bufs, sizes, 0); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read again: %v, want net.ErrClosed", err)
	}
	if st := m.Stats()[0]; st.Mirrored != 11 || st.Failed != 0 || st.Dropped != 0 {
		t.Errorf("stats %+v, want 11 mirrored", st)
	}
}

// TestDeviceNoReader: a Mirror whose Device was never read closes without
// waiting, having taken the copies queued, and a Read afterwards says
// net.ErrClosed; the options that cannot work are refused.
func TestDeviceNoReader(t *testing.T) {
	dev := NewDevice(func(*Session) int { return MaxGSOSegments })
	m, err := New(mirrorAll(t, 0), fixedPorts, Options{Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	if s := m.tab.Load().sessions[0]; s.segs != MaxGSOSegments {
		t.Errorf("session of %d segments a frame, want the Device's %d", s.segs, MaxGSOSegments)
	}
	m.Start() // does nothing: the reader is the consumer
	b, p := pkt(t, tcp(web1, db1, 40000, 5432, 10))
	m.Offer(portWeb1, Egress, &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}, p, nil, b, 0)
	closed := make(chan error)
	go func() { closed <- m.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a reader that never came")
	}
	bufs, sizes := deviceBufs(1)
	if _, err := dev.Read(bufs, sizes, 0); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Read after Close: %v, want net.ErrClosed", err)
	}
	if _, err := dev.Write([][]byte{b}, 0); err == nil {
		t.Error("Write of a frame to the mirror's device succeeded")
	}
	if _, err := New(mirrorAll(t, 0), fixedPorts, Options{Device: dev}); err == nil {
		t.Error("a Device given to a second Mirror was accepted")
	}
	if _, err := New(mirrorAll(t, 0), fixedPorts, Options{Device: NewDevice(nil), Sink: &collector{}}); err == nil {
		t.Error("Sink and Device both set was accepted")
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Drain with a Device did not panic")
			}
		}()
		m2, err := New(mirrorAll(t, 0), fixedPorts, Options{Device: NewDevice(nil)})
		if err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		m2.Drain()
	}()
}

// TestDeviceSmallBuffer: a frame that a Read's buffer cannot hold is
// dropped and counted, not cut.
func TestDeviceSmallBuffer(t *testing.T) {
	dev := NewDevice(nil)
	m, err := New(mirrorAll(t, 0), fixedPorts, Options{Device: dev})
	if err != nil {
		t.Fatal(err)
	}
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	big, bp := pkt(t, tcp(web1, db1, 40000, 5432, 1000))
	small, sp := pkt(t, tcp(web1, db1, 40001, 5432, 10))
	m.Offer(portWeb1, Egress, v, bp, nil, big, 0)
	m.Offer(portWeb1, Egress, v, sp, nil, small, 0)
	bufs, sizes := [][]byte{make([]byte, tun.VirtioNetHdrLen+200)}, []int{0}
	n, err := dev.Read(bufs, sizes, 0)
	if err != nil || n != 1 || dev.TooSmall() != 1 {
		t.Fatalf("Read: %d frames, %v, %d too small; want the small frame and 1 too small", n, err, dev.TooSmall())
	}
	go m.Close()
	for {
		if _, err := dev.Read(bufs, sizes, 0); err != nil {
			break
		}
	}
}

// TestDeviceNoAllocs: in steady state Offer and Read allocate nothing,
// also for a copy whose frames overflow a Read.
func TestDeviceNoAllocs(t *testing.T) {
	dev := NewDevice(nil)
	m, err := New(mirrorAll(t, 128), fixedPorts, Options{Device: dev, QueueSlots: 64})
	if err != nil {
		t.Fatal(err)
	}
	h, super := gsoPacket(t, tcp(web1, db1, 40000, 5432, 4*1000), 1000, packet.TCPAck, false)
	vnet := make([]byte, tun.VirtioNetHdrLen)
	h.Encode(vnet)
	var sp packet.Parsed
	sp.Decode(super)
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	bufs, sizes := deviceBufs(3)
	round := func() {
		m.Offer(portWeb1, Egress, v, &sp, vnet, super, 0)
		for got := 0; got < 4; {
			n, err := dev.Read(bufs, sizes, 0)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	round() // the held frames' buffers are made once
	if n := testing.AllocsPerRun(200, round); n != 0 {
		t.Errorf("Offer and Read allocate %v times", n)
	}
	go m.Close()
	for {
		if _, err := dev.Read(bufs, sizes, 0); err != nil {
			break
		}
	}
}
