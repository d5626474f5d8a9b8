//go:build !linux

package conntrack

// threadCPU is not available here: cpu-ns/op is not reported.
func threadCPU() int64 { return -1 }
