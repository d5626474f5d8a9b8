package terraform

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// BenchmarkParseVPC imports the largest seed state, as the fuzz target
// does once per input. cpu-ns/op is the process's CPU time per import,
// steadier than wall time on a shared machine.
func BenchmarkParseVPC(b *testing.B) {
	data, err := os.ReadFile("testdata/webapp.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	start := cpuTime()
	for b.Loop() {
		if _, _, err := ParseVPC("webapp.json", data, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
