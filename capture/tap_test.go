package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/policytest"
	"github.com/vpclab/vpclab/verdict"
)

// epoch is the wall-clock time of the test engines' clock zero.
var epoch = time.Unix(1_700_000_000, 0)

// point returns the capture point of ENI id.
func point(t testing.TB, e *dataplane.Engine, id, desc string) Point {
	t.Helper()
	p, ok := e.Port(id)
	if !ok {
		t.Fatalf("no ENI %s", id)
	}
	return Point{Port: p, Interface: Interface{Name: id, Description: desc}}
}

func attach(t testing.TB, tap *Tap, w io.Writer, opts Options, points ...Point) *Session {
	t.Helper()
	s, err := tap.Attach(w, points, opts)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	return s
}

// TestTapEndToEnd judges packets of the example lab, offers them as the
// live packet path does, and reads the two sessions' files back.
func TestTapEndToEnd(t *testing.T) {
	l, e := exampleEngine(t)
	tap := NewTap(epoch)
	if tap.Capturing() {
		t.Fatal("a new tap is capturing")
	}
	var fileA, fileB bytes.Buffer
	web1, db1 := point(t, e, "eni-web1", Describe(l, "eni-web1")), point(t, e, "eni-db1", "")
	a := attach(t, tap, &fileA, Options{}, web1, db1)
	b := attach(t, tap, &fileB, Options{}, point(t, e, "eni-app1", ""))
	if !tap.Capturing() {
		t.Fatal("a tap with sessions is not capturing")
	}
	if got, want := tap.Ports(nil), []verdict.Port{web1.Port, db1.Port, point(t, e, "eni-app1", "").Port}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("captured ports %v, want %v in order", got, want)
	}

	type offered struct {
		pkt []byte
		v   verdict.Verdict
		now int64
	}
	var sent []offered
	for i, s := range []policytest.Send{
		{From: "web1", To: "app1", Proto: "tcp", Sport: 49152, Dport: 8080, Flags: "S"},  // allowed
		{From: "app1", To: "web1", Proto: "tcp", Sport: 8080, Dport: 49152, Flags: "SA"}, // allowed, conntrack
		{From: "web1", To: "db1", Proto: "tcp", Sport: 49153, Dport: 5432, Flags: "S"},   // denied at nacl-ingress
		{From: "db1", To: "web1", Proto: "tcp", Sport: 49152, Dport: 80, Flags: "S"},     // denied at sg-egress
	} {
		from, pkt := build(t, e, s)
		o := offered{pkt: pkt, now: int64(i+1) * 1e9}
		e.Process(from, pkt, o.now, &o.v)
		tap.OfferVerdict(&o.v, pkt, o.now)
		sent = append(sent, o)
	}
	malformed := offered{pkt: []byte{0x45, 0, 0}, now: 5e9}
	e.Process(web1.Port, malformed.pkt, malformed.now, &malformed.v)
	tap.OfferVerdict(&malformed.v, malformed.pkt, malformed.now)
	sent = append(sent, malformed)

	for _, s := range []*Session{a, b} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if tap.Capturing() || len(tap.Ports(nil)) != 0 {
		t.Error("the tap is capturing after its sessions closed")
	}

	type want struct {
		iface, sent int
		dir         Direction
	}
	check := func(name string, file []byte, ifaces []Point, wants []want, st Stats) {
		t.Helper()
		pkts, comments, gifaces, stats := readNg(t, file)
		if len(gifaces) != len(ifaces) {
			t.Fatalf("%s: %d interfaces, want %d", name, len(gifaces), len(ifaces))
		}
		for i, p := range ifaces {
			if gifaces[i].Name != p.Interface.Name || gifaces[i].Description != p.Interface.Description || gifaces[i].SnapLength != SLLHeaderLen+DefaultSnaplen {
				t.Errorf("%s: interface %d is %+v, want %+v", name, i, gifaces[i], p.Interface)
			}
		}
		if len(pkts) != len(wants) {
			t.Fatalf("%s: %d packets, want %d", name, len(pkts), len(wants))
		}
		perIface := make([]uint64, len(ifaces))
		for i, w := range wants {
			o, g := &sent[w.sent], &pkts[i]
			wantComment := string(Comment(nil, &o.v))
			if g.iface != w.iface || g.dir != w.dir || g.ts != epoch.UnixNano()+o.now || !bytes.Equal(g.pkt, o.pkt) ||
				len(comments[i]) != 1 || comments[i][0] != wantComment {
				t.Errorf("%s: packet %d: iface %d %v ts %d %q; want iface %d %v ts %d %q", name, i,
					g.iface, g.dir, g.ts, comments[i], w.iface, w.dir, epoch.UnixNano()+o.now, wantComment)
			}
			perIface[w.iface]++
		}
		for i, n := range perIface {
			s, ok := stats[i]
			if !ok || s.PacketsReceived != n || s.PacketsDropped != 0 {
				t.Errorf("%s: statistics of interface %d: %+v (found %v), want %d received, 0 dropped", name, i, s, ok, n)
			}
		}
		if st.Packets != uint64(len(wants)) || st.Dropped != 0 || st.Truncated != 0 {
			t.Errorf("%s: Stats %+v, want %d packets", name, st, len(wants))
		}
	}
	check("eni-web1+eni-db1", fileA.Bytes(), []Point{web1, db1}, []want{
		{0, 0, Outbound}, // web1 sends the SYN
		{0, 1, Inbound},  // the SYN-ACK reaches it
		{0, 2, Outbound}, // it sends to db1...
		{1, 2, Inbound},  // ...whose subnet's ACL drops it on the way in
		{1, 3, Outbound}, // db1 may not send: it never reaches web1
		{0, 4, Outbound}, // web1 sends a malformed packet
	}, a.Stats())
	check("eni-app1", fileB.Bytes(), b.Points(), []want{{0, 0, Inbound}, {0, 1, Outbound}}, b.Stats())
	if c := string(Comment(nil, &sent[2].v)); c != "deny nacl-ingress SUBNET_ACL_RESTRICTION: acl-db rule 32767 (the implicit deny)" {
		t.Errorf("the denied packet's comment is %q", c)
	}
}

// TestOfferVerdictSides checks which ENIs see a packet, verdict by verdict.
func TestOfferVerdictSides(t *testing.T) {
	const from, to = verdict.Port(0), verdict.Port(1)
	for _, c := range []struct {
		v       verdict.Verdict
		inbound bool
	}{
		{verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch}, true},
		{verdict.Verdict{Stage: verdict.StageSGIngress, Code: verdict.CodeSGRulesMismatch, ENI: "eni-to"}, true},
		{verdict.Verdict{Stage: verdict.StageNACLIngress, Code: verdict.CodeSubnetACLRestrict}, true},
		{verdict.Verdict{Stage: verdict.StageConntrackAllowance, Code: verdict.CodeAllowanceExceeded, ENI: "eni-to"}, true},
		{verdict.Verdict{Stage: verdict.StageConntrackAllowance, Code: verdict.CodeAllowanceExceeded, ENI: "eni-from"}, false},
		{verdict.Verdict{Stage: verdict.StageSGEgress, Code: verdict.CodeSGRulesMismatch, ENI: "eni-from"}, false},
		{verdict.Verdict{Stage: verdict.StageNACLEgress, Code: verdict.CodeSubnetACLRestrict}, false},
		{verdict.Verdict{Stage: verdict.StageRoute, Code: verdict.CodeTTLExceeded}, false},
	} {
		tap := NewTap(epoch)
		var buf bytes.Buffer
		s := attach(t, tap, &buf, Options{}, Point{Port: from, Interface: Interface{Name: "eni-from"}}, Point{Port: to, Interface: Interface{Name: "eni-to"}})
		c.v.From, c.v.To = from, to
		tap.OfferVerdict(&c.v, []byte{0x45}, 1)
		// A packet from the internet to the ENI: no sender ENI.
		c.v.From = verdict.PortInternet
		tap.OfferVerdict(&c.v, []byte{0x45}, 2)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		pkts, _, _, _ := readNg(t, buf.Bytes())
		var got []written
		for _, p := range pkts {
			got = append(got, written{iface: p.iface, dir: p.dir})
		}
		want := []written{{iface: 0, dir: Outbound}}
		if c.inbound {
			want = append(want, written{iface: 1, dir: Inbound}, written{iface: 1, dir: Inbound})
		}
		if len(got) != len(want) {
			t.Errorf("%s %s: packets %+v, want %+v", c.v.Stage, c.v.Code, got, want)
			continue
		}
		for i := range want {
			if got[i].iface != want[i].iface || got[i].dir != want[i].dir {
				t.Errorf("%s %s: packets %+v, want %+v", c.v.Stage, c.v.Code, got, want)
				break
			}
		}
	}
}

// TestTapConcurrent offers packets from several goroutines to two
// sessions, one of which shares a port with the other, through rings
// small enough to overflow: every packet is written intact and in each
// producer's order, or counted as dropped.
func TestTapConcurrent(t *testing.T) {
	const producers, each = 4, 3000
	tap := NewTap(epoch)
	var f1, f2 bytes.Buffer
	s1 := attach(t, tap, &f1, Options{Slots: 64, Snaplen: 64},
		Point{Port: 0, Interface: Interface{Name: "eni-a"}}, Point{Port: 3, Interface: Interface{Name: "eni-b"}})
	s2 := attach(t, tap, &f2, Options{Slots: 64}, Point{Port: 3, Interface: Interface{Name: "eni-b"}})

	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pkt := make([]byte, 24)
			v := verdict.Verdict{Allowed: p%2 == 0, Stage: verdict.StageSGIngress, Code: verdict.CodeConntrack, ENI: "eni-b"}
			for i := range each {
				binary.BigEndian.PutUint64(pkt[8:], uint64(p))
				binary.BigEndian.PutUint64(pkt[16:], uint64(i))
				port := verdict.Port(3 * (i % 2)) // alternately eni-a and eni-b
				tap.Offer(port, Inbound, &v, pkt, int64(i))
				if i%16 == 0 {
					runtime.Gosched() // let the writers in
				}
			}
		}()
	}
	wg.Wait()
	for _, s := range []*Session{s1, s2} {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}

	check := func(name string, file []byte, st Stats, offered int, ifaceOf func(port int) int) {
		t.Helper()
		pkts, comments, _, stats := readNg(t, file)
		last := map[[2]int]int{}
		for i, g := range pkts {
			p, seq := int(binary.BigEndian.Uint64(g.pkt[8:])), int(binary.BigEndian.Uint64(g.pkt[16:]))
			if g.ts != epoch.UnixNano()+int64(seq) || g.iface != ifaceOf(3*(seq%2)) || len(g.pkt) != 24 {
				t.Fatalf("%s: packet %d mixes copies: producer %d seq %d, ts %d, iface %d, %d bytes", name, i, p, seq, g.ts, g.iface, len(g.pkt))
			}
			if want := map[bool]string{true: "allow", false: "deny"}[p%2 == 0]; !strings.HasPrefix(comments[i][0], want) {
				t.Fatalf("%s: packet %d of producer %d has comment %q", name, i, p, comments[i][0])
			}
			k := [2]int{p, g.iface}
			if prev, ok := last[k]; ok && seq <= prev {
				t.Fatalf("%s: producer %d: seq %d after %d", name, p, seq, prev)
			}
			last[k] = seq
		}
		var recv, drops uint64
		for _, s := range stats {
			recv += s.PacketsReceived
			drops += s.PacketsDropped
		}
		if st.Packets != uint64(len(pkts)) || st.Packets+st.Dropped != uint64(offered) || recv != uint64(offered) || drops != st.Dropped {
			t.Errorf("%s: Stats %+v, read %d packets, statistics blocks %d received %d dropped; offered %d", name, st, len(pkts), recv, drops, offered)
		}
		t.Logf("%s: %d written, %d dropped", name, st.Packets, st.Dropped)
	}
	check("session 1", f1.Bytes(), s1.Stats(), producers*each, func(port int) int { return port / 3 })
	check("session 2", f2.Bytes(), s2.Stats(), producers*each/2, func(int) int { return 0 })
}

// blockingWriter passes writes through until armed; then its next write
// reports on started and waits for release.
type blockingWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	armed   bool
	started chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	armed := w.armed
	w.armed = false
	w.mu.Unlock()
	if armed {
		close(w.started)
		<-w.release
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *blockingWriter) arm() {
	w.mu.Lock()
	w.armed = true
	w.mu.Unlock()
}

// TestTapDropsWhenFull stalls the writer and fills the ring: the copies
// that do not fit are dropped and counted, in Stats and in the file.
func TestTapDropsWhenFull(t *testing.T) {
	tap := NewTap(epoch)
	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	s := attach(t, tap, w, Options{Slots: 4}, Point{Port: 2, Interface: Interface{Name: "eni-a"}})
	w.arm()
	v := verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeDelivered}
	tap.Offer(2, Outbound, &v, []byte{0x45, 0}, 1)
	select {
	case <-w.started: // the writer took the packet and blocks writing it
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not write its first packet")
	}
	for i := range 10 {
		tap.Offer(2, Outbound, &v, []byte{0x45, byte(i + 1)}, int64(i+2))
	}
	if st := s.Stats(); st.Dropped != 6 {
		t.Errorf("with the writer stalled and 4 slots, 10 offers dropped %d, want 6", st.Dropped)
	}
	close(w.release)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Packets != 5 || st.Dropped != 6 {
		t.Errorf("Stats %+v, want 5 packets, 6 dropped", st)
	}
	pkts, _, _, stats := readNg(t, w.buf.Bytes())
	for i, p := range pkts {
		if p.pkt[1] != byte(i) { // the first packet, then the four that fit
			t.Errorf("packet %d is copy %d", i, p.pkt[1])
		}
	}
	if len(pkts) != 5 || stats[0].PacketsReceived != 11 || stats[0].PacketsDropped != 6 {
		t.Errorf("file: %d packets, statistics %+v; want 5, 11 received, 6 dropped", len(pkts), stats[0])
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct{ n int }

func (f *failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errors.New("broken pipe")
	}
	f.n -= len(p)
	return len(p), nil
}

func TestTapWriteErrorEndsSession(t *testing.T) {
	// The output takes the file header, then fails.
	var hdr bytes.Buffer
	w, err := NewWriter(&hdr, DefaultSnaplen, Interface{Name: "eni-a"})
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	tap := NewTap(epoch)
	s := attach(t, tap, &failAfter{n: hdr.Len()}, Options{}, Point{Port: 0, Interface: Interface{Name: "eni-a"}})
	v := verdict.Verdict{Allowed: true}
	tap.Offer(0, Outbound, &v, []byte{0x45}, 1)
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not end on a write error")
	}
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "eni-a") || !strings.Contains(err.Error(), "broken pipe") {
		t.Errorf("Err() = %v, want the ENI and the write error", err)
	}
	if tap.Capturing() {
		t.Error("a failed session is still attached")
	}
	if err := s.Close(); err == nil {
		t.Error("Close after a write error returned nil")
	}
	tap.Offer(0, Outbound, &v, []byte{0x45}, 2) // no session: nothing happens
}

func TestAttachErrors(t *testing.T) {
	tap := NewTap(epoch)
	a := Point{Port: 1, Interface: Interface{Name: "eni-a"}}
	for _, c := range []struct {
		name   string
		w      io.Writer
		points []Point
		opts   Options
		want   string
	}{
		{"no points", io.Discard, nil, Options{}, "no ENI"},
		{"negative port", io.Discard, []Point{{Port: verdict.PortInternet, Interface: Interface{Name: "internet"}}}, Options{}, "not an ENI"},
		{"twice", io.Discard, []Point{a, a}, Options{}, "twice"},
		{"snaplen", io.Discard, []Point{a}, Options{Snaplen: -1}, "snaplen"},
		{"big snaplen", io.Discard, []Point{a}, Options{Snaplen: MaxSnaplen + 1}, "snaplen"},
		{"slots", io.Discard, []Point{a}, Options{Slots: -1}, "slots"},
		{"many slots", io.Discard, []Point{a}, Options{Slots: MaxSlots + 1}, "slots"},
		{"nil writer", nil, []Point{a}, Options{}, "no output"},
		{"header", failWriter{}, []Point{a}, Options{}, "header"},
	} {
		s, err := tap.Attach(c.w, c.points, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Attach = %v, %v; want an error saying %q", c.name, s, err, c.want)
		}
	}
	if tap.Capturing() {
		t.Error("failed Attach calls left a session attached")
	}
}

func TestTapTruncates(t *testing.T) {
	tap := NewTap(epoch)
	var buf bytes.Buffer
	s := attach(t, tap, &buf, Options{Snaplen: 20}, Point{Port: 0, Interface: Interface{Name: "eni-a"}})
	pkt := make([]byte, 100)
	pkt[0] = 0x45
	v := verdict.Verdict{Allowed: true}
	tap.Offer(0, Outbound, &v, pkt, 1)
	tap.Offer(0, Outbound, &v, pkt[:20], 2)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Packets != 2 || st.Truncated != 1 {
		t.Errorf("Stats %+v, want 2 packets, 1 truncated", st)
	}
	f := parseNg(t, buf.Bytes())
	if p := f.packets[0]; f.ifaces[0].snaplen != SLLHeaderLen+20 || p.capLen != 20 || p.origLen != 100 {
		t.Errorf("interface snaplen %d, packet captured %d of %d; want 16+20, 20 of 100", f.ifaces[0].snaplen, p.capLen, p.origLen)
	}
}

// TestTapStreams reads a session's output through a pipe while it runs:
// each packet arrives without waiting for Close.
func TestTapStreams(t *testing.T) {
	pr, pw := io.Pipe()
	got := make(chan written, 4)
	readErr := make(chan error, 1)
	go func() {
		r, err := pcapgo.NewNgReader(pr, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			readErr <- err
			return
		}
		for {
			data, ci, _, err := r.ReadPacketDataWithOptions()
			if err != nil {
				readErr <- err
				return
			}
			got <- written{ts: ci.Timestamp.UnixNano(), pkt: append([]byte(nil), data[SLLHeaderLen:]...)}
		}
	}()
	tap := NewTap(epoch)
	s := attach(t, tap, pw, Options{}, Point{Port: 0, Interface: Interface{Name: "eni-a"}})
	v := verdict.Verdict{Allowed: true}
	for i := range 2 {
		tap.Offer(0, Outbound, &v, []byte{0x45, byte(i)}, int64(i))
		select {
		case p := <-got:
			if p.pkt[1] != byte(i) || p.ts != epoch.UnixNano()+int64(i) {
				t.Errorf("packet %d: read %x at %d", i, p.pkt, p.ts)
			}
		case err := <-readErr:
			t.Fatalf("reading the stream: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("packet %d did not come through the stream before Close", i)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-readErr; !errors.Is(err, io.EOF) {
		t.Errorf("the stream ended with %v, want EOF", err)
	}
}

func TestOfferNoAllocs(t *testing.T) {
	_, e := exampleEngine(t)
	from, pkt := build(t, e, policytest.Send{From: "web1", To: "app1", Proto: "tcp", Sport: 49152, Dport: 8080, Flags: "S", Size: 200})
	var v verdict.Verdict
	e.Process(from, pkt, 1, &v)
	tap := NewTap(epoch)
	if n := testing.AllocsPerRun(1000, func() { tap.OfferVerdict(&v, pkt, 1) }); n != 0 {
		t.Errorf("OfferVerdict with no session allocates %v times", n)
	}
	// With sessions on both ends, writing to io.Discard: the writer
	// goroutine allocates nothing per packet either.
	s := attach(t, tap, io.Discard, Options{Slots: 1024}, point(t, e, "eni-web1", ""), point(t, e, "eni-app1", ""))
	calls := 0
	if n := testing.AllocsPerRun(2000, func() {
		tap.OfferVerdict(&v, pkt, 1) // outbound at eni-web1, inbound at eni-app1
		tap.Offer(from, Outbound, &v, pkt, 2)
		calls++
	}); n != 0 {
		t.Errorf("Offer and OfferVerdict with a session allocate %v times", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Packets+st.Dropped != uint64(3*calls) {
		t.Errorf("Stats %+v after %d calls, want %d copies written or dropped", st, calls, 3*calls)
	}
}

func BenchmarkOfferVerdict(b *testing.B) {
	_, e := exampleEngine(b)
	from, pkt := build(b, e, policytest.Send{From: "web1", To: "app1", Proto: "tcp", Sport: 49152, Dport: 8080, Flags: "S", Size: 1400})
	var v verdict.Verdict
	e.Process(from, pkt, 1, &v)
	b.Run("idle", func(b *testing.B) {
		tap := NewTap(epoch)
		for b.Loop() {
			tap.OfferVerdict(&v, pkt, 1)
		}
	})
	b.Run("capturing", func(b *testing.B) {
		tap := NewTap(epoch)
		s := attach(b, tap, io.Discard, Options{}, point(b, e, "eni-web1", ""))
		defer s.Close()
		b.ReportAllocs()
		b.SetBytes(int64(len(pkt)))
		for b.Loop() {
			tap.OfferVerdict(&v, pkt, 1)
		}
	})
}
