// Package policytest loads and runs policy tests: files of steps that send
// packets through a lab's dataplane and state the verdict each must get,
// move a virtual clock, and replace the policy the way a running lab would.
//
// # Policy-test files
//
// A file is YAML (JSON works too). Unknown keys are errors, and so are YAML
// aliases and files holding more than one document.
//
//	lab: lab.yaml                  # the lab to start from, relative to this file
//	steps:
//	  - name: web-to-db
//	    send: {from: web1, to: db1, proto: tcp, sport: 40000, dport: 5432, flags: S}
//	    expect: allow              # allow or deny
//	  - send: {reply: web-to-db, flags: SA}
//	    expect: deny
//	    by: nacl-egress            # the stage expected to decide
//	    rule: 32767                # the rule expected to decide
//	  - advance: 31s               # move the virtual clock
//	  - apply: lab-2.yaml          # replace the policy, relative to this file
//	  - apply: broken.yaml
//	    expect: error              # the lab must be refused and the policy kept
//
// A step does one thing: send, advance or apply. Any step may have a name,
// unique in the file; a send names it to be answered by a later reply.
//
// # Sends
//
//	from, to      an instance (its first interface), an ENI id or an address:
//	              an interface's, a VPC service's (169.254.169.254, the VPC
//	              base + 2, a subnet's router…: the built-in service), or any
//	              other address outside the VPC (behind the internet gateway)
//	reply         the name of an earlier send: this packet is its reply, from
//	              and to swapped, addresses and ports swapped, an echo request
//	              turned into the echo reply with the same id; the other keys
//	              of the reply (flags above all) are its own
//	family        4 or 6 (default: the family of the addresses given, else
//	              of the quoted packet, else 6 for icmpv6 and 4 for the rest)
//	src, dst      the packet's addresses, instead of those of from and to: to
//	              spoof a source, say; either may stand in for from or to
//	proto         tcp, udp, icmp, icmpv6, or a protocol number 0-255
//	sport, dport  ports, 0-65535: required for tcp and udp, allowed for them only
//	flags         TCP flags as letters S A F R P U, such as S, SA, FA or R;
//	              required for tcp ("" for none)
//	type, code    ICMP type and code, 0-255 (default: echo request, code 0)
//	id            ICMP echo identifier, 0-65535 (default 0)
//	fragment      {id, offset, more, length}: make the packet a fragment. offset
//	              is in bytes, a multiple of 8; a later fragment (offset > 0)
//	              carries no transport header, so no ports, flags or ICMP
//	              fields. length cuts a first fragment to that many bytes after
//	              the IP header, to make one too short to hold its ports.
//	size          payload bytes after the transport header (default 0)
//	ttl           IPv4 TTL or IPv6 hop limit, 1-255 (default 64)
//	quote         the name of an earlier send: an ICMP error's payload is that
//	              send's packet, as an error message quotes the packet it
//	              answers (instead of size)
//
// A send's expect is allow or deny: whether the packet is delivered (when
// to names an interface, delivered to that interface). by
// names the stage expected to decide (parse, src-dst-check, exempt,
// sg-egress, nacl-egress, nacl-ingress, sg-ingress, conntrack-allowance,
// route, or conntrack for a security-group stage passed by a
// connection-tracking entry); rule names the rule expected to decide: a
// network-ACL rule number (32767 and 32768 are the implicit denies), or for
// a security-group stage the group id (sg-web), the rule id (sgr-…) or
// group/direction/index (sg-web/ingress/2, counting from 0). For a packet
// denied, they are checked against the stage that dropped it; for a packet
// delivered, against the stages it passed: by must be one of them, and rule
// must have let it through one of them (the one by names, when given).
//
// # Applies and the clock
//
// Run starts the lab on a fresh engine whose virtual clock reads
// 2026-01-01T00:00:00Z, and runs the steps in order: every send happens at
// the clock's time, and advance (a duration such as 31s, 5m or 2h, or a
// number of seconds) moves it on. apply loads another lab and, when it
// loads, puts it in force as a running lab would: tracked flows keep their
// entries. With expect: error the lab must be refused, and the policy in
// force stays.
package policytest

import (
	"os"
	"path/filepath"
	"time"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// File is a parsed policy-test file.
type File struct {
	// Path is where the file was read from. Lab and every apply are
	// relative to its directory.
	Path string
	// Lab is the lab the steps start from, as written.
	Lab   string
	Steps []Step
}

// Step is one step of a file. Exactly one of Send, Advance and Apply is
// set.
type Step struct {
	// Line is the step's line in the file.
	Line int
	// Name is the step's name, or empty.
	Name string
	// Send is the packet to send.
	Send *Send
	// Expect is allow or deny for a send; for an apply, error when the lab
	// must be refused and empty when it must load.
	Expect string
	// By is the stage expected to decide a send (a verdict.Stage name or
	// "conntrack"), or empty.
	By string
	// Rule is the rule expected to decide a send, or empty.
	Rule string
	// Advance is how far to move the clock.
	Advance time.Duration
	// Apply is the lab to put in force, as written.
	Apply string
}

// Send is one packet as a user describes it. Packet resolves its names
// against a snapshot and builds it.
type Send struct {
	// From and To name where the packet enters and where it should go: an
	// instance (its first interface), an ENI id or an address. Either may
	// be empty when Src or Dst is given; the address then names the end.
	From, To string
	// Reply names the earlier step this send is the reply of. It is a
	// record only: in a File from Parse, the other fields already hold
	// that step's Reverse with this step's own keys on top.
	Reply string
	// Family is 4 or 6, or 0 for the family of the addresses given, else
	// of the quoted packet, else 6 for ICMPv6 and 4 for the rest.
	Family int
	// Src and Dst, when set, are the packet's addresses instead of From's
	// and To's.
	Src, Dst string
	// Proto is tcp, udp, icmp, icmpv6 or a protocol number.
	Proto string
	// Sport and Dport are the TCP or UDP ports.
	Sport, Dport int
	// Flags are the TCP flags as letters S A F R P U; empty for none.
	Flags string
	// Type, Code and ID are the ICMP type, code and echo identifier; nil
	// means an echo request, code 0, identifier 0.
	Type, Code, ID *int
	// Fragment, when set, makes the packet a fragment.
	Fragment *Fragment
	// Size is the number of payload bytes after the transport header.
	Size int
	// TTL is the IPv4 TTL or IPv6 hop limit; 0 means 64.
	TTL int
	// Quote, when set, makes the packet an ICMP error quoting Quote's
	// packet (as much of it as an ICMP error carries) as its payload, in
	// place of Size zero bytes. A file names an earlier send; Parse puts
	// that send here.
	Quote *Send
}

// Fragment describes an IP fragment.
type Fragment struct {
	// ID is the datagram's identification (16 bits in IPv4, 32 in IPv6).
	ID int
	// Offset is the fragment's offset in bytes, a multiple of 8. A later
	// fragment (Offset > 0) carries no transport header.
	Offset int
	// More is the more-fragments flag.
	More bool
	// Length, when not 0, cuts a first fragment to that many bytes after
	// the IP header (and IPv6 fragment header).
	Length int
}

// Load reads the policy-test file at path and parses it with Parse.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes a policy-test file; path names it in errors and is the
// base of the relative paths it holds. It returns either the file and a
// nil error, or a nil File and a lab.ErrorList of every problem found,
// sorted by position, each saying FILE:LINE:COL: FIELD: what is wrong and
// what is allowed.
func Parse(path string, data []byte) (*File, error) {
	d := &decoder{yamlpos.Decoder{File: path}}
	f := &File{Path: path}
	if root := d.document(data); root != nil {
		d.readFile(root, f)
	}
	if err := d.Errs.Err(0); err != nil { // every error: no limit
		return nil, err
	}
	return f, nil
}

// path returns a path written in f, relative to f's directory.
func (f *File) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(f.Path), p)
}
