package replay

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/layers"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/pcap/pcaptest"
)

// FuzzReplay feeds arbitrary bytes to the capture reader and the replay
// loop, every output on: whatever the file holds, replay must not panic,
// and what it counts must add up.
func FuzzReplay(f *testing.F) {
	f.Add(pcaptest.Pcap(f, layers.LinkTypeEthernet, exampleScenario(f).recs))
	for _, name := range []string{
		"tcpdump/icmp-length-zero.pcapng", "tcpdump/tcp_header_heapoverflow.pcap",
		"zeek/trunc/trunc-hdr.pcap", "zeek/ipv6-fragmented-dns.pcap", "tcpdump/LINKTYPE_IPV6.pcap",
	} {
		b, err := os.ReadFile(filepath.Join(externalDir, name))
		if err != nil {
			f.Fatalf("seed: %v (the shared test data must sit beside the repository)", err)
		}
		f.Add(b)
	}
	e := exampleEngine()
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := pcap.NewReader(bytes.NewReader(b), "fuzz.pcap")
		if err != nil {
			return
		}
		s, _ := Run(e, c, Options{Verdicts: io.Discard, Allowed: io.Discard})
		checkInvariants(t, s)
	})
}
