// Package nsrun holds what the live benchmarks (bench/e2e, bench/flood)
// share for driving their namespaces: running a command and killing what
// runs in a namespace. It imports nothing of vpclab.
package nsrun

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// Verbose makes Sh print every command before it runs.
var Verbose bool

// KillIn kills the processes left in namespace ns, by pid (never this
// process).
func KillIn(ns string) {
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Sh runs a command and returns an error naming it, with its output,
// when it fails.
func Sh(args ...string) error {
	if Verbose {
		fmt.Fprintln(os.Stderr, "+", strings.Join(args, " "))
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Need returns an error naming the first of bins not on PATH and the make
// target that installs it.
func Need(target string, bins ...string) error {
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s not found (make %s installs it)", bin, target)
		}
	}
	return nil
}

// OnInterrupt runs cleanup and exits 1 on Ctrl-C or SIGTERM, saying so as
// name.
func OnInterrupt(name string, cleanup func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintf(os.Stderr, "%s: interrupted, cleaning up\n", name)
		cleanup()
		os.Exit(1)
	}()
}
