package replay

import (
	"cmp"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// ShardOf returns the worker, of workers, that RunParallel gives the IP
// packet b with the policy of e in force when its sample has no packet of
// the packet's ENI (see plan): its ENI's port modulo workers. For
// benchmarks and tests that lay flows out across workers.
func ShardOf(e *dataplane.Engine, b []byte, workers int) int {
	_, eni := packetENI(e.Snapshot(), b)
	return (&plan{workers: max(workers, 1)}).worker(eni, b)
}

// packetENI returns the port an IP packet b enters at and its ENI: the one
// that sends or receives it, the lower port of the two when both ends are
// ENIs, PortNone when neither is (between the internet and the services,
// or malformed). Both directions of a flow, its fragments and the ICMP
// errors either host sends about it have the same ENI.
func packetENI(s *dataplane.Snapshot, b []byte) (from, eni verdict.Port) {
	from = sourcePort(s, b)
	eni = verdict.PortNone
	if dst := destAddr(b); dst.IsValid() {
		if to := s.Owner(dst); to >= 0 {
			eni = to
		}
	}
	if from >= 0 && (eni < 0 || from < eni) {
		eni = from
	}
	return from, eni
}

// plan is how RunParallel shards packets among its workers: by ENI, so
// that an ENI's conntrack table has one writer, except for an ENI busy
// enough to need more than one worker, whose packets are split among all
// of them by address pair (they then share its table, partitioned so that
// each writes its own parts: partitionSplit). Either way every
// packet between two hosts goes to one worker, in capture order, so the
// verdicts are those of one core. The plan is made once, from the first
// packets of the capture (newPlan), and is fixed for the rest of it.
type plan struct {
	workers int
	// owner[p] is the worker of the ENI at port p, or splitENI; ports
	// past its end (ENIs the sample did not see) go round the ring.
	owner []int32
}

// splitENI is plan.owner for an ENI split among all the workers.
const splitENI = -1

// worker returns the worker of a packet b of ENI eni (packetENI).
func (pl *plan) worker(eni verdict.Port, b []byte) int {
	switch {
	case eni < 0:
		return hostShard(b, pl.workers)
	case int(eni) >= len(pl.owner):
		return int(eni) % pl.workers
	case pl.owner[eni] == splitENI:
		return hostShard(b, pl.workers)
	}
	return int(pl.owner[eni])
}

// splitCost is what a packet of an ENI split among workers costs, against
// one judged by the ENI's only worker: the workers contend for the
// ENI's table (its writer lock and cache lines). Measured with
// BenchmarkReplayFile10 (one ENI): splitting its flows over two workers
// made them about 1.3× one worker's rate, not 2×. That was before the
// split ENI's table was partitioned (partitionSplit), which cut the
// contention; the cost has not been measured again on a quiet machine.
const splitCost = 1.5

// maxSplit bounds how many of the busiest ENIs newPlan considers
// splitting.
const maxSplit = 4

// newPlan makes the plan for workers workers from a sample of the
// capture: counts[p] packets of the ENI at port p, and other packets of
// no ENI (which go by address pair). It assigns the ENIs, busiest first,
// each to the least loaded worker (ties to the lowest), after splitting
// the k busiest among all workers, for the k (0 to maxSplit) that leaves
// the busiest worker least loaded, counting a split packet splitCost.
func newPlan(counts []int64, other int64, workers int) *plan {
	var order []verdict.Port
	for p, n := range counts {
		if n > 0 {
			order = append(order, verdict.Port(p))
		}
	}
	slices.SortStableFunc(order, func(a, b verdict.Port) int { return cmp.Compare(counts[b], counts[a]) })
	best, bestLoad := -1, 0.0
	owner, trial := make([]int32, len(counts)), make([]int32, len(counts))
	loads := make([]float64, workers)
	for k := 0; k <= min(maxSplit, len(order)); k++ {
		for w := range loads {
			loads[w] = float64(other) / float64(workers)
		}
		for i, p := range order {
			if i < k {
				trial[p] = splitENI
				for w := range loads {
					loads[w] += float64(counts[p]) * splitCost / float64(workers)
				}
				continue
			}
			w := 0
			for x := range loads {
				if loads[x] < loads[w] {
					w = x
				}
			}
			trial[p] = int32(w)
			loads[w] += float64(counts[p])
		}
		if m := slices.Max(loads); best < 0 || m < bestLoad {
			best, bestLoad = k, m
			copy(owner, trial)
		}
	}
	// ENIs the sample did not see keep the default: round the ring.
	for p, n := range counts {
		if n == 0 {
			owner[p] = int32(p % workers)
		}
	}
	return &plan{workers: workers, owner: owner}
}

// hostShard returns a worker for an IP packet from a hash of its two
// addresses, the same both ways: conntrack's PairShard, so that the
// workers of a split ENI write the parts of its partitioned table
// (partitionSplit) that are their own.
func hostShard(b []byte, workers int) int {
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		return conntrack.PairShard4(binary.BigEndian.Uint32(b[12:16])^binary.BigEndian.Uint32(b[16:20]), workers)
	case len(b) >= 40 && b[0]>>4 == 6:
		return conntrack.PairShard6(binary.BigEndian.Uint64(b[8:16])^binary.BigEndian.Uint64(b[16:24])^
			binary.BigEndian.Uint64(b[24:32])^binary.BigEndian.Uint64(b[32:40]), workers)
	}
	return 0
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
// ENI (see plan) among cores workers that judge them with e
// concurrently (the engine is safe for concurrent use), a batch at a
// time. Every flow's packets are judged in capture order by one worker,
// so the verdicts are those of Run as long as no instance's conntrack
// allowance runs out (the order in which flows of different workers take
// its last places is not the capture's). The ports and shards are those
// of the policy in force when it starts. It produces the summary only:
// per-packet outputs (opts other than Progress) need capture order and
// are refused.
//
// The plan comes from the first sampleLen packets: ENIs go to workers so
// as to even out their packets, each table with one writer, and an ENI
// too busy for one worker has its flows split among all of them, which
// then share its table, which RunParallel partitions (e's table of that
// ENI changes if it holds no flow yet: Engine.PartitionTable).
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
	sh := &sharder{snap: e.Snapshot(), cur: make([]*batch, cores), work: work, free: free}
	for w := range sh.cur {
		sh.cur[w] = <-free
	}
	// The first packets are held back to make the plan, then sharded by it.
	smp, done, err := takeSample(c, sh.snap)
	sh.plan = newPlan(smp.counts, smp.other, cores)
	partitionSplit(e, sh.plan)
	sh.snap = e.Snapshot()
	pkts := make([][]byte, smp.n)
	for i := range pkts {
		pkts[i] = smp.frame(i).Data
	}
	presize(sh.snap, c, pkts)
	for i := range smp.n {
		fr := smp.frame(i)
		sh.add(&fr)
	}
	frames := int64(smp.n)
	for !done {
		fr, rerr := c.Next()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
		sh.add(&fr)
		if frames++; prog != nil && frames&1023 == 0 {
			prog.update(c, frames)
		}
	}
	cur := sh.cur
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

// partitionSplit gives each ENI the plan splits among the workers a
// table of as many parts as there are workers (rounded up to a power of
// two): hostShard sends each worker the flows of its own parts, so the
// workers do not queue on one writer lock nor pull one another's cache
// lines. A table that already holds flows keeps its one part.
func partitionSplit(e *dataplane.Engine, pl *plan) {
	for p, o := range pl.owner {
		if o == splitENI {
			e.PartitionTable(verdict.Port(p), pl.workers)
		}
	}
}

// sharder puts each packet in the batch of its worker (plan.worker),
// handing full batches over.
type sharder struct {
	snap *dataplane.Snapshot
	plan *plan
	cur  []*batch // by worker: the batch being filled
	work []chan *batch
	free chan *batch
}

func (sh *sharder) add(fr *pcap.Frame) {
	from, eni := packetENI(sh.snap, fr.Data)
	w := sh.plan.worker(eni, fr.Data)
	b := sh.cur[w]
	if b.full(len(fr.Data)) {
		sh.work[w] <- b
		b = <-sh.free
		sh.cur[w] = b
	}
	b.add(fr, from)
}

// sampleLen is how many packets RunParallel reads before it makes its
// plan, sampleBytes the most data they may hold.
const (
	sampleLen   = 4096
	sampleBytes = 1 << 20
)

// sample is the first packets of a capture, held back while the plan is
// made, with their count by ENI.
type sample struct {
	n       int
	data    []byte
	ends    []int32
	times   []int64
	numbers []int64
	lengths []int32
	counts  []int64 // packets by ENI port
	other   int64   // packets of no ENI
}

// takeSample reads up to sampleLen packets of c (fewer once their data
// reaches sampleBytes, or at the end of the capture: done, with err set
// unless the capture ended cleanly) and counts them by ENI.
func takeSample(c *pcap.Reader, snap *dataplane.Snapshot) (smp *sample, done bool, err error) {
	smp = &sample{
		ends: make([]int32, 0, sampleLen), times: make([]int64, 0, sampleLen),
		numbers: make([]int64, 0, sampleLen), lengths: make([]int32, 0, sampleLen),
	}
	smp.data = make([]byte, 0, sampleBytes+64<<10)
	for len(smp.ends) < sampleLen {
		fr, rerr := c.Next()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			done = true
			break
		}
		smp.data = append(smp.data, fr.Data...) // grows past sampleBytes for a jumbogram only
		smp.ends = append(smp.ends, int32(len(smp.data)))
		smp.times = append(smp.times, fr.Time)
		smp.numbers = append(smp.numbers, fr.Number)
		smp.lengths = append(smp.lengths, int32(fr.Length))
		if _, eni := packetENI(snap, fr.Data); eni >= 0 {
			for int(eni) >= len(smp.counts) {
				smp.counts = append(smp.counts, 0)
			}
			smp.counts[eni]++
		} else {
			smp.other++
		}
		if len(smp.data) >= sampleBytes {
			break
		}
	}
	smp.n = len(smp.ends)
	return smp, done, err
}

// frame returns packet i of the sample as the reader returned it.
func (smp *sample) frame(i int) pcap.Frame {
	start := int32(0)
	if i > 0 {
		start = smp.ends[i-1]
	}
	return pcap.Frame{Number: smp.numbers[i], Time: smp.times[i], Data: smp.data[start:smp.ends[i]], Length: int(smp.lengths[i])}
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
