package dataplane_test

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/replay"
	"github.com/vpclab/vpclab/verdict"
)

// The bucket's arithmetic: a full bucket passes its burst at one instant,
// then one packet per 1/rate of the clock; what it refuses takes nothing.
func TestPacketAllowanceBucket(t *testing.T) {
	const rate = 1000 // 1 ms a packet; the burst is MinPPSBurst (10 ms of 1000/s is less)
	a := dataplane.NewPacketAllowance(rate)
	now := int64(time.Hour) // any origin: the packets' clock
	for i := range dataplane.MinPPSBurst {
		if !a.Admit(now, 1) {
			t.Fatalf("packet %d of a full bucket's burst refused", i)
		}
	}
	if a.Admit(now, 1) || a.Admit(now+int64(time.Millisecond)-1, 1) {
		t.Fatal("a packet past the burst admitted before 1/rate had passed")
	}
	if !a.Admit(now+int64(time.Millisecond), 1) {
		t.Fatal("no packet admitted 1/rate after the bucket emptied")
	}
	if a.Exceeded() != 2 {
		t.Fatalf("exceeded %d, want 2", a.Exceeded())
	}
	// Offered 4,000 packets a second for 10 s, it passes 1,000 a second.
	b := dataplane.NewPacketAllowance(rate)
	admitted := 0
	for i := range 40000 {
		if b.Admit(now+int64(i)*int64(250*time.Microsecond), 1) {
			admitted++
		}
	}
	if want := 10*rate + dataplane.MinPPSBurst; admitted < want-1 || admitted > want {
		t.Fatalf("admitted %d of 40,000 over 10 s at %d/s, want %d (the burst and one a millisecond)", admitted, rate, want)
	}
	if b.Exceeded() != uint64(40000-admitted) {
		t.Fatalf("exceeded %d, want %d", b.Exceeded(), 40000-admitted)
	}
	// The burst is 10 ms of the rate where that is more than MinPPSBurst.
	c := dataplane.NewPacketAllowance(1_000_000)
	n := 0
	for c.Admit(now, 1) {
		n++
	}
	if n != 10000 {
		t.Fatalf("a full bucket of 1M/s passed %d at one instant, want 10,000", n)
	}
}

// A super-packet passes whole on one place and its other segments leave
// the bucket in debt; unlimited allowances take no clock at all; a new
// rate keeps the bucket's state.
func TestPacketAllowanceChargeAndRate(t *testing.T) {
	a := dataplane.NewPacketAllowance(1000)
	a.Charge(0, 200) // 200 packets at t=0: 72 more than the burst
	if a.Admit(0, 1) {
		t.Fatal("admitted while in debt")
	}
	// The debt runs out 200 − 127 places later: 73 ms.
	if a.Admit(int64(72*time.Millisecond), 1) || !a.Admit(int64(73*time.Millisecond), 1) {
		t.Fatal("the debt of a charged super-packet did not end after 73 ms")
	}
	u := dataplane.NewPacketAllowance(0)
	for range 1000 {
		if !u.Admit(0, 1) {
			t.Fatal("an unlimited allowance refused a packet")
		}
	}
	if u.Rate() != 0 || u.Exceeded() != 0 {
		t.Fatalf("unlimited: rate %d exceeded %d", u.Rate(), u.Exceeded())
	}
	u.SetRate(500)
	if u.Rate() != 500 {
		t.Fatalf("rate %d after SetRate(500)", u.Rate())
	}
	u.SetRate(0)
	if !u.Admit(0, 1000000) || u.Rate() != 0 {
		t.Fatal("SetRate(0) did not make it unlimited")
	}
}

func TestPacketAllowanceAdmitDoesNotAllocate(t *testing.T) {
	a := dataplane.NewPacketAllowance(1000)
	now := int64(0)
	if n := testing.AllocsPerRun(1000, func() {
		now += 100
		a.Admit(now, 1)
		a.Charge(now, 2)
	}); n != 0 {
		t.Fatalf("Admit and Charge allocate %.1f times", n)
	}
}

// ppsLab: f floods v; a talks to b. f may send and receive 10,000 packets
// a second (its own key), v 50,000 (the lab's setting), a and b set 0
// (unlimited).
const ppsLab = `
vpc: {id: vpc-p, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-open
    ingress:
      - {protocol: all, cidr: 0.0.0.0/0}
    egress:
      - {protocol: all, cidr: 0.0.0.0/0}
instances:
  - {name: f, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-open], pps_allowance: 10000}
  - {name: v, subnet: subnet-a, ip: 10.0.1.30, security_groups: [sg-open]}
  - {name: a, subnet: subnet-a, ip: 10.0.1.40, security_groups: [sg-open], pps_allowance: 0}
  - {name: b, subnet: subnet-a, ip: 10.0.1.50, security_groups: [sg-open], pps_allowance: 0}
settings:
  pps_allowance: 50000
`

var (
	ppsF = netip.MustParseAddr("10.0.1.20")
	ppsV = netip.MustParseAddr("10.0.1.30")
	ppsA = netip.MustParseAddr("10.0.1.40")
	ppsB = netip.MustParseAddr("10.0.1.50")
)

// An instance's packets past its allowance are dropped at the
// pps-allowance stage, naming its ENI, and counted on it; other
// instances' packets pass; the receiver's allowance counts what it
// receives.
func TestPPSAllowanceInEngine(t *testing.T) {
	e := dataplane.New(mustLab(t, ppsLab))
	pf, pa := port(t, e, "eni-f"), port(t, e, "eni-a")
	snap := e.Snapshot()
	if r := snap.PacketAllowance(pf).Rate(); r != 10000 {
		t.Fatalf("f's allowance %d, want its own 10000", r)
	}
	if r := snap.PacketAllowance(port(t, e, "eni-v")).Rate(); r != 50000 {
		t.Fatalf("v's allowance %d, want the setting's 50000", r)
	}
	if r := snap.PacketAllowance(port(t, e, "eni-b")).Rate(); r != 0 {
		t.Fatalf("b's allowance %d, want 0 (unlimited)", r)
	}
	// One second: f sends a SYN every 10 µs (100,000/s), a sends b a
	// packet every 50 µs.
	var v verdict.Verdict
	fPassed, fDropped := 0, 0
	for i := range 100000 {
		now := int64(i) * int64(10*time.Microsecond)
		e.Process(pf, tcp(ppsF, ppsV, uint16(1024+i%60000), 80, packet.TCPSyn), now, &v)
		switch {
		case v.Allowed:
			fPassed++
		case v.Stage == verdict.StagePPSAllowance && v.Code == verdict.CodePPSAllowanceExceeded && v.ENI == "eni-f":
			fDropped++
		default:
			t.Fatalf("f's SYN %d: %v at %v (%s)", i, v.Code, v.Stage, v.ENI)
		}
		if i%5 == 0 {
			e.Process(pa, udp(ppsA, ppsB, 5000, 5001), now, &v)
			if !v.Allowed {
				t.Fatalf("a's packet %d to b dropped: %v at %v", i/5, v.Code, v.Stage)
			}
		}
	}
	if want := 10000 + dataplane.MinPPSBurst; fPassed < want-1 || fPassed > want { // a second's worth and the burst
		t.Errorf("f passed %d of 100,000 SYNs in 1 s at 10,000/s, want %d", fPassed, want)
	}
	if got := snap.PacketAllowance(pf).Exceeded(); got != uint64(fDropped) {
		t.Errorf("f's pps_allowance_exceeded %d, want %d", got, fDropped)
	}
	// v received f's SYNs (10,100 in 1 s, within its 50,000); from a,
	// now sending it 100,000 a second, v takes 50,000 a second.
	start := int64(2 * time.Second)
	vDropped := 0
	for i := range 100000 {
		e.Process(pa, udp(ppsA, ppsV, 5000, uint16(1+i%60000)), start+int64(i)*int64(10*time.Microsecond), &v)
		if !v.Allowed {
			if v.Stage != verdict.StagePPSAllowance || v.ENI != "eni-v" {
				t.Fatalf("a's packet to v: %v at %v (%s), want v's pps allowance", v.Code, v.Stage, v.ENI)
			}
			vDropped++
		}
	}
	if vDropped < 49000 || vDropped > 50000 {
		t.Errorf("v dropped %d of 100,000 at 50,000/s, want about 50,000", vDropped)
	}
	// A new policy keeps the bucket and its counter, at the new rate.
	l := mustLab(t, strings.Replace(ppsLab, "pps_allowance: 10000", "pps_allowance: 20000", 1))
	e.Apply(l, start)
	if pa := e.Snapshot().PacketAllowance(pf); pa.Rate() != 20000 || pa.Exceeded() != uint64(fDropped) {
		t.Errorf("after apply: rate %d exceeded %d, want 20000 and %d", pa.Rate(), pa.Exceeded(), fDropped)
	}
}

// The packet path with an allowance on, passing and dropping, allocates
// nothing.
func TestPPSAllowanceDoesNotAllocate(t *testing.T) {
	e := dataplane.New(mustLab(t, ppsLab))
	pf := port(t, e, "eni-f")
	pkt := tcp(ppsF, ppsV, 1024, 80, packet.TCPSyn)
	var v verdict.Verdict
	now := int64(0)
	dropped := 0
	if n := testing.AllocsPerRun(20000, func() {
		now += int64(time.Microsecond)
		e.Process(pf, pkt, now, &v)
		if v.Stage == verdict.StagePPSAllowance {
			dropped++
		}
	}); n != 0 {
		t.Fatalf("Process with a packet-rate allowance allocates %.1f times a packet", n)
	}
	if dropped == 0 {
		t.Fatal("the flood was never dropped: the test did not reach the refusal path")
	}
}

// ppsCapture writes a pcap of 2 s: f floods v with SYNs at 50,000/s and
// a sends b a datagram every millisecond.
func ppsCapture(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, 65535, pcap.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC).UnixNano()
	for i := range 100000 {
		ts := base + int64(i)*int64(20*time.Microsecond)
		pkt := tcp(ppsF, ppsV, uint16(1024+i%60000), 80, packet.TCPSyn)
		if i%50 == 0 {
			pkt = udp(ppsA, ppsB, 5000, 5001)
		}
		if err := w.WritePacket(ts, pkt, len(pkt)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// Replay runs the bucket on the capture's clock: two replays of one
// capture drop the same packets, only the flooder's, counted by stage and
// code.
func TestPPSAllowanceReplay(t *testing.T) {
	capt := ppsCapture(t)
	run := func() (*replay.Summary, []byte) {
		e := dataplane.New(mustLab(t, ppsLab))
		r, err := pcap.NewReader(bytes.NewReader(capt), "flood.pcap")
		if err != nil {
			t.Fatal(err)
		}
		var verdicts bytes.Buffer
		s, err := replay.Run(e, r, replay.Options{Verdicts: &verdicts})
		if err != nil {
			t.Fatal(err)
		}
		return s, verdicts.Bytes()
	}
	s1, v1 := run()
	s2, v2 := run()
	if !bytes.Equal(v1, v2) {
		t.Fatal("two replays of one capture gave different verdicts")
	}
	if !reflect.DeepEqual(s1.DeniedByCode, s2.DeniedByCode) || s1.Allowed != s2.Allowed {
		t.Fatalf("two replays differ: %v / %v", s1.DeniedByCode, s2.DeniedByCode)
	}
	// f sends 98,000 SYNs in 2 s at 49,000/s; it may send 10,000/s and
	// a burst of 128. a's 2,000 datagrams all pass.
	dropped := s1.DeniedByCode[verdict.CodePPSAllowanceExceeded.String()]
	if s1.Packets != 100000 || s1.DeniedByStage["pps-allowance"] != dropped || s1.Denied != dropped {
		t.Fatalf("replay: %d packets, denied %d (%v)", s1.Packets, s1.Denied, s1.DeniedByStage)
	}
	if want := int64(98000 - 20000 - dataplane.MinPPSBurst); dropped < want-2 || dropped > want+2 {
		t.Fatalf("replay dropped %d for f's packet rate, want about %d", dropped, want)
	}
}

// Available says how many packets Admit would take.
func TestPacketAllowanceAvailable(t *testing.T) {
	a := dataplane.NewPacketAllowance(1000)
	if n := a.Available(0, 1000); n != dataplane.MinPPSBurst {
		t.Fatalf("a full bucket: %d available, want the burst %d", n, dataplane.MinPPSBurst)
	}
	if n := a.Available(0, 10); n != 10 {
		t.Fatalf("limit 10: %d available", n)
	}
	for range 100 {
		a.Admit(0, 1)
	}
	if n := a.Available(0, 1000); n != dataplane.MinPPSBurst-100 {
		t.Fatalf("after 100: %d available, want %d", n, dataplane.MinPPSBurst-100)
	}
	for a.Admit(0, 1) {
	}
	if n := a.Available(0, 1000); n != 0 {
		t.Fatalf("an empty bucket: %d available", n)
	}
	if n := a.Available(int64(5*time.Millisecond), 1000); n != 5 {
		t.Fatalf("5 ms later at 1000/s: %d available, want 5", n)
	}
	for i := range 5 {
		if !a.Admit(int64(5*time.Millisecond), 1) {
			t.Fatalf("Available said 5, Admit refused the %dth", i+1)
		}
	}
	if a.Admit(int64(5*time.Millisecond), 1) {
		t.Fatal("Admit took a sixth")
	}
	if n := dataplane.NewPacketAllowance(0).Available(0, 77); n != 77 {
		t.Fatalf("unlimited: %d available, want the limit", n)
	}
}

// Due says when Available returns n: never later, not earlier.
func TestPacketAllowanceDue(t *testing.T) {
	a := dataplane.NewPacketAllowance(1000) // 1 ms a packet, a burst of MinPPSBurst
	if d := a.Due(0, 10); d > 0 {
		t.Fatalf("a full bucket: due at %d, want now or before", d)
	}
	for a.Admit(0, 1) {
	}
	for _, n := range []int{1, 10, dataplane.MinPPSBurst, 10 * dataplane.MinPPSBurst} {
		d := a.Due(0, n)
		want := min(n, dataplane.MinPPSBurst)
		if got := a.Available(d, 1<<20); got != want {
			t.Errorf("Due(0, %d) = %v: %d available then, want %d", n, time.Duration(d), got, want)
		}
		if got := a.Available(d-1, 1<<20); got >= want {
			t.Errorf("Due(0, %d) = %v: %d available 1 ns before, want fewer than %d", n, time.Duration(d), got, want)
		}
	}
	if d := dataplane.NewPacketAllowance(0).Due(5, 10); d != 0 {
		t.Fatalf("unlimited: due at %d, want 0", d)
	}
}
