package pcap

import (
	"encoding/binary"
	"io"
)

// readBufSize is the size of the buffer records and blocks are read into.
// A record or block up to its size is read in place, with no copy; a
// larger one is copied.
const readBufSize = 512 << 10

// readBuf is the read buffer of the native readers: filled by reads of up
// to its size, so that most records and blocks are parsed in place and the
// file is read in few, large reads.
type readBuf struct {
	r          io.Reader
	buf        []byte
	start, end int   // the unread bytes: buf[start:end]
	err        error // the error of the read that ended at end

	// A view of buf that must outlive the reads it is followed by (a
	// packet's data, its block's options still to read): pinned while
	// buf[pin:pinEnd] holds it. A read that would move it copies it to
	// moved first.
	pinned      bool
	pin, pinEnd int
	moved       []byte
	wasMoved    bool
}

// need reads until n (at most len(buf)) unread bytes are buffered, and
// returns the read error that prevents it.
func (r *readBuf) need(n int) error {
	if r.end-r.start >= n {
		return nil
	}
	if r.start == r.end && !r.pinned {
		r.start, r.end = 0, 0 // a full buffer to read into, not its tail
	}
	if r.start+n > len(r.buf) {
		if r.pinned {
			r.moved = append(r.moved[:0], r.buf[r.pin:r.pinEnd]...)
			r.pinned, r.wasMoved = false, true
		}
		r.end = copy(r.buf, r.buf[r.start:r.end])
		r.start = 0
	}
	for empty := 0; r.end-r.start < n; {
		if r.err != nil {
			return r.err
		}
		m, err := r.r.Read(r.buf[r.end:])
		r.end += m
		r.err = err
		if m == 0 && err == nil {
			if empty++; empty == 100 {
				r.err = io.ErrNoProgress
			}
		}
	}
	return nil
}

// readLarge reads n bytes, more than len(buf), into dst (reused), growing
// it by the bytes actually read, so that a bogus length in a short file
// cannot make the reader allocate gigabytes. A file that ends first reads
// as io.ErrUnexpectedEOF.
func (r *readBuf) readLarge(dst []byte, n int) ([]byte, error) {
	dst = dst[:0]
	for len(dst) < n {
		if r.start == r.end {
			if err := r.need(1); err != nil {
				return dst, unexpected(err)
			}
		}
		m := min(n-len(dst), r.end-r.start)
		dst = append(dst, r.buf[r.start:r.start+m]...)
		r.start += m
	}
	return dst, nil
}

// short turns the error that cut a read short into io.ReadFull's: io.EOF
// when nothing was left, io.ErrUnexpectedEOF when part of it was.
func (r *readBuf) short(err error) error {
	if err == io.EOF && r.end > r.start {
		return io.ErrUnexpectedEOF
	}
	return err
}

// unexpected is err, an end of the file that cuts something short, as
// io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// byteOrder reads the integers of a file (or a pcapng section) in its
// byte order, without the indirect call of a binary.ByteOrder.
type byteOrder struct{ bigEnd bool }

func (o byteOrder) u16(b []byte) uint16 {
	if o.bigEnd {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (o byteOrder) u32(b []byte) uint32 {
	if o.bigEnd {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (o byteOrder) u64(b []byte) uint64 {
	if o.bigEnd {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}
