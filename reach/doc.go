// Package reach computes a lab's reachability map: for every ordered pair
// of endpoints (each ENI, each internet host, and the internet when a
// subnet routes to the internet gateway) and each IP family, the exact
// traffic whose request gets through and whose reply gets back, per
// protocol, as ranges of destination ports (ICMP: type and code), with
// the rule that decides every range: the security-group rules and
// network-ACL entries that admit it, or the stage and rule that stops it,
// in explain's words (explain/describe).
//
// It works by interval arithmetic over the lowered rules (sg.Lower,
// nacl.Lower): for a pair of addresses each stage paints the value space
// with its first matching rule, as the classifier would answer each value,
// and the stages' pieces are intersected; nothing is answered by trying
// ports one by one. The internet is cut into the address blocks the
// rules of each ENI can tell apart, and blocks with the same answer make
// one path.
//
// What is modelled (spec §5): the sender's security group outbound, the
// network ACLs of the subnets crossed (none inside one subnet), the
// receiver's security group inbound, and the reply's network ACLs. The
// reply always passes the security groups: a delivered request leaves a
// conntrack entry on both ends, and a flow that is untracked (§3.4) is
// untracked because a rule lets all its replies through. So a TCP or UDP
// request is open for destination port p from source port s when p is in
// Flow.Open and s in Flow.SourcePorts; an ICMP echo request needs its
// echo reply to pass the NACLs; other ICMP messages have no reply. Traffic
// with the VPC's services is exempt (§6) and listed apart, in
// Map.Exempt.
//
// A lab file has no instance state: every instance runs unless
// Query.Stopped names it (as StopInstances leaves it in a running lab);
// then every path to or from it stops at the route (INSTANCE_STOPPED),
// before any other check, as the engine stops it. The conntrack allowance
// (§3.7) cannot be part of the map: whether a new tracked flow finds room
// depends on the flows in flight, not on the rules. The map takes every
// allowance as not reached and says so in Map.Unmodelled.
//
// reach reads the lab model and must not import dataplane,
// internal/reference or policytest: its property test checks it against
// the engine, so the two must not share the engine's code. Only cmd/
// formats it for the command line beyond WriteText, WriteJSON and
// WriteHTML.
//
// # JSON
//
// Map is the document of `vpclab reach -o json`:
//
//	{"lab": "example.yaml",
//	 "endpoints": [{"name": "web1", "kind": "eni", "eni": "eni-web1", "instance": "web1",
//	                "subnet": "subnet-web", "addrs": ["10.0.1.10", "2600:…::10"]}, …],
//	 "subnets": [{"id": "subnet-web", "cidr": "10.0.1.0/24", "network_acl": "acl-web", "public": true}, …],
//	 "paths": [{"from": "web1", "to": "app1", "family": 4,
//	            "src": ["10.0.1.10"], "dst": ["10.0.2.10"],
//	            "flows": [{"proto": "tcp", "number": 6,
//	                       "open": [{"lo": 8080, "hi": 8080}],
//	                       "source_ports": [{"lo": 1024, "hi": 65535}],
//	                       "request": [{"lo": 0, "hi": 8079, "allowed": false, "trail": [step, …]}, …],
//	                       "reply": [segment, …]}, …]}, …],
//	 "exempt": [{"service": "Amazon DNS", "addrs": ["10.0.0.2", …]}, …],
//	 "stopped": ["app1"],
//	 "unmodelled": ["the conntrack allowance (spec §3.7): …"]}
//
// A step is {"stage", "allowed", "code", "by", "reply", "eni", "acl",
// "nacl_rule", "sg_rule": {"group", "direction", "index", "id", "line",
// "rule"}}, stage and code being verdict's names. An ICMP value is
// type<<8|code; a protocol without ports has one segment 0-65535. The
// internet's paths name blocks (CIDRs) in src or dst. An endpoint of a
// stopped instance has "stopped": true; the map's "stopped" lists the
// instances taken as stopped and "unmodelled" says, in words, what the
// map does not answer (the conntrack allowance).
//
// # The page
//
// WriteHTML's page carries the map folded (each step, trail, flow and set
// of flows written once, a security group's "no rule allows" step once
// per ENI and direction, the page filling in the range and the peer),
// with each open range, its neighbours and each closed flow's first stop:
// the 200-ENI lab of its test makes a page of about 17 MB.
package reach
