package live

import (
	"fmt"
	"time"

	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// frameSize is the size of every read buffer: a virtio header and the
// largest IP packet, a 64 KiB GSO super-packet (tun.MaxFrameSize).
const frameSize = tun.VirtioNetHdrLen + 65535

// forward is d's reader: it reads batches of frames from d, judges them
// and writes the allowed ones to their destinations, until d is closed.
func (x *Lab) forward(d *Device) {
	defer x.wg.Done()
	f := newForwarder(x, d)
	for {
		n, err := d.dev.Read(f.bufs, f.sizes, 0)
		if err != nil {
			if !x.closing.Load() {
				x.fail(fmt.Errorf("live: reading %s (%s): %w", d.Link.Name, d.Link.Alias(), err))
			}
			return
		}
		f.batch(n, int64(time.Since(x.start)))
	}
}

// forwarder is the state of one reader, made once: its read buffers and
// a batch of frames per destination device.
type forwarder struct {
	x     *Lab
	d     *Device
	bufs  [][]byte
	sizes []int
	out   [][][]byte // frames to write, by destination Device.index
	v     verdict.Verdict
	p     packet.Parsed
	fl    *flowlog.Shard // nil in unit tests without flow logs

	// inject hands one packet to the services (x.inject; tests replace it).
	inject func(pkt []byte)
	// seg and segSizes receive a GSO super-packet to the services cut
	// into packets; made at the first such super-packet.
	seg      [][]byte
	segSizes []int
	// merge coalesces small UDP datagrams into super-packets for the
	// destinations that take them (tun.Coalescer).
	merge *tun.Coalescer
}

// maxServiceSegments is how many packets a GSO super-packet to the
// services may be cut into: 64 KiB at the smallest MSS a lab's 9001-byte
// MTU would leave after a 1500-byte path (1024 bytes) and more.
const maxServiceSegments = 64

func newForwarder(x *Lab, d *Device) *forwarder {
	n := d.dev.BatchSize()
	f := &forwarder{x: x, d: d, bufs: make([][]byte, n), sizes: make([]int, n), out: make([][][]byte, len(x.devices))}
	f.inject = x.inject
	f.merge = tun.NewCoalescer(n)
	if x.flows != nil {
		f.fl = x.flows.Shard(d.index)
	}
	for i := range f.bufs {
		f.bufs[i] = make([]byte, frameSize)
	}
	for i := range f.out {
		f.out[i] = make([][]byte, 0, n)
	}
	return f
}

// batch judges the n frames just read at time now and writes the allowed
// ones, one Write per destination.
func (f *forwarder) batch(n int, now int64) {
	c := &f.d.Counters
	if f.d.stopped.Load() { // a stopped instance sends nothing
		for i := range n {
			if frame := f.bufs[i][:f.sizes[i]]; len(frame) > tun.VirtioNetHdrLen {
				c.denied(verdict.StageRoute, verdict.CodeInstanceStopped, segments(frame), uint64(len(frame)-tun.VirtioNetHdrLen))
			}
		}
		return
	}
	var pkts, bytes, super uint64
	if f.fl != nil {
		f.fl.Begin()
	}
	for i := range n {
		frame := f.bufs[i][:f.sizes[i]]
		if len(frame) <= tun.VirtioNetHdrLen {
			c.denied(verdict.StageParse, verdict.CodeMalformed, 1, uint64(len(frame)))
			continue
		}
		pkt := frame[tun.VirtioNetHdrLen:]
		segs := segments(frame)
		f.x.engine.ProcessParsed(f.d.Port, pkt, now, &f.v, &f.p)
		if f.fl != nil {
			f.fl.Observe(&f.v, &f.p, len(pkt), segs, now)
		}
		if t := f.x.tap; t != nil {
			t.OfferVerdict(&f.v, pkt, now)
		}
		m := f.x.mirror
		if m != nil {
			m.Offer(f.v.From, mirror.Egress, &f.v, &f.p, frame[:tun.VirtioNetHdrLen], pkt, now)
		}
		if !f.v.Allowed {
			c.denied(f.v.Stage, f.v.Code, segs, uint64(len(pkt)))
			continue
		}
		if f.v.To == verdict.PortService {
			f.toService(frame, pkt, segs) // the services are on the router: no hop
			continue
		}
		to := f.x.dest(f.v.To)
		if to == nil { // the internet, in a lab without internet hosts
			c.denied(verdict.StageRoute, verdict.CodeCannotRoute, segs, uint64(len(pkt)))
			continue
		}
		packet.DecrementHop(pkt)
		if m != nil {
			m.Offer(f.v.To, mirror.Ingress, &f.v, &f.p, frame[:tun.VirtioNetHdrLen], pkt, now)
		}
		f.out[to.index] = append(f.out[to.index], frame)
		pkts += segs
		bytes += uint64(len(pkt))
		if segs > 1 {
			super++
		}
	}
	if f.fl != nil {
		f.fl.End() // before the writes: the collector need not wait for them
	}
	if pkts > 0 {
		c.allowedPackets.Add(pkts)
		c.allowedBytes.Add(bytes)
		if super > 0 {
			c.superPackets.Add(super)
		}
	}
	f.flush(c)
}

// flush writes each destination's batch in f.out to it, runs of UDP
// datagrams merged into super-packets where the device takes them
// (tun.Coalescer), counting refused frames in c, and empties the batches.
func (f *forwarder) flush(c *Counters) {
	for i, frames := range f.out {
		if len(frames) == 0 {
			continue
		}
		dst := f.x.devices[i]
		if dst.Offloads&(tun.OffloadUSO4|tun.OffloadUSO6) == 0 {
			f.x.write(dst, frames, c)
		} else {
			for rest := frames; len(rest) > 0; {
				n, used := f.merge.Coalesce(rest, dst.Offloads)
				f.x.writeCounted(dst, rest[:n], f.merge.Counts()[:n], c)
				rest = rest[used:]
			}
		}
		clear(frames) // drop the references to the read buffers
		f.out[i] = frames[:0]
	}
}

// toService hands the packet of frame (pkt, standing for segs packets)
// to the services: cut into packets if it is a GSO super-packet, with its
// checksum completed if the kernel left that to the device.
func (f *forwarder) toService(frame, pkt []byte, segs uint64) {
	c := &f.d.Counters
	var h tun.VirtioNetHdr
	if h.Decode(frame) != nil {
		c.serviceDropped.Add(segs)
		return
	}
	if !h.IsGSO() {
		if tun.CompleteChecksum(h, pkt) != nil {
			c.serviceDropped.Add(1)
			return
		}
		f.inject(pkt)
		c.service.Add(1)
		return
	}
	if f.seg == nil {
		f.seg, f.segSizes = scratch(maxServiceSegments, f.x.mtu)
	}
	n, err := tun.GSOSplit(h, pkt, f.seg, f.segSizes, 0)
	if err != nil {
		c.serviceDropped.Add(segs)
		return
	}
	for i := range n {
		f.inject(f.seg[i][:f.segSizes[i]])
	}
	c.service.Add(uint64(n))
	c.serviceSuper.Add(1)
}

// scratch returns n buffers of size bytes each, cut from one array, and
// n sizes.
func scratch(n, size int) ([][]byte, []int) {
	if size <= 0 {
		size = labnet.DefaultMTU
	}
	backing := make([]byte, n*size)
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = backing[i*size : (i+1)*size : (i+1)*size]
	}
	return bufs, make([]int, n)
}

// inject hands pkt to the services, if the lab runs them.
func (x *Lab) inject(pkt []byte) {
	if x.svc != nil {
		x.svc.Inject(pkt)
	}
}

// flush writes each device's batch in out to it, counting refused frames
// in c, and empties the batches.
func (x *Lab) flush(out [][][]byte, c *Counters) {
	for i, frames := range out {
		if len(frames) > 0 {
			x.write(x.devices[i], frames, c)
			clear(frames) // drop the references to the read buffers
			out[i] = frames[:0]
		}
	}
}

// write writes frames to dst, skipping (and counting in c) any frame the
// device refuses, until all are written or dst is closed.
func (x *Lab) write(dst *Device, frames [][]byte, c *Counters) {
	x.writeCounted(dst, frames, nil, c)
}

// writeCounted is write for frames of which frames[i] stands for
// counts[i] frames of the batch (merged ones, see tun.Coalescer), which a
// refusal counts; nil counts means one each.
func (x *Lab) writeCounted(dst *Device, frames [][]byte, counts []int, c *Counters) {
	for len(frames) > 0 {
		n, err := dst.dev.Write(frames, 0)
		if err == nil || n >= len(frames) || x.closing.Load() {
			return
		}
		if counts != nil {
			c.writeErrors.Add(uint64(counts[n]))
			counts = counts[n+1:]
		} else {
			c.writeErrors.Add(1)
		}
		frames = frames[n+1:]
	}
}

// dest returns the device of a port packets are routed to, or nil for
// the VPC's services (see toService and serve).
func (x *Lab) dest(p verdict.Port) *Device {
	switch {
	case p >= 0 && int(p) < len(x.bySlot):
		return x.bySlot[p]
	case p == verdict.PortInternet:
		return x.inet
	}
	return nil
}

// segments returns how many packets a frame stands for: one, or for a GSO
// super-packet the number of segments it will be cut into.
func segments(frame []byte) uint64 {
	var h tun.VirtioNetHdr
	if h.Decode(frame) != nil || !h.IsGSO() || h.GSOSize == 0 {
		return 1
	}
	payload := len(frame) - tun.VirtioNetHdrLen - int(h.HdrLen)
	if payload <= 0 {
		return 1
	}
	return uint64((payload + int(h.GSOSize) - 1) / int(h.GSOSize))
}
