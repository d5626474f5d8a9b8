package dataplane

import (
	"encoding/binary"
	"net/netip"
)

// addrTable maps the addresses the VPC answers for to where they lead. It
// is built once per snapshot and then only read: an open-addressing table
// with linear probing and a multiplicative hash, cheaper per packet than a
// Go map with a [16]byte key.
type addrTable struct {
	slots []addrSlot
	shift uint8
}

type addrSlot struct {
	hi, lo uint64
	used   bool
	d      dest
}

// addrWords returns a's 16-byte form as two words (IPv4 as IPv4-mapped),
// taking the short way for IPv4.
func addrWords(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, 0xffff<<32 | uint64(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func (t *addrTable) index(hi, lo uint64) uint64 {
	return ((hi * 0x9e3779b97f4a7c15) ^ lo) * 0xbf58476d1ce4e5b9 >> t.shift
}

// newAddrTable builds a table of m.
func newAddrTable(m map[netip.Addr]dest) addrTable {
	size, shift := 8, uint8(61)
	for size < 2*len(m) {
		size, shift = size*2, shift-1
	}
	t := addrTable{slots: make([]addrSlot, size), shift: shift}
	mask := uint64(size - 1)
	for a, d := range m {
		hi, lo := addrWords(a)
		i := t.index(hi, lo)
		for t.slots[i].used {
			i = (i + 1) & mask
		}
		t.slots[i] = addrSlot{hi: hi, lo: lo, used: true, d: d}
	}
	return t
}

// get returns where address a leads.
func (t *addrTable) get(a netip.Addr) (dest, bool) {
	hi, lo := addrWords(a)
	mask := uint64(len(t.slots) - 1)
	for i := t.index(hi, lo); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if !s.used {
			return dest{}, false
		}
		if s.hi == hi && s.lo == lo {
			return s.d, true
		}
	}
}
