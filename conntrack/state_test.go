package conntrack

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vpclab/vpclab/packet"
)

const (
	fin    = packet.TCPFin
	syn    = packet.TCPSyn
	rst    = packet.TCPRst
	ack    = packet.TCPAck
	synAck = packet.TCPSyn | packet.TCPAck
	finAck = packet.TCPFin | packet.TCPAck
	rstAck = packet.TCPRst | packet.TCPAck

	sec = int64(time.Second)
)

// flow drives one flow through a table on a virtual clock.
type flow struct {
	t        *testing.T
	tb       *Table
	k        Key
	clientLo bool // the client (first sender) is the Lo side
	now      int64
}

func newFlow(t *testing.T, tb *Table, client, server netip.Addr, proto uint8, cport, sport uint16) *flow {
	k, lo := MakeKey(client, server, proto, cport, sport, 0, 0, 0)
	return &flow{t: t, tb: tb, k: k, clientLo: lo, now: 1000 * int64(time.Hour)}
}

func (f *flow) open(flags uint8) {
	f.t.Helper()
	if !insert(f.tb, &f.k, f.clientLo, flags, f.now) {
		f.t.Fatalf("Insert %v refused", f.k)
	}
}

func (f *flow) client(flags uint8) bool { return lookup(f.tb, &f.k, f.clientLo, flags, f.now) }
func (f *flow) server(flags uint8) bool { return lookup(f.tb, &f.k, !f.clientLo, flags, f.now) }
func (f *flow) wait(d time.Duration)    { f.now += int64(d) }

func (f *flow) state() State {
	f.t.Helper()
	e, ok := get(f.tb, &f.k, f.now)
	if !ok {
		f.t.Fatalf("%v: no live entry", f.k)
	}
	return e.State
}

// expiresAfter checks that the entry, idle from now, lives exactly d.
func (f *flow) expiresAfter(d time.Duration) {
	f.t.Helper()
	if _, ok := get(f.tb, &f.k, f.now+int64(d)-1); !ok {
		f.t.Errorf("%v in %v: gone after %v idle, want alive", f.k, f.state(), d-1)
	}
	if _, ok := get(f.tb, &f.k, f.now+int64(d)); ok {
		f.t.Errorf("%v in %v: alive after %v idle, want expired (a timeout lasts its length)", f.k, f.state(), d)
	}
}

func newTable(to Timeouts) *Table { return NewTable(NewAllowance(1000), to) }

func TestTCPHandshakeAndClose(t *testing.T) {
	d := testTimeouts()
	d.TCPEstablished = 3600 * time.Second
	type step struct {
		fromServer bool
		flags      uint8
		want       State
		timeout    time.Duration
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"client closes", []step{
			{false, syn, SynSent, d.TCPSynSent},
			{false, syn, SynSent, d.TCPSynSent}, // retransmitted SYN
			{true, synAck, SynRecv, d.TCPSynRecv},
			{false, ack, Established, d.TCPEstablished},
			{true, ack, Established, d.TCPEstablished},
			{false, finAck, FinWait, d.TCPFinWait},
			{false, ack, FinWait, d.TCPFinWait}, // the closer's own ACK changes nothing
			{true, ack, CloseWait, d.TCPCloseWait},
			{true, finAck, LastAck, d.TCPLastAck},
			{false, ack, TimeWait, d.TCPTimeWait},
			{true, ack, TimeWait, d.TCPTimeWait},
		}},
		{"server closes", []step{
			{false, syn, SynSent, d.TCPSynSent},
			{true, synAck, SynRecv, d.TCPSynRecv},
			{false, ack, Established, d.TCPEstablished},
			{true, finAck, FinWait, d.TCPFinWait},
			{false, finAck, LastAck, d.TCPLastAck}, // FIN and ACK together
			{true, ack, TimeWait, d.TCPTimeWait},
		}},
		{"simultaneous close", []step{
			{false, syn, SynSent, d.TCPSynSent},
			{true, synAck, SynRecv, d.TCPSynRecv},
			{false, ack, Established, d.TCPEstablished},
			{false, finAck, FinWait, d.TCPFinWait},
			{true, finAck, LastAck, d.TCPLastAck},
			{true, ack, LastAck, d.TCPLastAck}, // acks the client's FIN: the last FIN is the server's
			{false, ack, TimeWait, d.TCPTimeWait},
		}},
		{"refused", []step{
			{false, syn, SynSent, d.TCPSynSent},
			{true, rstAck, Close, d.TCPClose},
		}},
		{"reset when established", []step{
			{false, syn, SynSent, d.TCPSynSent},
			{true, synAck, SynRecv, d.TCPSynRecv},
			{false, ack, Established, d.TCPEstablished},
			{false, rst, Close, d.TCPClose},
			{true, ack, Close, d.TCPClose},
		}},
		{"simultaneous open", []step{
			{false, syn, SynSent, d.TCPSynSent},
			{true, syn, SynRecv, d.TCPSynRecv},
			{false, synAck, SynRecv, d.TCPSynRecv},
			{false, ack, Established, d.TCPEstablished},
		}},
		{"FIN with the handshake's last ACK", []step{
			{false, syn, SynSent, d.TCPSynSent},
			{true, synAck, SynRecv, d.TCPSynRecv},
			{false, finAck, FinWait, d.TCPFinWait},
		}},
	} {
		// The client on either side of the key: the state machine must
		// follow who sent what, not the address order.
		for _, client := range []netip.Addr{a4, b4} {
			server := a4
			if client == a4 {
				server = b4
			}
			t.Run(tc.name+"/client "+client.String(), func(t *testing.T) {
				f := newFlow(t, newTable(d), client, server, packet.ProtoTCP, 40000, 443)
				for i, s := range tc.steps {
					f.wait(time.Second)
					send := f.client
					if s.fromServer {
						send = f.server
					}
					if i == 0 {
						f.open(s.flags)
					} else if !send(s.flags) {
						t.Fatalf("step %d: miss", i)
					}
					if got := f.state(); got != s.want {
						t.Fatalf("step %d (flags %#x, from server %v): state %v, want %v", i, s.flags, s.fromServer, got, s.want)
					}
					f.expiresAfter(s.timeout)
				}
			})
		}
	}
}

func TestTCPEstablishedTimeoutPerENI(t *testing.T) {
	to := testTimeouts()
	to.TCPEstablished = 60 * time.Second
	tb := newTable(to)
	other := newTable(testTimeouts()) // another ENI keeps the 5-day default
	for _, tc := range []struct {
		tb   *Table
		want time.Duration
	}{{tb, 60 * time.Second}, {other, 432000 * time.Second}} {
		f := newFlow(t, tc.tb, a4, b4, packet.ProtoTCP, 40000, 22)
		f.open(syn)
		f.server(synAck)
		f.client(ack)
		f.expiresAfter(tc.want)
		// Traffic refreshes the idle timer.
		f.wait(tc.want - time.Second)
		if !f.server(ack) {
			t.Fatal("established flow missed before its timeout")
		}
		f.expiresAfter(tc.want)
		f.wait(tc.want + time.Nanosecond)
		if f.client(ack) {
			t.Errorf("hit after %v idle (timeout %v)", tc.want+time.Nanosecond, tc.want)
		}
	}
}

func TestSetTimeoutsAppliesToLiveEntries(t *testing.T) {
	to := testTimeouts()
	to.TCPEstablished = 60 * time.Second
	tb := newTable(to)
	f := newFlow(t, tb, a4, b4, packet.ProtoTCP, 40000, 22)
	f.open(ack) // picked up mid-stream: ESTABLISHED
	f.wait(90 * time.Second)
	if _, ok := get(tb, &f.k, f.now); ok {
		t.Fatal("alive after 90 s idle with a 60 s timeout")
	}
	to.TCPEstablished = 120 * time.Second
	tb.SetTimeouts(to)
	if !f.client(ack) {
		t.Fatal("miss after raising the timeout to 120 s at 90 s idle")
	}
	f.expiresAfter(120 * time.Second)
	tb.SetTimeouts(testTimeouts()) // back to AWS's default
	f.expiresAfter(432000 * time.Second)
}

func TestTCPLooseStart(t *testing.T) {
	d := testTimeouts()
	for _, tc := range []struct {
		flags    uint8
		want     State
		origSide bool // the originator is the sender of the first packet
		timeout  time.Duration
	}{
		{ack, Established, true, d.TCPEstablished},
		{0, Established, true, d.TCPEstablished},
		{synAck, SynRecv, false, d.TCPSynRecv},
		{finAck, FinWait, true, d.TCPFinWait},
		{rstAck, Close, true, d.TCPClose},
	} {
		f := newFlow(t, newTable(d), b4, a4, packet.ProtoTCP, 40000, 443)
		f.open(tc.flags)
		e, _ := get(f.tb, &f.k, f.now)
		if e.State != tc.want || e.OrigLo != (f.clientLo == tc.origSide) {
			t.Errorf("first packet flags %#x: %v OrigLo %v, want %v OrigLo %v",
				tc.flags, e.State, e.OrigLo, tc.want, f.clientLo == tc.origSide)
		}
		f.expiresAfter(tc.timeout)
	}
	// Picked up at the SYN-ACK, the handshake completes from the other side.
	f := newFlow(t, newTable(d), a4, b4, packet.ProtoTCP, 443, 40000)
	f.open(synAck)
	f.server(ack)
	if got := f.state(); got != Established {
		t.Errorf("SYN-ACK pick-up then ACK: %v, want ESTABLISHED", got)
	}
}

func TestTCPSynReusesClosedTuple(t *testing.T) {
	for _, closed := range []State{TimeWait, Close} {
		tb := newTable(testTimeouts())
		f := newFlow(t, tb, a4, b4, packet.ProtoTCP, 40000, 443)
		f.open(syn)
		f.server(synAck)
		f.client(ack)
		if closed == Close {
			f.server(rst)
		} else {
			f.client(finAck)
			f.server(finAck)
			f.client(ack)
		}
		if got := f.state(); got != closed {
			t.Fatalf("state %v, want %v", got, closed)
		}
		if !f.client(ack) {
			t.Errorf("%v: a late ACK should still hit", closed)
		}
		if f.client(syn) {
			t.Errorf("%v: a new SYN hit the old entry", closed)
		}
		if got := f.state(); got != closed {
			t.Errorf("%v: the missed SYN changed the entry to %v", closed, got)
		}
		// The dataplane lets the SYN in and inserts: the entry is reused,
		// here by the old server opening towards the old client.
		f.wait(time.Second)
		if !insert(tb, &f.k, !f.clientLo, syn, f.now) {
			t.Fatal("Insert refused")
		}
		e, _ := get(tb, &f.k, f.now)
		if e.State != SynSent || e.OrigLo == f.clientLo || tb.Len() != 1 || tb.allow.InUse() != 1 {
			t.Errorf("%v reused: %+v, Len %d, InUse %d", closed, e, tb.Len(), tb.allow.InUse())
		}
	}
}

func TestUDPSingleAndStream(t *testing.T) {
	for _, to := range []Timeouts{testTimeouts(), {UDP: 45 * time.Second, UDPStream: 90 * time.Second}} {
		tb := newTable(to)
		want := tb.timeouts.Load()
		single, stream := time.Duration(want[UDPUnreplied]), time.Duration(want[UDPStream])
		f := newFlow(t, tb, b4, a4, packet.ProtoUDP, 40000, 53)
		f.open(0)
		f.client(0) // one direction, many packets: still one exchange
		if got := f.state(); got != UDPUnreplied {
			t.Fatalf("state %v, want UDP_UNREPLIED", got)
		}
		f.expiresAfter(single)
		f.wait(time.Second)
		f.server(0)
		if got := f.state(); got != UDPReplied {
			t.Fatalf("state %v after the reply, want UDP_REPLIED", got)
		}
		f.expiresAfter(single)
		f.wait(time.Second)
		f.client(0)
		if got := f.state(); got != UDPStream {
			t.Fatalf("state %v after a second request, want UDP_STREAM", got)
		}
		f.expiresAfter(stream)
	}
}

func TestICMPAndOther(t *testing.T) {
	tb := newTable(testTimeouts())
	req, reqLo := MakeKey(a6, b6, packet.ProtoICMPv6, 0, 0, 128, 0, 9)
	now := int64(0)
	if !insert(tb, &req, reqLo, 0, now) {
		t.Fatal("Insert refused")
	}
	rep, repLo := MakeKey(b6, a6, packet.ProtoICMPv6, 0, 0, 129, 0, 9)
	now += 30*sec - 1
	if !lookup(tb, &rep, repLo, 0, now) {
		t.Fatal("echo reply just before 30 s missed")
	}
	if lookup(tb, &rep, repLo, 0, now+30*sec) {
		t.Error("echo reply hit after 30 s idle")
	}

	gre, greLo := MakeKey(a4, b4, 47, 0, 0, 0, 0, 0)
	insert(tb, &gre, greLo, 0, now)
	if e, _ := get(tb, &gre, now); e.State != Other || e.Expires != 600*time.Second {
		t.Errorf("GRE entry %+v", e)
	}
	back, backLo := MakeKey(b4, a4, 47, 0, 0, 0, 0, 0)
	if !lookup(tb, &back, backLo, 0, now+600*sec-1) || lookup(tb, &back, backLo, 0, now+1200*sec-1) {
		t.Error("GRE reply: want a hit just before 600 s idle and a miss 600 s after it")
	}
}

func TestStateNames(t *testing.T) {
	for s := State(1); s < numStates; s++ {
		if s.String() == "" || s.String() == "INVALID" {
			t.Errorf("state %d has no name", s)
		}
	}
	if State(0).String() != "INVALID" {
		t.Error("state 0 has a name")
	}
}

// TestSteadyAgreesWithNext checks Lookup's fast path: a packet that steady
// says leaves a state alone does, for every state, side and flag set.
func TestSteadyAgreesWithNext(t *testing.T) {
	for k := State(1); k < numStates; k++ {
		for _, bits := range []cstate{0, origLo, finLo, origLo | finLo} {
			s := bits.with(k)
			for flags := range 64 {
				for _, fromLo := range []bool{false, true} {
					if s.steady(uint8(flags)) && s.next(fromLo, uint8(flags)) != s {
						t.Errorf("%v (%#x) flags %#x fromLo %v: steady, but next gives %#x", k, s, flags, fromLo, s.next(fromLo, uint8(flags)))
					}
				}
			}
		}
	}
}

// testTimeouts are AWS's defaults and the spec's Policy values, the ones
// package lab holds (conntrack owns none; dataplane's tests check that the
// engine gives a table lab's values).
func testTimeouts() Timeouts {
	return Timeouts{
		TCPEstablished: 432000 * time.Second,
		UDP:            30 * time.Second,
		UDPStream:      180 * time.Second,
		TCPSynSent:     120 * time.Second,
		TCPSynRecv:     60 * time.Second,
		TCPFinWait:     120 * time.Second,
		TCPCloseWait:   60 * time.Second,
		TCPTimeWait:    120 * time.Second,
		TCPLastAck:     30 * time.Second,
		TCPClose:       10 * time.Second,
		ICMP:           30 * time.Second,
		Other:          600 * time.Second,
	}
}
