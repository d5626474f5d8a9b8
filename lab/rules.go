package lab

import "net/netip"

// The rules of lab files that importers must meet for Parse to read the
// labs they write: they check them themselves, to report what they leave
// out instead of writing a lab that does not load.

// ValidID reports whether s can be a lab id or name: 1-64 letters,
// digits, '.', '_' or '-', starting with a letter or digit.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidRegion, ValidZone and ValidZoneID report the forms of region
// (us-east-1), zone (us-east-1a) and zone-id (use1-az1) names a lab file
// accepts.
func ValidRegion(s string) bool { return regionName.MatchString(s) }

func ValidZone(s string) bool   { return zoneName.MatchString(s) }
func ValidZoneID(s string) bool { return zoneID.MatchString(s) }

// SpecialBlock returns the special block c overlaps (loopback, link-local,
// multicast, where the instance services live, …), which no VPC, subnet
// or internet host may use, and what it is; ok is false when c overlaps
// none.
func SpecialBlock(c netip.Prefix) (block netip.Prefix, what string, ok bool) {
	return specialBlock(c)
}

// Usable returns the first and last address AWS lets interfaces use in a
// subnet's block: all but the first four and the last.
func Usable(block netip.Prefix) (first, last netip.Addr) { return usable(block) }
