package mirror

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

type record struct {
	ci   gopacket.CaptureInfo
	data []byte
}

// readPcap reads a whole pcap file with gopacket's reader.
func readPcap(t *testing.T, path string) (layers.LinkType, []record) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []record
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: record %d: %v", path, len(out), err)
		}
		out = append(out, record{ci, data})
	}
	return r.LinkType(), out
}

func fileLab(t *testing.T, files ...string) *lab.Lab {
	var targets []*lab.MirrorTarget
	var sessions []*lab.MirrorSession
	for i, f := range files {
		id := "tmt-file" + string(rune('a'+i))
		targets = append(targets, &lab.MirrorTarget{ID: id, PcapFile: f, Line: 3})
		src := []string{"eni-web1", "eni-app1"}[i]
		sessions = append(sessions, newSession("tms-"+src, 1, src, id, "tmf-all", uint32(42+i), 0))
	}
	return newLab(t, []*lab.MirrorFilter{acceptAll("tmf-all")}, targets, sessions)
}

// TestPcapFile: a file target gets the mirror packets, readable by
// gopacket as LINKTYPE_RAW records that decode down to the inner TCP, with
// nanosecond timestamps from Options.Epoch.
func TestPcapFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mirror.pcap")
	epoch := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	m, err := New(fileLab(t, path), fixedPorts, Options{Epoch: epoch, QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	if lt, recs := readPcap(t, path); lt != layers.LinkTypeRaw || len(recs) != 0 {
		t.Fatalf("a new file: link type %v, %d records; want Raw, none", lt, len(recs))
	}
	v := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	var originals [][]byte
	for i := range 3 {
		b, p := pkt(t, tcp(web1, db1, 40000, 5432, 10*i))
		originals = append(originals, b)
		m.Offer(portWeb1, Egress, v, p, nil, b, int64(i)*1500) // 1.5 µs apart
	}
	m.Drain()
	// Drain flushes: the records are there before Close.
	_, recs := readPcap(t, path)
	if len(recs) != 3 {
		t.Fatalf("%d records after Drain, want 3", len(recs))
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_, recs = readPcap(t, path)
	if len(recs) != 3 {
		t.Fatalf("%d records after Close, want 3", len(recs))
	}
	for i, r := range recs {
		if want := epoch.Add(time.Duration(i) * 1500); !r.ci.Timestamp.Equal(want) {
			t.Errorf("record %d: time %v, want %v", i, r.ci.Timestamp, want)
		}
		if r.ci.CaptureLength != len(r.data) || r.ci.Length != len(r.data) {
			t.Errorf("record %d: lengths %d/%d for %d bytes", i, r.ci.CaptureLength, r.ci.Length, len(r.data))
		}
		p := gopacket.NewPacket(r.data, layers.LinkTypeRaw, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			t.Fatalf("record %d: %v", i, el.Error())
		}
		var got []gopacket.LayerType
		for _, l := range p.Layers() {
			got = append(got, l.LayerType())
		}
		want := []gopacket.LayerType{layers.LayerTypeIPv4, layers.LayerTypeUDP, layers.LayerTypeVXLAN,
			layers.LayerTypeEthernet, layers.LayerTypeIPv4, layers.LayerTypeTCP}
		if i > 0 {
			want = append(want, gopacket.LayerTypePayload)
		}
		if !equalTypes(got, want) {
			t.Fatalf("record %d decodes as %v, want %v", i, got, want)
		}
		d := decode(t, r.data)
		if !d.outer.SrcIP.Equal(web1.AsSlice()) || !d.outer.DstIP.Equal([]byte{0, 0, 0, 0}) || d.vxlan.VNI != 42 {
			t.Errorf("record %d: %v > %v VNI %d, want %v > 0.0.0.0 VNI 42", i, d.outer.SrcIP, d.outer.DstIP, d.vxlan.VNI, web1)
		}
		if !bytes.Equal(d.inner, originals[i]) {
			t.Errorf("record %d: the inner packet is not the original", i)
		}
	}
}

func equalTypes(a, b []gopacket.LayerType) bool {
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

// TestReconfigurePcap: a file a new lab keeps is appended to, one it
// drops is closed whole, one it adds is created; counters carry over by
// session id.
func TestReconfigurePcap(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pcap"), filepath.Join(dir, "b.pcap")
	m, err := New(fileLab(t, a), fixedPorts, Options{QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	web := &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}
	app := &verdict.Verdict{Allowed: true, From: portApp1, To: portDB1}
	wb, wp := pkt(t, tcp(web1, db1, 1, 2, 0))
	ab, ap := pkt(t, tcp(app1, db1, 1, 2, 0))
	send := func() {
		t.Helper()
		m.Offer(portWeb1, Egress, web, wp, nil, wb, 0)
		m.Offer(portApp1, Egress, app, ap, nil, ab, 0)
		m.Drain()
	}
	send() // a: web1
	if err := m.Reconfigure(fileLab(t, a, b)); err != nil {
		t.Fatal(err)
	}
	send() // a: web1, b: app1
	if _, recs := readPcap(t, a); len(recs) != 2 {
		t.Fatalf("a kept across Reconfigure has %d records, want 2", len(recs))
	}
	if _, recs := readPcap(t, b); len(recs) != 1 {
		t.Fatalf("b has %d records, want 1", len(recs))
	}
	// A lab whose only file is b, now for web1: a is closed, b kept.
	l := fileLab(t, b)
	if err := m.Reconfigure(l); err != nil {
		t.Fatal(err)
	}
	send()
	if _, recs := readPcap(t, a); len(recs) != 2 {
		t.Fatalf("a, retired, has %d records, want 2", len(recs))
	}
	if _, recs := readPcap(t, b); len(recs) != 2 {
		t.Fatalf("b has %d records, want 2", len(recs))
	}
	st := m.Stats()
	if len(st) != 1 || st[0].ID != "tms-eni-web1" || st[0].Mirrored != 3 {
		t.Fatalf("stats %+v, want tms-eni-web1 with its 3 copies", st)
	}
	// A failed Reconfigure changes nothing.
	bad := fileLab(t, b)
	bad.MirrorSessions[0].Filter = "tmf-none"
	if err := m.Reconfigure(bad); err == nil {
		t.Fatal("Reconfigure accepted an unknown filter")
	}
	send()
	if _, recs := readPcap(t, b); len(recs) != 3 {
		t.Fatalf("b has %d records after a failed Reconfigure, want 3", len(recs))
	}
}

// TestPcapTruncatedRecord: a cut copy is written as the shorter packet it
// is, and its inner IP header still tells the original length.
func TestPcapTruncatedRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cut.pcap")
	l := fileLab(t, path)
	l.MirrorSessions[0].PacketLength = 64
	m, err := New(l, fixedPorts, Options{QueueSlots: 16})
	if err != nil {
		t.Fatal(err)
	}
	b, p := pkt(t, tcp(web1, db1, 1, 2, 1000))
	m.Offer(portWeb1, Egress, &verdict.Verdict{Allowed: true, From: portWeb1, To: portDB1}, p, nil, b, 0)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	_, recs := readPcap(t, path)
	if len(recs) != 1 || len(recs[0].data) != 36+64 {
		t.Fatalf("records %v, want one of %d bytes", recs, 36+64)
	}
	d := decode(t, recs[0].data)
	if ip, ok := d.packet.Layers()[4].(*layers.IPv4); !ok || int(ip.Length) != len(b) {
		t.Fatalf("inner IPv4 %+v, want total length %d", d.packet.Layers()[4], len(b))
	}
}
