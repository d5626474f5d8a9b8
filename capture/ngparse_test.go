package capture

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// A pcapng reader written for the tests from the format's text, apart
// from the writer's code, strict where gopacket's reader is lenient: block
// lengths in header and trailer, 32-bit alignment, zero padding, and an
// option list that ends with opt_endofopt exactly at the block's end.

type ngOpt struct {
	code uint16
	val  []byte
}

type ngIface struct {
	linkType uint16
	snaplen  uint32
	opts     []ngOpt
}

type ngPacket struct {
	iface uint32
	ts    uint64
	// capLen, origLen and data are the IP packet's, after the Linux
	// cooked header, whose packet type and protocol are sllType and
	// sllProto.
	capLen, origLen   uint32
	data              []byte
	sllType, sllProto uint16
	opts              []ngOpt
}

type ngStats struct {
	iface uint32
	ts    uint64
	opts  []ngOpt
}

type ngFile struct {
	shbOpts []ngOpt
	ifaces  []ngIface
	packets []ngPacket
	stats   []ngStats
	// order is the block types in file order.
	order []uint32
}

// opt returns the value of the first option with code, or nil.
func opt(opts []ngOpt, code uint16) []byte {
	for _, o := range opts {
		if o.code == code {
			return o.val
		}
	}
	return nil
}

// count returns how many options have code.
func count(opts []ngOpt, code uint16) int {
	n := 0
	for _, o := range opts {
		if o.code == code {
			n++
		}
	}
	return n
}

func parseNg(t *testing.T, b []byte) *ngFile {
	t.Helper()
	le := binary.LittleEndian
	f := &ngFile{}
	off := 0
	for off < len(b) {
		if len(b)-off < 12 {
			t.Fatalf("offset %d: %d bytes left, less than a block", off, len(b)-off)
		}
		typ, n := le.Uint32(b[off:]), int(le.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || off+n > len(b) {
			t.Fatalf("offset %d: block type %#x has length %d (file %d bytes)", off, typ, n, len(b))
		}
		if tr := int(le.Uint32(b[off+n-4:])); tr != n {
			t.Fatalf("offset %d: block type %#x: trailer length %d, header %d", off, typ, tr, n)
		}
		body := b[off+8 : off+n-4]
		f.order = append(f.order, typ)
		switch typ {
		case 0x0a0d0d0a:
			if off != 0 {
				t.Fatalf("offset %d: a second section header", off)
			}
			if le.Uint32(body) != 0x1a2b3c4d || le.Uint16(body[4:]) != 1 || le.Uint16(body[6:]) != 0 || le.Uint64(body[8:]) != ^uint64(0) {
				t.Fatalf("section header %x: want magic 1a2b3c4d, version 1.0, length -1", body[:16])
			}
			f.shbOpts = parseOpts(t, off, body[16:])
		case 1:
			if le.Uint16(body[2:]) != 0 {
				t.Errorf("offset %d: interface block reserved field %#x", off, le.Uint16(body[2:]))
			}
			if lt := le.Uint16(body); lt != 113 {
				t.Errorf("offset %d: link type %d, want 113 (LINKTYPE_LINUX_SLL)", off, lt)
			}
			if len(f.ifaces) > 0 && le.Uint32(body[4:]) != f.ifaces[0].snaplen {
				t.Errorf("offset %d: snaplen %d differs from the first interface's %d, which libpcap refuses", off, le.Uint32(body[4:]), f.ifaces[0].snaplen)
			}
			f.ifaces = append(f.ifaces, ngIface{linkType: le.Uint16(body), snaplen: le.Uint32(body[4:]), opts: parseOpts(t, off, body[8:])})
		case 6:
			p := ngPacket{
				iface: le.Uint32(body), ts: uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:])),
				capLen: le.Uint32(body[12:]), origLen: le.Uint32(body[16:]),
			}
			if int(p.iface) >= len(f.ifaces) {
				t.Fatalf("offset %d: packet on interface %d before its description (%d declared)", off, p.iface, len(f.ifaces))
			}
			if p.capLen > p.origLen {
				t.Errorf("offset %d: captured %d bytes of a %d-byte packet", off, p.capLen, p.origLen)
			}
			if s := f.ifaces[p.iface].snaplen; s != 0 && p.capLen > s {
				t.Errorf("offset %d: captured %d bytes, snaplen %d", off, p.capLen, s)
			}
			end := 20 + int(p.capLen)
			padded := end + -end&3
			if padded > len(body) {
				t.Fatalf("offset %d: packet data (%d bytes) overruns the block", off, p.capLen)
			}
			p.data = body[20:end]
			checkZero(t, off, "packet padding", body[end:padded])
			if p.capLen < 16 || p.origLen < 16 {
				t.Fatalf("offset %d: packet of %d bytes (%d on the wire) has no Linux cooked header", off, p.capLen, p.origLen)
			}
			be := binary.BigEndian
			sll := p.data[:16]
			if be.Uint16(sll[2:]) != 0xfffe || be.Uint16(sll[4:]) != 0 || !bytes.Equal(sll[6:14], make([]byte, 8)) {
				t.Errorf("offset %d: cooked header %x: want address type ARPHRD_NONE and no address", off, sll)
			}
			p.sllType, p.sllProto = be.Uint16(sll), be.Uint16(sll[14:])
			p.data, p.capLen, p.origLen = p.data[16:], p.capLen-16, p.origLen-16
			p.opts = parseOpts(t, off, body[padded:])
			f.packets = append(f.packets, p)
		case 5:
			s := ngStats{iface: le.Uint32(body), ts: uint64(le.Uint32(body[4:]))<<32 | uint64(le.Uint32(body[8:]))}
			if int(s.iface) >= len(f.ifaces) {
				t.Fatalf("offset %d: statistics of interface %d, %d declared", off, s.iface, len(f.ifaces))
			}
			s.opts = parseOpts(t, off, body[12:])
			f.stats = append(f.stats, s)
		default:
			t.Fatalf("offset %d: unexpected block type %#x", off, typ)
		}
		off += n
	}
	if len(f.order) == 0 || f.order[0] != 0x0a0d0d0a {
		t.Fatal("the file does not start with a section header")
	}
	return f
}

// parseOpts reads an option list that must fill b exactly, ending with
// opt_endofopt.
func parseOpts(t *testing.T, off int, b []byte) []ngOpt {
	t.Helper()
	le := binary.LittleEndian
	var opts []ngOpt
	for i := 0; ; {
		if len(b)-i < 4 {
			t.Fatalf("offset %d: option list without opt_endofopt", off)
		}
		code, n := le.Uint16(b[i:]), int(le.Uint16(b[i+2:]))
		if code == 0 {
			if n != 0 || i+4 != len(b) {
				t.Fatalf("offset %d: opt_endofopt of length %d with %d bytes after it", off, n, len(b)-i-4)
			}
			return opts
		}
		end := i + 4 + n
		padded := end + -end&3
		if padded > len(b) {
			t.Fatalf("offset %d: option %d of length %d overruns the block", off, code, n)
		}
		checkZero(t, off, "option padding", b[end:padded])
		opts = append(opts, ngOpt{code: code, val: b[i+4 : end]})
		i = padded
	}
}

func checkZero(t *testing.T, off int, what string, b []byte) {
	t.Helper()
	for _, c := range b {
		if c != 0 {
			t.Errorf("offset %d: %s %x is not zero", off, what, b)
			return
		}
	}
}
