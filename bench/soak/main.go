//go:build linux

// Command soak runs a live lab for a long time (-d, 10 minutes by default)
// under mixed traffic and random policy changes, and checks that nothing
// grows: goroutines, open descriptors and memory (the Go heap after a
// collection, and the resident set) are sampled every -every, and the
// last sample is compared with the one taken after a warm-up (130 s, as
// long as the conntrack entries of closed connections live, or half of a
// shorter run).
//
// The traffic, all at once, from instance a to instance b: a TCP stream
// kept open for the whole run; new TCP connections (connect, one
// exchange, close) as fast as one client makes them; UDP datagrams of
// new flows (a new source port each) and ICMP-less UDP ping-pong on one
// flow. The policy changes: every -apply (200 ms), live.Lab.Apply of one
// of several variants of the lab chosen at random (a rule added to b's
// group, a NACL entry, a port range widened), each keeping the ports the
// traffic uses open.
//
// Run as root from the repository's root: `make soak` (SOAKFLAGS=-d 30s
// for a short run). It prints one line per sample and a summary, and
// exits non-zero when a figure grew beyond its bound (goroutines +10,
// descriptors +10, heap ×1.5 + 4 MiB, RSS ×1.5 + 8 MiB) or a part of the
// traffic stopped. Everything lives in namespaces whose names start with
// "vpclabsoak-", removed at the end (and an earlier run's at start).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vpclab/vpclab/lab/labfile"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

const prefix = "vpclabsoak-"

// labYAML's %s is the variant's extra rules of b's group.
const labYAML = `
vpc: {id: vpc-soak, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
  - {id: subnet-b, cidr: 10.0.2.0/24, network_acl: acl-b}
network_acls:
  - id: acl-b
    ingress:
      - {rule: 100, action: allow, protocol: all, cidr: 10.0.0.0/16}
%s
    egress:
      - {rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}
security_groups:
  - id: sg-b
    ingress:
      - {protocol: tcp, ports: 7000-7001, cidr: 10.0.1.0/24}
      - {protocol: udp, ports: 7002-7003, cidr: 10.0.1.0/24}
%s
instances:
  - {name: a, subnet: subnet-a, ip: 10.0.1.10}
  - {name: b, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-b]}
`

var (
	dur   = flag.Duration("d", 10*time.Minute, "how long the run lasts")
	every = flag.Duration("every", 0, "sampling interval (default: a twentieth of -d, at least 1 s)")
	apply = flag.Duration("apply", 200*time.Millisecond, "time between two policy changes")
)

// variants returns the labs the changes pick from.
func variants() ([]*lab.Lab, error) {
	extras := [][2]string{
		{"", ""},
		{"      - {rule: 200, action: deny, protocol: tcp, ports: 9000, cidr: 10.0.1.0/24}", ""},
		{"", "      - {protocol: tcp, ports: 8000-8100, cidr: 10.0.1.0/24}"},
		{"      - {rule: 90, action: deny, protocol: udp, ports: 9999, cidr: 10.0.1.99/32}",
			"      - {protocol: udp, ports: 9000-9999, cidr: 10.0.0.0/16}\n      - {protocol: icmp, icmp_type: 8, cidr: 10.0.1.0/24}"},
	}
	var out []*lab.Lab
	for i, e := range extras {
		l, err := labfile.Parse(fmt.Sprintf("soak-%d.yaml", i), []byte(fmt.Sprintf(labYAML, e[0], e[1])))
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func main() {
	flag.Parse()
	runtime.GOMAXPROCS(live.Procs()) // as vpclab up runs
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// sample is one reading of what must not grow.
type sample struct {
	at         time.Duration
	goroutines int
	fds        int
	heap       uint64 // bytes in use after a collection
	rss        int64  // KiB
	conns      int64  // new connections so far
	datagrams  int64
	streamed   int64 // bytes
	applies    int64
}

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	labs, err := variants()
	if err != nil {
		return err
	}
	opts := live.Options{Net: labnet.Options{ID: "lab", Prefix: prefix}}
	plan, err := labnet.NewPlan(labs[0], opts.Net)
	if err != nil {
		return err
	}
	if err := labnet.Down(plan); err != nil {
		return fmt.Errorf("removing an earlier run's lab: %w", err)
	}
	x, err := live.Start(labs[0], opts)
	if err != nil {
		return err
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		x.Close()
		os.Exit(1)
	}()
	defer x.Close()
	nsA, nsB := x.Plan().Instance("a").Name, x.Plan().Instance("b").Name
	b := x.Plan().Instance("b").Links[0].Addrs[0].Addr().String()

	var stop atomic.Bool
	var wg sync.WaitGroup
	var conns, datagrams, streamed, applies atomic.Int64
	var failMu sync.Mutex
	var failures []string
	fail := func(what string, err error) {
		failMu.Lock()
		defer failMu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf("%s: %v", what, err))
		}
	}

	// b's servers: an echo server on 7000 (the stream and the new
	// connections) and a UDP echo server on 7002.
	var ln net.Listener
	var pc net.PacketConn
	if err := x.Net().Do(nsB, func() (err error) {
		if ln, err = net.Listen("tcp4", b+":7000"); err != nil {
			return err
		}
		pc, err = net.ListenPacket("udp4", b+":7002")
		return err
	}); err != nil {
		return err
	}
	defer ln.Close()
	defer pc.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
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
	dial := func(network, addr string) (c net.Conn, err error) {
		err = x.Net().Do(nsA, func() error {
			c, err = net.DialTimeout(network, addr, 2*time.Second)
			return err
		})
		return c, err
	}

	// The long stream.
	stream, err := dial("tcp4", b+":7000")
	if err != nil {
		return fmt.Errorf("the stream: %w", err)
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for !stop.Load() {
			if _, err := stream.Write(buf); err != nil {
				fail("stream write", err)
				return
			}
		}
		stream.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			n, err := stream.Read(buf)
			streamed.Add(int64(n))
			if err != nil {
				if !stop.Load() {
					fail("stream read", err)
				}
				return
			}
		}
	}()
	// New connections, one exchange each.
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 5)
		for !stop.Load() {
			c, err := dial("tcp4", b+":7000")
			if err != nil {
				fail("new connection", err)
				time.Sleep(100 * time.Millisecond)
				continue
			}
			c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Write([]byte("hello")); err == nil {
				_, err = io.ReadFull(c, buf)
			}
			if err != nil {
				fail("exchange", err)
			}
			c.Close()
			conns.Add(1)
		}
	}()
	// UDP: a new flow per datagram (a new socket each), answered.
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 64)
		for !stop.Load() {
			c, err := dial("udp4", b+":7002")
			if err != nil {
				fail("udp socket", err)
				continue
			}
			c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("ping")); err == nil {
				_, err = c.Read(buf)
			}
			if err != nil && !stop.Load() {
				fail("udp ping", err)
			}
			c.Close()
			datagrams.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	// Random policy changes.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			time.Sleep(*apply)
			if err := x.Apply(labs[rand.IntN(len(labs))]); err != nil {
				fail("apply", err)
			}
			applies.Add(1)
		}
	}()

	interval := *every
	if interval <= 0 {
		interval = max(time.Second, *dur/20)
	}
	// The baseline is taken once the tables are full: the conntrack
	// entries of closed connections live 120 s (TIME_WAIT), UDP's 30 s.
	warm := max(10*time.Second, min(*dur/2, max(*dur/10, 130*time.Second)))
	start := time.Now()
	read := func() sample {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := sample{at: time.Since(start).Round(time.Second), goroutines: runtime.NumGoroutine(), heap: ms.HeapAlloc,
			conns: conns.Load(), datagrams: datagrams.Load(), streamed: streamed.Load(), applies: applies.Load()}
		if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
			s.fds = len(ents)
		}
		s.rss, _ = rss()
		return s
	}
	fmt.Printf("soak: %v of mixed traffic a -> b and a change every %v; sampling every %v, baseline after %v\n", *dur, *apply, interval, warm)
	fmt.Printf("%8s %10s %5s %10s %10s %10s %10s %10s %8s\n", "time", "goroutines", "fds", "heap KiB", "RSS KiB", "conns", "udp flows", "stream MB", "applies")
	var base, last sample
	for t := interval; ; t += interval {
		time.Sleep(time.Until(start.Add(t)))
		select {
		case <-x.Failed():
			return errors.New("the lab's dataplane failed")
		default:
		}
		last = read()
		fmt.Printf("%8v %10d %5d %10d %10d %10d %10d %10d %8d\n", last.at, last.goroutines, last.fds, last.heap>>10, last.rss,
			last.conns, last.datagrams, last.streamed>>20, last.applies)
		if base.at == 0 && time.Since(start) >= warm {
			base = last
		}
		if t >= *dur {
			break
		}
	}
	stop.Store(true)
	stream.SetDeadline(time.Now().Add(3 * time.Second))
	wg.Wait()

	var problems []string
	if base.at == 0 {
		base = last
	}
	if last.goroutines > base.goroutines+10 {
		problems = append(problems, fmt.Sprintf("goroutines %d -> %d", base.goroutines, last.goroutines))
	}
	if last.fds > base.fds+10 {
		problems = append(problems, fmt.Sprintf("descriptors %d -> %d", base.fds, last.fds))
	}
	if float64(last.heap) > 1.5*float64(base.heap)+4<<20 {
		problems = append(problems, fmt.Sprintf("heap %d -> %d KiB", base.heap>>10, last.heap>>10))
	}
	if float64(last.rss) > 1.5*float64(base.rss)+8<<10 {
		problems = append(problems, fmt.Sprintf("RSS %d -> %d KiB", base.rss, last.rss))
	}
	secs := last.at.Seconds()
	fmt.Printf("\nsummary over %v: %d new connections (%.0f/s), %d UDP flows (%.0f/s), %d MB streamed (%.0f MB/s), %d applies\n",
		last.at, last.conns, float64(last.conns)/secs, last.datagrams, float64(last.datagrams)/secs, last.streamed>>20, float64(last.streamed>>20)/secs, last.applies)
	fmt.Printf("from %v to %v: goroutines %d -> %d, descriptors %d -> %d, heap %d -> %d KiB, RSS %d -> %d KiB\n",
		base.at, last.at, base.goroutines, last.goroutines, base.fds, last.fds, base.heap>>10, last.heap>>10, base.rss, last.rss)
	if len(failures) > 0 {
		problems = append(problems, "traffic failed: "+strings.Join(failures, "; "))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("no growth, no failure")
	return nil
}

// rss returns this process's resident set in KiB.
func rss() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("/proc/self/status: no VmRSS")
}
