package live

import (
	"fmt"
	"strings"
)

// Instance states, as EC2 names them.
const (
	StateRunning = "running"
	StateStopped = "stopped"
)

// SetInstanceState starts (running true) or stops an instance of the lab,
// as EC2's StartInstances and StopInstances: a stopped instance sends and
// receives nothing (the engine drops its packets and those to it with
// code INSTANCE_STOPPED, before any conntrack entry is made, so every
// observer sees the same drop); its namespace, devices and existing
// connection-tracking entries stay, so a start resumes where it was. It
// returns the state before.
func (x *Lab) SetInstanceState(name string, running bool) (previous string, err error) {
	var found bool
	previous = StateRunning
	for _, d := range x.devices {
		if d.Instance != name {
			continue
		}
		found = true
		// The engine holds the state: it drops packets to a stopped
		// instance before making any conntrack entry, whoever sends them
		// (an ENI, the services, a mirror session), and the forwarder of
		// a stopped instance's device asks it before judging anything.
		was, ok := x.engine.SetStopped(d.Port, !running)
		if !ok {
			return "", fmt.Errorf("instance %s: its interface's port %d cannot be stopped", name, d.Port)
		}
		if was {
			previous = StateStopped
		}
	}
	if !found {
		names := make([]string, 0, len(x.devices))
		for _, d := range x.devices {
			if d.Instance != "" && (len(names) == 0 || names[len(names)-1] != d.Instance) {
				names = append(names, d.Instance)
			}
		}
		return "", fmt.Errorf("no instance %q in the lab (it has %s)", name, strings.Join(names, ", "))
	}
	// The fast path's entries of the instance's flows die with the
	// generation: their next packets meet the engine, which drops them.
	return previous, x.bumpFast()
}

// InstanceState returns "running" or "stopped", or "" for an unknown
// instance.
func (x *Lab) InstanceState(name string) string {
	for _, d := range x.devices {
		if d.Instance == name {
			if x.engine.Stopped(d.Port) {
				return StateStopped
			}
			return StateRunning
		}
	}
	return ""
}
