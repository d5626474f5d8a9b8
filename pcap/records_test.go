package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"
)

// readAll reads every record of a classic pcap with the native reader:
// the header's error, or one line per record and the error that ended
// the file ("EOF" for a clean end, "truncated" for a cut one).
func readAll(data []byte) []string {
	r, err := newRecords(bytes.NewReader(data))
	if err != nil {
		return []string{"header: " + headerEnd(err)}
	}
	out := []string{fmt.Sprintf("link %d snaplen %d", r.linkType, r.snaplen)}
	for {
		d, ts, length, _, err := r.next()
		if err != nil {
			return append(out, endOf(err))
		}
		out = append(out, fmt.Sprintf("%d %d %x", ts, length, d))
	}
}

// readAllGopacket is readAll through pcapgo.Reader, the reference.
func readAllGopacket(data []byte) []string {
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		return []string{"header: " + headerEnd(err)}
	}
	out := []string{fmt.Sprintf("link %d snaplen %d", r.LinkType(), r.Snaplen())}
	for {
		d, ci, err := r.ZeroCopyReadPacketData()
		if err != nil {
			if err == io.EOF && ci.CaptureLength > 0 {
				err = io.ErrUnexpectedEOF
			}
			return append(out, endOf(err))
		}
		ts := ci.Timestamp.Unix()*1e9 + int64(ci.Timestamp.Nanosecond())
		out = append(out, fmt.Sprintf("%d %d %x", ts, ci.Length, d))
	}
}

// headerEnd is endOf for the file header, where NewReader reads an end
// and a cut alike ("the file ends inside its header").
func headerEnd(err error) string {
	if s := endOf(err); s != "EOF" && s != "truncated" {
		return s
	}
	return "short"
}

func endOf(err error) string {
	switch {
	case err == io.EOF:
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated"
	}
	return err.Error()
}

// rawPcap builds a classic pcap by hand: any magic, snap length, and
// records with any header values.
func rawPcap(magic uint32, bigEndian bool, snaplen uint32, recs ...[4]uint32) []byte {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	b := binary.LittleEndian.AppendUint32(nil, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = bo.AppendUint32(b, snaplen)
	b = bo.AppendUint32(b, 101)
	for i, h := range recs { // sec, frac, caplen, length
		for _, v := range h {
			b = bo.AppendUint32(b, v)
		}
		for j := range int(h[2]) {
			b = append(b, byte(i+j))
		}
	}
	return b
}

// TestRecordsMatchGopacket reads captures with the native record reader
// and with pcapgo's, whose behaviour it replaces, and wants the same
// records, timestamps and end: the test data's captures, every cut of the
// small ones, and hand-made files for what the test data lacks (both byte
// orders and resolutions, a microsecond field that overflows, records
// larger than the read buffer, lengths that exceed the snap length or
// the original length, bad versions and magics).
func TestRecordsMatchGopacket(t *testing.T) {
	var inputs [][]byte
	var names []string
	add := func(name string, data []byte) {
		names, inputs = append(names, name), append(inputs, data)
	}
	files, err := filepath.Glob("../testdata/external/pcap/*/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in ../testdata/external/pcap: %v", err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !isPcapMagic(data) {
			continue
		}
		add(path, data)
		if len(data) <= 4096 {
			for n := range len(data) {
				add(fmt.Sprintf("%s cut at %d", path, n), data[:n])
			}
		}
	}
	big := eagerMax + 1000 // past libpcap's maximum, within the snap length
	huge := readBufSize + 1000
	for _, f := range []struct {
		magic uint32
		be    bool
	}{{magicNanosLE, false}, {magicNanosBE, true}, {magicMicrosLE, false}, {magicMicrosBE, true}} {
		name := fmt.Sprintf("magic %#x", f.magic)
		add(name, rawPcap(f.magic, f.be, 65535, [4]uint32{1, 2, 3, 60}, [4]uint32{1 << 31, 999_999_999, 0, 0}, [4]uint32{7, 4_294_967_295, 40, 40}))
		add(name+" caplen > length", rawPcap(f.magic, f.be, 65535, [4]uint32{1, 2, 30, 20}))
		add(name+" caplen > snaplen", rawPcap(f.magic, f.be, 100, [4]uint32{1, 2, 3, 3}, [4]uint32{1, 2, eagerMax + 1, eagerMax + 1}))
		add(name+" eagerMax", rawPcap(f.magic, f.be, 100, [4]uint32{1, 2, eagerMax, eagerMax}))
		add(name+" big", rawPcap(f.magic, f.be, uint32(huge), [4]uint32{1, 2, uint32(big), uint32(big)}, [4]uint32{3, 4, 5, 5}))
		add(name+" huge", rawPcap(f.magic, f.be, uint32(huge), [4]uint32{1, 2, uint32(huge), uint32(huge)}, [4]uint32{3, 4, 5, 5}))
		h := rawPcap(f.magic, f.be, uint32(huge), [4]uint32{1, 2, uint32(huge), uint32(huge)})
		add(name+" huge cut", h[:len(h)-1])
		add(name+" lying length", rawPcap(f.magic, f.be, 1<<31)[:24:24])
		lying := rawPcap(f.magic, f.be, 1<<31, [4]uint32{1, 2, 0, 0})
		binary.LittleEndian.PutUint32(lying[24+8:], 1<<30) // caplen 1 GiB in a file of 40 bytes
		binary.LittleEndian.PutUint32(lying[24+12:], 1<<30)
		add(name+" lying record", lying)
	}
	v := rawPcap(magicNanosLE, false, 65535)
	v[4] = 3
	add("major 3", v)
	v = rawPcap(magicNanosLE, false, 65535)
	v[6] = 5
	add("minor 5", v)
	add("bad magic", []byte("not a pcap file at all, really"))
	for i, data := range inputs {
		got, want := readAll(data), readAllGopacket(data)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n got %.300q\nwant %.300q", names[i], got, want)
		}
	}
}

// TestNextNoAllocs checks that reading a frame allocates nothing.
func TestNextNoAllocs(t *testing.T) {
	rec := make([][4]uint32, 2000)
	for i := range rec {
		rec[i] = [4]uint32{uint32(i), 0, 40, 40}
	}
	data := rawPcap(magicNanosLE, false, 65535, rec...)
	c, err := NewReader(bytes.NewReader(data), "t")
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := c.Next(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Next allocates %v times a frame", n)
	}
}
