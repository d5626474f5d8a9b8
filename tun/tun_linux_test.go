package tun

// Integration tests: real TUN devices in network namespaces made by the
// test, run as root (CI is root; without root or /dev/net/tun they fail with
// a message saying so). Namespaces are named vpclabtest-<pid>-<n>; each test
// deletes its own in t.Cleanup, and TestMain deletes those left by a test
// process that is no longer alive. No packet leaves these namespaces: the
// only addresses used are 198.18.0.0/15 (RFC 2544) and 2001:db8::/32
// (RFC 3849), on TUN links whose other end is this process.
//
// Single namespace (TestReadUDP, TestWrite, TestNoVnetHdr):
//
//	┌──────── netns vpclabtest-<pid>-<n> ────────┐
//	│ UDP socket 198.18.0.1 ──┐                  │
//	│            route 198.18.0.0/24 dev vtun0   │
//	│                         ▼                  │
//	│                vtun0 198.18.0.1/24         │
//	└─────────────────────────┼──────────────────┘
//	                          │ fd (created in the test's namespace, link moved)
//	                       NativeTun: Read gets what the socket sent to 198.18.0.2,
//	                       Write injects packets from 198.18.0.2 to the socket
//
// Two namespaces joined by the test, as the live lab joins ENIs (TestTCPGSO):
//
//	┌──── netns A ─────────────┐            ┌──── netns B ─────────────┐
//	│ TCP client               │            │ TCP server               │
//	│ vtunA 198.18.0.1/24      │            │ vtunB 198.18.1.1/24      │
//	│       2001:db8:a::1/64   │            │       2001:db8:b::1/64   │
//	│ route 198.18.1.0/24,     │            │ route 198.18.0.0/24,     │
//	│   2001:db8:b::/64 → vtunA│            │   2001:db8:a::/64 → vtunB│
//	└──────────┬───────────────┘            └───────────┬──────────────┘
//	           └─ fd A ── test forwarder: Read batch ── fd B ─┘
//	              (super-packets written whole; each also cut with GSOSplit
//	               and the pieces checked with gopacket)
//
// Forwarding namespace (TestReadWriteNoAllocs): one namespace with vtunA
// 198.18.0.1/24 and vtunB 198.18.1.1/24 and ip_forward=1; frames written to
// A from 198.18.0.2 to 198.18.1.2 are routed by the kernel out of B.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const nsPrefix = "vpclabtest-"

var nsSeq atomic.Int32

func TestMain(m *testing.M) {
	if os.Geteuid() == 0 {
		removeStaleNamespaces()
	}
	os.Exit(m.Run())
}

// removeStaleNamespaces deletes vpclabtest-<pid>-* namespaces whose pid is
// gone (a crashed earlier run); those of live processes are left alone.
func removeStaleNamespaces() {
	ents, _ := os.ReadDir("/var/run/netns")
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err == nil && pid != os.Getpid() && syscall.Kill(pid, 0) == syscall.ESRCH {
			netns.DeleteNamed(e.Name())
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatalf("this test needs root (CAP_NET_ADMIN) to create TUN devices and network namespaces; run it as root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		t.Fatalf("this test needs /dev/net/tun: %v", err)
	}
}

// newNS makes a named namespace without leaving the caller in it.
func newNS(t *testing.T) netns.NsHandle {
	t.Helper()
	requireRoot(t)
	name := fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), nsSeq.Add(1))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	ns, err := netns.NewNamed(name) // switches this thread into it
	if serr := netns.Set(orig); serr != nil {
		panic(serr) // never hand a thread in the wrong namespace back to Go
	}
	if err != nil {
		t.Fatalf("netns.NewNamed(%s): %v", name, err)
	}
	t.Cleanup(func() {
		ns.Close()
		netns.DeleteNamed(name)
	})
	return ns
}

// inNS runs fn on a thread switched into ns, then switches back.
func inNS(t *testing.T, ns netns.NsHandle, fn func() error) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		t.Fatal(err)
	}
	ferr := fn()
	if err := netns.Set(orig); err != nil {
		panic(err)
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
}

func sysctl(t *testing.T, ns netns.NsHandle, path, val string) {
	inNS(t, ns, func() error { return os.WriteFile("/proc/sys/"+path, []byte(val), 0o644) })
}

// openIn opens a device in ns, adds addrs, routes and brings it up, all
// through a netlink handle of ns.
func openIn(t *testing.T, ns netns.NsHandle, cfg Config, addrs []string, routes []string) *NativeTun {
	t.Helper()
	d, err := OpenInNamespace(ns, cfg)
	if err != nil {
		t.Fatalf("OpenInNamespace: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	link, err := h.LinkByIndex(d.Index())
	if err != nil {
		t.Fatal(err)
	}
	if link.Attrs().Name != cfg.Name {
		t.Fatalf("link is named %q in the namespace, want %q", link.Attrs().Name, cfg.Name)
	}
	for _, a := range addrs {
		pfx := netip.MustParsePrefix(a)
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}, Flags: unix.IFA_F_NODAD}); err != nil {
			t.Fatalf("AddrAdd %s: %v", a, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		pfx := netip.MustParsePrefix(r)
		if err := h.RouteAdd(&netlink.Route{LinkIndex: d.Index(), Dst: &net.IPNet{IP: pfx.Addr().AsSlice(), Mask: net.CIDRMask(pfx.Bits(), pfx.Addr().BitLen())}}); err != nil {
			t.Fatalf("RouteAdd %s: %v", r, err)
		}
	}
	return d
}

// readFrame reads frames until match accepts one (the kernel also sends
// IPv6 router solicitations and the like) or the deadline passes.
func readFrame(t *testing.T, d *NativeTun, match func(h VirtioNetHdr, pkt []byte) bool) (VirtioNetHdr, []byte) {
	t.Helper()
	bufs, sizes := outBuffers(8, MaxFrameSize)
	d.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer d.SetReadDeadline(time.Time{})
	for {
		n, err := d.Read(bufs, sizes, 0)
		if err != nil {
			t.Fatalf("Read: %v", err)
		}
		for i := range n {
			var h VirtioNetHdr
			if err := h.Decode(bufs[i]); err != nil {
				t.Fatal(err)
			}
			pkt := bufs[i][VirtioNetHdrLen:sizes[i]]
			if match(h, pkt) {
				return h, append([]byte(nil), pkt...)
			}
		}
	}
}

func isUDPTo(port int) func(VirtioNetHdr, []byte) bool {
	return func(_ VirtioNetHdr, p []byte) bool {
		return len(p) >= 28 && p[0]>>4 == 4 && p[9] == 17 && int(p[22])<<8|int(p[23]) == port
	}
}

func TestReadUDP(t *testing.T) {
	ns := newNS(t)
	d := openIn(t, ns, Config{Name: "vtun0", MTU: 1500, Offloads: DefaultOffloads}, []string{"198.18.0.1/24"}, nil)
	t.Logf("offloads: %v", d.Offloads())
	if d.Offloads()&(OffloadCsum|OffloadTSO4|OffloadTSO6) != OffloadCsum|OffloadTSO4|OffloadTSO6 {
		t.Fatalf("kernel refused csum/TSO: %v", d.Offloads())
	}
	if name, err := d.ifName(); err != nil || name != "vtun0" {
		t.Fatalf("TUNGETIFF after the move: %q, %v", name, err)
	}
	if mtu, err := d.MTU(); err != nil || mtu != 1500 {
		t.Fatalf("MTU: %d, %v", mtu, err)
	}

	var c net.PacketConn
	inNS(t, ns, func() (err error) { c, err = net.ListenPacket("udp4", "198.18.0.1:0"); return })
	defer c.Close()
	msg := []byte("hello through the TUN")
	if _, err := c.WriteTo(msg, &net.UDPAddr{IP: net.IP{198, 18, 0, 2}, Port: 9999}); err != nil {
		t.Fatal(err)
	}
	h, pkt := readFrame(t, d, isUDPTo(9999))
	if h.IsGSO() || h.Flags&VirtioNetHdrFNeedsCsum == 0 || h.CsumStart != 20 || h.CsumOffset != 6 {
		t.Fatalf("virtio header %+v: want NEEDS_CSUM, csum_start 20, csum_offset 6, no GSO", h)
	}
	if len(pkt) != 20+8+len(msg) {
		t.Fatalf("packet of %d bytes, want %d", len(pkt), 28+len(msg))
	}
	if err := CompleteChecksum(h, pkt); err != nil {
		t.Fatal(err)
	}
	if !ipv4HdrValid(pkt) || !l4Valid(pkt) {
		t.Fatal("bad checksum after CompleteChecksum")
	}
	p := gopacket.NewPacket(pkt, layers.LayerTypeIPv4, gopacket.Default)
	u, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if u == nil || string(u.Payload) != string(msg) {
		t.Fatalf("payload: %v", p)
	}
}

// udpFrame builds a frame (zero virtio header) from 198.18.0.2:5555 to dst.
func udpFrame(t *testing.T, dst *net.UDPAddr, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, SrcIP: net.IP{198, 18, 0, 2}, DstIP: dst.IP.To4(), Protocol: layers.IPProtocolUDP}
	u := &layers.UDP{SrcPort: 5555, DstPort: layers.UDPPort(dst.Port)}
	u.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ip, u, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return append(make([]byte, VirtioNetHdrLen), buf.Bytes()...)
}

// partial turns a frame's complete UDP checksum into a NEEDS_CSUM one.
func partial(f []byte) {
	pkt := f[VirtioNetHdrLen:]
	acc := sum16(pkt[12:20], 0)
	acc = sum16(nil, acc+uint32(len(pkt)-20)+17)
	pkt[26], pkt[27] = byte(acc>>8), byte(acc)
	VirtioNetHdr{Flags: VirtioNetHdrFNeedsCsum, CsumStart: 20, CsumOffset: 6}.Encode(f)
}

func testWrite(t *testing.T, cfg Config) {
	ns := newNS(t)
	d := openIn(t, ns, cfg, []string{"198.18.0.1/24"}, nil)
	var c *net.UDPConn
	inNS(t, ns, func() error {
		pc, err := net.ListenPacket("udp4", "198.18.0.1:0")
		c, _ = pc.(*net.UDPConn)
		return err
	})
	defer c.Close()
	dst := c.LocalAddr().(*net.UDPAddr)
	plain := udpFrame(t, dst, []byte("plain"))
	part := udpFrame(t, dst, []byte("partial checksum"))
	partial(part)
	if n, err := d.Write([][]byte{plain, part}, 0); err != nil || n != 2 {
		t.Fatalf("Write: %d, %v", n, err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 2048)
	for _, want := range []string{"plain", "partial checksum"} {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("socket did not get %q: %v", want, err)
		}
		if string(buf[:n]) != want || from.Port != 5555 || !from.IP.Equal(net.IP{198, 18, 0, 2}) {
			t.Fatalf("got %q from %v, want %q from 198.18.0.2:5555", buf[:n], from, want)
		}
	}
}

func TestWrite(t *testing.T) {
	testWrite(t, Config{Name: "vtun0", Offloads: DefaultOffloads})
}

// TestNoVnetHdr is the fallback without IFF_VNET_HDR: same frame layout,
// no offloads, GSO frames refused.
func TestNoVnetHdr(t *testing.T) {
	t.Run("write", func(t *testing.T) { testWrite(t, Config{Name: "vtun0", NoVnetHdr: true}) })
	t.Run("read", func(t *testing.T) {
		ns := newNS(t)
		d := openIn(t, ns, Config{Name: "vtun0", NoVnetHdr: true, Offloads: DefaultOffloads}, []string{"198.18.0.1/24"}, nil)
		if d.VnetHdr() || d.Offloads() != 0 {
			t.Fatalf("VnetHdr=%v Offloads=%v", d.VnetHdr(), d.Offloads())
		}
		var c net.PacketConn
		inNS(t, ns, func() (err error) { c, err = net.ListenPacket("udp4", "198.18.0.1:0"); return })
		defer c.Close()
		c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IP{198, 18, 0, 2}, Port: 9999})
		h, pkt := readFrame(t, d, isUDPTo(9999))
		if h != (VirtioNetHdr{}) || !l4Valid(pkt) {
			t.Fatalf("header %+v, checksum valid %v: want a zero header and a complete checksum", h, l4Valid(pkt))
		}
		gsoFrame := udpFrame(t, &net.UDPAddr{IP: net.IP{198, 18, 0, 1}, Port: 9}, make([]byte, 3000))
		VirtioNetHdr{GSOType: GSOUDPL4, GSOSize: 1000, Flags: VirtioNetHdrFNeedsCsum, CsumStart: 20, CsumOffset: 6}.Encode(gsoFrame)
		if n, err := d.Write([][]byte{gsoFrame}, 0); !errors.Is(err, ErrGSOUnsupported) || n != 0 {
			t.Fatalf("GSO frame to a device without vnet header: %d, %v", n, err)
		}
	})
	t.Run("no offloads with vnet header", func(t *testing.T) {
		ns := newNS(t)
		d := openIn(t, ns, Config{Name: "vtun0"}, []string{"198.18.0.1/24"}, nil)
		var c net.PacketConn
		inNS(t, ns, func() (err error) { c, err = net.ListenPacket("udp4", "198.18.0.1:0"); return })
		defer c.Close()
		c.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IP{198, 18, 0, 2}, Port: 9999})
		h, pkt := readFrame(t, d, isUDPTo(9999))
		if h.Flags&VirtioNetHdrFNeedsCsum != 0 || !l4Valid(pkt) {
			t.Fatalf("without TUN_F_CSUM the kernel must complete checksums: %+v", h)
		}
	})
}

// gsoStats is what the forwarder saw.
type gsoStats struct {
	mu       sync.Mutex
	frames   int
	gso      map[GSOType]int
	sizes    map[uint16]int
	problems []string
}

func (s *gsoStats) problem(format string, args ...any) {
	s.mu.Lock()
	if len(s.problems) < 10 {
		s.problems = append(s.problems, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

// forward moves frames from src to dst until src is closed, checking each
// super-packet by cutting it with GSOSplit.
func forward(src, dst *NativeTun, mtu int, st *gsoStats, wg *sync.WaitGroup) {
	defer wg.Done()
	bufs, sizes := outBuffers(src.BatchSize(), MaxFrameSize)
	segs, segSizes := outBuffers(64, 2048)
	for {
		n, err := src.Read(bufs, sizes, 0)
		if err != nil {
			return
		}
		for i := range n {
			var h VirtioNetHdr
			h.Decode(bufs[i])
			bufs[i] = bufs[i][:sizes[i]]
			if !h.IsGSO() {
				continue
			}
			pkt := bufs[i][VirtioNetHdrLen:]
			st.mu.Lock()
			st.gso[h.GSOType]++
			st.sizes[h.GSOSize]++
			st.mu.Unlock()
			k, err := GSOSplit(h, pkt, segs, segSizes, 0)
			if err != nil {
				st.problem("GSOSplit(%+v, %d bytes): %v", h, len(pkt), err)
				continue
			}
			l4 := 20
			if pkt[0]>>4 == 6 {
				l4 = 40
			}
			doff := int(pkt[l4+12]>>4) * 4
			if int(h.GSOSize)+l4+doff != mtu {
				st.problem("gso_size %d + headers %d != MTU %d", h.GSOSize, l4+doff, mtu)
			}
			total := 0
			for j := range k {
				seg := segs[j][:segSizes[j]]
				if !l4Valid(seg) || (l4 == 20 && !ipv4HdrValid(seg)) || len(seg) > mtu {
					st.problem("segment %d of %d: bad checksum or %d bytes > MTU", j, k, len(seg))
				}
				total += len(seg) - l4 - doff
			}
			if total != len(pkt)-l4-doff {
				st.problem("segments carry %d payload bytes, super-packet %d", total, len(pkt)-l4-doff)
			}
		}
		st.mu.Lock()
		st.frames += n
		st.mu.Unlock()
		if _, err := dst.Write(bufs[:n], 0); err != nil {
			st.problem("Write: %v", err)
		}
		for i := range n {
			bufs[i] = bufs[i][:cap(bufs[i])]
		}
	}
}

func TestTCPGSO(t *testing.T) {
	const mtu = 1500
	nsA, nsB := newNS(t), newNS(t)
	a := openIn(t, nsA, Config{Name: "vtunA", MTU: mtu, Offloads: DefaultOffloads}, []string{"198.18.0.1/24", "2001:db8:a::1/64"}, []string{"198.18.1.0/24", "2001:db8:b::/64"})
	b := openIn(t, nsB, Config{Name: "vtunB", MTU: mtu, Offloads: DefaultOffloads}, []string{"198.18.1.1/24", "2001:db8:b::1/64"}, []string{"198.18.0.0/24", "2001:db8:a::/64"})
	if a.Offloads()&(OffloadTSO4|OffloadTSO6) != OffloadTSO4|OffloadTSO6 {
		t.Fatalf("TSO not negotiated: %v", a.Offloads())
	}
	st := &gsoStats{gso: map[GSOType]int{}, sizes: map[uint16]int{}}
	var wg sync.WaitGroup
	wg.Add(2)
	go forward(a, b, mtu, st, &wg)
	go forward(b, a, mtu, st, &wg)
	t.Cleanup(func() { a.Close(); b.Close(); wg.Wait() })

	for _, tc := range []struct {
		name, network, server string
		want                  GSOType
	}{
		{"tcp4", "tcp4", "198.18.1.1", GSOTCPv4},
		{"tcp6", "tcp6", "[2001:db8:b::1]", GSOTCPv6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ln net.Listener
			inNS(t, nsB, func() (err error) { ln, err = net.Listen(tc.network, tc.server+":0"); return })
			defer ln.Close()
			const total = 8 << 20
			got := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- err
					return
				}
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				buf := make([]byte, 256<<10)
				n := 0
				for n < total {
					k, err := c.Read(buf)
					for i := range k {
						if buf[i] != byte((n+i)%251) {
							got <- fmt.Errorf("byte %d corrupted", n+i)
							return
						}
					}
					n += k
					if err != nil {
						got <- fmt.Errorf("after %d bytes: %w", n, err)
						return
					}
				}
				got <- nil
			}()
			var c net.Conn
			d := net.Dialer{Timeout: 5 * time.Second}
			inNS(t, nsA, func() (err error) { c, err = d.Dial(tc.network, ln.Addr().String()); return })
			defer c.Close()
			chunk := make([]byte, 256<<10)
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			for off := 0; off < total; off += len(chunk) {
				for i := range chunk {
					chunk[i] = byte((off + i) % 251)
				}
				if _, err := c.Write(chunk); err != nil {
					t.Fatalf("client write: %v", err)
				}
			}
			if err := <-got; err != nil {
				t.Fatalf("server: %v", err)
			}
			st.mu.Lock()
			defer st.mu.Unlock()
			t.Logf("frames forwarded so far: %d, super-packets by type: %v, by gso_size: %v", st.frames, st.gso, st.sizes)
			if st.gso[tc.want] == 0 {
				t.Fatalf("no %v super-packet seen", tc.want)
			}
			for _, p := range st.problems {
				t.Error(p)
			}
		})
	}
}

// TestReadWriteNoAllocs: Write to A and Read from B (the kernel forwards
// between them) allocate nothing in steady state.
func TestReadWriteNoAllocs(t *testing.T) {
	ns := newNS(t)
	sysctl(t, ns, "net/ipv6/conf/all/disable_ipv6", "1")
	sysctl(t, ns, "net/ipv6/conf/default/disable_ipv6", "1")
	sysctl(t, ns, "net/ipv4/ip_forward", "1")
	a := openIn(t, ns, Config{Name: "vtunA", Offloads: DefaultOffloads}, []string{"198.18.0.1/24"}, nil)
	b := openIn(t, ns, Config{Name: "vtunB", Offloads: DefaultOffloads}, []string{"198.18.1.1/24"}, nil)

	const batch = 16
	frame := udpFrame(t, &net.UDPAddr{IP: net.IP{198, 18, 1, 2}, Port: 7}, make([]byte, 1000))
	wbufs := make([][]byte, batch)
	for i := range wbufs {
		wbufs[i] = append([]byte(nil), frame...)
	}
	rbufs, sizes := outBuffers(batch, MaxFrameSize)
	b.SetReadDeadline(time.Now().Add(30 * time.Second))
	var failed error
	round := func() {
		if n, err := a.Write(wbufs, 0); err != nil || n != batch {
			failed = err
			return
		}
		for got := 0; got < batch; {
			n, err := b.Read(rbufs, sizes, 0)
			if err != nil {
				failed = err
				return
			}
			got += n
		}
	}
	round() // warm up: the first write routes, caches, grows the poller
	if failed != nil {
		t.Fatalf("warm-up: %v", failed)
	}
	allocs := testing.AllocsPerRun(200, round)
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("Write+Read of %d frames: %v allocations per round, want 0", batch, allocs)
	}
	var h VirtioNetHdr
	h.Decode(rbufs[0])
	if pkt := rbufs[0][VirtioNetHdrLen:sizes[0]]; len(pkt) != 1028 || pkt[8] != 63 {
		t.Fatalf("forwarded frame: %d bytes, TTL %d", len(pkt), pkt[8])
	}
}
