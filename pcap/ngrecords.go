package pcap

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// Block types and option codes the pcapng reader needs besides those the
// writer writes (pcapng.go).
const (
	blockPB  = 2 // the obsolete packet block
	blockSPB = 3
	blockNRB = 4

	ifTSOffset = 14

	nrbIPv4  = 1
	nrbIPv6  = 2
	nrbEUI48 = 3
	nrbEUI64 = 4
)

var (
	errEndOfOptions = errors.New("End of Options must be zero length")
	errNoInterface  = errors.New("At least one Interface is needed for a packet")
)

// zeroTimeNs is the time the Reader gave a simple packet block, which has
// none, when pcapgo read it: the zero time.Time, whose nanoseconds since
// the epoch wrap in an int64.
var zeroTimeNs = func() int64 {
	var t time.Time
	return t.Unix()*1e9 + int64(t.Nanosecond())
}()

// ngBlocks reads the packets of a pcapng file straight out of a large
// read buffer, as records does a classic pcap file's: the frame data it
// returns is a view of the buffer, valid until the next call, and
// nothing is copied or allocated per packet, options or none.
//
// It reads what pcapgo.NgReader (with WantMixedLinkType and
// SkipUnknownVersion, as the Reader used it) reads, fails where it
// fails, and reports the same errors, but for two kinds: any end of the
// file inside a block is io.ErrUnexpectedEOF, where pcapgo gives some in
// name resolution blocks as text; and read errors of the underlying
// reader (gzip's) may come from another step of the block, so with
// other words around them. To be the same it follows pcapgo's steps
// over the byte stream, not the format: pcapgo trusts a block's length
// only to skip what it has not parsed, keeps that length in 32 bits
// that wrap, and reads options and name records on past a block's end
// when its length says so.
type ngBlocks struct {
	readBuf
	byteOrder
	// rem is what pcapgo keeps as the current block's remaining length:
	// its length less the bytes read of it, wrapping.
	rem    uint32
	ifaces []ngInterface // of the current section
	// first is the link type of the file's first interface.
	first     layers.LinkType
	haveFirst bool
	big       []byte // the data of a packet too large for buf
	failed    error  // the error every later call returns
	// index is the interface index of the packet next returned last (0
	// for a simple packet block), for tests.
	index int
}

// ngInterface is what a packet needs of its interface description.
type ngInterface struct {
	linkType layers.LinkType
	snaplen  uint32
	// A timestamp in units of 1/perSecond seconds, to which offset
	// seconds are added, is converted to nanoseconds as pcapgo does
	// (convertTime): fraction × up / down.
	perSecond, offset, up, down uint64
}

// newNgBlocks reads the section header block that starts a pcapng file,
// with a read buffer of bufSize bytes (readBufSize; tests try smaller
// ones, at least 20 bytes, to move blocks across its end).
func newNgBlocks(r io.Reader, bufSize int) (*ngBlocks, error) {
	b := &ngBlocks{readBuf: readBuf{r: r, buf: make([]byte, bufSize)}}
	typ, err := b.head()
	if err != nil {
		return nil, err
	}
	if typ != blockSHB {
		return nil, fmt.Errorf("Unknown magic %x", typ)
	}
	if err := b.sectionHeader(); err != nil {
		return nil, err
	}
	return b, nil
}

// linkType returns the link type of the file's first interface, 0 until
// one is read.
func (b *ngBlocks) linkType() layers.LinkType { return b.first }

// next returns the next packet: its data, its timestamp in nanoseconds
// since the Unix epoch, its original length on the wire and its
// interface's link type. It returns io.EOF at a clean end of the file,
// one at a block boundary, and io.ErrUnexpectedEOF at any other. After
// an error it returns that error again.
func (b *ngBlocks) next() (data []byte, ts int64, length int, lt layers.LinkType, err error) {
	if b.failed != nil {
		return nil, 0, 0, 0, b.failed
	}
	data, ts, length, lt, err = b.packet()
	if err != nil {
		b.failed = err
		return nil, 0, 0, 0, err
	}
	return data, ts, length, lt, nil
}

func (b *ngBlocks) packet() (data []byte, ts int64, length int, lt layers.LinkType, err error) {
	b.pinned, b.wasMoved = false, false
	var typ uint32
	var caplen int
	for found := false; !found; {
		if typ, err = b.head(); err != nil {
			return
		}
		switch typ {
		case blockEPB, blockPB:
			var h []byte
			if h, err = b.read(20); err != nil {
				return
			}
			b.rem -= 20
			i := int(b.u32(h))
			if typ == blockPB {
				i = int(b.u16(h)) // then a 16-bit drop count
			}
			t := uint64(b.u32(h[4:]))<<32 | uint64(b.u32(h[8:]))
			caplen, length = int(b.u32(h[12:])), int(b.u32(h[16:]))
			if i >= len(b.ifaces) {
				err = b.noInterface(i)
				return
			}
			ts, lt, b.index = b.ifaces[i].time(t), b.ifaces[i].linkType, i
			found = true
		case blockSPB:
			var h []byte
			if h, err = b.read(4); err != nil {
				return
			}
			b.rem -= 4
			length = int(b.u32(h))
			if len(b.ifaces) == 0 {
				err = errNoInterface
				return
			}
			caplen = length
			if n := b.ifaces[0].snaplen; n != 0 && uint32(caplen) > n {
				caplen = int(n)
			}
			ts, lt, b.index = zeroTimeNs, b.ifaces[0].linkType, 0
			found = true
		case blockIDB:
			err = b.interfaceDescription()
		case blockISB:
			err = b.interfaceStatistics()
		case blockSHB:
			err = b.sectionHeader()
		case blockNRB:
			err = b.nameResolution()
		default:
			err = b.discard(int(b.rem))
		}
		if err != nil {
			return
		}
	}
	if data, err = b.data(caplen); err != nil {
		return
	}
	b.rem -= uint32(caplen)
	if p := pad4(caplen); p > 0 {
		if err = b.discard(p); err != nil {
			return
		}
	}
	if typ == blockEPB {
		if err = b.options(); err != nil {
			return
		}
	}
	if err = b.discard(int(b.rem)); err != nil {
		return
	}
	if b.wasMoved {
		data = b.moved
	}
	return data, ts, length, lt, nil
}

// time converts a packet's timestamp to nanoseconds since the epoch as
// pcapgo's convertTime and then the Reader did: in uint64 arithmetic that
// may wrap, through time.Unix, whose normalising of the nanoseconds the
// int64 sum below makes no difference to.
func (ifc *ngInterface) time(t uint64) int64 {
	sec := int64(t/ifc.perSecond + ifc.offset)
	ns := int64(t % ifc.perSecond * ifc.up / ifc.down)
	return sec*1e9 + ns
}

func (b *ngBlocks) noInterface(i int) error {
	return fmt.Errorf("Interface id %d not present in section (have only %d interfaces)", i, len(b.ifaces))
}

// head reads the type and length of the next block (and, of a section
// header block, the byte order it sets), and buffers the block whole when
// it fits: the rest of it is then parsed in place. It returns io.EOF only
// when the file ends before the block.
func (b *ngBlocks) head() (typ uint32, err error) {
	if err := b.need(8); err != nil {
		if err == io.EOF && b.start == b.end {
			return 0, io.EOF
		}
		b.start = b.end
		return 0, unexpected(err)
	}
	h := b.buf[b.start : b.start+8]
	b.start += 8
	typ, n := b.u32(h), h[4:8:8]
	b.rem = b.u32(n) - 8
	if typ == blockSHB {
		var n32 [4]byte
		copy(n32[:], n) // read below in the byte order yet to be read
		m, err := b.read(4)
		if err != nil {
			return 0, err
		}
		switch {
		case m[0] == 0x1a && m[1] == 0x2b && m[2] == 0x3c && m[3] == 0x4d:
			b.bigEnd = true
		case m[0] == 0x4d && m[1] == 0x3c && m[2] == 0x2b && m[3] == 0x1a:
			b.bigEnd = false
		default:
			return 0, errors.New("Wrong byte order value in Section Header")
		}
		b.rem = b.u32(n32[:]) - 12
	}
	if int(b.rem) <= len(b.buf) {
		b.need(int(b.rem)) // what it cannot read, the parse fails at
	}
	return typ, nil
}

// read consumes n bytes, at most len(buf), and returns them, valid until
// the next read. A file that ends first, even before any of them, reads
// as io.ErrUnexpectedEOF, as pcapgo's readBytes has it.
func (b *ngBlocks) read(n int) ([]byte, error) {
	if err := b.need(n); err != nil {
		b.start = b.end
		return nil, unexpected(err)
	}
	p := b.buf[b.start : b.start+n : b.start+n]
	b.start += n
	return p, nil
}

// skip consumes n bytes, any number, as read does.
func (b *ngBlocks) skip(n int) error {
	for n > 0 {
		if b.start == b.end {
			if err := b.need(1); err != nil {
				b.start = b.end
				return unexpected(err)
			}
		}
		m := min(n, b.end-b.start)
		b.start += m
		n -= m
	}
	return nil
}

// discard skips n bytes of the current block, with pcapgo's discard's
// errors.
func (b *ngBlocks) discard(n int) error {
	if err := b.skip(n); err != nil {
		if err == io.ErrUnexpectedEOF {
			return err
		}
		return fmt.Errorf("could not discard %d bytes: %v", n, err)
	}
	b.rem -= uint32(n)
	return nil
}

// data reads a packet's n bytes: in place, and pinned there while the
// rest of its block is read, when they fit in buf.
func (b *ngBlocks) data(n int) ([]byte, error) {
	if n > len(b.buf) {
		var err error
		if b.big, err = b.readLarge(b.big, n); err != nil {
			return nil, err
		}
		return b.big, nil
	}
	p, err := b.read(n)
	if err != nil {
		return nil, err
	}
	b.pinned, b.pin, b.pinEnd = true, b.start-n, b.start
	return p, nil
}

// option reads one option of the current block as pcapgo's readOption
// does, and returns its code, the length of its value and, when the value
// is long enough for them, its first byte and its first 8 as a number.
// When the block's remaining length is 4 (its trailer), it reads nothing
// and returns the end of options.
func (b *ngBlocks) option() (code uint16, n int, v8 uint8, v64 uint64, err error) {
	if b.rem == 4 {
		return optEnd, 0, 0, 0, nil
	}
	h, err := b.read(4)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	b.rem -= 4
	code, n = b.u16(h), int(b.u16(h[2:]))
	if code == optEnd {
		if n != 0 {
			return 0, 0, 0, 0, errEndOfOptions
		}
		return optEnd, 0, 0, 0, nil
	}
	if n == 0 {
		return code, 0, 0, 0, nil
	}
	v, err := b.read(min(n, 8))
	if err != nil {
		return 0, 0, 0, 0, err
	}
	v8 = v[0]
	if n >= 8 {
		v64 = b.u64(v)
	}
	if err := b.skip(n - len(v)); err != nil {
		return 0, 0, 0, 0, err
	}
	if p := pad4(n); p > 0 {
		if err := b.discard(p); err != nil {
			return 0, 0, 0, 0, err
		}
	}
	b.rem -= uint32(n)
	return code, n, v8, v64, nil
}

// options reads options up to their end.
func (b *ngBlocks) options() error {
	for {
		code, _, _, _, err := b.option()
		if err != nil || code == optEnd {
			return err
		}
	}
}

// sectionHeader reads the rest of a section header block, whose head was
// read, and starts its section; with a version other than 1.0, it skips
// the section and reads the next.
func (b *ngBlocks) sectionHeader() error {
	b.ifaces = b.ifaces[:0]
	for {
		h, err := b.read(12)
		if err != nil {
			return err
		}
		b.rem -= 12
		if b.u16(h) == 1 && b.u16(h[2:]) == 0 {
			break
		}
		if err := b.discard(int(b.rem)); err != nil {
			return err
		}
		for {
			typ, err := b.head()
			if err != nil {
				return err
			}
			if typ == blockSHB {
				break
			}
			if err := b.discard(int(b.rem)); err != nil {
				return err
			}
		}
	}
	if err := b.options(); err != nil {
		return err
	}
	return b.discard(int(b.rem))
}

// interfaceDescription reads the rest of an interface description block.
func (b *ngBlocks) interfaceDescription() error {
	h, err := b.read(8)
	if err != nil {
		return err
	}
	b.rem -= 8
	ifc := ngInterface{linkType: layers.LinkType(b.u16(h)), snaplen: b.u32(h[4:])}
	var res uint8
	for {
		code, n, v8, v64, err := b.option()
		if err != nil {
			return err
		}
		if code == optEnd {
			break
		}
		switch {
		case code == ifTSResol && n >= 1:
			res = v8
		case code == ifTSOffset && n >= 8:
			ifc.offset = v64
		}
	}
	if err := b.discard(int(b.rem)); err != nil {
		return err
	}
	if res == 0 {
		res = 6 // microseconds
	}
	exp := res & 0x7f
	if res&0x80 != 0 {
		if exp > 63 {
			return fmt.Errorf("Timestamp resolution 2^-%d is too high", exp)
		}
		ifc.perSecond = 1 << exp
	} else {
		if exp > 63 {
			return fmt.Errorf("Timestamp resolution 10^-%d is too high", exp)
		}
		ifc.perSecond = 1
		for range exp {
			ifc.perSecond *= 10 // wraps past 10^19, as pcapgo's does
		}
	}
	ifc.up, ifc.down = 1, 1
	if ifc.perSecond < 1e9 {
		ifc.up = 1e9 / ifc.perSecond
	} else {
		ifc.down = ifc.perSecond / 1e9
	}
	b.ifaces = append(b.ifaces, ifc)
	if !b.haveFirst {
		b.first, b.haveFirst = ifc.linkType, true
	}
	return nil
}

// interfaceStatistics reads the rest of an interface statistics block,
// to check its interface and skip it.
func (b *ngBlocks) interfaceStatistics() error {
	h, err := b.read(12)
	if err != nil {
		return err
	}
	b.rem -= 12
	if i := int(b.u32(h)); i >= len(b.ifaces) {
		return b.noInterface(i)
	}
	if err := b.options(); err != nil {
		return err
	}
	return b.discard(int(b.rem))
}

// nameResolution reads the rest of a name resolution block, to skip it
// as pcapgo parses it: record by record, each no longer than what the
// block's length leaves, and padded after it.
func (b *ngBlocks) nameResolution() error {
	for b.rem > 0 {
		h, err := b.read(4)
		if err != nil {
			return nrbError("could not read NameRecord Header block length", err)
		}
		b.rem -= 4
		typ := b.u16(h)
		n := min(int(b.u16(h[2:])), int(b.rem))
		p := pad4(n)
		addr, what := 0, ""
		switch typ {
		case nrbIPv4:
			addr, what = 4, "could not read IPv4 address: could not read IP address"
		case nrbIPv6:
			addr, what = 16, "could not read IPv6 address: could not read IP address"
		case nrbEUI48:
			addr, what = 6, "could not read EUI-48 address: could not read EUI address"
		case nrbEUI64:
			addr, what = 8, "could not read EUI-64 address: could not read EUI address"
		}
		if n < addr {
			return fmt.Errorf("name record of type %d is too short for its address", typ)
		}
		if typ == 0 {
			break // the end of records
		}
		if addr == 0 {
			if err := b.discard(n + p); err != nil {
				return nrbError("could not discard unknown name record", err)
			}
			continue
		}
		if _, err := b.read(addr); err != nil {
			return nrbError(what, err)
		}
		b.rem -= uint32(n)
		if err := b.skip(n - addr); err != nil {
			return nrbError("could not read name", err)
		}
		if err := b.discard(p); err != nil {
			return err
		}
	}
	return b.discard(int(b.rem))
}

// nrbError is the error pcapgo gives when reading a name record fails,
// but for an end of the file, which reads as one.
func nrbError(what string, err error) error {
	if err == io.ErrUnexpectedEOF {
		return err
	}
	return fmt.Errorf("%s: %v", what, err)
}
