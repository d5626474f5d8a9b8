package aws

import (
	"net/netip"

	"github.com/vpclab/vpclab/lab"
)

// The rules of a lab an import must meet for lab.Validate to accept the
// imported lab. They have one home, package lab, whose Validate is made
// of these predicates; the import asks them object by object, to leave
// out (and report) what a lab cannot hold instead of refusing the whole
// input; `vpclab import` then runs lab.Validate on what it made.

var validID = lab.ValidID

// specialBlock returns what special block c overlaps, or "".
func specialBlock(c netip.Prefix) string {
	if b, what, ok := lab.SpecialBlock(c); ok {
		return b.String() + ", " + what
	}
	return ""
}

// usable reports whether a is an address AWS lets interfaces use in
// block: all but the first four and the last.
func usable(block netip.Prefix, a netip.Addr) bool {
	first, last := lab.Usable(block.Masked())
	return !a.Less(first) && !last.Less(a)
}
