package demo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/live"
)

// Options adjust a run. The zero value means every default.
type Options struct {
	// Live is passed to live.Start (tests give each lab its own ID and
	// Prefix).
	Live live.Options
	// MaxCases caps the matrix; 0 means DefaultMaxCases.
	MaxCases int
	// Timeout is how long a dial, and then the echo, may take; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Started, when not nil, is called once the lab is up.
	Started func(*live.Lab)
}

// Run brings l up with live.Start, runs the cases of Cases(l) with RunLab,
// and closes the lab, also when ctx is cancelled (it then returns the
// cases done so far and ctx's error).
func Run(ctx context.Context, l *lab.Lab, o Options) (_ *Report, err error) {
	x, err := live.Start(l, o.Live)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := x.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("closing the lab: %w", cerr))
		}
	}()
	if o.Started != nil {
		o.Started(x)
	}
	return RunLab(ctx, x, l, Cases(l, o.MaxCases), o)
}

// RunLab runs cases on x, the running lab l: for each, the prediction and
// the observation. It stops early when ctx is done or the lab fails.
func RunLab(ctx context.Context, x *live.Lab, l *lab.Lab, cases []Case, o Options) (*Report, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	r := &Report{Lab: l.File}
	for i, c := range cases {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		select {
		case <-x.Failed():
			return r, errors.New("the lab failed; closing it says why")
		default:
		}
		out := Outcome{Case: c}
		if c.Port != 0 {
			out.Sport = FirstSourcePort + i
		}
		var err error
		if out.Predicted, out.Why, err = Predict(l, c, out.Sport); err != nil {
			return r, err
		}
		if out.Observed, out.Seen, err = Observe(x, c, out.Sport, i, timeout); err != nil {
			return r, fmt.Errorf("%s: %w", c.Name, err)
		}
		out.Agree = out.Predicted == out.Observed
		r.Cases = append(r.Cases, out)
		r.Total++
		if out.Agree {
			r.Agreed++
		}
	}
	return r, nil
}

// Observe tries c on x from source port sport (tcp, udp; 0 lets the kernel
// choose) or with echo identifier 0x7000+n (icmp): ok when the message
// came back within timeout, else seen says what the dial saw. err is a
// failure of the harness itself (a listener that cannot be opened).
func Observe(x *live.Lab, c Case, sport, n int, timeout time.Duration) (ok bool, seen string, err error) {
	src, err := nsOf(x, c.From)
	if err != nil {
		return false, "", err
	}
	dst, err := nsOf(x, c.To)
	if err != nil {
		return false, "", err
	}
	msg := fmt.Sprintf("vpclab demo %d: %s\n", n, c.Name)
	switch c.Proto {
	case "tcp":
		return observeTCP(src, dst, c, sport, msg, timeout)
	case "udp":
		return observeUDP(src, dst, c, sport, msg, timeout)
	case "icmp", "icmpv6":
		return observeEcho(src, c, 0x7000+n, msg, timeout)
	}
	return false, "", fmt.Errorf("no way to try protocol %s", c.Proto)
}

// inNS runs a function on a thread inside one namespace of the lab.
type inNS func(fn func() error) error

func nsOf(x *live.Lab, name string) (inNS, error) {
	ns := x.Plan().Internet()
	if name != Internet {
		ns = x.Plan().Instance(name)
	}
	if ns == nil {
		return nil, fmt.Errorf("the lab has no namespace for %s", name)
	}
	return func(fn func() error) error { return x.Net().Do(ns.Name, fn) }, nil
}

func hostPort(a netip.Addr, port int) string {
	return netip.AddrPortFrom(a, uint16(port)).String()
}

func network(base string, a netip.Addr) string {
	if a.Is6() {
		return base + "6"
	}
	return base + "4"
}

// describe turns a dial or read error into a few words.
func describe(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

func observeTCP(src, dst inNS, c Case, sport int, msg string, timeout time.Duration) (bool, string, error) {
	var ln net.Listener
	if err := dst(func() (err error) {
		ln, err = net.Listen(network("tcp", c.Dst), hostPort(c.Dst, c.Port))
		return err
	}); err != nil {
		return false, "", fmt.Errorf("listening on %s: %w", hostPort(c.Dst, c.Port), err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(2 * timeout))
				line, err := bufio.NewReader(conn).ReadString('\n')
				if err == nil {
					conn.Write([]byte(line))
				}
			}()
		}
	}()
	var conn net.Conn
	err := src(func() (err error) {
		d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: c.Src.AsSlice(), Port: sport}}
		conn, err = d.Dial(network("tcp", c.Dst), hostPort(c.Dst, c.Port))
		return err
	})
	if err != nil {
		return false, describe(err), nil
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(msg)); err != nil {
		return false, describe(err), nil
	}
	got, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return false, "connected, no echo: " + describe(err), nil
	}
	if got != msg {
		return false, fmt.Sprintf("echo %q", got), nil
	}
	return true, "", nil
}

func observeUDP(src, dst inNS, c Case, sport int, msg string, timeout time.Duration) (bool, string, error) {
	var pc net.PacketConn
	if err := dst(func() (err error) {
		pc, err = net.ListenPacket(network("udp", c.Dst), hostPort(c.Dst, c.Port))
		return err
	}); err != nil {
		return false, "", fmt.Errorf("listening on %s: %w", hostPort(c.Dst, c.Port), err)
	}
	defer pc.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	var conn *net.UDPConn
	err := src(func() (err error) {
		conn, err = net.DialUDP(network("udp", c.Dst),
			&net.UDPAddr{IP: c.Src.AsSlice(), Port: sport}, net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.Dst, uint16(c.Port))))
		return err
	})
	if err != nil {
		return false, describe(err), nil
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte(msg)); err != nil {
		return false, describe(err), nil
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		return false, describe(err), nil
	}
	if string(buf[:n]) != msg {
		return false, fmt.Sprintf("echo %q", buf[:n]), nil
	}
	return true, "", nil
}

// observeEcho sends one echo request from c.Src to c.Dst; the kernel of
// the destination's namespace answers it.
func observeEcho(src inNS, c Case, id int, msg string, timeout time.Duration) (bool, string, error) {
	netw, proto := "ip4:icmp", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if c.Dst.Is6() {
		netw, proto = "ip6:ipv6-icmp", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	var pc *icmp.PacketConn
	if err := src(func() (err error) {
		pc, err = icmp.ListenPacket(netw, c.Src.String())
		return err
	}); err != nil {
		return false, "", fmt.Errorf("opening an ICMP socket on %s: %w", c.Src, err)
	}
	defer pc.Close()
	req, err := (&icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: 1, Data: []byte(msg)}}).Marshal(nil)
	if err != nil {
		return false, "", err
	}
	if _, err := pc.WriteTo(req, &net.IPAddr{IP: c.Dst.AsSlice()}); err != nil {
		return false, describe(err), nil
	}
	pc.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 2048)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return false, describe(err), nil
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != replyType {
			continue
		}
		if a, ok := netip.AddrFromSlice(from.(*net.IPAddr).IP); !ok || a.Unmap() != c.Dst {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == 1 && string(e.Data) == msg {
			return true, "", nil
		}
	}
}
