package flowlog

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

// Options tune a Logger. The zero value of each field means its default.
type Options struct {
	// Epoch is the wall time at now = 0 on the clock the packets' times
	// are on: the lab's start when live, the Unix epoch (time.Unix(0, 0))
	// in replay, whose clock is the capture's. Records show Unix seconds.
	// The zero time means the Unix epoch.
	Epoch time.Time
	// Shards is the number of Shards, one per goroutine that observes
	// packets. Default 1.
	Shards int
	// Capacity is how many flow records (one flow, interface, direction,
	// action and minute) a shard holds between two collections (Tick
	// calls). Packets of further flows are lost and their interfaces get a
	// SKIPDATA record for the interval. Default 8192.
	Capacity int
	// MaxPending is how many records the Logger holds for the intervals
	// still open (10 minutes of records for a 600s flow log); past it,
	// records are lost as above. Default 262144.
	MaxPending int
	// MaxFileBytes is the size at which a log file is closed and the next
	// one begun. Default 75 MB, AWS's largest log file.
	MaxFileBytes int64
	// Header writes AWS's header line (the field names) first in every
	// file, as AWS does in the files it delivers to Amazon S3.
	Header bool
	// Grace is how long after an interval ends its records are written,
	// for packets judged just before its end that are collected just after
	// it. Close writes everything at once. Default 2s.
	Grace time.Duration
	// Dir is the directory relative destinations are under. Default: the
	// current directory.
	Dir string
}

func (o *Options) setDefaults() {
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.Capacity <= 0 {
		o.Capacity = 8192
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 262144
	}
	if o.MaxFileBytes <= 0 {
		o.MaxFileBytes = 75 << 20
	}
	if o.Grace <= 0 {
		o.Grace = 2 * time.Second
	}
}

// Stats counts what a Logger has written and lost.
type Stats struct {
	Records  uint64 // records with log-status OK
	NoData   uint64 // NODATA records
	SkipData uint64 // SKIPDATA records
	// SkippedPackets is how many packets were lost to capacity (each
	// counted once, however many flow logs cover its interface).
	SkippedPackets uint64
	// Late is how many records were written after their interval had
	// been closed, because their packets were collected too late.
	Late  uint64
	Files uint64 // log files begun
}

// Logger turns the packets the dataplane judged into VPC Flow Logs
// records (spec §7) and writes them to log files.
type Logger struct {
	epoch int64 // Options.Epoch, Unix nanoseconds
	opts  Options
	port  func(eniID string) (verdict.Port, bool)

	// cfg is what the packet path reads: which ports to log.
	cfg    atomic.Pointer[config]
	shards []*Shard

	mu       sync.Mutex // serialises Tick, Reconfigure, Close and Stats
	cur      *config    // = cfg.Load(), and the one before it
	prev     *config
	logs     []*logState // in lab file order
	pending  map[uint32]*minuteData
	npending int
	ticked   bool
	last     uint32 // the minute of the last Tick
	closed   bool
	stats    Stats
	late     map[*logState]map[aggKey]*agg
}

// config is a compiled lab: the interfaces flow logs cover, by port.
type config struct {
	gen    uint16
	logged []bool     // by port: some flow log covers the interface
	ids    []string   // by port: the interface's id
	enis   []*eniInfo // by port; nil where no covered interface is
	vpc4   netip.Prefix
	vpc6   netip.Prefix
	lab    *lab.Lab
}

// eniInfo is what records show of an interface.
type eniInfo struct {
	id, instance, subnet, vpc, azID string
	primary                         netip.Addr
}

// logState is one flow log: its definition and where its writing stands.
type logState struct {
	def      lab.FlowLog
	format   *Format
	interval uint32 // minutes: 1 or 10
	accept   bool   // writes ACCEPT records
	reject   bool   // writes REJECT records
	enis     []*eniInfo
	covers   map[string]bool // interface ids
	account  string
	region   string
	vpc4     netip.Prefix
	vpc6     netip.Prefix

	started bool   // first and next are set
	first   uint32 // the first minute of the first interval it writes
	next    uint32 // the first minute of the next interval to write
	sink    *sink
}

// minuteData is the records of one minute, merged from every shard.
type minuteData struct {
	flows map[aggKey]*agg
	seen  map[string]bool       // interfaces with traffic
	lost  map[string]*[2]uint64 // interface id → packets lost: ACCEPT, REJECT
}

// aggKey identifies a record within an interval.
type aggKey struct {
	eni          string
	egress       bool
	reject       bool
	src, dst     netip.Addr
	sport, dport uint16
	proto        uint8
}

// agg is a record being summed.
type agg struct {
	eni            *eniInfo
	packets, bytes uint64
	first, last    int64 // the caller's clock
	tcpFlags       uint8
}

func (a *agg) merge(b *agg) {
	a.packets += b.packets
	a.bytes += b.bytes
	a.first = min(a.first, b.first)
	a.last = max(a.last, b.last)
	a.tcpFlags |= b.tcpFlags
}

// New returns a Logger for the flow logs of l. port maps an interface id
// to its dataplane port (dataplane.Engine.Port, after the engine has
// applied l). Every flow log's format is checked; errors name the lab
// file, line, flow log and field at fault. The destinations are created.
func New(l *lab.Lab, port func(eniID string) (verdict.Port, bool), o Options) (*Logger, error) {
	o.setDefaults()
	lg := &Logger{opts: o, pending: map[uint32]*minuteData{}, late: map[*logState]map[aggKey]*agg{}}
	if !o.Epoch.IsZero() {
		lg.epoch = o.Epoch.UnixNano()
	}
	lg.port = port
	cfg, logs, err := lg.compile(l, port, 1)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, s := range logs {
		errs = append(errs, s.sink.prepare())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	lg.cfg.Store(cfg)
	lg.cur, lg.logs = cfg, logs
	ports := len(cfg.logged)
	for range o.Shards {
		sh := &Shard{l: lg}
		sh.bufs = [2]*buffer{newBuffer(o.Capacity, ports), newBuffer(o.Capacity, ports)}
		lg.shards = append(lg.shards, sh)
	}
	return lg, nil
}

// Check checks the flow logs of l as New does, without a dataplane: their
// formats, traffic types, intervals and resources.
func Check(l *lab.Lab) error {
	var errs []error
	for _, f := range l.FlowLogs {
		if _, err := compileLog(l, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Shard returns the i-th shard (0 ≤ i < Options.Shards).
func (lg *Logger) Shard(i int) *Shard { return lg.shards[i] }

// Stats returns the counts so far.
func (lg *Logger) Stats() Stats {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	return lg.stats
}

// errorf makes an error about flow log f of l, with the file and line.
func errorf(l *lab.Lab, f *lab.FlowLog, format string, args ...any) error {
	where := l.File
	if f.Line > 0 {
		where = fmt.Sprintf("%s:%d", l.File, f.Line)
	}
	return fmt.Errorf("%s: flow log %s: %s", where, f.ID, fmt.Sprintf(format, args...))
}

// compileLog checks and compiles one flow log definition.
func compileLog(l *lab.Lab, f *lab.FlowLog) (*logState, error) {
	format, err := ParseFormat(f.LogFormat)
	if err != nil {
		return nil, errorf(l, f, "log format: %v", err)
	}
	s := &logState{def: *f, format: format, covers: map[string]bool{},
		account: l.VPC.AccountID, region: l.VPC.Region, vpc4: l.VPC.CIDR, vpc6: l.VPC.IPv6CIDR}
	if s.account == "" {
		s.account = lab.DefaultAccountID
	}
	if s.region == "" {
		s.region = lab.DefaultRegion
	}
	switch f.TrafficType {
	case "ACCEPT":
		s.accept = true
	case "REJECT":
		s.reject = true
	case "ALL", "":
		s.accept, s.reject = true, true
	default:
		return nil, errorf(l, f, "traffic type %q: use ACCEPT, REJECT or ALL", f.TrafficType)
	}
	switch f.MaxAggregationInterval {
	case time.Minute:
		s.interval = 1
	case 10 * time.Minute, 0:
		s.interval = 10
	default:
		return nil, errorf(l, f, "aggregation interval %s: AWS offers 60s and 600s", f.MaxAggregationInterval)
	}
	if f.Destination == "" {
		return nil, errorf(l, f, "no destination directory")
	}
	for _, e := range l.Interfaces() {
		var in bool
		switch f.ResourceType {
		case lab.FlowLogVPC:
			in = f.ResourceID == l.VPC.ID
		case lab.FlowLogSubnet:
			in = e.Subnet == f.ResourceID
		case lab.FlowLogENI:
			in = e.ID == f.ResourceID
		default:
			return nil, errorf(l, f, "resource type %q: use %s, %s or %s", f.ResourceType, lab.FlowLogVPC, lab.FlowLogSubnet, lab.FlowLogENI)
		}
		if in {
			s.covers[e.ID] = true
		}
	}
	if len(s.covers) == 0 {
		switch f.ResourceType {
		case lab.FlowLogVPC:
			if f.ResourceID != l.VPC.ID {
				return nil, errorf(l, f, "no VPC %s: the lab's VPC is %s", f.ResourceID, l.VPC.ID)
			}
		case lab.FlowLogSubnet:
			if l.Subnet(f.ResourceID) == nil {
				return nil, errorf(l, f, "no subnet %s", f.ResourceID)
			}
		case lab.FlowLogENI:
			return nil, errorf(l, f, "no interface %s", f.ResourceID)
		}
	}
	return s, nil
}

// compile compiles every flow log of l into a config for the packet path
// and the logs' states.
func (lg *Logger) compile(l *lab.Lab, port func(string) (verdict.Port, bool), gen uint16) (*config, []*logState, error) {
	var logs []*logState
	var errs []error
	for _, f := range l.FlowLogs {
		s, err := compileLog(l, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		logs = append(logs, s)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	cfg := &config{gen: gen, vpc4: l.VPC.CIDR, vpc6: l.VPC.IPv6CIDR, lab: l}
	infos := map[string]*eniInfo{}
	for _, in := range l.Instances {
		for _, e := range in.Interfaces {
			covered := false
			for _, s := range logs {
				covered = covered || s.covers[e.ID]
			}
			if !covered {
				continue
			}
			p, ok := port(e.ID)
			if !ok || p < 0 {
				return nil, nil, fmt.Errorf("%s:%d: interface %s has no dataplane port: apply the lab to the engine before the flow logs", l.File, e.Line, e.ID)
			}
			info := &eniInfo{id: e.ID, instance: in.Name, subnet: e.Subnet, vpc: l.VPC.ID, primary: e.IP}
			if sn := l.Subnet(e.Subnet); sn != nil {
				info.azID = sn.AZID
			}
			infos[e.ID] = info
			for int(p) >= len(cfg.logged) {
				cfg.logged = append(cfg.logged, false)
				cfg.ids = append(cfg.ids, "")
				cfg.enis = append(cfg.enis, nil)
			}
			cfg.logged[p], cfg.ids[p], cfg.enis[p] = true, e.ID, info
		}
	}
	for _, s := range logs {
		for _, e := range l.Interfaces() {
			if s.covers[e.ID] {
				s.enis = append(s.enis, infos[e.ID])
			}
		}
	}
	for _, s := range logs {
		dir := s.def.Destination
		if !filepath.IsAbs(dir) && lg.opts.Dir != "" {
			dir = filepath.Join(lg.opts.Dir, dir)
		}
		s.sink = newSink(dir, s, lg.opts)
	}
	return cfg, logs, nil
}

// Tick collects the shards' records and writes those of the intervals
// that ended (Options.Grace) before now, on the packets' clock. Live calls
// it every second; replay with the capture's clock (the time of the packet
// it reached), at least once per minute of capture time, so that its
// output depends on the capture only.
//
// The first Tick starts the flow logs, at the interval of the earliest
// packet collected or of now: its now must be a time on the packets'
// clock (with Epoch the Unix epoch, 0 is 1970, and every interval since
// would get its NODATA records).
func (lg *Logger) Tick(now int64) error {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.closed {
		return errors.New("flowlog: Tick after Close")
	}
	lg.collect()
	wall := lg.epoch + now
	lg.begin(wall)
	var closable uint32 // intervals that end by this minute are written
	if w := wall - int64(lg.opts.Grace); w > 0 {
		closable = uint32(w / int64(time.Minute))
	}
	var errs []error
	for _, s := range lg.logs {
		errs = append(errs, lg.advance(s, closable))
	}
	errs = append(errs, lg.writeLate())
	lg.prune()
	for _, s := range lg.logs {
		errs = append(errs, s.sink.flush())
	}
	return errors.Join(errs...)
}

// Close writes every record, those of the intervals still open (up to now)
// included, and closes the files. Stop the shards' writers first: what
// they observe later is not logged.
func (lg *Logger) Close(now int64) error {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.closed {
		return nil
	}
	lg.closed = true
	lg.collect()
	wall := lg.epoch + now
	lg.begin(wall)
	var errs []error
	last := lg.lastMinute(uint32(wall / int64(time.Minute)))
	for _, s := range lg.logs {
		errs = append(errs, lg.finish(s, last))
	}
	errs = append(errs, lg.writeLate())
	for _, s := range lg.logs {
		errs = append(errs, s.sink.close())
	}
	lg.pending = map[uint32]*minuteData{}
	lg.npending = 0
	return errors.Join(errs...)
}

// lastMinute returns the later of m and the last minute with pending
// records.
func (lg *Logger) lastMinute(m uint32) uint32 {
	for pm := range lg.pending {
		m = max(m, pm)
	}
	return m
}

// finish writes every interval of s up to the one holding minute.
func (lg *Logger) finish(s *logState, minute uint32) error {
	end := (minute/s.interval + 1) * s.interval
	return lg.advance(s, end)
}

// Reconfigure replaces the flow logs with those of l, as if they were
// deleted and created (AWS's flow logs cannot be changed): a flow log whose
// definition (and the VPC's account and region) is unchanged goes on; one
// deleted has its records written up to now (the last Tick), the interval
// under way included, and its file closed; one created starts with the
// next interval (AWS too takes a while to start a new flow log), or with
// the first Tick if there was none. Apply l to the dataplane engine first:
// interfaces are mapped to ports as in New. The packet path picks up the
// new flow logs at its next Begin. A flow log that does not compile leaves
// everything as it was.
func (lg *Logger) Reconfigure(l *lab.Lab) error {
	lg.mu.Lock()
	defer lg.mu.Unlock()
	if lg.closed {
		return errors.New("flowlog: Reconfigure after Close")
	}
	cfg, logs, err := lg.compile(l, lg.port, lg.cur.gen+1)
	if err != nil {
		return err
	}
	// The new flow logs' destinations must be usable before anything is
	// published: a refused change leaves everything as it was.
	kept := map[string]*logState{}
	for _, o := range lg.logs {
		kept[o.def.ID] = o
	}
	for _, s := range logs {
		if o := kept[s.def.ID]; o != nil && sameLog(o, s) {
			continue
		}
		if err := s.sink.prepare(); err != nil {
			return err
		}
	}
	// Publish, then collect: a batch that began under the old config has
	// ended when collect returns, so the shards' active buffers hold only
	// records of the new one (each record carries its config's generation
	// until then).
	lg.prev, lg.cur = lg.cur, cfg
	lg.cfg.Store(cfg)
	lg.collect()
	errs := []error{lg.writeLate()}

	old := map[string]*logState{}
	for _, s := range lg.logs {
		old[s.def.ID] = s
	}
	for i, s := range logs {
		if o := old[s.def.ID]; o != nil && sameLog(o, s) {
			o.enis, o.covers, o.vpc4, o.vpc6 = s.enis, s.covers, s.vpc4, s.vpc6
			logs[i] = o
			delete(old, s.def.ID)
			continue
		}
		if lg.ticked {
			s.started = true
			s.next = (lg.last/s.interval + 1) * s.interval
			s.first = s.next
		}
	}
	for _, o := range lg.logs {
		if old[o.def.ID] == o {
			if o.started {
				errs = append(errs, lg.finish(o, lg.lastMinute(lg.last)))
			}
			errs = append(errs, o.sink.close())
		}
	}
	lg.logs = logs
	lg.prune()
	return errors.Join(errs...)
}

// sameLog reports whether two flow logs are one: same definition and the
// same account and region.
func sameLog(a, b *logState) bool {
	x, y := a.def, b.def
	x.Line, y.Line = 0, 0
	return x == y && a.account == b.account && a.region == b.region
}
