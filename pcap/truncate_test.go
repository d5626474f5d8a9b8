package pcap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// boundaries returns the offsets in a capture where a record (pcap) or a
// block (pcapng) ends: the only places a cut file may end cleanly. The
// first is the end of the file header (pcap) or of the section header
// block (pcapng).
func boundaries(t *testing.T, data []byte) []int {
	t.Helper()
	var out []int
	if bytes.HasPrefix(data, magicPcapng) {
		bo := binary.ByteOrder(binary.LittleEndian)
		if binary.BigEndian.Uint32(data[8:12]) == 0x1a2b3c4d {
			bo = binary.BigEndian
		}
		for off := 0; off+8 <= len(data); {
			n := int(bo.Uint32(data[off+4 : off+8]))
			if n < 12 || off+n > len(data) {
				t.Fatalf("pcapng block at %d: length %d", off, n)
			}
			off += n
			out = append(out, off)
		}
		return out
	}
	bo := binary.ByteOrder(binary.LittleEndian)
	if binary.BigEndian.Uint32(data[0:4]) == 0xa1b2c3d4 || binary.BigEndian.Uint32(data[0:4]) == 0xa1b23c4d {
		bo = binary.BigEndian
	}
	out = append(out, 24)
	for off := 24; off+16 <= len(data); {
		off += 16 + int(bo.Uint32(data[off+8:off+12]))
		if off > len(data) {
			t.Fatalf("pcap record ends at %d, past the file's %d bytes", off, len(data))
		}
		out = append(out, off)
	}
	return out
}

// TestEveryCut cuts captures of the test data at every length past their
// header and checks that a cut at a record or block boundary reads as a
// clean end and every other cut as a truncated file, never as a clean
// end (a cut right after a record header once read as one).
func TestEveryCut(t *testing.T) {
	files, err := filepath.Glob("../testdata/external/pcap/tcpdump/*.pcap*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in ../testdata/external/pcap/tcpdump: %v", err)
	}
	tried := 0
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 4096 || bytes.HasPrefix(data, magicGzip) {
			continue // every cut of a large file is slow to try; gzip cuts are gzip's errors
		}
		bounds := boundaries(t, data)
		if bounds[len(bounds)-1] != len(data) {
			continue // trailing bytes: the file is itself damaged
		}
		clean := map[int]bool{}
		for _, b := range bounds {
			clean[b] = true
		}
		tried++
		for n := bounds[0]; n < len(data); n++ {
			r, err := NewReader(bytes.NewReader(data[:n]), "cut")
			if err != nil {
				if clean[n] {
					t.Errorf("%s cut at %d (a boundary): NewReader: %v", path, n, err)
				}
				continue
			}
			for err == nil {
				_, err = r.Next()
			}
			switch {
			case clean[n] && err != io.EOF:
				t.Errorf("%s cut at %d (a boundary): %v, want a clean end", path, n, err)
			case !clean[n] && errors.Is(err, io.EOF):
				t.Errorf("%s cut at %d of %d: read as a clean end, want a truncated file", path, n, len(data))
			}
		}
	}
	if tried == 0 {
		t.Fatal("no capture small enough to cut at every length")
	}
}
