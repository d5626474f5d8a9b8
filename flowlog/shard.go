package flowlog

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// Shard gathers the flow records of one packet-processing goroutine. It has
// a single writer: only the goroutine that owns it calls Begin, Observe and
// End. The collector (Logger.Tick) reads it through a lock-free handshake:
//
//   - The shard has two buffers; the writer fills the active one.
//   - Begin makes the batch counter odd and picks up the active buffer (and
//     the configuration in force); End makes the counter even again.
//   - The collector makes the other buffer active, then, if the counter is
//     odd, waits until it moves on: a batch that began before the switch
//     has ended, and every later batch writes to the new buffer. The old
//     buffer is then the collector's alone until its next switch.
//
// A writer between End and its next Begin (idle, or blocked reading a
// device) is outside any batch, so the collector never waits on it.
type Shard struct {
	l *Logger

	// Shared with the collector.
	seq    atomic.Uint64 // odd while a batch is under way
	active atomic.Uint32 // the buffer the writer fills: 0 or 1
	_      [48]byte      // keep the writer's fields off the collector's line

	// Owned by the writer.
	cur *buffer
	cfg *config

	bufs [2]*buffer
	_    [64]byte // nor another shard's on this shard's lines
}

// buffer is a fixed-capacity open-addressing table of flow entries, plus
// the packets lost when it was full.
//
// The writer updates its fields per packet: the padding keeps them off the
// cache lines of other shards' buffers.
type buffer struct {
	_     [64]byte
	slots []entry  // power-of-two size, at least twice capacity
	used  []uint32 // indexes of the slots in use, in insertion order
	cap   int      // entries allowed
	mask  uint32
	// hint is the slot each direction (egress, ingress) last used: a bulk
	// flow's packets find their entry without hashing.
	hint [2]uint32
	// lost counts the packets that found the table full, by ENI port and
	// minute; lostUsed lists the ports with losses.
	lost     []lostPackets
	lostUsed []int32
	_        [64]byte
}

// lostPackets are one ENI's packets lost to a full table. Two minutes are
// kept (by minute parity), enough for the collections of a second apart
// that Tick makes.
type lostPackets struct {
	minute [2]uint32 // minute+1; 0 = empty
	gen    [2]uint16 // the config generation the port was read under
	accept [2]uint64
	reject [2]uint64
}

// entry is one flow of one ENI in one direction with one action, within
// one minute (wall clock), under one configuration generation. Its key is
// packed into words so that it hashes and compares fast.
type entry struct {
	key            flowKey
	packets, bytes uint64
	first, last    int64 // the caller's clock, nanoseconds
	tcpFlags       uint8
}

// flowKey packs the fields of an entry that identify it:
//
//	[0], [1]  source address (16 bytes, IPv4 mapped)
//	[2], [3]  destination address
//	[4]       source port<<48 | destination port<<32 | protocol<<24 |
//	          entry flags<<16 | configuration generation (16 bits)
//	[5]       ENI port<<32 | minute since the Unix epoch
type flowKey [6]uint64

// Entry flags, in flowKey[4].
const (
	keyEgress = 1 << 0
	keyReject = 1 << 1
	keyIPv6   = 1 << 2 // the addresses are IPv6 (perhaps IPv4-mapped ones)
)

func (k *flowKey) port() verdict.Port { return verdict.Port(int32(k[5] >> 32)) }
func (k *flowKey) minute() uint32     { return uint32(k[5]) }
func (k *flowKey) gen() uint16        { return uint16(k[4]) }
func (k *flowKey) egress() bool       { return k[4]>>16&keyEgress != 0 }
func (k *flowKey) reject() bool       { return k[4]>>16&keyReject != 0 }
func (k *flowKey) ipv6() bool         { return k[4]>>16&keyIPv6 != 0 }
func (k *flowKey) proto() uint8       { return uint8(k[4] >> 24) }
func (k *flowKey) sport() uint16      { return uint16(k[4] >> 48) }
func (k *flowKey) dport() uint16      { return uint16(k[4] >> 32) }

func (k *flowKey) hash() uint32 {
	h := k[0]*0x9e3779b97f4a7c15 ^ k[1]*0xc2b2ae3d27d4eb4f ^ k[2]*0x165667b19e3779f9 ^
		k[3]*0xd6e8feb86659fd93 ^ k[4]*0xff51afd7ed558ccd ^ k[5]*0xc4ceb9fe1a85ec53
	h ^= h >> 29
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 32
	return uint32(h)
}

func newBuffer(capacity, ports int) *buffer {
	size := 1
	for size < 2*capacity {
		size <<= 1
	}
	return &buffer{
		slots: make([]entry, size),
		used:  make([]uint32, 0, capacity),
		cap:   capacity,
		mask:  uint32(size - 1),
		lost:  make([]lostPackets, ports),
	}
}

func (b *buffer) growLost(ports int) {
	lost := make([]lostPackets, ports)
	copy(lost, b.lost)
	b.lost = lost
}

// reset empties the buffer after the collector has read it.
func (b *buffer) reset() {
	for _, i := range b.used {
		b.slots[i] = entry{}
	}
	b.used = b.used[:0]
	for _, p := range b.lostUsed {
		b.lost[p] = lostPackets{}
	}
	b.lostUsed = b.lostUsed[:0]
}

// Begin starts a batch of Observe calls: it picks up the buffer to fill
// and the flow logs in force. Call it after the packets were read, not
// before a blocking read.
func (sh *Shard) Begin() {
	sh.seq.Add(1)
	sh.cur = sh.bufs[sh.active.Load()]
	sh.cfg = sh.l.cfg.Load()
	if len(sh.cur.lost) < len(sh.cfg.logged) {
		// Interfaces were added since this buffer was made. The active
		// buffer is the writer's, so it may grow it (rarely: once after a
		// Reconfigure).
		sh.cur.growLost(len(sh.cfg.logged))
	}
}

// End ends the batch Begin started.
func (sh *Shard) End() {
	sh.seq.Add(1)
}

// Judged is Observe for a forwarder's Observer (package live): pkt's
// length is the IP bytes; the virtio header is not looked at.
func (sh *Shard) Judged(v *verdict.Verdict, p *packet.Parsed, _, pkt []byte, packets uint64, now int64) {
	sh.Observe(v, p, len(pkt), packets, now)
}

// Forwarded does nothing: the records are made from the verdict, when the
// packet is judged (Judged).
func (sh *Shard) Forwarded(*verdict.Verdict, *packet.Parsed, []byte, []byte, int64) {}

// Observe records one judged packet: v is its verdict and p the parsed
// packet (from dataplane.Engine.ProcessParsed), ipBytes the IP bytes it
// stands for and packets how many packets (a GSO super-packet stands for
// its segments), now its time in nanoseconds on the packets' clock
// (Options.Epoch is that clock's zero). Call it between Begin and End. It
// allocates nothing and takes no lock.
//
// Which interface logs what, for a packet from ENI A to ENI B:
//
//   - delivered: an egress ACCEPT record on A and an ingress ACCEPT record
//     on B;
//   - dropped at one of the sender's stages (src-dst-check, sg-egress,
//     nacl-egress, the route, or A's conntrack or packet-rate allowance):
//     an egress REJECT record on A only;
//   - dropped at one of the receiver's stages (nacl-ingress, sg-ingress,
//     B's conntrack or packet-rate allowance): an egress ACCEPT record on
//     A and an ingress REJECT record on B.
//
// The internet and the VPC's services have no interface and no log.
// Exempt traffic (spec §6) and packets that could not be parsed are never
// logged.
func (sh *Shard) Observe(v *verdict.Verdict, p *packet.Parsed, ipBytes int, packets uint64, now int64) {
	var outReject, inReject, out, in bool
	switch {
	case v.Stage == verdict.StageParse || v.Stage == verdict.StageExempt || v.Code == verdict.CodeExempt:
		return
	case v.Allowed:
		out, in = true, true
	default:
		switch v.Stage {
		case verdict.StageSrcDstCheck, verdict.StageSGEgress, verdict.StageNACLEgress, verdict.StageRoute:
			out, outReject = true, true
		case verdict.StageNACLIngress, verdict.StageSGIngress:
			out, in, inReject = true, true, true
		case verdict.StageConntrackAllowance, verdict.StagePPSAllowance:
			if v.ENI == "" || v.From < 0 || int(v.From) >= len(sh.cfg.ids) || sh.cfg.ids[v.From] == v.ENI {
				out, outReject = true, true
			} else {
				out, in, inReject = true, true, true
			}
		default:
			return
		}
	}
	cfg := sh.cfg
	if packets == 0 {
		packets = 1
	}
	out = out && v.From >= 0 && int(v.From) < len(cfg.logged) && cfg.logged[v.From]
	in = in && v.To >= 0 && int(v.To) < len(cfg.logged) && cfg.logged[v.To]
	if !out && !in {
		return
	}

	var k flowKey
	src, dst := p.Src.As16(), p.Dst.As16()
	k[0] = binary.LittleEndian.Uint64(src[:8])
	k[1] = binary.LittleEndian.Uint64(src[8:])
	k[2] = binary.LittleEndian.Uint64(dst[:8])
	k[3] = binary.LittleEndian.Uint64(dst[8:])
	var sport, dport uint64
	var flags uint8
	if p.HasPorts {
		sport, dport = uint64(p.SrcPort), uint64(p.DstPort)
		flags = loggedTCPFlags(p.TCPFlags)
	}
	base := sport<<48 | dport<<32 | uint64(p.Proto)<<24 | uint64(cfg.gen)
	if p.Family == 6 {
		base |= keyIPv6 << 16
	}
	minute := uint64(uint32((sh.l.epoch + now) / int64(time.Minute)))
	if out {
		var f uint64 = keyEgress
		if outReject {
			f |= keyReject
		}
		k[4] = base | f<<16
		k[5] = uint64(uint32(v.From))<<32 | minute
		sh.cur.add(&k, 0, uint64(ipBytes), packets, now, flags)
	}
	if in {
		var f uint64
		if inReject {
			f |= keyReject
		}
		k[4] = base | f<<16
		k[5] = uint64(uint32(v.To))<<32 | minute
		sh.cur.add(&k, 1, uint64(ipBytes), packets, now, flags)
	}
}

// loggedTCPFlags returns the flags a TCP segment adds to its record's
// tcp-flags, as spec §7 states them: FIN 1, SYN 2, RST 4, PSH 8 and URG 32
// as seen, and ACK only on a SYN (SYN-ACK is 18): a record of bare ACK
// packets shows 0, and a FIN (which always carries an ACK) shows 1. (AWS's
// published example records of short connections show 3 and 19, without
// the PSH their data segments must have carried; the spec lists PSH, and
// we follow the spec.)
func loggedTCPFlags(f uint8) uint8 {
	out := f & (packet.TCPFin | packet.TCPSyn | packet.TCPRst | packet.TCPPsh | packet.TCPUrg)
	if f&packet.TCPSyn != 0 {
		out |= f & packet.TCPAck
	}
	return out
}

// add adds a packet (or a GSO super-packet's segments) to the entry of k,
// making it if it does not exist. A full table loses the packet and counts
// it for SKIPDATA.
func (b *buffer) add(k *flowKey, dir int, bytes, packets uint64, now int64, flags uint8) {
	i := b.hint[dir]
	if e := &b.slots[i]; e.packets == 0 || e.key != *k {
		i = k.hash() & b.mask
	}
	for {
		e := &b.slots[i]
		if e.packets == 0 {
			if len(b.used) == b.cap {
				b.lose(k, packets)
				return
			}
			e.key = *k
			e.packets, e.bytes = packets, bytes
			e.first, e.last = now, now
			e.tcpFlags = flags
			b.used = append(b.used, i)
			b.hint[dir] = i
			return
		}
		if e.key == *k {
			e.packets += packets
			e.bytes += bytes
			if now < e.first {
				e.first = now
			}
			if now > e.last {
				e.last = now
			}
			e.tcpFlags |= flags
			b.hint[dir] = i
			return
		}
		i = (i + 1) & b.mask
	}
}

// lose counts a packet of k that found the table full.
func (b *buffer) lose(k *flowKey, packets uint64) {
	port := k.port()
	if int(port) >= len(b.lost) {
		return
	}
	l := &b.lost[port]
	m := k.minute()
	j := m & 1
	if l.minute[0] == 0 && l.minute[1] == 0 {
		b.lostUsed = append(b.lostUsed, int32(port))
	}
	if l.minute[j] != m+1 {
		// A minute two or more before this one: the collector was not
		// called in between. Its losses now count for this minute.
		l.minute[j] = m + 1
	}
	l.gen[j] = k.gen()
	if k.reject() {
		l.reject[j] += packets
	} else {
		l.accept[j] += packets
	}
}

// collect switches sh to its other buffer, waits until no batch can still
// be writing to the old one, and returns it. The caller resets it when done.
func (sh *Shard) collect() *buffer {
	old := sh.active.Load()
	sh.active.Store(1 - old)
	if s := sh.seq.Load(); s&1 != 0 {
		for spins := 0; sh.seq.Load() == s; spins++ {
			if spins < 64 {
				runtime.Gosched()
			} else {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	return sh.bufs[old]
}

// unpackAddr returns the address packed into two key words, IPv4 unless
// v6.
func unpackAddr(hi, lo uint64, v6 bool) netip.Addr {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], hi)
	binary.LittleEndian.PutUint64(b[8:], lo)
	a := netip.AddrFrom16(b)
	if !v6 {
		a = a.Unmap()
	}
	return a
}
