package live

import (
	"context"
	"fmt"
	"time"

	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// serve is the services' writer: it reads the packets the VPC's services
// send, judges each at verdict.PortService and writes the allowed ones,
// batched per device, to the ENI they are routed to, until ctx is
// cancelled or the services are closed.
func (x *Lab) serve(ctx context.Context) {
	defer x.wg.Done()
	w := newServiceWriter(x)
	for {
		n, err := x.svc.Read(ctx, w.bufs, w.sizes, tun.VirtioNetHdrLen)
		if err != nil {
			if !x.closing.Load() {
				x.fail(fmt.Errorf("live: reading from the VPC services: %w", err))
			}
			return
		}
		w.batch(n, int64(time.Since(x.start)))
	}
}

// serviceWriter is the state of the services' writer, made once: its read
// buffers (headroom for a virtio header, then the ENIs' MTU) and a batch
// of frames per destination device.
type serviceWriter struct {
	x     *Lab
	bufs  [][]byte
	sizes []int
	out   [][][]byte // frames to write, by destination Device.index
	v     verdict.Verdict
}

func newServiceWriter(x *Lab) *serviceWriter {
	n := tun.IdealBatchSize
	w := &serviceWriter{x: x, sizes: make([]int, n), out: make([][][]byte, len(x.devices))}
	w.bufs, _ = scratch(n, tun.VirtioNetHdrLen+x.mtu)
	for i := range w.out {
		w.out[i] = make([][]byte, 0, n)
	}
	return w
}

// batch judges the n packets just read from the services at time now,
// each at bufs[i][VirtioNetHdrLen:], and writes the allowed ones behind a
// zero virtio header (the services complete their checksums and never
// send super-packets), one Write per destination.
func (w *serviceWriter) batch(n int, now int64) {
	c := &w.x.svcCount
	var pkts, bytes uint64
	for i := range n {
		frame := w.bufs[i][:tun.VirtioNetHdrLen+w.sizes[i]]
		clear(frame[:tun.VirtioNetHdrLen])
		pkt := frame[tun.VirtioNetHdrLen:]
		w.x.engine.Process(verdict.PortService, pkt, now, &w.v)
		if t := w.x.tap; t != nil {
			t.OfferVerdict(&w.v, pkt, now)
		}
		if !w.v.Allowed {
			c.denied(w.v.Stage, w.v.Code, 1, uint64(len(pkt)))
			continue
		}
		to := w.x.dest(w.v.To)
		if to == nil { // the engine routes the services to ENIs only
			c.denied(verdict.StageRoute, verdict.CodeCannotRoute, 1, uint64(len(pkt)))
			continue
		}
		w.out[to.index] = append(w.out[to.index], frame)
		pkts++
		bytes += uint64(len(pkt))
	}
	if pkts > 0 {
		c.allowedPackets.Add(pkts)
		c.allowedBytes.Add(bytes)
	}
	w.x.flush(w.out, c)
}
