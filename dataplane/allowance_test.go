package dataplane_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// A flooder with a small allowance: f (10.0.1.20) may track 1,000 flows,
// and its UDP to v is tracked (no rule lets UDP in to f).
const flooder = `
vpc: {id: vpc-f, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-f
  - id: sg-v
    ingress:
      - {protocol: udp, ports: all, cidr: 10.0.0.0/16}
instances:
  - {name: f, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-f], conntrack_allowance: 1000}
  - {name: v, subnet: subnet-a, ip: 10.0.1.30, security_groups: [sg-v]}
`

var (
	fAddr = netip.MustParseAddr("10.0.1.20")
	vAddr = netip.MustParseAddr("10.0.1.30")
)

func udp(src, dst netip.Addr, sport, dport uint16) []byte {
	s := packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoUDP, SrcPort: sport, DstPort: dport}
	return s.Append(nil)
}

// fill gives f its 1,000 flows at time now and returns a packet of a
// 1,001st flow.
func fill(tb testing.TB, e *dataplane.Engine, pf verdict.Port, now int64) []byte {
	tb.Helper()
	var v verdict.Verdict
	for i := range 1000 {
		e.Process(pf, udp(fAddr, vAddr, 10000, uint16(1+i)), now, &v)
		if !v.Allowed {
			tb.Fatalf("flow %d of the allowance: %v at %v", i, v.Code, v.Stage)
		}
	}
	return udp(fAddr, vAddr, 10000, 2000)
}

// Under a flood of new flows past the allowance, every packet is refused
// as conntrack_allowance_exceeded, and a place freed by an expired entry
// is taken again within a millisecond of the flood's clock.
func TestAllowanceUnderFlood(t *testing.T) {
	e := dataplane.New(mustLab(t, flooder))
	pf := port(t, e, "eni-f")
	pkt := fill(t, e, pf, 1)
	var v verdict.Verdict
	now := int64(1)
	for range 100000 { // a flood of 100 ms, one packet a microsecond
		now += int64(time.Microsecond)
		e.Process(pf, pkt, now, &v)
		if v.Allowed || v.Stage != verdict.StageConntrackAllowance {
			t.Fatalf("a new flow past the allowance: allowed=%v %v at %v", v.Allowed, v.Code, v.Stage)
		}
	}
	if a := e.Snapshot().Allowance(pf); a == nil {
		t.Fatal("f has no allowance")
	} else if n := a.Exceeded(); n != 100000 {
		t.Fatalf("conntrack_allowance_exceeded %d, want 100000", n)
	}
	// The 1,000 entries expire (UDP, 30 s unreplied); the flood goes on.
	now += int64(31 * time.Second)
	admitted := int64(0)
	for i := range 2000 {
		now += int64(time.Microsecond)
		e.Process(pf, pkt, now, &v)
		if v.Allowed {
			admitted = int64(i)
			break
		}
	}
	if admitted == 0 && !v.Allowed {
		t.Fatal("the flood's new flow was never admitted after the entries expired")
	}
	if d := time.Duration(admitted) * time.Microsecond; d > time.Millisecond {
		t.Errorf("a new flow was admitted %v after the entries expired, want within 1ms", d)
	}
}

// BenchmarkAllowanceExceeded is the cost of refusing one packet of a new
// flow past a full allowance, a packet a microsecond (a flood).
func BenchmarkAllowanceExceeded(b *testing.B) {
	e := dataplane.New(mustLab(b, flooder))
	pf := port(b, e, "eni-f")
	pkt := fill(b, e, pf, 1)
	var v verdict.Verdict
	now := int64(1)
	b.ReportAllocs()
	for b.Loop() {
		now += int64(time.Microsecond)
		e.Process(pf, pkt, now, &v)
	}
	if v.Allowed {
		b.Fatal("allowed past the allowance")
	}
}
