package live

import (
	"fmt"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// The forwarder: the path of every packet through a live lab, top to
// bottom. Every device is a tun.Device of frames (a virtio header, then
// an IP packet): the ENIs' and the internet's TUN devices, and the VPC's
// services (services.Device). Each device has a forwarder, which the
// workers drive (workers.go: a fair share of a batch per device per
// round), or, for the services' device and the mirror's (mirror.Device,
// whose copies for ENI targets each enter at their session's source
// port), a goroutine of its own (forward). Each batch is:
//
//	stopped?   a stopped instance sends nothing (the engine holds the state)
//	judge      engine.ProcessBatch at the device's port, the batch at once
//	observe    every Observer is told (flow logs, capture, mirror: Judged)
//	route      the verdict's port names the destination device
//	hop        the TTL or hop limit decremented (not to or from the services,
//	           which are on the router), then Observers told again (Forwarded)
//	write      one Write per destination, UDP runs coalesced (tun.Coalescer)
//
// Nothing on the path allocates or takes a lock.

// An Observer sees the packets a forwarder judges without changing their
// fate: the flow logs (flowlog.Shard), the capture tap (capture.Tap) and
// traffic mirroring (mirror.Mirror). Its methods take no lock and
// allocate nothing.
type Observer interface {
	// Begin and End bracket the calls for one batch, Begin after the
	// frames were read.
	Begin()
	End()
	// Judged is told of every packet judged, allowed or not, as it
	// entered: v its verdict, p the parsed packet, vnet its virtio header
	// and pkt the IP packet, standing for segs packets.
	Judged(v *verdict.Verdict, p *packet.Parsed, vnet, pkt []byte, segs uint64, now int64)
	// Forwarded is told of every packet written to a device other than
	// the services, as written (its hop decremented).
	Forwarded(v *verdict.Verdict, p *packet.Parsed, vnet, pkt []byte, now int64)
}

var (
	_ Observer = (*capture.Tap)(nil)
	_ Observer = (*flowlog.Shard)(nil)
	_ Observer = (*mirror.Mirror)(nil)
)

// frameSize is the size of every read buffer of a TUN device: a virtio
// header and the largest IP packet, a 64 KiB GSO super-packet
// (tun.MaxFrameSize).
const frameSize = tun.VirtioNetHdrLen + 65535

// forward is d's reader: it reads batches of frames from d, judges them
// and writes the allowed ones to their destinations, until d is closed.
func (x *Lab) forward(d *Device) {
	f := newForwarder(x, d)
	for {
		n, err := d.dev.Read(f.bufs, f.sizes, 0)
		if err != nil {
			if !x.closing.Load() {
				x.fail(readError(d, err))
			}
			return
		}
		f.batch(n, int64(time.Since(x.start)))
	}
}

// readError is the failure of reading d.
func readError(d *Device, err error) error {
	if d.Link == nil {
		if d.Port == verdict.PortService {
			return fmt.Errorf("live: reading from the VPC services: %w", err)
		}
		return fmt.Errorf("live: reading from %s: %w", d.dev.Name(), err)
	}
	return fmt.Errorf("live: reading %s (%s): %w", d.Link.Name, d.Link.Alias(), err)
}

// forwarder is the state of one reader, made once: its read buffers, a
// batch of frames per destination device, its observers.
type forwarder struct {
	x      *Lab
	d      *Device
	from   verdict.Port // where the frames enter the engine
	c      *Counters    // what counts them
	obs    []Observer
	bufs   [][]byte
	sizes  []int
	frames [][]byte   // the frames of the batch read
	out    [][][]byte // frames to write, by destination Device.index
	// judged and pkts are the frames of a step that reach the engine
	// and their IP packets; vs and ps their verdicts and parsed forms
	// (Engine.ProcessBatch).
	judged, pkts [][]byte
	vs           []verdict.Verdict
	ps           []packet.Parsed
	// ports is the mirror's device (sourced), whose frames each enter at
	// a port of their own; nil for every other device, whose frames all
	// enter at d.Port.
	ports sourced
	// merge coalesces small UDP datagrams into super-packets for the
	// destinations that take them.
	merge *tun.Coalescer
}

// sourced is a device whose frames enter the engine each at a port of
// its own, reported per Read: the mirror's (mirror.Device), whose copies
// cross the dataplane from their sessions' source ENIs, as if those had
// sent them, so that the route and the target's inbound rules decide
// whether they arrive (AWS does not apply the source's own security
// group to mirror traffic).
type sourced interface {
	Ports() []verdict.Port // the entry port of each frame of the last Read
}

var _ sourced = (*mirror.Device)(nil)

// newForwarder returns the forwarder of d. A device's Observers are the
// flow logs, the capture tap and the mirror; the services' are the
// capture tap alone (their traffic is exempt: never logged nor
// mirrored); the mirror's device has none: mirror packets are neither
// captured nor mirrored again, and flow logs do not record them (AWS's
// flow logs do not capture mirrored traffic).
func newForwarder(x *Lab, d *Device) *forwarder {
	n := d.dev.BatchSize()
	f := &forwarder{x: x, d: d, from: d.Port, c: &d.Counters, out: make([][][]byte, len(x.dests))}
	size := frameSize
	if ports, ok := d.dev.(sourced); ok {
		f.ports = ports
	} else {
		if d.Port == verdict.PortService {
			size = tun.VirtioNetHdrLen + x.mtu // the services send no super-packet
		} else if x.flows != nil {
			f.obs = append(f.obs, x.flows.Shard(d.index))
		}
		if x.tap != nil {
			f.obs = append(f.obs, x.tap)
		}
		if x.mirror != nil && d.Port != verdict.PortService {
			f.obs = append(f.obs, x.mirror)
		}
		if x.fast != nil && d.Port >= 0 { // the eBPF datapath's installer (fastpath.go)
			f.obs = append(f.obs, &fastInstaller{x: x, fp: x.fast})
		}
	}
	f.bufs, f.sizes, f.frames = make([][]byte, n), make([]int, n), make([][]byte, 0, n)
	f.judged, f.pkts = make([][]byte, 0, n), make([][]byte, 0, n)
	f.vs, f.ps = make([]verdict.Verdict, n), make([]packet.Parsed, n)
	backing := make([]byte, n*size)
	for i := range f.bufs {
		f.bufs[i] = backing[i*size : (i+1)*size : (i+1)*size]
	}
	f.merge = tun.NewCoalescer(n)
	for i := range f.out {
		f.out[i] = make([][]byte, 0, n)
	}
	return f
}

// batch forwards the n frames just read, at time now: at d.Port, or for
// the mirror's device in runs of frames from one source port.
func (f *forwarder) batch(n int, now int64) {
	frames := f.frames[:0]
	for i := range n {
		frames = append(frames, f.bufs[i][:f.sizes[i]])
	}
	f.frames = frames
	if f.ports == nil {
		f.step(frames, now)
	} else {
		ports := f.ports.Ports()[:n]
		for i := 0; i < n; {
			j := i + 1
			for j < n && ports[j] == ports[i] {
				j++
			}
			f.from = ports[i]
			f.step(frames[i:j], now)
			i = j
		}
	}
	clear(frames) // drop the references to the read buffers
}

// step judges frames, entering at f.from at time now, and writes the
// allowed ones, one Write per destination.
func (f *forwarder) step(frames [][]byte, now int64) {
	c := f.c
	if f.x.engine.Stopped(f.from) { // a stopped instance sends nothing
		for _, frame := range frames {
			if len(frame) > tun.VirtioNetHdrLen {
				c.denied(verdict.StageRoute, verdict.CodeInstanceStopped, segments(frame), uint64(len(frame)-tun.VirtioNetHdrLen))
			}
		}
		return
	}
	var pkts, bytes, super uint64
	for _, o := range f.obs {
		o.Begin()
	}
	judged, ips := f.judged[:0], f.pkts[:0]
	for _, frame := range frames {
		if len(frame) <= tun.VirtioNetHdrLen {
			c.denied(verdict.StageParse, verdict.CodeMalformed, 1, uint64(len(frame)))
			continue
		}
		judged, ips = append(judged, frame), append(ips, frame[tun.VirtioNetHdrLen:])
	}
	if len(ips) > len(f.vs) { // more than BatchSize said (tests resize bufs)
		f.vs, f.ps = make([]verdict.Verdict, len(ips)), make([]packet.Parsed, len(ips))
	}
	// One call for the batch: the engine reads the conntrack tables of
	// many packets ahead at once, so that their cache misses overlap.
	f.x.engine.ProcessBatch(f.from, ips, now, f.vs, f.ps)
	for i, frame := range judged {
		v, p := &f.vs[i], &f.ps[i]
		vnet, pkt := frame[:tun.VirtioNetHdrLen], ips[i]
		segs := segments(frame)
		for _, o := range f.obs {
			o.Judged(v, p, vnet, pkt, segs, now)
		}
		if !v.Allowed {
			c.denied(v.Stage, v.Code, segs, uint64(len(pkt)))
			continue
		}
		if segs > 1 { // the engine charged one packet of the super-packet
			f.x.engine.ChargeSegments(f.from, v.To, segs, now)
		}
		to := f.x.dest(v.To)
		if to == nil { // the internet, in a lab without internet hosts
			c.denied(verdict.StageRoute, verdict.CodeCannotRoute, segs, uint64(len(pkt)))
			continue
		}
		f.out[to.index] = append(f.out[to.index], frame)
		if to.Port == verdict.PortService {
			continue // no hop (the services are on the router); counted as handed over
		}
		if f.from != verdict.PortService { // the services' replies are the router's own
			packet.DecrementHop(pkt)
		}
		for _, o := range f.obs {
			o.Forwarded(v, p, vnet, pkt, now)
		}
		pkts += segs
		bytes += uint64(len(pkt))
		if segs > 1 {
			super++
		}
	}
	clear(judged) // drop the references to the read buffers
	clear(ips)
	f.judged, f.pkts = judged[:0], ips[:0]
	for _, o := range f.obs {
		o.End() // before the writes: the flow logs' collector need not wait for them
	}
	if pkts > 0 {
		c.allowedPackets.Add(pkts)
		c.allowedBytes.Add(bytes)
		if super > 0 {
			c.superPackets.Add(super)
		}
	}
	f.flush()
}

// flush writes each destination's batch in f.out to it, runs of UDP
// datagrams merged into super-packets where the device takes them
// (tun.Coalescer), and empties the batches.
func (f *forwarder) flush() {
	for i, frames := range f.out {
		if len(frames) == 0 {
			continue
		}
		switch dst := f.x.dests[i]; {
		case dst.Port == verdict.PortService:
			f.toServices(dst, frames)
		case dst.Offloads&(tun.OffloadUSO4|tun.OffloadUSO6) == 0:
			f.write(dst, frames, nil)
		default:
			for rest := frames; len(rest) > 0; {
				n, used := f.merge.Coalesce(rest, dst.Offloads)
				f.write(dst, rest[:n], f.merge.Counts()[:n])
				rest = rest[used:]
			}
		}
		clear(frames) // drop the references to the read buffers
		f.out[i] = frames[:0]
	}
}

// write writes frames to dst, skipping (and counting as write errors) any
// frame the device refuses, until all are written or dst is closed.
// frames[i] stands for counts[i] frames of the batch (merged ones, see
// tun.Coalescer), which a refusal counts; nil counts means one each.
func (f *forwarder) write(dst *Device, frames [][]byte, counts []int) {
	for len(frames) > 0 {
		n, err := dst.dev.Write(frames, 0)
		if err == nil || n >= len(frames) || f.x.closing.Load() {
			return
		}
		if counts != nil {
			f.c.writeErrors.Add(uint64(counts[n]))
			counts = counts[n+1:]
		} else {
			f.c.writeErrors.Add(1)
		}
		frames = frames[n+1:]
	}
}

// toServices writes frames to the services' device (services.Device cuts
// a GSO super-packet into packets and completes checksums), counting the
// packets handed over and the GSO super-packets among them, and as
// dropped the packets of a frame it refuses (a malformed super-packet,
// checksum offsets outside the packet).
func (f *forwarder) toServices(dst *Device, frames [][]byte) {
	c := f.c
	for len(frames) > 0 {
		n, err := dst.dev.Write(frames, 0)
		for _, frame := range frames[:n] {
			c.service.Add(segments(frame))
			if isGSO(frame) {
				c.serviceSuper.Add(1)
			}
		}
		if err == nil || n >= len(frames) {
			return
		}
		c.serviceDropped.Add(segments(frames[n]))
		frames = frames[n+1:]
	}
}

// dest returns the device of a port packets are routed to: an ENI's, the
// internet's or the services'; nil for the internet in a lab without
// internet hosts.
func (x *Lab) dest(p verdict.Port) *Device {
	switch {
	case p >= 0 && int(p) < len(x.bySlot):
		return x.bySlot[p]
	case p == verdict.PortInternet:
		return x.inet
	case p == verdict.PortService:
		return x.svcDev
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

// isGSO reports whether frame's virtio header says it is a GSO
// super-packet.
func isGSO(frame []byte) bool {
	var h tun.VirtioNetHdr
	return h.Decode(frame) == nil && h.IsGSO()
}
