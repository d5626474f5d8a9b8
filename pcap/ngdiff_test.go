package pcap

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// This file checks the native pcapng reader (ngBlocks) against
// pcapgo.NgReader, configured as the Reader used it before (NewNgReader
// with WantMixedLinkType and SkipUnknownVersion, ZeroCopyReadPacketData,
// the link type from ci.AncillaryData[0]): frame by frame, the data, the
// timestamp in nanoseconds, the captured and original lengths, the
// interface index and link type, and how the file ends.

// ngRead is what a reader made of a pcapng file: one line per frame and
// the end ("EOF", "truncated" for an end of the file inside a block, or
// the error's text; "header: ..." when the first section header fails).
type ngRead struct {
	frames []string
	end    string
}

func ngFrameLine(data []byte, ts int64, length, index int, lt layers.LinkType) string {
	return fmt.Sprintf("ts %d caplen %d len %d if %d lt %d %x", ts, len(data), length, index, lt, data)
}

// ngEnd classifies an error. An end of the file inside a block is
// io.ErrUnexpectedEOF from ngBlocks; pcapgo gives some of those (in name
// resolution blocks) wrapped in text, ending in "unexpected EOF": both
// read as "truncated", as the Reader reports them alike.
func ngEnd(err error) string {
	switch {
	case err == io.EOF:
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF), strings.HasSuffix(err.Error(), ": unexpected EOF"):
		return "truncated"
	}
	return err.Error()
}

// readNgOurs reads data with ngBlocks and a read buffer of bufSize bytes,
// through wrap (the identity when nil).
func readNgOurs(data []byte, bufSize int, wrap func(io.Reader) io.Reader) ngRead {
	var r io.Reader = bytes.NewReader(data)
	if wrap != nil {
		r = wrap(r)
	}
	b, err := newNgBlocks(r, bufSize)
	if err != nil {
		return ngRead{end: "header: " + headerEnd(err)}
	}
	var out ngRead
	for {
		d, ts, length, lt, err := b.next()
		if err != nil {
			out.end = ngEnd(err)
			return out
		}
		out.frames = append(out.frames, ngFrameLine(d, ts, length, b.index, lt))
	}
}

// readNgGopacket is readNgOurs through pcapgo.NgReader, as the Reader
// used it.
func readNgGopacket(data []byte) ngRead {
	r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.NgReaderOptions{WantMixedLinkType: true, SkipUnknownVersion: true})
	if err != nil {
		return ngRead{end: "header: " + headerEnd(err)}
	}
	var out ngRead
	for {
		d, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			out.end = ngEnd(err)
			return out
		}
		lt := r.LinkType()
		if len(ci.AncillaryData) > 0 {
			if t, ok := ci.AncillaryData[0].(layers.LinkType); ok {
				lt = t
			}
		}
		ts := ci.Timestamp.Unix()*1e9 + int64(ci.Timestamp.Nanosecond())
		if ci.CaptureLength != len(d) {
			out.end = fmt.Sprintf("pcapgo: CaptureLength %d but %d bytes", ci.CaptureLength, len(d))
			return out
		}
		out.frames = append(out.frames, ngFrameLine(d, ts, ci.Length, ci.InterfaceIndex, lt))
	}
}

// ngDiff compares the two reads, "" when they agree.
func ngDiff(got, want ngRead) string {
	n := min(len(got.frames), len(want.frames))
	for i := range n {
		if got.frames[i] != want.frames[i] {
			return fmt.Sprintf("frame %d:\n got %.400s\nwant %.400s", i+1, got.frames[i], want.frames[i])
		}
	}
	if len(got.frames) != len(want.frames) || got.end != want.end {
		return fmt.Sprintf("%d frames, then %q; pcapgo: %d frames, then %q", len(got.frames), got.end, len(want.frames), want.end)
	}
	return ""
}

// ngCompare checks one input with the default buffer and, when small is
// set, with small read buffers and odd readers too.
func ngCompare(t testing.TB, name string, data []byte, small bool) {
	t.Helper()
	want := readNgGopacket(data)
	if d := ngDiff(readNgOurs(data, readBufSize, nil), want); d != "" {
		t.Errorf("%s: %s", name, d)
		return
	}
	if !small {
		return
	}
	for _, size := range []int{20, 23, 32, 61, 128, 1000} {
		if d := ngDiff(readNgOurs(data, size, nil), want); d != "" {
			t.Errorf("%s, read buffer of %d bytes: %s", name, size, d)
			return
		}
	}
	for _, w := range []struct {
		name string
		wrap func(io.Reader) io.Reader
	}{{"OneByteReader", iotest.OneByteReader}, {"HalfReader", iotest.HalfReader}, {"DataErrReader", iotest.DataErrReader}} {
		if d := ngDiff(readNgOurs(data, 64, w.wrap), want); d != "" {
			t.Errorf("%s, through %s: %s", name, w.name, d)
			return
		}
	}
}

// ngBuilder builds pcapng byte streams by hand, in either byte order,
// with any lengths.
type ngBuilder struct {
	bo binary.AppendByteOrder
	b  []byte
}

func newNgBuilder(big bool) *ngBuilder {
	w := &ngBuilder{bo: binary.LittleEndian}
	if big {
		w.bo = binary.BigEndian
	}
	return w
}

// order switches the byte order, for a later section.
func (w *ngBuilder) order(big bool) *ngBuilder {
	w.bo = binary.LittleEndian
	if big {
		w.bo = binary.BigEndian
	}
	return w
}

// opt is one option, padded.
func (w *ngBuilder) opt(code uint16, val []byte) []byte {
	b := w.bo.AppendUint16(nil, code)
	b = w.bo.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	return append(b, make([]byte, pad4(len(val)))...)
}

// end is the end-of-options option.
func (w *ngBuilder) end() []byte { return w.opt(optEnd, nil) }

// blockLen appends a block whose body is padded to 4 bytes, with the
// given total length in both length fields (0: the true one).
func (w *ngBuilder) blockLen(typ uint32, total uint32, body ...[]byte) *ngBuilder {
	var bb []byte
	for _, p := range body {
		bb = append(bb, p...)
	}
	bb = append(bb, make([]byte, pad4(len(bb)))...)
	if total == 0 {
		total = uint32(12 + len(bb))
	}
	w.b = w.bo.AppendUint32(w.b, typ)
	w.b = w.bo.AppendUint32(w.b, total)
	w.b = append(w.b, bb...)
	w.b = w.bo.AppendUint32(w.b, total)
	return w
}

func (w *ngBuilder) block(typ uint32, body ...[]byte) *ngBuilder {
	return w.blockLen(typ, 0, body...)
}

func (w *ngBuilder) u16(v uint16) []byte { return w.bo.AppendUint16(nil, v) }
func (w *ngBuilder) u32(v uint32) []byte { return w.bo.AppendUint32(nil, v) }
func (w *ngBuilder) u64(v uint64) []byte { return w.bo.AppendUint64(nil, v) }

// shb appends a section header block of the given version.
func (w *ngBuilder) shbVersion(major, minor uint16, opts ...[]byte) *ngBuilder {
	body := [][]byte{w.u32(byteOrderMagic), w.u16(major), w.u16(minor), w.u64(^uint64(0))}
	return w.block(blockSHB, append(body, opts...)...)
}

func (w *ngBuilder) shb(opts ...[]byte) *ngBuilder { return w.shbVersion(1, 0, opts...) }

func (w *ngBuilder) idb(lt uint16, snaplen uint32, opts ...[]byte) *ngBuilder {
	body := [][]byte{w.u16(lt), w.u16(0), w.u32(snaplen)}
	return w.block(blockIDB, append(body, opts...)...)
}

// epb appends an enhanced packet block of data with the given lengths.
func (w *ngBuilder) epb(ifc uint32, ts uint64, caplen, length uint32, data []byte, opts ...[]byte) *ngBuilder {
	body := [][]byte{w.u32(ifc), w.u32(uint32(ts >> 32)), w.u32(uint32(ts)), w.u32(caplen), w.u32(length), data}
	if len(opts) > 0 {
		body = append(body, make([]byte, pad4(len(data))))
	}
	return w.block(blockEPB, append(body, opts...)...)
}

// packet appends an enhanced packet block of data, whole.
func (w *ngBuilder) packet(ifc uint32, ts uint64, data []byte, opts ...[]byte) *ngBuilder {
	return w.epb(ifc, ts, uint32(len(data)), uint32(len(data)), data, opts...)
}

func (w *ngBuilder) spb(length uint32, data []byte) *ngBuilder {
	return w.block(blockSPB, w.u32(length), data)
}

// pb appends an obsolete packet block (type 2).
func (w *ngBuilder) pb(ifc, drops uint16, ts uint64, data []byte, opts ...[]byte) *ngBuilder {
	body := [][]byte{w.u16(ifc), w.u16(drops), w.u32(uint32(ts >> 32)), w.u32(uint32(ts)), w.u32(uint32(len(data))), w.u32(uint32(len(data))), data}
	if len(opts) > 0 {
		body = append(body, make([]byte, pad4(len(data))))
	}
	return w.block(blockPB, append(body, opts...)...)
}

// nrb appends a name resolution block of the given records (type, value).
func (w *ngBuilder) nrb(recs ...[]byte) *ngBuilder { return w.block(blockNRB, recs...) }

// nrec is a name record.
func (w *ngBuilder) nrec(typ uint16, val []byte) []byte { return w.opt(typ, val) }

func (w *ngBuilder) isb(ifc uint32, ts uint64, opts ...[]byte) *ngBuilder {
	body := [][]byte{w.u32(ifc), w.u32(uint32(ts >> 32)), w.u32(uint32(ts))}
	return w.block(blockISB, append(body, opts...)...)
}

func (w *ngBuilder) raw(b ...byte) *ngBuilder { w.b = append(w.b, b...); return w }

func (w *ngBuilder) bytes() []byte { return bytes.Clone(w.b) }

// frameBytes is n bytes of data that tell frames apart.
func frameBytes(seed, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seed*31 + i)
	}
	return b
}

// ngHandBuilt returns hand-built pcapng streams, by name, for what the
// test data lacks.
func ngHandBuilt() (names []string, inputs [][]byte) {
	add := func(name string, b []byte) { names, inputs = append(names, name), append(inputs, b) }
	for _, big := range []bool{false, true} {
		e := "LE"
		if big {
			e = "BE"
		}
		nb := func() *ngBuilder { return newNgBuilder(big) }
		w := nb()
		w.shb(w.opt(optComment, []byte("section")), w.opt(shbUserAppl, []byte("vpclab test")), w.end())
		add(e+" section header only", w.bytes())
		w.idb(uint16(layers.LinkTypeEthernet), 65535, w.opt(ifName, []byte("eth0")), w.end())
		add(e+" one interface", w.bytes())
		w.packet(0, 1_700_000_000_123_456, frameBytes(1, 60))
		w.packet(0, 1_700_000_000_123_457, frameBytes(2, 61), w.opt(optComment, []byte("a comment")), w.opt(epbFlags, w.u32(1)), w.end())
		w.packet(0, 3, frameBytes(3, 62), w.opt(optComment, []byte("no end of options")))
		w.packet(0, 4, frameBytes(4, 63), w.opt(optComment, bytes.Repeat([]byte("long "), 400)), w.opt(0x2bad, nil), w.opt(0x8001, []byte{1, 2, 3}), w.end())
		w.packet(0, 5, nil)                                                     // zero-length
		w.packet(0, 6, nil, w.opt(optComment, []byte("empty")), w.end())        // zero-length, options
		w.epb(0, 7, 20, 1500, frameBytes(7, 20))                                // snaplen-truncated
		w.epb(0, 8, 30, 10, frameBytes(8, 30))                                  // caplen > length
		w.epb(0, 9, 1, 1, frameBytes(9, 1), w.opt(epbFlags, w.u32(2)), w.end()) // 1 byte, padded, then options
		add(e+" packets with options", w.bytes())
		base := w.bytes()

		// Interfaces of several link types and resolutions.
		w = nb()
		w.shb()
		w.idb(uint16(layers.LinkTypeRaw), 0)
		w.idb(uint16(layers.LinkTypeEthernet), 1514, w.opt(ifTSResol, []byte{9}), w.end())
		w.idb(uint16(layers.LinkTypeLinuxSLL), 100, w.opt(ifTSResol, []byte{0x80 | 20}), w.end())
		w.idb(uint16(layers.LinkTypeNull), 0, w.opt(ifTSResol, []byte{3}), w.opt(ifTSOffset, w.u64(1_000_000)), w.end())
		w.idb(uint16(layers.LinkTypeLoop), 0, w.opt(ifTSResol, []byte{0x80 | 30}), w.opt(ifTSOffset, w.u64(^uint64(0))), w.end())
		w.idb(9999, 0, w.opt(ifTSResol, []byte{0}), w.opt(ifTSResol, []byte{12}), w.end()) // 0 means 6; the last wins
		w.idb(1, 0, w.opt(ifTSResol, []byte{0x80 | 63}), w.end())
		w.idb(1, 0, w.opt(ifTSResol, []byte{19}), w.end())
		w.idb(1, 0, w.opt(ifTSResol, []byte{25}), w.end())                              // 10^25 wraps in 64 bits, as pcapgo's does
		w.idb(1, 0, w.opt(ifTSResol, nil), w.opt(ifTSOffset, []byte{1, 2, 3}), w.end()) // too short: ignored
		w.idb(1, 0, w.opt(ifTSResol, []byte{0x80}), w.end())                            // 2^0: seconds
		w.idb(1, 0, w.opt(ifTSResol, []byte{0}), w.end())
		for i := range 12 {
			for _, ts := range []uint64{0, 1, 999_999_999, 1_700_000_000_123_456_789, 1 << 63, ^uint64(0)} {
				w.packet(uint32(i), ts, frameBytes(i, 40+i))
			}
		}
		w.isb(2, 5, w.opt(isbIfRecv, w.u64(10)), w.opt(isbIfDrop, w.u64(1)), w.opt(isbStartTime, w.u64(3)), w.opt(optComment, []byte("stats")), w.end())
		w.isb(1, 5, w.opt(isbIfRecv, []byte{1}), w.end()) // short option: ignored
		w.spb(40, frameBytes(40, 40))
		w.spb(0, nil)
		w.pb(3, 7, 99, frameBytes(50, 33))
		w.pb(1, 0, 98, frameBytes(51, 34), w.opt(optComment, []byte("pb")), w.end())
		w.nrb(w.nrec(nrbIPv4, append([]byte{10, 0, 0, 1}, "host\x00alias\x00"...)),
			w.nrec(nrbIPv6, append(make([]byte, 16), "six\x00"...)),
			w.nrec(nrbEUI48, make([]byte, 6)), w.nrec(nrbEUI64, make([]byte, 8)),
			w.nrec(77, []byte("unknown record")), w.nrec(0, nil), w.opt(optComment, []byte("nrb option")), w.end())
		w.nrb()                                                          // no records at all
		w.block(0x0000000a, w.u32(0x5353484b), w.u32(4), []byte("keys")) // decryption secrets
		w.block(0x00000bad, w.u32(32473), []byte("custom"))              // custom block
		w.block(0x40000bad, w.u32(32473), []byte("custom, not to copy")) // custom block
		w.block(0x12345678, []byte("unknown"))                           // unknown type
		w.packet(2, 77, frameBytes(77, 100))
		add(e+" interfaces, resolutions, every block type", w.bytes())
		mixed := w.bytes()

		// A simple packet block cut by the snap length of interface 0.
		w = nb()
		w.shb().idb(1, 50).spb(80, frameBytes(1, 50)).spb(30, frameBytes(2, 30))
		add(e+" SPB snaplen", w.bytes())
		w = nb()
		w.shb().idb(1, 0).spb(80, frameBytes(1, 50)) // claims 80, holds 50
		add(e+" SPB longer than its block", w.bytes())
		w = nb()
		w.shb().spb(10, frameBytes(1, 10))
		add(e+" SPB without interface", w.bytes())
		w = nb()
		w.shb().packet(0, 1, frameBytes(1, 10))
		add(e+" EPB without interface", w.bytes())
		w = nb()
		w.shb().idb(1, 0).packet(1, 1, frameBytes(1, 10))
		add(e+" EPB of a missing interface", w.bytes())
		w = nb()
		w.shb().idb(1, 0).isb(3, 0)
		add(e+" ISB of a missing interface", w.bytes())
		w = nb()
		w.shb().idb(1, 0).packet(0, 1, frameBytes(1, 10), w.opt(optEnd, []byte{1}))
		add(e+" end of options not empty", w.bytes())
		w = nb()
		w.shb().idb(1, 0, w.opt(ifTSResol, []byte{0x80 | 64}), w.end())
		add(e+" resolution 2^-64", w.bytes())
		w = nb()
		w.shb().idb(1, 0, w.opt(ifTSResol, []byte{64}), w.end())
		add(e+" resolution 10^-64", w.bytes())
		w = nb()
		w.shb().idb(1, 0).nrb(w.nrec(nrbIPv4, []byte{1, 2}))
		add(e+" name record too short", w.bytes())
		w = nb()
		w.shb().idb(1, 0).nrb(w.nrec(nrbIPv6, make([]byte, 16))).packet(0, 1, frameBytes(1, 8))
		add(e+" name record without names or end", w.bytes())

		// Several sections, of both byte orders, and skipped versions.
		w = nb()
		w.shb().idb(uint16(layers.LinkTypeEthernet), 0).packet(0, 1, frameBytes(1, 20))
		w.order(!big).shb().idb(uint16(layers.LinkTypeRaw), 0).idb(1, 0).packet(1, 2, frameBytes(2, 20)).packet(0, 3, frameBytes(3, 20))
		w.order(big).shbVersion(2, 0).idb(1, 0).packet(0, 4, frameBytes(4, 20)) // skipped
		w.order(!big).shbVersion(1, 1).packet(0, 5, frameBytes(5, 20))          // skipped
		w.order(big).shb().packet(0, 6, frameBytes(6, 20))                      // no interface yet
		add(e+" sections", w.bytes())
		w = nb()
		w.shb().idb(1, 0).packet(0, 1, frameBytes(1, 20)).order(!big).shbVersion(3, 0).idb(1, 0).packet(0, 2, nil)
		add(e+" skipped section at the end", w.bytes())
		w = nb()
		w.shbVersion(0, 9).idb(1, 0).packet(0, 1, nil).order(!big).shb().idb(101, 0).packet(0, 2, frameBytes(2, 20))
		add(e+" first section skipped", w.bytes())
		w = nb()
		w.shb().raw(0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 28, 0xde, 0xad, 0xbe, 0xef)
		add(e+" bad byte order magic", w.bytes())

		// Lengths that lie.
		w = nb()
		w.shb().idb(1, 0)
		pre := w.bytes()
		for _, total := range []uint32{0, 1, 4, 8, 12, 30, 31, 33, 34, 35, 36, 37, 39, 40, 44, 100, 1 << 20, 1<<32 - 1, 1<<32 - 8} {
			w = nb()
			w.b = bytes.Clone(pre)
			w.blockLen(blockEPB, total, w.u32(0), w.u64(0), w.u32(4), w.u32(4), []byte("abcd"))
			w.packet(0, 1, frameBytes(1, 8))
			add(fmt.Sprintf("%s EPB total length %d", e, total), w.bytes())
			w = nb()
			w.b = bytes.Clone(pre)
			w.blockLen(0x777, total, []byte("unknown block"))
			w.packet(0, 1, frameBytes(1, 8))
			add(fmt.Sprintf("%s unknown block total length %d", e, total), w.bytes())
			w = nb()
			w.b = bytes.Clone(pre)
			w.blockLen(blockIDB, total, w.u16(1), w.u16(0), w.u32(0), w.opt(ifTSResol, []byte{9}), w.end())
			w.packet(1, 1, frameBytes(1, 8))
			add(fmt.Sprintf("%s IDB total length %d", e, total), w.bytes())
			w = nb()
			w.b = bytes.Clone(pre)
			w.blockLen(blockNRB, total, w.nrec(nrbIPv4, append([]byte{1, 2, 3, 4}, "n\x00"...)), w.nrec(0, nil))
			w.packet(0, 1, frameBytes(1, 8))
			add(fmt.Sprintf("%s NRB total length %d", e, total), w.bytes())
			w = nb()
			w.blockLen(blockSHB, total, w.u32(byteOrderMagic), w.u16(1), w.u16(0), w.u64(0))
			w.idb(1, 0).packet(0, 1, frameBytes(1, 8))
			add(fmt.Sprintf("%s SHB total length %d", e, total), w.bytes())
		}
		// A trailer that differs from the leading length.
		w = nb()
		w.shb().idb(1, 0).packet(0, 1, frameBytes(1, 8))
		bad := w.bytes()
		bad[len(bad)-1] ^= 0x55
		add(e+" trailer mismatch", append(bad, w.bytes()[len(pre):]...))
		// A length not a multiple of 4, and a caplen past the block.
		w = nb()
		w.b = bytes.Clone(pre)
		w.epb(0, 1, 8, 8, frameBytes(1, 8))
		b := w.bytes()
		binary.LittleEndian.PutUint32(b[len(pre)+4:], 0)
		w.b = b
		w.epb(0, 1, 200, 200, frameBytes(1, 8)).packet(0, 2, frameBytes(2, 8))
		add(e+" caplen past the block", w.bytes())
		w = nb()
		w.b = bytes.Clone(pre)
		w.epb(0, 1, 1<<30, 1<<30, frameBytes(1, 8))
		add(e+" caplen of 1 GiB", w.bytes())
		w = nb()
		w.b = bytes.Clone(pre)
		w.raw(w.u32(blockEPB)...).raw(w.u32(45)...).raw(w.u32(0)...).raw(make([]byte, 8)...).raw(w.u32(5)...).raw(w.u32(5)...).raw(1, 2, 3, 4, 5).raw(w.u32(45)...)
		w.packet(0, 1, frameBytes(1, 8))
		add(e+" length 45, not padded", w.bytes())

		// Packets larger than small read buffers, and than the default one.
		w = nb()
		w.shb().idb(1, 0)
		for i, n := range []int{19, 20, 21, 63, 64, 65, 127, 129, 999, 1001, 3000} {
			w.packet(0, uint64(i), frameBytes(i, n), w.opt(optComment, frameBytes(i+1, n%50)), w.end())
			w.isb(0, 1, w.opt(optComment, frameBytes(i, n)), w.end())
			w.spb(uint32(n), frameBytes(i+2, n))
		}
		w.packet(0, 99, frameBytes(99, readBufSize+1000), w.opt(optComment, []byte("after a huge one")), w.end())
		w.packet(0, 100, frameBytes(100, eagerMax+1))
		w.packet(0, 101, frameBytes(101, 10))
		add(e+" large packets", w.bytes())

		_ = base
		_ = mixed
	}
	return names, inputs
}

// ngWriterOutput is what pcapgo.NgWriter writes: several interfaces of
// different link types and resolutions, packets on each.
func ngWriterOutput(t testing.TB) []byte {
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535, TimestampResolution: 9}, pcapgo.NgWriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ifc := range []pcapgo.NgInterface{
		{Name: "tun0", LinkType: layers.LinkTypeRaw, TimestampResolution: 6},
		{Name: "any", LinkType: layers.LinkTypeLinuxSLL, SnapLength: 100, TimestampResolution: 3},
		{Name: "lo", LinkType: layers.LinkTypeNull, TimestampResolution: 0x80 | 20},
	} {
		if _, err := w.AddInterface(ifc); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		data := frameBytes(i, 20+i*7)
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(1_700_000_000+int64(i), int64(i)*123_456_789%1e9), CaptureLength: len(data), Length: len(data) + i%3, InterfaceIndex: i % 4}
		if i%5 == 0 {
			err = w.WritePacketWithOptions(ci, data, pcapgo.NgPacketOptions{Comments: []string{"frame", fmt.Sprint(i)}})
		} else {
			err = w.WritePacket(ci, data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// ngTestFiles is the pcapng files of the test data.
func ngTestFiles(t testing.TB) (names []string, inputs [][]byte) {
	files, err := filepath.Glob("../testdata/external/pcap/*/*.pcapng*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no pcapng captures in ../testdata/external/pcap: %v", err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.HasPrefix(data, magicGzip) {
			z, err := gzip.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if data, err = io.ReadAll(z); err != nil {
				t.Fatal(err)
			}
		}
		names, inputs = append(names, path), append(inputs, data)
	}
	return names, inputs
}

// TestNgReaderMatchesGopacket reads pcapng streams with ngBlocks and with
// pcapgo.NgReader and wants the same frames and the same end: the test
// data's captures, NgWriter's output, hand-built streams, every cut of
// the small ones, and seeded random mutations of them all; the small ones
// also with read buffers down to 20 bytes and through readers that return
// a byte at a time, half of what is asked, or the last bytes with io.EOF.
func TestNgReaderMatchesGopacket(t *testing.T) {
	names, inputs := ngTestFiles(t)
	names, inputs = append(names, "NgWriter"), append(inputs, ngWriterOutput(t))
	n, in := ngHandBuilt()
	names, inputs = append(names, n...), append(inputs, in...)
	for i, data := range inputs {
		ngCompare(t, names[i], data, len(data) < 64<<10)
	}
	// Every cut of the small ones.
	for i, data := range inputs {
		if len(data) > 4096 {
			continue
		}
		for n := range len(data) {
			ngCompare(t, fmt.Sprintf("%s cut at %d", names[i], n), data[:n], n%7 == 0)
		}
	}
	// Random mutations, seeded.
	rng := rand.New(rand.NewPCG(12, 2026))
	var small []int
	for i, data := range inputs {
		if len(data) <= 8192 {
			small = append(small, i)
		}
	}
	mutations := 4000
	if testing.Short() {
		mutations = 500
	}
	for m := range mutations {
		i := small[rng.IntN(len(small))]
		data := ngMutate(rng, inputs[i])
		ngCompare(t, fmt.Sprintf("%s mutation %d (%x)", names[i], m, data), data, m%10 == 0)
		if t.Failed() {
			return
		}
	}
}

// ngMutate returns a copy of data with a few random changes: bytes set,
// 32-bit fields set to telling values, bytes inserted or removed.
func ngMutate(rng *rand.Rand, data []byte) []byte {
	b := bytes.Clone(data)
	for range 1 + rng.IntN(4) {
		if len(b) == 0 {
			return b
		}
		at := rng.IntN(len(b))
		switch rng.IntN(6) {
		case 0, 1:
			b[at] = byte(rng.Uint32())
		case 2:
			b[at] ^= 1 << rng.IntN(8)
		case 3:
			if at+4 <= len(b) {
				vals := []uint32{0, 1, 3, 4, 8, 12, 0x80, 0xffff, 0x7fffffff, 0xfffffffc, 0xffffffff}
				binary.LittleEndian.PutUint32(b[at:], vals[rng.IntN(len(vals))])
			}
		case 4:
			n := 1 + rng.IntN(8)
			b = append(b[:at], append(make([]byte, n), b[at:]...)...)
		case 5:
			b = append(b[:at], b[min(len(b), at+1+rng.IntN(8)):]...)
		}
	}
	return b
}

// TestNgLinkType checks LinkType: the link type of the file's first
// interface, once read (pcapgo's is 0 with WantMixedLinkType).
func TestNgLinkType(t *testing.T) {
	c, err := NewReader(bytes.NewReader(ngWriterOutput(t)), "t.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	if lt := c.LinkType(); lt != layers.LinkTypeEthernet {
		t.Errorf("LinkType %v, want Ethernet", lt)
	}
	w := newNgBuilder(true)
	w.shb().idb(uint16(layers.LinkTypeRaw), 0).packet(0, 1, ipv4).order(false).shb().idb(uint16(layers.LinkTypeEthernet), 0)
	c, err = NewReader(bytes.NewReader(w.bytes()), "t.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if lt := c.LinkType(); lt != 0 {
		t.Errorf("LinkType %v before any interface, want 0", lt)
	}
	for {
		if _, err := c.Next(); err != nil {
			break
		}
	}
	if lt := c.LinkType(); lt != layers.LinkTypeRaw {
		t.Errorf("LinkType %v, want the first interface's, Raw", lt)
	}
}

// FuzzNgReaderMatchesGopacket is TestNgReaderMatchesGopacket's comparison
// on any input, with the default read buffer and one of 20 bytes. An input
// that starts with gzip's magic is skipped: pcapgo would decompress it,
// where the Reader decompresses before ngBlocks and never hands it one.
func FuzzNgReaderMatchesGopacket(f *testing.F) {
	f.Add(ngWriterOutput(f))
	_, in := ngHandBuilt()
	for _, data := range in {
		if len(data) <= 8192 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.HasPrefix(data, magicGzip) {
			return
		}
		want := readNgGopacket(data)
		if d := ngDiff(readNgOurs(data, readBufSize, nil), want); d != "" {
			t.Fatal(d)
		}
		if d := ngDiff(readNgOurs(data, 20, nil), want); d != "" {
			t.Fatalf("read buffer of 20 bytes: %s", d)
		}
	})
}

// TestNgNextOptionsNoAllocs checks that reading pcapng frames allocates
// nothing after the first, whatever blocks carry them: enhanced packet
// blocks with options (comments, flags, a long comment), simple packet
// blocks, and interface statistics and name resolution blocks between
// them.
func TestNgNextOptionsNoAllocs(t *testing.T) {
	w := newNgBuilder(false)
	w.shb().idb(uint16(layers.LinkTypeRaw), 0, w.opt(ifTSResol, []byte{9}), w.end())
	for i := range 3000 {
		switch i % 4 {
		case 0:
			w.packet(0, uint64(i), ipv4, w.opt(optComment, []byte("allow sg-web ingress #2")), w.opt(epbFlags, w.u32(1)), w.end())
		case 1:
			w.spb(uint32(len(ipv4)), ipv4)
		case 2:
			w.isb(0, uint64(i), w.opt(isbIfRecv, w.u64(uint64(i))), w.opt(optComment, bytes.Repeat([]byte("s"), 2000)), w.end())
			w.packet(0, uint64(i), ipv4, w.opt(optComment, bytes.Repeat([]byte("long "), 300)), w.end())
		case 3:
			w.nrb(w.nrec(nrbIPv4, append([]byte{10, 0, 0, 1}, "web\x00"...)), w.nrec(0, nil))
			w.packet(0, uint64(i), ipv4)
		}
	}
	c, err := NewReader(bytes.NewReader(w.bytes()), "t.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Next(); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(2000, func() {
		if _, err := c.Next(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Next allocates %v times a pcapng frame", n)
	}
}
