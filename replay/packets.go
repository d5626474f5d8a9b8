package replay

import (
	"errors"
	"io"
	"net/netip"

	"github.com/vpclab/vpclab/pcap"
)

// Packet is one IP packet of a capture held in memory.
type Packet struct {
	// Number is the frame number in the capture, counting from 1.
	Number int64
	// Time is the capture timestamp, in nanoseconds since the Unix epoch.
	Time int64
	// Src is SourceAddr(Data): the zero Addr when the header is too short
	// to hold one.
	Src netip.Addr
	// Data is the IP packet, link header removed.
	Data []byte
}

// Packets reads every IP packet of the capture at path into memory, in
// capture order, skipping the frames that hold none as Run does. The
// packets' data share one backing array. It is meant for benchmarks that
// replay a capture without file I/O:
//
//	pkts, err := replay.Packets(path)
//	...
//	var v verdict.Verdict
//	for i := range pkts {
//		p := &pkts[i]
//		e.Process(e.SourcePort(p.Src), p.Data, p.Time, &v)
//	}
//
// A packet whose header names no source enters at the internet port that
// way; the engine drops it at the parse stage whatever the port.
func Packets(path string) ([]Packet, error) {
	c, err := pcap.Open(path)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var (
		pkts []Packet
		data []byte
		ends []int
	)
	for {
		fr, err := c.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		data = append(data, fr.Data...)
		ends = append(ends, len(data))
		pkts = append(pkts, Packet{Number: fr.Number, Time: fr.Time, Src: SourceAddr(fr.Data)})
	}
	start := 0
	for i, end := range ends {
		pkts[i].Data = data[start:end:end]
		start = end
	}
	return pkts, nil
}
