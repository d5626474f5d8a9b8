package pcap

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/gopacket/gopacket/layers"
)

// The magic numbers of a classic pcap file, as read little-endian from its
// first four bytes.
const (
	magicMicrosLE = 0xa1b2c3d4
	magicMicrosBE = 0xd4c3b2a1
	magicNanosLE  = 0xa1b23c4d
	magicNanosBE  = 0x4d3cb2a1
)

// isPcapMagic reports whether b starts with a classic pcap magic number.
func isPcapMagic(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	switch binary.LittleEndian.Uint32(b) {
	case magicMicrosLE, magicMicrosBE, magicNanosLE, magicNanosBE:
		return true
	}
	return false
}

// eagerMax is the largest record length accepted whatever the snap
// length says (libpcap's maximum snap length): pcapgo's limit, kept so
// that files read the same as they did through it.
const eagerMax = 262144

// records reads the records of a classic pcap file straight out of a
// large read buffer, filled by reads of up to its size: the frame data it
// returns is a view of the buffer, valid until the next call, and nothing
// is copied or allocated per record. It accepts and refuses exactly what
// pcapgo.Reader does, with the same errors.
type records struct {
	readBuf
	byteOrder
	factor   uint32 // 1 for nanosecond timestamps, 1000 for microseconds
	snaplen  uint32
	maxCap   int // the largest captured length accepted
	linkType layers.LinkType
	big      []byte // the data of a record too large for buf
}

// newRecords reads the file header from r.
func newRecords(r io.Reader) (*records, error) {
	rec := &records{readBuf: readBuf{r: r, buf: make([]byte, readBufSize)}}
	if err := rec.need(24); err != nil {
		return nil, rec.short(err)
	}
	h := rec.buf[:24]
	rec.start = 24
	switch binary.LittleEndian.Uint32(h) {
	case magicNanosLE:
		rec.factor = 1
	case magicNanosBE:
		rec.factor, rec.bigEnd = 1, true
	case magicMicrosLE:
		rec.factor = 1000
	case magicMicrosBE:
		rec.factor, rec.bigEnd = 1000, true
	default:
		return nil, fmt.Errorf("Unknown magic %x", binary.LittleEndian.Uint32(h))
	}
	if v := rec.u16(h[4:]); v != 2 {
		return nil, fmt.Errorf("Unknown major version %d", v)
	}
	if v := rec.u16(h[6:]); v != 4 {
		return nil, fmt.Errorf("Unknown minor version %d", v)
	}
	rec.snaplen = rec.u32(h[16:])
	rec.linkType = layers.LinkType(rec.u32(h[20:]))
	rec.maxCap = max(int(rec.snaplen), eagerMax)
	return rec, nil
}

// next returns the next record: its data, its timestamp in nanoseconds
// since the Unix epoch, its original length on the wire and its captured
// length (known, and non-zero, as soon as the record's header is read).
// It returns io.EOF with a caplen of 0 at a clean end of the file; a file
// that ends inside a record reads as io.ErrUnexpectedEOF (or io.EOF with
// the record's caplen, as pcapgo returns it).
func (r *records) next() (data []byte, ts int64, length, caplen int, err error) {
	if err := r.need(16); err != nil {
		return nil, 0, 0, 0, r.short(err)
	}
	h := r.buf[r.start : r.start+16]
	sec, frac := r.u32(h[0:]), r.u32(h[4:])
	// Exactly what time.Unix(sec, frac*factor) gives: the product wraps
	// in 32 bits as pcapgo computes it.
	ts = int64(sec)*1e9 + int64(frac*r.factor)
	caplen, length = int(r.u32(h[8:])), int(r.u32(h[12:]))
	if caplen > r.maxCap {
		return nil, ts, length, caplen, fmt.Errorf("capture length exceeds snap length: %d > %d", caplen, r.snaplen)
	}
	if caplen > length {
		return nil, ts, length, caplen, fmt.Errorf("capture length exceeds original packet length: %d > %d", caplen, length)
	}
	if n := 16 + caplen; n <= len(r.buf) {
		if err := r.need(n); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, ts, length, caplen, err
		}
		data = r.buf[r.start+16 : r.start+n : r.start+n]
		r.start += n
		return data, ts, length, caplen, nil
	}
	r.start += 16 // a record larger than buf, copied
	r.big, err = r.readLarge(r.big, caplen)
	if err != nil {
		return nil, ts, length, caplen, err
	}
	return r.big, ts, length, caplen, nil
}
