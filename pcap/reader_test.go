package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap/pcaptest"
)

// Addresses of the example lab, as replay's tests use them.
var (
	web1     = netip.MustParseAddr("10.0.1.10")
	web1v6   = netip.MustParseAddr("2600:1f18:aa:bb01::10")
	app1     = netip.MustParseAddr("10.0.2.10")
	office6  = netip.MustParseAddr("2001:db8::5")
	baseTime = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
)

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

type record = pcaptest.Record

// TestLinkTypes reads one IP packet framed in each link type the
// Reader understands, and frames it skips.
func TestLinkTypes(t *testing.T) {
	v4 := ipPacket(t, tcp(web1, app1, 49152, 8080, packet.TCPSyn))
	v6 := ipPacket(t, tcp(office6, web1v6, 50000, 443, packet.TCPSyn))
	be32 := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	le32 := func(n uint32) []byte { return binary.LittleEndian.AppendUint32(nil, n) }
	sll := func(proto uint16) []byte { // 16 bytes, protocol last
		h := make([]byte, 16)
		binary.BigEndian.PutUint16(h[14:], proto)
		return h
	}
	sll2 := func(proto uint16) []byte { // 20 bytes, protocol first
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h, proto)
		return h
	}
	cat := func(bs ...[]byte) []byte { return slices.Concat(bs...) }
	tests := []struct {
		name string
		lt   layers.LinkType
		// frame, and the IP packet the Reader must find in it (nil: skipped
		// for skip).
		frame, ip []byte
		skip      string
	}{
		{"raw 101 v4", layers.LinkTypeRaw, v4, v4, ""},
		{"raw 101 v6", layers.LinkTypeRaw, v6, v6, ""},
		{"DLT_RAW 12", 12, v4, v4, ""},
		{"DLT_RAW 14", 14, v6, v6, ""},
		{"IPV4 228", layers.LinkTypeIPv4, v4, v4, ""},
		{"IPV6 229", layers.LinkTypeIPv6, v6, v6, ""},
		{"ethernet", layers.LinkTypeEthernet, pcaptest.Ethernet(t, v4), v4, ""},
		{"ethernet qinq", layers.LinkTypeEthernet, pcaptest.Ethernet(t, v6, 1, 2, 3), v6, ""},
		{"ethernet arp", layers.LinkTypeEthernet, pcaptest.ARP(t, web1, app1), nil, "ethertype 0x0806 (ARP)"},
		{"ethernet short", layers.LinkTypeEthernet, make([]byte, 13), nil, "Ethernet (1): frame shorter than its link header"},
		{"ethernet short vlan", layers.LinkTypeEthernet, pcaptest.Ethernet(t, v4, 7)[:16], nil, "Ethernet (1): frame shorter than its link header"},
		{"sll v4", layers.LinkTypeLinuxSLL, cat(sll(0x0800), v4), v4, ""},
		{"sll v6", layers.LinkTypeLinuxSLL, cat(sll(0x86dd), v6), v6, ""},
		{"sll arp", layers.LinkTypeLinuxSLL, cat(sll(0x0806), make([]byte, 28)), nil, "ethertype 0x0806 (ARP)"},
		{"sll2 v4", layers.LinkTypeLinuxSLL2, cat(sll2(0x0800), v4), v4, ""},
		{"sll2 short", layers.LinkTypeLinuxSLL2, sll2(0x0800)[:19], nil, "Linux SLL2 (276): frame shorter than its link header"},
		{"null little-endian inet", layers.LinkTypeNull, cat(le32(2), v4), v4, ""},
		{"null big-endian inet6 (macOS)", layers.LinkTypeNull, cat(be32(30), v6), v6, ""},
		{"null little-endian inet6 (FreeBSD)", layers.LinkTypeNull, cat(le32(28), v6), v6, ""},
		{"null other family", layers.LinkTypeNull, cat(le32(7), v4), nil, "loopback family 7"},
		{"loop", layers.LinkTypeLoop, cat(be32(24), v6), v6, ""},
		{"802.11", layers.LinkTypeIEEE802_11, v4, nil, "802.11 (105)"},
		{"unnamed", 999, v4, nil, "link type 999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			capture := pcaptest.Pcap(t, tt.lt, []record{{Time: baseTime, Data: tt.frame}})
			c, err := NewReader(bytes.NewReader(capture), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			fr, err := c.Next()
			if tt.ip == nil {
				_, by := c.Skipped()
				if !errors.Is(err, io.EOF) || by[tt.skip] != 1 {
					t.Errorf("Next: %v, skipped %v; want io.EOF and %q skipped", err, by, tt.skip)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(fr.Data, tt.ip) || fr.Number != 1 || fr.Time != baseTime.UnixNano() || fr.Length != len(tt.ip) {
				t.Errorf("frame %+v, want the IP packet %x", fr, tt.ip)
			}
		})
	}
}
