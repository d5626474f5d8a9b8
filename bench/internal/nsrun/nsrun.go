// Package nsrun holds what the live benchmarks (bench/e2e, bench/flood)
// share for driving their namespaces: running a command and killing what
// runs in a namespace. It imports nothing of vpclab.
package nsrun

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
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
