// Package metrics exports a running lab's counters to Prometheus.
//
// It owns no counter on the packet path. The live dataplane keeps its own
// (one set per TUN device, written by that device's reader alone with
// atomics: sharded by construction, no lock, no allocation); a Collector
// reads them through a Source when Prometheus scrapes, and turns the
// reading into metrics then. Between scrapes this package does nothing.
//
// # Metrics
//
// Traffic, counted by the sender that put it into the dataplane (a TUN
// device or the VPC's built-in services). Bytes are IP bytes as read from
// the device: a GSO super-packet counts as the packets it stands for in
// the packet counters, and with its single set of headers in the byte
// counters.
//
//	vpclab_packets_total{action, stage, reason, direction}   counter
//	vpclab_bytes_total{action, stage, reason, direction}     counter
//	vpclab_service_packets_total{action}                     counter
//	vpclab_gso_super_packets_total{to}                       counter
//	vpclab_device_write_errors_total                         counter
//
// action is "forwarded" (delivered to a TUN device: an ENI's or the
// internet's) or "dropped" (by the dataplane). For a drop, stage is the
// stage that dropped the packet and reason its verdict code, with the
// names of verdict.Stage and verdict.Code ("sg-ingress",
// "ENI_SG_RULES_MISMATCH"); direction says on which side of the path the
// stage sits:
//
//	egress   the sender's outbound checks: src-dst-check, sg-egress, nacl-egress
//	ingress  the receiver's inbound checks: nacl-ingress, sg-ingress
//	""       neither: parse, route, conntrack-allowance (the sender's or
//	         the receiver's instance may have run out)
//
// A forwarded series has empty stage, reason and direction (in PromQL an
// empty label is an absent one). Packets to the built-in services (DNS,
// metadata, Time Sync, the routers) are not in vpclab_packets_total once
// the dataplane allows them: vpclab_service_packets_total counts them,
// action "forwarded" when handed to the services and "dropped" when they
// could not be (a malformed GSO super-packet, a checksum offset outside
// the packet). vpclab_gso_super_packets_total counts the GSO
// super-packets forwarded whole to a device (to="device") and those cut
// into packets for the services (to="service").
// vpclab_device_write_errors_total counts the forwarded frames a
// destination device refused.
//
// Cardinality: the drop series that the dataplane can produce (13
// stage/reason pairs, see knownDrops) are always exported, at zero until
// the first drop, so that rate() sees the first one; any other pair only
// once it has counted something. Without Options.PerENI there is one set
// of series for the whole lab. With it every traffic family above gains an
// eni label naming the sender (its ENI id, "internet" for the internet
// gateway's device, "vpc-service" for the built-in services), which
// multiplies the traffic series by the number of senders: ask for it on
// labs of modest size. The aggregate is then sum without (eni).
//
// Connection tracking, per instance (an instance's ENIs share its
// allowance, spec §3.7):
//
//	vpclab_conntrack_entries{instance}                       gauge
//	vpclab_conntrack_allowance_available{instance}           gauge
//	vpclab_conntrack_allowance_exceeded_total{instance}      counter
//
// and its packet-rate allowance (settings.pps_allowance; AWS's ENA metric
// pps_allowance_exceeded), always exported, 0 while the allowance is
// unlimited:
//
//	vpclab_pps_allowance_exceeded_total{instance}            counter
//
// The control plane, through Collector.ObserveApply:
//
//	vpclab_policy_applies_total{result="success|failure"}    counter
//	vpclab_policy_apply_duration_seconds                     histogram
//
// and vpclab_build_info{version, revision, goversion}, always 1.
// NewRegistry adds the Go runtime's and the process's standard metrics.
//
// # Serving
//
// Serve listens on DefaultAddr (127.0.0.1:9724) unless told otherwise and
// answers GET /metrics. The metrics name the lab's ENIs and instances:
// listen on another address than a loopback one only on purpose.
package metrics
