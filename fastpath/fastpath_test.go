package fastpath

import (
	"bytes"
	"net/netip"
	"os"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/vpclab/vpclab/packet"
)

// load loads the programs; the tests need root (CI runs them as root).
func load(t *testing.T) *Datapath {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("fastpath tests load BPF programs: run them as root")
	}
	d, err := Load(64)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestSkbOffsets checks the __sk_buff offsets the programs read against
// the running kernel's BTF.
func TestSkbOffsets(t *testing.T) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		t.Fatalf("the kernel's BTF (/sys/kernel/btf/vmlinux): %v", err)
	}
	var s *btf.Struct
	if err := spec.TypeByName("__sk_buff", &s); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint32{"len": skbLen, "protocol": skbProtocol, "ifindex": skbIfindex, "data": skbData, "data_end": skbDataEnd, "gso_segs": skbGSOSegs}
	for _, m := range s.Members {
		if off, ok := want[m.Name]; ok {
			if got := uint32(m.Offset.Bytes()); got != off {
				t.Errorf("__sk_buff.%s at %d, the programs read %d", m.Name, got, off)
			}
			delete(want, m.Name)
		}
	}
	if len(want) > 0 {
		t.Errorf("__sk_buff has no %v", want)
	}
}

const (
	tcActRedirect = 7
	loIfindex     = 1 // BPF_PROG_TEST_RUN runs on the loopback device
)

var (
	dstMAC = [6]byte{2, 1, 2, 3, 4, 5}
	srcMAC = [6]byte{2, 9, 8, 7, 6, 5}
)

// frame builds an Ethernet frame around the packet s describes.
func frame(t *testing.T, s packet.Spec) []byte {
	t.Helper()
	eth := make([]byte, ethLen, 200)
	if s.Src.Is4() {
		eth[12], eth[13] = 0x08, 0x00
	} else {
		eth[12], eth[13] = 0x86, 0xdd
	}
	return s.Append(eth)
}

func run(t *testing.T, d *Datapath, in []byte) (uint32, []byte) {
	t.Helper()
	out := make([]byte, len(in)+256)
	ret, err := d.fast.Run(&ebpf.RunOptions{Data: in, DataOut: out})
	if err != nil {
		t.Fatalf("running the fast program: %v", err)
	}
	return ret, out
}

func TestFastProgram(t *testing.T) {
	d := load(t)
	if err := d.SetPort(loIfindex, Port{To: 99}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		spec packet.Spec
	}{
		{"tcp4", packet.Spec{Src: netip.MustParseAddr("10.0.1.10"), Dst: netip.MustParseAddr("10.0.2.20"), Proto: packet.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: packet.TCPAck, Payload: 100}},
		{"udp4", packet.Spec{Src: netip.MustParseAddr("10.0.1.10"), Dst: netip.MustParseAddr("10.0.2.20"), Proto: packet.ProtoUDP, SrcPort: 5353, DstPort: 53, Payload: 18}},
		{"tcp6", packet.Spec{Src: netip.MustParseAddr("2600:1f18::10"), Dst: netip.MustParseAddr("2600:1f18:0:2::20"), Proto: packet.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: packet.TCPAck | packet.TCPPsh, Payload: 100}},
		{"udp6", packet.Spec{Src: netip.MustParseAddr("2600:1f18::10"), Dst: netip.MustParseAddr("2600:1f18:0:2::20"), Proto: packet.ProtoUDP, SrcPort: 1000, DstPort: 2000, Payload: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := frame(t, tc.spec)
			var p packet.Parsed
			if r := p.Decode(in[ethLen:]); r != packet.OK {
				t.Fatalf("decode: %v", r)
			}
			var k Key
			k.Set(loIfindex, &p)
			// No entry: to userspace, untouched.
			if ret, out := run(t, d, in); ret != tcActRedirect || !bytes.Equal(out[:len(in)], in) {
				t.Fatalf("miss: ret %d, packet changed %v", ret, !bytes.Equal(out[:len(in)], in))
			}
			e := Entry{Egress: 7, Gen: d.Generation(), DstMAC: dstMAC, SrcMAC: srcMAC, Last: Monotonic(), Timeout: 60e9}
			if err := d.Install(&k, &e); err != nil {
				t.Fatal(err)
			}
			ret, out := run(t, d, in)
			if ret != tcActRedirect {
				t.Fatalf("hit: ret %d", ret)
			}
			want := append([]byte(nil), in...)
			copy(want[0:6], dstMAC[:])
			copy(want[6:12], srcMAC[:])
			packet.DecrementHop(want[ethLen:])
			if !bytes.Equal(out[:len(in)], want) {
				t.Fatalf("hit: got\n% x\nwant\n% x", out[:len(in)], want)
			}
			var got Entry
			if !d.Lookup(&k, &got) || got.Packets != 1 || got.Bytes != uint64(len(in)-ethLen) || got.Last < e.Last {
				t.Fatalf("after a hit the entry is %+v", got)
			}
			// A new generation: the entry is dead.
			if _, err := d.Bump(); err != nil {
				t.Fatal(err)
			}
			if ret, out := run(t, d, in); ret != tcActRedirect || !bytes.Equal(out[:len(in)], in) {
				t.Fatalf("stale generation: ret %d, packet changed %v", ret, !bytes.Equal(out[:len(in)], in))
			}
			if !d.Lookup(&k, &got) || got.Packets != 1 {
				t.Fatalf("a stale entry counted: %+v", got)
			}
			// Idle past its timeout: dead too.
			e.Gen, e.Last, e.Timeout = d.Generation(), Monotonic()-2e9, 1e9
			d.Install(&k, &e)
			if ret, out := run(t, d, in); ret != tcActRedirect || !bytes.Equal(out[:len(in)], in) {
				t.Fatal("an idle entry passed a packet")
			}
			if err := d.Delete(&k); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFastProgramPunts: what the engine must see goes to userspace even
// with an entry of its flow.
func TestFastProgramPunts(t *testing.T) {
	d := load(t)
	d.SetPort(loIfindex, Port{To: 99})
	base := packet.Spec{Src: netip.MustParseAddr("10.0.1.10"), Dst: netip.MustParseAddr("10.0.2.20"), Proto: packet.ProtoTCP, SrcPort: 40000, DstPort: 443, TCPFlags: packet.TCPAck}
	var p packet.Parsed
	in := frame(t, base)
	p.Decode(in[ethLen:])
	var k Key
	k.Set(loIfindex, &p)
	e := Entry{Egress: 7, Gen: d.Generation(), Last: Monotonic(), Timeout: 60e9}
	if err := d.Install(&k, &e); err != nil {
		t.Fatal(err)
	}
	if ret, out := run(t, d, in); ret != tcActRedirect || bytes.Equal(out[:len(in)], in) {
		t.Fatal("the entry does not pass its packet")
	}
	for name, mod := range map[string]func(*packet.Spec){
		"fin":      func(s *packet.Spec) { s.TCPFlags |= packet.TCPFin },
		"rst":      func(s *packet.Spec) { s.TCPFlags = packet.TCPRst },
		"syn":      func(s *packet.Spec) { s.TCPFlags = packet.TCPSyn },
		"ttl1":     func(s *packet.Spec) { s.TTL = 1 },
		"fragment": func(s *packet.Spec) { s.MoreFrags = true },
	} {
		s := base
		mod(&s)
		in := frame(t, s)
		if ret, out := run(t, d, in); ret != tcActRedirect || !bytes.Equal(out[:len(in)], in) {
			t.Errorf("%s: not sent to userspace untouched", name)
		}
	}
	// Neither IPv4 nor IPv6: dropped.
	arp := append([]byte(nil), in...)
	arp[12], arp[13] = 0x08, 0x06
	if ret, _ := run(t, d, arp); ret != tcActShot {
		t.Errorf("ARP: ret %d, want a drop", ret)
	}
	// NoFast: everything to userspace.
	d.SetPort(loIfindex, Port{To: 99, Flags: PortNoFast})
	if ret, out := run(t, d, in); ret != tcActRedirect || !bytes.Equal(out[:len(in)], in) {
		t.Error("NoFast: a packet took the fast path")
	}
}

// TestInstallAllocs: installing allocates nothing.
func TestInstallAllocs(t *testing.T) {
	d := load(t)
	var k Key
	k.Family, k.Proto = 4, packet.ProtoTCP
	e := Entry{Gen: 1}
	if n := testing.AllocsPerRun(100, func() { d.Install(&k, &e) }); n != 0 {
		t.Errorf("Install allocates %v times", n)
	}
}

// TestDeleteAllocs: removing an entry, there or not (the engine forgets
// both directions of every flow a FIN or RST ends, installed or not),
// allocates nothing.
func TestDeleteAllocs(t *testing.T) {
	d := load(t)
	var k Key
	k.Family, k.Proto = 4, packet.ProtoTCP
	e := Entry{Gen: 1}
	if n := testing.AllocsPerRun(100, func() {
		if err := d.Delete(&k); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Delete of a missing entry allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		d.Install(&k, &e)
		if err := d.Delete(&k); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Install and Delete allocate %v times", n)
	}
	if d.Lookup(&k, &e) {
		t.Error("the entry is still there after Delete")
	}
}
