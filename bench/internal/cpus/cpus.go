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
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
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
	// sample's buffers, made once.
	pids, tids               []int
	pathBuf, dirBuf, statBuf []byte
	p                        Placement
	stat0                    [][2]uint64
	first                    bool // the first sample: the baseline
	stop                     chan struct{}
	done                     chan struct{}
}

// Start starts sampling this process (if self) and the processes of the
// named network namespaces (/run/netns/NAME).
func Start(self bool, namespaces ...string) (*Sampler, error) {
	s := &Sampler{ncpu: runtime.NumCPU(), self: self, ns: map[int]int{}, ticks: map[int]uint64{},
		pathBuf: make([]byte, 0, 64), dirBuf: make([]byte, 32<<10), statBuf: make([]byte, 4<<10),
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

// sample counts every watched task's CPU time since its last sample. It
// reads /proc with buffers of the Sampler's, so that sampling a lab from
// inside its process does not add garbage to the memory it measures.
func (s *Sampler) sample() {
	pids, err := s.dir(s.path("/proc", -1, "", -1), s.pids[:0])
	if err != nil {
		return
	}
	s.pids = pids
	self := os.Getpid()
	for _, pid := range pids {
		var to []float64
		if pid == self {
			to = s.p.Self // nil (not watched) unless self
		} else {
			// Only a match is kept: `ip netns exec` starts in this
			// namespace and enters its own before it execs the command.
			i, ok := s.ns[pid]
			if !ok {
				var st syscall.Stat_t
				i = -1
				if fd, err := s.open(s.path("/proc/", pid, "/ns/net", -1), unix.O_PATH); err == nil {
					err = syscall.Fstat(fd, &st)
					syscall.Close(fd)
					for j, w := range s.inos {
						if err == nil && st.Ino == w {
							i = j
							s.ns[pid] = j
						}
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
		tids, err := s.dir(s.path("/proc/", pid, "/task", -1), s.tids[:0])
		if err != nil {
			continue
		}
		s.tids = tids
		for _, tid := range tids {
			ticks, cpu, ok := s.taskStat(s.path("/proc/", pid, "/stat", tid))
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

// path returns a+pid+b, or with tid >= 0 a+pid+"/task/"+tid+b, built in
// the Sampler's buffer: valid until the next call.
func (s *Sampler) path(a string, pid int, b string, tid int) string {
	p := append(s.pathBuf[:0], a...)
	if pid >= 0 {
		p = strconv.AppendInt(p, int64(pid), 10)
	}
	if tid >= 0 {
		p = append(p, "/task/"...)
		p = strconv.AppendInt(p, int64(tid), 10)
	}
	p = append(p, b...)
	s.pathBuf = p
	return unsafe.String(unsafe.SliceData(p), len(p))
}

// open opens path, a string of path's: syscall.Open would allocate its
// NUL-terminated copy.
func (s *Sampler) open(path string, flags int) (int, error) {
	s.pathBuf = append(s.pathBuf[:len(path)], 0)
	fd, _, errno := syscall.Syscall6(syscall.SYS_OPENAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&s.pathBuf[0])),
		uintptr(flags|syscall.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// atFDCWD is AT_FDCWD, a variable so that its conversion to uintptr is
// not a constant's (every path is absolute anyway).
var atFDCWD = unix.AT_FDCWD

// dir appends the numeric names in directory path (pids, tids) to out.
func (s *Sampler) dir(path string, out []int) ([]int, error) {
	fd, err := s.open(path, syscall.O_RDONLY|syscall.O_DIRECTORY)
	if err != nil {
		return out, err
	}
	defer syscall.Close(fd)
	for {
		n, err := syscall.ReadDirent(fd, s.dirBuf)
		if err != nil {
			return out, err
		}
		if n <= 0 {
			return out, nil
		}
		for b := s.dirBuf[:n]; len(b) >= 19; {
			// struct linux_dirent64: ino 8, off 8, reclen 2, type 1, name.
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				break
			}
			id, ok := 0, true
			name := b[19:reclen]
			if len(name) == 0 || name[0] == 0 {
				ok = false
			}
			for _, c := range name {
				if c == 0 {
					break
				}
				if c < '0' || c > '9' {
					ok = false
					break
				}
				id = id*10 + int(c-'0')
			}
			if ok {
				out = append(out, id)
			}
			b = b[reclen:]
		}
	}
}

// taskStat reads a task's stat file: utime+stime in ticks and the CPU it
// last ran on (field 39).
func (s *Sampler) taskStat(path string) (ticks uint64, cpu int, ok bool) {
	fd, err := s.open(path, syscall.O_RDONLY)
	if err != nil {
		return 0, 0, false
	}
	n, err := syscall.Read(fd, s.statBuf)
	syscall.Close(fd)
	if err != nil || n <= 0 {
		return 0, 0, false
	}
	return parseStat(s.statBuf[:n])
}

// parseStat parses a stat file's utime (field 14), stime (15) and
// processor (39). The command name (field 2) may hold spaces and
// parentheses; the fields after it follow its last closing parenthesis.
func parseStat(b []byte) (ticks uint64, cpu int, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	var ut, st uint64
	field, got := 2, 0
	for j := i + 1; j < len(b) && got < 3; {
		for j < len(b) && b[j] == ' ' {
			j++
		}
		k := j
		for k < len(b) && b[k] != ' ' && b[k] != '\n' {
			k++
		}
		if k == j {
			break
		}
		field++
		if field == 14 || field == 15 || field == 39 {
			v, err := strconv.ParseUint(unsafe.String(&b[j], k-j), 10, 64)
			if err != nil {
				return 0, 0, false
			}
			switch field {
			case 14:
				ut = v
			case 15:
				st = v
			case 39:
				cpu = int(v)
			}
			got++
		}
		j = k
	}
	if got < 3 {
		return 0, 0, false
	}
	return ut + st, cpu, true
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
