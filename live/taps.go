package live

import (
	"fmt"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// The taps see packets besides forwarding them: live capture (package
// capture) and traffic mirroring (package mirror). On the packet path each
// costs one atomic load while nothing is captured or mirrored, and a
// lock-free copy into a ring when something is; their own goroutines do
// the rest, and a full ring drops copies, never slows the path.

// startTaps makes the lab's taps and flow logs; x.start must be set.
func (x *Lab) startTaps(l *lab.Lab) error {
	x.tap = capture.NewTap(x.start)
	fl, err := flowlog.New(l, x.engine.Port, flowlog.Options{Epoch: x.start, Shards: len(x.devices), Header: true})
	if err != nil {
		return fmt.Errorf("live: flow logs: %w", err)
	}
	x.flows = fl
	x.followers = append(x.followers, fl)
	x.flowStop = make(chan struct{})
	x.flowDone = make(chan struct{})
	go x.tickFlows()
	m, err := mirror.New(l, x.engine.Port, mirror.Options{Sink: &mirrorSink{x: x}, MTU: x.mtu, Epoch: x.start})
	if err != nil {
		return fmt.Errorf("live: traffic mirroring: %w", err)
	}
	m.Start()
	x.mirror = m
	x.followers = append(x.followers, m)
	return nil
}

// tickFlows closes the flow logs' intervals as they end, once a second,
// until Close.
func (x *Lab) tickFlows() {
	defer close(x.flowDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-x.flowStop:
			return
		case <-t.C:
			// A flow log that cannot be written (a full disk, a
			// destination gone) loses records, counted; enforcement
			// goes on.
			if err := x.flows.Tick(x.Now()); err != nil {
				x.flowErrs.Add(1)
				x.flowErr.Store(err.Error())
			}
		}
	}
}

// closeFlows writes every record not yet written, once the readers have
// stopped: nothing observed is lost on a clean stop.
func (x *Lab) closeFlows() error {
	if x.flows == nil {
		return nil
	}
	close(x.flowStop)
	<-x.flowDone
	return x.flows.Close(x.Now())
}

// FlowLogErrors returns how many times writing the flow logs failed, and
// the last failure.
func (x *Lab) FlowLogErrors() (n uint64, last string) {
	last, _ = x.flowErr.Load().(string)
	return x.flowErrs.Load(), last
}

// FlowLogs returns the lab's flow logs.
func (x *Lab) FlowLogs() *flowlog.Logger { return x.flows }

// Tap returns the lab's capture tap, for vpclab capture.
func (x *Lab) Tap() *capture.Tap { return x.tap }

// Mirror returns the lab's traffic mirroring.
func (x *Lab) Mirror() *mirror.Mirror { return x.mirror }

// MirrorCounters count the mirror packets sent into the dataplane towards
// their targets, as a Device's Counters do for a device.
func (x *Lab) MirrorCounters() *Counters { return &x.mirrorCount }

// mirrorSink delivers a session's VXLAN packets to an ENI target: each
// crosses the dataplane from the source ENI like any UDP 4789 packet, so
// the security groups and network ACLs on the way (the target's inbound
// rules above all) decide. Only the mirror's goroutine calls Send. Mirror
// packets are neither captured nor mirrored again, and flow logs do not
// record them (AWS's flow logs do not capture mirrored traffic).
//
// A target whose device takes UDP GSO super-packets (tun.OffloadUSO4) is
// sent the mirror's copies coalesced, up to mirror.MaxGSOSegments to a
// frame: one verdict and one write for them all, the kernel cutting the
// frame into the mirror packets on the target's side, where the
// target's socket receives them one by one.
type mirrorSink struct {
	x     *Lab
	v     verdict.Verdict
	frame [][]byte
}

// MaxSegments is mirror.MaxGSOSegments for a target whose device has
// USO4, else 1. The devices are made before the mirror and never change.
func (s *mirrorSink) MaxSegments(sess *mirror.Session) int {
	if d := s.x.dest(sess.TargetPort); d != nil && d.Offloads&tun.OffloadUSO4 != 0 {
		return mirror.MaxGSOSegments
	}
	return 1
}

// Send judges frame, segs mirror packets (a UDP GSO super-packet when
// segs > 1, judged once as the forwarder judges TCP super-packets), and
// writes it to the target's device if the dataplane lets it through. The
// counters count segs packets and the frame's IP bytes, as a device's
// count a super-packet.
func (s *mirrorSink) Send(sess *mirror.Session, frame []byte, segs int) {
	x := s.x
	c := &x.mirrorCount
	pkt := frame[tun.VirtioNetHdrLen:]
	n, bytes := uint64(segs), uint64(len(pkt))
	x.engine.Process(sess.SourcePort, pkt, x.Now(), &s.v)
	if !s.v.Allowed {
		c.denied(s.v.Stage, s.v.Code, n, bytes)
		return
	}
	dst := x.dest(s.v.To)
	if dst == nil || s.v.To != sess.TargetPort {
		c.denied(verdict.StageRoute, verdict.CodeCannotRoute, n, bytes)
		return
	}
	if dst.stopped.Load() {
		c.denied(verdict.StageRoute, verdict.CodeInstanceStopped, n, bytes)
		return
	}
	packet.DecrementHop(pkt)
	s.frame = append(s.frame[:0], frame)
	x.write(dst, s.frame, c)
	s.frame[0] = nil
	c.allowedPackets.Add(n)
	c.allowedBytes.Add(bytes)
	if segs > 1 {
		c.superPackets.Add(1)
	}
}

// Flush does nothing: Send writes each frame at once (a TUN write is one
// system call per frame whatever the batch, so holding frames back would
// save nothing).
func (s *mirrorSink) Flush() {}
