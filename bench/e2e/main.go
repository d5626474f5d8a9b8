//go:build linux

// Command e2e measures end-to-end throughput through a live vpclab lab and,
// in the same run, through the kernel (a router namespace forwarding between
// two veth pairs, with an nftables conntrack filter), and prints both and
// their ratio: TCP with iperf3, small-packet UDP with a batch sender
// (sendmmsg) and receiver (recvmmsg) of its own (udp.go), or with iperf3 -u
// (-udp-sender iperf3).
//
// Run as root, with iperf3, ip and nft installed: `make bench-e2e` or
// `go run ./bench/e2e`. It exits non-zero only when something could not be
// set up, never because a figure misses a goal. Everything it makes lives
// in namespaces whose names start with "vpclabe2e-"; the leftovers of an
// earlier run are removed at start, and everything at the end.
//
// With -observe it measures instead what flow logs, metrics and a mirror
// session cost the live lab's TCP throughput, all off against all on in
// the same run (observe.go): `make bench-e2e E2EFLAGS=-observe`.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/vpclab/vpclab/bench/internal/nsrun"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

const (
	prefix = "vpclabe2e-"
	labID  = "lab"
	port   = "5201"
)

// The kernel baseline's namespaces.
var (
	nsA = prefix + "k-a"
	nsR = prefix + "k-r"
	nsB = prefix + "k-b"
)

const labYAML = `
vpc: {id: vpc-e2e, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
  - {id: subnet-b, cidr: 10.0.2.0/24}
security_groups:
  - id: sg-bench
    ingress:
      - {protocol: tcp, ports: 5201, cidr: 10.0.0.0/16}
      - {protocol: udp, ports: 5201, cidr: 10.0.0.0/16}
instances:
  - {name: a, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-bench]}
  - {name: b, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-bench]}
`

var (
	secs    = flag.Int("t", 5, "seconds per test")
	mtu     = flag.Int("mtu", labnet.DefaultMTU, "MTU of the ENIs and of the baseline's veths")
	udpLen  = flag.Int("l", 64, "UDP payload length for the small-packet test")
	only    = flag.String("only", "", "run only \"vpclab\" (the TUN datapath), \"ebpf\" (the eBPF datapath) or \"kernel\"")
	verbose = flag.Bool("v", false, "print every command")
	workers = flag.Int("workers", 0, "vpclab's forwarding loops (live.Options.Workers; up --workers): 0 for the default, -1 for a goroutine per device")
	output  = flag.String("o", "text", "output: \"text\" (a table) or \"json\" (every run, its placement and the medians)")

	pinLabCPUs    = flag.String("pin-lab", "", "CPU list (taskset's, e.g. 0 or 0-1) for the lab's threads; empty: not pinned")
	pinClientCPUs = flag.String("pin-client", "", "CPU list for iperf3's client (and the UDP sender), on every side")
	pinServerCPUs = flag.String("pin-server", "", "CPU list for iperf3's server (and the UDP receiver), on every side")
)

type test struct {
	name string
	args []string
	udp  bool
}

func tests() []test {
	t := strconv.Itoa(*secs)
	return []test{
		{"TCP 1 stream (Gbit/s)", []string{"-t", t, "-O", "1"}, false},
		{"TCP 4 streams (Gbit/s)", []string{"-t", t, "-O", "1", "-P", "4"}, false},
		{fmt.Sprintf("UDP %d B, received (Mpps)", *udpLen), []string{"-t", t, "-u", "-l", strconv.Itoa(*udpLen), "-b", "0"}, true},
	}
}

func main() {
	flag.Parse()
	nsrun.Verbose = *verbose
	if *udpRole != "" {
		if err := udpChild(); err != nil {
			fmt.Fprintf(os.Stderr, "bench-e2e -udp-role %s: %v\n", *udpRole, err)
			os.Exit(1)
		}
		return
	}
	runtime.GOMAXPROCS(live.Procs()) // as vpclab up runs
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-e2e:", err)
		os.Exit(1)
	}
}

var cleanups []func()

// udpStats is the last UDP test's send rate (Mpps) and loss (%), for
// context.
type udpStats struct{ sentMpps, lossPct float64 }

var lastUDP udpStats

func cleanup() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	if *output != "text" && *output != "json" {
		return fmt.Errorf("-o %q: want text or json", *output)
	}
	if *rounds < 1 {
		return fmt.Errorf("-rounds %d: give at least 1", *rounds)
	}
	for _, f := range []struct{ name, cpus string }{{"-pin-lab", *pinLabCPUs}, {"-pin-client", *pinClientCPUs}, {"-pin-server", *pinServerCPUs}} {
		if err := checkCPUList(f.name, f.cpus); err != nil {
			return err
		}
	}
	if *udpSender != "mmsg" && *udpSender != "iperf3" {
		return fmt.Errorf("-udp-sender %q: want mmsg or iperf3", *udpSender)
	}
	if err := nsrun.Need("bench-e2e", "iperf3", "ip", "nft"); err != nil {
		return err
	}
	nsrun.OnInterrupt("bench-e2e", cleanup)
	defer cleanup()
	if *observe {
		return runObserve()
	}

	l, err := labfile.Parse("e2e.yaml", []byte(labYAML))
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	opts := live.Options{Net: labnet.Options{ID: labID, Prefix: prefix, MTU: *mtu}, Workers: *workers}
	plan, err := labnet.NewPlan(l, opts.Net)
	if err != nil {
		return err
	}
	// Leftovers of an earlier run.
	for _, ns := range plan.Namespaces {
		nsrun.KillIn(ns.Name)
	}
	if err := labnet.Down(plan); err != nil {
		return fmt.Errorf("removing an earlier run's lab: %w", err)
	}
	kernelDown()

	if err := pinLab(*pinLabCPUs); err != nil {
		return err
	}
	ts := tests()
	sides := []string{"vpclab", "ebpf", "kernel"}
	var runs []e2eRun
	for r := range *rounds {
		// Each round starts one side further on, so that drift in the
		// machine's load does not always hit the same side first.
		for k := range sides {
			name := sides[(r+k)%len(sides)]
			if *only != "" && *only != name {
				continue
			}
			fmt.Fprintf(os.Stderr, "round %d of %d, %s:\n", r+1, *rounds, name)
			rs, err := runSide(l, opts, name, r, ts)
			if err != nil {
				return err
			}
			runs = append(runs, rs...)
		}
	}
	return report(runs, ts)
}

// e2eRun is one test's figure on one side in one round, and where its
// work ran.
type e2eRun struct {
	Side      string    `json:"side"`
	Round     int       `json:"round"`
	Test      string    `json:"test"`
	Value     float64   `json:"value"`
	SentMpps  float64   `json:"udp_sent_mpps,omitempty"`
	LossPct   float64   `json:"udp_loss_pct,omitempty"`
	Placement placement `json:"placement"`
}

// runSide runs every test once on side name ("vpclab", "ebpf" or
// "kernel"), bringing its lab or the kernel's namespaces up first and
// down after.
func runSide(l *lab.Lab, opts live.Options, name string, round int, ts []test) ([]e2eRun, error) {
	var runs []e2eRun
	one := func(srv, cli, dst string, lab bool, t test) error {
		smp, err := startSampler(lab, cli, srv)
		if err != nil {
			return err
		}
		lastUDP = udpStats{}
		v, err := measure(srv, cli, dst, t)
		pl := smp.finish()
		if err != nil {
			return fmt.Errorf("%s %s: %w", name, t.name, err)
		}
		fmt.Fprintf(os.Stderr, "    CPU seconds by CPU (cpu0+cpu1...): %s\n", pl)
		runs = append(runs, e2eRun{Side: name, Round: round + 1, Test: t.name, Value: v,
			SentMpps: lastUDP.sentMpps, LossPct: lastUDP.lossPct, Placement: pl})
		return nil
	}
	if name == "kernel" {
		cleanups = append(cleanups, kernelDown)
		defer func() { cleanups = cleanups[:len(cleanups)-1] }()
		if err := kernelUp(); err != nil {
			return nil, fmt.Errorf("kernel baseline setup: %w", err)
		}
		defer kernelDown()
		fmt.Fprintf(os.Stderr, "kernel: %s -> %s via %s (nft conntrack), MTU %d\n", nsA, nsB, nsR, *mtu)
		for _, t := range ts {
			if err := one(nsB, nsA, "10.250.2.2", false, t); err != nil {
				return nil, err
			}
		}
		return runs, nil
	}
	dp := live.DatapathTUN
	if name == "ebpf" {
		dp = live.DatapathEBPF
	}
	o := opts
	o.Datapath = dp
	x, err := live.Start(l, o)
	if err != nil {
		return nil, fmt.Errorf("live.Start: %w", err)
	}
	closeLab := func() {
		for _, ns := range x.Plan().Namespaces {
			nsrun.KillIn(ns.Name)
		}
		if err := x.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench-e2e: closing the lab:", err)
		}
	}
	cleanups = append(cleanups, closeLab)
	defer func() {
		closeLab()
		cleanups = cleanups[:len(cleanups)-1]
	}()
	if got, note := x.Datapath(); got != dp {
		return nil, fmt.Errorf("vpclab: the %s datapath is not running: %s", dp, note)
	}
	srv, cli := x.Plan().Instance("b").Name, x.Plan().Instance("a").Name
	dst := x.Plan().Instance("b").Links[0].Addrs[0].Addr().String()
	fmt.Fprintf(os.Stderr, "%s: %s -> %s (%s), MTU %d, datapath %s\n", name, cli, srv, dst, x.Plan().Instance("b").Links[0].MTU, dp)
	for _, t := range ts {
		if err := one(srv, cli, dst, true, t); err != nil {
			return nil, err
		}
		select {
		case <-x.Failed():
			return nil, fmt.Errorf("%s: the lab's dataplane failed", name)
		default:
		}
	}
	if round == 0 {
		for _, d := range x.Devices() {
			fmt.Fprintf(os.Stderr, "%s device %s/%s: offloads %v\n", name, d.Instance, d.Link.Name, d.Offloads)
		}
	}
	if fs, ok := x.FastPath(); ok {
		x.SyncFastPath()
		fs, _ = x.FastPath()
		fmt.Fprintf(os.Stderr, "%s fast path: %d entries, %d packets forwarded in the kernel\n", name, fs.Entries, fs.Packets)
	}
	return runs, nil
}

func get(v []float64, i int) float64 {
	if i < len(v) {
		return v[i]
	}
	return -1
}

func num(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

func pct(v float64) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", v)
}

// measure runs one test from namespace cli to a one-off server in
// namespace srv and returns Gbit/s (TCP) or received Mpps (UDP): iperf3,
// or for UDP with -udp-sender mmsg this program's own sender and receiver
// (measureMmsg).
func measure(srv, cli, dst string, t test) (float64, error) {
	if t.udp && *udpSender == "mmsg" {
		return measureMmsg(srv, cli, dst)
	}
	server := exec.Command("ip", inNS(srv, *pinServerCPUs, "iperf3", "-s", "-1", "-B", dst, "-p", port)...)
	server.Stdout, server.Stderr = nil, nil
	if *verbose {
		fmt.Fprintln(os.Stderr, "+", strings.Join(server.Args, " "))
	}
	if err := server.Start(); err != nil {
		return 0, err
	}
	defer func() {
		server.Process.Kill()
		server.Wait()
	}()
	args := inNS(cli, *pinClientCPUs, append([]string{"iperf3", "-c", dst, "-p", port, "-J"}, t.args...)...)
	var out []byte
	var err error
	for try := 0; try < 25; try++ {
		time.Sleep(200 * time.Millisecond)
		cmd := exec.Command("ip", args...)
		if *verbose && try == 0 {
			fmt.Fprintln(os.Stderr, "+ ip", strings.Join(args, " "))
		}
		out, err = cmd.Output()
		if err == nil {
			break
		}
		if !bytes.Contains(out, []byte("unable to connect")) && !bytes.Contains(out, []byte("Connection refused")) {
			break
		}
	}
	var r iperfReport
	if jerr := json.Unmarshal(out, &r); jerr != nil {
		return 0, fmt.Errorf("iperf3: %v, output: %.300s", errors.Join(err, jerr), out)
	}
	if r.Error != "" {
		return 0, fmt.Errorf("iperf3: %s", r.Error)
	}
	if t.udp {
		s := r.End.Sum
		if s.Seconds <= 0 {
			return 0, fmt.Errorf("iperf3: no UDP summary: %.300s", out)
		}
		recv := float64(s.Packets - s.LostPackets)
		lastUDP = udpStats{float64(s.Packets) / s.Seconds / 1e6, s.LostPercent}
		fmt.Fprintf(os.Stderr, "  %s: sent %d, lost %d (%.1f%%), %.2f s\n", t.name, s.Packets, s.LostPackets, s.LostPercent, s.Seconds)
		return recv / s.Seconds / 1e6, nil
	}
	fmt.Fprintf(os.Stderr, "  %s: %.3f Gbit/s, %d retransmits\n", t.name, r.End.SumReceived.BitsPerSecond/1e9, r.End.SumSent.Retransmits)
	return r.End.SumReceived.BitsPerSecond / 1e9, nil
}

type iperfReport struct {
	Error string `json:"error"`
	End   struct {
		Sum struct {
			Seconds     float64 `json:"seconds"`
			Packets     int64   `json:"packets"`
			LostPackets int64   `json:"lost_packets"`
			LostPercent float64 `json:"lost_percent"`
		} `json:"sum"`
		SumSent struct {
			BitsPerSecond float64 `json:"bits_per_second"`
			Retransmits   int64   `json:"retransmits"`
		} `json:"sum_sent"`
		SumReceived struct {
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
	} `json:"end"`
}

// kernelUp builds A -- R -- B: veth pairs, forwarding in R, and an nftables
// forward chain with connection tracking.
func kernelUp() error {
	m := strconv.Itoa(*mtu)
	steps := [][]string{
		{"ip", "netns", "add", nsA},
		{"ip", "netns", "add", nsR},
		{"ip", "netns", "add", nsB},
		{"ip", "-n", nsA, "link", "add", "eth0", "mtu", m, "type", "veth", "peer", "name", "ra", "mtu", m, "netns", nsR},
		{"ip", "-n", nsB, "link", "add", "eth0", "mtu", m, "type", "veth", "peer", "name", "rb", "mtu", m, "netns", nsR},
		{"ip", "-n", nsA, "addr", "add", "10.250.1.2/24", "dev", "eth0"},
		{"ip", "-n", nsB, "addr", "add", "10.250.2.2/24", "dev", "eth0"},
		{"ip", "-n", nsR, "addr", "add", "10.250.1.1/24", "dev", "ra"},
		{"ip", "-n", nsR, "addr", "add", "10.250.2.1/24", "dev", "rb"},
		{"ip", "-n", nsA, "link", "set", "lo", "up"},
		{"ip", "-n", nsB, "link", "set", "lo", "up"},
		{"ip", "-n", nsR, "link", "set", "lo", "up"},
		{"ip", "-n", nsA, "link", "set", "eth0", "up"},
		{"ip", "-n", nsB, "link", "set", "eth0", "up"},
		{"ip", "-n", nsR, "link", "set", "ra", "up"},
		{"ip", "-n", nsR, "link", "set", "rb", "up"},
		{"ip", "-n", nsA, "route", "add", "default", "via", "10.250.1.1"},
		{"ip", "-n", nsB, "route", "add", "default", "via", "10.250.2.1"},
		{"ip", "netns", "exec", nsR, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if err := nsrun.Sh(s...); err != nil {
			return err
		}
	}
	rules := `table inet e2e {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		tcp dport 5201 accept
		udp dport 5201 accept
	}
}
`
	cmd := exec.Command("ip", "netns", "exec", nsR, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, out)
	}
	return nil
}

func kernelDown() {
	for _, ns := range []string{nsA, nsR, nsB} {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		nsrun.KillIn(ns)
		// Deleting the namespace's links first frees the addresses even if
		// something still holds the namespace.
		exec.Command("ip", "-n", ns, "link", "del", "eth0").Run()
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// sideName names a datapath's column: "vpclab" for the TUN datapath (the
// name earlier runs used), "ebpf" for the eBPF datapath.
func sideName(dp string) string {
	if dp == live.DatapathEBPF {
		return "ebpf"
	}
	return "vpclab"
}
