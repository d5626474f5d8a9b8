package live

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/fastpath"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/tun/tuntest"
)

// fastMemLab is memLab with the eBPF datapath's maps and installer (no
// device attached: the peers' ifindexes are made up).
func fastMemLab(t *testing.T) (x *Lab, a, b *Device) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the fast path's tests load BPF maps: run them as root")
	}
	x, a, b = memLab(t)
	fp, note, err := loadFastPath(&Options{Datapath: DatapathEBPF}, nil)
	if err != nil || fp == nil {
		t.Fatalf("loading the eBPF datapath: %v %s", err, note)
	}
	t.Cleanup(func() { fp.dp.Close() })
	x.fast = fp
	x.start = time.Now() // the packets' clock: syncFast reads the conntrack tables at x.Now()
	for i, d := range []*Device{a, b} {
		for int(d.Port) >= len(fp.ports) {
			fp.ports = append(fp.ports, nil)
		}
		fp.ports[d.Port] = &fastPort{peer: 100 + i, tun: 200 + i, mac: [6]byte{2, 0, 0, 0, 0, byte(i)}, router: [6]byte{2, 0, 0, 0, 1, byte(i)}}
		fp.byIdx[uint32(100+i)] = d.Port
	}
	return x, a, b
}

// TestFastInstall: the handshake stays in userspace; the first packet of
// each direction after it installs that direction, with the egress peer,
// the MACs, the generation and the tracked ENIs; Apply's bump kills them
// for the next packet, and a SYN installs nothing.
func TestFastInstall(t *testing.T) {
	x, a, b := fastMemLab(t)
	fa, fb := newForwarder(x, a), newForwarder(x, b)
	send := func(f *forwarder, src, dst string, sport, dport uint16, flags byte) {
		f.sizes[0] = tcpFrame(f.bufs[0], src, dst, sport, dport, flags, 64)
		f.batch(1, 1000)
		if f.vs[0].Allowed != true {
			t.Fatalf("%s → %s flags %#x denied: %v %v", src, dst, flags, f.vs[0].Stage, f.vs[0].Code)
		}
	}
	send(fa, "10.0.1.10", "10.0.2.10", 40000, 8080, 0x02) // SYN
	send(fb, "10.0.2.10", "10.0.1.10", 8080, 40000, 0x12) // SYN-ACK
	if n := x.fast.dp.Len(); n != 0 {
		t.Fatalf("%d entries installed during the handshake", n)
	}
	send(fa, "10.0.1.10", "10.0.2.10", 40000, 8080, 0x10) // ACK: ESTABLISHED
	send(fb, "10.0.2.10", "10.0.1.10", 8080, 40000, 0x18) // data back
	if n := x.fast.dp.Len(); n != 2 {
		t.Fatalf("%d entries after the handshake, want 2", n)
	}
	var k fastpath.Key
	var e fastpath.Entry
	k.Set(100, &fa.ps[0]) // fa.ps[0] is a's last packet
	if !x.fast.dp.Lookup(&k, &e) {
		t.Fatal("no entry for a → b")
	}
	if e.Egress != 101 || e.DstMAC != x.fast.ports[b.Port].mac || e.Gen != x.fast.gen.Load() || e.Flags != fastSrcTracked|fastDstTracked || e.Timeout <= 0 {
		t.Errorf("a → b entry %+v", e)
	}
	// A FIN from b takes both directions off the fast path.
	send(fb, "10.0.2.10", "10.0.1.10", 8080, 40000, 0x11)
	if n := x.fast.dp.Len(); n != 0 {
		t.Fatalf("%d entries after a FIN, want none", n)
	}
	send(fa, "10.0.1.10", "10.0.2.10", 40000, 8080, 0x10) // the FIN's ACK: not established any more
	if n := x.fast.dp.Len(); n != 0 {
		t.Fatalf("the ACK of a FIN installed %d entries", n)
	}
	// A new flow, installed, then killed by a new generation.
	send(fa, "10.0.1.10", "10.0.2.10", 40002, 8080, 0x02)
	send(fb, "10.0.2.10", "10.0.1.10", 8080, 40002, 0x12)
	send(fa, "10.0.1.10", "10.0.2.10", 40002, 8080, 0x10)
	if n := x.fast.dp.Len(); n != 1 {
		t.Fatalf("%d entries, want 1", n)
	}
	if err := x.bumpFast(); err != nil {
		t.Fatal(err)
	}
	x.syncFast()
	if n := x.fast.dp.Len(); n != 0 {
		t.Errorf("%d entries of a dead generation left after a sync", n)
	}
	send(fa, "10.0.1.10", "10.0.2.10", 40001, 8080, 0x02)
	if n := x.fast.dp.Len(); n != 0 {
		t.Errorf("a SYN installed %d entries", n)
	}
}

// TestFastSyncCounts: packets the kernel counted reach the sender's
// Counters and refresh the conntrack entries once read back.
func TestFastSyncCounts(t *testing.T) {
	x, a, b := fastMemLab(t)
	fa, fb := newForwarder(x, a), newForwarder(x, b)
	for _, s := range []struct {
		f     *forwarder
		back  bool
		flags byte
	}{{fa, false, 0x02}, {fb, true, 0x12}, {fa, false, 0x10}} {
		src, dst, sp, dp := "10.0.1.10", "10.0.2.10", uint16(40000), uint16(8080)
		if s.back {
			src, dst, sp, dp = dst, src, dp, sp
		}
		s.f.sizes[0] = tcpFrame(s.f.bufs[0], src, dst, sp, dp, s.flags, 64)
		s.f.batch(1, 1000)
	}
	var k fastpath.Key
	var e fastpath.Entry
	k.Set(100, &fa.ps[0])
	if !x.fast.dp.Lookup(&k, &e) {
		t.Fatal("no entry for a → b")
	}
	e.Packets, e.Bytes, e.Last = 10, 4000, fastpath.Monotonic()
	x.fast.dp.Install(&k, &e)
	before := a.Counters.Load()
	x.syncFast()
	after := a.Counters.Load()
	if after.AllowedPackets-before.AllowedPackets != 10 || after.AllowedBytes-before.AllowedBytes != 4000 {
		t.Errorf("after a sync a's counters rose by %d packets, %d bytes; want 10, 4000", after.AllowedPackets-before.AllowedPackets, after.AllowedBytes-before.AllowedBytes)
	}
	x.syncFast() // nothing new: nothing added
	if again := a.Counters.Load(); again.AllowedPackets != after.AllowedPackets {
		t.Errorf("a second sync counted again: %d → %d", after.AllowedPackets, again.AllowedPackets)
	}
	if s, _ := x.FastPath(); s.Packets != 10 || s.Entries != 1 {
		t.Errorf("FastPath %+v, want 10 packets, 1 entry", s)
	}
}

// TestFastInstallNoAllocs: forwarding established packets, which installs
// their direction each time, allocates nothing.
func TestFastInstallNoAllocs(t *testing.T) {
	x, a, b := fastMemLab(t)
	b.dev.(*tuntest.Device).Keep = false
	a.dev.(*tuntest.Device).Keep = false
	fa, fb := newForwarder(x, a), newForwarder(x, b)
	fa.sizes[0] = tcpFrame(fa.bufs[0], "10.0.1.10", "10.0.2.10", 40000, 8080, 0x02, 64)
	fa.batch(1, 0)
	fb.sizes[0] = tcpFrame(fb.bufs[0], "10.0.2.10", "10.0.1.10", 8080, 40000, 0x12, 64)
	fb.batch(1, 0)
	now := int64(0)
	allocs := testing.AllocsPerRun(500, func() {
		for i := range fa.bufs {
			fa.sizes[i] = tcpFrame(fa.bufs[i], "10.0.1.10", "10.0.2.10", 40000, 8080, 0x10, 64)
		}
		now += 1000
		fa.batch(len(fa.bufs), now)
	})
	if allocs != 0 {
		t.Errorf("a batch installing its flow allocates %v times", allocs)
	}
	if n := x.fast.dp.Len(); n != 1 {
		t.Errorf("%d entries, want 1", n)
	}
}

// TestFastFallback: where the kernel refuses the programs, the lab runs
// the TUN datapath and says why; an unknown datapath is an error.
func TestFastFallback(t *testing.T) {
	defer func(f func(int) (*fastpath.Datapath, error)) { loadDatapath = f }(loadDatapath)
	loadDatapath = func(int) (*fastpath.Datapath, error) {
		return nil, errors.New("fastpath: loading the fast program: operation not permitted")
	}
	fp, note, err := loadFastPath(&Options{Datapath: DatapathEBPF}, nil)
	if fp != nil || err != nil || !strings.Contains(note, "operation not permitted") || !strings.Contains(note, "running the TUN datapath") {
		t.Errorf("fallback: %v, %q, %v", fp, note, err)
	}
	if _, _, err := loadFastPath(&Options{Datapath: "xdp"}, nil); err == nil || !strings.Contains(err.Error(), `"xdp"`) {
		t.Errorf("unknown datapath: %v", err)
	}
	if fp, note, err := loadFastPath(&Options{}, &lab.Lab{}); fp != nil || note != "" || err != nil {
		t.Errorf("the default: %v, %q, %v", fp, note, err)
	}
	// The lab file's settings.datapath, when the options say nothing.
	if fp, note, _ := loadFastPath(&Options{}, &lab.Lab{Settings: lab.Settings{Datapath: DatapathEBPF}}); fp != nil || !strings.Contains(note, "operation not permitted") {
		t.Errorf("settings.datapath ebpf: %v, %q", fp, note)
	}
}
