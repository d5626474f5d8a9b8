// Package services runs vpclab's built-in VPC services on one gVisor
// netstack: the Amazon DNS resolver, the instance metadata service (IMDS),
// the Amazon Time Sync service (SNTP) and the subnets' routers, which answer
// ping. The dataplane judges traffic between an ENI and these addresses as
// exempt (spec §6); the live lab reads and writes them as it does an ENI's,
// through the tun.Device that Services.Device returns.
//
// # Addresses
//
// The stack holds, and only these:
//
//	Amazon DNS       VPC base + 2, 169.254.169.253, fd00:ec2::253   UDP 53
//	metadata (IMDS)  169.254.169.254, fd00:ec2::254                TCP 80
//	Time Sync        169.254.169.123, fd00:ec2::123                UDP 123
//	routers          each subnet's base + 1 (IPv4 and IPv6 blocks)  ping only
//
// Every address answers ICMP echo (gVisor does it for any address it
// holds); a port nothing listens on gets a TCP reset or an ICMP port
// unreachable. Default routes in both families send replies out through
// the one link, whatever the peer: an ENI of the VPC or a host on the
// internet.
//
// # Names
//
// The DNS service is authoritative for the lab only and has no upstream:
//
//	web1, web1.vpc.internal        the instance's primary ENI: A (primary
//	                               IPv4), AAAA (its IPv6 addresses)
//	ip-10-0-1-10.ec2.internal      A 10.0.1.10, for every IPv4 address of
//	                               every ENI (primary and secondary)
//	i-<17 hex>.ec2.internal        the instance id (InstanceID): A and AAAA
//	                               as the instance name
//	PTR of an ENI's IPv4 address   its ip-….ec2.internal name
//	PTR of an ENI's IPv6 address   its instance's i-….ec2.internal name
//
// Names are matched without regard to case. A known name asked for a type
// it lacks gets an empty NOERROR answer; every other name gets NXDOMAIN.
//
// # Identity
//
// Metadata answers for the instance whose ENI owns the request's source
// address. Identifiers that AWS would assign are derived, stably, from the
// lab: InstanceID from the instance name, MAC from the ENI id (a locally
// administered unicast address), Hostname from the address.
//
// # Packets
//
// Inject takes one IP packet with complete checksums (no virtio header;
// Device runs tun.CompleteChecksum or tun.GSOSplit first) and copies
// it: the caller keeps its buffer. The stack handles it in the caller's
// goroutine, so replies gVisor makes inline (ping, resets) are queued
// before Inject returns. Read copies queued outgoing packets into the
// caller's buffers, a batch at a time, as tun.Device.Read does; nothing is
// allocated per packet on either side by this package. Device wraps both
// in a tun.Device of virtio-net frames: Write completes a checksum left to
// the device or cuts a GSO super-packet into packets before Inject, Read
// puts a zero virtio header in front. Close stops every goroutine the
// package started.
package services
