//go:build linux

package cpus

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSelf: this process's CPU time over a busy loop is counted as
// its, as getrusage says (to the tick, for each of its threads), and
// the machine's busy time holds it.
func TestSelf(t *testing.T) {
	before := rusage()
	s, err := Start(true)
	if err != nil {
		t.Fatal(err)
	}
	for rusage()-before < 0.3 {
	}
	p := s.Finish()
	used := rusage() - before
	if got := Sum(p.Self); got < used-0.1 || got > used+0.1 {
		t.Errorf("this process's CPU: sampled %.2f s (%s), getrusage %.2f s", got, Format(p.Self), used)
	}
	if Sum(p.Busy) < Sum(p.Self)-0.05 {
		t.Errorf("busy %s below this process's %s", Format(p.Busy), Format(p.Self))
	}
}

// rusage is this process's CPU time so far, in seconds.
func rusage() float64 {
	var u syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()).Seconds()
}

// TestParseStat reads this thread's stat file, and a command name with
// spaces and parentheses.
func TestParseStat(t *testing.T) {
	b, err := os.ReadFile("/proc/thread-self/stat")
	if err != nil {
		t.Fatal(err)
	}
	if _, cpu, ok := parseStat(b); !ok || cpu < 0 {
		t.Fatalf("parseStat(/proc/thread-self/stat) = %d, %v", cpu, ok)
	}
	line := "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37\n"
	// utime (field 14) is 11, stime 12, processor (39) 36.
	if ticks, cpu, ok := parseStat([]byte(line)); !ok || ticks != 23 || cpu != 36 {
		t.Errorf("parseStat(%q) = %d, %d, %v, want 23, 36, true", line, ticks, cpu, ok)
	}
	if _, _, ok := parseStat([]byte("42 (x) S 1 2")); ok {
		t.Error("parseStat of a short line succeeded")
	}
}

// TestSampleAllocs: a sample, once its maps hold the tasks, allocates
// nothing (it runs in the lab's process, whose memory the benchmarks
// measure).
func TestSampleAllocs(t *testing.T) {
	s, err := Start(true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Finish()
	s.sample()
	if a := testing.AllocsPerRun(20, s.sample); a > 1 {
		t.Errorf("a sample allocates %.0f times, want at most 1", a)
	}
}

// TestNoNamespace: a namespace that does not exist is an error.
func TestNoNamespace(t *testing.T) {
	if _, err := Start(false, "vpclab-cpus-test-no-such-namespace"); err == nil {
		t.Error("Start with a missing namespace succeeded")
	}
}
