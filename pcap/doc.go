// Package pcap owns the capture file formats: the one pcapng writer (each
// packet with a comment, used by capture), the pcap writer (used by
// mirror's file targets) and the reader of pcap and pcapng files (used by
// replay). It must not import dataplane, lab or live.
//
// The writers are hand-written and allocate nothing per packet, since they
// run on the packet path. Classic pcap files are read natively too, in
// place in a large read buffer (replay's rate is bounded by it), accepting
// and refusing what gopacket's pcapgo.Reader does (a test compares the
// two); pcapng files are read through pcapgo, whose format coverage is
// wider than a writer's needs. gopacket also checks the writers' output
// in tests.
package pcap
