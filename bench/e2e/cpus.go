//go:build linux

package main

// Where the work ran. On a 2-core machine the lab, iperf3's client and its
// server (and for the kernel baseline, the kernel's forwarding in softirq)
// share two CPUs, and how the scheduler places them moves a run's figure
// more than anything vpclab does. So every test reports, per CPU, the CPU
// time of the lab's threads, of the processes in the client's and the
// server's namespaces, and the machine's softirq time (a /proc sampler,
// bench/internal/cpus, which bench/flood uses too); -pin-lab,
// -pin-client and -pin-server fix the placement (taskset) instead.

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/bench/internal/cpus"
)

// placement is where one test's work ran: CPU seconds per CPU, by group.
type placement struct {
	// Lab, Client and Server are the CPU seconds on each CPU of the
	// lab's threads (empty for the kernel baseline, which has no lab
	// process) and of the processes in the client's and the server's
	// namespaces.
	Lab    []float64 `json:"lab,omitempty"`
	Client []float64 `json:"client"`
	Server []float64 `json:"server"`
	// Softirq and Busy are each CPU's softirq time and its time not idle
	// (/proc/stat), whoever it was for: the kernel baseline's forwarding
	// is softirq, on the CPU that sent the packet.
	Softirq []float64 `json:"softirq"`
	Busy    []float64 `json:"busy"`
}

// String is the placement in a line: "lab 2.1+1.9 s, client 0.2+3.8 s, …",
// one figure per CPU.
func (p placement) String() string {
	var parts []string
	if p.Lab != nil {
		parts = append(parts, "lab "+cpus.Format(p.Lab))
	}
	parts = append(parts, "client "+cpus.Format(p.Client), "server "+cpus.Format(p.Server),
		"softirq "+cpus.Format(p.Softirq), "busy "+cpus.Format(p.Busy))
	return strings.Join(parts, ", ")
}

// sampler measures a placement while a test runs.
type sampler struct{ s *cpus.Sampler }

// startSampler starts sampling the lab (this process, if lab) and the
// processes of namespaces cli and srv.
func startSampler(lab bool, cli, srv string) (*sampler, error) {
	s, err := cpus.Start(lab, cli, srv)
	if err != nil {
		return nil, err
	}
	return &sampler{s}, nil
}

// finish stops the sampler and returns the placement.
func (s *sampler) finish() placement {
	p := s.s.Finish()
	return placement{Lab: p.Self, Client: p.NS[0], Server: p.NS[1], Softirq: p.Softirq, Busy: p.Busy}
}

// Pinning: -pin-lab, -pin-client and -pin-server are CPU lists (taskset's
// syntax, "0" or "0-1"); empty leaves the scheduler free.

// pinLab pins every thread of this process to cpus (threads started later
// inherit it).
func pinLab(cpus string) error {
	if cpus == "" {
		return nil
	}
	out, err := exec.Command("taskset", "-a", "-cp", cpus, strconv.Itoa(os.Getpid())).CombinedOutput()
	if err != nil {
		return fmt.Errorf("-pin-lab %s: %v: %s", cpus, err, out)
	}
	return nil
}

// inNS returns the argument list of `ip` running args in namespace ns,
// pinned to cpus with taskset when cpus is not empty.
func inNS(ns, cpus string, args ...string) []string {
	a := []string{"netns", "exec", ns}
	if cpus != "" {
		a = append(a, "taskset", "-c", cpus)
	}
	return append(a, args...)
}

// checkCPUList refuses a CPU list taskset would refuse later, naming flag.
func checkCPUList(flag, cpus string) error {
	if cpus == "" {
		return nil
	}
	for _, r := range strings.Split(cpus, ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 0 || b < a {
			return fmt.Errorf("%s %q: want a CPU list such as 0 or 0-1 or 0,2", flag, cpus)
		}
		if b >= runtime.NumCPU() {
			return fmt.Errorf("%s %q: this machine has CPUs 0-%d", flag, cpus, runtime.NumCPU()-1)
		}
	}
	return nil
}
