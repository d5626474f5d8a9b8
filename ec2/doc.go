// Package ec2 is EC2's vocabulary, in one place: protocol names as EC2 and
// its clients spell them, the shapes of its rule parameters (IpPermission,
// NetworkAclEntry, PortRange, IcmpTypeCode) and their conversion to and
// from the sg and nacl rule models with field-path errors, rule
// descriptions, and the one table of EC2 actions that change, authz and
// the command line read.
//
// It sits beside the rule models (sg, nacl) and below the lab model: it
// must not import lab, the engine or anything live.
package ec2
