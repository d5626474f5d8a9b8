package live

import (
	"fmt"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/mirror"
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
	shards := len(x.devices)
	if x.fast != nil {
		shards++ // the fast path's read-back
	}
	fl, err := flowlog.New(l, x.engine.Port, flowlog.Options{Epoch: x.start, Shards: shards, Header: true})
	if err != nil {
		return fmt.Errorf("live: flow logs: %w", err)
	}
	x.flows = fl
	if x.fast != nil {
		x.fast.shard = fl.Shard(len(x.devices))
	}
	x.followers = append(x.followers, fl)
	x.flowStop = make(chan struct{})
	x.flowDone = make(chan struct{})
	go x.tickFlows()
	dev := mirror.NewDevice(x.mirrorSegments)
	m, err := mirror.New(l, x.engine.Port, mirror.Options{Device: dev, MTU: x.mtu, Epoch: x.start})
	if err != nil {
		return fmt.Errorf("live: traffic mirroring: %w", err)
	}
	x.mirror = m
	x.mirrorDev = &Device{Port: verdict.PortNone, dev: dev, index: -1}
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

// mirrorSegments is how many mirror packets of session s a frame of the
// mirror's device may hold: mirror.MaxGSOSegments for a target whose
// device takes UDP GSO super-packets (the kernel cuts them into the
// mirror packets on the target's side), else 1. The devices are made
// before the mirror and never change.
func (x *Lab) mirrorSegments(s *mirror.Session) int {
	if d := x.dest(s.TargetPort); d != nil && d.Offloads&tun.OffloadUSO4 != 0 {
		return mirror.MaxGSOSegments
	}
	return 1
}

// Mirror returns the lab's traffic mirroring.
func (x *Lab) Mirror() *mirror.Mirror { return x.mirror }

// MirrorCounters count the mirror packets sent into the dataplane towards
// their targets, as a Device's Counters do for a device.
func (x *Lab) MirrorCounters() *Counters { return &x.mirrorDev.Counters }
