package dataplane_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// sent is a packet and the port it enters at.
type sent struct {
	from verdict.Port
	pkt  []byte
}

// batchTraffic is a mix for ProcessBatch: flows opened and carried both
// ways (some closed again), denied packets, malformed ones, ICMP, and
// fragments (a first fragment and the later one that follows it).
func batchTraffic(t *testing.T, e *dataplane.Engine) []sent {
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	rng := rand.New(rand.NewPCG(5, 6))
	var out []sent
	for f := range 400 {
		sport := uint16(33000 + f%300) // some tuples come round again
		out = append(out,
			sent{pw, tcp(web, db, sport, 5432, packet.TCPSyn)},
			sent{pd, tcp(db, web, 5432, sport, packet.TCPSyn|packet.TCPAck)},
			sent{pw, tcp(web, db, sport, 5432, packet.TCPAck)},
			sent{pd, tcp(db, web, 5432, sport, packet.TCPAck)})
		switch rng.IntN(6) {
		case 0:
			out = append(out, sent{pw, tcp(web, db, sport, 22, packet.TCPSyn)}) // no rule
		case 1:
			out = append(out, sent{pw, tcp(web, db, sport, 5432, packet.TCPAck)[:15]}) // malformed
		case 2:
			out = append(out, sent{pw, tcp(web, db, sport, 5432, packet.TCPFin|packet.TCPAck)},
				sent{pd, tcp(db, web, 5432, sport, packet.TCPRst)})
		case 3:
			echo := packet.Spec{Src: web, Dst: db, Proto: packet.ProtoICMP, ICMPType: 8, ICMPID: sport}
			out = append(out, sent{pw, echo.Append(nil)})
		case 4:
			first := packet.Spec{Src: web, Dst: db, Proto: packet.ProtoTCP, SrcPort: sport, DstPort: 5432,
				TCPFlags: packet.TCPAck, FragID: uint32(f), MoreFrags: true, Payload: 16}
			later := packet.Spec{Src: web, Dst: db, Proto: packet.ProtoTCP, FragID: uint32(f), FragOffset: 40, Payload: 16}
			out = append(out, sent{pw, first.Append(nil)}, sent{pw, later.Append(nil)})
		case 5:
			out = append(out, sent{pd, tcp(db, web, 5432, sport, packet.TCPAck)}) // mid-stream
		}
	}
	return out
}

// ProcessBatch judges a batch as ProcessParsed would one packet after
// another: the same verdicts, parsed packets and conntrack entries, over
// batches of every size up to several times its read-ahead.
func TestProcessBatchMatchesProcessParsed(t *testing.T) {
	one, batched := dataplane.New(mustLab(t, twoTier)), dataplane.New(mustLab(t, twoTier))
	traffic := batchTraffic(t, one)
	rng := rand.New(rand.NewPCG(7, 8))
	var want, got []verdict.Verdict
	var wantP, gotP []packet.Parsed
	now := int64(1)
	for i := 0; i < len(traffic); {
		// A batch: a run of packets from one port, of random length.
		n := 1
		for limit := 1 + rng.IntN(3*dataplane.BatchSize); i+n < len(traffic) && n < limit && traffic[i+n].from == traffic[i].from; n++ {
		}
		pkts := make([][]byte, n)
		for j := range pkts {
			pkts[j] = traffic[i+j].pkt
		}
		for _, b := range pkts {
			var v verdict.Verdict
			var p packet.Parsed
			one.ProcessParsed(traffic[i].from, b, now, &v, &p)
			want, wantP = append(want, v), append(wantP, p)
		}
		vs, ps := make([]verdict.Verdict, n), make([]packet.Parsed, n)
		batched.ProcessBatch(traffic[i].from, pkts, now, vs, ps)
		got, gotP = append(got, vs...), append(gotP, ps...)
		i += n
		now += 7e6
	}
	allowed := 0
	for i := range want {
		if !sameVerdict(want[i], got[i]) {
			t.Fatalf("packet %d: ProcessBatch gave %+v, ProcessParsed %+v", i, got[i], want[i])
		}
		if want[i].Stage != verdict.StageParse && wantP[i] != gotP[i] {
			t.Fatalf("packet %d: parsed %+v, want %+v", i, gotP[i], wantP[i])
		}
		if want[i].Allowed {
			allowed++
		}
	}
	if allowed == 0 || allowed == len(want) {
		t.Fatalf("%d of %d packets allowed: the traffic should mix verdicts", allowed, len(want))
	}
	for _, id := range []string{"eni-web", "eni-db"} {
		a := one.Snapshot().Table(port(t, one, id)).Entries(now)
		b := batched.Snapshot().Table(port(t, batched, id)).Entries(now)
		if !sameEntries(a, b) {
			t.Errorf("%s: the tables differ: %d entries one at a time, %d in batches", id, len(a), len(b))
		}
	}
}

// ProcessEach judges packets of mixed ports and times as ProcessParsed
// would one after another: the same verdicts, parsed packets and
// conntrack entries, over slices of every length up to several times the
// read-ahead. The clock moves fast enough that entries expire between
// packets of one call.
func TestProcessEachMatchesProcessParsed(t *testing.T) {
	one, each := dataplane.New(mustLab(t, twoTier)), dataplane.New(mustLab(t, twoTier))
	traffic := batchTraffic(t, one)
	rng := rand.New(rand.NewPCG(9, 10))
	times := make([]int64, len(traffic))
	now := int64(1)
	for i := range times {
		now += rng.Int64N(3e9)
		times[i] = now
	}
	want, wantP := make([]verdict.Verdict, len(traffic)), make([]packet.Parsed, len(traffic))
	for i, s := range traffic {
		one.ProcessParsed(s.from, s.pkt, times[i], &want[i], &wantP[i])
	}
	got, gotP := make([]verdict.Verdict, len(traffic)), make([]packet.Parsed, len(traffic))
	froms, pkts := make([]verdict.Port, len(traffic)), make([][]byte, len(traffic))
	for i, s := range traffic {
		froms[i], pkts[i] = s.from, s.pkt
	}
	for i := 0; i < len(traffic); {
		n := min(1+rng.IntN(3*dataplane.BatchSize), len(traffic)-i)
		each.ProcessEach(froms[i:i+n], pkts[i:i+n], times[i:i+n], got[i:i+n], gotP[i:i+n])
		i += n
	}
	allowed, codes := 0, map[verdict.Code]int{}
	for i := range want {
		if !sameVerdict(want[i], got[i]) {
			t.Fatalf("packet %d: ProcessEach gave %+v, ProcessParsed %+v", i, got[i], want[i])
		}
		if want[i].Stage != verdict.StageParse && wantP[i] != gotP[i] {
			t.Fatalf("packet %d: parsed %+v, want %+v", i, gotP[i], wantP[i])
		}
		if want[i].Allowed {
			allowed++
		}
		codes[want[i].Code]++
	}
	t.Logf("%v", codes)
	if allowed == 0 || allowed == len(want) {
		t.Fatalf("%d of %d packets allowed: the traffic should mix verdicts", allowed, len(want))
	}
	for _, id := range []string{"eni-web", "eni-db"} {
		a := one.Snapshot().Table(port(t, one, id)).Entries(now)
		b := each.Snapshot().Table(port(t, each, id)).Entries(now)
		if !sameEntries(a, b) {
			t.Errorf("%s: the tables differ: %d entries one at a time, %d with ProcessEach", id, len(a), len(b))
		}
	}
}

// ProcessBatch allocates nothing, with its tables small or large enough
// to be read ahead.
func TestProcessBatchDoesNotAllocate(t *testing.T) {
	e := dataplane.New(mustLab(t, twoTier))
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	var v verdict.Verdict
	// Some 20,000 flows: enough that both tables read ahead.
	for i := range 20000 {
		sport := uint16(1024 + i)
		e.Process(pw, tcp(web, db, sport, 5432, packet.TCPSyn), 1, &v)
		e.Process(pd, tcp(db, web, 5432, sport, packet.TCPSyn|packet.TCPAck), 1, &v)
	}
	pkts := make([][]byte, 100)
	for i := range pkts {
		pkts[i] = tcp(web, db, uint16(1024+i*97), 5432, packet.TCPAck)
	}
	vs, ps := make([]verdict.Verdict, len(pkts)), make([]packet.Parsed, len(pkts))
	if n := testing.AllocsPerRun(100, func() { e.ProcessBatch(pw, pkts, 2, vs, ps) }); n != 0 {
		t.Errorf("ProcessBatch: %v allocations per batch, want 0", n)
	}
	froms, nows := make([]verdict.Port, len(pkts)), make([]int64, len(pkts))
	for i := range froms {
		froms[i], nows[i] = pw, 2
	}
	if n := testing.AllocsPerRun(100, func() { e.ProcessEach(froms, pkts, nows, vs, ps) }); n != 0 {
		t.Errorf("ProcessEach: %v allocations per batch, want 0", n)
	}
	for i := range vs {
		if vs[i].Code != verdict.CodeConntrack {
			t.Fatalf("packet %d: %v at %v, want a conntrack pass", i, vs[i].Code, vs[i].Stage)
		}
	}
}

// sameEntries reports whether a and b hold the same entries, in any order.
func sameEntries(a, b []conntrack.EntryInfo) bool {
	key := func(x, y conntrack.EntryInfo) int { return strings.Compare(x.Key.String(), y.Key.String()) }
	slices.SortFunc(a, key)
	slices.SortFunc(b, key)
	return slices.Equal(a, b)
}

// sameVerdict compares verdicts of two engines, whose rule references
// point into each one's own compiled policy.
func sameVerdict(a, b verdict.Verdict) bool {
	if (a.SG == nil) != (b.SG == nil) || a.SG != nil && *a.SG != *b.SG {
		return false
	}
	a.SG, b.SG = nil, nil
	return a == b
}
