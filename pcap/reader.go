package pcap

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket/layers"
)

// Reader reads a pcap or pcapng capture, optionally gzip-compressed, and
// yields the IP packets in it with their link headers stripped. Frames
// that carry no IP packet are skipped and counted.
//
// Reading allocates nothing per frame: the returned data lives in a buffer
// that the next call to Next overwrites.
type Reader struct {
	name   string
	format string // "pcap" or "pcapng"
	closer io.Closer
	count  countingReader
	size   int64 // bytes in the file, 0 when unknown

	rec *records  // a classic pcap file
	ng  *ngBlocks // a pcapng file

	frames  int64 // records read, including skipped ones
	skipped skipCounts
}

// Frame is one IP packet read from a capture.
type Frame struct {
	// Number is the frame's position in the capture, counting from 1 as
	// Wireshark and tcpdump do; skipped frames count too.
	Number int64
	// Time is the capture timestamp in nanoseconds since the Unix epoch.
	Time int64
	// Data is the IP packet: link header removed, and link padding too
	// (the bytes past the length in the IP header, when that length is
	// plausible). It may be shorter than the packet on the wire when the
	// capture truncated it. It is valid until the next call to Next.
	Data []byte
	// Length is the IP packet's length on the wire: the length in its IP
	// header when plausible, else the frame's original length less its
	// link header.
	Length int
}

// Open opens the capture file at path. Close it when done.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer, r.size = f, size
	return r, nil
}

// Magic numbers that tell the formats apart.
var (
	magicGzip   = []byte{0x1f, 0x8b}
	magicPcapng = []byte{0x0a, 0x0d, 0x0d, 0x0a}
)

// NewReader reads a capture from r; name names it in errors. It reads the
// file header at once and fails when r holds no pcap or pcapng capture.
func NewReader(r io.Reader, name string) (*Reader, error) {
	c := &Reader{name: name, skipped: newSkipCounts()}
	c.count.r = r
	if s, ok := r.(interface{ Size() int64 }); ok {
		c.size = s.Size() // a bytes.Reader, an io.SectionReader: for Progress
	}
	// Classic pcap records are parsed in a larger buffer of their own,
	// which reads through this one (directly, once what the magic number
	// was peeked from is consumed).
	br := bufio.NewReaderSize(&c.count, 64<<10)
	magic, _ := br.Peek(4)
	// A gzip stream, and (as pcapgo read them) a gzip stream inside one.
	for range 2 {
		if !bytes.HasPrefix(magic, magicGzip) {
			break
		}
		z, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		br = bufio.NewReaderSize(z, 64<<10)
		magic, _ = br.Peek(4)
	}
	var err error
	if bytes.Equal(magic, magicPcapng) {
		c.format = "pcapng"
		c.ng, err = newNgBlocks(br, readBufSize)
	} else {
		c.format = "pcap"
		c.rec, err = newRecords(br)
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%s: not a pcap or pcapng capture: the file ends inside its header", name)
		}
		return nil, fmt.Errorf("%s: not a pcap or pcapng capture: %v", name, err)
	}
	return c, nil
}

// Name returns the name the capture was opened with.
func (c *Reader) Name() string { return c.name }

// Format returns "pcap" or "pcapng".
func (c *Reader) Format() string { return c.format }

// LinkType returns the link type of the capture (of its first interface,
// for pcapng).
func (c *Reader) LinkType() layers.LinkType {
	if c.ng != nil {
		return c.ng.linkType()
	}
	return c.rec.linkType
}

// Frames returns how many frames have been read, skipped ones included.
func (c *Reader) Frames() int64 { return c.frames }

// Skipped returns how many frames were skipped, and why: a link type
// the Reader does not read ("802.11 (105)", "link type 999"), a frame of
// another protocol than IP ("ethertype 0x0806 (ARP)", "802.3 frame with
// LLC (no EtherType)", "loopback family 7"), or a frame that ends inside
// its link header ("Ethernet (1): frame shorter than its link header").
func (c *Reader) Skipped() (total int64, by map[string]int64) {
	return c.skipped.total, c.skipped.byName()
}

// Progress returns how many bytes of the file have been consumed and the
// file's size: a regular file's (Open), or what the reader NewReader was
// given says with a Size method (a bytes.Reader's); 0 when unknown.
func (c *Reader) Progress() (read, size int64) { return c.count.n, c.size }

// Close closes the file opened by Open; it does nothing for a Reader made
// by NewReader.
func (c *Reader) Close() error {
	if c.closer == nil {
		return nil
	}
	return c.closer.Close()
}

// Next returns the next IP packet, skipping frames that hold none. It
// returns io.EOF at the end of the capture, and an error naming the file
// and the frame number when the capture is damaged.
func (c *Reader) Next() (Frame, error) {
	for {
		var (
			data   []byte
			err    error
			lt     layers.LinkType
			ts     int64 // ns since the Unix epoch
			length int
			caplen int // the frame's captured length, known once its header is read
		)
		if c.rec != nil {
			data, ts, length, caplen, err = c.rec.next()
			lt = c.rec.linkType
		} else {
			data, ts, length, lt, err = c.ng.next()
		}
		if err != nil {
			// A file cut right after a frame's header reads as io.EOF
			// from the frame's data: only an end before a header is the
			// end of the capture.
			if err == io.EOF && caplen == 0 {
				return Frame{}, io.EOF
			}
			if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
				return Frame{}, fmt.Errorf("%s: frame %d: the capture ends inside the frame (truncated file)", c.name, c.frames+1)
			}
			return Frame{}, fmt.Errorf("%s: frame %d: %v", c.name, c.frames+1, err)
		}
		c.frames++
		off, ok := c.skipped.strip(lt, data)
		if !ok {
			continue
		}
		ip, wire := data[off:], max(length, len(data))-off
		if n := ipLength(ip); n > 0 && n <= wire {
			ip, wire = ip[:min(n, len(ip))], n
		}
		return Frame{Number: c.frames, Time: ts, Data: ip, Length: wire}, nil
	}
}

// ipLength returns the length the IP header of b declares, or 0 when the
// header is too short to read or the length is implausible (shorter than
// the fixed header, or an IPv6 payload length of 0, which a jumbogram
// uses). It only peeks: the engine validates the packet.
func ipLength(b []byte) int {
	switch {
	case len(b) >= 20 && b[0]>>4 == 4:
		if n := int(binary.BigEndian.Uint16(b[2:4])); n >= 20 {
			return n
		}
	case len(b) >= 40 && b[0]>>4 == 6:
		if n := int(binary.BigEndian.Uint16(b[4:6])); n > 0 {
			return 40 + n
		}
	}
	return 0
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
