package live

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/fastpath"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

// The eBPF datapath (Options.Datapath "ebpf"): each ENI is a veth pair
// into the router namespace, where package fastpath's programs forward
// the packets of flows the engine has judged, and send every other packet
// to a TUN device next to the peer that this lab's forwarders read, as
// they read an ENI's TUN device in the TUN datapath. The engine stays the
// only judge:
//
//   - an entry is installed, by an Observer of the ENI's forwarder, for
//     one direction of a flow between two ENIs, after the engine forwarded
//     a packet of that direction: TCP with neither SYN, FIN nor RST, or
//     UDP, not a fragment, whose conntrack entries on both ENIs are
//     ESTABLISHED or UDP_STREAM (a side without one is untracked there);
//     its idle timeout is the shorter of theirs;
//   - every entry carries the generation it was judged in: Apply and
//     SetInstanceState move the generation on once the engine has the
//     change, so the next packet of every flow is judged again (NACL edits
//     reach the next packet; an SG revoke keeps tracked flows, whose
//     conntrack entries let them through and reinstall them);
//   - a FIN or RST removes both directions of its flow (the ACKs after
//     it move the conntrack state on);
//   - FIN, RST, SYN, fragments, ICMP, traffic with the internet or the
//     services, and every packet of an ENI that is captured or mirrored
//     (checked every syncEvery/4) stay in userspace;
//   - every syncEvery the counters of the entries are read back: the
//     sender's device Counters, the flow logs and the conntrack entries'
//     idle timers take them (so expiry stays exact to syncEvery), and
//     entries of dead generations or of expired flows are removed.

// The datapaths of Options.Datapath (those of lab.Settings.Datapath).
const (
	DatapathTUN  = lab.DatapathTUN
	DatapathEBPF = lab.DatapathEBPF
)

// syncEvery is how often the fast path's counters are read back.
const syncEvery = time.Second

type fastPath struct {
	dp    *fastpath.Datapath
	gen   atomic.Uint32
	ports []*fastPort // by ENI port; nil for a port without an ENI device
	byIdx map[uint32]verdict.Port
	shard *flowlog.Shard // nil without flow logs
	stop  chan struct{}
	done  chan struct{}
	seen  map[fastpath.Key][3]uint64 // packets, bytes, super-packets read back so far
	hits  atomic.Uint64              // packets the fast path forwarded, as read back
}

// fastPort is one ENI of the eBPF datapath.
type fastPort struct {
	peer, tun   int // ifindexes in the router namespace
	mac, router [6]byte
	noFast      atomic.Bool // as last set in the port map
}

// loadDatapath is fastpath.Load; tests make it fail as a kernel would.
var loadDatapath = fastpath.Load

// loadFastPath loads the eBPF datapath when o asks for it. When the
// kernel refuses, it returns no fast path and the note saying why (the
// lab runs the TUN datapath); an unknown datapath is an error.
func loadFastPath(o *Options, l *lab.Lab) (*fastPath, string, error) {
	if o.Datapath == "" && l != nil {
		o.Datapath = l.Settings.Datapath // the lab file's choice, when the caller makes none
	}
	switch o.Datapath {
	case "", DatapathTUN:
		return nil, "", nil
	case DatapathEBPF:
	default:
		return nil, "", fmt.Errorf("live: datapath %q: want %s or %s", o.Datapath, DatapathTUN, DatapathEBPF)
	}
	dp, err := loadDatapath(0)
	if err != nil {
		return nil, fmt.Sprintf("the eBPF datapath is unavailable (%v): running the TUN datapath", err), nil
	}
	fp := &fastPath{dp: dp, byIdx: map[uint32]verdict.Port{}, seen: map[fastpath.Key][3]uint64{}}
	fp.gen.Store(dp.Generation())
	return fp, "", nil
}

// openFast makes the ENI of link a veth pair and opens the TUN device
// next to its peer, with the programs attached.
func (x *Lab) openFast(link *labnet.Link, port verdict.Port, offloads tun.Offload) (tun.Device, tun.Offload, error) {
	fp := x.fast
	i := len(x.devices)
	mac, router := labnet.MAC(link.ENI), labnet.MAC(link.ENI+"/router")
	peer, err := x.net.Veth(link, fmt.Sprintf("v%d", i), mac, router)
	if err != nil {
		return nil, 0, err
	}
	rh, err := x.net.Namespace(x.plan.Router)
	if err != nil {
		return nil, 0, err
	}
	name := fmt.Sprintf("t%d", i)
	dev, got, err := openDevice(rh, &labnet.Link{Name: name, MTU: link.MTU}, offloads)
	if err != nil {
		return nil, 0, err
	}
	fail := func(err error) (tun.Device, tun.Offload, error) {
		dev.Close()
		return nil, 0, err
	}
	tidx, err := x.net.RouterLinkUp(name)
	if err != nil {
		return fail(err)
	}
	if err := fp.dp.SetPort(peer, fastpath.Port{To: uint32(tidx)}); err != nil {
		return fail(err)
	}
	if err := fp.dp.SetPort(tidx, fastpath.MACPort(peer, mac, router)); err != nil {
		return fail(err)
	}
	err = x.net.Do(x.plan.Router, func() error {
		if err := fp.dp.Attach(peer, false); err != nil {
			return err
		}
		return fp.dp.Attach(tidx, true)
	})
	if err != nil {
		return fail(err)
	}
	for int(port) >= len(fp.ports) {
		fp.ports = append(fp.ports, nil)
	}
	fp.ports[port] = &fastPort{peer: peer, tun: tidx, mac: [6]byte(mac), router: [6]byte(router)}
	fp.byIdx[uint32(peer)] = port
	return dev, got, nil
}

// Datapath returns the datapath the lab runs ("tun" or "ebpf") and, when
// the eBPF datapath was asked for and could not be used, why.
// On the eBPF datapath the note names the ENIs taken off the fast path
// while they are captured or mirrored.
func (x *Lab) Datapath() (name, note string) {
	if x.fast == nil {
		return DatapathTUN, x.datapathNote
	}
	if s, _ := x.FastPath(); len(s.NoFast) > 0 {
		note = "off the fast path while captured or mirrored: " + strings.Join(s.NoFast, ", ")
	}
	return DatapathEBPF, note
}

// FastPathStats is what the eBPF datapath's fast path holds and did.
type FastPathStats struct {
	Entries    int    // flow directions installed
	Packets    uint64 // packets it forwarded, as read back so far
	Generation uint32
	NoFast     []string // ENIs whose packets all go to userspace (captured or mirrored)
}

// FastPath returns the fast path's figures; ok is false on the TUN
// datapath.
func (x *Lab) FastPath() (s FastPathStats, ok bool) {
	fp := x.fast
	if fp == nil {
		return s, false
	}
	snap := x.engine.Snapshot()
	for p, port := range fp.ports {
		if port != nil && port.noFast.Load() {
			s.NoFast = append(s.NoFast, snap.PortName(verdict.Port(p)))
		}
	}
	return FastPathStats{Entries: fp.dp.Len(), Packets: fp.hits.Load(), Generation: fp.gen.Load(), NoFast: s.NoFast}, true
}

// bumpFast moves the fast path's generation on, after the engine took a
// change: no entry judged before passes another packet.
func (x *Lab) bumpFast() error {
	if x.fast == nil {
		return nil
	}
	g, err := x.fast.dp.Bump()
	x.fast.gen.Store(g)
	return err
}

// SyncFastPath reads the fast path's counters back now (see syncEvery);
// tests call it rather than wait.
func (x *Lab) SyncFastPath() {
	if x.fast != nil {
		x.applyMu.Lock()
		defer x.applyMu.Unlock()
		x.syncFast()
	}
}

// runFast keeps the NoFast marks and reads the counters back, until Close.
func (x *Lab) runFast() {
	fp := x.fast
	defer close(fp.done)
	t := time.NewTicker(syncEvery / 4)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-fp.stop:
			return
		case <-t.C:
		}
		x.applyMu.Lock()
		x.markNoFast()
		if n%4 == 3 {
			x.syncFast()
		}
		x.applyMu.Unlock()
	}
}

// markNoFast takes the ENIs being captured or mirrored off the fast
// path, and puts them back when that ends. An ENI taken off also loses
// the kernel's entries of the flows towards it (the generation moves
// on): the program asks only the sender's port, so those would go on
// reaching it unseen.
func (x *Lab) markNoFast() {
	fp := x.fast
	want := make([]bool, len(fp.ports))
	mark := func(p verdict.Port) {
		if p >= 0 && int(p) < len(want) {
			want[p] = true
		}
	}
	if x.tap != nil {
		for _, p := range x.tap.Ports(nil) {
			mark(p)
		}
	}
	if x.mirror != nil {
		for _, s := range x.mirror.Sessions() {
			mark(s.SourcePort)
			mark(s.TargetPort)
		}
	}
	off := false
	for p := range fp.ports {
		port := fp.ports[p]
		w := want[p]
		if port == nil || port.noFast.Load() == w {
			continue
		}
		fl := uint32(0)
		if w {
			fl = fastpath.PortNoFast
		}
		if fp.dp.SetPort(port.peer, fastpath.Port{To: uint32(port.tun), Flags: fl}) == nil {
			port.noFast.Store(w)
			off = off || w
		}
	}
	if off {
		_ = x.bumpFast() // a failure leaves entries that time out as they would have
	}
}

// Entry flags of the installer: which ENIs track the flow.
const (
	fastSrcTracked = 1 << 0
	fastDstTracked = 1 << 1
)

// syncFast reads every entry back: new packets go to the sender's
// Counters, the flow logs and the conntrack entries' idle timers; dead
// entries go.
func (x *Lab) syncFast() {
	fp := x.fast
	snap := x.engine.Snapshot()
	gen := fp.gen.Load()
	mono, now := fastpath.Monotonic(), x.Now()
	var dead []fastpath.Key
	live := make(map[fastpath.Key]bool, len(fp.seen))
	if fp.shard != nil {
		fp.shard.Begin()
	}
	fp.dp.Walk(func(k *fastpath.Key, e *fastpath.Entry) bool {
		from, ok1 := fp.byIdx[k.Ifindex]
		to, ok2 := fp.byIdx[e.Egress]
		if e.Gen != gen || !ok1 || !ok2 {
			dead = append(dead, *k)
			return true
		}
		src, dst := k.Addrs()
		var pk conntrack.Packed
		fromLo := pk.Set(src, dst, k.Proto, k.SrcPort(), k.DstPort(), 0, 0, 0)
		prev := fp.seen[*k]
		live[*k] = true
		if dp := e.Packets - prev[0]; dp > 0 {
			db := e.Bytes - prev[1]
			fp.seen[*k] = [3]uint64{e.Packets, e.Bytes, e.Super}
			fp.hits.Add(dp)
			if d := x.dest(from); d != nil {
				d.Counters.allowedPackets.Add(dp)
				d.Counters.allowedBytes.Add(db)
				if ds := e.Super - prev[2]; ds > 0 {
					d.Counters.superPackets.Add(ds)
				}
			}
			at := now - (mono - e.Last)
			flags := uint8(0)
			if k.Proto == packet.ProtoTCP {
				flags = packet.TCPAck
			}
			for i, p := range [2]verdict.Port{from, to} {
				if e.Flags&(1<<i) != 0 {
					if t := snap.Table(p); t != nil {
						t.Lookup(&pk, fromLo, flags, at)
					}
				}
			}
			if fp.shard != nil {
				v := verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeConntrack, From: from, To: to}
				p := packet.Parsed{Family: k.Family, Proto: k.Proto, Src: src, Dst: dst, HasPorts: true, SrcPort: k.SrcPort(), DstPort: k.DstPort()}
				fp.shard.Observe(&v, &p, int(db), dp, at)
			}
		}
		for i, p := range [2]verdict.Port{from, to} {
			if e.Flags&(1<<i) != 0 {
				if t := snap.Table(p); t == nil {
					dead = append(dead, *k)
				} else if _, ok := t.Get(&pk, now); !ok {
					dead = append(dead, *k)
				}
			}
		}
		return true
	})
	if fp.shard != nil {
		fp.shard.End()
	}
	for i := range dead {
		fp.dp.Delete(&dead[i])
		delete(live, dead[i])
	}
	for k := range fp.seen {
		if !live[k] {
			delete(fp.seen, k)
		}
	}
}

// fastInstaller is the Observer of an ENI's forwarder that installs the
// entries of the flow directions it forwards (see the top of this file).
// It allocates nothing and takes no lock.
type fastInstaller struct {
	x      *Lab
	fp     *fastPath
	gen    uint32
	until  int64 // after a full map, no attempt before
	k      fastpath.Key
	e      fastpath.Entry
	pk     conntrack.Packed
	failed atomic.Uint64
}

// Begin reads the generation before the batch is judged: an entry judged
// by an older policy carries an older generation.
func (o *fastInstaller) Begin() { o.gen = o.fp.gen.Load() }
func (o *fastInstaller) End()   {}
func (o *fastInstaller) Judged(*verdict.Verdict, *packet.Parsed, []byte, []byte, uint64, int64) {
}

// Forwarded installs the entry of p's direction when the flow may take
// the fast path.
func (o *fastInstaller) Forwarded(v *verdict.Verdict, p *packet.Parsed, _, _ []byte, now int64) {
	fp := o.fp
	from, to := v.From, v.To
	if p.Proto == packet.ProtoTCP && p.TCPFlags&(packet.TCPFin|packet.TCPRst) != 0 {
		o.forget(from, to, p) // the close is the engine's, and so is every packet after it
		return
	}
	switch {
	case from < 0 || to < 0 || from == to || int(from) >= len(fp.ports) || int(to) >= len(fp.ports),
		!p.HasPorts || p.IsFragment,
		p.Proto != packet.ProtoTCP && p.Proto != packet.ProtoUDP,
		p.Proto == packet.ProtoTCP && p.TCPFlags&(packet.TCPSyn|packet.TCPFin|packet.TCPRst) != 0,
		now < o.until:
		return
	}
	src, dst := fp.ports[from], fp.ports[to]
	if src == nil || dst == nil || src.noFast.Load() || dst.noFast.Load() {
		return
	}
	snap := o.x.engine.Snapshot()
	o.pk.Set(p.Src, p.Dst, p.Proto, p.SrcPort, p.DstPort, 0, 0, 0)
	timeout := int64(1<<63 - 1)
	var flags uint16
	for i, port := range [2]verdict.Port{from, to} {
		t := snap.Table(port)
		if t == nil {
			return
		}
		info, live := t.Get(&o.pk, now)
		if !live {
			continue // untracked on this side: the generation guards it
		}
		if info.State != conntrack.Established && info.State != conntrack.UDPStream {
			return
		}
		timeout = min(timeout, int64(info.Idle+info.Expires))
		flags |= 1 << i
	}
	o.k.Set(src.peer, p)
	o.e = fastpath.Entry{Egress: uint32(dst.peer), Gen: o.gen, DstMAC: dst.mac, SrcMAC: dst.router, Flags: flags, Last: fastpath.Monotonic(), Timeout: timeout}
	if err := fp.dp.Install(&o.k, &o.e); err != nil {
		o.failed.Add(1)
		o.until = now + int64(100*time.Millisecond)
	}
}

// forget removes both directions of p's flow from the fast path: a FIN
// or RST moves its conntrack state on, and the packets after it (the ACKs
// that close it) must move it on too.
func (o *fastInstaller) forget(from, to verdict.Port, p *packet.Parsed) {
	fp := o.fp
	if from < 0 || to < 0 || int(from) >= len(fp.ports) || int(to) >= len(fp.ports) || !p.HasPorts {
		return
	}
	src, dst := fp.ports[from], fp.ports[to]
	if src == nil || dst == nil {
		return
	}
	o.k.Set(src.peer, p)
	fp.dp.Delete(&o.k)
	o.k.Ifindex = uint32(dst.peer)
	o.k.Src, o.k.Dst = o.k.Dst, o.k.Src
	o.k.Ports = [4]byte{o.k.Ports[2], o.k.Ports[3], o.k.Ports[0], o.k.Ports[1]}
	fp.dp.Delete(&o.k)
}

var _ Observer = (*fastInstaller)(nil)
