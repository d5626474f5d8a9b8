//go:build linux

package main

// Where the work ran. On a 2-core machine the lab, iperf3's client and its
// server (and for the kernel baseline, the kernel's forwarding in softirq)
// share two CPUs, and how the scheduler places them moves a run's figure
// more than anything vpclab does. So every test reports, per CPU, the CPU
// time of the lab's threads, of the processes in the client's and the
// server's namespaces, and the machine's softirq time; -pin-lab,
// -pin-client and -pin-server fix the placement (taskset) instead.
//
// A sampler reads /proc every 100 ms while the test runs: each task's
// utime+stime (/proc/PID/task/TID/stat) since its last sample is counted
// on the CPU the task last ran on. A task that moved between two samples
// has its time counted on the second CPU, so the split is an estimate at
// a tenth of a second's grain; the totals are exact to the kernel's tick
// (10 ms). The namespace of a process is read from /proc/PID/ns/net until
// it is one of the two. The sampling itself costs about 1 ms of one CPU per sample.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

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
	f := func(v []float64) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = strconv.FormatFloat(x, 'f', 1, 64)
		}
		return strings.Join(s, "+") + " s"
	}
	var parts []string
	if p.Lab != nil {
		parts = append(parts, "lab "+f(p.Lab))
	}
	parts = append(parts, "client "+f(p.Client), "server "+f(p.Server), "softirq "+f(p.Softirq), "busy "+f(p.Busy))
	return strings.Join(parts, ", ")
}

// sampler measures a placement while a test runs.
type sampler struct {
	ncpu     int
	lab      bool
	cli, srv uint64 // the namespaces' inodes
	ns       map[int]uint64
	ticks    map[int]uint64 // by tid
	p        placement
	stat0    [][2]uint64
	first    bool // the first sample: the baseline
	stop     chan struct{}
	done     chan struct{}
}

// startSampler starts sampling the lab (this process, if lab) and the
// processes of namespaces cli and srv.
func startSampler(lab bool, cli, srv string) (*sampler, error) {
	s := &sampler{ncpu: runtime.NumCPU(), lab: lab, ns: map[int]uint64{}, ticks: map[int]uint64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	if s.cli, err = nsInode("/run/netns/" + cli); err != nil {
		return nil, err
	}
	if s.srv, err = nsInode("/run/netns/" + srv); err != nil {
		return nil, err
	}
	s.p.Client, s.p.Server = make([]float64, s.ncpu), make([]float64, s.ncpu)
	if lab {
		s.p.Lab = make([]float64, s.ncpu)
	}
	if s.stat0, err = cpuStat(s.ncpu); err != nil {
		return nil, err
	}
	s.first = true
	s.sample()
	s.first = false
	go s.run()
	return s, nil
}

func (s *sampler) run() {
	defer close(s.done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			s.sample()
			return
		case <-t.C:
			s.sample()
		}
	}
}

// finish stops the sampler and returns the placement.
func (s *sampler) finish() placement {
	close(s.stop)
	<-s.done
	s.p.Softirq, s.p.Busy = make([]float64, s.ncpu), make([]float64, s.ncpu)
	if st, err := cpuStat(s.ncpu); err == nil {
		for i := range st {
			s.p.Busy[i] = float64(st[i][0]-s.stat0[i][0]) / userHZ
			s.p.Softirq[i] = float64(st[i][1]-s.stat0[i][1]) / userHZ
		}
	}
	return s.p
}

// sample counts every watched task's CPU time since its last sample.
func (s *sampler) sample() {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, d := range procs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		var to []float64
		switch {
		case pid == self:
			to = s.p.Lab // nil (not watched) for the kernel baseline
		default:
			// Only a match is kept: `ip netns exec` starts in this
			// namespace and enters its own before it execs the command.
			ino, ok := s.ns[pid]
			if !ok {
				ino, _ = nsInode(fmt.Sprintf("/proc/%d/ns/net", pid))
				if ino == s.cli || ino == s.srv {
					s.ns[pid] = ino
				}
			}
			switch ino {
			case s.cli:
				to = s.p.Client
			case s.srv:
				to = s.p.Server
			}
		}
		if to == nil {
			continue
		}
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		for _, f := range tasks {
			tid, ticks, cpu, ok := taskStat(f)
			if !ok || cpu >= len(to) {
				continue
			}
			last, seen := s.ticks[tid]
			s.ticks[tid] = ticks
			if !seen && s.first {
				// What a task did before the test started is not the
				// test's; a task first seen later started since (its
				// times count from 0).
				continue
			}
			if ticks > last {
				to[cpu] += float64(ticks-last) / userHZ
			}
		}
	}
}

// taskStat reads a task's stat file: its tid, utime+stime in ticks and
// the CPU it last ran on (field 39).
func taskStat(path string) (tid int, ticks uint64, cpu int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, false
	}
	// The command name (field 2) may hold spaces; fields after it follow
	// its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	tid, err = strconv.Atoi(string(bytes.TrimSpace(b[:bytes.IndexByte(b, '(')])))
	if err != nil {
		return 0, 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 39-3+1 {
		return 0, 0, 0, false
	}
	ut, err1 := strconv.ParseUint(f[14-3], 10, 64)
	st, err2 := strconv.ParseUint(f[15-3], 10, 64)
	c, err3 := strconv.Atoi(f[39-3])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return tid, ut + st, c, true
}

// cpuStat returns each CPU's time not idle and its softirq time, in ticks
// (/proc/stat's cpuN lines: user nice system idle iowait irq softirq steal).
func cpuStat(ncpu int) ([][2]uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, err
	}
	out := make([][2]uint64, ncpu)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		i, err := strconv.Atoi(f[0][3:])
		if err != nil || i >= ncpu {
			continue
		}
		var v [8]uint64
		for j := range v {
			v[j], _ = strconv.ParseUint(f[1+j], 10, 64)
		}
		out[i] = [2]uint64{v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[6]}
	}
	return out, nil
}

// nsInode returns the inode of a network namespace file.
func nsInode(path string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
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
