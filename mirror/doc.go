// Package mirror is AWS Traffic Mirroring for a lab (spec §7): it copies
// the packets a source ENI sends and receives, as its sessions' filters
// choose, encapsulates each copy in VXLAN as AWS does and hands it to the
// session's target: an ENI of the lab, as frames of a Device (a
// tun.Device the live dataplane reads like any other) or through a Sink,
// or a pcap file it writes itself.
//
// # Use
//
//	engine.Apply(l, now)  // first: the mirror needs the ENIs' ports
//	dev := mirror.NewDevice(maxSegments)
//	m, err := mirror.New(l, engine.Port, mirror.Options{Device: dev, Epoch: start})
//	defer m.Close()
//	// per packet, once engine.ProcessParsed has judged it, allowed or not:
//	m.Offer(v.From, mirror.Egress, &v, &p, vnet, pkt, now)  // as sent
//	m.Offer(v.To, mirror.Ingress, &v, &p, vnet, pkt, now)   // as delivered
//	// and in a goroutine of its own, the forwarder of the copies:
//	n, err := dev.Read(bufs, sizes, 0)  // frames i < n enter at dev.Ports()[i]
//
// Offer copies and returns at once; one consumer encapsulates the copies
// and sends them: the Device's reader, or with a Sink the goroutine Start
// runs, or Drain called by an offline caller such as replay after each
// batch. Packet makes both calls when the packet is the same on both
// sides. Reconfigure follows every engine.Apply.
//
// This package must not import the dataplane, the live lab or the
// services: it is told ports and verdicts, and MACs come from labnet.
//
// # Which packets
//
// A packet is offered at a port with a direction: Egress at the ENI that
// sent it (v.From), Ingress at the ENI it is routed to (v.To). It is
// mirrored when all of these hold:
//
//   - It reached that side of the ENI. AWS: "packets that are dropped at the
//     traffic mirror source by security group rules or by network ACL rules
//     are not mirrored" (TM, considerations). Egress: the sender's own
//     stages passed it (its security group, its subnet's network ACL, its
//     instance's conntrack allowance); a packet dropped later (by the
//     receiver's network ACL, security group or allowance) was sent and is
//     mirrored. Ingress: it was
//     delivered (v.Allowed and v.To is the port). A packet the engine drops
//     before the security groups (source/destination check, parse errors,
//     broadcast, no route, TTL) is not mirrored (Policy: its sender's
//     stages never judged it).
//   - It is not exempt (spec §6): traffic with the VPC's own services is
//     never mirrored. AWS mirrors Amazon DNS traffic only for a filter that
//     adds the amazon-dns network service; the lab model has no such
//     option yet, so DNS is never mirrored, AWS's default.
//   - A session of the ENI accepts it. Sessions are tried from the lowest
//     number; in each, the filter's rules for the direction (inbound for
//     Ingress, outbound for Egress) are tried from the lowest number and
//     the first rule that matches decides: accept mirrors the packet to
//     that session's target and no other, reject leaves it to the next
//     session. No matching rule in any session: no copy. A rule matches
//     the packets of its CIDRs' family whose protocol (-1: any), source
//     and destination addresses are in its ranges and, when a port range
//     is narrower than 0-65535, whose port is in it (a packet without
//     ports, such as a later fragment, matches no narrowed range).
//
// # The mirror packet
//
// As AWS's packet format page (TM, traffic-mirroring-packet-formats)
// describes, each copy is an IPv4 packet from the source ENI's primary
// IPv4 address to the target ENI's (for a file target, which has no
// address: 0.0.0.0), UDP from a port chosen by a hash of the copied
// packet's 5-tuple (3-tuple, addresses and protocol, for protocols other
// than TCP, UDP and ICMP; the port lies in 49152-65535, RFC 7348) to 4789,
// a VXLAN header with the I flag and the session's VNI, then the inner
// frame: an Ethernet header and the packet as the ENI sent or received it.
// The outer header has DF set, TTL 64 and a correct checksum; the UDP
// checksum is 0, as RFC 7348 recommends (see below for an exception). The inner Ethernet header carries
// the source ENI's MAC (labnet.MAC, as instance metadata shows it) and
// its peer's: the peer ENI's MAC when the peer is an ENI of the same
// subnet, else the subnet router's (Policy: a MAC derived from the
// subnet id, as ENI MACs are from theirs); EtherType 0x0800 or 0x86DD.
//
// PacketLength counts the bytes after the VXLAN header, that is the inner
// frame with its Ethernet header (CreateTrafficMirrorSession). AWS copies
// at least 35 bytes of an IPv4 frame and 55 of an IPv6 one (TM,
// limitations), so the IP header always survives; a shorter PacketLength
// is raised to that. An ENI target also cuts a copy to its MTU
// (Options.MTU): AWS truncates mirror packets longer than the target's
// MTU, which is why it advises a source MTU 54 bytes below the target's.
// A truncated copy keeps its original IP lengths, so a decoder sees that
// bytes are missing; its transport checksum is left as it was (AWS: "If
// the mirror packet is truncated, the mirror packet L4 checksum is not
// calculated").
//
// A GSO super-packet (a TUN device's virtio header with a GSO type) is
// mirrored as the segments it stands for, each a copy of its own with
// complete lengths and checksums (tun.GSOSplit), as AWS sees the packets
// on the wire. A whole packet whose checksum the kernel left to the device
// (NEEDS_CSUM) is completed first (tun.CompleteChecksum). When a session
// cuts the segments, only what their copies keep is copied (the headers
// and each segment's first bytes); each copy has the headers tun.GSOSplit
// would give its segment (lengths, IPv4 id and header checksum, TCP
// sequence number and flags), but its L4 checksum, which covers payload
// never copied, cannot be computed: the field holds the segment's
// pseudo-header sum, what the kernel leaves in each segment it cuts for a
// device that offloads checksums (Policy: on AWS's wire the field holds
// the full checksum the sender's NIC computed; AWS leaves it as it is).
// A segment kept whole (a short last one) has its complete checksum.
//
// The outer UDP checksum is 0, except in mirror packets sent coalesced
// (below): those carry a checksum, which VXLAN over IPv4 permits (RFC
// 7348), left for the kernel to complete as UDP segmentation requires;
// the target's socket receives them as any other.
//
// # Never slowing the source
//
// Offer does what must happen per packet and nothing more: one atomic load
// of the compiled sessions and an index by port (the whole cost for a port
// without sessions), the filter walk (a handful of rules, linear), and a
// copy into a lock-free ring (internal/pktring) of the bytes the copy will
// keep: the packet cut to the session's length; for a GSO super-packet
// whose segments the session cuts, its headers and each segment's first
// bytes; else the whole super-packet, which is split later. It allocates nothing, takes no lock
// and never blocks. When the ring is full the copy is dropped and counted
// per session (Stats), as AWS drops mirror traffic when production traffic
// needs the bandwidth. The consumer does the rest: splitting, checksums,
// encapsulation and the sink.
//
// For an ENI target whose Sink takes UDP GSO super-packets
// (Sink.MaxSegments), the consumer coalesces consecutive mirror packets
// of one session and outer flow (the outer UDP source port) and of one
// length (the last may be shorter) into one frame of up to
// MaxGSOSegments packets and 65535 bytes, which the live dataplane
// judges once and writes with one system call instead of one per copy.
// Up to eight flows are filled at once (the two directions of a few
// connections interleave); a frame is sent when full, when a packet
// cannot join it, and at the end of every batch the consumer drains, so
// that no copy waits for later traffic. IPv4 ids are given as frames are
// sent: consecutive within a frame, as its segmentation makes them.
// Counters count mirror packets, never frames. Pcap targets get one
// record per mirror packet.
//
// The copies a Sink receives must not be offered again: AWS does not
// mirror mirror traffic, and a source that mirrored its own copies would
// loop. AWS also forbids an ENI to be a target and a source at once, and
// New refuses such a lab.
package mirror
