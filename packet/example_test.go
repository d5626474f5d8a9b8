package packet_test

import (
	"fmt"
	"net/netip"

	"github.com/vpclab/vpclab/packet"
)

func Example() {
	s := packet.Spec{
		Src:      netip.MustParseAddr("2001:db8::1"),
		Dst:      netip.MustParseAddr("2001:db8::2"),
		Proto:    packet.ProtoTCP,
		SrcPort:  40000,
		DstPort:  443,
		TCPFlags: packet.TCPSyn,
	}
	buf := s.Append(make([]byte, 0, 1500))

	var p packet.Parsed
	if r := p.Decode(buf); r != packet.OK {
		fmt.Println("drop:", r)
		return
	}
	fmt.Println(p.Src, p.SrcPort, "->", p.Dst, p.DstPort, "SYN:", p.TCPFlags&packet.TCPSyn != 0)

	// A later fragment carries no TCP header.
	s.FragOffset, s.Payload = 1232, 100
	buf = s.Append(buf[:0])
	r := p.Decode(buf)
	fmt.Println(r, p.IsLaterFragment(), p.HasPorts)
	// Output:
	// 2001:db8::1 40000 -> 2001:db8::2 443 SYN: true
	// ok true false
}
