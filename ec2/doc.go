// Package ec2 is EC2's vocabulary, in one place: protocol names as EC2 and
// its clients spell them; the shapes of its rule parameters (IpPermission,
// NetworkAclEntry, PortRange, IcmpTypeCode) and requests, and their
// conversion to and from the sg and nacl rule models with errors keyed by
// field path; rule descriptions; and the one table of EC2 actions (name,
// IAM name, resource kinds, CLI flags, request decoder) that change, authz
// and the command line read, and an EC2 Query API would dispatch on.
//
// It sits beside the rule models (sg, nacl) and below the lab model: it
// must not import lab, dataplane, change, authz, control or anything live.
package ec2
