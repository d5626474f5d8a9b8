// Package pcap owns the capture file formats: the one pcapng writer (each
// packet with a comment, used by capture), the pcap writer (used by
// mirror's file targets) and the reader of pcap and pcapng files (used by
// replay). It must not import dataplane, lab or live.
//
// The writers are hand-written and allocate nothing per packet, since they
// run on the packet path; gopacket is for reading files (the reader wraps
// pcapgo's, whose format coverage is wider than a writer's needs) and for
// checking the writers' output in tests.
package pcap
