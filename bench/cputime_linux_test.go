package bench

import "syscall"

// threadCPU returns the CPU time the calling thread has used, ns, or -1.
// The benchmarks that report cpu-ns/op lock their goroutine to its thread
// around the timed loop: on a machine shared with other work, wall time
// counts the time the thread waited for a core, CPU time does not.
func threadCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru) != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
