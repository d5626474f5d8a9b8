package replay

import (
	"github.com/gopacket/gopacket/layers"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// presizeMax bounds the flows presize sizes one table for: 4 Mi, 32 MiB of
// bucket heads at most. Past it the table grows as it would have. A long
// capture's flows expire as it goes, so the flows alive at once, which
// the table holds, can be far fewer than the capture's; the estimate
// counts them all.
const presizeMax = 1 << 22

// presize estimates, from the first packets of capture c (pkts, in capture
// order), how many flows each ENI's conntrack table will hold by the end,
// and presizes the tables (conntrack.Table.Presize) that hold none yet,
// so that a replay of many new flows does not keep doubling its tables'
// bucket arrays. The estimate is the share of the first packets that
// start a flow, times the packets the capture's size holds at their mean
// size; it needs the size (pcap.Reader.Progress), so a capture read from
// a pipe is not presized. A flow between two ENIs counts in both their
// tables, and an untracked one too (an overestimate costs a bucket head,
// 4 bytes, a flow, up to the instance's allowance). It allocates, once a
// replay, for the flows of the packets it is given.
func presize(snap *dataplane.Snapshot, c *pcap.Reader, pkts [][]byte) {
	_, size := c.Progress()
	if size <= 0 || len(pkts) == 0 {
		return
	}
	perRecord := recordOverhead(c)
	var data int64
	seen := make(map[conntrack.Key]struct{}, len(pkts))
	var flows []int64 // by ENI port: the sample's flows that port's table holds
	var p packet.Parsed
	for _, b := range pkts {
		data += int64(len(b)) + perRecord
		if p.Decode(b) != packet.OK || p.IsFragment {
			continue
		}
		k, _ := conntrack.MakeKey(p.Src, p.Dst, p.Proto, p.SrcPort, p.DstPort, p.ICMPType, p.ICMPCode, p.ICMPID)
		if _, ok := seen[k]; ok {
			continue
		}
		seen[k] = struct{}{}
		for _, port := range [2]verdict.Port{snap.SourcePort(p.Src), snap.Owner(p.Dst)} {
			if port < 0 {
				continue
			}
			for int(port) >= len(flows) {
				flows = append(flows, 0)
			}
			flows[port]++
		}
	}
	// The capture's packets, at the sample's mean record size.
	total := float64(size) / (float64(data) / float64(len(pkts)))
	for port, n := range flows {
		if n == 0 {
			continue
		}
		if t := snap.Table(verdict.Port(port)); t != nil && t.Len() == 0 {
			t.Presize(int(min(float64(n)*total/float64(len(pkts)), presizeMax)))
		}
	}
}

// recordOverhead is what a record of c's holds besides its IP packet: its
// record header and its link header, as near as the format tells.
func recordOverhead(c *pcap.Reader) int64 {
	n := int64(16) // a pcap record's header
	if c.Format() == "pcapng" {
		n = 32 // an enhanced packet block's header and trailer
	}
	switch c.LinkType() {
	case layers.LinkTypeEthernet:
		n += 14
	case layers.LinkTypeLinuxSLL:
		n += 16
	case layers.LinkTypeLinuxSLL2:
		n += 20
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		n += 4
	}
	return n
}
