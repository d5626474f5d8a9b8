package services

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/lab"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/channel"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// The fixed service addresses (spec §6).
var (
	dnsAddrs  = []netip.Addr{netip.MustParseAddr("169.254.169.253"), netip.MustParseAddr("fd00:ec2::253")}
	imdsAddrs = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}
	ntpAddrs  = []netip.Addr{netip.MustParseAddr("169.254.169.123"), netip.MustParseAddr("fd00:ec2::123")}
)

// ErrClosed is returned by Read once Services is closed.
var ErrClosed = errors.New("services: closed")

// Options adjust the services. The zero value means every default.
type Options struct {
	// MTU is the largest packet the stack sends; default 1500. Set it to
	// the ENIs' MTU. Read's buffers must hold this many bytes.
	MTU int
	// QueueLen is how many outgoing packets wait for Read before the
	// stack drops more; default 1024.
	QueueLen int
	// IMDSv2Only makes metadata refuse requests without a token (AWS's
	// HttpTokens "required"). The lab file has no key for it yet.
	IMDSv2Only bool
	// Now is the clock of Time Sync and of IMDS token expiry; default
	// time.Now.
	Now func() time.Time
}

func (o *Options) now() time.Time { return o.Now() }

// Services is a running set of VPC services on one netstack.
type Services struct {
	stack *stack.Stack
	ep    *channel.Endpoint
	mtu   int
	addrs []netip.Addr
	zone  *Zone
	imds  *IMDS
	opts  Options

	http    *http.Server
	conns   []*gonet.UDPConn // DNS and NTP sockets
	wg      sync.WaitGroup   // service goroutines
	httpWG  sync.WaitGroup   // open HTTP connections
	closing atomic.Bool
	dropped atomic.Uint64

	closeOnce sync.Once
}

const nicID = 1

// New starts the services of lab l (see the package doc). l must come
// from labfile.Load or labfile.Parse. Close releases them.
func New(l *lab.Lab, o Options) (_ *Services, err error) {
	if o.MTU == 0 {
		o.MTU = 1500
	}
	if o.QueueLen == 0 {
		o.QueueLen = 1024
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	dir, err := newDirectory(l)
	if err != nil {
		return nil, err
	}
	s := &Services{
		stack: stack.New(stack.Options{
			NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
			TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
		}),
		ep:   channel.New(o.QueueLen, uint32(o.MTU), ""),
		mtu:  o.MTU,
		zone: newZone(dir),
		imds: newIMDS(dir, &o),
		opts: o,
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if e := s.stack.CreateNIC(nicID, s.ep); e != nil {
		return nil, errors.New("services: creating the NIC: " + e.String())
	}
	vpcDNS := l.VPC.CIDR.Masked().Addr().Next().Next()
	s.addrs = append(s.addrs, vpcDNS)
	s.addrs = append(s.addrs, dnsAddrs...)
	s.addrs = append(s.addrs, imdsAddrs...)
	s.addrs = append(s.addrs, ntpAddrs...)
	for _, sn := range l.Subnets {
		for _, c := range []netip.Prefix{sn.CIDR, sn.IPv6CIDR} {
			if r := c.Masked().Addr().Next(); c.IsValid() && r != vpcDNS {
				s.addrs = append(s.addrs, r)
			}
		}
	}
	for _, a := range s.addrs {
		pa := tcpip.ProtocolAddress{Protocol: netProto(a), AddressWithPrefix: tcpip.AddrFromSlice(a.AsSlice()).WithPrefix()}
		if e := s.stack.AddProtocolAddress(nicID, pa, stack.AddressProperties{}); e != nil {
			return nil, errors.New("services: adding " + a.String() + ": " + e.String())
		}
	}
	s.stack.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})

	dns := append([]netip.Addr{vpcDNS}, dnsAddrs...)
	for _, a := range dns {
		if err := s.serveUDP(a, 53, s.dnsLoop); err != nil {
			return nil, err
		}
	}
	for _, a := range ntpAddrs {
		if err := s.serveUDP(a, 123, s.ntpLoop); err != nil {
			return nil, err
		}
	}
	s.http = &http.Server{
		Handler:           s.imds,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       60 * time.Second,
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.httpWG.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.httpWG.Done()
			}
		},
	}
	for _, a := range imdsAddrs {
		ln, err := gonet.ListenTCP(s.stack, fullAddr(a, 80), netProto(a))
		if err != nil {
			return nil, err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.http.Serve(listener{ln})
		}()
	}
	return s, nil
}

// Update makes the services answer for l, a new policy of the same lab
// (same instances, interfaces and addresses; only security groups and
// settings such as the metadata mode may differ), from the next request
// on.
func (s *Services) Update(l *lab.Lab) error {
	dir, err := newDirectory(l)
	if err != nil {
		return err
	}
	s.imds.update(dir)
	return nil
}

// listener makes Close wake a blocked Accept: gonet's Close alone does not.
type listener struct{ *gonet.TCPListener }

func (l listener) Close() error {
	l.Shutdown()
	return l.TCPListener.Close()
}

// serveUDP binds a UDP socket at a:port and runs loop on it.
func (s *Services) serveUDP(a netip.Addr, port uint16, loop func(*gonet.UDPConn)) error {
	la := fullAddr(a, port)
	c, err := gonet.DialUDP(s.stack, &la, nil, netProto(a))
	if err != nil {
		return err
	}
	s.conns = append(s.conns, c)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		loop(c)
	}()
	return nil
}

// dnsLoop answers the DNS queries arriving on c until c is closed.
func (s *Services) dnsLoop(c *gonet.UDPConn) {
	req := make([]byte, 1500)
	resp := make([]byte, 0, 512)
	for {
		n, from, err := c.ReadFrom(req)
		if err != nil {
			return
		}
		if m, ok := s.zone.Answer(req[:n], resp[:0]); ok && len(m) <= 512 {
			c.WriteTo(m, from)
		}
	}
}

// ntpLoop answers the SNTP requests arriving on c until c is closed.
func (s *Services) ntpLoop(c *gonet.UDPConn) {
	req := make([]byte, 512)
	resp := make([]byte, ntpPacketLen)
	for {
		n, from, err := c.ReadFrom(req)
		if err != nil {
			return
		}
		rx := s.opts.Now()
		if m, ok := SNTPReply(req[:n], resp, rx, s.opts.Now(), timeSyncRefID); ok {
			c.WriteTo(resp[:m], from)
		}
	}
}

// Addrs returns every address the services hold: the DNS server at the
// VPC's base + 2, the fixed service addresses, then each subnet's router
// addresses. The caller must not modify it.
func (s *Services) Addrs() []netip.Addr { return s.addrs }

// Zone returns the DNS zone the services answer from.
func (s *Services) Zone() *Zone { return s.zone }

// IMDS returns the metadata handler the services serve on port 80.
func (s *Services) IMDS() *IMDS { return s.imds }

// Dropped counts the outgoing packets Read discarded because they did
// not fit the caller's buffer.
func (s *Services) Dropped() uint64 { return s.dropped.Load() }

// Inject hands the stack one IP packet, IPv4 or IPv6 by its version,
// with complete checksums and no virtio header. It copies pkt: the caller
// may reuse it when Inject returns. Replies the stack makes at once are
// queued for Read before Inject returns. A packet that is not IP is
// ignored, as is every packet after Close. Inject may be called from
// several goroutines.
func (s *Services) Inject(pkt []byte) {
	if len(pkt) == 0 || s.closing.Load() {
		return
	}
	var proto tcpip.NetworkProtocolNumber
	switch pkt[0] >> 4 {
	case 4:
		proto = ipv4.ProtocolNumber
	case 6:
		proto = ipv6.ProtocolNumber
	default:
		return
	}
	pb := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(pkt)})
	s.ep.InjectInbound(proto, pb)
	pb.DecRef()
}

// Read copies outgoing IP packets (complete checksums, no virtio header)
// into bufs[i][offset:], with their lengths in sizes[i], as
// tun.Device.Read does: it blocks until one packet is there, then takes
// whatever else is queued, up to len(bufs), without blocking again. The
// buffers stay the caller's; Read keeps no reference to them. Each
// buffer should hold offset + the MTU bytes: a packet that does not fit
// is dropped and counted in Dropped. Read returns ctx.Err() when ctx is
// done first and ErrClosed after Close. Use one reader at a time.
func (s *Services) Read(ctx context.Context, bufs [][]byte, sizes []int, offset int) (n int, err error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	pkt := s.ep.ReadContext(ctx)
	for pkt != nil {
		if s.copyOut(pkt, bufs[n][offset:], &sizes[n]) {
			n++
		}
		if n == len(bufs) {
			break
		}
		pkt = s.ep.Read()
	}
	if n > 0 {
		return n, nil
	}
	if s.closing.Load() {
		return 0, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// Every packet dropped: wait for the next.
	return s.Read(ctx, bufs, sizes, offset)
}

// copyOut copies pkt into dst, sets *size and releases pkt. It reports
// false, counting a drop, when pkt does not fit.
func (s *Services) copyOut(pkt *stack.PacketBuffer, dst []byte, size *int) bool {
	defer pkt.DecRef()
	if pkt.Size() > len(dst) {
		s.dropped.Add(1)
		return false
	}
	vl, off := pkt.AsViewList()
	n := 0
	for v := vl.Front(); v != nil; v = v.Next() {
		b := v.AsSlice()
		if off >= len(b) {
			off -= len(b)
			continue
		}
		n += copy(dst[n:], b[off:])
		off = 0
	}
	*size = n
	return true
}

// Close stops the services: it closes their sockets and the HTTP server,
// waits for every goroutine they started, then closes the stack. A Read
// blocked in another goroutine returns ErrClosed. Close is idempotent.
func (s *Services) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		if s.http != nil {
			s.http.Close()
		}
		for _, c := range s.conns {
			c.Close()
		}
		s.wg.Wait()
		s.httpWG.Wait()
		s.stack.Close()
		s.stack.Wait()
		s.ep.Close()
	})
	return nil
}

func netProto(a netip.Addr) tcpip.NetworkProtocolNumber {
	if a.Is4() {
		return ipv4.ProtocolNumber
	}
	return ipv6.ProtocolNumber
}

func fullAddr(a netip.Addr, port uint16) tcpip.FullAddress {
	return tcpip.FullAddress{NIC: nicID, Addr: tcpip.AddrFromSlice(a.AsSlice()), Port: port}
}
