// Package labfile reads and writes lab files: Parse and Load decode YAML
// (JSON works too) into a lab.Lab with the line of every value, fill in
// AWS's defaults and check the result with lab.Check, placing each problem
// at the line of the value its field path names; Marshal writes a lab as
// a file Parse reads back as the same lab; Example is the built-in example
// lab. It must not be imported by the dataplane, which takes the model.
//
// # Lab files
//
// A lab file is YAML (JSON works too). Example returns a commented one;
// every key is listed here. Unknown keys are errors, and so are YAML
// aliases and files holding more than one document.
//
//	vpc:              id, cidr (IPv4 /16-/28), ipv6_cidr (optional, /44-/64),
//	                  account_id (default 123456789012), region (default us-east-1)
//	subnets:          id, cidr (IPv4 /16-/28 inside the VPC's), ipv6_cidr (a /64
//	                  inside the VPC's), network_acl (default: default), public,
//	                  availability_zone (default: the region's "a"), az_id
//	network_acls:     id, ingress, egress: lists of entries
//	  entries:        rule (1-32766, unique per direction), action (allow, deny),
//	                  protocol, ports, icmp_type, icmp_code, cidr
//	prefix_lists:     id, cidrs, max_entries (1-1000; default: the number of cidrs)
//	security_groups:  id, description, ingress, egress: lists of rules
//	  rules:          id (sgr-…), description, protocol, ports, icmp_type,
//	                  icmp_code, and one peer: cidr, group or prefix_list
//	instances:        name, conntrack_allowance, pps_allowance (packets/s, 0:
//	                  unlimited; default settings.pps_allowance), imds (v1-and-v2 or v2-only),
//	                  interfaces: list of
//	  interfaces:     id, subnet, ip (primary IPv4), secondary_ips, ipv6,
//	                  security_groups (default: [default]), source_dest_check
//	                  (default true), conntrack: {tcp_established_timeout,
//	                  udp_timeout, udp_stream_timeout}
//	internet:         hosts: addresses outside the VPC
//	quotas:           nacl_entries, sg_rules, sgs_per_eni, rules_times_sgs, sgs_per_vpc
//	settings:         the fields of Settings in snake_case, except Other
//	                  (fixed by AWS): secondary_ips_in_group_refs, …, icmp,
//	                  fragment_timeout, imds, datapath (tun or ebpf), pps_allowance
//	flow_logs:        id, one of vpc, subnet or eni (the resource's id),
//	                  traffic_type (ACCEPT, REJECT, ALL; default ALL),
//	                  max_aggregation_interval (60s or 600s; default 600s),
//	                  log_format (AWS's "${field} …"; default version 2),
//	                  destination (a directory; default flowlogs)
//	traffic_mirror_filters: id, ingress, egress: lists of rules
//	  rules:          rule (1-32766), action (accept, reject), protocol
//	                  (default all), source_cidr, destination_cidr (default
//	                  0.0.0.0/0), source_ports, destination_ports
//	traffic_mirror_targets: id, and eni or pcap_file
//	traffic_mirror_sessions: id, number (1-32766), source (an ENI), target,
//	                  filter, vni (default: the number), packet_length
//	                  (bytes copied of each packet; default all)
//	tags:             resource id (an instance by its name) → {KEY: VALUE, …}:
//	                  EC2's tags (keys 1-128 characters, not aws:…; values up
//	                  to 256; 50 a resource), shown by EC2's describe calls
//
// An instance with one interface may give the interface's keys itself
// instead of interfaces; the interface's id is then eni-<name> unless it
// gives id.
//
// Values: protocol is tcp, udp, icmp, icmpv6, all (or -1), or an IANA number
// 0-255. ports is a port, a range such as 1024-65535, or all; it defaults
// to all; for protocols other than tcp, udp, icmp and icmpv6 it is taken and
// ignored, as EC2 does (the rule covers every port). icmp_type and icmp_code are
// 0-255 or -1 (any, the default), for icmp and icmpv6 only; a type of -1
// requires a code of -1. A CIDR is IPv4 or IPv6 and has its host bits
// cleared (10.1.2.3/16 reads as 10.1.0.0/16). Durations are written like 30s
// or 5m, or as a number of seconds. Ids and names are 1-64 letters, digits,
// '.', '_' or '-'.
//
// Defaults follow AWS. The security group "default" and the network ACL
// "default" exist without being written; a file may define either to
// replace it. A missing ingress or egress list means what AWS creates: the
// default group lets in everything from its own members, other groups
// nothing, and every group lets everything out (to 0.0.0.0/0, and ::/0 when
// the VPC has IPv6); the default ACL allows everything (rules 100 and, with
// IPv6, 101), other ACLs nothing. An empty list, such as egress: [], means
// no rules at all.
//
// Quotas count rules per direction and IP family; a prefix-list rule counts
// as its max_entries in each family its list holds (both when it is empty)
// and a group-referencing rule once in each family. rules_times_sgs bounds
// the rules of all the groups of one interface together, per direction and
// family. sgs_per_vpc bounds the lab's security groups, the default group
// included (AWS's 2,500 by default; a lab may raise it to 10,000): Parse
// stops reading groups at the quota. Before it builds the YAML tree
// (some 30 bytes per byte of the file), Parse counts the groups, each
// group's rules and each ACL's entries in the file's text, and refuses a
// list over twice its quota (every item counts at least once in one
// family) at its first item past that, so that a file far over its
// quotas costs about as much as its size to refuse. It bounds there too
// the lists no quota bounds (65,536 items), every mapping (64 keys: none
// knows more than 16) and the tags (65,536 resources of at most 50 tags).
//
// # Memory
//
// Parse holds at most some 10 times the size of the file in memory,
// whatever its shape, accepted or refused (TestShapesPeakHeap): every
// list that is the value of a key, in block or flow style, YAML or JSON,
// at any depth, and the tags, are read from the text one item at a time,
// each item's tree dropped once read (chunk.go); a file read once
// records no positions, and one lab.Check refuses is read a second time
// recording the positions of its problems only.
//
// A syntax error inside an item of such a list is reported as the YAML
// library reports it for the whole file, the same message and line
// (TestChunkedAgrees), without the file's tree: the library is given the
// file with the items before the first item that fails on its own
// blanked (spaces, their line ends kept; a block list keeps "- _" at its
// first item, so that it starts where the file's does), and the file
// from that item on as it is, up to 16 KiB past the item. The library
// stops at a file's first error, and sees a token or so past it. Where
// that cannot stand, the file is read whole, as YAML parsers do: when
// the library reads past those 16 KiB or finds no error there; when an
// item fails for another reason than a syntax error, a blanked text
// holds a document marker, or a list's first token is not where the
// count saw it; and for files whose items cannot
// be placed on their own (a line break other than "\n" or "\r\n",
// UTF-16, lists nested past the library's 64 levels). A 10 MB lab of
// 192,000 rules with a syntax error deep in its list of groups is refused
// in some 2.5 times its size in peak live heap, in block style, flow
// style or JSON (TestSyntaxErrorPeakHeap).
package labfile
