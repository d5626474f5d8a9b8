package replay

import (
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// ShardOf returns the worker, of workers, that RunParallel gives the IP
// packet b with the policy of e in force (see shardOf): for benchmarks
// and tests that lay flows out across workers.
func ShardOf(e *dataplane.Engine, b []byte, workers int) int {
	_, w := shardOf(e.Snapshot(), b, max(workers, 1))
	return w
}

// shardOf returns the port an IP packet b enters at and the worker, of
// workers, that judges it: the one that owns its ENI. A packet's ENI is
// the one that sends or receives it, the lower port of the two when both
// ends are ENIs, so that every packet of an ENI's conversation with
// another host (both directions of its flows, their fragments, the ICMP
// errors the host sends about them) is judged by one worker, in capture
// order, and an ENI's conntrack table is written by one worker unless
// the ENI talks to an ENI of another worker. ENIs go to workers round
// the ring by port; packets with no ENI (between the internet and the
// services, or malformed) by a hash of their two addresses, the same both
// ways.
func shardOf(s *dataplane.Snapshot, b []byte, workers int) (verdict.Port, int) {
	from := sourcePort(s, b)
	eni := verdict.PortNone
	if dst := destAddr(b); dst.IsValid() {
		if to := s.Owner(dst); to >= 0 {
			eni = to
		}
	}
	if from >= 0 && (eni < 0 || from < eni) {
		eni = from
	}
	if eni >= 0 {
		return from, int(eni) % workers
	}
	return from, hostShard(b, workers)
}

// hostShard returns a worker for an IP packet from a hash of its two
// addresses, the same both ways.
func hostShard(b []byte, workers int) int {
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

// destAddr returns the destination address of the IP packet b, as
// SourceAddr does its source.
func destAddr(b []byte) netip.Addr {
	if len(b) == 0 {
		return netip.Addr{}
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) >= 20 {
			return netip.AddrFrom4([4]byte(b[16:20]))
		}
	case 6:
		if len(b) >= 40 {
			return netip.AddrFrom16([16]byte(b[24:40]))
		}
	}
	return netip.Addr{}
}

// queueLen is how many full batches may wait for each worker. The reader
// blocks when it fills one worker's queue, and the other workers starve
// meanwhile: deep queues absorb the bursts of one ENI's packets.
const queueLen = 8

// RunParallel is Run on cores goroutines: the reader shards the packets by
// ENI (see shardOf) among cores workers that judge them with e
// concurrently (the engine is safe for concurrent use), a batch at a
// time. Every flow's packets are judged in capture order by one worker,
// so the verdicts are those of Run as long as no instance's conntrack
// allowance runs out (the order in which flows of different workers take
// its last places is not the capture's). The ports and shards are those
// of the policy in force when it starts. It produces the summary only:
// per-packet outputs (opts other than Progress) need capture order and
// are refused.
//
// Two workers scale only as far as the ENIs' traffic spreads over them:
// the flows of one ENI are judged by one worker, which alone writes its
// conntrack table.
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
	free := make(chan *batch, (queueLen+2)*cores)
	for range (queueLen + 2) * cores {
		free <- newBatch()
	}
	work := make([]chan *batch, cores)
	cnts := make([]counters, cores)
	var wg sync.WaitGroup
	for w := range work {
		work[w] = make(chan *batch, queueLen)
		wg.Add(1)
		go func(in <-chan *batch, out *counters) {
			defer wg.Done()
			// The worker's counts and room stay its own until the end:
			// no cache line of them is written by two cores.
			var cnt counters
			j := new(judging)
			for b := range in {
				j.judge(e, b)
				for i := range b.n {
					cnt.count(&j.vs[i], b.times[i])
				}
				b.reset()
				free <- b
			}
			*out = cnt
		}(work[w], &cnts[w])
	}
	cur := make([]*batch, cores)
	for w := range cur {
		cur[w] = <-free
	}
	snap := e.Snapshot()
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
		from, w := shardOf(snap, fr.Data, cores)
		b := cur[w]
		if b.full(len(fr.Data)) {
			work[w] <- b
			b = <-free
			cur[w] = b
		}
		b.add(&fr, from)
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
	perCore := make([]int64, cores)
	for i := range cnts {
		total.merge(&cnts[i])
		perCore[i] = cnts[i].packets
	}
	s := total.summary(c, time.Since(start))
	s.Cores, s.CorePackets = cores, perCore
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
