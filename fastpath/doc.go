// Package fastpath owns the kernel fast path of the eBPF datapath
// (vpclab up --datapath ebpf): two tc programs written with cilium/ebpf's
// asm package (no clang anywhere), their maps, the format of a flow entry,
// loading, attaching (tcx ingress) and the kernel feature check. It is a
// cache of decisions, never a judge: it must not import dataplane,
// conntrack, lab or live; package live decides what to install, and when.
//
// # The programs
//
// In the eBPF datapath each ENI is a veth pair: the instance's eth0 in its
// namespace, and a peer in the lab's router namespace. Next to each peer,
// in the router namespace, is a TUN device that vpclab reads and writes as
// it reads an ENI's TUN device in the TUN datapath: the slow path.
//
//   - Fast, on the ingress of each peer (what the instance sends), parses
//     IPv4 (without options, not a fragment) or IPv6 (TCP or UDP right after
//     the fixed header), TCP without SYN, FIN or RST, or UDP, and looks the
//     flow up by (peer ifindex, family, protocol, ports, addresses). A hit
//     in the current generation and within the entry's idle timeout counts
//     the packet (packets, GSO segments counted as the packets they stand
//     for; IP bytes; last-seen), decrements the TTL (IPv4's header checksum
//     updated incrementally) or hop limit, rewrites the MACs and redirects
//     the packet to the destination peer, that is to the destination
//     instance. Anything else, and every packet of a port marked NoFast, is
//     redirected to the port's TUN device: the engine judges it.
//   - Deliver, on the ingress of each TUN device (what vpclab writes to the
//     ENI), pushes an Ethernet header (the instance's MAC, the router's)
//     and redirects the packet to the peer, that is to the instance.
//
// Entries are installed by userspace for one direction of a flow each
// (Install), carry the generation they were judged in, and are dead once
// Bump moves the generation on: a policy change reaches the next packet.
// Walk reads the counters back; Delete removes entries.
//
// Nothing is pinned (bpffs need not be mounted): the maps, programs and
// links live as long as the Datapath and its file descriptors.
//
// The clock of the entries' last-seen times is CLOCK_MONOTONIC
// (bpf_ktime_get_ns); Monotonic reads it.
package fastpath
