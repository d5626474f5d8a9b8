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

// TestTaskStat reads this thread's stat file.
func TestTaskStat(t *testing.T) {
	tid, _, cpu, ok := taskStat("/proc/thread-self/stat")
	if !ok || tid <= 0 || cpu < 0 {
		t.Fatalf("taskStat(/proc/thread-self/stat) = %d, %d, %v", tid, cpu, ok)
	}
	if _, _, _, ok := taskStat(os.DevNull); ok {
		t.Error("taskStat of an empty file succeeded")
	}
}

// TestNoNamespace: a namespace that does not exist is an error.
func TestNoNamespace(t *testing.T) {
	if _, err := Start(false, "vpclab-cpus-test-no-such-namespace"); err == nil {
		t.Error("Start with a missing namespace succeeded")
	}
}
