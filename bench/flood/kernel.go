//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"github.com/vishvananda/netns"

	"github.com/vpclab/vpclab/bench/internal/nsrun"
)

// The kernel baseline: the four instances' namespaces, each with a veth
// pair to a router namespace that forwards between them with an nftables
// filter of the same policy as the lab's: the stream's and the probes'
// ports accepted and tracked, f's and v's TCP untracked (notrack, as the
// lab's untracked rule), f's UDP to v tracked with a connlimit of
// allowance new flows (ct count), whose drops are counted as the
// allowance's excess.
var kernelAddr = map[string]string{
	"a": "10.250.1.2", "b": "10.250.2.2", "f": "10.250.3.2", "v": "10.250.4.2",
}

func kernelNS(name string) string { return prefix + "k-" + name }

// runKernel builds the kernel's router, runs the phases on it and takes
// it down.
func runKernel() ([]result, error) {
	mark := len(cleanups)
	defer func() {
		for i := len(cleanups) - 1; i >= mark; i-- {
			cleanups[i]()
		}
		cleanups = cleanups[:mark]
	}()
	kernelDown()
	cleanups = append(cleanups, kernelDown)
	if err := kernelUp(); err != nil {
		return nil, fmt.Errorf("the kernel baseline: %w", err)
	}
	handles := map[string]netns.NsHandle{}
	cleanups = append(cleanups, func() {
		for _, h := range handles {
			h.Close()
		}
	})
	for name := range kernelAddr {
		h, err := netns.GetFromName(kernelNS(name))
		if err != nil {
			return nil, fmt.Errorf("opening namespace %s: %w", kernelNS(name), err)
		}
		handles[kernelNS(name)] = h
	}
	r := kernelNS("r")
	b := &bed{
		ns:   kernelNS,
		addr: func(name string) string { return kernelAddr[name] },
		do: func(ns string, fn func() error) error {
			h, ok := handles[ns]
			if !ok {
				return fmt.Errorf("no namespace %s", ns)
			}
			return doIn(h, fn)
		},
		sink: handles[kernelNS("f")],
		count: func() (uint64, uint64, int) {
			j, _ := strconv.ParseUint(nsOut(r, "cat", "/sys/class/net/rf/statistics/rx_packets"), 10, 64)
			var ex uint64
			if m := counterRE.FindStringSubmatch(nsOut(r, "nft", "list", "counter", "inet", "flood", "exceeded")); m != nil {
				ex, _ = strconv.ParseUint(m[1], 10, 64)
			}
			n, _ := strconv.Atoi(nsOut(r, "cat", "/proc/sys/net/netfilter/nf_conntrack_count"))
			return j, ex, n
		},
		failed: func() error { return nil },
		fLink:  "eth0",
	}
	return runPhases(b, "kernel")
}

var counterRE = regexp.MustCompile(`packets (\d+)`)

// nsOut returns the trimmed output of a command run in namespace ns, ""
// if it fails.
func nsOut(ns string, args ...string) string {
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// doIn runs fn on a locked OS thread inside namespace h and switches the
// thread back (if that fails, the thread ends with its goroutine).
func doIn(h netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		ferr := fn()
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

func kernelUp() error {
	r := kernelNS("r")
	steps := [][]string{
		{"ip", "netns", "add", r},
		{"ip", "-n", r, "link", "set", "lo", "up"},
		{"ip", "netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"},
	}
	for _, name := range []string{"a", "b", "f", "v"} {
		ns, a := kernelNS(name), kernelAddr[name]
		gw := a[:strings.LastIndexByte(a, '.')] + ".1"
		steps = append(steps, [][]string{
			{"ip", "netns", "add", ns},
			{"ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "r" + name, "netns", r},
			{"ip", "-n", ns, "addr", "add", a + "/24", "dev", "eth0"},
			{"ip", "-n", r, "addr", "add", gw + "/24", "dev", "r" + name},
			{"ip", "-n", ns, "link", "set", "lo", "up"},
			{"ip", "-n", ns, "link", "set", "eth0", "up"},
			{"ip", "-n", r, "link", "set", "r" + name, "up"},
			{"ip", "-n", ns, "route", "add", "default", "via", gw},
		}...)
	}
	for _, s := range steps {
		if err := nsrun.Sh(s...); err != nil {
			return err
		}
	}
	f, v := kernelAddr["f"], kernelAddr["v"]
	rules := fmt.Sprintf(`table inet flood {
	counter exceeded {}
	chain raw {
		type filter hook prerouting priority raw;
		ip saddr %[1]s ip daddr %[2]s meta l4proto tcp notrack
		ip saddr %[2]s ip daddr %[1]s meta l4proto tcp notrack
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct state untracked accept
		tcp dport { 5201, 7000 } accept
		ip saddr %[1]s meta l4proto udp ct state new ct count over %[3]d counter name exceeded drop
		ip saddr %[1]s ip daddr %[2]s meta l4proto udp accept
	}
}
`, f, v, allowance)
	cmd := exec.Command("ip", "netns", "exec", r, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft: %v: %s", err, out)
	}
	return nil
}

func kernelDown() {
	for _, name := range []string{"a", "b", "f", "v", "r"} {
		ns := kernelNS(name)
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}
		nsrun.KillIn(ns)
		exec.Command("ip", "-n", ns, "link", "del", "eth0").Run()
		exec.Command("ip", "netns", "del", ns).Run()
	}
}

// Pinning (-pin): the flooder runs on the last CPU, the stream's iperf3
// processes and this process (the lab) on the others, so that the
// flooder's own sending cannot take the stream's CPU and what is left of
// the stream is the dataplane's part: the lab's own forwarding, or the
// kernel's (which runs in softirq on the CPU that sent the packet).
var floodCPUs, streamCPUs string

// setPinning sets floodCPUs and streamCPUs and pins this process's
// threads to streamCPUs.
func setPinning() error {
	n := runtime.NumCPU()
	if n < 2 {
		return errors.New("-pin: needs at least 2 CPUs")
	}
	floodCPUs = strconv.Itoa(n - 1)
	streamCPUs = "0"
	if n > 2 {
		streamCPUs = fmt.Sprintf("0-%d", n-2)
	}
	return nsrun.Sh("taskset", "-a", "-cp", streamCPUs, strconv.Itoa(os.Getpid()))
}

// pinned returns the argument list of `ip`, args, run on cpus with
// taskset, or args as they are with no cpus: the command is then
// exec.Command("ip", ...) or exec.Command("taskset", ...).
func pinned(cpus string, args ...string) []string {
	if cpus == "" {
		return args
	}
	return append([]string{"netns", "exec", args[2], "taskset", "-c", cpus}, args[3:]...)
}

// txDropped returns the TX drops of link in namespace ns, 0 if unknown.
func txDropped(ns, link string) uint64 {
	n, _ := strconv.ParseUint(nsOut(ns, "cat", "/sys/class/net/"+link+"/statistics/tx_dropped"), 10, 64)
	return n
}

// softirq returns the machine's softirq time so far, in seconds
// (/proc/stat, USER_HZ 100).
func softirq() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	v, _ := strconv.ParseFloat(f[7], 64)
	return v / 100
}
