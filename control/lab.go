package control

import (
	"errors"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/verdict"
)

// Lab is what the control API needs of the running lab. daemon adapts a
// live.Lab to it.
type Lab interface {
	// Lab is the model now enforced.
	Lab() *lab.Lab
	// Apply enforces l instead; a change to the lab's wiring fails with an
	// error matching ErrTopology.
	Apply(l *lab.Lab) error
	// InstanceState is StateRunning or StateStopped; empty for no such
	// instance.
	InstanceState(name string) string
	// SetInstanceState starts or stops an instance and returns its
	// previous state.
	SetInstanceState(name string, running bool) (previous string, err error)
	// Engine is the dataplane enforcing the lab.
	Engine() *dataplane.Engine
	// Tap is where packet captures attach.
	Tap() *capture.Tap
	// Plan is the lab's address plan.
	Plan() *labnet.Plan
	// Started is when the lab came up; Now is the conntrack clock.
	Started() time.Time
	Now() int64
	// FlowLogErrors counts the flow log write errors and gives the last.
	FlowLogErrors() (n uint64, last string)
	// Devices reads the lab's devices and their counters.
	Devices() []Device
	// Datapath names the datapath the lab runs (tun or ebpf) with a note:
	// why the eBPF datapath asked for is not running, or which ENIs are
	// off its fast path.
	Datapath() (name, note string)
}

// The states of an instance.
const (
	StateRunning = "running"
	StateStopped = "stopped"
)

// ErrTopology matches the error of a change to the lab's wiring, which a
// running lab cannot apply.
var ErrTopology = errors.New("the change alters the lab's wiring")

// Device is one of the lab's devices and a reading of its counters.
type Device struct {
	// Link is the device as labnet made it; Link.ENI is empty for the
	// internet's device.
	Link *labnet.Link
	// Instance is the owning instance's name; empty for the internet's.
	Instance string
	// Port is where the device's packets enter the engine.
	Port verdict.Port
	// AllowedPackets and AllowedBytes count the packets forwarded.
	AllowedPackets, AllowedBytes uint64
	// DeniedPackets and DeniedBytes count the packets dropped, by stage.
	DeniedPackets, DeniedBytes [verdict.NumStages]uint64
	// ServicePackets counts the packets handed to the VPC's services.
	ServicePackets uint64
}
