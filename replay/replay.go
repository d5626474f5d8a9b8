// Package replay runs packet captures through the dataplane: it reads pcap
// and pcapng files (optionally gzip-compressed), strips their link headers
// (Ethernet with VLAN tags, raw IP, Linux cooked SLL and SLL2, BSD
// loopback), and judges every IP packet with a dataplane.Engine on the
// capture's own clock.
//
// Each packet enters at the port that owns its source address
// (dataplane.Engine.SourcePort): an ENI, the VPC's services, or the
// internet gateway. A packet whose IP header is too broken to name a source
// still goes to the engine, which drops it at the parse stage and counts
// the reason.
//
// Run produces a Summary and, on request, a verdict per packet (JSON Lines)
// and a pcap of the packets that were allowed. It copies frames into
// batches of up to 256 packets and judges each batch with
// dataplane.Engine.ProcessEach, which reads the conntrack tables of a
// batch's packets ahead so that their cache misses overlap; then it counts
// and writes each verdict in capture order. RunParallel shards the
// batches by ENI among several cores (summary only). The loop allocates
// nothing per packet: batches are reused, verdicts are written with
// append-style encoders, and counters are arrays indexed by stage, code
// and parse reason.
//
// Packets loads a whole capture into memory, for benchmarks that replay it
// without file I/O.
package replay

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"time"

	"github.com/vpclab/vpclab/capture"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// Options are the optional outputs of Run.
type Options struct {
	// Verdicts, when not nil, receives one JSON object per IP packet, one
	// per line (JSON Lines), with the fields of VerdictRecord.
	Verdicts io.Writer
	// Allowed, when not nil, receives the allowed packets as a pcap file of
	// link type LINKTYPE_RAW (101), with their original timestamps in
	// nanoseconds.
	Allowed io.Writer
	// Progress, when not nil, receives a one-line progress bar, redrawn in
	// place at most ten times a second and erased at the end. Give it a
	// terminal only.
	Progress io.Writer
	// VerdictsPcapng, when not nil, receives every IP packet as pcapng,
	// each with a comment giving its verdict, stage and rule, on an
	// interface per port it entered at (see package capture).
	VerdictsPcapng io.Writer
	// Lab describes the interfaces of VerdictsPcapng; it may be nil.
	Lab *lab.Lab
	// FlowLogs, when not nil, records every packet in the lab's flow logs,
	// on the capture's clock (made with flowlog.New with one shard and the
	// Unix epoch); Run closes it at the end, writing every record.
	FlowLogs *flowlog.Logger
	// Mirror, when not nil, mirrors the packets its sessions select; Run
	// drains it as it goes (its pcap targets are written; ENI targets
	// need a live lab and count as failed).
	Mirror *mirror.Mirror
}

// Summary counts what a replay saw. Frames = Packets + Skipped, Packets =
// Allowed + Denied, the values of DeniedByStage and of DeniedByCode each
// add up to Denied, those of ParseDrops to DeniedByCode["MALFORMED_PACKET"]
// and those of SkippedBy to Skipped.
type Summary struct {
	// Capture is the file name, Format "pcap" or "pcapng", LinkType the
	// capture's link type (its first interface's, for pcapng).
	Capture  string `json:"capture"`
	Format   string `json:"format"`
	LinkType string `json:"link_type"`
	// Frames is every frame read from the capture.
	Frames int64 `json:"frames"`
	// Packets is the IP packets judged by the engine.
	Packets int64 `json:"packets"`
	Allowed int64 `json:"allowed"`
	Denied  int64 `json:"denied"`
	// DeniedByStage and DeniedByCode break Denied down by the stage that
	// dropped each packet (verdict.Stage names) and by its explanation
	// code (verdict.Code names).
	DeniedByStage map[string]int64 `json:"denied_by_stage"`
	DeniedByCode  map[string]int64 `json:"denied_by_code"`
	// ParseDrops breaks the malformed packets (code MALFORMED_PACKET)
	// down by the parser's reason (packet.Reason names). The parse stage
	// also drops the later fragments whose first fragment was not seen
	// (FRAGMENT_ORPHAN); they are well formed and not counted here.
	ParseDrops map[string]int64 `json:"parse_drops"`
	// Skipped is the frames that held no IP packet, SkippedBy why (see
	// pcap.Reader.Skipped).
	Skipped   int64            `json:"skipped"`
	SkippedBy map[string]int64 `json:"skipped_by"`
	// Seconds is the time the capture spans: its last timestamp less its
	// first (0 for fewer than two packets).
	Seconds float64 `json:"seconds"`
	// WallSeconds is how long the replay took, PPS the packets judged per
	// wall-clock second.
	WallSeconds float64 `json:"wall_seconds"`
	PPS         float64 `json:"pps"`
	// Cores is the number of goroutines that judged packets (RunParallel).
	Cores int `json:"cores"`
	// CorePackets, on more than one core, is how many packets each of
	// them judged (RunParallel shards by ENI: see its plan).
	CorePackets []int64 `json:"core_packets,omitempty"`
	// ReaderPPS, when measured (ReaderRate, given with SetReaderPPS), is
	// the frames per second the capture reader manages alone, judging
	// nothing: the replay's ceiling. ReaderRatio is PPS / ReaderPPS.
	ReaderPPS   float64 `json:"reader_pps,omitempty"`
	ReaderRatio float64 `json:"reader_ratio,omitempty"`
}

// SetReaderPPS records the reader's own rate (ReaderRate) and the
// replay's rate as a share of it.
func (s *Summary) SetReaderPPS(r float64) {
	s.ReaderPPS, s.ReaderRatio = r, 0
	if r > 0 {
		s.ReaderRatio = math.Round(s.PPS/r*1000) / 1000
	}
}

// counters are the per-packet counts, kept in arrays so that counting
// never allocates.
type counters struct {
	packets, allowed, denied int64
	byStage                  [verdict.NumStages]int64
	byCode                   [verdict.NumCodes]int64
	byReason                 [packet.NumReasons]int64
	first, last              int64 // capture timestamps, ns
}

func (c *counters) count(v *verdict.Verdict, t int64) {
	if c.packets == 0 || t < c.first {
		c.first = t
	}
	if c.packets == 0 || t > c.last {
		c.last = t
	}
	c.packets++
	if v.Allowed {
		c.allowed++
		return
	}
	c.denied++
	if v.Stage < verdict.NumStages {
		c.byStage[v.Stage]++
	}
	if v.Code < verdict.NumCodes {
		c.byCode[v.Code]++
	}
	if v.Code == verdict.CodeMalformed && v.Parse < packet.NumReasons {
		c.byReason[v.Parse]++
	}
}

// Run judges every IP packet of capture c with engine e, in capture order,
// using the capture's timestamps as the engine's clock, and writes the
// outputs opts asks for. It does not close c.
//
// A damaged capture (a record that overruns the file, an impossible
// length) ends the replay: Run returns the summary of what it judged so far
// and an error naming the file and the frame number. An error writing an
// output also ends it.
func Run(e *dataplane.Engine, c *pcap.Reader, opts Options) (*Summary, error) {
	start := time.Now()
	var (
		cnt  counters
		sh   *flowlog.Shard
		vw   *verdictWriter
		aw   *allowedWriter
		prog *progress
		pw   *capture.PortWriter
		err  error
	)
	if opts.VerdictsPcapng != nil {
		if pw, err = capture.NewPortWriter(opts.VerdictsPcapng, e.Snapshot(), opts.Lab); err != nil {
			return nil, fmt.Errorf("writing verdicts as pcapng: %w", err)
		}
	}
	if opts.Verdicts != nil {
		vw = newVerdictWriter(opts.Verdicts, e.Snapshot())
	}
	if opts.Allowed != nil {
		if aw, err = newAllowedWriter(opts.Allowed); err != nil {
			return nil, fmt.Errorf("writing allowed packets: %w", err)
		}
	}
	if opts.Progress != nil {
		prog = newProgress(opts.Progress, start)
	}
	if opts.FlowLogs != nil {
		sh = opts.FlowLogs.Shard(0)
	}
	// The packets are read in batches and judged together, so that the
	// engine reads their conntrack tables ahead; then each packet's
	// verdict is counted and written, in capture order.
	out := &outputs{opts: &opts, cnt: &cnt, sh: sh, vw: vw, pw: pw, aw: aw, prog: prog, c: c}
	b, j := newBatch(), new(judging)
	snap := e.Snapshot()
	first := true
	for {
		fr, rerr := c.Next()
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) {
				err = rerr
			}
			break
		}
		if b.full(len(fr.Data)) {
			if first {
				presize(snap, c, b.packets())
				first = false
			}
			// fr stays valid: the reader is not called until it is added.
			if err = out.judge(e, b, j); err != nil {
				break
			}
			snap = e.Snapshot()
		}
		b.add(&fr, sourcePort(snap, fr.Data))
	}
	if werr := out.judge(e, b, j); werr != nil && err == nil {
		err = werr
	}
	if prog != nil {
		prog.done()
	}
	if opts.Mirror != nil {
		opts.Mirror.Drain()
	}
	if opts.FlowLogs != nil {
		if cerr := opts.FlowLogs.Close(cnt.last); cerr != nil && err == nil {
			err = fmt.Errorf("writing flow logs: %w", cerr)
		}
	}
	if vw != nil {
		if ferr := vw.w.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("writing verdicts: %w", ferr)
		}
	}
	if pw != nil {
		if ferr := pw.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("writing verdicts as pcapng: %w", ferr)
		}
	}
	if aw != nil {
		if ferr := aw.w.Flush(); ferr != nil && err == nil {
			err = fmt.Errorf("writing allowed packets: %w", ferr)
		}
	}
	return cnt.summary(c, time.Since(start)), err
}

// outputs are what Run does with each verdict: count it and write what
// opts asks for.
type outputs struct {
	opts *Options
	cnt  *counters
	sec  int64 // the capture second last given to FlowLogs.Tick
	sh   *flowlog.Shard
	vw   *verdictWriter
	pw   *capture.PortWriter
	aw   *allowedWriter
	prog *progress
	c    *pcap.Reader
}

// judge judges the packets of b, then counts and writes them in order,
// and empties b. It stops at the first error writing an output: the
// packets after it are not counted.
func (o *outputs) judge(e *dataplane.Engine, b *batch, j *judging) error {
	defer b.reset()
	if b.n == 0 {
		return nil
	}
	j.judge(e, b)
	for i := range b.n {
		if err := o.packet(b, i, &j.vs[i], &j.ps[i]); err != nil {
			return err
		}
		if o.prog != nil && o.cnt.packets&1023 == 0 {
			o.prog.update(o.c, o.cnt.packets)
		}
	}
	return nil
}

// packet counts packet i of b, judged v (parsed p), and writes what the
// options ask for of it.
func (o *outputs) packet(b *batch, i int, v *verdict.Verdict, p *packet.Parsed) error {
	opts := o.opts
	fr := b.frame(i)
	o.cnt.count(v, fr.Time)
	if o.sh != nil {
		if s := fr.Time / int64(time.Second); s != o.sec {
			// A new second of the capture: intervals may have ended.
			// Ticking by capture time keeps the records identical from
			// run to run.
			if o.sec != 0 {
				if err := opts.FlowLogs.Tick(fr.Time); err != nil {
					return fmt.Errorf("writing flow logs: %w", err)
				}
			}
			o.sec = s
		}
		o.sh.Begin()
		o.sh.Observe(v, p, len(fr.Data), 1, fr.Time)
		o.sh.End()
	}
	if opts.Mirror != nil {
		opts.Mirror.Packet(v, p, nil, fr.Data, fr.Time)
		// A packet may queue two copies (both ends mirrored): drain well
		// before the queue (256 slots by default) can fill, so that
		// replay, unlike a live lab, never loses one.
		if o.cnt.packets&31 == 0 {
			opts.Mirror.Drain()
		}
	}
	if o.vw != nil {
		if err := o.vw.write(&fr, v); err != nil {
			return fmt.Errorf("writing verdicts: %w", err)
		}
	}
	if o.pw != nil {
		if err := o.pw.WritePacket(fr.Time, fr.Data, fr.Length, v); err != nil {
			return fmt.Errorf("writing verdicts as pcapng: %w", err)
		}
	}
	if o.aw != nil && v.Allowed {
		if err := o.aw.write(&fr); err != nil {
			return fmt.Errorf("writing allowed packets: %w", err)
		}
	}
	return nil
}

func (c *counters) summary(r *pcap.Reader, wall time.Duration) *Summary {
	s := &Summary{
		Capture:       r.Name(),
		Format:        r.Format(),
		LinkType:      pcap.LinkTypeName(r.LinkType()),
		Frames:        r.Frames(),
		Packets:       c.packets,
		Allowed:       c.allowed,
		Denied:        c.denied,
		DeniedByStage: map[string]int64{},
		DeniedByCode:  map[string]int64{},
		ParseDrops:    map[string]int64{},
		WallSeconds:   wall.Seconds(),
		Cores:         1,
	}
	s.Skipped, s.SkippedBy = r.Skipped()
	for st, n := range c.byStage {
		if n > 0 {
			s.DeniedByStage[verdict.Stage(st).String()] += n
		}
	}
	for code, n := range c.byCode {
		if n > 0 {
			s.DeniedByCode[verdict.Code(code).String()] += n
		}
	}
	for r, n := range c.byReason {
		if n > 0 {
			s.ParseDrops[packet.Reason(r).String()] += n
		}
	}
	if c.packets > 1 {
		s.Seconds = float64(c.last-c.first) / 1e9
	}
	if s.WallSeconds > 0 {
		s.PPS = math.Round(float64(c.packets) / s.WallSeconds)
	}
	return s
}

// SourceAddr returns the source address of the IP packet b, read straight
// from its header, or the zero Addr when b is too short or not IPv4 or
// IPv6. It validates nothing else: deciding whether the packet is well
// formed is the engine's job.
func SourceAddr(b []byte) netip.Addr {
	if len(b) == 0 {
		return netip.Addr{}
	}
	switch b[0] >> 4 {
	case 4:
		if len(b) >= 20 {
			return netip.AddrFrom4([4]byte(b[12:16]))
		}
	case 6:
		if len(b) >= 40 {
			return netip.AddrFrom16([16]byte(b[8:24]))
		}
	}
	return netip.Addr{}
}

// allowedWriter writes allowed packets as a raw-IP pcap.
type allowedWriter struct {
	w  *bufio.Writer
	pw *pcap.Writer
}

// allowedSnaplen is the snap length written in the pcap header: libpcap's
// largest, so that no packet of a capture, jumbograms included, exceeds it.
const allowedSnaplen = 262144

func newAllowedWriter(w io.Writer) (*allowedWriter, error) {
	a := &allowedWriter{w: bufio.NewWriterSize(w, 64<<10)}
	var err error
	a.pw, err = pcap.NewWriter(a.w, allowedSnaplen, pcap.LinkTypeRaw)
	return a, err
}

func (a *allowedWriter) write(fr *pcap.Frame) error {
	return a.pw.WritePacket(fr.Time, fr.Data, fr.Length)
}
