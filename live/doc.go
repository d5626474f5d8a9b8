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
// One forwarder per device (forward.go, where the path of a packet reads
// top to bottom) forwards batches of frames (a virtio header and an IP
// packet). The ENIs' and the internet's devices are read by workers
// (workers.go; Options.Workers, GOMAXPROCS by default), each a loop over
// the devices dealt to it that gives every device with frames a fair
// share of a batch per round, so that a flooding instance cannot starve
// the others, and leaves the device of an instance over its packet-rate
// allowance unread (paused in its poller) until the allowance refills, so
// that the kernel drops its excess at the device's queue. Each forwarder judges each packet with dataplane.Engine.ProcessParsed on a
// monotonic clock (nanoseconds since Start), tells its Observers (flow
// logs, capture, mirroring), decrements the TTL or hop limit of the
// packets it forwards (the VPC router is a hop; IPv4's header checksum is
// updated incrementally, packet.DecrementHop), and writes them, batched
// per destination, to the device of the ENI they are routed to, the
// internet's or the services'. Frames are forwarded whole, virtio header
// included, so a GSO super-packet is judged once and passes as one. The
// forwarder allocates nothing per packet and takes no lock: its buffers
// and batches are made once.
//
// # Built-in services
//
// Start also runs the VPC's built-in services (package services: Amazon
// DNS, instance metadata, Time Sync, the subnets' routers) with the ENIs'
// MTU, as one more device (services.Device) with a forwarder of its own.
// A packet the engine routes to verdict.PortService is written to it
// without a hop (the services are on the router): the device cuts a GSO
// super-packet into packets and completes a checksum the kernel left to
// it. What the services send is read from it behind a zero virtio header,
// judged at verdict.PortService and written, batched per destination, to
// the ENIs' devices.
//
// Consecutive datagrams of one UDP flow to a device that negotiated UDP
// segmentation offload are written as one UDP GSO frame (tun.Coalescer):
// on machines where a system call is dear, that is most of the cost of
// small packets.
//
// # Changes, taps and instance state
//
// Apply swaps in a new policy of the same lab at once (apply.go): the
// engine, the services' directory and the followers (flow logs, mirroring)
// take it together or not at all, and a change to the wiring (instances,
// interfaces, addresses, internet hosts) is refused. The forwarders'
// Observers are the flow logs (one lock-free shard per forwarder), the
// capture tap and traffic mirroring (lock-free rings drained by their own
// goroutines) — taps.go; each costs an atomic load while idle and
// allocates nothing. The mirror's copies for ENI targets are frames of
// a device of their own (mirror.Device), read by a forwarder like any
// other, each frame entering at its source ENI's port, without Observers.
// SetInstanceState stops and starts instances (EC2's StopInstances): the
// engine holds the state and drops their traffic before any conntrack
// entry is made; a stopped instance's forwarder drops what it sends
// before judging it.
//
// # Counters
//
// Each device has Counters, updated by its reader only with atomics and
// readable at any time: what the port sent, allowed or denied by stage
// (a packet is counted where it enters the dataplane), and what it handed
// to the services. Lab.ServiceCounters count what the services sent.
//
// Close stops the forwarders (by closing the devices, the services'
// first), then the mirror, writes every flow-log record still held,
// closes the services and removes the namespaces; it is idempotent.
// Nothing is logged per packet.
//
// # Datapaths
//
// Options.Datapath picks the datapath: "tun" (the default) as above, or
// "ebpf", where each ENI is a veth pair into a router namespace and the
// forwarders read TUN devices next to the peers there, behind a kernel
// fast path (package fastpath) that forwards the packets of flow
// directions the engine has judged: fastpath.go says what is installed,
// when entries die (generations), and how their counters come back.
// Where the kernel cannot load the programs, Start runs the TUN datapath
// and Datapath says why.
//
// Linux only: elsewhere Start reports errors.ErrUnsupported.
package live
