// Package live runs a lab on this host: every instance is a network
// namespace, every ENI a TUN device inside it, the internet behind the
// gateway one more namespace, and between them the dataplane engine judges
// every packet the instances send, exactly as explain and replay do.
//
// # Use
//
//	x, err := live.Start(l, live.Options{})
//	defer x.Close()
//
// (package daemon composes it with the control and metrics servers for
// vpclab up).
//
// # What it promises
//
// Start makes the namespaces with package labnet (taking the lab's lock and
// removing a crashed run's leftovers first), opens one TUN device per ENI
// in its instance's namespace with package tun, with offloads, and gives
// it the addresses and routes of the labnet Plan. When the lab lists
// internet hosts, the internet namespace's eth0 is a TUN device too, whose
// packets enter the engine at verdict.PortInternet.
//
// One goroutine per device reads batches of frames (a virtio header and an
// IP packet), judges each packet with dataplane.Engine.Process on a
// monotonic clock (nanoseconds since Start), decrements the TTL or hop
// limit of the packets it forwards (the VPC router is a hop; IPv4's header
// checksum is updated incrementally), and writes them, batched per
// destination, to the device of the ENI they are routed to or to the
// internet's. Frames are forwarded whole, virtio header included, so a
// GSO super-packet is judged once and passes as one. The reader allocates
// nothing per packet: its buffers and batches are made once.
//
// # Built-in services
//
// Start also runs the VPC's built-in services (package services: Amazon
// DNS, instance metadata, Time Sync, the subnets' routers) with the ENIs'
// MTU. A packet the engine routes to verdict.PortService is handed to
// services.Inject by the reader, without a hop (the services are on the
// router): a GSO super-packet cut into packets with tun.GSOSplit, in a
// scratch batch the reader makes at the first one, else its checksum
// completed with tun.CompleteChecksum when the kernel left it to the
// device. One more goroutine reads what the services send, puts a zero
// virtio header in front, judges each packet at verdict.PortService and
// writes the allowed ones, batched per destination, to their ENIs'
// devices; its buffers too are made once.
//
// Consecutive datagrams of one UDP flow to a device that negotiated UDP
// segmentation offload are written as one UDP GSO frame (coalesce.go): on
// machines where a system call is dear, that is most of the cost of small
// packets.
//
// # Changes, taps and instance state
//
// Apply swaps in a new policy of the same lab at once (apply.go): the
// engine, the services' directory and the followers (flow logs, mirroring)
// take it together or not at all, and a change to the wiring (instances,
// interfaces, addresses, internet hosts) is refused. The readers also feed
// the flow logs (one lock-free shard per reader), the capture tap and
// traffic mirroring (lock-free rings drained by their own goroutines) —
// taps.go; each costs an atomic load while idle and allocates nothing.
// SetInstanceState stops and starts instances (EC2's StopInstances): the
// engine then drops their traffic before any conntrack entry is made.
//
// # Counters
//
// Each device has Counters, updated by its reader only with atomics and
// readable at any time: what the port sent, allowed or denied by stage
// (a packet is counted where it enters the dataplane), and what it handed
// to the services. Lab.ServiceCounters count what the services sent.
//
// Close stops the services' writer and the readers (by closing the
// devices), then the mirror, writes every flow-log record still held,
// closes the services and removes the namespaces; it is idempotent.
// Nothing is logged per packet.
//
// Linux only: elsewhere Start reports errors.ErrUnsupported.
package live
