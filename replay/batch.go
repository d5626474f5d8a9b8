package replay

import (
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// batchLen is the most packets a batch holds, batchBytes the most data
// (a batch is full at either): 256 small packets, or 40 of an Ethernet
// MTU. Small buffers keep the batches in flight (4 per worker on several
// cores) in the CPUs' caches.
const (
	batchLen   = 256
	batchBytes = 64 << 10
)

// batch is packets copied out of the reader, to be judged together
// (dataplane.Engine.ProcessEach reads their conntrack tables ahead);
// batches are reused, so that batching allocates nothing per packet.
type batch struct {
	n       int
	data    []byte
	ends    [batchLen]int32
	times   [batchLen]int64
	from    [batchLen]verdict.Port // the port each packet enters at
	numbers [batchLen]int64        // frame numbers (Run's outputs)
	lengths [batchLen]int32        // lengths on the wire (Run's outputs)
}

func newBatch() *batch { return &batch{data: make([]byte, 0, batchBytes)} }

func (b *batch) full(n int) bool { return b.n == batchLen || len(b.data)+n > cap(b.data) }

// add copies fr into b, which must not be full for it, entering at from.
func (b *batch) add(fr *pcap.Frame, from verdict.Port) {
	if len(fr.Data) > cap(b.data) {
		b.data = make([]byte, 0, len(fr.Data)) // a jumbogram: rare
	}
	b.data = append(b.data, fr.Data...)
	i := b.n
	b.ends[i], b.times[i], b.from[i] = int32(len(b.data)), fr.Time, from
	b.numbers[i], b.lengths[i] = fr.Number, int32(fr.Length)
	b.n++
}

// reset empties b for reuse.
func (b *batch) reset() { b.n, b.data = 0, b.data[:0] }

// frame returns packet i of b as the reader returned it.
func (b *batch) frame(i int) pcap.Frame {
	start := int32(0)
	if i > 0 {
		start = b.ends[i-1]
	}
	return pcap.Frame{Number: b.numbers[i], Time: b.times[i], Data: b.data[start:b.ends[i]], Length: int(b.lengths[i])}
}

// packets returns the packets of b, in a new slice.
func (b *batch) packets() [][]byte {
	pkts := make([][]byte, b.n)
	for i := range pkts {
		pkts[i] = b.frame(i).Data
	}
	return pkts
}

// judging is one worker's room to judge a batch in: the packets' slices,
// verdicts and parsed forms, reused from batch to batch.
type judging struct {
	pkts [batchLen][]byte
	vs   [batchLen]verdict.Verdict
	ps   [batchLen]packet.Parsed
}

// judge judges the packets of b with e, in order, leaving packet i's
// verdict in j.vs[i] and its parsed form in j.ps[i].
func (j *judging) judge(e *dataplane.Engine, b *batch) {
	n := b.n
	start := int32(0)
	for i := range n {
		j.pkts[i] = b.data[start:b.ends[i]]
		start = b.ends[i]
	}
	e.ProcessEach(b.from[:n], j.pkts[:n], b.times[:n], j.vs[:n], j.ps[:n])
}

// sourcePort returns the port a packet b enters at: the owner of its
// source address, or PortNone when its header names none (the engine
// drops it at the parse stage whatever the port).
func sourcePort(s *dataplane.Snapshot, b []byte) verdict.Port {
	if src := SourceAddr(b); src.IsValid() {
		return s.SourcePort(src)
	}
	return verdict.PortNone
}
