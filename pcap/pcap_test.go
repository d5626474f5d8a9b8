package pcap

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// TestWriterReadByGopacket: gopacket reads the header and the records,
// their nanosecond times and their lengths, a cut one too.
func TestWriterReadByGopacket(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, 16, LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	if err := w.WritePacket(t0.UnixNano(), ipv4[:12], 0); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(t0.UnixNano()+1500, ipv4, len(ipv4)); err != nil {
		t.Fatal(err)
	}
	if magic := buf.Bytes()[:4]; !bytes.Equal(magic, []byte{0x4d, 0x3c, 0xb2, 0xa1}) {
		t.Errorf("magic % x, want the little-endian nanosecond one", magic)
	}
	r, err := pcapgo.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeRaw || r.Snaplen() != 16 {
		t.Errorf("header: link type %v, snaplen %d", r.LinkType(), r.Snaplen())
	}
	for i, want := range []struct {
		ts       time.Time
		cap, len int
	}{{t0, 12, 12}, {t0.Add(1500), 16, 20}} {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !ci.Timestamp.Equal(want.ts) || ci.CaptureLength != want.cap || ci.Length != want.len || !bytes.Equal(data, ipv4[:want.cap]) {
			t.Errorf("record %d: %+v % x, want %v %d/%d", i, ci, data, want.ts, want.cap, want.len)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after two records: %v, want EOF", err)
	}
	if _, err := NewWriter(io.Discard, 0, LinkTypeRaw); err == nil {
		t.Error("snaplen 0 was accepted")
	}
}

func TestWritePacketNoAllocs(t *testing.T) {
	w, err := NewWriter(io.Discard, 65535, LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if err := w.WritePacket(1, ipv4, len(ipv4)); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WritePacket allocates %v times per packet", n)
	}
}
