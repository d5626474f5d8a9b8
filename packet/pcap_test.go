package packet

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// pcapDir holds captures from tcpdump's and Zeek's test suites, many of
// them malformed on purpose, carried in the repository with their
// licences (testdata/external/README.md).
const pcapDir = "../testdata/external/pcap"

// TestPcaps decodes every IP packet in the captures under pcapDir. Decode
// must not panic; where it says OK, gopacket must agree with it; and some
// captures must give the reasons they were made for.
func TestPcaps(t *testing.T) {
	if _, err := os.Stat(pcapDir); err != nil {
		t.Fatalf("captures missing: %v", err)
	}
	var files int
	err := filepath.WalkDir(pcapDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isCapture(path) {
			return err
		}
		files++
		name := filepath.ToSlash(strings.TrimPrefix(path, pcapDir+string(filepath.Separator)))
		t.Run(name, func(t *testing.T) {
			got := decodeCapture(t, path)
			if want, ok := pcapWant[name]; ok && got != want {
				t.Errorf("got  %v\nwant %v", got, want)
			}
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no captures in %s", pcapDir)
	}
}

// captureStats counts the IP packets of a capture by Decode's reason, and
// the fragments among those it returned OK for.
type captureStats struct {
	reasons                [NumReasons]int
	firstFrags, laterFrags int
}

func (s captureStats) String() string {
	var b strings.Builder
	for r, n := range s.reasons {
		if n != 0 {
			fmt.Fprintf(&b, "%v=%d ", Reason(r), n)
		}
	}
	fmt.Fprintf(&b, "first_fragments=%d later_fragments=%d", s.firstFrags, s.laterFrags)
	return b.String()
}

// pcapWant gives the stats of some captures, as tcpdump's and Zeek's test
// outputs describe them.
var pcapWant = map[string]captureStats{
	"tcpdump/ipv4_invalid_hdr_length.pcap":   {reasons: [NumReasons]int{BadIHL: 1}},
	"tcpdump/ipv4_invalid_total_length.pcap": {reasons: [NumReasons]int{BadTotalLength: 1}},
	"tcpdump/ipv4_tcp_http_xml_tso.pcap":     {reasons: [NumReasons]int{BadTotalLength: 1}}, // total length 0, as TSO captures show
	"tcpdump/ipv6-bad-version.pcap":          {reasons: [NumReasons]int{OK: 2, BadVersion: 2}},
	"tcpdump/ipv6-routing-header.pcap":       {reasons: [NumReasons]int{BadExtHeader: 4}}, // type 0 with segments left
	"tcpdump/ipv6-too-long-jumbo.pcap":       {reasons: [NumReasons]int{BadPayloadLength: 1}},
	"tcpdump/ipv6_jumbogram_1.pcap":          {reasons: [NumReasons]int{BadPayloadLength: 1}},
	"tcpdump/ipv6_invalid_length_2.pcap":     {reasons: [NumReasons]int{BadPayloadLength: 1}},
	"tcpdump/ipv6_frag6_negative_len.pcap":   {reasons: [NumReasons]int{BadExtHeader: 1}},
	"tcpdump/icmpv6-length-zero.pcapng":      {reasons: [NumReasons]int{Truncated: 1}},
	"tcpdump/ipv6_no_next_header.pcap":       {reasons: [NumReasons]int{OK: 1}},
	"zeek/ipv4/fragmented-1.pcap":            {reasons: [NumReasons]int{OK: 3}, firstFrags: 2, laterFrags: 1},
	"zeek/ipv4/fragmented-3.pcap":            {reasons: [NumReasons]int{OK: 5}, firstFrags: 1, laterFrags: 4},
	"zeek/ipv4/fragmented-syn.pcap":          {reasons: [NumReasons]int{OK: 2}, firstFrags: 1, laterFrags: 1},
	"zeek/ipv6-fragmented-dns.pcap":          {reasons: [NumReasons]int{OK: 8}, firstFrags: 1, laterFrags: 3},
	"zeek/ipv6-http-atomic-frag.pcap":        {reasons: [NumReasons]int{OK: 38}}, // atomic fragments are whole
	"zeek/ipv6-hbh-routing0.pcap":            {reasons: [NumReasons]int{BadExtHeader: 1}},
	"zeek/ipv6_zero_len_ah.pcap":             {reasons: [NumReasons]int{OK: 9, BadExtHeader: 1}},
	"zeek/communityid/sctp.pcap":             {reasons: [NumReasons]int{OK: 74}},
	"zeek/echo-connections.pcap.gz":          {reasons: [NumReasons]int{OK: 82582}},
}

func isCapture(path string) bool {
	for _, ext := range []string{".pcap", ".pcapng", ".pcap.gz"} {
		if strings.HasSuffix(path, ext) {
			return true
		}
	}
	return false
}

// linkReader reads the frames of a pcap or pcapng capture.
type linkReader interface {
	ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// decodeCapture decodes the IP packets in a capture file.
func decodeCapture(t *testing.T, path string) captureStats {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var in io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		if in, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(in)
	magic, err := br.Peek(4)
	if err != nil {
		t.Fatal(err)
	}
	var r linkReader
	var linkType func(gopacket.CaptureInfo) layers.LinkType
	if binary.BigEndian.Uint32(magic) == 0x0a0d0d0a { // pcapng section header block
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			t.Fatal(err)
		}
		r = ng
		linkType = func(ci gopacket.CaptureInfo) layers.LinkType {
			i, err := ng.Interface(ci.InterfaceIndex)
			if err != nil {
				t.Fatal(err)
			}
			return i.LinkType
		}
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			t.Fatal(err)
		}
		r = pr
		linkType = func(gopacket.CaptureInfo) layers.LinkType { return pr.LinkType() }
	}

	var stats captureStats
	for {
		frame, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %v: %v", stats, err)
		}
		lt := linkType(ci)
		b, ok := network(lt, frame)
		if !ok {
			continue
		}
		var p Parsed
		res := p.Decode(b)
		stats.reasons[res]++
		if res != OK {
			continue
		}
		checkInvariants(t, &p, len(b))
		compareGopacket(t, &p, b)
		if p.IsFirstFragment() {
			stats.firstFrags++
		} else if p.IsLaterFragment() {
			stats.laterFrags++
		}
	}
	return stats
}

// network returns the IP packet in a frame of the given link type, or
// false if the frame holds none or the link type is unknown.
func network(lt layers.LinkType, f []byte) ([]byte, bool) {
	var etherType uint16
	switch lt {
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6:
		return f, true
	case layers.LinkTypeEthernet:
		if len(f) < 14 {
			return nil, false
		}
		etherType, f = binary.BigEndian.Uint16(f[12:14]), f[14:]
		for (etherType == 0x8100 || etherType == 0x88a8) && len(f) >= 4 { // VLAN tags
			etherType, f = binary.BigEndian.Uint16(f[2:4]), f[4:]
		}
	case layers.LinkTypeLinuxSLL:
		if len(f) < 16 {
			return nil, false
		}
		etherType, f = binary.BigEndian.Uint16(f[14:16]), f[16:]
	case layers.LinkTypeLinuxSLL2:
		if len(f) < 20 {
			return nil, false
		}
		etherType, f = binary.BigEndian.Uint16(f[0:2]), f[20:]
	}
	return f, etherType == 0x0800 || etherType == 0x86dd
}
