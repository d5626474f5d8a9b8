package aws

import (
	"net/netip"

	"github.com/vpclab/vpclab/lab"
)

// The rules of lab files an import must meet for labfile.Parse to read the
// imported lab back; the import checks them itself, to report what it
// leaves out instead of writing a lab that does not load.

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
