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

// sentPPS and lossPct are the UDP test's send rate (Mpps) and loss (%)
// per side, for context.
var (
	sentPPS = map[string][]float64{}
	lossPct = map[string][]float64{}
)
var side string

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

	ts := tests()
	res := map[string][]float64{}
	for _, dp := range []string{live.DatapathTUN, live.DatapathEBPF} {
		name := sideName(dp)
		if *only != "" && *only != name {
			continue
		}
		o := opts
		o.Datapath = dp
		x, err := live.Start(l, o)
		if err != nil {
			return fmt.Errorf("live.Start: %w", err)
		}
		if got, note := x.Datapath(); got != dp {
			x.Close()
			return fmt.Errorf("vpclab: the %s datapath is not running: %s", dp, note)
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
		side = name
		srv, cli := x.Plan().Instance("b").Name, x.Plan().Instance("a").Name
		dst := x.Plan().Instance("b").Links[0].Addrs[0].Addr().String()
		fmt.Fprintf(os.Stderr, "%s: %s -> %s (%s), MTU %d, datapath %s\n", name, cli, srv, dst, x.Plan().Instance("b").Links[0].MTU, dp)
		for _, t := range ts {
			v, err := measure(srv, cli, dst, t)
			if err != nil {
				return fmt.Errorf("%s %s: %w", name, t.name, err)
			}
			select {
			case <-x.Failed():
				return fmt.Errorf("%s: the lab's dataplane failed", name)
			default:
			}
			res[name] = append(res[name], v)
		}
		for _, d := range x.Devices() {
			fmt.Fprintf(os.Stderr, "%s device %s/%s: offloads %v\n", name, d.Instance, d.Link.Name, d.Offloads)
		}
		if fs, ok := x.FastPath(); ok {
			x.SyncFastPath()
			fs, _ = x.FastPath()
			fmt.Fprintf(os.Stderr, "%s fast path: %d entries, %d packets forwarded in the kernel\n", name, fs.Entries, fs.Packets)
		}
		closeLab()
		cleanups = cleanups[:len(cleanups)-1]
	}
	if *only == "" || *only == "kernel" {
		cleanups = append(cleanups, kernelDown)
		if err := kernelUp(); err != nil {
			return fmt.Errorf("kernel baseline setup: %w", err)
		}
		side = "kernel"
		fmt.Fprintf(os.Stderr, "kernel: %s -> %s via %s (nft conntrack), MTU %d\n", nsA, nsB, nsR, *mtu)
		for _, t := range ts {
			v, err := measure(nsB, nsA, "10.250.2.2", t)
			if err != nil {
				return fmt.Errorf("kernel %s: %w", t.name, err)
			}
			res["kernel"] = append(res["kernel"], v)
		}
		kernelDown()
	}

	udpTool := "iperf3 -u"
	if *udpSender == "mmsg" {
		udpTool = fmt.Sprintf("sendmmsg/recvmmsg, %d per call", *udpBatch)
	}
	fmt.Printf("\nvpclab end-to-end benchmark (TCP iperf3, UDP %s; %d s per test)\n", udpTool, *secs)
	argv0 := os.Args[0]
	if strings.Contains(argv0, "go-build") {
		argv0 = "go run ./bench/e2e"
	}
	fmt.Printf("command: %s\n", strings.Join(append([]string{argv0}, os.Args[1:]...), " "))
	fmt.Printf("cores: %d (GOMAXPROCS %d), %s/%s, %s, MTU %d\n\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), *mtu)
	fmt.Printf("%-28s %12s %12s %12s %10s %10s\n", "test", "vpclab tun", "vpclab ebpf", "kernel", "tun/kern", "ebpf/kern")
	ratio := func(v, k float64) string {
		if v > 0 && k > 0 {
			return fmt.Sprintf("%.2fx", v/k)
		}
		return "-"
	}
	for i, t := range ts {
		v, e, k := get(res["vpclab"], i), get(res["ebpf"], i), get(res["kernel"], i)
		fmt.Printf("%-28s %12s %12s %12s %10s %10s\n", t.name, num(v), num(e), num(k), ratio(v, k), ratio(e, k))
	}
	if v, e, k := get(sentPPS["vpclab"], 0), get(sentPPS["ebpf"], 0), get(sentPPS["kernel"], 0); v > 0 || e > 0 || k > 0 {
		fmt.Printf("%-28s %12s %12s %12s\n", "  (UDP sent, Mpps)", num(v), num(e), num(k))
	}
	if v, e, k := get(lossPct["vpclab"], 0), get(lossPct["ebpf"], 0), get(lossPct["kernel"], 0); v >= 0 || e >= 0 || k >= 0 {
		fmt.Printf("%-28s %12s %12s %12s\n", "  (UDP loss, %)", pct(v), pct(e), pct(k))
	}
	fmt.Println("\ngoals: TCP >= 8 Gbit/s and >= 0.7x kernel on tun, >= 0.9x on ebpf; small UDP >= 0.8x kernel")
	return nil
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
	server := exec.Command("ip", "netns", "exec", srv, "iperf3", "-s", "-1", "-B", dst, "-p", port)
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
	args := append([]string{"netns", "exec", cli, "iperf3", "-c", dst, "-p", port, "-J"}, t.args...)
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
	var r report
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
		sentPPS[side] = append(sentPPS[side], float64(s.Packets)/s.Seconds/1e6)
		lossPct[side] = append(lossPct[side], s.LostPercent)
		fmt.Fprintf(os.Stderr, "  %s: sent %d, lost %d (%.1f%%), %.2f s\n", t.name, s.Packets, s.LostPackets, s.LostPercent, s.Seconds)
		return recv / s.Seconds / 1e6, nil
	}
	fmt.Fprintf(os.Stderr, "  %s: %.3f Gbit/s, %d retransmits\n", t.name, r.End.SumReceived.BitsPerSecond/1e9, r.End.SumSent.Retransmits)
	return r.End.SumReceived.BitsPerSecond / 1e9, nil
}

type report struct {
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
