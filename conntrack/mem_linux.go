//go:build linux && !race && !conntrack_heaponly

package conntrack

import (
	"sync"
	"syscall"
	"unsafe"
)

// mapRegion maps size bytes (a multiple of regionBytes) of zeroed memory,
// aligned to regionBytes, and asks for transparent huge pages for it
// (which the kernel may refuse: the memory works as well with small
// pages). It returns nil if the mapping fails. It maps regionBytes more
// than size to align the part it returns; the rest is never touched, so
// it costs address space, not memory.
func mapRegion(size int) []byte {
	m, err := syscall.Mmap(-1, 0, size+regionBytes, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANONYMOUS)
	if err != nil {
		return nil
	}
	skip := (regionBytes - int(uintptr(unsafe.Pointer(&m[0])))%regionBytes) % regionBytes
	b := m[skip : skip+size : skip+size]
	syscall.Madvise(b, madvHugepage)
	mappings.Store(&b[0], m)
	offHeap.Add(int64(size))
	return b
}

const madvHugepage = 14 // MADV_HUGEPAGE

// mappings holds the whole mapping of each region, by its first byte:
// syscall.Munmap takes the slice syscall.Mmap returned.
var mappings sync.Map

// unmapRegion unmaps a region of mapRegion.
func unmapRegion(b []byte) {
	if m, ok := mappings.LoadAndDelete(&b[0]); ok && syscall.Munmap(m.([]byte)) == nil {
		offHeap.Add(-int64(len(b)))
	}
}
