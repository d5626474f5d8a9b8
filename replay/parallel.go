package replay

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// batchLen is the most packets the reader hands a worker at a time,
// batchBytes the most data they may hold (a batch is full at either): 256
// small packets, or 40 of an Ethernet MTU. Small buffers keep the batches
// in flight (4 per worker) in the CPUs' caches.
const (
	batchLen   = 256
	batchBytes = 64 << 10
)

// batch is packets the reader copied for one worker; batches are reused,
// so that sharding allocates nothing per packet.
type batch struct {
	n     int
	data  []byte
	ends  [batchLen]int32
	times [batchLen]int64
}

func (b *batch) full(n int) bool { return b.n == batchLen || len(b.data)+n > cap(b.data) }

// ShardOf returns the worker, of workers, that RunParallel gives the IP
// packet b (see shardOf): for benchmarks and tests that lay flows out
// across workers.
func ShardOf(b []byte, workers int) int { return shardOf(b, max(workers, 1)) }

// shardOf returns the worker of an IP packet: a hash of its two addresses,
// the same both ways, so that every packet between two hosts (both
// directions of their flows, their fragments and the ICMP errors about
// them) is judged by one worker, in capture order.
func shardOf(b []byte, workers int) int {
	var x uint64
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		x = uint64(binary.BigEndian.Uint32(b[12:16]) ^ binary.BigEndian.Uint32(b[16:20]))
	case len(b) >= 40 && b[0]>>4 == 6:
		x = binary.BigEndian.Uint64(b[8:16]) ^ binary.BigEndian.Uint64(b[16:24]) ^
			binary.BigEndian.Uint64(b[24:32]) ^ binary.BigEndian.Uint64(b[32:40])
	default:
		return 0
	}
	x *= 0x9e3779b97f4a7c15
	return int((x >> 32) % uint64(workers))
}

// RunParallel is Run on cores goroutines: the reader shards the packets by
// their address pair (see shardOf) among cores workers that judge them with
// e concurrently (the engine is safe for concurrent use). Every flow's
// packets are judged in capture order by one worker, so the verdicts are
// those of Run as long as no instance's conntrack allowance runs out (the
// order in which flows of different workers take its last places is not
// the capture's). It produces the summary only: per-packet outputs (opts
// other than Progress) need capture order and are refused.
func RunParallel(e *dataplane.Engine, c *pcap.Reader, cores int, opts Options) (*Summary, error) {
	if cores <= 1 {
		return Run(e, c, opts)
	}
	if opts.Verdicts != nil || opts.Allowed != nil || opts.VerdictsPcapng != nil || opts.FlowLogs != nil || opts.Mirror != nil {
		return nil, errors.New("replay on more than one core writes the summary only: per-packet outputs (verdicts, allowed packets, flow logs, mirroring) need one core")
	}
	start := time.Now()
	var prog *progress
	if opts.Progress != nil {
		prog = newProgress(opts.Progress, start)
	}
	free := make(chan *batch, 4*cores)
	for range 4 * cores {
		free <- &batch{data: make([]byte, 0, batchBytes)}
	}
	work := make([]chan *batch, cores)
	cnts := make([]counters, cores)
	var wg sync.WaitGroup
	for w := range work {
		work[w] = make(chan *batch, 2)
		wg.Add(1)
		go func(in <-chan *batch, cnt *counters) {
			defer wg.Done()
			var (
				v verdict.Verdict
				p packet.Parsed
			)
			for b := range in {
				start := int32(0)
				for i := range b.n {
					d := b.data[start:b.ends[i]]
					start = b.ends[i]
					from := verdict.PortNone
					if src := SourceAddr(d); src.IsValid() {
						from = e.SourcePort(src)
					}
					e.ProcessParsed(from, d, b.times[i], &v, &p)
					cnt.count(&v, b.times[i])
				}
				b.n, b.data = 0, b.data[:0]
				free <- b
			}
		}(work[w], &cnts[w])
	}
	cur := make([]*batch, cores)
	for w := range cur {
		cur[w] = <-free
	}
	var err error
	var frames int64
	for {
		fr, rerr := c.Next()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
		w := shardOf(fr.Data, cores)
		b := cur[w]
		if b.full(len(fr.Data)) {
			work[w] <- b
			b = <-free
			cur[w] = b
		}
		if len(fr.Data) > cap(b.data) {
			b.data = make([]byte, 0, len(fr.Data)) // a jumbogram: rare
		}
		b.data = append(b.data, fr.Data...)
		b.ends[b.n], b.times[b.n] = int32(len(b.data)), fr.Time
		b.n++
		if frames++; prog != nil && frames&1023 == 0 {
			prog.update(c, frames)
		}
	}
	for w, b := range cur {
		if b.n > 0 {
			work[w] <- b
		}
		close(work[w])
	}
	wg.Wait()
	if prog != nil {
		prog.done()
	}
	var total counters
	for i := range cnts {
		total.merge(&cnts[i])
	}
	s := total.summary(c, time.Since(start))
	s.Cores = cores
	return s, err
}

// merge adds o's counts to c.
func (c *counters) merge(o *counters) {
	if o.packets == 0 {
		return
	}
	if c.packets == 0 || o.first < c.first {
		c.first = o.first
	}
	if c.packets == 0 || o.last > c.last {
		c.last = o.last
	}
	c.packets += o.packets
	c.allowed += o.allowed
	c.denied += o.denied
	for i := range c.byStage {
		c.byStage[i] += o.byStage[i]
	}
	for i := range c.byCode {
		c.byCode[i] += o.byCode[i]
	}
	for i := range c.byReason {
		c.byReason[i] += o.byReason[i]
	}
}

// ReaderRate reads the capture at path to its end without judging
// anything and returns the frames read per second: the reader's own rate,
// the ceiling of a replay.
func ReaderRate(path string) (float64, error) {
	c, err := pcap.Open(path)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	start := time.Now()
	for {
		if _, err := c.Next(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return 0, err
		}
	}
	d := time.Since(start).Seconds()
	if d <= 0 {
		return 0, nil
	}
	return float64(c.Frames()) / d, nil
}
