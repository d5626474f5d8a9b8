package pcap

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var ipv4 = []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}

// TestNgWriterComment: gopacket reads back the packet, its interface,
// time and lengths, and the comment.
func TestNgWriterComment(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, 0, Interface{Name: "eni-a"}, Interface{Name: "eni-b"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(1, 5e9+7, Outbound, ipv4, 40, []byte("deny x")); err != nil {
		t.Fatal(err)
	}
	if err := w.WritePacket(2, 0, Outbound, ipv4, 0, nil); err == nil {
		t.Error("a packet on an undeclared interface was written")
	}
	if err := w.WritePacket(0, 0, Direction(3), ipv4, 0, nil); err == nil {
		t.Error("a packet of direction 3 was written")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := pcapgo.NewNgReader(&buf, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		t.Fatal(err)
	}
	data, ci, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	if ci.InterfaceIndex != 1 || ci.Timestamp.UnixNano() != 5e9+7 || ci.CaptureLength != SLLHeaderLen+len(ipv4) || ci.Length != SLLHeaderLen+40 {
		t.Errorf("capture info %+v", ci)
	}
	if !bytes.Equal(data[SLLHeaderLen:], ipv4) || data[1] != 4 || data[14] != 0x08 || data[15] != 0 {
		t.Errorf("data % x", data)
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after the one packet: %v, want EOF", err)
	}
}

func TestNgWritePacketNoAllocs(t *testing.T) {
	w, err := NewNgWriter(io.Discard, 0, Interface{Name: "eni-a"})
	if err != nil {
		t.Fatal(err)
	}
	comment := []byte("allow sg-ingress SG_RULE_MATCH: sg-web ingress #2 on eni-web1")
	if n := testing.AllocsPerRun(1000, func() {
		if err := w.WritePacket(0, 1, Inbound, ipv4, len(ipv4), comment); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("WritePacket allocates %v times per packet", n)
	}
}

// TestNgNextNoAllocs checks that reading a pcapng frame allocates
// nothing when its enhanced packet block carries no options (as dumpcap
// and gopacket write them); TestNgNextOptionsNoAllocs has options and
// other blocks.
func TestNgNextNoAllocs(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeRaw)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, int64(i)), CaptureLength: len(ipv4), Length: len(ipv4)}
		if err := w.WritePacket(ci, ipv4); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	c, err := NewReader(&buf, "t.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := c.Next(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Next allocates %v times a pcapng frame", n)
	}
}
