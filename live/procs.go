package live

import (
	"os"
	"runtime"
)

// Procs returns how many threads a live lab should run Go code on
// (GOMAXPROCS): the GOMAXPROCS environment variable when it is set, else
// half the CPUs, at least one. The instances' own work (their TCP stacks,
// the receivers of what vpclab writes) runs on the CPUs left: on this
// project's 2-CPU benchmark machine one thread forwarded a single TCP
// stream 12% faster than two (8.6 and 8.0 against 7.3 and 7.1 Gbit/s,
// bench/e2e), fewer wakeups of a second runtime thread taking CPU from
// the receiver, with four streams unchanged.
func Procs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	return max(1, runtime.NumCPU()/2)
}
