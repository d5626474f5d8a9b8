package flowlog

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/vpclab/vpclab/verdict"
)

// The collector's side: merging the shards' entries into minutes, writing
// intervals, late records and pruning. It runs under Logger.mu.

// begin starts every flow log that has not started: at the interval of its
// earliest pending record, or of now.
func (lg *Logger) begin(wall int64) {
	m := uint32(wall / int64(time.Minute))
	if !lg.ticked {
		for pm := range lg.pending {
			m = min(m, pm)
		}
	}
	for _, s := range lg.logs {
		if !s.started {
			s.started = true
			s.next = m / s.interval * s.interval
			s.first = s.next
		}
	}
	lg.ticked = true
	lg.last = uint32(wall / int64(time.Minute))
}

// collect reads every shard's buffer into the pending minutes.
func (lg *Logger) collect() {
	for _, sh := range lg.shards {
		b := sh.collect()
		for _, i := range b.used {
			lg.absorb(&b.slots[i])
		}
		for _, p := range b.lostUsed {
			lg.absorbLost(p, &b.lost[p])
		}
		b.reset()
	}
}

// eni returns the interface a record of config generation gen at port p
// is for.
func (lg *Logger) eni(gen uint16, p verdict.Port) *eniInfo {
	for _, c := range []*config{lg.cur, lg.prev} {
		if c != nil && c.gen == gen && p >= 0 && int(p) < len(c.enis) {
			return c.enis[p]
		}
	}
	return nil
}

// absorb adds a shard's entry to its minute, or, for the flow logs that
// have written that minute already, to the late records.
func (lg *Logger) absorb(e *entry) {
	k := &e.key
	info := lg.eni(k.gen(), k.port())
	if info == nil {
		return
	}
	ak := aggKey{eni: info.id, egress: k.egress(), reject: k.reject(),
		src: unpackAddr(k[0], k[1], k.ipv6()), dst: unpackAddr(k[2], k[3], k.ipv6()),
		sport: k.sport(), dport: k.dport(), proto: k.proto()}
	a := agg{eni: info, packets: e.packets, bytes: e.bytes, first: e.first, last: e.last, tcpFlags: e.tcpFlags}
	m := k.minute()
	open := false
	for _, s := range lg.logs {
		if !s.covers[info.id] || (s.started && m < s.first) {
			continue
		}
		if s.started && m < s.next {
			if s.wants(ak.reject) {
				lg.addLate(s, ak, &a)
			}
			continue
		}
		open = true
	}
	if !open {
		return
	}
	md := lg.minute(m)
	md.seen[info.id] = true
	if p := md.flows[ak]; p != nil {
		p.merge(&a)
		return
	}
	if lg.npending >= lg.opts.MaxPending {
		lg.stats.SkippedPackets += a.packets
		lg.addLost(md, info.id, ak.reject, a.packets)
		return
	}
	md.flows[ak] = &a
	lg.npending++
}

// absorbLost adds the packets a shard lost to capacity at port p.
func (lg *Logger) absorbLost(p int32, l *lostPackets) {
	for j := range 2 {
		if l.minute[j] == 0 {
			continue
		}
		lg.stats.SkippedPackets += l.accept[j] + l.reject[j]
		info := lg.eni(l.gen[j], verdict.Port(p))
		if info == nil {
			continue
		}
		md := lg.minute(l.minute[j] - 1)
		md.seen[info.id] = true
		lg.addLost(md, info.id, false, l.accept[j])
		lg.addLost(md, info.id, true, l.reject[j])
	}
}

func (lg *Logger) addLost(md *minuteData, eni string, reject bool, packets uint64) {
	if packets == 0 {
		return
	}
	c := md.lost[eni]
	if c == nil {
		c = new([2]uint64)
		md.lost[eni] = c
	}
	if reject {
		c[1] += packets
	} else {
		c[0] += packets
	}
}

func (lg *Logger) minute(m uint32) *minuteData {
	md := lg.pending[m]
	if md == nil {
		md = &minuteData{flows: map[aggKey]*agg{}, seen: map[string]bool{}, lost: map[string]*[2]uint64{}}
		lg.pending[m] = md
	}
	return md
}

func (lg *Logger) addLate(s *logState, k aggKey, a *agg) {
	m := lg.late[s]
	if m == nil {
		m = map[aggKey]*agg{}
		lg.late[s] = m
	}
	if p := m[k]; p != nil {
		p.merge(a)
		return
	}
	c := *a
	m[k] = &c
}

func (s *logState) wants(reject bool) bool {
	if reject {
		return s.reject
	}
	return s.accept
}

// advance writes the intervals of s that end at or before minute end.
func (lg *Logger) advance(s *logState, end uint32) error {
	var errs []error
	for s.started && s.next+s.interval <= end {
		recs := lg.interval(s, s.next)
		s.next += s.interval
		errs = append(errs, s.sink.write(recs, &lg.stats))
		if err := s.sink.closeBefore(int64(s.next) * 60); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// interval returns the records of s for the interval starting at minute
// start: its flows, and NODATA or SKIPDATA for its interfaces.
func (lg *Logger) interval(s *logState, start uint32) []record {
	flows := map[aggKey]*agg{}
	seen := map[string]bool{}
	lost := map[string]uint64{}
	for m := start; m < start+s.interval; m++ {
		md := lg.pending[m]
		if md == nil {
			continue
		}
		for k, a := range md.flows {
			if !s.covers[k.eni] || !s.wants(k.reject) {
				continue
			}
			if p := flows[k]; p != nil {
				p.merge(a)
			} else {
				c := *a
				flows[k] = &c
			}
		}
		for id := range md.seen {
			seen[id] = true
		}
		for id, c := range md.lost {
			if s.accept {
				lost[id] += c[0]
			}
			if s.reject {
				lost[id] += c[1]
			}
		}
	}
	recs := make([]record, 0, len(flows)+len(s.enis))
	for k, a := range flows {
		recs = append(recs, lg.record(s, k, a, false))
	}
	first := int64(start) * 60
	last := int64(start+s.interval)*60 - 1
	for _, e := range s.enis {
		switch {
		case lost[e.id] > 0:
			recs = append(recs, record{eni: e, status: statusSkipData, start: first, end: last})
		case !seen[e.id]:
			recs = append(recs, record{eni: e, status: statusNoData, start: first, end: last})
		}
	}
	return recs
}

// writeLate writes the late records collected since the last call.
func (lg *Logger) writeLate() error {
	var errs []error
	for _, s := range lg.logs {
		m := lg.late[s]
		if len(m) == 0 {
			continue
		}
		recs := make([]record, 0, len(m))
		for k, a := range m {
			recs = append(recs, lg.record(s, k, a, true))
		}
		errs = append(errs, s.sink.write(recs, &lg.stats))
	}
	clear(lg.late)
	return errors.Join(errs...)
}

// record makes the record of a summed flow.
func (lg *Logger) record(s *logState, k aggKey, a *agg, late bool) record {
	r := record{eni: a.eni, status: statusOK, egress: k.egress, reject: k.reject,
		src: k.src, dst: k.dst, sport: k.sport, dport: k.dport, proto: k.proto,
		tcpFlags: a.tcpFlags, packets: a.packets, bytes: a.bytes,
		start: lg.unix(a.first), end: lg.unix(a.last), late: late}
	if k.egress {
		switch {
		case s.vpc4.Contains(k.dst) || (s.vpc6.IsValid() && s.vpc6.Contains(k.dst)):
			r.trafficPath = pathSameVPC
		case k.dst.IsGlobalUnicast():
			// Outside the VPC: the internet gateway is the only way out.
			r.trafficPath = pathInternet
		}
	}
	return r
}

// unix converts a time on the packets' clock to Unix seconds.
func (lg *Logger) unix(t int64) int64 {
	w := lg.epoch + t
	if w < 0 {
		return (w - int64(time.Second) + 1) / int64(time.Second)
	}
	return w / int64(time.Second)
}

// prune drops the pending minutes every flow log has written.
func (lg *Logger) prune() {
	if !lg.ticked {
		return
	}
	var frontier uint32
	first := true
	for _, s := range lg.logs {
		if first || s.next < frontier {
			frontier, first = s.next, false
		}
	}
	for m, md := range lg.pending {
		if first || m < frontier {
			lg.npending -= len(md.flows)
			delete(lg.pending, m)
		}
	}
}

// compareRecords orders the records of a file: by file period (end time),
// interface, status, start, direction, action and flow, so that the same
// packets always give the same bytes.
func compareRecords(a, b *record) int {
	return cmp.Or(
		cmp.Compare(a.end/filePeriod, b.end/filePeriod),
		cmp.Compare(a.eni.id, b.eni.id),
		cmp.Compare(a.status, b.status),
		cmp.Compare(a.start, b.start),
		compareBool(a.egress, b.egress),
		compareBool(a.reject, b.reject),
		cmp.Compare(a.proto, b.proto),
		a.src.Compare(b.src),
		a.dst.Compare(b.dst),
		cmp.Compare(a.sport, b.sport),
		cmp.Compare(a.dport, b.dport),
		cmp.Compare(a.end, b.end),
		cmp.Compare(a.packets, b.packets),
		cmp.Compare(a.bytes, b.bytes),
	)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func sortRecords(recs []record) {
	slices.SortFunc(recs, func(a, b record) int { return compareRecords(&a, &b) })
}
