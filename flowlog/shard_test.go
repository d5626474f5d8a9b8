package flowlog_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// Writers observe while a collector ticks and flow logs come and go:
// every packet ends up in exactly one record (on time or late), none lost,
// and the race detector sees the handshake as synchronisation.
func TestConcurrentShards(t *testing.T) {
	const writers, perWriter, flows = 4, 4000, 16
	fl := "  - {id: fl, eni: eni-web, max_aggregation_interval: 60, destination: DIR/fl}\n"
	r := newRig(t, fl, flowlog.Options{Shards: writers})
	labs := []*lab.Lab{newLab(t, fl+"  - {id: fl-x, vpc: vpc-1, destination: DIR/x}\n", r.dir), r.l}
	pw, _ := r.e.Port("eni-web")
	pd, _ := r.e.Port("eni-db")
	var clock atomic.Int64 // the latest time a writer has reached
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh := r.lg.Shard(w)
			var p packet.Parsed
			v := verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, From: pw, To: pd}
			pkts := make([][]byte, flows)
			for i := range pkts {
				s := tcp(web, db, uint16(30000+w*100+i), 5432, ack, 0)
				pkts[i] = s.Append(nil)
			}
			for i := range perWriter {
				// Three minutes of traffic, in batches of 8.
				now := at(time.Duration(i) * 180 * time.Second / perWriter)
				if i%8 == 0 {
					sh.Begin()
				}
				if p.Decode(pkts[i%flows]) != packet.OK {
					panic("decode")
				}
				sh.Observe(&v, &p, 40, 1, now)
				if i%8 == 7 || i == perWriter-1 {
					sh.End()
					if now > clock.Load() {
						clock.Store(now)
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	var ticks sync.WaitGroup
	ticks.Add(1)
	go func() {
		defer ticks.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			now := clock.Load()
			if now == 0 {
				continue // Tick on the packets' clock: none has a time yet
			}
			if err := r.lg.Tick(now); err != nil {
				t.Error(err)
				return
			}
			if err := r.lg.Reconfigure(labs[0]); err != nil {
				t.Error(err)
				return
			}
			labs[0], labs[1] = labs[1], labs[0]
		}
	}()
	wg.Wait()
	close(done)
	ticks.Wait()
	if err := r.lg.Close(at(180 * time.Second)); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, rec := range find(allRecords(t, r.dir+"/fl", defaultFields, false), "log-status", "OK") {
		n, err := strconv.Atoi(rec["packets"])
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if st := r.lg.Stats(); total != writers*perWriter || st.SkippedPackets != 0 {
		t.Errorf("%d packets logged, want %d; stats %+v", total, writers*perWriter, st)
	}
}

// The packet path allocates nothing: a packet of a known flow, of a new
// flow, and one that finds the table full.
func TestObserveAllocs(t *testing.T) {
	r := newRig(t, vpcLog60, flowlog.Options{Capacity: 64})
	pw, _ := r.e.Port("eni-web")
	pd, _ := r.e.Port("eni-db")
	v := verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, From: pw, To: pd}
	pkts := make([]packet.Parsed, 100)
	for i := range pkts {
		s := tcp(web, db, uint16(40000+i), 5432, syn, 0)
		pkts[i].Decode(s.Append(nil))
	}
	sh := r.lg.Shard(0)
	sh.Begin()
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		sh.Observe(&v, &pkts[i%len(pkts)], 40, 1, at(time.Second))
		i++
	})
	sh.End()
	if allocs != 0 {
		t.Errorf("Observe allocates %v times per packet", allocs)
	}
	if err := r.lg.Tick(at(0)); err != nil {
		t.Fatal(err)
	}
	sh.Begin()
	allocs = testing.AllocsPerRun(1000, func() { sh.Observe(&v, &pkts[0], 40, 1, at(time.Second)) })
	sh.End()
	if allocs != 0 {
		t.Errorf("Observe of one flow allocates %v times per packet", allocs)
	}
}

// BenchmarkObserve measures the per-packet cost of a delivered packet
// between two logged interfaces (two records): one flow (a bulk transfer),
// and 1024 flows.
func BenchmarkObserve(b *testing.B) {
	for _, flows := range []int{1, 1024} {
		b.Run(strconv.Itoa(flows)+"flows", func(b *testing.B) {
			r := newRig(b, vpcLog60, flowlog.Options{Capacity: 4096})
			pw, _ := r.e.Port("eni-web")
			pd, _ := r.e.Port("eni-db")
			v := verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, From: pw, To: pd}
			pkts := make([]packet.Parsed, flows)
			for i := range pkts {
				s := tcp(web, db, uint16(20000+i), 5432, ack, 1400)
				pkts[i].Decode(s.Append(nil))
			}
			sh := r.lg.Shard(0)
			now := at(time.Second)
			b.ReportAllocs()
			b.ResetTimer()
			sh.Begin()
			for i := range b.N {
				sh.Observe(&v, &pkts[i&(flows-1)], 1440, 1, now)
			}
			sh.End()
		})
	}
}
