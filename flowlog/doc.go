// Package flowlog writes VPC Flow Logs (spec §7) for the packets the
// dataplane judges: AWS's records, in AWS's default version 2 format or a
// custom format of fields from versions 2 to 5, for the flow logs of a lab
// (lab.FlowLog: a VPC, a subnet or an interface; ACCEPT, REJECT or ALL
// traffic; 60s or 600s intervals).
//
// # Records
//
// A record is one flow (addresses, ports, protocol) on one interface, in
// one direction, with one action, within one aggregation interval: its
// packets and bytes, and the Unix seconds of its first and last packet in
// the interval. Intervals are aligned on the Unix clock (every minute, or
// every ten). What each interface logs for a packet is documented on
// Shard.Observe; exempt traffic (spec §6) is never logged. A request let
// in and its reply dropped by a network ACL give an ACCEPT and a REJECT
// record, as in AWS's example.
//
// Field values follow AWS's table of fields: "-" where a value does not
// apply (NODATA and SKIPDATA records carry only the version, account,
// interface, status, the interval's first and last second as start and
// end, and the interface's VPC, subnet, instance, region and zone); srcaddr and dstaddr show the interface's primary
// private IPv4 address on its own side of IPv4 traffic, and pkt-srcaddr
// and pkt-dstaddr the packet's addresses; ICMP flows have ports 0, and so
// do later fragments, which carry none;
// tcp-flags is described at loggedTCPFlags; traffic-path is 1 for egress
// within the VPC and 8 (internet gateway) for egress leaving it, "-" for
// ingress; instance-id is the lab's instance name; no sublocations and no
// AWS service names. The version field is the highest version of the
// format's fields.
//
// An interface without traffic in an interval gets a NODATA record; one
// whose packets were lost because a table was full gets a SKIPDATA record
// (counted in Stats) besides the records that were kept.
//
// # Files
//
// Each flow log writes to its destination directory in AWS's S3 layout
// and names (see sink), a file per 5 minutes of record end times, records
// sorted so that the same packets give the same bytes. A header line with
// the field names, as AWS writes in S3 files, is optional.
//
// # Concurrency and cost
//
// Each packet-processing goroutine owns a Shard and calls Begin, Observe
// per packet, End per batch. Observe takes no lock, allocates nothing and
// touches a fixed-capacity table; one collector (Tick, every second live)
// swaps the shards' double buffers without blocking them, merges them and
// writes the intervals that ended. Close writes everything: stop the
// writers, then Close, and no record is lost.
package flowlog
