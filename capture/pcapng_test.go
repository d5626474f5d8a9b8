package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/policytest"
	"github.com/vpclab/vpclab/verdict"
)

// written is one packet as a test wrote it.
type written struct {
	iface int
	ts    int64
	dir   Direction
	pkt   []byte
	orig  int
	v     verdict.Verdict
}

func wantEtherType(pkt []byte) layers.EthernetType {
	switch {
	case len(pkt) > 0 && pkt[0]>>4 == 4:
		return layers.EthernetTypeIPv4
	case len(pkt) > 0 && pkt[0]>>4 == 6:
		return layers.EthernetTypeIPv6
	}
	return 0
}

// readNg reads a file with gopacket's pcapng reader and returns its
// packets, their options, its interfaces and the statistics blocks.
func readNg(t *testing.T, b []byte) ([]written, [][]string, []pcapgo.NgInterface, map[int]pcapgo.NgInterfaceStatistics) {
	t.Helper()
	stats := map[int]pcapgo.NgInterfaceStatistics{}
	opts := pcapgo.DefaultNgReaderOptions
	opts.StatisticsCallback = func(i int, s pcapgo.NgInterfaceStatistics) { stats[i] = s }
	r, err := pcapgo.NewNgReader(bytes.NewReader(b), opts)
	if err != nil {
		t.Fatalf("gopacket reading the file: %v", err)
	}
	if r.LinkType() != layers.LinkTypeLinuxSLL {
		t.Errorf("link type %v, want %v", r.LinkType(), layers.LinkTypeLinuxSLL)
	}
	if app := r.SectionInfo().Application; app != "vpclab" {
		t.Errorf("shb_userappl %q, want vpclab", app)
	}
	var pkts []written
	var comments [][]string
	for {
		data, ci, o, err := r.ReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("gopacket reading packet %d: %v", len(pkts)+1, err)
		}
		if ci.CaptureLength != len(data) || len(data) < SLLHeaderLen {
			t.Fatalf("packet %d: capture length %d, data %d bytes", len(pkts)+1, ci.CaptureLength, len(data))
		}
		w := written{iface: ci.InterfaceIndex, ts: ci.Timestamp.UnixNano(), pkt: data[SLLHeaderLen:], orig: ci.Length - SLLHeaderLen}
		if o.Flags != nil {
			w.dir = Direction(o.Flags.Direction)
		}
		// gopacket's decoder reads the cooked header as tcpdump does.
		pk := gopacket.NewPacket(data, layers.LinkTypeLinuxSLL, gopacket.NoCopy)
		sll, _ := pk.LinkLayer().(*layers.LinuxSLL)
		wantType := map[Direction]layers.LinuxSLLPacketType{Inbound: layers.LinuxSLLPacketTypeHost, Outbound: layers.LinuxSLLPacketTypeOutgoing}[w.dir]
		if sll == nil || sll.PacketType != wantType || sll.AddrType != 0xfffe || sll.AddrLen != 0 || sll.EthernetType != wantEtherType(w.pkt) {
			t.Errorf("packet %d (%v): cooked header %+v", len(pkts)+1, w.dir, sll)
		}
		pkts = append(pkts, w)
		comments = append(comments, o.Comments)
	}
	var ifaces []pcapgo.NgInterface
	for i := range r.NInterfaces() {
		ifc, err := r.Interface(i)
		if err != nil {
			t.Fatal(err)
		}
		ifaces = append(ifaces, ifc)
	}
	return pkts, comments, ifaces, stats
}

func TestWriterRoundTrip(t *testing.T) {
	ifaces := []Interface{{Name: "eni-web1", Description: "ENI of web1"}, {Name: "internet"}}
	ref := &verdict.RuleRef{Group: "sg-web", Dir: verdict.Ingress, Index: 2, ID: "sgr-0abc"}
	in := []written{
		{0, 1_700_000_000_123_456_789, Outbound, []byte{0x45}, 1, verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch, SG: ref, ENI: "eni-web1"}},
		{1, 1_700_000_000_223_456_789, Inbound, []byte{0x45, 1}, 2, verdict.Verdict{Stage: verdict.StageNACLIngress, Code: verdict.CodeSubnetACLRestrict, ACL: "acl-db", NACLRule: 32767}},
		{0, 1_700_000_001_000_000_001, Inbound, []byte{0x45, 1, 2}, 1500, verdict.Verdict{Stage: verdict.StageParse, Code: verdict.CodeMalformed, Parse: packet.BadIHL}},
		{1, 5, Outbound, []byte{0x60, 1, 2, 3}, 4, verdict.Verdict{Allowed: true, Stage: verdict.StageExempt, Code: verdict.CodeExempt}},
		{0, 1 << 40, Inbound, bytes.Repeat([]byte{0x45, 9, 8, 7, 6}, 9), 45, verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeConntrack, ENI: "eni-web1"}},
		{1, 7, Outbound, nil, 0, verdict.Verdict{Stage: verdict.StageParse, Code: verdict.CodeMalformed, Parse: packet.Truncated}},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, 0, ifaces...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		p := &in[i]
		if err := w.WritePacket(p.iface, p.ts, p.dir, p.pkt, p.orig, &p.v); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}

	got, comments, gifaces, _ := readNg(t, buf.Bytes())
	if len(gifaces) != 2 {
		t.Fatalf("%d interfaces, want 2", len(gifaces))
	}
	for i, ifc := range gifaces {
		if ifc.Name != ifaces[i].Name || ifc.Description != ifaces[i].Description || ifc.LinkType != layers.LinkTypeLinuxSLL ||
			ifc.TimestampResolution != 9 || ifc.SnapLength != 262144 {
			t.Errorf("interface %d: %+v, want %+v, Linux cooked, resolution 9, snaplen 262144", i, ifc, ifaces[i])
		}
	}
	if len(got) != len(in) {
		t.Fatalf("read %d packets, wrote %d", len(got), len(in))
	}
	for i := range in {
		want, g := &in[i], &got[i]
		if g.iface != want.iface || g.ts != want.ts || g.dir != want.dir || !bytes.Equal(g.pkt, want.pkt) || g.orig != want.orig {
			t.Errorf("packet %d: got iface %d ts %d %v %x orig %d; want iface %d ts %d %v %x orig %d", i,
				g.iface, g.ts, g.dir, g.pkt, g.orig, want.iface, want.ts, want.dir, want.pkt, want.orig)
		}
		if c := string(Comment(nil, &want.v)); len(comments[i]) != 1 || comments[i][0] != c {
			t.Errorf("packet %d: comments %q, want [%q]", i, comments[i], c)
		}
	}

	// The same file through the strict reader.
	f := parseNg(t, buf.Bytes())
	if len(f.ifaces) != 2 || len(f.packets) != len(in) || len(f.stats) != 0 {
		t.Fatalf("strict reader: %d interfaces, %d packets, %d statistics", len(f.ifaces), len(f.packets), len(f.stats))
	}
	for i, ifc := range f.ifaces {
		if string(opt(ifc.opts, ifName)) != ifaces[i].Name || !bytes.Equal(opt(ifc.opts, ifTSResol), []byte{9}) || ifc.linkType != LinkTypeLinuxSLL {
			t.Errorf("strict reader: interface %d: %+v", i, ifc)
		}
	}
	if d := opt(f.ifaces[1].opts, ifDescription); d != nil {
		t.Errorf("interface 1 without a description has if_description %q", d)
	}
	for i, p := range f.packets {
		if p.ts != uint64(in[i].ts) || int(p.iface) != in[i].iface || count(p.opts, optComment) != 1 {
			t.Errorf("strict reader: packet %d: %+v", i, p)
		}
		if flags := opt(p.opts, epbFlags); len(flags) != 4 || binary.LittleEndian.Uint32(flags) != uint32(in[i].dir) {
			t.Errorf("packet %d: epb_flags %x, want %d", i, flags, in[i].dir)
		}
		if want := map[Direction]uint16{Inbound: 0, Outbound: 4}[in[i].dir]; p.sllType != want || p.sllProto != uint16(wantEtherType(in[i].pkt)) {
			t.Errorf("packet %d (%v): cooked packet type %d, protocol %#x", i, in[i].dir, p.sllType, p.sllProto)
		}
	}
}

func TestWriterSnaplenAndLengths(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, 16, Interface{Name: "eni-a"})
	if err != nil {
		t.Fatal(err)
	}
	pkt := make([]byte, 40)
	for i := range pkt {
		pkt[i] = byte(i)
	}
	v := verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeDelivered}
	for _, c := range []struct{ n, orig int }{{40, 40}, {40, 9000}, {10, 3}} {
		if err := w.WritePacket(0, 1, Inbound, pkt[:c.n], c.orig, &v); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	f := parseNg(t, buf.Bytes())
	if f.ifaces[0].snaplen != 16+SLLHeaderLen {
		t.Errorf("interface snaplen %d, want 16 + the cooked header", f.ifaces[0].snaplen)
	}
	want := []struct{ capLen, orig uint32 }{{16, 40}, {16, 9000}, {10, 10}}
	for i, p := range f.packets {
		if p.capLen != want[i].capLen || p.origLen != want[i].orig || !bytes.Equal(p.data, pkt[:p.capLen]) {
			t.Errorf("packet %d: captured %d of %d (%x); want %d of %d", i, p.capLen, p.origLen, p.data, want[i].capLen, want[i].orig)
		}
	}
}

func TestWriterLateInterfaceAndStats(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, DefaultSnaplen)
	if err != nil {
		t.Fatal(err)
	}
	v := verdict.Verdict{Stage: verdict.StageSGEgress, Code: verdict.CodeSGRulesMismatch, ENI: "eni-a"}
	if err := w.WritePacket(0, 1, Outbound, []byte{0x45}, 1, &v); err == nil {
		t.Error("a packet on an undeclared interface was written")
	}
	if i, err := w.AddInterface(Interface{Name: "eni-a"}); i != 0 || err != nil {
		t.Fatalf("AddInterface = %d, %v", i, err)
	}
	w.WritePacket(0, 1e9, Outbound, []byte{0x45}, 1, &v)
	if i, err := w.AddInterface(Interface{Name: "eni-b", Description: "second"}); i != 1 || err != nil {
		t.Fatalf("AddInterface = %d, %v", i, err)
	}
	w.WritePacket(1, 2e9, Inbound, []byte{0x45, 0}, 2, &v)
	if err := w.WriteStats(1, InterfaceStats{Start: 1e9, End: 3e9, Written: 7, Dropped: 2}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteStats(2, InterfaceStats{}); err == nil {
		t.Error("statistics of an undeclared interface were written")
	}
	if err := w.WritePacket(0, 1, Direction(0), []byte{0x45}, 1, &v); err == nil {
		t.Error("a packet of no direction was written")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if w.Interfaces() != 2 || w.Snaplen() != DefaultSnaplen {
		t.Errorf("Interfaces %d, Snaplen %d", w.Interfaces(), w.Snaplen())
	}

	pkts, _, ifaces, stats := readNg(t, buf.Bytes())
	if len(pkts) != 2 || pkts[1].iface != 1 || len(ifaces) != 2 || ifaces[1].Description != "second" {
		t.Fatalf("packets %+v, interfaces %+v", pkts, ifaces)
	}
	s, ok := stats[1]
	if !ok || s.PacketsReceived != 9 || s.PacketsDropped != 2 || s.StartTime.UnixNano() != 1e9 || s.EndTime.UnixNano() != 3e9 {
		t.Errorf("statistics of interface 1: %+v (found %v); want 9 received, 2 dropped, 1s-3s", s, ok)
	}
	f := parseNg(t, buf.Bytes())
	if want := []uint32{0x0a0d0d0a, 1, 6, 1, 6, 5}; !equalU32(f.order, want) {
		t.Errorf("blocks %v, want %v", f.order, want)
	}
	st := f.stats[0]
	if st.iface != 1 || st.ts != 3e9 || binary.LittleEndian.Uint64(opt(st.opts, isbUsrDeliv)) != 7 ||
		binary.LittleEndian.Uint64(opt(st.opts, isbIfDrop)) != 2 || binary.LittleEndian.Uint64(opt(st.opts, isbIfRecv)) != 9 {
		t.Errorf("statistics block %+v", st)
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWriterErrors(t *testing.T) {
	if _, err := NewWriter(nil, 0); err == nil {
		t.Error("NewWriter(nil) succeeded")
	}
	for _, n := range []int{-1, MaxSnaplen + 1} {
		if _, err := NewWriter(io.Discard, n); err == nil || !strings.Contains(err.Error(), "snaplen") {
			t.Errorf("snaplen %d: error %v", n, err)
		}
	}
	if _, err := NewWriter(io.Discard, 0, Interface{Name: strings.Repeat("x", 70000)}); err == nil {
		t.Error("a 70000-byte interface name was accepted")
	}
	w, err := NewWriter(failWriter{}, 0, Interface{Name: "eni-a"})
	if err != nil {
		t.Fatal(err) // the header is buffered
	}
	if err := w.Flush(); err == nil {
		t.Error("Flush reported no error from its output")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no room") }

// flushCounter counts Flush calls, as an http.ResponseWriter's Flush.
type flushCounter struct {
	bytes.Buffer
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++ }

// flushErr has Flush() error, as a bufio.Writer's.
type flushErr struct{ bytes.Buffer }

func (f *flushErr) Flush() error { return errors.New("flush failed") }

func TestWriterFlushesItsOutput(t *testing.T) {
	fc := &flushCounter{}
	w, _ := NewWriter(fc, 0)
	if err := w.Flush(); err != nil || fc.flushes != 1 || fc.Len() == 0 {
		t.Errorf("Flush: %v, %d flushes of the output, %d bytes", err, fc.flushes, fc.Len())
	}
	w, _ = NewWriter(&flushErr{}, 0)
	if err := w.Flush(); err == nil {
		t.Error("the output's Flush error was lost")
	}
}

// exampleEngine returns an engine for the built-in example lab.
func exampleEngine(t testing.TB) (*lab.Lab, *dataplane.Engine) {
	t.Helper()
	l := labfile.ExampleLab()
	return l, dataplane.New(l)
}

// build builds the packet of s with the engine's policy.
func build(t testing.TB, e *dataplane.Engine, s policytest.Send) (verdict.Port, []byte) {
	t.Helper()
	from, _, pkt, err := s.Packet(e.Snapshot(), nil)
	if err != nil {
		t.Fatalf("building %+v: %v", s, err)
	}
	return from.Port, pkt
}

func TestWriterLaterFragment(t *testing.T) {
	_, e := exampleEngine(t)
	frag := policytest.Send{From: "web1", To: "app1", Proto: "tcp", Sport: 49152, Dport: 8080, Flags: "S",
		Fragment: &policytest.Fragment{ID: 7, More: true}, Size: 64}
	from, first := build(t, e, frag)
	var v verdict.Verdict
	e.Process(from, first, 1, &v)
	frag.Fragment = &policytest.Fragment{ID: 7, Offset: 32 + 8}
	_, later := build(t, e, frag)
	var lv verdict.Verdict
	e.Process(from, later, 2, &lv)
	if !lv.Allowed {
		t.Fatalf("the later fragment was not allowed: %+v", lv)
	}

	var buf bytes.Buffer
	w, _ := NewWriter(&buf, 0, Interface{Name: "eni-web1"})
	w.WritePacket(0, 1, Outbound, first, len(first), &v)
	w.WritePacket(0, 2, Outbound, later, len(later), &lv)
	w.Flush()
	_, comments, _, _ := readNg(t, buf.Bytes())
	if want := "allow sg-ingress SG_RULE_MATCH: sg-app ingress #0 on eni-app1"; comments[0][0] != want {
		t.Errorf("first fragment: %q, want %q", comments[0][0], want)
	}
	if want := "allow sg-ingress SG_RULE_MATCH (a later fragment, following its first fragment's verdict)"; comments[1][0] != want {
		t.Errorf("later fragment: %q, want %q", comments[1][0], want)
	}
}

func TestWritePacketNoAllocs(t *testing.T) {
	_, e := exampleEngine(t)
	from, pkt := build(t, e, policytest.Send{From: "web1", To: "db1", Proto: "tcp", Sport: 49152, Dport: 5432, Flags: "S"})
	var v verdict.Verdict
	e.Process(from, pkt, 1, &v)
	w, err := NewWriter(io.Discard, 0, Interface{Name: "eni-web1"})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if err := w.WritePacket(0, 1, Outbound, pkt, len(pkt), &v); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WritePacket allocates %v times per packet", n)
	}
}

func BenchmarkWritePacket(b *testing.B) {
	_, e := exampleEngine(b)
	from, pkt := build(b, e, policytest.Send{From: "web1", To: "app1", Proto: "tcp", Sport: 49152, Dport: 8080, Flags: "S", Size: 1400})
	var v verdict.Verdict
	e.Process(from, pkt, 1, &v)
	w, _ := NewWriter(io.Discard, 0, Interface{Name: "eni-web1"})
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		w.WritePacket(0, time.Now().UnixNano(), Outbound, pkt, len(pkt), &v)
	}
}
