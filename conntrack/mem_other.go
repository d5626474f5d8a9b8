//go:build !linux || race || conntrack_heaponly

package conntrack

// mapRegion maps nothing here: tables take all their memory from the Go
// heap. The race detector checks atomic accesses only in memory it
// knows, so race builds do too; so does a build with the tag
// conntrack_heaponly, to measure what the mapped regions bring.
func mapRegion(size int) []byte { return nil }

func unmapRegion(b []byte) {}
