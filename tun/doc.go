// Package tun owns vpclab's TUN devices: the Linux file descriptors through
// which each emulated ENI's packets leave and enter its instance's network
// namespace, and the virtio-net header that travels with every frame.
//
// # What it promises
//
// A [Device] moves batches of frames. A frame is a 10-byte virtio_net_hdr
// ([VirtioNetHdr], [VirtioNetHdrLen]) followed by one IP packet, with no
// packet-information prefix. [NativeTun.Read] fills up to len(bufs) frames,
// blocking (in Go's netpoller, not in a thread) only until the first one is
// there; [NativeTun.Write] writes frames as they are. Neither allocates in
// steady state.
//
// Offloads are negotiated when the device is opened (TUNSETOFFLOAD, with a
// fallback ladder, see [Config]) and reported by [NativeTun.Offloads]. With
// TSO on, the kernel hands over GSO super-packets of up to 64 KiB: one IP/TCP
// header describing many MSS-sized segments. The header is all a policy
// engine needs to judge, so a super-packet is judged once and written whole,
// header included, to a destination device that has the same offloads.
// Destinations that cannot take one (a netstack, a mirror, a device opened
// without offloads) get it cut by [GSOSplit] into ordinary packets with
// complete lengths, IDs, sequence numbers, flags and checksums; a packet
// whose header says only NEEDS_CSUM is finished by [CompleteChecksum].
// [Coalescer] is the other way: it merges runs of consecutive UDP
// datagrams of one flow into UDP GSO super-packets for a device that
// agreed to USO, which its kernel cuts back into the very datagrams.
//
// A [Poller] (an epoll instance) tells one loop which of many devices have
// frames, for [NativeTun.TryRead] to take without waiting; [Poller.Pause]
// leaves a device out of its reports until [Poller.Resume], so that its
// frames wait in its queue, which the kernel bounds and drops from.
//
// Package tuntest has an in-memory Device and the frame builders of the
// offload tests.
//
// A device opened without IFF_VNET_HDR ([Config.NoVnetHdr]) keeps the same
// frame layout: Read puts a zero header in front of each packet and Write
// skips it (after completing a NEEDS_CSUM checksum; it refuses GSO frames).
// Callers therefore handle one layout whatever the kernel agreed to.
//
// # Namespaces
//
// [OpenInNamespace] creates the device in the calling thread's namespace and
// moves the link into the target namespace with netlink, where it is renamed
// and given its MTU; the file descriptor keeps working across the move. All
// netlink work uses a [netlink.Handle] bound to a named namespace; the
// package-level handle is never used and the package holds no global state.
//
// GSOSplit, CompleteChecksum and VirtioNetHdr are portable and need no
// privileges; the device itself is Linux-only (files *_linux.go).
package tun
