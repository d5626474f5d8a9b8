package capture

import (
	"io"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// The file format is pcap's: these name its pieces where capture uses them.
type (
	// Direction is a packet's direction at the interface it is written on.
	Direction = pcap.Direction
	// Interface is one interface of a file.
	Interface = pcap.Interface
	// InterfaceStats are the counts of an Interface Statistics Block.
	InterfaceStats = pcap.InterfaceStats
)

const (
	Inbound  = pcap.Inbound
	Outbound = pcap.Outbound

	LinkTypeLinuxSLL = pcap.LinkTypeLinuxSLL
	SLLHeaderLen     = pcap.SLLHeaderLen
	DefaultSnaplen   = pcap.DefaultSnaplen
	MaxSnaplen       = pcap.MaxSnaplen
)

// Writer writes a pcapng file of IP packets with verdict comments, through
// a pcap.NgWriter. WritePacket allocates nothing. A Writer is not safe for
// concurrent use.
type Writer struct {
	*pcap.NgWriter
	comment []byte // the comment of the packet being written, reused
	p       packet.Parsed
}

// NewWriter writes the section header and the interfaces' descriptions to
// w and returns a writer of packets on them. snaplen is the most bytes
// kept of an IP packet, 1 to MaxSnaplen, or 0 for MaxSnaplen. Packets are
// written through a buffer: call Flush to push them to w.
func NewWriter(w io.Writer, snaplen int, ifaces ...Interface) (*Writer, error) {
	ng, err := pcap.NewNgWriter(w, snaplen, ifaces...)
	if err != nil {
		return nil, err
	}
	return &Writer{NgWriter: ng, comment: make([]byte, 0, 256)}, nil
}

// WritePacket writes IP packet pkt, seen on interface iface at time ts
// (nanoseconds since the Unix epoch; earlier times are written as the
// epoch) going in direction dir, with v's verdict as its comment. pkt is
// cut to the snaplen; origLen is the packet's length on the wire (taken
// as len(pkt) if smaller). A later fragment's comment says that its
// verdict is its first fragment's.
func (wr *Writer) WritePacket(iface int, ts int64, dir Direction, pkt []byte, origLen int, v *verdict.Verdict) error {
	c := Comment(wr.comment[:0], v)
	if wr.p.Decode(pkt) == packet.OK && wr.p.IsLaterFragment() {
		c = append(c, " (a later fragment, following its first fragment's verdict)"...)
	}
	wr.comment = c[:0]
	return wr.NgWriter.WritePacket(iface, ts, dir, pkt, origLen, c)
}
