// Package pcap owns the capture file formats: the one pcapng writer (each
// packet with a comment, used by capture), the pcap writer (used by
// mirror's file targets) and the reader of pcap and pcapng files (used by
// replay). It must not import dataplane, lab or live.
//
// The writers are hand-written and allocate nothing per packet, since they
// run on the packet path. Classic pcap files are read natively too, in
// place in a large read buffer (replay's rate is bounded by it), accepting
// and refusing what gopacket's pcapgo.Reader does (a test compares the
// two). gopacket also checks the writers' output in tests.
//
// Pcapng files are read natively as well (ngrecords.go), in place in the
// same kind of read buffer (readbuf.go), with no allocation per frame
// whatever the blocks carry; it replaced pcapgo.NgReader (as the Reader
// used it: WantMixedLinkType, SkipUnknownVersion) for replay's rate. It
// follows pcapgo's steps over the byte stream rather than the format's
// letter, so that every file reads as it did: section header blocks of
// either byte order, anywhere (each starts a section and forgets its
// interfaces; a section of a version other than 1.0 is skipped); interface
// description blocks with if_tsresol (powers of 10 and of 2, 6 when
// absent or 0) and if_tsoffset; enhanced, simple and obsolete (type 2)
// packet blocks, each frame with its interface's link type (a simple
// packet block's is interface 0's, cut to its snap length, with the zero
// time pcapgo gave it). Interface statistics and name resolution blocks
// are parsed only to be checked as pcapgo checks them (the interface
// exists, the records fit) and skipped; options are skipped; decryption
// secrets, custom and unknown blocks are skipped by their length. As in
// pcapgo, a block's total length is trusted only to skip what was not
// parsed, and its trailing copy is not checked.
//
// LinkType of a pcapng file is the link type of its first interface
// description block once it has been read (so 0 before the first frame,
// or in a file with none); pcapgo's, in mixed link type mode, was always
// 0. Frames carry their own interface's link type, as before. replay uses
// LinkType for its summary's link type name and, after sampling frames,
// for the link header size of its table presizing estimate: both are the
// first interface's now, which is what they meant.
//
// The reader was checked against pcapgo.NgReader by a differential test
// (ngdiff_test.go: the test data's pcapng files, NgWriter's output,
// hand-built streams of every block type and of lying lengths, every cut
// of the small ones, seeded random mutations, read buffers down to 20
// bytes, readers that return a byte at a time) and a fuzz target doing
// the same (FuzzNgReaderMatchesGopacket): the same frames (data,
// timestamp, lengths, interface, link type) and the same end, with the
// same error texts but for an end of the file inside a block, which is
// always io.ErrUnexpectedEOF here where pcapgo wraps some (in name
// resolution blocks) in text.
package pcap
