package daemon

import (
	"errors"

	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/ec2api"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/live"
)

// liveLab names the embedded field of controlLab apart from its Lab method.
type liveLab = live.Lab

// controlLab adapts a live.Lab to control.Lab: its devices' counters are
// read into control.Device, its wiring error also matches control's.
type controlLab struct{ *liveLab }

// ControlLab is x as the control API sees it.
func ControlLab(x *live.Lab) control.Lab { return controlLab{x} }

func (c controlLab) Apply(l *lab.Lab) error {
	err := c.liveLab.Apply(l)
	if errors.Is(err, live.ErrTopology) {
		return topologyError{err}
	}
	return err
}

func (c controlLab) Devices() []control.Device {
	ds := c.liveLab.Devices()
	out := make([]control.Device, len(ds))
	for i, d := range ds {
		s := d.Counters.Load()
		out[i] = control.Device{
			Link:           d.Link,
			Instance:       d.Instance,
			Port:           d.Port,
			AllowedPackets: s.AllowedPackets,
			AllowedBytes:   s.AllowedBytes,
			DeniedPackets:  s.DeniedPackets,
			DeniedBytes:    s.DeniedBytes,
			ServicePackets: s.ServicePackets,
		}
	}
	return out
}

// ec2Lab adapts the control API's view of the lab to ec2api.Lab: changes
// apply as the control API applies them (control.ApplyChange: the same
// lock, the same validation, the same placing of files), never as the
// local principal.
type ec2Lab struct {
	x control.Lab
	o control.Options
}

// EC2Lab is x as EC2's Query API sees it, its changes applied with the
// control API's options o.
func EC2Lab(x control.Lab, o control.Options) ec2api.Lab { return ec2Lab{x, o} }

func (e ec2Lab) Lab() *lab.Lab { return e.x.Lab() }

func (e ec2Lab) Change(c change.Change) (any, error) { return control.ApplyChange(e.x, e.o, false, c) }

func (e ec2Lab) InstanceState(name string) string { return e.x.InstanceState(name) }

func (e ec2Lab) SetInstanceState(name string, running bool) (string, error) {
	return control.SetInstanceState(e.x, name, running)
}

// topologyError is live's wiring error, also matching control's.
type topologyError struct{ err error }

func (e topologyError) Error() string   { return e.err.Error() }
func (e topologyError) Unwrap() []error { return []error{e.err, control.ErrTopology} }
