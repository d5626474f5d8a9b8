package mirror

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/vpclab/vpclab/pcap"
)

// pcapFile is a file target: a pcap file (nanosecond timestamps,
// LINKTYPE_RAW: each record is a mirror packet, an IPv4 packet to UDP
// 4789, which tcpdump and Wireshark decode as VXLAN). The consumer writes
// it through a buffer that it flushes whenever the queue runs dry.
type pcapFile struct {
	path   string
	f      *os.File
	bw     *bufio.Writer
	w      *pcap.Writer
	err    error // the first write or flush error; later writes are refused
	dirty  bool
	closed bool
}

var errFileClosed = errors.New("mirror: pcap file closed")

// openPcap creates (or truncates) path and writes the pcap header.
func openPcap(path string) (*pcapFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	p := &pcapFile{path: path, f: f, bw: bufio.NewWriterSize(f, 256<<10)}
	if p.w, err = pcap.NewWriter(p.bw, 65535, pcap.LinkTypeRaw); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the pcap header of %s: %w", path, err)
	}
	if err := p.bw.Flush(); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the pcap header of %s: %w", path, err)
	}
	return p, nil
}

// write appends one record.
func (p *pcapFile) write(ts time.Time, pkt []byte) error {
	switch {
	case p.closed:
		return errFileClosed
	case p.err != nil:
		return p.err
	}
	if err := p.w.WritePacket(ts.UnixNano(), pkt, len(pkt)); err != nil {
		p.err = fmt.Errorf("writing %s: %w", p.path, err)
		return p.err
	}
	p.dirty = true
	return nil
}

// flush writes the buffered records out.
func (p *pcapFile) flush() {
	if !p.dirty || p.closed || p.err != nil {
		return
	}
	p.dirty = false
	if err := p.bw.Flush(); err != nil {
		p.err = fmt.Errorf("writing %s: %w", p.path, err)
	}
}

// close flushes and closes the file and returns its first error. It is
// idempotent.
func (p *pcapFile) close() error {
	if p.closed {
		return nil
	}
	p.flush()
	p.closed = true
	if err := p.f.Close(); err != nil && p.err == nil {
		p.err = fmt.Errorf("closing %s: %w", p.path, err)
	}
	return p.err
}
