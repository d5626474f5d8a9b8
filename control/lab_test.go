package control

import (
	"errors"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/live"
)

// testLiveLab is a live.Lab as Lab, for the tests (daemon.ControlLab,
// which they cannot import: daemon imports control).
type liveLab = live.Lab

type testLiveLab struct{ *liveLab }

func asLab(x *live.Lab) Lab { return testLiveLab{x} }

func (t testLiveLab) Apply(l *lab.Lab) error {
	err := t.liveLab.Apply(l)
	if errors.Is(err, live.ErrTopology) {
		return errors.Join(err, ErrTopology)
	}
	return err
}

func (t testLiveLab) Devices() []Device {
	var out []Device
	for _, d := range t.liveLab.Devices() {
		s := d.Counters.Load()
		out = append(out, Device{Link: d.Link, Instance: d.Instance, Port: d.Port,
			AllowedPackets: s.AllowedPackets, AllowedBytes: s.AllowedBytes,
			DeniedPackets: s.DeniedPackets, DeniedBytes: s.DeniedBytes, ServicePackets: s.ServicePackets})
	}
	return out
}
