package replay

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/pcap/pcaptest"
	"github.com/vpclab/vpclab/verdict"
)

// Addresses of the example lab (labfile.Example).
var (
	web1     = netip.MustParseAddr("10.0.1.10")
	web1v6   = netip.MustParseAddr("2600:1f18:aa:bb01::10")
	app1     = netip.MustParseAddr("10.0.2.10")
	db1      = netip.MustParseAddr("10.0.3.10")
	office   = netip.MustParseAddr("203.0.113.5")
	office6  = netip.MustParseAddr("2001:db8::5")
	blocked  = netip.MustParseAddr("198.51.100.7") // denied by acl-web rule 90
	baseTime = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
)

func exampleEngine() *dataplane.Engine { return dataplane.New(labfile.ExampleLab()) }

// ipPacket builds an IP packet.
func ipPacket(t testing.TB, s packet.Spec) []byte {
	t.Helper()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s.Append(nil)
}

func tcp(src, dst netip.Addr, sport, dport uint16, flags uint8) packet.Spec {
	return packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoTCP, SrcPort: sport, DstPort: dport, TCPFlags: flags}
}

func icmp(src, dst netip.Addr, typ uint8, id uint16) packet.Spec {
	return packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoICMP, ICMPType: typ, ICMPID: id}
}

type record = pcaptest.Record

// scenario is a capture of the example lab with known verdicts.
type scenario struct {
	recs    []record
	ip      [][]byte // the IP packet of each record, nil for none
	allowed []int    // frame numbers of the allowed packets
}

func exampleScenario(t testing.TB) *scenario {
	s := &scenario{}
	add := func(frame, ip []byte) {
		s.recs = append(s.recs, record{Time: baseTime.Add(time.Duration(len(s.recs)) * time.Millisecond), Data: frame})
		s.ip = append(s.ip, ip)
	}
	allow := func() { s.allowed = append(s.allowed, len(s.recs)) }

	syn := ipPacket(t, tcp(web1, app1, 49152, 8080, packet.TCPSyn))
	add(pcaptest.Ethernet(t, syn), syn) // 1: allowed by sg-app ingress #0
	allow()
	synack := ipPacket(t, tcp(app1, web1, 8080, 49152, packet.TCPSyn|packet.TCPAck))
	add(pcaptest.Ethernet(t, synack, 100), synack) // 2: the reply, VLAN-tagged: conntrack
	allow()
	toDB := ipPacket(t, tcp(web1, db1, 49153, 5432, packet.TCPSyn))
	add(pcaptest.Ethernet(t, toDB), toDB) // 3: acl-db rule 32767
	fromBlocked := ipPacket(t, tcp(blocked, web1, 40000, 80, packet.TCPSyn))
	add(pcaptest.Ethernet(t, fromBlocked), fromBlocked) // 4: acl-web rule 90
	ping := ipPacket(t, icmp(office, web1, 8, 7))
	add(pcaptest.Ethernet(t, ping), ping) // 5: sg-web ingress #5
	allow()
	pong := ipPacket(t, icmp(web1, office, 0, 7))
	add(pcaptest.Ethernet(t, pong), pong) // 6: conntrack, acl-web egress rule 110
	allow()
	add(pcaptest.ARP(t, web1, app1), nil)            // 7: skipped
	add(pcaptest.Ethernet(t, syn)[:14+10], syn[:10]) // 8: malformed: truncated
	v6 := ipPacket(t, tcp(office6, web1v6, 50000, 443, packet.TCPSyn))
	add(pcaptest.Ethernet(t, v6, 10, 20), v6) // 9: two VLAN tags; sg-web ingress #3
	allow()
	fromDB := ipPacket(t, tcp(db1, web1, 49154, 443, packet.TCPSyn))
	add(pcaptest.Ethernet(t, fromDB), fromDB) // 10: sg-db lets nothing out
	return s
}

func TestReplayExampleScenario(t *testing.T) {
	sc := exampleScenario(t)
	capture := pcaptest.Pcap(t, layers.LinkTypeEthernet, sc.recs)
	c, err := pcap.NewReader(bytes.NewReader(capture), "scenario.pcap")
	if err != nil {
		t.Fatal(err)
	}
	var verdicts, allowed bytes.Buffer
	sum, err := Run(exampleEngine(), c, Options{Verdicts: &verdicts, Allowed: &allowed})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, sum)

	want := &Summary{
		Capture: "scenario.pcap", Format: "pcap", LinkType: "Ethernet (1)",
		Frames: 10, Packets: 9, Allowed: 5, Denied: 4,
		DeniedByStage: map[string]int64{"nacl-ingress": 2, "parse": 1, "sg-egress": 1},
		DeniedByCode:  map[string]int64{"SUBNET_ACL_RESTRICTION": 2, "MALFORMED_PACKET": 1, "ENI_SG_RULES_MISMATCH": 1},
		ParseDrops:    map[string]int64{"truncated": 1},
		Skipped:       1,
		SkippedBy:     map[string]int64{"ethertype 0x0806 (ARP)": 1},
		Seconds:       0.009,
		Cores:         1,
	}
	got := *sum
	got.WallSeconds, got.PPS = 0, 0
	if !equalJSON(t, &got, want) {
		t.Errorf("summary:\ngot  %s\nwant %s", mustJSON(t, &got), mustJSON(t, want))
	}
	if sum.WallSeconds <= 0 || sum.PPS <= 0 {
		t.Errorf("wall %v s, %v pps: want both > 0", sum.WallSeconds, sum.PPS)
	}

	// The verdicts: one line per IP packet, with the rule that decided.
	recs := decodeVerdicts(t, verdicts.Bytes())
	if len(recs) != 9 {
		t.Fatalf("%d verdict lines, want 9", len(recs))
	}
	byIndex := map[int64]VerdictRecord{}
	for _, r := range recs {
		byIndex[r.Index] = r
	}
	if _, ok := byIndex[7]; ok {
		t.Errorf("a verdict for frame 7 (ARP), which holds no IP packet")
	}
	checks := []struct {
		index int64
		check func(r VerdictRecord) bool
	}{
		{1, func(r VerdictRecord) bool {
			return r.Allowed && r.From == "eni-web1" && r.To == "eni-app1" && r.Stage == "sg-ingress" &&
				r.SG == "sg-app" && r.SGDir == "ingress" && r.SGRuleIndex == 0 && r.Proto == 6 &&
				*r.Sport == 49152 && *r.Dport == 8080 && r.Src == "10.0.1.10" && r.Dst == "10.0.2.10"
		}},
		{2, func(r VerdictRecord) bool {
			return r.Allowed && r.Code == "CONNTRACK_ESTABLISHED" && r.ENI == "eni-web1" && r.SG == ""
		}},
		{3, func(r VerdictRecord) bool {
			return !r.Allowed && r.Stage == "nacl-ingress" && r.ACL == "acl-db" && r.NACLRule == 32767 &&
				r.Code == "SUBNET_ACL_RESTRICTION"
		}},
		{4, func(r VerdictRecord) bool {
			return !r.Allowed && r.From == "internet" && r.ACL == "acl-web" && r.NACLRule == 90
		}},
		{5, func(r VerdictRecord) bool {
			return r.Allowed && r.SG == "sg-web" && r.SGRuleIndex == 5 && *r.ICMPType == 8 && *r.ICMPCode == 0
		}},
		{6, func(r VerdictRecord) bool { return r.Allowed && r.To == "internet" && r.NACLRule == 110 }},
		{8, func(r VerdictRecord) bool {
			return !r.Allowed && r.Stage == "parse" && r.Parse == "truncated" && r.From == "-" && r.Length == 10
		}},
		{9, func(r VerdictRecord) bool {
			return r.Allowed && r.Src == "2001:db8::5" && r.SG == "sg-web" && r.SGRuleIndex == 3
		}},
		{10, func(r VerdictRecord) bool {
			return !r.Allowed && r.Stage == "sg-egress" && r.ENI == "eni-db1" && r.Code == "ENI_SG_RULES_MISMATCH"
		}},
	}
	for _, c := range checks {
		r, ok := byIndex[c.index]
		if !ok || !c.check(r) {
			t.Errorf("verdict of frame %d: %+v", c.index, r)
		}
	}
	if want := baseTime.Add(2 * time.Millisecond).Format(time.RFC3339Nano); byIndex[3].Time != want {
		t.Errorf("frame 3 time %q, want %q", byIndex[3].Time, want)
	}

	// The allowed packets: a raw-IP pcap with the original timestamps.
	ar, err := pcap.NewReader(&allowed, "allowed.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if ar.LinkType() != layers.LinkTypeRaw {
		t.Errorf("allowed pcap link type %v, want LINKTYPE_RAW", ar.LinkType())
	}
	for i, n := range sc.allowed {
		fr, err := ar.Next()
		if err != nil {
			t.Fatalf("allowed packet %d: %v", i+1, err)
		}
		if want := sc.recs[n-1].Time.UnixNano(); fr.Time != want {
			t.Errorf("allowed packet %d: time %d, want %d", i+1, fr.Time, want)
		}
		if !bytes.Equal(fr.Data, sc.ip[n-1]) {
			t.Errorf("allowed packet %d: data differs from frame %d's IP packet", i+1, n)
		}
	}
	if _, err := ar.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after %d allowed packets: %v, want io.EOF", len(sc.allowed), err)
	}
}

// TestReplayPcapngMixedLinkTypes replays a pcapng capture whose two
// interfaces have different link types.
func TestReplayPcapngMixedLinkTypes(t *testing.T) {
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{LinkType: layers.LinkTypeRaw, SnapLength: 65536})
	if err != nil {
		t.Fatal(err)
	}
	syn := ipPacket(t, tcp(web1, app1, 49152, 8080, packet.TCPSyn))
	synack := ipPacket(t, tcp(app1, web1, 8080, 49152, packet.TCPSyn|packet.TCPAck))
	for i, r := range []struct {
		iface int
		data  []byte
	}{{0, pcaptest.Ethernet(t, syn)}, {raw, synack}, {0, pcaptest.ARP(t, web1, app1)}} {
		ci := gopacket.CaptureInfo{Timestamp: baseTime.Add(time.Duration(i) * time.Second),
			CaptureLength: len(r.data), Length: len(r.data), InterfaceIndex: r.iface}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	c, err := pcap.NewReader(&b, "mixed.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(exampleEngine(), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, sum)
	if sum.Format != "pcapng" || sum.Frames != 3 || sum.Packets != 2 || sum.Allowed != 2 || sum.Skipped != 1 || sum.Seconds != 1 {
		t.Errorf("summary %s", mustJSON(t, sum))
	}
}

func TestSourceAddr(t *testing.T) {
	v4 := ipPacket(t, tcp(web1, app1, 1, 2, 0))
	v6 := ipPacket(t, tcp(office6, web1v6, 1, 2, 0))
	for _, tt := range []struct {
		b    []byte
		want netip.Addr
	}{
		{v4, web1}, {v6, office6}, {v4[:19], netip.Addr{}}, {v6[:39], netip.Addr{}},
		{nil, netip.Addr{}}, {[]byte{0x50, 1, 2}, netip.Addr{}},
	} {
		if got := SourceAddr(tt.b); got != tt.want {
			t.Errorf("SourceAddr(% x…) = %v, want %v", tt.b[:min(4, len(tt.b))], got, tt.want)
		}
	}
}

// TestDamagedCapture cuts a capture inside its last record: the replay
// stops there with an error naming the file and the frame.
func TestDamagedCapture(t *testing.T) {
	sc := exampleScenario(t)
	capture := pcaptest.Pcap(t, layers.LinkTypeEthernet, sc.recs)
	c, err := pcap.NewReader(bytes.NewReader(capture[:len(capture)-5]), "cut.pcap")
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(exampleEngine(), c, Options{})
	if err == nil || !strings.Contains(err.Error(), "cut.pcap: frame 10:") {
		t.Errorf("error %v, want one naming cut.pcap and frame 10", err)
	}
	if sum == nil || sum.Frames != 9 || sum.Packets != 8 {
		t.Fatalf("summary %+v, want the 9 frames before the cut", sum)
	}
	checkInvariants(t, sum)

	for _, junk := range [][]byte{nil, []byte("GIF89a, not a capture at all"), capture[:20]} {
		if _, err := pcap.NewReader(bytes.NewReader(junk), "junk.pcap"); err == nil || !strings.HasPrefix(err.Error(), "junk.pcap: ") {
			t.Errorf("pcap.NewReader(%q…): %v, want an error naming junk.pcap", junk[:min(8, len(junk))], err)
		}
	}
	if _, err := pcap.Open(filepath.Join(t.TempDir(), "missing.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing): %v, want ErrNotExist", err)
	}
}

// externalDir holds the third-party captures the repository carries.
const externalDir = "../testdata/external/pcap"

// TestExternalCaptures replays every third-party capture in testdata/external, the
// damaged and hostile ones included: nothing fails, the counts add up, and
// a few captures with known contents come out as they should.
func TestExternalCaptures(t *testing.T) {
	var files []string
	err := filepath.WalkDir(externalDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.Contains(d.Name(), ".pcap")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s (%v): the repository carries them in testdata/external", externalDir, err)
	}
	e := exampleEngine()
	sums := map[string]*Summary{}
	for _, path := range files {
		c, err := pcap.Open(path)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		sum, err := Run(e, c, Options{Verdicts: io.Discard, Allowed: io.Discard})
		c.Close()
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		checkInvariants(t, sum)
		rel, _ := filepath.Rel(externalDir, path)
		sums[filepath.ToSlash(rel)] = sum
	}

	want := map[string]struct {
		frames, packets, skipped int64
		format                   string
		parse                    map[string]int64
		skippedBy                map[string]int64
	}{
		"zeek/wikipedia.pcap": {136, 126, 10, "pcap", nil,
			map[string]int64{"ethertype 0x0806 (ARP)": 6, "802.3 frame with LLC (no EtherType)": 4}},
		"zeek/echo-connections.pcap.gz": {82582, 82582, 0, "pcap", nil, nil},
		"zeek/trunc/trunc-hdr.pcap": {1, 0, 1, "pcap", nil,
			map[string]int64{"Ethernet (1): frame shorter than its link header": 1}},
		"zeek/trunc/ip4-trunc.pcap":                    {1, 1, 0, "pcap", map[string]int64{"truncated": 1}, nil},
		"zeek/trunc/ipv4-truncated-broken-header.pcap": {1, 1, 0, "pcap", map[string]int64{"bad_ihl": 1}, nil},
		"tcpdump/ipv4_invalid_hdr_length.pcap":         {1, 1, 0, "pcap", map[string]int64{"bad_ihl": 1}, nil},
		"tcpdump/ipv6-bad-version.pcap":                {4, 4, 0, "pcap", map[string]int64{"bad_ip_version": 2}, nil},
		"tcpdump/LINKTYPE_RAW_ipv4.pcap":               {1, 1, 0, "pcap", nil, nil},
		"tcpdump/LINKTYPE_IPV6.pcap":                   {1, 1, 0, "pcap", nil, nil},
		"tcpdump/icmp-length-zero.pcapng":              {1, 1, 0, "pcapng", map[string]int64{"bad_total_length": 1}, nil},
		"tcpdump/ipv6_jumbogram_1.pcap":                {1, 1, 0, "pcap", map[string]int64{"bad_payload_length": 1}, nil},
		// Link-type field 0x30000001: FCS bits over Ethernet.
		"tcpdump/tcp_header_heapoverflow.pcap": {1, 1, 0, "pcap", map[string]int64{"bad_total_length": 1}, nil},
	}
	for name, w := range want {
		s := sums[name]
		if s == nil {
			t.Errorf("%s: not replayed", name)
			continue
		}
		if s.Frames != w.frames || s.Packets != w.packets || s.Skipped != w.skipped || s.Format != w.format ||
			!maps.Equal(s.ParseDrops, orEmpty(w.parse)) || !maps.Equal(s.SkippedBy, orEmpty(w.skippedBy)) {
			t.Errorf("%s: got %s", name, mustJSON(t, s))
		}
	}
}

func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// checkInvariants checks that a summary's counts add up.
func checkInvariants(t *testing.T, s *Summary) {
	t.Helper()
	sum := func(m map[string]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	switch {
	case s.Frames != s.Packets+s.Skipped:
		t.Errorf("%s: frames %d != packets %d + skipped %d", s.Capture, s.Frames, s.Packets, s.Skipped)
	case s.Packets != s.Allowed+s.Denied:
		t.Errorf("%s: packets %d != allowed %d + denied %d", s.Capture, s.Packets, s.Allowed, s.Denied)
	case sum(s.DeniedByStage) != s.Denied || sum(s.DeniedByCode) != s.Denied:
		t.Errorf("%s: denied %d, by stage %v, by code %v", s.Capture, s.Denied, s.DeniedByStage, s.DeniedByCode)
	case sum(s.ParseDrops) != s.DeniedByCode["MALFORMED_PACKET"]:
		t.Errorf("%s: parse drops %v, malformed %d", s.Capture, s.ParseDrops, s.DeniedByCode["MALFORMED_PACKET"])
	case sum(s.SkippedBy) != s.Skipped:
		t.Errorf("%s: skipped %d, by %v", s.Capture, s.Skipped, s.SkippedBy)
	}
}

// TestPackets loads a capture into memory and replays it as the benchmark
// does, with the same verdicts as Run.
func TestPackets(t *testing.T) {
	sc := exampleScenario(t)
	path := filepath.Join(t.TempDir(), "scenario.pcap")
	if err := os.WriteFile(path, pcaptest.Pcap(t, layers.LinkTypeEthernet, sc.recs), 0o644); err != nil {
		t.Fatal(err)
	}
	pkts, err := Packets(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 9 {
		t.Fatalf("%d packets, want 9 (the ARP frame skipped)", len(pkts))
	}
	e := exampleEngine()
	var v verdict.Verdict
	var allowed []int
	for i := range pkts {
		p := &pkts[i]
		if want := sc.ip[p.Number-1]; !bytes.Equal(p.Data, want) || p.Src != SourceAddr(want) ||
			p.Time != sc.recs[p.Number-1].Time.UnixNano() {
			t.Errorf("packet %d (frame %d) differs from what was written", i, p.Number)
		}
		e.Process(e.SourcePort(p.Src), p.Data, p.Time, &v)
		if v.Allowed {
			allowed = append(allowed, int(p.Number))
		}
	}
	if !slices.Equal(allowed, sc.allowed) {
		t.Errorf("allowed frames %v, want %v", allowed, sc.allowed)
	}
}

// TestRunAllocations checks that replaying allocates nothing per packet,
// with every output on: a capture ten times longer costs no more
// allocations.
func TestRunAllocations(t *testing.T) {
	capture := func(n int) []byte {
		syn := ipPacket(t, tcp(web1, app1, 49152, 8080, packet.TCPSyn))
		ack := ipPacket(t, tcp(web1, app1, 49152, 8080, packet.TCPAck))
		recs := []record{{Time: baseTime, Data: pcaptest.Ethernet(t, syn)}}
		frame := pcaptest.Ethernet(t, ack)
		for i := 1; i < n; i++ {
			recs = append(recs, record{Time: baseTime.Add(time.Duration(i) * time.Microsecond), Data: frame})
		}
		return pcaptest.Pcap(t, layers.LinkTypeEthernet, recs)
	}
	allocs := func(b []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			c, err := pcap.NewReader(bytes.NewReader(b), "allocs.pcap")
			if err != nil {
				t.Fatal(err)
			}
			s, err := Run(exampleEngine(), c, Options{Verdicts: io.Discard, Allowed: io.Discard})
			if err != nil || s.Allowed != s.Packets {
				t.Fatalf("Run: %v, %+v", err, s)
			}
		})
	}
	small, large := allocs(capture(200)), allocs(capture(2000))
	t.Logf("allocations: %.0f for 200 packets, %.0f for 2000", small, large)
	if large-small > 5 {
		t.Errorf("%.0f allocations for 200 packets, %.0f for 2000: Run allocates per packet", small, large)
	}
}

func TestSummaryWriteText(t *testing.T) {
	s := &Summary{
		Capture: "x.pcap", Format: "pcap", LinkType: "Ethernet (1)",
		Frames: 1000, Packets: 990, Allowed: 900, Denied: 90, Skipped: 10,
		DeniedByStage: map[string]int64{"nacl-ingress": 60, "parse": 30},
		DeniedByCode:  map[string]int64{"SUBNET_ACL_RESTRICTION": 60, "MALFORMED_PACKET": 30},
		ParseDrops:    map[string]int64{"truncated": 30},
		SkippedBy:     map[string]int64{"ethertype 0x0806 (ARP)": 10},
		Seconds:       12.5, WallSeconds: 0.002, PPS: 495000,
	}
	var b bytes.Buffer
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `capture x.pcap (pcap, Ethernet (1))

frames                        1000
packets                        990
  allowed                      900   90.9%
  denied                        90    9.1%
    by stage
      nacl-ingress              60    6.1%
      parse                     30    3.0%
    by code
      SUBNET_ACL_RESTRICTION    60    6.1%
      MALFORMED_PACKET          30    3.0%
    parse drops
      truncated                 30    3.0%
skipped                         10    1.0%
  ethertype 0x0806 (ARP)        10    1.0%

capture span                  12.5s
wall time                     2ms
rate                          495.0k packets/s on 1 core(s)
`
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	s.Cores, s.CorePackets = 2, []int64{990, 0}
	b.Reset()
	if err := s.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	tail := "rate                          495.0k packets/s on 2 core(s)\npackets by core               990 0\n"
	if got := b.String(); !strings.HasSuffix(got, tail) {
		t.Errorf("on two cores, got:\n%s\nwant it to end:\n%s", got, tail)
	}
}

func decodeVerdicts(t *testing.T, b []byte) []VerdictRecord {
	t.Helper()
	var out []VerdictRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	for {
		var r VerdictRecord
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatalf("verdict line %d: %v", len(out)+1, err)
		}
		out = append(out, r)
	}
}

func mustJSON(t testing.TB, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func equalJSON(t testing.TB, a, b any) bool { return mustJSON(t, a) == mustJSON(t, b) }
