package dataplane

import (
	"encoding/binary"
	"sync"
	"sync/atomic"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// fragTable remembers the verdicts of first fragments, so that the later
// fragments of the same datagram (source, destination, ID; protocol too for IPv4)
// follow them for a while (spec §8). Lookups take no lock: each slot is
// guarded by a sequence number that writers make odd while they write.
// It is a cache: a full set evicts its oldest slot.
type fragTable struct {
	mu    sync.Mutex // serialises writers
	slots [fragSets * fragWays]fragSlot
}

const (
	fragSets = 1024
	fragWays = 4
)

type fragSlot struct {
	seq atomic.Uint32
	key [5]atomic.Uint64
	val atomic.Uint64 // allowed<<56 | stage<<48 | code<<40 | uint32(to)
	exp atomic.Int64
}

func fragKey(p *packet.Parsed) (k [5]uint64) {
	s, d := p.Src.As16(), p.Dst.As16()
	k[0] = binary.LittleEndian.Uint64(s[:8])
	k[1] = binary.LittleEndian.Uint64(s[8:])
	k[2] = binary.LittleEndian.Uint64(d[:8])
	k[3] = binary.LittleEndian.Uint64(d[8:])
	k[4] = uint64(p.FragID)
	if p.Family == 4 {
		// IPv4 datagrams are told apart by protocol too (RFC 791). IPv6
		// ones by addresses and ID only (RFC 8200): a later fragment's
		// Proto is the fragment header's next header, not the final one.
		k[4] |= uint64(p.Proto) << 32
	}
	return k
}

func fragSet(k *[5]uint64) int {
	h := uint64(0x9e3779b97f4a7c15)
	for _, w := range k {
		h ^= w
		h *= 0xff51afd7ed558ccd
		h ^= h >> 33
	}
	return int(h % fragSets)
}

func (t *fragTable) store(p *packet.Parsed, v *verdict.Verdict, exp int64) {
	k := fragKey(p)
	set := t.slots[fragSet(&k)*fragWays:][:fragWays]
	val := uint64(v.Stage)<<48 | uint64(v.Code)<<40 | uint64(uint32(v.To))
	if v.Allowed {
		val |= 1 << 56
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	victim := &set[0]
	for i := range set {
		sl := &set[i]
		if sl.matches(&k) {
			victim = sl
			break
		}
		if sl.exp.Load() < victim.exp.Load() {
			victim = sl
		}
	}
	victim.seq.Add(1) // odd: being written
	for i := range k {
		victim.key[i].Store(k[i])
	}
	victim.val.Store(val)
	victim.exp.Store(exp)
	victim.seq.Add(1)
}

func (sl *fragSlot) matches(k *[5]uint64) bool {
	for i := range k {
		if sl.key[i].Load() != k[i] {
			return false
		}
	}
	return true
}

// follow gives a later fragment its first fragment's verdict, or drops it
// as an orphan.
func (t *fragTable) follow(p *packet.Parsed, now int64, v *verdict.Verdict) {
	k := fragKey(p)
	set := t.slots[fragSet(&k)*fragWays:][:fragWays]
	for i := range set {
		sl := &set[i]
		for {
			seq := sl.seq.Load()
			if seq&1 != 0 {
				continue // a writer is in this slot; it is short
			}
			hit := sl.matches(&k)
			val, exp := sl.val.Load(), sl.exp.Load()
			if sl.seq.Load() != seq {
				continue
			}
			if hit && exp > now {
				v.Allowed = val>>56&1 == 1
				v.Stage = verdict.Stage(val >> 48)
				v.Code = verdict.Code(val >> 40)
				v.To = verdict.Port(int32(uint32(val)))
				v.Trace.Add(verdict.Step{Stage: v.Stage, Pass: v.Allowed, Code: verdict.CodeFragmentFollowing})
				return
			}
			break
		}
	}
	v.Deny(verdict.StageParse, verdict.CodeFragmentOrphan)
}
