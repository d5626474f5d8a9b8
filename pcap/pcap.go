package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// LinkTypeRaw is LINKTYPE_RAW (101): each record is an IP packet with no
// link header.
const LinkTypeRaw = 101

// magicNanos is the magic number of a pcap file with nanosecond
// timestamps, written in the file's (little-endian) byte order.
const magicNanos = 0xa1b23c4d

// Writer writes a pcap file (version 2.4, nanosecond timestamps,
// little-endian, as gopacket's pcapgo.NewWriterNanos writes it).
// WritePacket allocates nothing. A Writer does not buffer: give it a
// bufio.Writer. It is not safe for concurrent use.
type Writer struct {
	w       io.Writer
	snaplen int
	hdr     [16]byte
}

// NewWriter writes the file header to w, for records of link type
// linkType cut to snaplen bytes (1 to 262144), and returns a writer of
// records.
func NewWriter(w io.Writer, snaplen int, linkType uint32) (*Writer, error) {
	if w == nil {
		return nil, errors.New("pcap: no output to write to")
	}
	if snaplen < 1 || snaplen > 262144 {
		return nil, fmt.Errorf("pcap: snaplen %d is out of range 1-262144", snaplen)
	}
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], magicNanos)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	// thiszone and sigfigs: 0
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], linkType)
	if _, err := w.Write(h[:]); err != nil {
		return nil, err
	}
	return &Writer{w: w, snaplen: snaplen}, nil
}

// WritePacket writes one record: pkt, cut to the snaplen, captured at ts
// (nanoseconds since the Unix epoch; earlier times are written as the
// epoch), origLen bytes long on the wire (taken as len(pkt) if smaller).
func (wr *Writer) WritePacket(ts int64, pkt []byte, origLen int) error {
	origLen = max(origLen, len(pkt))
	if len(pkt) > wr.snaplen {
		pkt = pkt[:wr.snaplen]
	}
	tsu := uint64(max(ts, 0))
	le := binary.LittleEndian
	le.PutUint32(wr.hdr[0:], uint32(tsu/1e9))
	le.PutUint32(wr.hdr[4:], uint32(tsu%1e9))
	le.PutUint32(wr.hdr[8:], uint32(len(pkt)))
	le.PutUint32(wr.hdr[12:], uint32(origLen))
	if _, err := wr.w.Write(wr.hdr[:]); err != nil {
		return err
	}
	_, err := wr.w.Write(pkt)
	return err
}
