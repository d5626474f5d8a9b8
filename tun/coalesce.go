package tun

import (
	"encoding/binary"

	"github.com/vpclab/vpclab/packet"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
)

// UDP coalescing (receive offload towards the instances).
//
// A TUN device costs one write(2) per frame, and on a paravirtualised
// host a system call, and the wake-up of the receiver it brings, costs
// far more than judging a packet. Small UDP datagrams are where that
// shows: each is a frame of its own. Before a forwarder writes a
// destination's batch, Coalesce merges each run of consecutive UDP
// datagrams of one flow into a UDP GSO super-packet (GSO_UDP_L4), which
// the destination's kernel cuts back into the datagrams: one system call
// for up to 64 of them. This is what wireguard-go and Tailscale do on
// Linux (tun/offload_linux.go, udpGRO); unlike them, Coalesce merges only
// consecutive frames, so that the order of the packets to a destination
// is kept exactly, across flows too.
//
// The kernel's segmentation (__udp_gso_segment, inet_gso_segment) gives
// each segment the super-packet's headers with its own IPv4 total length
// or IPv6 payload length, UDP length, IPv4 id (the first's plus i) and
// header checksum, and computes every UDP checksum. A merged run is
// therefore cut back into the very datagrams merged, byte for byte, under
// these conditions, all checked here:
//   - the destination device agreed to USO for the IP version (a device
//     that did not may still accept the frame, but would hand it to the
//     stack without the promise that the stack cuts it);
//   - the frames are ordinary packets (no GSO), UDP over IPv4 without
//     options and not a fragment, or over IPv6 without extension headers,
//     whose IP and UDP lengths match the frame;
//   - same addresses and ports, and every other IP header field equal
//     (IPv4: TOS, flags and TTL; IPv6: traffic class, flow label and hop
//     limit);
//   - IPv4 ids consecutive, unless DF is set on them all: the id of an
//     atomic datagram has no meaning (RFC 6864, section 4.1), and Linux
//     sends unconnected sockets' DF datagrams with id 0, which merged come
//     out numbered from the first's;
//   - the same UDP payload length, but for the last of the run, which may
//     be shorter (and then ends the run); never an empty payload;
//   - a checksum that is either left to the device (NEEDS_CSUM, at the
//     UDP checksum field) or complete and correct: the kernel computes the
//     segments' checksums afresh, so merging a corrupt datagram would
//     hide the corruption from the receiver. A zero (absent) IPv4 UDP
//     checksum is not merged either: it would come out computed;
//   - at most maxMergeSegments datagrams (the kernel refuses more,
//     UDP_MAX_SEGMENTS) and maxMergeIP bytes of IP packet.
//
// A frame that cannot join the run ends it and is written as it is; a run
// of one is written as it is too (no copy).

const (
	// maxMergeSegments is the kernel's UDP_MAX_SEGMENTS: a GSO_UDP_L4
	// frame with more segments is refused by virtio_net_hdr_to_skb.
	maxMergeSegments = 64
	// maxMergeIP is the largest merged IP packet: the IPv4 total length
	// field's limit, kept for IPv6 too.
	maxMergeIP = 65535
	// mergeArenaSize is the room a Coalescer has for merged frames in one
	// call: two of the largest, so that a batch of small datagrams, whose
	// merged frames are a few KiB, is merged in one pass.
	mergeArenaSize = 2 * (VirtioNetHdrLen + maxMergeIP)
)

// Coalescer merges runs of UDP datagrams in a destination's batch (see
// above). A forwarder needs one: it writes its destinations one after
// another, so a single arena serves them all. It allocates nothing after
// its first merge, and is not safe for concurrent use.
type Coalescer struct {
	// arena holds the merged frames of one call; made at the first merge.
	arena []byte
	// counts[i] is how many of the frames given to Coalesce the i-th
	// frame it returns stands for.
	counts []int
	// dgrams[i] describes the i-th frame given to Coalesce.
	dgrams []datagram
}

// NewCoalescer returns a Coalescer for batches of up to batch frames.
func NewCoalescer(batch int) *Coalescer {
	return &Coalescer{counts: make([]int, batch), dgrams: make([]datagram, batch)}
}

// Counts returns how many of the frames given to the last Coalesce each
// frame it returned stands for: Counts()[i] for its i-th.
func (m *Coalescer) Counts() []int { return m.counts }

// datagram is what Coalesce needs of a frame: for a UDP datagram it may
// merge (see mergeable), where its UDP header begins and its payload's
// length; payload 0 for any other frame.
type datagram struct {
	l4      int // the IP header's length
	payload int // the UDP payload's length; 0: not mergeable
}

// Coalesce merges the runs of frames, the batch for a device that agreed
// to offl, in place: frames[:n] are the frames to write instead of
// frames[:used], each standing for Counts()[i] of them, in their order.
// Merged frames are in m.arena, valid until the next call; the others are
// the frames given, neither modified nor copied. used is len(frames)
// unless the arena filled up: write frames[:n], then call Coalesce again
// with frames[used:]. At most the batch given to NewCoalescer is taken per
// call.
func (m *Coalescer) Coalesce(frames [][]byte, offl Offload) (n, used int) {
	if len(frames) > len(m.counts) {
		frames = frames[:len(m.counts)]
	}
	for i, fr := range frames {
		m.dgrams[i] = mergeable(fr, offl)
	}
	at := 0 // bytes of the arena in use
	r := 0
	for r < len(frames) {
		first, d := frames[r], m.dgrams[r]
		k, size := 1, len(first)
		if d.payload > 0 {
			for r+k < len(frames) && k < maxMergeSegments {
				e := m.dgrams[r+k]
				if e.payload == 0 || e.l4 != d.l4 || e.payload > d.payload ||
					size-VirtioNetHdrLen+e.payload > maxMergeIP ||
					!sameFlow(first, frames[r+k], d.l4, k) {
					break
				}
				size += e.payload
				k++
				if e.payload < d.payload { // the last may be shorter
					break
				}
			}
		}
		if k == 1 {
			frames[n], m.counts[n] = first, 1
		} else {
			if m.arena == nil {
				m.arena = make([]byte, mergeArenaSize)
			}
			if at+size > len(m.arena) {
				return n, r // n > 0: the arena holds two of the largest
			}
			out := m.arena[at : at+size : at+size]
			at += size
			merge(out, frames[r:r+k], d)
			frames[n], m.counts[n] = out, k
		}
		n++
		r += k
	}
	return n, r
}

// mergeable describes frame, for a device that agreed to offl: the
// datagram Coalesce may merge (see the conditions above; the comparisons
// with other frames are sameFlow's), or the zero datagram.
func mergeable(frame []byte, offl Offload) datagram {
	var d datagram
	if len(frame) < VirtioNetHdrLen+20+udpHdrLen+1 {
		return d
	}
	var h VirtioNetHdr
	h.Decode(frame)
	if h.IsGSO() {
		return d
	}
	pkt := frame[VirtioNetHdrLen:]
	if len(pkt) > maxMergeIP {
		return d
	}
	switch pkt[0] >> 4 {
	case 4:
		if offl&OffloadUSO4 == 0 || pkt[0] != 0x45 || pkt[9] != packet.ProtoUDP ||
			int(binary.BigEndian.Uint16(pkt[2:])) != len(pkt) ||
			binary.BigEndian.Uint16(pkt[6:])&0x3fff != 0 || // MF or a fragment offset
			checksum.Checksum(pkt[:20], 0) != 0xffff {
			return d
		}
		d.l4 = 20
	case 6:
		if offl&OffloadUSO6 == 0 || len(pkt) < 40+udpHdrLen+1 || pkt[6] != packet.ProtoUDP ||
			int(binary.BigEndian.Uint16(pkt[4:])) != len(pkt)-40 {
			return d
		}
		d.l4 = 40
	default:
		return d
	}
	ulen := len(pkt) - d.l4
	if int(binary.BigEndian.Uint16(pkt[d.l4+4:])) != ulen {
		return datagram{}
	}
	if h.Flags&VirtioNetHdrFNeedsCsum != 0 {
		if int(h.CsumStart) != d.l4 || h.CsumOffset != 6 {
			return datagram{}
		}
	} else if binary.BigEndian.Uint16(pkt[d.l4+6:]) == 0 ||
		checksum.Checksum(pkt[d.l4:], PseudoHeaderSum(pkt, packet.ProtoUDP, uint16(ulen))) != 0xffff {
		return datagram{}
	}
	d.payload = ulen - udpHdrLen
	return d
}

// sameFlow reports whether frame, a datagram mergeable with an l4-byte IP
// header like first, may follow first as the k-th datagram after it: same
// IP version, addresses, ports and IP header fields, and for IPv4 without
// DF, the id k after first's.
func sameFlow(first, frame []byte, l4, k int) bool {
	a, b := first[VirtioNetHdrLen:], frame[VirtioNetHdrLen:]
	if a[0] != b[0] {
		return false // the IP version (or IPv6's traffic class)
	}
	if binary.BigEndian.Uint32(a[l4:]) != binary.BigEndian.Uint32(b[l4:]) {
		return false // the ports
	}
	if l4 == 40 {
		return binary.BigEndian.Uint32(a[0:]) == binary.BigEndian.Uint32(b[0:]) && // class, flow label
			a[7] == b[7] && // hop limit
			string(a[8:40]) == string(b[8:40])
	}
	if a[1] != b[1] || a[6] != b[6] || a[8] != b[8] || // TOS, flags, TTL
		binary.BigEndian.Uint64(a[12:20]) != binary.BigEndian.Uint64(b[12:20]) {
		return false
	}
	return a[6]&0x40 != 0 || // DF: the id does not matter
		binary.BigEndian.Uint16(b[4:]) == binary.BigEndian.Uint16(a[4:])+uint16(k)
}

// merge writes into out, exactly as long, the UDP GSO super-packet of the
// datagrams run, whose first is d: run[0] whole, then the payloads of
// the others, behind a virtio header GSO_UDP_L4 with gso_size d's payload
// and a partial checksum, with the IP and UDP lengths of the whole and
// the pseudo-header sum in the UDP checksum field, as the kernel expects
// of a CHECKSUM_PARTIAL packet.
func merge(out []byte, run [][]byte, d datagram) {
	at := copy(out, run[0])
	skip := VirtioNetHdrLen + d.l4 + udpHdrLen
	for _, fr := range run[1:] {
		at += copy(out[at:], fr[skip:])
	}
	h := UDPGSOHdr(d.l4, d.payload)
	h.Encode(out)
	pkt := out[VirtioNetHdrLen:]
	if d.l4 == 40 {
		binary.BigEndian.PutUint16(pkt[4:], uint16(len(pkt)-40))
	} else {
		binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
		pkt[10], pkt[11] = 0, 0
		binary.BigEndian.PutUint16(pkt[10:], ^checksum.Checksum(pkt[:20], 0))
	}
	ulen := uint16(len(pkt) - d.l4)
	binary.BigEndian.PutUint16(pkt[d.l4+4:], ulen)
	binary.BigEndian.PutUint16(pkt[d.l4+6:], PseudoHeaderSum(pkt, packet.ProtoUDP, ulen))
}
