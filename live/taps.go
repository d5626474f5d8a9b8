package live

import (
	"fmt"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/tun"
)

// The taps see packets besides forwarding them: live capture (package
// capture) and traffic mirroring (package mirror). On the packet path each
// costs one atomic load while nothing is captured or mirrored, and a
// lock-free copy into a ring when something is; their own goroutines do
// the rest, and a full ring drops copies, never slows the path.

// startTaps makes the lab's taps; x.start must be set.
func (x *Lab) startTaps(l *lab.Lab) error {
	x.tap = capture.NewTap(x.start)
	m, err := mirror.New(l, x.engine.Port, mirror.Options{Sink: &mirrorSink{x: x}, MTU: x.mtu, Epoch: x.start})
	if err != nil {
		return fmt.Errorf("live: traffic mirroring: %w", err)
	}
	m.Start()
	x.mirror = m
	x.followers = append(x.followers, m)
	return nil
}

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
type mirrorSink struct {
	x     *Lab
	v     dataplane.Verdict
	frame [][]byte
}

func (s *mirrorSink) Send(sess *mirror.Session, frame []byte) {
	x := s.x
	c := &x.mirrorCount
	pkt := frame[tun.VirtioNetHdrLen:]
	x.engine.Process(sess.SourcePort, pkt, x.Now(), &s.v)
	if !s.v.Allowed {
		c.denied(s.v.Stage, s.v.Code, 1, uint64(len(pkt)))
		return
	}
	dst := x.dest(s.v.To)
	if dst == nil || s.v.To != sess.TargetPort {
		c.denied(dataplane.StageRoute, dataplane.CodeCannotRoute, 1, uint64(len(pkt)))
		return
	}
	decrementHop(pkt)
	s.frame = append(s.frame[:0], frame)
	x.write(dst, s.frame, c)
	s.frame[0] = nil
	c.allowedPackets.Add(1)
	c.allowedBytes.Add(uint64(len(pkt)))
}
