// Package pcaptest builds capture files and link-layer frames for tests
// of the packages that read captures (pcap, replay). It must not import
// dataplane, lab or live.
package pcaptest

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The MAC addresses of the frames built here.
var (
	MACA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	MACB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// Ethernet wraps an IP packet in an Ethernet header from MACA to MACB,
// with 802.1Q tags for the VLAN ids given.
func Ethernet(t testing.TB, ip []byte, vlans ...uint16) []byte {
	t.Helper()
	et := layers.EthernetTypeIPv4
	if ip[0]>>4 == 6 {
		et = layers.EthernetTypeIPv6
	}
	ls := []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: MACA, DstMAC: MACB, EthernetType: et}}
	if len(vlans) > 0 {
		ls[0].(*layers.Ethernet).EthernetType = layers.EthernetTypeDot1Q
		for i, id := range vlans {
			next := layers.EthernetTypeDot1Q
			if i == len(vlans)-1 {
				next = et
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: id, Type: next})
		}
	}
	ls = append(ls, gopacket.Payload(ip))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{}, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ARP returns an Ethernet frame from MACA holding an ARP request of src
// for dst.
func ARP(t testing.TB, src, dst netip.Addr) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{},
		&layers.Ethernet{SrcMAC: MACA, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			Operation: layers.ARPRequest, SourceHwAddress: MACA, SourceProtAddress: src.AsSlice(),
			DstHwAddress: make([]byte, 6), DstProtAddress: dst.AsSlice()})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Record is one frame of a pcap file and its time.
type Record struct {
	Time time.Time
	Data []byte
}

// Pcap returns a pcap file (nanosecond, written by gopacket) of link type
// lt holding recs.
func Pcap(t testing.TB, lt layers.LinkType, recs []Record) []byte {
	t.Helper()
	var b bytes.Buffer
	w := pcapgo.NewWriterNanos(&b)
	if err := w.WriteFileHeader(65536, lt); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.Time, CaptureLength: len(r.Data), Length: len(r.Data)}
		if err := w.WritePacket(ci, r.Data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}
