//go:build linux

// Command flood measures what a flooding instance does to the other
// instances of a live lab: while an iperf3 TCP stream runs from instance a
// to instance b, instance f floods instance v at full speed, first with
// TCP SYNs (an untracked rule on both sides, so no conntrack entry), then
// with UDP datagrams each of a new flow (tracked on f, whose conntrack
// allowance is small, so most are refused and counted as
// conntrack_allowance_exceeded).
//
// To tell vpclab's part from the sender's CPU, each flood also runs once
// into a sink device inside f's own namespace (the same packets, the same
// sending work, nothing crossing vpclab): the stream's throughput under that
// flood is what the flooder's CPU costs the machine, and the stream's
// throughput under the real flood against it is vpclab's part. The same
// phases run against the kernel (-modes kernel, the default's first): the
// four instances' namespaces routed by a fifth with an nftables filter of
// the lab's policy (kernel.go), so the figure under the same flood says
// what forwarding it costs when the kernel does it. -pin puts the flooder
// on a CPU of its own (taskset) and -cpuprofile writes the lab's CPU
// profile during each flood. Phases, each
// -t seconds with the stream running: quiet, SYN to dummy, SYN through the
// lab, UDP to dummy, UDP through the lab, quiet again.
//
// During every phase a prober opens a new TCP connection from a to b and
// from a to v every 200 ms (other ENIs' new flows must still pass), and the
// lab's memory (the resident set of this process, which runs the lab) is
// read before and after. The flooders are child processes of this program
// in f's namespace (-role), so their CPU is not the lab's.
//
// Run as root from the repository's root: `make bench-flood` or
// `go run ./bench/flood`. It exits non-zero only when something could not
// be set up; a figure that misses its goal is reported, not an error.
// Everything it makes lives in namespaces whose names start with
// "vpclabflood-"; an earlier run's leftovers are removed at start, and
// everything at the end.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vpclab/vpclab/bench/internal/cpus"
	"github.com/vpclab/vpclab/bench/internal/nsrun"

	"github.com/vpclab/vpclab/lab/labfile"

	"github.com/vishvananda/netns"
	"golang.org/x/net/ipv4"

	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/tun"
)

const (
	prefix = "vpclabflood-"
	labID  = "lab"
	// allowance is f's conntrack allowance: the UDP flood's entries stop
	// there.
	allowance = 10000
	// dummyNet is routed to a sink device inside f's namespace.
	dummyNet = "198.18.0.0/15"
	dummyDst = "198.18.0.1"
)

const labYAML = `
vpc: {id: vpc-flood, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
  - {id: subnet-b, cidr: 10.0.2.0/24}
security_groups:
  - id: sg-bench
    ingress:
      - {protocol: tcp, ports: 5201, cidr: 10.0.0.0/16}
      - {protocol: tcp, ports: 7000, cidr: 10.0.0.0/16}
  # TCP from and to anywhere: f's and v's TCP is untracked (no entry per
  # SYN); f's UDP is tracked (no UDP rule from 0.0.0.0/0 coming back).
  - id: sg-flooder
    ingress:
      - {protocol: tcp, ports: 0-65535, cidr: 0.0.0.0/0}
  - id: sg-victim
    ingress:
      - {protocol: tcp, ports: 0-65535, cidr: 0.0.0.0/0}
      - {protocol: udp, ports: 0-65535, cidr: 10.0.0.0/16}
instances:
  - {name: a, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-bench]}
  - {name: b, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-bench]}
  - {name: f, subnet: subnet-a, ip: 10.0.1.20, security_groups: [sg-flooder], conntrack_allowance: ` + "10000" + `}
  - {name: v, subnet: subnet-b, ip: 10.0.2.20, security_groups: [sg-victim]}
`

var (
	secs    = flag.Int("t", 20, "seconds per phase")
	procs   = flag.Int("procs", 0, "GOMAXPROCS of the lab (default live.Procs(), as vpclab up)")
	workers = flag.Int("workers", 0, "the lab's forwarding workers (live.Options.Workers; default as vpclab up)")
	modes   = flag.String("modes", "kernel,workers", "the dataplanes to measure, in turn: \"workers\" (the lab as vpclab up), \"pps\" (the same with f's pps_allowance set to -pps), \"goroutines\" (the lab with a goroutine per device, as before the workers), \"ebpf\" (the lab on the eBPF datapath) and \"kernel\" (a router namespace with nftables conntrack, the baseline)")
	ppsRate = flag.Int("pps", 20000, "f's pps_allowance (packets per second, both directions) in the \"pps\" mode")
	pin     = flag.Bool("pin", false, "pin the flooder to the last CPU and the stream's iperf3 and the lab to the others (taskset)")
	verbose = flag.Bool("v", false, "print every command")
	memprof = flag.String("memprofile", "", "write a heap profile of the lab at the end of each flood through it to `PREFIX`-MODE-syn.heap.pprof and PREFIX-MODE-udp.heap.pprof")
	profile = flag.String("cpuprofile", "", "write a CPU profile of the lab during each flood through it to `PREFIX`-MODE-syn.pprof and PREFIX-MODE-udp.pprof")
	// The flooder child's flags.
	role   = flag.String("role", "", "internal: run as the flooder, \"syn\" or \"udp\"")
	src    = flag.String("src", "", "internal: the flooder's source address")
	dst    = flag.String("dst", "", "internal: the flood's destination address")
	childT = flag.Duration("for", 0, "internal: how long the flooder floods")
)

func main() {
	flag.Parse()
	nsrun.Verbose = *verbose
	if *role != "" {
		if err := flooder(); err != nil {
			fmt.Fprintf(os.Stderr, "bench-flood -role %s: %v\n", *role, err)
			os.Exit(1)
		}
		return
	}
	p := *procs
	if p <= 0 {
		p = live.Procs()
	}
	runtime.GOMAXPROCS(p)
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-flood:", err)
		cleanup()
		os.Exit(1)
	}
}

var cleanups []func()

func cleanup() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// phase is one -t second stretch of the stream, with or without a flood.
type phase struct {
	name  string
	flood string // "", "syn" or "udp"
	dummy bool   // flood the dummy device in f's namespace, not v
}

var phases = []phase{
	{"quiet", "", false},
	{"SYN flood into a sink device in f", "syn", true},
	{"SYN flood f -> v through the lab", "syn", false},
	{"UDP new-flow flood into a sink device", "udp", true},
	{"UDP new-flow flood f -> v through the lab", "udp", false},
	{"quiet again", "", false},
}

// result is what one phase measured.
type result struct {
	gbps                 float64
	retrans              int64
	sent                 int64   // flood packets the flooder sent
	floodCPU             float64 // the flooder's CPU, in CPUs
	labCPU               float64 // this process's (the lab's) CPU, in CPUs
	softirq              float64 // the machine's softirq time, in CPUs
	queueDrops           uint64  // packets dropped at f's link's queue
	judged               uint64  // packets f's ENI sent into the dataplane
	exceeded             uint64  // f's conntrack_allowance_exceeded, this phase
	ppsExceeded          uint64  // f's pps_allowance_exceeded, this phase
	inUse                int     // f's tracked flows at the end
	probes, probeFail    int
	probeMax             time.Duration
	rssBefore, rssAfter  int64 // KiB
	peakRSS              int64 // KiB, the process's high-water mark so far
	goroutinesB, goroutA int
	mem                  memReading // the Go runtime's, at the end
	// cpu is where the phase's work ran: the lab (this process; nil for
	// the kernel), then the processes of a's, b's and f's namespaces
	// (iperf3's client and server, the flooder), per CPU.
	cpu cpus.Placement
}

// memReading is where the lab process's memory is, from runtime/metrics
// (bytes).
type memReading struct {
	heapLive, heapFree, heapReleased, stacks, total, goal uint64
}

func readMem() memReading {
	names := []string{
		"/memory/classes/heap/objects:bytes", "/memory/classes/heap/free:bytes",
		"/memory/classes/heap/released:bytes", "/memory/classes/heap/stacks:bytes",
		"/memory/classes/total:bytes", "/gc/heap/goal:bytes",
	}
	ss := make([]metrics.Sample, len(names))
	for i, n := range names {
		ss[i].Name = n
	}
	metrics.Read(ss)
	v := func(i int) uint64 {
		if ss[i].Value.Kind() == metrics.KindUint64 {
			return ss[i].Value.Uint64()
		}
		return 0
	}
	return memReading{v(0), v(1), v(2), v(3), v(4), v(5)}
}

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	if err := nsrun.Need("bench-flood", "iperf3", "ip", "nft", "taskset"); err != nil {
		return err
	}
	if *pin {
		if err := setPinning(); err != nil {
			return err
		}
	}
	nsrun.OnInterrupt("bench-flood", cleanup)
	defer cleanup()
	for _, m := range strings.Split(*modes, ",") {
		var w int
		switch m {
		case "workers":
			w = *workers
		case "goroutines":
			w = -1
		case "pps":
			res, n, err := runLabOn(*workers, live.DatapathTUN, *ppsRate)
			if err != nil {
				return err
			}
			report(m, n, res)
			continue
		case "ebpf":
			res, n, err := runLabOn(*workers, live.DatapathEBPF, 0)
			if err != nil {
				return err
			}
			report(m, n, res)
			continue
		case "kernel":
			res, err := runKernel()
			if err != nil {
				return err
			}
			report(m, 0, res)
			continue
		default:
			return fmt.Errorf("-modes: %q is none of workers, goroutines, ebpf and kernel", m)
		}
		res, n, err := runLab(w)
		if err != nil {
			return err
		}
		report(m, n, res)
	}
	fmt.Println("\ngoals: stream >= 0.8x quiet under each flood; exceeded > 0 and tracked <= allowance under the UDP flood; no probe fails")
	return nil
}

// A bed is what the phases run on: vpclab's lab or the kernel's router.
type bed struct {
	ns   func(name string) string // instance -> namespace
	addr func(name string) string // instance -> address
	do   func(ns string, fn func() error) error
	// sink is the namespace handle of f, for the sink device.
	sink netns.NsHandle
	// count returns f's packets into the dataplane, its
	// conntrack_allowance_exceeded and its tracked flows.
	count func() (judged, exceeded uint64, inUse int)
	// ppsExceeded returns f's pps_allowance_exceeded (nil: none, the
	// kernel).
	ppsExceeded func() uint64
	// fLink is f's link to the dataplane, in f's namespace: what the
	// kernel drops at its queue (the dataplane not reading fast enough)
	// are its TX drops.
	fLink string
	// failed returns an error if the dataplane failed.
	failed func() error
	lab    bool // this process is the dataplane (its CPU and RSS count)
}

// runLab brings the lab up with want workers (negative: a goroutine per
// device), runs the phases and takes the lab down; it returns the
// results and how many workers there were.
func runLab(want int) ([]result, int, error) { return runLabOn(want, live.DatapathTUN, 0) }

// runLabOn is runLab on datapath dp, f's pps_allowance set to pps (0:
// unlimited, the default).
func runLabOn(want int, dp string, pps int) ([]result, int, error) {
	mark := len(cleanups)
	defer func() {
		for i := len(cleanups) - 1; i >= mark; i-- {
			cleanups[i]()
		}
		cleanups = cleanups[:mark]
	}()
	src := labYAML
	if pps > 0 {
		src = strings.Replace(src, "conntrack_allowance: 10000}", "conntrack_allowance: 10000, pps_allowance: "+strconv.Itoa(pps)+"}", 1)
	}
	l, err := labfile.Parse("flood.yaml", []byte(src))
	if err != nil {
		return nil, 0, fmt.Errorf("lab: %w", err)
	}
	opts := live.Options{Net: labnet.Options{ID: labID, Prefix: prefix}, Workers: want, Datapath: dp}
	plan, err := labnet.NewPlan(l, opts.Net)
	if err != nil {
		return nil, 0, err
	}
	for _, ns := range plan.Namespaces {
		nsrun.KillIn(ns.Name)
	}
	if err := labnet.Down(plan); err != nil {
		return nil, 0, fmt.Errorf("removing an earlier run's lab: %w", err)
	}
	x, err := live.Start(l, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("live.Start: %w", err)
	}
	if got, note := x.Datapath(); got != dp {
		x.Close()
		return nil, 0, fmt.Errorf("the %s datapath is not running: %s", dp, note)
	}
	cleanups = append(cleanups, func() {
		for _, ns := range x.Plan().Namespaces {
			nsrun.KillIn(ns.Name)
		}
		if err := x.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench-flood: closing the lab:", err)
		}
	})
	fDev := x.Device(x.Plan().Instance("f").Links[0].ENI)
	if fDev == nil {
		return nil, 0, errors.New("f has no device")
	}
	b := &bed{
		ns:   func(name string) string { return x.Plan().Instance(name).Name },
		addr: func(name string) string { return x.Plan().Instance(name).Links[0].Addrs[0].Addr().String() },
		do:   x.Net().Do,
		count: func() (uint64, uint64, int) {
			var ex uint64
			var inUse int
			if a := x.Engine().Snapshot().Allowance(fDev.Port); a != nil {
				ex, inUse = a.Exceeded(), a.InUse()
			}
			return judged(fDev), ex, inUse
		},
		ppsExceeded: func() uint64 {
			if a := x.Engine().Snapshot().PacketAllowance(fDev.Port); a != nil {
				return a.Exceeded()
			}
			return 0
		},
		failed: func() error {
			select {
			case <-x.Failed():
				return errors.New("the lab's dataplane failed")
			default:
				return nil
			}
		},
		fLink: x.Plan().Instance("f").Links[0].Name,
		lab:   true,
	}
	if b.sink, err = x.Net().Namespace(b.ns("f")); err != nil {
		return nil, 0, err
	}
	mode := modeName(want)
	switch {
	case dp == live.DatapathEBPF:
		mode = "ebpf"
	case pps > 0:
		mode = "pps"
	}
	res, err := runPhases(b, mode)
	return res, x.Workers(), err
}

// runPhases runs the phases on b; mode names its profiles.
func runPhases(b *bed, mode string) ([]result, error) {
	ns, addr := b.ns, b.addr
	fns := ns("f")
	// The sink: a TUN device in f that nobody reads (the kernel queues
	// what is routed to it, then drops), so that flooding it costs the
	// sender what flooding the lab does, up to the lab's own work.
	sink, err := tun.OpenInNamespace(b.sink, tun.Config{Name: "fl0", NoVnetHdr: true})
	if err != nil {
		return nil, fmt.Errorf("the sink device in f: %w", err)
	}
	cleanups = append(cleanups, func() { sink.Close() })
	for _, s := range [][]string{
		{"ip", "-n", fns, "link", "set", "fl0", "up"},
		{"ip", "-n", fns, "route", "add", dummyNet, "dev", "fl0"},
	} {
		if err := nsrun.Sh(s...); err != nil {
			return nil, err
		}
	}
	// The probes' listeners, in b and v, accepting and closing.
	for _, name := range []string{"b", "v"} {
		var ln net.Listener
		if err := b.do(ns(name), func() (err error) {
			ln, err = net.Listen("tcp4", net.JoinHostPort(addr(name), "7000"))
			return err
		}); err != nil {
			return nil, fmt.Errorf("probe listener in %s: %w", name, err)
		}
		cleanups = append(cleanups, func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}

	var res []result
	for _, ph := range phases {
		fmt.Fprintf(os.Stderr, "phase: %s (%d s)\n", ph.name, *secs)
		var r result
		runtime.GC()
		r.rssBefore, _ = rss()
		r.goroutinesB = runtime.NumGoroutine()
		judgedBefore, exBefore, _ := b.count()
		var ppsBefore uint64
		if b.ppsExceeded != nil {
			ppsBefore = b.ppsExceeded()
		}
		qBefore := txDropped(fns, b.fLink)
		var labBefore syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &labBefore)
		siBefore := softirq()
		smp, err := cpus.Start(b.lab, ns("a"), ns("b"), fns)
		if err != nil {
			return nil, err
		}
		start := time.Now()

		stopProbe := make(chan struct{})
		var probeWG sync.WaitGroup
		probeWG.Add(1)
		go func() {
			defer probeWG.Done()
			r.probes, r.probeFail, r.probeMax = probe(b, ns("a"), []string{addr("b"), addr("v")}, stopProbe)
		}()
		var fl *exec.Cmd
		var flOut bytes.Buffer
		if ph.flood != "" {
			to := addr("v")
			if ph.dummy {
				to = dummyDst
			}
			self, _ := os.Executable()
			fl = exec.Command("ip", pinned(floodCPUs, "netns", "exec", fns, self, "-role", ph.flood, "-src", addr("f"), "-dst", to,
				"-for", (time.Duration(*secs)*time.Second+2*time.Second).String())...)
			fl.Stdout, fl.Stderr = &flOut, os.Stderr
			if *verbose {
				fmt.Fprintln(os.Stderr, "+", strings.Join(fl.Args, " "))
			}
			if err := fl.Start(); err != nil {
				return nil, err
			}
			time.Sleep(time.Second) // the flood at full speed before the stream starts
		}
		stopProfile := func() {}
		if *profile != "" && b.lab && ph.flood != "" && !ph.dummy {
			if stopProfile, err = startProfile(fmt.Sprintf("%s-%s-%s.pprof", *profile, mode, ph.flood)); err != nil {
				return nil, err
			}
		}
		r.gbps, r.retrans, err = iperf(ns("b"), ns("a"), addr("b"), *secs)
		stopProfile()
		r.cpu = smp.Finish()
		close(stopProbe)
		probeWG.Wait()
		if fl != nil {
			if err := fl.Wait(); err != nil {
				return nil, fmt.Errorf("flooder: %w", err)
			}
			var fr floodResult
			if err := json.Unmarshal(flOut.Bytes(), &fr); err != nil {
				return nil, fmt.Errorf("flooder's result %q: %w", flOut.String(), err)
			}
			r.sent = fr.Packets
			r.floodCPU = cpu(fl.ProcessState.SysUsage().(*syscall.Rusage)) / fr.Seconds
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ph.name, err)
		}
		if err := b.failed(); err != nil {
			return nil, err
		}
		var labAfter syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &labAfter)
		el := time.Since(start).Seconds()
		r.labCPU = (cpu(&labAfter) - cpu(&labBefore)) / el
		r.softirq = (softirq() - siBefore) / el
		j, ex, inUse := b.count()
		r.judged, r.exceeded, r.inUse = j-judgedBefore, ex-exBefore, inUse
		if b.ppsExceeded != nil {
			r.ppsExceeded = b.ppsExceeded() - ppsBefore
		}
		r.queueDrops = txDropped(fns, b.fLink) - qBefore
		r.rssAfter, _ = rss()
		r.mem = readMem()
		if *memprof != "" && b.lab && ph.flood != "" && !ph.dummy {
			if err := writeHeap(fmt.Sprintf("%s-%s-%s.heap.pprof", *memprof, mode, ph.flood)); err != nil {
				return nil, err
			}
		}
		r.peakRSS, _ = peakRSS()
		r.goroutA = runtime.NumGoroutine()
		res = append(res, r)
		time.Sleep(time.Second) // the flood's leftovers drained
	}
	return res, nil
}

// startProfile starts a CPU profile of this process (the lab) into file
// and returns what stops it.
func startProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		fmt.Fprintln(os.Stderr, "CPU profile of the lab:", file)
	}, nil
}

// writeHeap writes a heap profile of this process (the lab) to file.
func writeHeap(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "heap profile of the lab:", file)
	return nil
}

// modeName names the lab of want workers in file names: "workers" or
// "goroutines".
func modeName(want int) string {
	if want < 0 {
		return "goroutines"
	}
	return "workers"
}

// judged returns the packets d sent into the dataplane, allowed or not.
func judged(d *live.Device) uint64 {
	s := d.Counters.Load()
	n := s.AllowedPackets + s.ServicePackets
	for _, p := range s.DeniedPackets {
		n += p
	}
	return n
}

func cpu(u *syscall.Rusage) float64 {
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()).Seconds()
}

// probe opens a new TCP connection from namespace ns to port 7000 of each
// of addrs every 200 ms until stop, and returns how many it tried, how
// many failed (1 s timeout) and the longest connect.
func probe(b *bed, ns string, addrs []string, stop <-chan struct{}) (n, failed int, longest time.Duration) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for _, a := range addrs {
			n++
			t0 := time.Now()
			err := b.do(ns, func() error {
				c, err := net.DialTimeout("tcp4", net.JoinHostPort(a, "7000"), time.Second)
				if err == nil {
					c.Close()
				}
				return err
			})
			if d := time.Since(t0); err != nil {
				failed++
			} else if d > longest {
				longest = d
			}
		}
	}
}

// iperf runs a one-off iperf3 server in namespace srv and a TCP stream of
// secs seconds to it from namespace cli, and returns its Gbit/s and
// retransmits.
func iperf(srv, cli, to string, secs int) (float64, int64, error) {
	server := exec.Command("ip", pinned(streamCPUs, "netns", "exec", srv, "iperf3", "-s", "-1", "-B", to, "-p", "5201")...)
	if err := server.Start(); err != nil {
		return 0, 0, err
	}
	defer func() {
		server.Process.Kill()
		server.Wait()
	}()
	args := pinned(streamCPUs, "netns", "exec", cli, "iperf3", "-c", to, "-p", "5201", "-J", "-t", strconv.Itoa(secs), "-O", "1")
	var out []byte
	var err error
	for try := 0; try < 25; try++ {
		time.Sleep(200 * time.Millisecond)
		if *verbose && try == 0 {
			fmt.Fprintln(os.Stderr, "+ ip", strings.Join(args, " "))
		}
		out, err = exec.Command("ip", args...).Output()
		if err == nil || !bytes.Contains(out, []byte("unable to connect")) {
			break
		}
	}
	var r struct {
		Error string `json:"error"`
		End   struct {
			SumSent struct {
				Retransmits int64 `json:"retransmits"`
			} `json:"sum_sent"`
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return 0, 0, fmt.Errorf("iperf3: %v, output: %.300s", errors.Join(err, jerr), out)
	}
	if r.Error != "" {
		return 0, 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	return r.End.SumReceived.BitsPerSecond / 1e9, r.End.SumSent.Retransmits, nil
}

// floodResult is what the flooder child writes to stdout.
type floodResult struct {
	Packets int64   `json:"packets"`
	Seconds float64 `json:"seconds"`
}

// flooder sends -role packets from -src to -dst as fast as it can for
// -for: TCP SYNs from random ports to port 80 (a raw socket, sendmmsg), or
// UDP datagrams to every port in turn from 16 sockets (a new flow each).
func flooder() error {
	from, err := netip.ParseAddr(*src)
	if err != nil {
		return fmt.Errorf("-src: %w", err)
	}
	to, err := netip.ParseAddr(*dst)
	if err != nil {
		return fmt.Errorf("-dst: %w", err)
	}
	const batch = 64
	ms := make([]ipv4.Message, batch)
	var conns []*ipv4.PacketConn
	switch *role {
	case "syn":
		c, err := net.ListenPacket("ip4:tcp", from.String())
		if err != nil {
			return err
		}
		defer c.Close()
		conns = append(conns, ipv4.NewPacketConn(c))
		for i := range ms {
			ms[i].Buffers = [][]byte{make([]byte, 20)}
			ms[i].Addr = &net.IPAddr{IP: to.AsSlice()}
		}
	case "udp":
		for range 16 {
			c, err := net.ListenPacket("udp4", net.JoinHostPort(from.String(), "0"))
			if err != nil {
				return err
			}
			defer c.Close()
			conns = append(conns, ipv4.NewPacketConn(c))
		}
		for i := range ms {
			ms[i].Buffers = [][]byte{make([]byte, 16)}
			ms[i].Addr = &net.UDPAddr{IP: to.AsSlice()}
		}
	default:
		return fmt.Errorf("-role %q: want syn or udp", *role)
	}
	var sent atomic.Int64
	start := time.Now()
	end := start.Add(*childT)
	port := 1
	for k := 0; ; k++ {
		for i := range ms {
			if *role == "syn" {
				synInto(ms[i].Buffers[0], from, to, uint16(1024+rand.IntN(64511)), rand.Uint32())
			} else {
				ms[i].Addr.(*net.UDPAddr).Port = port
				if port++; port > 65535 {
					port = 1
				}
			}
		}
		n, err := conns[k%len(conns)].WriteBatch(ms, 0)
		if err != nil && !errors.Is(err, syscall.ENOBUFS) && !errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("sendmmsg after %d packets: %w", sent.Load(), err)
		}
		sent.Add(int64(n))
		if now := time.Now(); !now.Before(end) {
			return json.NewEncoder(os.Stdout).Encode(floodResult{Packets: sent.Load(), Seconds: now.Sub(start).Seconds()})
		}
	}
}

// synInto writes a TCP SYN header from from:sport to to:80 into b (20
// bytes), its checksum complete.
func synInto(b []byte, from, to netip.Addr, sport uint16, seq uint32) {
	clear(b)
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], 80)
	binary.BigEndian.PutUint32(b[4:], seq)
	b[12] = 5 << 4 // data offset
	b[13] = 0x02   // SYN
	binary.BigEndian.PutUint16(b[14:], 64240)
	var sum uint32
	f, t := from.As4(), to.As4()
	for i := 0; i < 4; i += 2 {
		sum += uint32(f[i])<<8 | uint32(f[i+1])
		sum += uint32(t[i])<<8 | uint32(t[i+1])
	}
	sum += 6 + uint32(len(b))
	for i := 0; i < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[16:], ^uint16(sum))
}

// rss returns this process's resident set in KiB (VmRSS); peakRSS its
// high-water mark (VmHWM).
func rss() (int64, error)     { return status("VmRSS:") }
func peakRSS() (int64, error) { return status("VmHWM:") }

func status(key string) (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == key {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/self/status: no %s", key)
}

func report(mode string, nWorkers int, res []result) {
	argv0 := os.Args[0]
	if strings.Contains(argv0, "go-build") {
		argv0 = "go run ./bench/flood"
	}
	how := fmt.Sprintf("vpclab, %d workers", nWorkers)
	switch mode {
	case "goroutines":
		how = "vpclab, a goroutine per device, as before the workers"
	case "ebpf":
		how = fmt.Sprintf("vpclab on the eBPF datapath, %d workers", nWorkers)
	case "pps":
		how = fmt.Sprintf("vpclab, %d workers, f's pps_allowance %d/s", nWorkers, *ppsRate)
	case "kernel":
		how = "kernel baseline (a router namespace, nftables conntrack; \"the lab\" is the router)"
	}
	pinning := "not pinned"
	if *pin {
		pinning = fmt.Sprintf("flooder on CPU %s, iperf3 and the lab on CPU %s", floodCPUs, streamCPUs)
	}
	fmt.Printf("\nflood benchmark, %s: iperf3 TCP a -> b while f floods (%d s per phase)\n", how, *secs)
	fmt.Printf("command: %s\n", strings.Join(append([]string{argv0}, os.Args[1:]...), " "))
	fmt.Printf("cores: %d (GOMAXPROCS %d), %s; %s/%s, %s; f's conntrack allowance %d\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), pinning, runtime.GOOS, runtime.GOARCH, runtime.Version(), allowance)
	base := res[0].gbps
	fmt.Printf("%-42s %7s %6s %9s %6s %6s %6s %9s %8s %9s %7s %11s %13s\n",
		"phase", "Gbit/s", "ratio", "flood/s", "fCPU", "labCPU", "siCPU", "judged/s", "qdrop/s", "exceeded", "tracked", "probes fail", "RSS KiB")
	for i, r := range res {
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.2fx", r.gbps/base)
		}
		flood, fcpu := "-", "-"
		if phases[i].flood != "" {
			flood = fmt.Sprintf("%.0fk", float64(r.sent)/float64(*secs+2)/1e3)
			fcpu = fmt.Sprintf("%.2f", r.floodCPU)
		}
		labCPU, mem := fmt.Sprintf("%.2f", r.labCPU), fmt.Sprintf("%6d→%-6d", r.rssBefore, r.rssAfter)
		if mode == "kernel" {
			labCPU, mem = "-", "-"
		}
		fmt.Printf("%-42s %7.2f %6s %9s %6s %6s %6.2f %8.0fk %7.0fk %9d %7d %5d/%-5d %s\n",
			phases[i].name, r.gbps, ratio, flood, fcpu, labCPU, r.softirq, float64(r.judged)/float64(*secs)/1e3,
			float64(r.queueDrops)/float64(*secs)/1e3, r.exceeded, r.inUse,
			r.probeFail, r.probes, mem)
	}
	if mode != "kernel" {
		fmt.Println("\nthe lab's Go memory at each phase's end, MiB: heap objects / free / released, stacks, total mapped, GC goal")
		for i, r := range res {
			m := r.mem
			fmt.Printf("  %-42s %6.1f / %6.1f / %6.1f  %5.1f  %6.1f  %6.1f\n", phases[i].name,
				mib(m.heapLive), mib(m.heapFree), mib(m.heapReleased), mib(m.stacks), mib(m.total), mib(m.goal))
		}
	}
	fmt.Println("\nwhere the CPU went, seconds on cpu0+cpu1 (/proc, bench/internal/cpus): the lab (this process), iperf3's client (a) and server (b), the flooder (f), softirq, busy")
	for i, r := range res {
		c := r.cpu
		lab := "-"
		if c.Self != nil {
			lab = cpus.Format(c.Self)
		}
		fmt.Printf("  %-42s lab %-12s a %-12s b %-12s f %-12s si %-12s busy %s\n", phases[i].name,
			lab, cpus.Format(c.NS[0]), cpus.Format(c.NS[1]), cpus.Format(c.NS[2]), cpus.Format(c.Softirq), cpus.Format(c.Busy))
	}
	if mode == "pps" {
		fmt.Printf("\nf's pps_allowance_exceeded by phase:")
		for _, r := range res {
			fmt.Printf(" %d", r.ppsExceeded)
		}
		fmt.Println()
	}
	last := res[len(res)-1]
	if mode == "kernel" {
		fmt.Println("\n(judged/s: packets f's veth took into the router; tracked: the router's conntrack entries; exceeded: drops of the ct count rule)")
	} else {
		fmt.Println("\n(judged/s: packets the lab read from f's device; qdrop/s: what the kernel dropped at that device's queue, the flood past what the lab read)")
	}
	fmt.Printf("\npeak RSS %d KiB; goroutines %d at start, %d at end; longest probe connect %v\n",
		last.peakRSS, res[0].goroutinesB, last.goroutA, maxProbe(res).Round(time.Millisecond))
	quiet := (res[0].gbps + res[5].gbps) / 2
	if quiet > 0 {
		fmt.Printf("stream under flood / quiet (mean of both quiet phases %.2f Gbit/s):\n", quiet)
		for _, p := range [][2]int{{1, 2}, {3, 4}} {
			d, l := res[p[0]].gbps/quiet, res[p[1]].gbps/quiet
			part := "-"
			if d > 0 {
				part = fmt.Sprintf("%.2fx", l/d)
			}
			fmt.Printf("  %-5s sender's CPU alone (dummy) %.2fx, through the lab %.2fx, the lab's own part %s\n",
				phases[p[1]].flood, d, l, part)
		}
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func maxProbe(res []result) time.Duration {
	var m time.Duration
	for _, r := range res {
		m = max(m, r.probeMax)
	}
	return m
}
