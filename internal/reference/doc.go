// Package reference is a deliberately plain implementation of the VPC
// filtering semantics of the shared specification, vpc-semantics.md, used only by
// tests to check the dataplane engine. It speaks verdict's types and must not
// import dataplane (only its tests, which compare the two, do).
//
// It trades every bit of speed for being checkable by eye:
//
//   - security-group rules and network-ACL entries are walked one by one,
//     straight from the lab model (no compilation, no indexes);
//   - connection tracking is a Go map per ENI, keyed by a readable struct,
//     with the TCP and UDP state machines written out as switches;
//   - the packet path of spec §5 is one function, Judge, that reads top to
//     bottom in the order of the spec, each step citing its section.
//
// Its results mean what verdict.Verdict means: Stage is the deciding stage
// (for a drop the stage that dropped; for a delivery the last stage that let
// the packet through), NACLRule and ACL name the deciding network-ACL entry
// when Stage is a network-ACL stage, SG the first security-group rule that
// matched when Stage is a security-group stage and a rule (not a conntrack
// entry) decided, ENI the interface whose stage decided.
//
// Where the spec is silent the package says which reading it took, in a
// comment marked "Reading:". It never copies the engine's choices: a
// disagreement between the two is for a person to settle against the spec.
// Two things the spec leaves to other documents are taken from them: the
// TCP and UDP state transitions (and the key of non-echo ICMP messages)
// are those the conntrack package documents; the timeouts are the spec's.
//
// Time is the caller's: Judge takes the time of each packet, and Apply
// takes effect at the time of the last Judge.
//
// The package takes decoded packets (Packet), not bytes: parsing and
// fragments (spec §1 step 1, §8) are the engine's alone.
package reference
