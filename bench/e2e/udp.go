//go:build linux

package main

// The small-packet UDP test's default sender and receiver (-udp-sender
// mmsg): a batch sender using sendmmsg(2) and a batch receiver using
// recvmmsg(2), both through golang.org/x/net/ipv4's PacketConn (WriteBatch
// and ReadBatch are single sendmmsg and recvmmsg system calls on Linux).
// iperf3 -u sends one datagram per system call, so on a small machine its
// sender, not the forwarder, sets the rate; a batch sender offers the
// forwarder several times as many packets per second of sender CPU.
//
// Both run as this program re-executed inside a namespace with
// "ip netns exec NS PROGRAM -udp-role recv|send -udp-addr IP:PORT", each a
// process of its own as iperf3's client and server are, so that they do not
// share the lab's Go scheduler (GOMAXPROCS is 1 on 2 CPUs) with its
// dataplane goroutines. The protocol between parent and child:
//
//   - the receiver binds IP:PORT, writes "ready" and a newline to stdout,
//     counts the datagrams of exactly -l bytes it receives until its stdin
//     is closed, then writes a udpResult as JSON;
//   - the sender connects to IP:PORT, sends one datagram of 1 byte (which
//     the receiver ignores) and waits 200 ms, so that the neighbour and
//     conntrack entries on the path exist before the clock starts; it then
//     sends -l-byte datagrams in batches of -batch for -t seconds and writes
//     a udpResult as JSON.
//
// The parent closes the receiver's stdin 500 ms after the sender has
// exited, to let what is still queued on the path arrive. The received
// rate is received datagrams over the sender's seconds, as iperf3 reports
// it (packets less lost packets, over the test's seconds).

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

var (
	udpSender = flag.String("udp-sender", "mmsg", "the small-packet UDP test's sender and receiver: \"mmsg\" (this program, sendmmsg/recvmmsg, see udp.go) or \"iperf3\" (iperf3 -u -b 0)")
	udpBatch  = flag.Int("batch", 64, "with -udp-sender mmsg: datagrams per sendmmsg and recvmmsg call")
	udpRole   = flag.String("udp-role", "", "internal: run as the mmsg test's \"send\" or \"recv\" side (the parent runs it in a namespace)")
	udpAddr   = flag.String("udp-addr", "", "internal: with -udp-role, the receiver's IP:PORT")
)

// udpRcvBuf is the receiver's socket buffer (SO_RCVBUFFORCE): 4 MiB holds
// some 10 ms of datagrams at the rates measured here (each 64-byte datagram
// is charged about 768 bytes of buffer), so that a receiver descheduled
// for a moment does not count as the path's loss.
const udpRcvBuf = 4 << 20

// maxBatch is the kernel's cap on the datagrams of one sendmmsg or
// recvmmsg call (UIO_MAXIOV in include/uapi/linux/uio.h).
const maxBatch = 1024

// udpResult is what a -udp-role child writes to stdout when done.
type udpResult struct {
	Datagrams int64   `json:"datagrams"` // sent, or received of -l bytes
	Seconds   float64 `json:"seconds"`   // the sender's timed run; the receiver's first to last datagram
	Calls     int64   `json:"calls"`     // sendmmsg or recvmmsg calls that moved datagrams
	// RcvbufErrors is, for the receiver, how many datagrams its namespace's
	// UDP sockets dropped for a full receive buffer during the test
	// (RcvbufErrors of /proc/net/snmp): loss at the receiver, not on the path.
	RcvbufErrors int64 `json:"rcvbuf_errors"`
}

// rcvbufErrors returns the Udp RcvbufErrors counter of the calling
// thread's network namespace.
func rcvbufErrors() (int64, error) {
	b, err := os.ReadFile("/proc/thread-self/net/snmp")
	if err != nil {
		return 0, err
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "Udp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, name := range names {
			if name == "RcvbufErrors" && i < len(f) {
				return strconv.ParseInt(f[i], 10, 64)
			}
		}
	}
	return 0, errors.New("/proc/thread-self/net/snmp: no Udp RcvbufErrors")
}

// udpChild runs the side -udp-role names and writes its udpResult to stdout.
func udpChild() error {
	ap, err := netip.ParseAddrPort(*udpAddr)
	if err != nil {
		return fmt.Errorf("-udp-addr %q: %w", *udpAddr, err)
	}
	if *udpLen < 2 || *udpLen > 65507 {
		return fmt.Errorf("-l %d: want 2 to 65507 bytes", *udpLen)
	}
	if *udpBatch < 1 || *udpBatch > maxBatch {
		return fmt.Errorf("-batch %d: want 1 to %d", *udpBatch, maxBatch)
	}
	var r udpResult
	switch *udpRole {
	case "send":
		r, err = udpSend(ap)
	case "recv":
		r, err = udpRecv(ap)
	default:
		return fmt.Errorf("-udp-role %q: want send or recv", *udpRole)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// batch returns -batch messages, each of one buffer of length n.
func batch(n int) []ipv4.Message {
	ms := make([]ipv4.Message, *udpBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, n)}
	}
	return ms
}

// udpSend sends -l-byte datagrams to ap in batches for -t seconds.
func udpSend(ap netip.AddrPort) (udpResult, error) {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return udpResult{}, err
	}
	defer c.Close()
	// The warm-up datagram: 1 byte, which the receiver does not count.
	if _, err := c.Write([]byte{0}); err != nil {
		return udpResult{}, fmt.Errorf("warm-up datagram: %w", err)
	}
	time.Sleep(200 * time.Millisecond)

	pc := ipv4.NewPacketConn(c)
	ms := batch(*udpLen)
	var r udpResult
	start := time.Now()
	end := start.Add(time.Duration(*secs) * time.Second)
	for {
		n, err := pc.WriteBatch(ms, 0)
		if err != nil {
			return r, fmt.Errorf("sendmmsg after %d datagrams: %w", r.Datagrams, err)
		}
		r.Datagrams += int64(n)
		r.Calls++
		// time.Now reads the vDSO clock: some 20 ns a call, under 1% of a
		// batch of 64.
		if now := time.Now(); !now.Before(end) {
			r.Seconds = now.Sub(start).Seconds()
			return r, nil
		}
	}
}

// udpRecv counts the -l-byte datagrams arriving at ap until stdin closes.
func udpRecv(ap netip.AddrPort) (udpResult, error) {
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return udpResult{}, err
	}
	defer c.Close()
	raw, err := c.SyscallConn()
	if err != nil {
		return udpResult{}, err
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, udpRcvBuf)
	}); err != nil || serr != nil {
		return udpResult{}, fmt.Errorf("SO_RCVBUFFORCE %d: %w", udpRcvBuf, errors.Join(err, serr))
	}
	drops0, err := rcvbufErrors()
	if err != nil {
		return udpResult{}, err
	}
	var stop atomic.Bool
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop.Store(true)
	}()
	if _, err := fmt.Println("ready"); err != nil {
		return udpResult{}, err
	}

	pc := ipv4.NewPacketConn(c)
	ms := batch(*udpLen + 1) // a longer datagram is seen as longer, not cut to -l
	var r udpResult
	var first, last time.Time
	for !stop.Load() {
		// The deadline bounds how long a finished test waits for stop.
		if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
			return r, err
		}
		n, err := pc.ReadBatch(ms, 0)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return r, fmt.Errorf("recvmmsg after %d datagrams: %w", r.Datagrams, err)
		}
		got := int64(0)
		for i := range ms[:n] {
			if ms[i].N == *udpLen {
				got++
			}
		}
		if got > 0 {
			last = time.Now()
			if first.IsZero() {
				first = last
			}
			r.Datagrams += got
			r.Calls++
		}
	}
	r.Seconds = last.Sub(first).Seconds()
	drops, err := rcvbufErrors()
	r.RcvbufErrors = drops - drops0
	return r, err
}

// measureMmsg runs the mmsg UDP test from namespace cli to a receiver in
// namespace srv bound to dst and returns received Mpps; it records the
// sent rate and the loss for the table.
func measureMmsg(srv, cli, dst string) (float64, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	addr := netip.AddrPortFrom(netip.MustParseAddr(dst), 5201).String()
	child := func(ns, role string) *exec.Cmd {
		cpus := *pinClientCPUs
		if role == "recv" {
			cpus = *pinServerCPUs
		}
		cmd := exec.Command("ip", inNS(ns, cpus, exe, "-udp-role", role, "-udp-addr", addr,
			"-t", fmt.Sprint(*secs), "-l", fmt.Sprint(*udpLen), "-batch", fmt.Sprint(*udpBatch))...)
		cmd.Stderr = os.Stderr
		if *verbose {
			fmt.Fprintln(os.Stderr, "+", strings.Join(cmd.Args, " "))
		}
		return cmd
	}

	recv := child(srv, "recv")
	stdin, err := recv.StdinPipe()
	if err != nil {
		return 0, err
	}
	stdout, err := recv.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := recv.Start(); err != nil {
		return 0, err
	}
	done := false
	defer func() {
		if !done {
			recv.Process.Kill()
			recv.Wait()
		}
	}()
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		return 0, fmt.Errorf("receiver in %s: want \"ready\", got %q: %v", srv, line, err)
	}

	sendOut, err := child(cli, "send").Output()
	if err != nil {
		return 0, fmt.Errorf("sender in %s: %w", cli, err)
	}
	var sent udpResult
	if err := json.Unmarshal(sendOut, &sent); err != nil {
		return 0, fmt.Errorf("sender in %s: %w, output: %.300s", cli, err, sendOut)
	}
	time.Sleep(500 * time.Millisecond)
	stdin.Close()
	recvOut, err := io.ReadAll(out)
	if err != nil {
		return 0, fmt.Errorf("receiver in %s: %w", srv, err)
	}
	done = true
	if err := recv.Wait(); err != nil {
		return 0, fmt.Errorf("receiver in %s: %w", srv, err)
	}
	var got udpResult
	if err := json.Unmarshal(recvOut, &got); err != nil {
		return 0, fmt.Errorf("receiver in %s: %w, output: %.300s", srv, err, recvOut)
	}
	if sent.Seconds <= 0 || sent.Datagrams == 0 {
		return 0, fmt.Errorf("sender in %s sent nothing", cli)
	}
	if got.Datagrams > sent.Datagrams {
		return 0, fmt.Errorf("receiver counted %d datagrams, the sender sent %d", got.Datagrams, sent.Datagrams)
	}
	lost := sent.Datagrams - got.Datagrams
	loss := 100 * float64(lost) / float64(sent.Datagrams)
	lastUDP = udpStats{float64(sent.Datagrams) / sent.Seconds / 1e6, loss}
	fmt.Fprintf(os.Stderr, "  sendmmsg %d B x %d: sent %d in %d calls, received %d in %d calls, lost %d (%.1f%%; %d of them in the receiver's full socket buffer), %.2f s (receiver %.2f s)\n",
		*udpLen, *udpBatch, sent.Datagrams, sent.Calls, got.Datagrams, got.Calls, lost, loss, got.RcvbufErrors, sent.Seconds, got.Seconds)
	return float64(got.Datagrams) / sent.Seconds / 1e6, nil
}
