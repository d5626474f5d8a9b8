package fastpath

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/vpclab/vpclab/packet"
)

// DefaultMaxFlows is how many flow directions the map holds unless Load
// is told otherwise; when it is full, flows stay on the slow path.
const DefaultMaxFlows = 1 << 16

// maxPorts bounds the ports map: two entries per ENI.
const maxPorts = 1 << 13

// Key is a flow direction as the fast program reads it from a packet: the
// ifindex of the peer it arrived on, the family (4 or 6), the protocol,
// the ports as on the wire and the addresses (IPv4 in the first four
// bytes, the rest zero).
type Key struct {
	Ifindex uint32
	Proto   uint8
	Family  uint8
	_       uint16
	Ports   [4]byte // source port, then destination port, big-endian
	_       uint32  // the addresses are aligned for the program's 8-byte copies
	Src     [16]byte
	Dst     [16]byte
}

// KeySize is the size of a Key in the map.
const KeySize = int(unsafe.Sizeof(Key{}))

// Set makes k the key of packet p arriving on the peer with ifindex
// ifindex. p must be TCP or UDP with ports.
func (k *Key) Set(ifindex int, p *packet.Parsed) {
	*k = Key{Ifindex: uint32(ifindex), Proto: p.Proto, Family: p.Family}
	k.Ports = [4]byte{byte(p.SrcPort >> 8), byte(p.SrcPort), byte(p.DstPort >> 8), byte(p.DstPort)}
	putAddr(&k.Src, p.Src)
	putAddr(&k.Dst, p.Dst)
}

func putAddr(b *[16]byte, a netip.Addr) {
	if a.Is4() {
		v := a.As4()
		copy(b[:], v[:])
		return
	}
	*b = a.As16()
}

// Addrs returns the key's source and destination addresses.
func (k *Key) Addrs() (src, dst netip.Addr) {
	if k.Family == 4 {
		return netip.AddrFrom4([4]byte(k.Src[:4])), netip.AddrFrom4([4]byte(k.Dst[:4]))
	}
	return netip.AddrFrom16(k.Src), netip.AddrFrom16(k.Dst)
}

// SrcPort and DstPort return the key's ports.
func (k *Key) SrcPort() uint16 { return uint16(k.Ports[0])<<8 | uint16(k.Ports[1]) }
func (k *Key) DstPort() uint16 { return uint16(k.Ports[2])<<8 | uint16(k.Ports[3]) }

// Entry is what the fast program does with a flow direction's packets,
// and what it counted.
type Entry struct {
	Egress  uint32 // the ifindex of the destination peer
	Gen     uint32 // the generation the flow was judged in
	DstMAC  [6]byte
	Flags   uint16 // the installer's own (the fast program ignores them)
	SrcMAC  [6]byte
	_       uint16
	Packets uint64 // counted by the program
	Bytes   uint64 // IP bytes, counted by the program
	Last    int64  // CLOCK_MONOTONIC ns of the last packet (Install sets it)
	Timeout int64  // idle ns after which the entry no longer passes packets
	Super   uint64 // GSO super-packets among Packets, counted by the program
}

// EntrySize is the size of an Entry in the map.
const EntrySize = int(unsafe.Sizeof(Entry{}))

// Port is what the programs do on one device: a peer's packets go to the
// TUN device To when they miss (always with NoFast set); a TUN device's go
// to the peer To with an Ethernet header DstMAC, SrcMAC.
type Port struct {
	To     uint32
	Flags  uint32
	DstMAC [6]byte
	_      uint16
	SrcMAC [6]byte
	_      uint16
}

// PortNoFast in Port.Flags sends every packet of a peer to userspace.
const PortNoFast = 1

// Datapath is the loaded programs and their maps.
type Datapath struct {
	flows, ports, gen *ebpf.Map
	fast, deliver     *ebpf.Program

	mu    sync.Mutex
	links []link.Link
	cur   uint32 // the generation in force
}

// Load creates the maps and loads the programs: the kernel feature check
// of the eBPF datapath. Its error says what the kernel refused (no BPF
// for this user, a verifier without what the programs need, ...). A
// maxFlows of 0 means DefaultMaxFlows.
func Load(maxFlows int) (_ *Datapath, err error) {
	if maxFlows <= 0 {
		maxFlows = DefaultMaxFlows
	}
	d := &Datapath{cur: 1}
	defer func() {
		if err != nil {
			d.Close()
			err = fmt.Errorf("fastpath: %w", err)
		}
	}()
	if d.flows, err = ebpf.NewMap(&ebpf.MapSpec{Name: "vpclab_flows", Type: ebpf.Hash, KeySize: uint32(KeySize), ValueSize: uint32(EntrySize), MaxEntries: uint32(maxFlows)}); err != nil {
		return nil, fmt.Errorf("creating the flow map: %w", err)
	}
	if d.ports, err = ebpf.NewMap(&ebpf.MapSpec{Name: "vpclab_ports", Type: ebpf.Hash, KeySize: 4, ValueSize: uint32(unsafe.Sizeof(Port{})), MaxEntries: maxPorts}); err != nil {
		return nil, fmt.Errorf("creating the port map: %w", err)
	}
	if d.gen, err = ebpf.NewMap(&ebpf.MapSpec{Name: "vpclab_gen", Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1}); err != nil {
		return nil, fmt.Errorf("creating the generation map: %w", err)
	}
	if err = d.gen.Update(uint32(0), d.cur, ebpf.UpdateAny); err != nil {
		return nil, fmt.Errorf("setting the generation: %w", err)
	}
	if d.fast, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: "vpclab_fast", Type: ebpf.SchedCLS, License: "GPL", Instructions: fastInsns(d.flows.FD(), d.ports.FD(), d.gen.FD())}); err != nil {
		return nil, fmt.Errorf("loading the fast program: %w", err)
	}
	if d.deliver, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: "vpclab_deliver", Type: ebpf.SchedCLS, License: "GPL", Instructions: deliverInsns(d.ports.FD())}); err != nil {
		return nil, fmt.Errorf("loading the deliver program: %w", err)
	}
	return d, nil
}

// Attach attaches a program to the tcx ingress of the device with
// ifindex in the calling thread's network namespace: the fast program to a
// peer, or with deliver the deliver program to a TUN device. Close
// detaches it.
func (d *Datapath) Attach(ifindex int, deliver bool) error {
	p := d.fast
	if deliver {
		p = d.deliver
	}
	l, err := link.AttachTCX(link.TCXOptions{Interface: ifindex, Program: p, Attach: ebpf.AttachTCXIngress})
	if err != nil {
		return fmt.Errorf("fastpath: attaching to tcx ingress of ifindex %d: %w", ifindex, err)
	}
	d.mu.Lock()
	d.links = append(d.links, l)
	d.mu.Unlock()
	return nil
}

// SetPort sets what the programs do on the device with ifindex.
func (d *Datapath) SetPort(ifindex int, p Port) error {
	k := uint32(ifindex)
	if err := d.ports.Update(unsafe.Pointer(&k), unsafe.Pointer(&p), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("fastpath: setting port %d: %w", ifindex, err)
	}
	return nil
}

// MACPort returns a Port that sends to ifindex to with the given MACs.
func MACPort(to int, dst, src net.HardwareAddr) Port {
	p := Port{To: uint32(to)}
	copy(p.DstMAC[:], dst)
	copy(p.SrcMAC[:], src)
	return p
}

// Generation returns the generation in force: Install entries with it.
func (d *Datapath) Generation() uint32 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cur
}

// Bump moves the generation on: every entry installed before is dead for
// the next packet. It returns the new generation.
func (d *Datapath) Bump() (uint32, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	next := d.cur + 1
	if next == 0 {
		next = 1
	}
	k := uint32(0)
	if err := d.gen.Update(unsafe.Pointer(&k), unsafe.Pointer(&next), ebpf.UpdateAny); err != nil {
		return d.cur, fmt.Errorf("fastpath: moving the generation on: %w", err)
	}
	d.cur = next
	return next, nil
}

// ErrFull is returned by Install when the flow map holds as many entries
// as it can.
var ErrFull = errors.New("fastpath: the flow map is full")

// Install sets the entry of k (both must stay valid during the call; it
// allocates nothing).
func (d *Datapath) Install(k *Key, e *Entry) error {
	err := d.flows.Update(unsafe.Pointer(k), unsafe.Pointer(e), ebpf.UpdateAny)
	if errors.Is(err, unix.E2BIG) {
		return ErrFull
	}
	return err
}

// Lookup reads the entry of k into e, reporting whether there is one.
func (d *Datapath) Lookup(k *Key, e *Entry) bool {
	return d.flows.Lookup(unsafe.Pointer(k), unsafe.Pointer(e)) == nil
}

// Delete removes the entry of k, if any. It allocates nothing, the entry
// there or not: the forwarder calls it for both directions of every flow a
// FIN or RST ends, most never installed (a SYN flood's RSTs), and
// cilium/ebpf's Map.Delete allocates its error for a missing key (two
// allocations a call: under bench/flood's SYN flood on the eBPF datapath
// the lab's heap grew by 18 MB of garbage and its resident set from 19.6
// to 40.3 MB, against 24.6 to 25.9 MB without).
func (d *Datapath) Delete(k *Key) error {
	attr := deleteAttr{fd: uint32(d.flows.FD()), key: unsafe.Pointer(k)}
	_, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_DELETE_ELEM, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	switch errno {
	case 0, unix.ENOENT:
		return nil
	}
	return fmt.Errorf("fastpath: deleting a flow entry: %w", errno)
}

// deleteAttr is the kernel's union bpf_attr for BPF_MAP_DELETE_ELEM:
// map_fd, then the key as a 64-bit pointer (padded on 32-bit machines,
// little-endian ones: the programs run only there).
type deleteAttr struct {
	fd  uint32
	_   uint32
	key unsafe.Pointer
	_   [8 - unsafe.Sizeof(uintptr(0))]byte
	_   [16]byte // value, flags: unused
}

// Walk calls fn with every entry in the map, until fn returns false. fn
// may Delete the entry it was given. The entries are read one at a time,
// so the counters of each are as of its reading.
func (d *Datapath) Walk(fn func(k *Key, e *Entry) bool) error {
	var k Key
	var e Entry
	it := d.flows.Iterate()
	for it.Next(unsafe.Pointer(&k), unsafe.Pointer(&e)) {
		if !fn(&k, &e) {
			return nil
		}
	}
	return it.Err()
}

// Len counts the entries in the map.
func (d *Datapath) Len() int {
	n := 0
	d.Walk(func(*Key, *Entry) bool { n++; return true })
	return n
}

// Close detaches the programs and releases the maps.
func (d *Datapath) Close() error {
	d.mu.Lock()
	links := d.links
	d.links = nil
	d.mu.Unlock()
	var errs []error
	for _, l := range links {
		errs = append(errs, l.Close())
	}
	for _, c := range []interface{ Close() error }{d.fast, d.deliver, d.flows, d.ports, d.gen} {
		if c != nil && !isNil(c) {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

func isNil(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *ebpf.Map:
		return v == nil
	case *ebpf.Program:
		return v == nil
	}
	return false
}

// Monotonic returns CLOCK_MONOTONIC in nanoseconds: the clock of
// Entry.Last.
func Monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
