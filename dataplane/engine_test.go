package dataplane_test

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// Two subnets, two instances: web (10.0.1.10) may reach db (10.0.2.10) on
// 5432; db's replies leave through a NACL that only allows the ephemeral
// range.
const twoTier = `
vpc: {id: vpc-t, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-web, cidr: 10.0.1.0/24}
  - {id: subnet-db, cidr: 10.0.2.0/24, network_acl: acl-db}
network_acls:
  - id: acl-db
    ingress:
      - {rule: 100, action: allow, protocol: tcp, ports: 5432, cidr: 10.0.1.0/24}
    egress:
      - {rule: 100, action: allow, protocol: tcp, ports: 32768-60999, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-web
  - id: sg-db
    ingress:
      - {protocol: tcp, ports: 5432, group: sg-web}
instances:
  - {name: web, subnet: subnet-web, ip: 10.0.1.10, security_groups: [sg-web]}
  - {name: db, subnet: subnet-db, ip: 10.0.2.10, security_groups: [sg-db]}
`

// twoTierNoDB is twoTier without sg-db's only rule.
var twoTierNoDB = strings.Replace(twoTier, "    ingress:\n      - {protocol: tcp, ports: 5432, group: sg-web}\n", "", 1)

func mustLab(t testing.TB, src string) *lab.Lab {
	t.Helper()
	l, err := labfile.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	web = netip.MustParseAddr("10.0.1.10")
	db  = netip.MustParseAddr("10.0.2.10")
)

func tcp(src, dst netip.Addr, sport, dport uint16, flags uint8) []byte {
	s := packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoTCP, SrcPort: sport, DstPort: dport, TCPFlags: flags}
	return s.Append(nil)
}

func port(t testing.TB, e *dataplane.Engine, id string) verdict.Port {
	t.Helper()
	p, ok := e.Port(id)
	if !ok {
		t.Fatalf("no port for %s", id)
	}
	return p
}

func check(t *testing.T, what string, v *verdict.Verdict, allowed bool, stage verdict.Stage) {
	t.Helper()
	if v.Allowed != allowed || v.Stage != stage {
		t.Errorf("%s: got allowed=%v at %v (%v, rule %d), want allowed=%v at %v",
			what, v.Allowed, v.Stage, v.Code, v.NACLRule, allowed, stage)
	}
}

func TestTrackedFlowSurvivesRuleRemoval(t *testing.T) {
	e := dataplane.New(mustLab(t, twoTier))
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var v verdict.Verdict

	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPSyn), now, &v)
	check(t, "syn", &v, true, verdict.StageSGIngress)
	if v.SG == nil || v.SG.Group != "sg-db" {
		t.Errorf("syn: deciding rule %+v, want one of sg-db", v.SG)
	}
	e.Process(pd, tcp(db, web, 5432, 40000, packet.TCPSyn|packet.TCPAck), now, &v)
	check(t, "syn-ack", &v, true, verdict.StageSGIngress)

	// Remove db's only rule: the tracked flow goes on, a new one is refused.
	e.Apply(mustLab(t, twoTierNoDB), 0)
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPAck), now, &v)
	check(t, "ack after apply", &v, true, verdict.StageSGIngress)
	if v.Code != verdict.CodeConntrack {
		t.Errorf("ack after apply: code %v, want %v", v.Code, verdict.CodeConntrack)
	}
	e.Process(pw, tcp(web, db, 40001, 5432, packet.TCPSyn), now, &v)
	check(t, "new syn after apply", &v, false, verdict.StageSGIngress)
}

func TestNACLReturnTrafficOutsideEphemeralRange(t *testing.T) {
	e := dataplane.New(mustLab(t, twoTier))
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	var v verdict.Verdict
	e.Process(pw, tcp(web, db, 1000, 5432, packet.TCPSyn), 1, &v)
	check(t, "syn from low port", &v, true, verdict.StageSGIngress)
	e.Process(pd, tcp(db, web, 5432, 1000, packet.TCPSyn|packet.TCPAck), 1, &v)
	check(t, "reply to low port", &v, false, verdict.StageNACLEgress)
	if v.NACLRule != 32767 || v.ACL != "acl-db" {
		t.Errorf("reply decided by %s rule %d, want acl-db rule 32767", v.ACL, v.NACLRule)
	}
}

// The packet path allocates nothing: for an established flow, a denied or
// malformed packet, and the first packets of new flows once the tables
// have grown to their steady size.
func TestProcessDoesNotAllocate(t *testing.T) {
	e := dataplane.New(mustLab(t, twoTier))
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	var v verdict.Verdict
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPSyn), 1, &v)
	e.Process(pd, tcp(db, web, 5432, 40000, packet.TCPSyn|packet.TCPAck), 1, &v)
	data := tcp(web, db, 40000, 5432, packet.TCPAck)
	denied := tcp(web, db, 40000, 22, packet.TCPSyn)
	noAllocs := func(name string, f func()) {
		t.Helper()
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per packet, want 0", name, n)
		}
	}
	noAllocs("established", func() {
		e.Process(pw, data, 2, &v)
		if v.Code != verdict.CodeConntrack {
			t.Fatalf("established: %v at %v, want a conntrack pass", v.Code, v.Stage)
		}
	})
	noAllocs("denied", func() { e.Process(pw, denied, 2, &v) })
	noAllocs("malformed", func() { e.Process(pw, data[:10], 2, &v) })

	// New flows, each from its own port, on a clock that lets old ones
	// expire, so that entries are made and reaped all the time.
	syns := make([][]byte, 4096)
	for i := range syns {
		syns[i] = tcp(web, db, uint16(20000+i), 5432, packet.TCPSyn)
	}
	now, next := int64(2), 0
	newFlow := func() {
		now += int64(100 * time.Millisecond)
		e.Process(pw, syns[next], now, &v)
		if !v.Allowed || v.Code != verdict.CodeSGRuleMatch {
			t.Fatalf("new flow: allowed=%v %v at %v, want allowed by a rule", v.Allowed, v.Code, v.Stage)
		}
		next = (next + 1) % len(syns)
	}
	for range 3 * len(syns) {
		newFlow()
	}
	noAllocs("new flow", newFlow)
}

// Apply never blocks or confuses the packet path: readers keep judging
// while the policy flips, and every verdict is one of the two policies'.
func TestApplyConcurrentWithProcess(t *testing.T) {
	a, b := mustLab(t, twoTier), mustLab(t, twoTierNoDB)
	e := dataplane.New(a)
	pw := port(t, e, "eni-web")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := 0; r < 2; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			var v verdict.Verdict
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e.Process(pw, tcp(web, db, uint16(1024+i%30000), 5432, packet.TCPSyn), int64(i), &v)
				if v.Stage != verdict.StageSGIngress {
					t.Errorf("reader %d: decided at %v, want sg-ingress", r, v.Stage)
					return
				}
			}
		}(r)
	}
	for i := 0; i < 200; i++ {
		if i%2 == 0 {
			e.Apply(b, 0)
		} else {
			e.Apply(a, 0)
		}
	}
	close(stop)
	wg.Wait()
}

// Between subnets, a tracked flow caches its NACL verdict in the sender's
// conntrack entry (without a trace). A NACL change must reach the very next
// packet all the same (spec §3.5), in both directions.
func TestNACLVerdictCacheFollowsPolicy(t *testing.T) {
	e := dataplane.New(mustLab(t, twoTier))
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	var v verdict.Verdict
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPSyn), 1, &v)
	e.Process(pd, tcp(db, web, 5432, 40000, packet.TCPSyn|packet.TCPAck), 2, &v)
	check(t, "syn-ack", &v, true, verdict.StageSGIngress)
	for i := int64(0); i < 3; i++ { // fill and use the cache
		e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPAck), 3+i, &v)
		check(t, "ack", &v, true, verdict.StageSGIngress)
		e.Process(pd, tcp(db, web, 5432, 40000, packet.TCPAck), 3+i, &v)
		check(t, "ack back", &v, true, verdict.StageSGIngress)
	}
	closed := strings.Replace(twoTier, "ports: 32768-60999", "ports: 50000-60999", 1)
	e.Apply(mustLab(t, closed), 0)
	e.Process(pd, tcp(db, web, 5432, 40000, packet.TCPAck), 10, &v)
	check(t, "ack back after the NACL change", &v, false, verdict.StageNACLEgress)
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPAck), 10, &v)
	check(t, "ack after the NACL change", &v, true, verdict.StageSGIngress)
	closed = strings.Replace(closed, "ports: 5432, cidr: 10.0.1.0/24", "ports: 5433, cidr: 10.0.1.0/24", 1)
	e.Apply(mustLab(t, closed), 0)
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPAck), 11, &v)
	check(t, "ack after the second NACL change", &v, false, verdict.StageNACLIngress)
}

// TestStopped: nothing reaches or leaves a stopped ENI, and no conntrack
// entry is made for what was dropped; started again, traffic flows.
func TestStopped(t *testing.T) {
	e := dataplane.New(mustLab(t, twoTier))
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	var v verdict.Verdict
	if prev, ok := e.SetStopped(pd, true); !ok || prev {
		t.Fatalf("SetStopped = %v, %v", prev, ok)
	}
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPSyn), 0, &v)
	if v.Allowed || v.Code != verdict.CodeInstanceStopped {
		t.Errorf("to a stopped ENI: %+v", v)
	}
	e.Process(pd, tcp(db, web, 5432, 40000, packet.TCPSyn|packet.TCPAck), 0, &v)
	if v.Allowed || v.Code != verdict.CodeInstanceStopped {
		t.Errorf("from a stopped ENI: %+v", v)
	}
	snap := e.Snapshot()
	if n := snap.Table(pw).Len() + snap.Table(pd).Len(); n != 0 {
		t.Errorf("%d conntrack entries made for dropped packets", n)
	}
	if prev, _ := e.SetStopped(pd, false); !prev {
		t.Error("SetStopped did not report the stopped state")
	}
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPSyn), 0, &v)
	if !v.Allowed {
		t.Errorf("after the start: %+v", v)
	}
	if _, ok := e.SetStopped(verdict.PortInternet, true); ok {
		t.Error("the internet port was stopped")
	}
}

// PartitionTable gives an ENI that holds no flow a table of several parts,
// which tracks flows as the plain one does, keeps its parts across Apply,
// and is not replaced once it holds a flow.
func TestPartitionTable(t *testing.T) {
	e := dataplane.New(mustLab(t, twoTier))
	pw, pd := port(t, e, "eni-web"), port(t, e, "eni-db")
	if e.PartitionTable(verdict.Port(99), 4) {
		t.Error("PartitionTable of a port no ENI has: true")
	}
	if !e.PartitionTable(pd, 3) {
		t.Fatal("PartitionTable(eni-db, 3) of an empty table: false")
	}
	if n := e.Snapshot().Table(pd).Parts(); n != 4 {
		t.Fatalf("eni-db's table has %d parts, want 3 rounded up to 4", n)
	}
	if e.PartitionTable(pd, 4) {
		t.Error("PartitionTable(eni-db, 4) of a table of 4 parts: true")
	}
	if n := e.Snapshot().Table(pw).Parts(); n != 1 {
		t.Errorf("eni-web's table has %d parts, want 1", n)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var v verdict.Verdict
	for i := range 100 {
		e.Process(pw, tcp(web, db, uint16(40000+i), 5432, packet.TCPSyn), now, &v)
		check(t, "syn", &v, true, verdict.StageSGIngress)
	}
	if n, in := e.Snapshot().Table(pd).Len(), e.Snapshot().Allowance(pd).InUse(); n != 100 || in != 100 {
		t.Fatalf("after 100 flows, eni-db's table holds %d entries and its allowance %d in use, want 100", n, in)
	}
	if e.PartitionTable(pd, 8) {
		t.Error("PartitionTable of a table holding flows: true")
	}
	e.Apply(mustLab(t, twoTierNoDB), now)
	if n := e.Snapshot().Table(pd).Parts(); n != 4 {
		t.Errorf("after Apply, eni-db's table has %d parts, want 4", n)
	}
	// db's rule is gone: only its partitioned table lets the flow on.
	e.Process(pw, tcp(web, db, 40000, 5432, packet.TCPAck), now, &v)
	check(t, "ack of a tracked flow after Apply", &v, true, verdict.StageSGIngress)
	if v.Code != verdict.CodeConntrack {
		t.Errorf("ack after apply: code %v, want %v", v.Code, verdict.CodeConntrack)
	}
	e.Process(pw, tcp(web, db, 41000, 5432, packet.TCPSyn), now, &v)
	check(t, "new syn after apply", &v, false, verdict.StageSGIngress)
}
