package live

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/services"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// Options adjust a live lab. The zero value means every default.
type Options struct {
	// Net names the lab's namespaces and sets the links' MTUs; see
	// labnet.Options. Tests give each lab its own ID and Prefix.
	Net labnet.Options
	// NoOffloads opens the devices without checksum and segmentation
	// offloads, so that every packet is MTU-sized (for comparisons; the
	// default asks for tun.DefaultOffloads).
	NoOffloads bool
	// Workers is how many loops read the ENIs' and the internet's devices,
	// each serving the devices it was dealt in rounds, a fair share of a
	// batch to each device with frames, so that no device (a flooding
	// instance's) can starve the others (workers.go). 0 means GOMAXPROCS;
	// there are never more than devices. A negative value reads each
	// device in a goroutine of its own instead, the scheduler deciding
	// their turns (for comparisons: bench/flood).
	Workers int
	// OnApply, if set, is told how long each Apply took and whether it
	// succeeded (for metrics).
	OnApply func(d time.Duration, ok bool)
	// Datapath is DatapathTUN or DatapathEBPF (fastpath.go); "" means the
	// lab file's settings.datapath, else DatapathTUN. Where the kernel cannot load the eBPF datapath's
	// programs, the lab runs the TUN datapath and Datapath says why.
	Datapath string
}

// Lab is a lab that is up: its namespaces, devices and readers.
type Lab struct {
	opts    Options
	plan    *labnet.Plan
	net     *labnet.Net
	engine  *dataplane.Engine
	start   time.Time
	devices []*Device // in Plan.Links order
	bySlot  []*Device // ENI devices by dataplane port
	inet    *Device   // nil without internet hosts
	mtu     int       // the ENIs' MTU
	wg      sync.WaitGroup
	closing atomic.Bool
	pollers []poller // the workers'

	flows      *flowlog.Logger
	flowStop   chan struct{} // stops tickFlows
	flowDone   chan struct{}
	flowErrs   atomic.Uint64 // failed writes of the flow logs
	flowErr    atomic.Value  // the last one's message
	tap        *capture.Tap
	mirror     *mirror.Mirror
	mirrorDev  *Device       // the mirror's copies for ENI targets (mirror.Device), read by a forwarder of its own
	mirrorDone chan struct{} // closed when that forwarder has stopped

	svc    *services.Services
	svcDev *Device   // the services' device: what they sent is its Counters
	dests  []*Device // every device packets are written to, by Device.index: devices, then svcDev

	failOnce sync.Once
	failed   chan struct{}
	mu       sync.Mutex
	errs     []error // the readers' failures

	closeOnce sync.Once
	closeErr  error

	cur       atomic.Pointer[lab.Lab] // the lab in force
	applyMu   sync.Mutex              // serialises Apply and Follow
	followers []Reconfigurer
	onApply   func(time.Duration, bool)

	fast         *fastPath // nil on the TUN datapath
	datapathNote string    // why the eBPF datapath asked for is not running
}

// Device is one TUN device of a lab: an ENI's, or the internet's (the
// services' device, which Devices does not list, is one too, without a
// Link).
type Device struct {
	// Link is what labnet made of the device: namespace, name, addresses,
	// routes. Link.ENI is empty for the internet's device.
	Link *labnet.Link
	// Instance is the owning instance's name; empty for the internet's.
	Instance string
	// Port is where the device's packets enter the engine: the ENI's
	// port, or verdict.PortInternet.
	Port verdict.Port
	// Offloads are the offloads the kernel agreed to for the device.
	Offloads tun.Offload
	// Counters count what the device sent into the dataplane.
	Counters Counters

	dev   tun.Device
	index int // in Lab.dests
}

// Start brings l up (see the package doc) and starts enforcing it. l must
// come from labfile.Load or labfile.Parse. It fails with labnet.ErrBusy (wrapped)
// while the same lab is up elsewhere; on any failure it leaves nothing
// behind.
func Start(l *lab.Lab, o Options) (_ *Lab, err error) {
	fast, note, err := loadFastPath(&o, l)
	if err != nil {
		return nil, err
	}
	o.Net.Router = fast != nil
	plan, err := labnet.NewPlan(l, o.Net)
	if err == nil && fast == nil {
		var n *labnet.Net
		if n, err = labnet.Up(plan); err == nil {
			return start(l, o, plan, n, nil, note)
		}
	} else if err == nil {
		var n *labnet.Net
		if n, err = labnet.Up(plan); err == nil {
			return start(l, o, plan, n, fast, note)
		}
	}
	if fast != nil {
		fast.dp.Close()
	}
	return nil, err
}

func start(l *lab.Lab, o Options, plan *labnet.Plan, n *labnet.Net, fast *fastPath, note string) (_ *Lab, err error) {
	x := &Lab{opts: o, plan: plan, net: n, engine: dataplane.New(l), mtu: eniMTU(plan), failed: make(chan struct{}), onApply: o.OnApply, fast: fast, datapathNote: note}
	x.cur.Store(l)
	defer func() {
		if err != nil {
			err = errors.Join(err, x.Close())
		}
	}()
	if x.svc, err = services.New(l, services.Options{MTU: x.mtu}); err != nil {
		return nil, fmt.Errorf("live: starting the VPC services: %w", err)
	}
	offloads := tun.DefaultOffloads
	if o.NoOffloads {
		offloads = 0
	}
	for _, ns := range plan.Namespaces {
		h, err := n.Namespace(ns.Name)
		if err != nil {
			return nil, err
		}
		for _, link := range ns.Links {
			d := &Device{Link: link, Instance: ns.Instance, Port: verdict.PortInternet, index: len(x.devices)}
			if link.ENI != "" {
				p, ok := x.engine.Port(link.ENI)
				if !ok {
					return nil, fmt.Errorf("live: ENI %s has no port in the dataplane", link.ENI)
				}
				d.Port = p
			}
			if x.fast != nil && link.ENI != "" {
				if d.dev, d.Offloads, err = x.openFast(link, d.Port, offloads); err != nil {
					return nil, fmt.Errorf("live: the eBPF datapath of %s (%s) in namespace %s: %w", link.Name, link.Alias(), ns.Name, err)
				}
				x.devices = append(x.devices, d)
			} else {
				if d.dev, d.Offloads, err = openDevice(h, link, offloads); err != nil {
					return nil, fmt.Errorf("live: opening %s (%s) in namespace %s: %w", link.Name, link.Alias(), ns.Name, err)
				}
				x.devices = append(x.devices, d)
				if err := n.Configure(link); err != nil {
					return nil, err
				}
			}
			if d.Port >= 0 {
				for int(d.Port) >= len(x.bySlot) {
					x.bySlot = append(x.bySlot, nil)
				}
				x.bySlot[d.Port] = d
			} else {
				x.inet = d
			}
		}
	}
	x.addServices(x.svc.Device())
	x.start = time.Now()
	if err := x.startTaps(l); err != nil {
		return nil, err
	}
	if x.fast != nil {
		x.markNoFast() // mirror sessions of the lab file, before any packet
	}
	if err := x.startForwarders(o.Workers); err != nil {
		return nil, err
	}
	if x.fast != nil {
		x.fast.stop, x.fast.done = make(chan struct{}), make(chan struct{})
		go x.runFast()
	}
	return x, nil
}

// eniMTU returns the MTU of the plan's ENI links (labnet gives them all
// the same), or labnet.DefaultMTU when the lab has none.
func eniMTU(p *labnet.Plan) int {
	for _, ns := range p.Namespaces {
		for _, link := range ns.Links {
			if link.ENI != "" {
				return link.MTU
			}
		}
	}
	return labnet.DefaultMTU
}

// Workers returns how many workers read the lab's devices (0: a
// goroutine each; see Options.Workers).
func (x *Lab) Workers() int { return len(x.pollers) }

// Started returns when the lab started enforcing.
func (x *Lab) Started() time.Time { return x.start }

// Now returns the lab's monotonic clock, nanoseconds since Started: the
// time the readers judge packets at, and the now to give the engine's
// conntrack tables (Snapshot().Table(port).Entries(x.Now())).
func (x *Lab) Now() int64 { return int64(time.Since(x.start)) }

// Plan returns the labnet Plan the lab was made from.
func (x *Lab) Plan() *labnet.Plan { return x.plan }

// Net returns the lab's namespaces, for handles into them (tests, status).
func (x *Lab) Net() *labnet.Net { return x.net }

// Engine returns the engine enforcing the lab. Change the policy with
// Apply, which keeps the services and taps in step, not Engine().Apply.
func (x *Lab) Engine() *dataplane.Engine { return x.engine }

// Devices returns the lab's devices: the ENIs in file order, then the
// internet's.
func (x *Lab) Devices() []*Device { return x.devices }

// Device returns the device of the ENI with the given id, or of the
// internet for "internet"; nil if there is none.
func (x *Lab) Device(id string) *Device {
	for _, d := range x.devices {
		if d.Link.Alias() == id {
			return d
		}
	}
	return nil
}

// Services returns the VPC's built-in services (DNS, metadata, Time
// Sync, the routers) the lab runs.
func (x *Lab) Services() *services.Services { return x.svc }

// ServiceCounters count what the services sent into the dataplane, as a
// Device's Counters do for a device (ServicePackets stays zero).
func (x *Lab) ServiceCounters() *Counters { return &x.svcDev.Counters }

// addServices makes dev the services' device, the last of the
// destinations, once the lab's devices are open.
func (x *Lab) addServices(dev tun.Device) {
	x.svcDev = &Device{Port: verdict.PortService, dev: dev, index: len(x.devices)}
	x.dests = append(x.devices[:len(x.devices):len(x.devices)], x.svcDev)
}

// Failed is closed when a device fails while the lab runs; Close then
// returns the failure.
func (x *Lab) Failed() <-chan struct{} { return x.failed }

// Close stops the readers (closing the devices, the services' first),
// then the services, and removes the lab's namespaces. It returns the devices' failures and what it could not
// remove. Calling it again returns the same.
func (x *Lab) Close() error {
	x.closeOnce.Do(func() {
		x.closing.Store(true)
		var errs []error
		if x.fast != nil && x.fast.stop != nil {
			close(x.fast.stop)
			<-x.fast.done
		}
		if x.svcDev != nil {
			errs = append(errs, x.svcDev.dev.Close())
		}
		for _, d := range x.devices {
			errs = append(errs, d.dev.Close())
		}
		for _, p := range x.pollers {
			errs = append(errs, p.Close())
		}
		x.wg.Wait()
		if x.mirror != nil { // no reader offers any more
			// The mirror's reader forwards what was queued, then stops.
			errs = append(errs, x.mirror.Close())
			if x.mirrorDone != nil {
				<-x.mirrorDone
			}
		}
		errs = append(errs, x.closeFlows())
		if x.svc != nil { // no reader injects any more
			errs = append(errs, x.svc.Close())
		}
		x.mu.Lock()
		errs = append(errs, x.errs...)
		x.mu.Unlock()
		errs = append(errs, x.net.Close())
		if x.fast != nil {
			errs = append(errs, x.fast.dp.Close())
		}
		x.closeErr = errors.Join(errs...)
	})
	return x.closeErr
}

// fail records that a device failed and wakes whoever waits on Failed.
func (x *Lab) fail(err error) {
	x.mu.Lock()
	x.errs = append(x.errs, err)
	x.mu.Unlock()
	x.failOnce.Do(func() { close(x.failed) })
}
