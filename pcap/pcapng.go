package pcap

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// LinkTypeLinuxSLL is the link type of every interface: LINKTYPE_LINUX_SLL
// (113), the "Linux cooked" header that tcpdump -i any writes. Each packet
// is an IP packet behind a 16-byte header that gives its direction (the
// packet type: 0 to the host, 4 sent by it), the link-layer address type
// ARPHRD_NONE (what Linux reports for a TUN device) with no address, and
// the EtherType of IPv4 or IPv6.
//
// The obvious link type, LINKTYPE_RAW (101), would do for a file of one
// interface only: libpcap (tcpdump) refuses any second interface of that
// type, because it compares the type of each later interface with the
// first one's translated to DLT_RAW (12 on Linux) and finds them
// different ("an interface has a type 101 different from the type of the
// first interface", sf-pcapng.c, libpcap 1.10 to this day).
// LINKTYPE_LINUX_SLL translates to itself, and tcpdump -e prints its
// direction as In or Out.
const LinkTypeLinuxSLL = 113

// SLLHeaderLen is the length of the Linux cooked header before each
// packet. The snaplen of a file's interfaces and the lengths of its
// packets count it, as pcap lengths count link headers; NgWriter
// lengths do not.
const SLLHeaderLen = 16

// Linux cooked header values.
const (
	sllHost     = 0      // packet type: to the host
	sllOutgoing = 4      // packet type: sent by the host
	arphrdNone  = 0xfffe // ARPHRD_NONE
	etherIPv4   = 0x0800
	etherIPv6   = 0x86dd
)

// Snap lengths, in bytes of an IP packet: DefaultSnaplen keeps every IP
// packet whole (a GSO super-packet too); MaxSnaplen is libpcap's largest
// (MAXIMUM_SNAPLEN, 262144) less the Linux cooked header.
const (
	DefaultSnaplen = 65535
	MaxSnaplen     = 262144 - SLLHeaderLen
)

// Block types, option codes and values of the pcapng format
// (draft-ietf-opsawg-pcapng).
const (
	blockSHB = 0x0a0d0d0a
	blockIDB = 1
	blockISB = 5
	blockEPB = 6

	byteOrderMagic = 0x1a2b3c4d

	optEnd     = 0
	optComment = 1

	shbUserAppl = 4

	ifName        = 2
	ifDescription = 3
	ifTSResol     = 9

	epbFlags = 2

	isbStartTime = 2
	isbEndTime   = 3
	isbIfRecv    = 4
	isbIfDrop    = 5
	isbUsrDeliv  = 8

	tsResolNanosecond = 9

	maxOptionLen = 0xffff
)

// Direction is a packet's direction at the interface it is written on.
// Its value is the direction bits (0-1) of the packet's epb_flags option.
type Direction uint8

const (
	// Inbound is a packet delivered to the interface, or dropped on its
	// way there.
	Inbound Direction = 1
	// Outbound is a packet the interface sent.
	Outbound Direction = 2
)

func (d Direction) String() string {
	switch d {
	case Inbound:
		return "inbound"
	case Outbound:
		return "outbound"
	}
	return "Direction(" + strconv.Itoa(int(d)) + ")"
}

// Interface is one interface of a file: an ENI, or the internet gateway
// or the VPC's services.
type Interface struct {
	// Name is the interface's name (if_name): an ENI id, "internet" or
	// "vpc-service".
	Name string
	// Description says what the interface is (if_description), such as
	// Describe returns; empty for none.
	Description string
}

// InterfaceStats are the counts of an Interface Statistics Block.
type InterfaceStats struct {
	// Start and End are when the capture started and ended, in
	// nanoseconds since the Unix epoch.
	Start, End int64
	// Written is the packets written (isb_usrdeliv), Dropped those lost
	// because the writer fell behind. As dumpcap does with the drops of
	// libpcap's buffer, and so that Wireshark's capture file properties
	// show them, the drops are written as isb_ifdrop and the sum as the
	// packets the interface saw (isb_ifrecv).
	Written, Dropped uint64
}

// NgWriter writes a pcapng file of IP packets, each with a comment.
// WritePacket allocates nothing. An NgWriter is not safe for concurrent
// use.
type NgWriter struct {
	w       *bufio.Writer
	under   io.Writer
	snaplen int
	ifaces  int
	hdr     [28 + SLLHeaderLen]byte // the fixed part of a packet block and its packet's cooked header
	tail    []byte                  // padding, options and trailer of a block, reused
}

// NewWriter writes the section header and the interfaces' descriptions to
// w and returns a writer of packets on them. snaplen is the most bytes
// kept of an IP packet, 1 to MaxSnaplen, or 0 for MaxSnaplen. Packets are
// written through a buffer: call Flush to push them to w.
func NewNgWriter(w io.Writer, snaplen int, ifaces ...Interface) (*NgWriter, error) {
	if w == nil {
		return nil, errors.New("pcap: no output to write to")
	}
	if snaplen < 0 || snaplen > MaxSnaplen {
		return nil, fmt.Errorf("pcap: snaplen %d is out of range 1-%d (0 for %[2]d)", snaplen, MaxSnaplen)
	}
	if snaplen == 0 {
		snaplen = MaxSnaplen
	}
	wr := &NgWriter{w: bufio.NewWriterSize(w, 64<<10), under: w, snaplen: snaplen, tail: make([]byte, 0, 512)}
	if err := wr.writeSectionHeader(); err != nil {
		return nil, err
	}
	for _, ifc := range ifaces {
		if _, err := wr.AddInterface(ifc); err != nil {
			return nil, err
		}
	}
	return wr, nil
}

// Interfaces returns the number of interfaces declared so far.
func (wr *NgWriter) Interfaces() int { return wr.ifaces }

// Snaplen returns the most bytes written of an IP packet.
func (wr *NgWriter) Snaplen() int { return wr.snaplen }

func (wr *NgWriter) writeSectionHeader() error {
	b := wr.tail[:0]
	b = le32(b, blockSHB)
	b = le32(b, 0) // total length, set below
	b = le32(b, byteOrderMagic)
	b = le16(b, 1) // version 1.0
	b = le16(b, 0)
	b = le32(b, 0xffffffff) // section length -1: not given
	b = le32(b, 0xffffffff)
	b = appendStringOption(b, shbUserAppl, "vpclab")
	b = le32(b, optEnd)
	return wr.writeBlock(b)
}

// AddInterface declares another interface and returns its index, the
// iface argument of WritePacket. An interface may be added after packets
// have been written on others.
func (wr *NgWriter) AddInterface(ifc Interface) (int, error) {
	if len(ifc.Name) > maxOptionLen || len(ifc.Description) > maxOptionLen {
		return 0, fmt.Errorf("pcap: interface %q: name or description longer than %d bytes", ifc.Name, maxOptionLen)
	}
	b := wr.tail[:0]
	b = le32(b, blockIDB)
	b = le32(b, 0)
	b = le16(b, LinkTypeLinuxSLL)
	b = le16(b, 0) // reserved
	b = le32(b, uint32(SLLHeaderLen+wr.snaplen))
	if ifc.Name != "" {
		b = appendStringOption(b, ifName, ifc.Name)
	}
	if ifc.Description != "" {
		b = appendStringOption(b, ifDescription, ifc.Description)
	}
	b = le16(b, ifTSResol)
	b = le16(b, 1)
	b = append(b, tsResolNanosecond, 0, 0, 0)
	b = le32(b, optEnd)
	if err := wr.writeBlock(b); err != nil {
		return 0, err
	}
	wr.ifaces++
	return wr.ifaces - 1, nil
}

// writeBlock completes block b (its type and options written, its length
// field a placeholder) with its lengths and writes it.
func (wr *NgWriter) writeBlock(b []byte) error {
	n := uint32(len(b) + 4)
	binary.LittleEndian.PutUint32(b[4:8], n)
	b = le32(b, n)
	wr.tail = b[:0]
	_, err := wr.w.Write(b)
	return err
}

// WritePacket writes IP packet pkt, seen on interface iface at time ts
// (nanoseconds since the Unix epoch; earlier times are written as the
// epoch) going in direction dir, with comment as its opt_comment (cut to
// 65535 bytes). pkt is cut to the snaplen; origLen is the packet's length
// on the wire (taken as len(pkt) if smaller).
func (wr *NgWriter) WritePacket(iface int, ts int64, dir Direction, pkt []byte, origLen int, comment []byte) error {
	if iface < 0 || iface >= wr.ifaces {
		return fmt.Errorf("pcap: packet on interface %d, but the file declares %d", iface, wr.ifaces)
	}
	if dir != Inbound && dir != Outbound {
		return fmt.Errorf("pcap: packet on interface %d: %v is neither inbound nor outbound", iface, dir)
	}
	origLen = max(origLen, len(pkt))
	if len(pkt) > wr.snaplen {
		pkt = pkt[:wr.snaplen]
	}
	capLen := SLLHeaderLen + len(pkt)
	tsu := uint64(max(ts, 0))

	// Padding of the data, then the options and the trailer.
	b := wr.tail[:0]
	b = append(b, zeros[:pad4(capLen)]...)
	at := len(b)
	b = le16(b, optComment)
	b = le16(b, 0) // the comment's length, set below
	b = append(b, comment[:min(len(comment), maxOptionLen)]...)
	clen := min(len(b)-at-4, maxOptionLen)
	b = b[:at+4+clen]
	binary.LittleEndian.PutUint16(b[at+2:], uint16(clen))
	b = append(b, zeros[:pad4(clen)]...)
	b = le16(b, epbFlags)
	b = le16(b, 4)
	b = le32(b, uint32(dir))
	b = le32(b, optEnd)
	total := uint32(28 + capLen + len(b) + 4)
	b = le32(b, total)
	wr.tail = b[:0]

	h := wr.hdr[:]
	le := binary.LittleEndian
	le.PutUint32(h[0:], blockEPB)
	le.PutUint32(h[4:], total)
	le.PutUint32(h[8:], uint32(iface))
	le.PutUint32(h[12:], uint32(tsu>>32))
	le.PutUint32(h[16:], uint32(tsu))
	le.PutUint32(h[20:], uint32(capLen))
	le.PutUint32(h[24:], uint32(SLLHeaderLen+origLen))
	// The cooked header, big-endian as on the wire: packet type, address
	// type, address length, address (none), protocol.
	sll := h[28:]
	clear(sll)
	if dir == Outbound {
		binary.BigEndian.PutUint16(sll[0:], sllOutgoing)
	} else {
		binary.BigEndian.PutUint16(sll[0:], sllHost)
	}
	binary.BigEndian.PutUint16(sll[2:], arphrdNone)
	binary.BigEndian.PutUint16(sll[14:], etherType(pkt))
	if _, err := wr.w.Write(h); err != nil {
		return err
	}
	if _, err := wr.w.Write(pkt); err != nil {
		return err
	}
	_, err := wr.w.Write(b)
	return err
}

// etherType returns the EtherType of an IP packet by its version nibble,
// or 0 when it has none (an empty or broken packet, which Wireshark and
// tcpdump then show as data).
func etherType(pkt []byte) uint16 {
	if len(pkt) > 0 {
		switch pkt[0] >> 4 {
		case 4:
			return etherIPv4
		case 6:
			return etherIPv6
		}
	}
	return 0
}

// WriteStats writes an Interface Statistics Block for interface iface.
func (wr *NgWriter) WriteStats(iface int, st InterfaceStats) error {
	if iface < 0 || iface >= wr.ifaces {
		return fmt.Errorf("pcap: statistics of interface %d, but the file declares %d", iface, wr.ifaces)
	}
	end := uint64(max(st.End, 0))
	b := wr.tail[:0]
	b = le32(b, blockISB)
	b = le32(b, 0)
	b = le32(b, uint32(iface))
	b = le32(b, uint32(end>>32))
	b = le32(b, uint32(end))
	b = appendTimeOption(b, isbStartTime, uint64(max(st.Start, 0)))
	b = appendTimeOption(b, isbEndTime, end)
	b = appendUint64Option(b, isbIfRecv, st.Written+st.Dropped)
	b = appendUint64Option(b, isbIfDrop, st.Dropped)
	b = appendUint64Option(b, isbUsrDeliv, st.Written)
	b = le32(b, optEnd)
	return wr.writeBlock(b)
}

// Flush writes the buffered blocks to the output, and flushes the output
// too when it has a Flush method (an http.ResponseWriter, a bufio.Writer),
// so that a reader at the other end of a stream sees them at once.
func (wr *NgWriter) Flush() error {
	if err := wr.w.Flush(); err != nil {
		return err
	}
	switch f := wr.under.(type) {
	case interface{ Flush() error }:
		return f.Flush()
	case interface{ Flush() }:
		f.Flush()
	}
	return nil
}

func appendStringOption(b []byte, code uint16, s string) []byte {
	b = le16(b, code)
	b = le16(b, uint16(len(s)))
	b = append(b, s...)
	return append(b, zeros[:pad4(len(s))]...)
}

// appendTimeOption appends a timestamp as the EPB writes one: the upper
// 32 bits, then the lower.
func appendTimeOption(b []byte, code uint16, t uint64) []byte {
	b = le16(b, code)
	b = le16(b, 8)
	b = le32(b, uint32(t>>32))
	return le32(b, uint32(t))
}

func appendUint64Option(b []byte, code uint16, n uint64) []byte {
	b = le16(b, code)
	b = le16(b, 8)
	return binary.LittleEndian.AppendUint64(b, n)
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// zeros pads fields to 32 bits.
var zeros [3]byte

// pad4 returns the zero bytes that align n bytes to 32 bits.
func pad4(n int) int { return -n & 3 }
