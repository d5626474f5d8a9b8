package aws

import (
	"net/netip"
	"regexp"
)

// This file repeats the rules of lab files that an import must meet for
// lab.Parse to read the imported lab back (lab/decode.go, lab/load.go, lab/instances.go):
// an import checks them itself, to report what it leaves out instead of
// writing a lab that does not load.

// idPattern is what lab ids and names look like (lab/decode.go).
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// validID reports whether s can be a lab id.
func validID(s string) bool { return idPattern.MatchString(s) }

// The forms of region, zone and zone-id names a lab file accepts.
var (
	regionName = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$`)
	zoneName   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9][a-z]$`)
	zoneID     = regexp.MustCompile(`^[a-z]{2,5}[0-9]-az[0-9]+$`)
)

// specialBlocks are the blocks a lab VPC cannot use.
var specialBlocks = []struct {
	block netip.Prefix
	what  string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), `"this network"`},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("224.0.0.0/3"), "multicast or reserved"},
	{netip.MustParsePrefix("::/8"), "reserved"},
	{netip.MustParsePrefix("fd00:ec2::/64"), "where the instance services live"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
}

// specialBlock returns what special block c overlaps, or "".
func specialBlock(c netip.Prefix) string {
	for _, s := range specialBlocks {
		if s.block.Overlaps(c) {
			return s.block.String() + ", " + s.what
		}
	}
	return ""
}

// usable reports whether a is an address AWS lets interfaces use in
// block: all but the first four and the last.
func usable(block netip.Prefix, a netip.Addr) bool {
	first := block.Masked().Addr().Next().Next().Next().Next()
	b := block.Masked().Addr().AsSlice()
	for i := block.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 1 << (7 - i%8)
	}
	last, _ := netip.AddrFromSlice(b)
	return !a.Less(first) && a.Less(last)
}
