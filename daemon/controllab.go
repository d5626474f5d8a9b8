package daemon

import (
	"errors"

	"github.com/vpclab/vpclab/control"
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

// topologyError is live's wiring error, also matching control's.
type topologyError struct{ err error }

func (e topologyError) Error() string   { return e.err.Error() }
func (e topologyError) Unwrap() []error { return []error{e.err, control.ErrTopology} }
