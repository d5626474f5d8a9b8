//go:build !amd64 || race

package conntrack

import "sync/atomic"

// store64, store64i and store32 are sync/atomic's stores here: see
// store_amd64.go.
func store64(p *atomic.Uint64, v uint64) { p.Store(v) }

func store64i(p *atomic.Int64, v int64) { p.Store(v) }

func store32(p *atomic.Uint32, v uint32) { p.Store(v) }
