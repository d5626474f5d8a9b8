// Package capture writes what passes an ENI as pcapng, each packet with a
// comment giving its verdict: allowed or denied, the stage that decided,
// the explanation code and the rule, in the words explain uses:
//
//	allow sg-ingress SG_RULE_MATCH: sg-db ingress #0 (sgr-0abc) on eni-db1
//	deny nacl-ingress SUBNET_ACL_RESTRICTION: acl-db rule 32767 (the implicit deny)
//	deny parse MALFORMED_PACKET: bad_ihl
//
// Wireshark shows the comment as the frame's comment (display filter
// frame.comment contains "deny"), tshark prints it with -V, and tcpdump
// (libpcap) reads the packets and ignores the comments.
//
// # Format
//
// A file is one pcapng section: a Section Header Block, one Interface
// Description Block per interface (if_name is the ENI id, or "internet",
// "vpc-service"; if_description says what it is; if_tsresol 9: nanosecond
// timestamps), then an Enhanced Packet Block per packet with an
// opt_comment (the verdict) and epb_flags (the direction: outbound for a
// packet the interface sent, inbound for one on its way to it). A live
// capture ends, when it is closed, with an Interface Statistics Block per
// interface: the packets written (isb_usrdeliv), those lost because the
// writer fell behind (isb_ifdrop, where Wireshark looks for drops) and
// their sum (isb_ifrecv). Blocks are little-endian. Writer writes the
// format; it allocates nothing per packet.
//
// The link type is LINKTYPE_LINUX_SLL, the header tcpdump -i any writes,
// rather than raw IP: libpcap reads a file with several raw-IP interfaces
// as broken (see LinkTypeLinuxSLL). The header also tells tcpdump the
// direction, which it prints with -e:
//
//	$ vpclab capture eni-db1 -w - | tcpdump -nn -e -r -
//	12:00:01.000000  In ethertype IPv4 (0x0800), length 56: 10.0.1.10.49153 > 10.0.3.10.5432: Flags [S], ...
//
// and replay reads the files back (it strips Linux cooked headers).
//
// # Live capture
//
// Tap is the packet path's side of live capture. With no session attached
// a packet costs one atomic load. A session (Tap.Attach) names the ENI
// ports it shows; for each packet seen at one of them the packet path
// copies the packet (up to the session's snaplen) and the verdict into a
// lock-free ring (internal/pktring) and goes on; a goroutine per session
// drains the ring into pcapng and flushes after each batch, so that a
// capture streamed to a pipe (vpclab capture -w -) shows packets as they
// come. When the ring is full the copy is dropped and counted: a capture
// never slows the packet path down. Session.Stats reports the drops.
//
// A packet is seen at an ENI when the ENI sends it (outbound: whatever the
// verdict) and when it is delivered to the ENI or dropped on its way there
// by the receiving side's stages (inbound: nacl-ingress, sg-ingress, or
// the receiving instance's conntrack allowance). A packet dropped on the
// sender's side never reaches the receiver and is not shown there.
//
// The copy is the packet as it entered the dataplane, before the TTL or
// hop limit is decremented. A GSO super-packet (up to 64 KiB of TCP or UDP
// segments behind one header, as a TUN device with offloads hands them
// over) is judged once and copied as one packet: Wireshark shows it as one
// large segment, as it shows a capture taken on a host whose NIC does
// segmentation offload. Its transport checksum may hold only the
// pseudo-header sum that the kernel leaves for the device to complete;
// Wireshark does not validate checksums by default.
//
// # Replay
//
// PortWriter writes a replay's packets with their verdicts: each packet
// once, on an interface for the port it entered the dataplane at, as
// sent by that port (outbound).
package capture
