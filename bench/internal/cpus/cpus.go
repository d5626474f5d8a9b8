//go:build linux

// Package cpus measures where a live benchmark's work ran (bench/e2e,
// bench/flood): on a 2-core machine the lab, the instances' programs and
// the kernel's softirq share two CPUs, and how the scheduler places them
// moves a figure more than anything vpclab does. It imports nothing of
// vpclab.
//
// A Sampler reads /proc every 100 ms while a test runs: each task's
// utime+stime (/proc/PID/task/TID/stat) since its last sample is counted
// on the CPU the task last ran on, for this process (the lab) and for the
// processes of each watched network namespace. A task that moved between
// two samples has its time counted on the second CPU, so the split is an
// estimate at a tenth of a second's grain; the totals are exact to the
// kernel's tick (10 ms). The namespace of a process is read from
// /proc/PID/ns/net until it is one of those watched. The sampling itself
// costs about 1 ms of one CPU per sample.
package cpus

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const userHZ = 100

// Placement is where one test's work ran: CPU seconds on each CPU.
type Placement struct {
	// Self is this process's threads' (nil when not watched); NS[i] the
	// processes' in the i-th namespace watched.
	Self []float64
	NS   [][]float64
	// Softirq and Busy are each CPU's softirq time and its time not idle
	// (/proc/stat), whoever it was for.
	Softirq, Busy []float64
}

// Format is v in a few characters, one figure per CPU: "2.1+1.9 s".
func Format(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strings.Join(s, "+") + " s"
}

// Sum is the total of v.
func Sum(v []float64) float64 {
	var t float64
	for _, x := range v {
		t += x
	}
	return t
}

// A Sampler measures a Placement while a test runs.
type Sampler struct {
	ncpu  int
	self  bool
	inos  []uint64       // the watched namespaces' inodes, by index
	ns    map[int]int    // pid -> index in inos, once matched
	ticks map[int]uint64 // by tid
	p     Placement
	stat0 [][2]uint64
	first bool // the first sample: the baseline
	stop  chan struct{}
	done  chan struct{}
}

// Start starts sampling this process (if self) and the processes of the
// named network namespaces (/run/netns/NAME).
func Start(self bool, namespaces ...string) (*Sampler, error) {
	s := &Sampler{ncpu: runtime.NumCPU(), self: self, ns: map[int]int{}, ticks: map[int]uint64{},
		stop: make(chan struct{}), done: make(chan struct{})}
	for _, n := range namespaces {
		ino, err := nsInode("/run/netns/" + n)
		if err != nil {
			return nil, err
		}
		s.inos = append(s.inos, ino)
		s.p.NS = append(s.p.NS, make([]float64, s.ncpu))
	}
	if self {
		s.p.Self = make([]float64, s.ncpu)
	}
	var err error
	if s.stat0, err = cpuStat(s.ncpu); err != nil {
		return nil, err
	}
	s.first = true
	s.sample()
	s.first = false
	go s.run()
	return s, nil
}

func (s *Sampler) run() {
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

// Finish stops the sampler and returns the placement.
func (s *Sampler) Finish() Placement {
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
func (s *Sampler) sample() {
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
		if pid == self {
			to = s.p.Self // nil (not watched) unless self
		} else {
			// Only a match is kept: `ip netns exec` starts in this
			// namespace and enters its own before it execs the command.
			i, ok := s.ns[pid]
			if !ok {
				ino, _ := nsInode(fmt.Sprintf("/proc/%d/ns/net", pid))
				i = -1
				for j, w := range s.inos {
					if ino == w {
						i = j
						s.ns[pid] = j
					}
				}
			}
			if i >= 0 {
				to = s.p.NS[i]
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
	j := bytes.IndexByte(b, '(')
	if i < 0 || j < 0 {
		return 0, 0, 0, false
	}
	tid, err = strconv.Atoi(string(bytes.TrimSpace(b[:j])))
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
