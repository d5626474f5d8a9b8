// Package dataplane runs the packet path of spec §5 over a compiled policy:
// parse, source/destination check, exemptions, the sender's security group,
// the network ACLs of the subnets crossed, the receiver's security group,
// the conntrack allowance and the route. It holds the per-ENI connection
// tracking tables across policy changes. Model in, verdict.Verdict out: it
// must not import YAML, gVisor's netstack (header views are fine), the
// live lab's devices and services, or the reference evaluator that checks
// it; naming a packet's ends for users is explain/resolve's.
//
// The packet path takes no lock and allocates nothing: it loads the current
// Snapshot once per packet (or batch) through an atomic pointer, and Apply
// publishes a new one without ever blocking it.
package dataplane

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/classify"
	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
	"github.com/vpclab/vpclab/verdict"
)

// Engine judges packets against the policy in force.
type Engine struct {
	snap    atomic.Pointer[Snapshot]
	stopped stopFlags  // not policy: outlives every snapshot
	mu      sync.Mutex // serialises Apply
	st      state
	gen     uint32 // the generation of the last snapshot: 1..maxGen
	frags   fragTable
}

// New returns an engine enforcing l, which must come from labfile.Load or
// labfile.Parse (valid and complete).
func New(l *lab.Lab) *Engine {
	e := &Engine{st: state{slots: map[string]verdict.Port{}, allowances: map[string]*conntrack.Allowance{}}}
	e.Apply(l, 0)
	return e
}

// Apply replaces the policy with l at once: the next packet is judged by
// l, never by a mix. Tracked flows of ENIs that remain keep their entries
// (spec §3.5); untracked flows and NACLs see the new rules at once. now is
// the time on the packets' clock: flows that have expired by then stay
// expired even if l gives their ENI longer timeouts.
func (e *Engine) Apply(l *lab.Lab, now int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apply(l, now)
}

// PartitionTable gives the ENI at port p a conntrack table of parts parts
// (conntrack.NewPartitionedTable) from now on, so that several cores can
// insert its flows without queueing on one writer lock: a replay's
// workers when one ENI has too many packets for one core. It replaces
// only a table that holds no flow yet (and has another number of parts),
// and reports whether it did; the policy stays as it is.
func (e *Engine) PartitionTable(p verdict.Port, parts int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.snap.Load()
	ep := s.eni(p)
	if ep == nil || ep.table.Len() != 0 || ep.table.Parts() == conntrack.PartCount(parts) {
		return false
	}
	if e.st.parts == nil {
		e.st.parts = map[string]int{}
	}
	e.st.parts[ep.id] = parts
	e.apply(s.Lab, 0)
	return true
}

func (e *Engine) apply(l *lab.Lab, now int64) {
	s, p := compile(l, &e.st)
	p.commit(&e.st, now)
	if e.gen == maxGen {
		// Generations wrap: no cached NACL verdict may outlive its own.
		for _, t := range e.st.tables {
			t.ClearTags()
		}
		e.gen = 0
	}
	e.gen++
	s.gen = e.gen
	s.stopped = &e.stopped
	e.snap.Store(s)
}

// MaxStoppable is how many ENI ports SetStopped can stop: the first
// MaxStoppable slots.
const MaxStoppable = 1 << 14

// stopFlags says which ENI ports belong to stopped instances, by slot,
// and how many are: while none is, a packet reads one word, not the
// flags of its two ENIs.
type stopFlags struct {
	n     atomic.Int32
	ports [MaxStoppable]atomic.Bool
}

// any reports whether some port may be stopped.
func (f *stopFlags) any() bool { return f != nil && f.n.Load() != 0 }

func (f *stopFlags) get(p verdict.Port) bool {
	return f != nil && p >= 0 && p < MaxStoppable && f.ports[p].Load()
}

// SetStopped marks the ENI at port p stopped (its instance is off: the
// engine drops every packet from it or to it, with code INSTANCE_STOPPED,
// and makes no conntrack entry for them) or running again. It returns the
// previous state, and false for a port it cannot mark.
func (e *Engine) SetStopped(p verdict.Port, stopped bool) (previous, ok bool) {
	if p < 0 || p >= MaxStoppable {
		return false, false
	}
	previous = e.stopped.ports[p].Swap(stopped)
	// The count follows the flag (each change is made by one Swap): a
	// packet that reads it before the change is judged as if before it.
	switch {
	case stopped && !previous:
		e.stopped.n.Add(1)
	case !stopped && previous:
		e.stopped.n.Add(-1)
	}
	return previous, true
}

// Stopped reports whether the ENI at port p is marked stopped: false for
// any port SetStopped cannot mark. It takes no lock.
func (e *Engine) Stopped(p verdict.Port) bool { return e.stopped.get(p) }

// Snapshot returns the policy in force.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Port returns the port of the ENI with the given id.
func (e *Engine) Port(eniID string) (verdict.Port, bool) { return e.snap.Load().Port(eniID) }

// Port returns the port of the ENI with the given id.
func (s *Snapshot) Port(eniID string) (verdict.Port, bool) {
	for _, p := range s.enis {
		if p != nil && p.id == eniID {
			return p.slot, true
		}
	}
	return verdict.PortNone, false
}

// Owner returns the port address a belongs to: the ENI that owns it, the
// VPC's services, PortNone for any other address of the VPC's CIDRs, or
// PortInternet for an address outside them.
func (s *Snapshot) Owner(a netip.Addr) verdict.Port {
	if d, ok := s.dests.get(a); ok {
		switch d.kind {
		case destENI:
			return d.slot
		case destService:
			return verdict.PortService
		}
	}
	if s.inVPC(a) {
		return verdict.PortNone
	}
	return verdict.PortInternet
}

// Addrs returns the addresses of the ENI at port p (nil for any other
// port). The caller must not modify them.
func (s *Snapshot) Addrs(p verdict.Port) []netip.Addr {
	if ep := s.eni(p); ep != nil {
		return ep.addrs
	}
	return nil
}

// SourcePort returns where a packet with source address src enters: the
// ENI that owns the address, the VPC's services, or the internet gateway.
func (e *Engine) SourcePort(src netip.Addr) verdict.Port { return e.snap.Load().SourcePort(src) }

// SourcePort returns where a packet with source address src enters: the
// ENI that owns the address, the VPC's services, or the internet gateway.
func (s *Snapshot) SourcePort(src netip.Addr) verdict.Port {
	d, ok := s.dests.get(src)
	switch {
	case ok && d.kind == destENI:
		return d.slot
	case ok && d.kind == destService:
		return verdict.PortService
	}
	return verdict.PortInternet
}

// PortName returns the ENI id of an ENI port, or "internet" / "vpc-service".
func (s *Snapshot) PortName(p verdict.Port) string {
	switch p {
	case verdict.PortInternet:
		return "internet"
	case verdict.PortService:
		return "vpc-service"
	case verdict.PortNone:
		return "-"
	}
	if ep := s.eni(p); ep != nil {
		return ep.id
	}
	return "-"
}

// Table returns the conntrack table of an ENI port, or nil.
func (s *Snapshot) Table(p verdict.Port) *conntrack.Table {
	if ep := s.eni(p); ep != nil {
		return ep.table
	}
	return nil
}

// Allowance returns the conntrack allowance of the instance owning an ENI
// port, or nil.
func (s *Snapshot) Allowance(p verdict.Port) *conntrack.Allowance {
	if ep := s.eni(p); ep != nil {
		return ep.allowance
	}
	return nil
}

func (s *Snapshot) eni(p verdict.Port) *eniPolicy {
	if p < 0 || int(p) >= len(s.enis) {
		return nil
	}
	return s.enis[p]
}

// Process judges one raw IP packet b entering at port from, at time now
// (nanoseconds on the caller's clock: monotonic time when live, the
// capture's timestamps in replay, a virtual clock in tests), and writes
// the verdict to v. It creates the conntrack entries a delivered packet
// needs. It allocates nothing unless v.Trace is set.
func (e *Engine) Process(from verdict.Port, b []byte, now int64, v *verdict.Verdict) {
	var p packet.Parsed
	e.ProcessParsed(from, b, now, v, &p)
}

// ProcessParsed is Process that leaves the parsed packet in p for the
// caller's taps (flow logs, mirroring), so that they need not parse it
// again. p is valid unless the verdict's stage is StageParse.
func (e *Engine) ProcessParsed(from verdict.Port, b []byte, now int64, v *verdict.Verdict, p *packet.Parsed) {
	s := e.snap.Load()
	tr := v.Trace
	*v = verdict.Verdict{From: from, To: verdict.PortNone, Trace: tr}
	if r := p.Decode(b); r != packet.OK {
		v.Parse = r
		v.Deny(verdict.StageParse, verdict.CodeMalformed)
		return
	}
	if p.IsLaterFragment() {
		e.frags.follow(p, now, v)
		return
	}
	var k flowKey
	s.judge(from, p, b, now, v, &k)
	if p.IsFirstFragment() {
		e.frags.store(p, v, now+s.fragTTL)
	}
}

// flowKey is a packet's conntrack key, packed and hashed once for both
// of its tables.
type flowKey struct {
	pk     conntrack.Packed
	fromLo bool
	// ready: pk and fromLo hold the key of the packet (ProcessBatch made
	// it while reading ahead); judge makes it otherwise.
	ready bool
	// prefetched: ProcessBatch has started the tables' reads for it.
	prefetched bool
	// stage is what ProcessBatch's last pass does with the packet.
	stage batchStage
	// srcTable and dstTable are the sender's table and the receiver's if
	// it is another ENI's (nil if none): ProcessBatch reads ahead in them.
	srcTable, dstTable *conntrack.Table
	// dstOf, when not nil, is the snapshot whose table of destinations
	// gave dst and dstFound for the packet's destination address
	// (ProcessBatch looked it up while reading ahead).
	dstOf    *Snapshot
	dst      dest
	dstFound bool
}

type batchStage uint8

const (
	batchJudge     batchStage = iota // judge it
	batchMalformed                   // its verdict is made: the parser refused it
	batchFollow                      // a later fragment: follows its first
)

// BatchSize is how many packets ProcessBatch reads ahead for at a time:
// enough that a batch's cache misses overlap one another, few enough
// that the lines fetched first are still in the caches when their
// packet is judged.
const BatchSize = 64

// parsingAhead, entryAhead and chainAhead are how many packets before its
// own judging ProcessBatch parses a packet and starts reading its
// conntrack bucket heads, starts reading the entries those name, and the
// second entries of chains whose first holds another flow: each far
// enough that the lines arrive while the packets in between are judged
// (some 60 ns each), so that a batch's misses are spread over its judging
// rather than issued in bursts that fill the CPU's miss buffers.
const (
	parsingAhead = 16
	entryAhead   = 8
	chainAhead   = 4
)

// ProcessBatch judges the raw IP packets pkts, all entering at port from
// at time now, as ProcessParsed would one after another (same verdicts,
// same conntrack entries, in the same order), writing pkts[i]'s verdict
// to vs[i] and its parsed form to ps[i]; vs and ps must be at least as
// long as pkts. It works through BatchSize packets at a time as a
// pipeline: while it judges each packet, it parses and hashes the packet
// parsingAhead places on and starts the reads of its bucket heads in the
// sender's and receiver's tables, starts reading the entries of the
// packet entryAhead places on (and the chains' second entries chainAhead
// on), so that the cache misses of a large table overlap the judging of
// the packets before instead of coming one after another: a packet of an
// established flow between two ENIs costs four of them otherwise.
// It allocates nothing unless a verdict's Trace is set, and takes no lock
// a single ProcessParsed would not.
func (e *Engine) ProcessBatch(from verdict.Port, pkts [][]byte, now int64, vs []verdict.Verdict, ps []packet.Parsed) {
	var froms [BatchSize]verdict.Port
	var nows [BatchSize]int64
	for i := range froms {
		froms[i], nows[i] = from, now
	}
	for base := 0; base < len(pkts); base += BatchSize {
		n := min(BatchSize, len(pkts)-base)
		e.processBatch(froms[:n], pkts[base:base+n], nows[:n], vs[base:base+n], ps[base:base+n])
	}
}

// ProcessEach is ProcessBatch for packets that each enter at a port and
// time of their own: pkts[i] enters at from[i] at now[i], as
// ProcessParsed(from[i], pkts[i], now[i], &vs[i], &ps[i]) would judge it,
// one packet after another in slice order. from, now, vs and ps must be
// at least as long as pkts. Replay judges a capture's packets this way,
// each at its own timestamp. It allocates nothing unless a verdict's
// Trace is set.
func (e *Engine) ProcessEach(from []verdict.Port, pkts [][]byte, now []int64, vs []verdict.Verdict, ps []packet.Parsed) {
	for base := 0; base < len(pkts); base += BatchSize {
		n := min(BatchSize, len(pkts)-base)
		e.processBatch(from[base:base+n], pkts[base:base+n], now[base:base+n], vs[base:base+n], ps[base:base+n])
	}
}

// processBatch judges at most BatchSize packets: pkts[i] entering at
// from[i] at now[i], as the pipeline ProcessBatch describes.
func (e *Engine) processBatch(from []verdict.Port, pkts [][]byte, now []int64, vs []verdict.Verdict, ps []packet.Parsed) {
	var keys [BatchSize]flowKey
	n := len(pkts)
	from, now, vs, ps = from[:n], now[:n], vs[:n], ps[:n]
	s := e.snap.Load() // for the read-ahead only
	for i := range min(parsingAhead, n) {
		parseAhead(s, from[i], pkts[i], &vs[i], &ps[i], &keys[i])
	}
	for i := range min(entryAhead, n) {
		keys[i].prefetchEntry()
	}
	for i := range min(chainAhead, n) {
		keys[i].prefetchChain()
	}
	for i := range n {
		if j := i + parsingAhead; j < n {
			parseAhead(s, from[j], pkts[j], &vs[j], &ps[j], &keys[j])
		}
		if j := i + entryAhead; j < n {
			keys[j].prefetchEntry()
		}
		if j := i + chainAhead; j < n {
			keys[j].prefetchChain()
		}
		p, v, k := &ps[i], &vs[i], &keys[i]
		switch k.stage {
		case batchMalformed:
			continue
		case batchFollow:
			e.frags.follow(p, now[i], v)
			continue
		}
		// The policy in force now, as ProcessParsed would: the read
		// ahead is only a hint, which a policy change cannot make wrong
		// (the key depends on the packet alone, and judge looks the
		// destination up again unless it came from this snapshot).
		js := e.snap.Load()
		js.judge(from[i], p, pkts[i], now[i], v, k)
		if p.IsFirstFragment() {
			e.frags.store(p, v, now[i]+js.fragTTL)
		}
	}
}

// parseAhead is processBatch's first step for a packet b entering at
// from, under snapshot s: it resets the verdict v, parses b into p, makes
// the key k, looks the destination up, notes the sender's and receiver's
// tables, and starts the reads of their bucket heads. (The pieces are
// arguments, not a struct: a struct holding both the snapshot and the
// batch's keys would move the keys to the heap.)
func parseAhead(s *Snapshot, from verdict.Port, b []byte, v *verdict.Verdict, p *packet.Parsed, k *flowKey) {
	*v = verdict.Verdict{From: from, To: verdict.PortNone, Trace: v.Trace}
	k.ready, k.prefetched, k.stage, k.srcTable, k.dstTable, k.dstOf = false, false, batchJudge, nil, nil, nil
	if r := p.Decode(b); r != packet.OK {
		v.Parse = r
		v.Deny(verdict.StageParse, verdict.CodeMalformed)
		k.stage = batchMalformed
		return
	}
	if p.IsLaterFragment() {
		k.stage = batchFollow
		return
	}
	k.fromLo = k.pk.Set(p.Src, p.Dst, p.Proto, p.SrcPort, p.DstPort, p.ICMPType, p.ICMPCode, p.ICMPID)
	k.ready, k.prefetched = true, true
	if src := s.eni(from); src != nil {
		k.srcTable = src.table
		k.srcTable.PrefetchBucket(&k.pk)
	}
	d, ok := s.dests.get(p.Dst)
	k.dstOf, k.dst, k.dstFound = s, d, ok
	if ok && d.kind == destENI {
		if dst := s.enis[d.slot]; dst != nil && dst.table != k.srcTable {
			k.dstTable = dst.table
			k.dstTable.PrefetchBucket(&k.pk)
		}
	}
}

// prefetchEntry starts reading the first entries of k's chains in the
// sender's and receiver's tables, whose bucket heads parseAhead read.
func (k *flowKey) prefetchEntry() {
	if !k.ready {
		return
	}
	if k.srcTable != nil {
		k.srcTable.PrefetchEntry(&k.pk)
	}
	if k.dstTable != nil {
		k.dstTable.PrefetchEntry(&k.pk)
	}
}

// prefetchChain starts reading the second entries of k's chains whose
// first, which prefetchEntry read, holds another flow.
func (k *flowKey) prefetchChain() {
	if !k.ready {
		return
	}
	if k.srcTable != nil {
		k.srcTable.PrefetchChain(&k.pk)
	}
	if k.dstTable != nil {
		k.dstTable.PrefetchChain(&k.pk)
	}
}

// judge runs the stages of spec §5 on a parsed packet (b is its bytes,
// which an ICMP error's quoted header is read from) and writes the verdict.
//
// k is the packet's flow key if k.ready; judge makes it otherwise.
func (s *Snapshot) judge(from verdict.Port, p *packet.Parsed, b []byte, now int64, v *verdict.Verdict, k *flowKey) {
	src, ok := s.source(from, p, v)
	if !ok {
		return
	}
	dst, dstSubnet, ok := s.route(from, p, v, k)
	if !ok {
		return
	}
	// A stopped instance neither sends nor receives (live labs).
	if s.stopped.any() && ((src != nil && s.stopped.get(src.slot)) || (dst != nil && s.stopped.get(dst.slot))) {
		v.Deny(verdict.StageRoute, verdict.CodeInstanceStopped)
		return
	}
	if !s.ppsAdmit(src, dst, now, v) { // pps.go
		return
	}

	// Exempt traffic: between an ENI and the VPC's own services (§6).
	if v.To == verdict.PortService || from == verdict.PortService {
		if (from >= 0 && v.To == verdict.PortService) || (from == verdict.PortService && v.To >= 0) {
			v.Pass(verdict.StageExempt, verdict.CodeExempt)
			v.Allowed = true
			return
		}
		v.Deny(verdict.StageRoute, verdict.CodeCannotRoute)
		return
	}
	switch {
	case from == verdict.PortInternet && v.To == verdict.PortInternet:
		v.Deny(verdict.StageRoute, verdict.CodeCannotRoute)
		return
	case from == verdict.PortInternet && !s.subnets[dstSubnet].public,
		v.To == verdict.PortInternet && !s.subnets[src.subnet].public:
		v.Deny(verdict.StageRoute, verdict.CodeNoInternetGateway)
		return
	}
	if p.TTL <= 1 {
		v.Deny(verdict.StageRoute, verdict.CodeTTLExceeded)
		return
	}

	f := famIdx(p.Src)
	val := classify.PacketValue(p.Proto, p.DstPort, p.ICMPType, p.ICMPCode)
	if !k.ready {
		k.fromLo = k.pk.Set(p.Src, p.Dst, p.Proto, p.SrcPort, p.DstPort, p.ICMPType, p.ICMPCode, p.ICMPID)
		k.ready = true
	}
	pk, fromLo := &k.pk, k.fromLo // the flow key, packed and hashed once for both tables
	var needSrc, needDst, srcHit bool
	var srcRef conntrack.Ref // the sender's entry, when one passed the packet
	if src != nil && dst != nil && dst != src && !k.prefetched {
		// The receiver's table is read next: start its cache misses now,
		// to overlap the sender's.
		dst.table.Prefetch(pk)
	}
	if src != nil {
		// A live entry passes the packet whatever the rules say (§3.1).
		if srcRef, srcHit = src.table.Lookup(pk, fromLo, p.TCPFlags, now); srcHit {
			conntrackPass(v, verdict.StageSGEgress, src.id)
		} else if ok, need := s.sgRules(src, verdict.Egress, f, p, b, val, now, v); ok {
			needSrc = need
		} else {
			return
		}
	}

	srcSubnet := int32(-1)
	if src != nil {
		srcSubnet = src.subnet
	}
	if srcSubnet != dstSubnet {
		// Between two ENIs, a tracked flow keeps the NACLs' verdict for
		// its direction in the sender's entry, valid for this snapshot's
		// generation only. The flow key holds every field a NACL entry
		// reads (addresses, protocol, destination port) except ICMP's type
		// and code, so ICMP is never cached.
		cache := srcHit && dst != nil && v.Trace == nil && p.Proto != packet.ProtoICMP && p.Proto != packet.ProtoICMPv6
		tag, bit := srcRef.Tag(), uint32(naclPassHi)
		if fromLo {
			bit = naclPassLo
		}
		if cache && tag>>naclGenShift == s.gen && tag&bit != 0 {
			v.ENI, v.SG, v.ACL, v.NACLRule = "", nil, s.subnets[dstSubnet].acl, 0
			v.Stage, v.Code = verdict.StageNACLIngress, verdict.CodeNACLAllow
		} else {
			if srcSubnet >= 0 && !s.naclStage(s.subnets[srcSubnet], true, f, p.Proto, p.Dst, val, v) {
				return
			}
			if dstSubnet >= 0 && !s.naclStage(s.subnets[dstSubnet], false, f, p.Proto, p.Src, val, v) {
				return
			}
			if cache {
				if tag>>naclGenShift != s.gen {
					tag = s.gen << naclGenShift
				}
				srcRef.SetTag(tag | bit)
			}
		}
	} else if v.Trace != nil {
		v.Trace.Add(verdict.Step{Stage: verdict.StageNACLEgress, Pass: true, Code: verdict.CodeSameSubnet, ACL: s.subnets[srcSubnet].acl})
	}

	switch {
	case dst != nil && dst == src && srcHit:
		// A packet to its own ENI: one table, one entry, already advanced.
		conntrackPass(v, verdict.StageSGIngress, dst.id)
	case dst != nil:
		if _, hit := dst.table.Lookup(pk, fromLo, p.TCPFlags, now); hit {
			conntrackPass(v, verdict.StageSGIngress, dst.id)
		} else if ok, need := s.sgRules(dst, verdict.Ingress, f, p, b, val, now, v); ok {
			needDst = need
		} else {
			return
		}
	}

	// Entries are made only for packets actually delivered (§3.9), and
	// only while the instance's allowance lasts (§3.7). A packet to its
	// own ENI needs one entry.
	if src == dst && needSrc {
		needDst = false
	}
	if (needSrc && src.allowance.Available() < 2) || (needDst && dst.allowance.Available() < 2) {
		if !reserve(src, dst, needSrc, needDst, pk, now, v) {
			return
		}
	}
	// Insert can still fail if a concurrent packet took the last place
	// since reserve. Then the packet is dropped; if the receiver's entry
	// was made already, it stays until it expires (a race only when an
	// allowance is down to its last places).
	if needDst && !dst.table.Insert(pk, fromLo, p.TCPFlags, now) {
		denyAllowance(v, dst)
		return
	}
	if needSrc && !src.table.Insert(pk, fromLo, p.TCPFlags, now) {
		denyAllowance(v, src)
		return
	}
	v.Allowed = true
}

// denyAllowance drops a packet for want of conntrack allowance on e (§3.7).
func denyAllowance(v *verdict.Verdict, e *eniPolicy) {
	e.allowance.NoteExceeded()
	v.ENI, v.SG, v.ACL, v.NACLRule = e.id, nil, "", 0
	v.Deny(verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded)
}

// conntrackPass records that a conntrack entry on eni passed the packet.
func conntrackPass(v *verdict.Verdict, stage verdict.Stage, eni string) {
	v.ENI, v.SG, v.ACL, v.NACLRule = eni, nil, "", 0
	v.Pass(stage, verdict.CodeConntrack)
}

// source finds the ENI a packet entering at from was sent by (nil from the
// internet or the services) and checks that it may send from p.Src (§5.2).
func (s *Snapshot) source(from verdict.Port, p *packet.Parsed, v *verdict.Verdict) (*eniPolicy, bool) {
	switch {
	case from >= 0:
		src := s.eni(from)
		if src == nil {
			v.Deny(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck)
			return nil, false
		}
		// A DHCP client asks before it has an address (from 0.0.0.0).
		dhcpDiscover := p.Src == unspecified4 && p.Dst == limitedBroadcast && isDHCPBroadcast(p.Proto, p.SrcPort, p.DstPort)
		if src.srcDstCheck && !src.owns(p.Src) && !dhcpDiscover {
			v.ENI = src.id
			v.Deny(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck)
			return nil, false
		}
		return src, true
	case from == verdict.PortInternet:
		if s.inVPC(p.Src) || s.IsServiceAddr(p.Src) {
			v.Deny(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck)
			return nil, false
		}
		return nil, true
	case from == verdict.PortService:
		if !s.IsServiceAddr(p.Src) { // a service speaks from its own address
			v.Deny(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck)
			return nil, false
		}
		return nil, true
	}
	v.Deny(verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck)
	return nil, false
}

// route finds where a packet goes and sets v.To: an ENI (returned with
// its subnet's index), the services or the internet; it drops what the VPC
// never delivers (broadcast, multicast, link-local, unassigned addresses).
//
// k.dst is the destination's entry in s.dests when k.dstOf is s.
func (s *Snapshot) route(from verdict.Port, p *packet.Parsed, v *verdict.Verdict, k *flowKey) (dst *eniPolicy, subnet int32, ok bool) {
	d, found := k.dst, k.dstFound
	if k.dstOf != s {
		d, found = s.dests.get(p.Dst)
	}
	if found {
		switch d.kind {
		case destENI:
			v.To = d.slot
			return s.enis[d.slot], d.subnet, true
		case destService:
			v.To = verdict.PortService
			return nil, -1, true
		}
		v.Deny(verdict.StageRoute, verdict.CodeNoBroadcast) // a subnet's last address
		return nil, -1, false
	}
	switch {
	case p.Dst == limitedBroadcast && from >= 0 && isDHCPBroadcast(p.Proto, p.SrcPort, p.DstPort):
		v.To = verdict.PortService
		return nil, -1, true
	case p.Dst == limitedBroadcast || p.Dst.IsMulticast():
		v.Deny(verdict.StageRoute, verdict.CodeNoBroadcast)
	case s.inVPC(p.Dst):
		v.Deny(verdict.StageRoute, verdict.CodeCannotRoute)
	case linkLocal4.Contains(p.Dst) || linkLocal6.Contains(p.Dst):
		v.Deny(verdict.StageRoute, verdict.CodeLinkLocal)
	default:
		v.To = verdict.PortInternet
		return nil, -1, true
	}
	return nil, -1, false
}

// sgRules runs an ENI's security group for one direction on a packet that
// no entry of the ENI passed: a rule must allow it (§2.1), and the flow
// then needs an entry unless it is untracked (§3.4).
func (s *Snapshot) sgRules(e *eniPolicy, dir verdict.Dir, f int, p *packet.Parsed, b []byte, val uint16, now int64, v *verdict.Verdict) (pass, needEntry bool) {
	stage, rules, peer := verdict.StageSGIngress, e.in[f], p.Src
	if dir == verdict.Egress {
		stage, rules, peer = verdict.StageSGEgress, e.out[f], p.Dst
	}
	// An ICMP error is not let in by the entry of the flow it quotes: it
	// is an ICMP packet like any other (§3.8), unless the setting admits
	// it as related traffic. That reads the entry and leaves it alone.
	if s.settings.AdmitRelatedICMP && isICMPError(p) {
		var qk conntrack.Packed
		if _, ok := quotedKey(p, b, &qk); ok {
			if _, live := e.table.Get(&qk, now); live {
				conntrackPass(v, stage, e.id)
				return true, false
			}
		}
	}
	// With untracked flows judged across groups, the lookup that finds
	// the rule also says whether an all-addresses rule allows the packet,
	// when that matters: when the other direction allows the protocol on
	// all ports from everywhere.
	var openSent bool
	across := s.settings.UntrackedAcrossGroups && (p.Proto == packet.ProtoTCP || p.Proto == packet.ProtoUDP)
	opp := &e.out[f].Open // the other direction's all-addresses rules
	if dir == verdict.Egress {
		opp = &e.in[f].Open
	}
	if across && opp.AllPorts(p.Proto) {
		v.SG, openSent = rules.MatchOpen(p.Proto, peer, val)
	} else {
		v.SG = rules.Match(p.Proto, peer, val)
	}
	v.ENI, v.ACL, v.NACLRule = e.id, "", 0
	if v.SG == nil {
		v.Deny(stage, verdict.CodeSGRulesMismatch)
		return false, false
	}
	var untracked bool
	if across {
		untracked = openAcross(e, dir, f, p, peer, openSent)
	} else {
		untracked = s.untracked(e, dir, f, p, peer)
	}
	v.Stage, v.Code = stage, verdict.CodeSGRuleMatch
	if v.Trace != nil {
		v.Trace.Add(verdict.Step{Stage: stage, Pass: true, Code: verdict.CodeSGRuleMatch, ENI: e.id, SG: v.SG, Untracked: untracked, NewEntry: !untracked})
	}
	return true, !untracked
}

// The NACL verdict cache in a conntrack entry's tag: the snapshot
// generation above naclGenShift, and a bit for each direction of the flow
// whose packets passed both NACLs in that generation.
const (
	naclPassLo   = 1 << 0 // packets from the key's Lo side pass
	naclPassHi   = 1 << 1 // packets from the Hi side pass
	naclGenShift = 2
	maxGen       = conntrack.TagMask >> naclGenShift
)

// untracked reports whether a TCP or UDP packet with no entry belongs to an
// untracked flow (§3.4): it qualifies as sent (an all-addresses rule of its
// direction allows it and the other direction allows the protocol on all
// ports from everywhere), or as the reply of such a flow.
func (s *Snapshot) untracked(e *eniPolicy, dir verdict.Dir, f int, p *packet.Parsed, peer netip.Addr) bool {
	if p.Proto != packet.ProtoTCP && p.Proto != packet.ProtoUDP {
		return false // ICMP is always tracked; other protocols too (§3.3)
	}
	own, opp := e.in[f], e.out[f]
	if dir == verdict.Egress {
		own, opp = opp, own
	}
	if s.settings.UntrackedAcrossGroups {
		return openFlow(&own.Open, &opp.Open, p, peer)
	}
	for g := range own.ByGroup {
		if openFlow(&own.ByGroup[g], &opp.ByGroup[g], p, peer) {
			return true
		}
	}
	return false
}

// openAcross is untracked for a TCP or UDP packet with the setting
// UntrackedAcrossGroups, given whether an all-addresses rule of its own
// direction allows it (openSent, from sg.Compiled.MatchOpen).
func openAcross(e *eniPolicy, dir verdict.Dir, f int, p *packet.Parsed, peer netip.Addr, openSent bool) bool {
	own, opp := &e.in[f].Open, &e.out[f].Open
	if dir == verdict.Egress {
		own, opp = opp, own
	}
	if openSent && opp.AllPorts(p.Proto) {
		return true // qualifies as sent
	}
	return own.AllPorts(p.Proto) && opp.Rules.Match(p.Proto, peer, p.SrcPort) >= 0 // as the reply
}

// openFlow tests the all-ports flags first: they are cheap, and most
// groups have no all-ports rule, so most first packets skip both lookups.
func openFlow(own, opp *sg.OpenSet, p *packet.Parsed, peer netip.Addr) bool {
	if opp.AllPorts(p.Proto) && own.Rules.Match(p.Proto, peer, p.DstPort) >= 0 {
		return true // qualifies as sent
	}
	return own.AllPorts(p.Proto) && opp.Rules.Match(p.Proto, peer, p.SrcPort) >= 0 // as the reply
}

// naclStage runs one direction of a subnet's network ACL.
func (s *Snapshot) naclStage(sn *subnetPolicy, out bool, f int, proto uint8, peer netip.Addr, val uint16, v *verdict.Verdict) bool {
	stage, c := verdict.StageNACLIngress, sn.in[f]
	if out {
		stage, c = verdict.StageNACLEgress, sn.out[f]
	}
	rule, allow := c.Match(proto, peer, val)
	v.ENI, v.SG, v.ACL, v.NACLRule = "", nil, sn.acl, rule
	if !allow {
		v.Deny(stage, verdict.CodeSubnetACLRestrict)
		return false
	}
	v.Pass(stage, verdict.CodeNACLAllow)
	return true
}

// reserve checks, when an allowance runs short, that the entries a
// delivered packet needs fit in its instances' allowances (§3.7), and
// drops the packet if not. An entry that exists already (a closed TCP
// entry a SYN reopens) needs no new place; the sender's and receiver's
// entries come out of one budget when one instance owns both ENIs.
func reserve(src, dst *eniPolicy, needSrc, needDst bool, k *conntrack.Packed, now int64, v *verdict.Verdict) bool {
	srcNew, dstNew := 0, 0
	if needSrc {
		if _, live := src.table.Get(k, now); !live {
			srcNew = 1
		}
	}
	if needDst {
		if _, live := dst.table.Get(k, now); !live {
			dstNew = 1
		}
	}
	if srcNew > 0 && !src.allowanceLeft(now, srcNew) {
		denyAllowance(v, src)
		return false
	}
	if dstNew > 0 {
		if needSrc && src.allowance == dst.allowance {
			dstNew += srcNew
		}
		if !dst.allowanceLeft(now, dstNew) {
			denyAllowance(v, dst)
			return false
		}
	}
	return true
}

// allowanceLeft reports whether the ENI's instance may track n more
// flows. Expired entries hold their place until a table removes them, so
// when too few are left it first reclaims the expired entries of every
// table of the instance (a rare path: the allowance is used up). A
// reclaim that leaves too few is not tried again for reclaimHoldoff of
// the packets' clock: under a flood of new flows past the allowance each
// packet is then refused at the cost of a load and a compare, not of a
// scan of the tables (1,024 slots and a lock each), and a place an entry
// frees by expiring is found within reclaimHoldoff.
func (e *eniPolicy) allowanceLeft(now int64, n int) bool {
	if e.allowance.Available() >= n {
		return true
	}
	if now < e.reclaimAfter.Load() {
		return false
	}
	for _, t := range e.instanceTables {
		t.Expire(now, reclaimBudget)
	}
	if e.allowance.Available() >= n {
		return true
	}
	e.reclaimAfter.Store(now + reclaimHoldoff)
	return false
}

// reclaimBudget bounds the expired entries removed per table when an
// instance's allowance runs out.
const reclaimBudget = 64

// reclaimHoldoff is how long, on the packets' clock, an ENI whose
// reclaim left its allowance short waits before the next.
const reclaimHoldoff = int64(time.Millisecond)

func (e *eniPolicy) owns(a netip.Addr) bool {
	for _, x := range e.addrs {
		if x == a {
			return true
		}
	}
	return false
}

func (s *Snapshot) inVPC(a netip.Addr) bool {
	return s.vpc4.Contains(a) || (s.vpc6.IsValid() && s.vpc6.Contains(a))
}
