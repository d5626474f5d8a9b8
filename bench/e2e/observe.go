//go:build linux

package main

// The observability benchmark (-observe): the cost of flow logs, metrics
// and one mirror session on the live lab's TCP throughput. The issue's
// goal: "with flow logs, metrics and one mirror session all on, the TCP
// benchmark of the live lab loses at most 10% against all off, measured
// in the same run".
//
// Both sides run the same three-instance lab (a → b, iperf3's client and
// server, and monitor, a mirror target), brought up afresh for every run
// so that each starts as "vpclab up" would; they differ only in what the
// lab file turns on:
//
//	off  no flow log, no mirror session, no metrics endpoint
//	on   a flow log of the VPC (60-second intervals, AWS's default format)
//	     into a temporary directory; a Prometheus endpoint on loopback
//	     scraped every second by a goroutine; one mirror session on b's
//	     ENI whose filter accepts the iperf3 traffic both ways (inbound to
//	     TCP 5201, outbound from it), packet_length 128, to monitor's ENI
//	     (-mirror-target eni, the default) or to a pcap file (pcap)
//
// The default target is what AWS users do: a mirror target in AWS is an
// ENI (or a load balancer in front of appliances), an instance running
// Suricata, Zeek or a packet broker; a pcap file has no AWS counterpart.
// It is also the more expensive path here: every copy crosses the
// dataplane (monitor's security group must let UDP 4789 in) and is
// written to monitor's TUN device. monitor has a UDP socket bound to 4789
// that nothing reads: the kernel takes each copy up to the socket and
// drops it once the socket's buffer is full. Reading the copies is the
// appliance's work, on another instance in AWS; on this 2-core machine a
// reader would compete with iperf3 and the lab and be counted against
// vpclab.
//
// Runs alternate off/on, on/off from round to round, so that drift in the
// machine's load hits both sides alike; each round's on/off ratio is
// reported and their median is the result. -observe-on turns on a part
// only (flowlogs, metrics or mirror), to tell what costs what, and
// -cpuprofile labels every sample of the lab's goroutines observe=on or
// observe=off:
//
//	go run ./bench/e2e -observe -rounds 1 -cpuprofile cpu.prof
//	go tool pprof -tags cpu.prof                      # CPU by side
//	go tool pprof -tagfocus observe=on -top -cum cpu.prof

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/bench/internal/nsrun"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/metrics"
	"github.com/vpclab/vpclab/mirror"
)

var (
	observe      = flag.Bool("observe", false, "measure TCP with flow logs, metrics and a mirror session all off and all on, alternating (see observe.go)")
	rounds       = flag.Int("rounds", 3, "rounds of runs: each runs every test on every side (with -observe: an off/on pair); the table gives their medians")
	mirrorTarget = flag.String("mirror-target", "eni", "with -observe: the mirror session's target, \"eni\" (an instance, as in AWS) or \"pcap\" (a file)")
	observeParts = flag.String("observe-on", "flowlogs,metrics,mirror", "with -observe: what \"on\" turns on, of flowlogs, metrics and mirror (to find what costs what)")
	cpuProfile   = flag.String("cpuprofile", "", "with -observe: write a CPU profile of the whole run to this file; samples carry the label observe=on or observe=off (go tool pprof -tagfocus observe=on)")
)

const observeLabID = "obs"

// observeLab is the lab of both sides; observeOn is what "on" adds.
const observeLab = `
vpc: {id: vpc-e2e, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
  - {id: subnet-b, cidr: 10.0.2.0/24}
security_groups:
  - id: sg-bench
    ingress:
      - {protocol: tcp, ports: 5201, cidr: 10.0.0.0/16}
  - id: sg-monitor
    ingress:
      - {protocol: udp, ports: 4789, cidr: 10.0.0.0/16}
instances:
  - {name: a, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-bench]}
  - {name: b, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-bench]}
  - {name: monitor, subnet: subnet-b, ip: 10.0.2.20, security_groups: [sg-monitor]}
`

// observeFlowLog and observeMirror are what "on" adds to the lab file.
const observeFlowLog = `flow_logs:
  - {id: fl-bench, vpc: vpc-e2e, max_aggregation_interval: 60, destination: %q}
`

const observeMirror = `traffic_mirror_filters:
  - id: tmf-iperf
    ingress:
      - {rule: 100, action: accept, protocol: tcp, destination_ports: 5201}
    egress:
      - {rule: 100, action: accept, protocol: tcp, source_ports: 5201}
traffic_mirror_targets:
  - %s
traffic_mirror_sessions:
  - {id: tms-iperf, number: 1, source: eni-b, target: tmt-monitor, filter: tmf-iperf, packet_length: 128}
`

// observeRun is one lab run: its figures (Gbit/s, by test) and what the
// observability did meanwhile.
type observeRun struct {
	on    bool
	round int
	gbps  []float64
	notes string
}

// runObserve is main's run under -observe.
func runObserve() error {
	if *rounds < 1 {
		return fmt.Errorf("-rounds %d: give at least 1", *rounds)
	}
	if *mirrorTarget != "eni" && *mirrorTarget != "pcap" {
		return fmt.Errorf("-mirror-target %q: give eni or pcap", *mirrorTarget)
	}
	parts, err := parseParts(*observeParts)
	if err != nil {
		return err
	}
	ts := tests()[:2] // TCP, 1 and 4 streams
	opts := live.Options{Net: labnet.Options{ID: observeLabID, Prefix: prefix, MTU: *mtu}}
	base, err := labfile.Parse("observe.yaml", []byte(observeLab))
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	plan, err := labnet.NewPlan(base, opts.Net)
	if err != nil {
		return err
	}
	for _, ns := range plan.Namespaces { // an earlier run's leftovers
		nsrun.KillIn(ns.Name)
	}
	if err := labnet.Down(plan); err != nil {
		return fmt.Errorf("removing an earlier run's lab: %w", err)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		cleanups = append(cleanups, func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}
	loadBefore := loadavg()
	start := time.Now()
	var runs []observeRun
	for r := range *rounds {
		order := []bool{false, true}
		if r%2 == 1 {
			order = []bool{true, false}
		}
		for _, on := range order {
			run, err := observeOnce(opts, on, parts, r, ts)
			if err != nil {
				return err
			}
			runs = append(runs, run)
		}
	}
	elapsed := time.Since(start)
	loadAfter := loadavg()

	fmt.Printf("\nvpclab observability benchmark (iperf3, %d s per test, %d rounds of off and on)\n", *secs, *rounds)
	fmt.Printf("command: %s\n", commandLine())
	fmt.Printf("cores: %d (GOMAXPROCS %d), %s/%s, %s, MTU %d; load average %s before, %s after (%s)\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), *mtu, loadBefore, loadAfter, elapsed.Round(time.Second))
	var what []string
	if parts["flowlogs"] {
		what = append(what, "flow log of the VPC (60 s)")
	}
	if parts["metrics"] {
		what = append(what, "metrics scraped every second")
	}
	if parts["mirror"] {
		what = append(what, "mirror session on b's ENI (packet_length 128) to "+map[string]string{"eni": "monitor's ENI", "pcap": "a pcap file"}[*mirrorTarget])
	}
	fmt.Printf("on: %s\n\n", strings.Join(what, ", "))
	fmt.Printf("%-24s %5s %10s %10s %8s\n", "test", "round", "off", "on", "on/off")
	for i, t := range ts {
		var offs, ons, ratios []float64
		for r := range *rounds {
			off, on := runOf(runs, r, false).gbps[i], runOf(runs, r, true).gbps[i]
			offs, ons, ratios = append(offs, off), append(ons, on), append(ratios, on/off)
			fmt.Printf("%-24s %5d %10.3f %10.3f %8.3f\n", t.name, r+1, off, on, on/off)
		}
		ratio := median(ratios)
		verdict := "met"
		if ratio < 0.9 {
			verdict = "missed"
		}
		fmt.Printf("%-24s %5s %10.3f %10.3f %8.3f   loss %.1f%%, goal <= 10%%: %s\n\n", t.name, "med", median(offs), median(ons), ratio, (1-ratio)*100, verdict)
	}
	fmt.Println("what \"on\" did, per run:")
	for _, run := range runs {
		if run.on {
			fmt.Printf("  round %d: %s\n", run.round+1, run.notes)
		}
	}
	return nil
}

// observeOnce brings the lab up with observability off or on, measures
// the tests and takes the lab down.
func observeOnce(opts live.Options, on bool, parts map[string]bool, round int, ts []test) (run observeRun, err error) {
	run = observeRun{on: on, round: round}
	mode := "off"
	if on {
		mode = "on"
	}
	file := observeLab
	var tmp string
	if on {
		if tmp, err = os.MkdirTemp("", "vpclab-observe-"); err != nil {
			return run, err
		}
		defer os.RemoveAll(tmp)
		if parts["flowlogs"] {
			file += fmt.Sprintf(observeFlowLog, filepath.Join(tmp, "flowlogs"))
		}
		if parts["mirror"] {
			target := "{id: tmt-monitor, eni: eni-monitor}"
			if *mirrorTarget == "pcap" {
				target = fmt.Sprintf("{id: tmt-monitor, pcap_file: %q}", filepath.Join(tmp, "mirror.pcap"))
			}
			file += fmt.Sprintf(observeMirror, target)
		}
	}
	l, err := labfile.Parse("observe-"+mode+".yaml", []byte(file))
	if err != nil {
		return run, fmt.Errorf("lab (%s): %w", mode, err)
	}
	// Everything the lab and the metrics start runs under the profile
	// label observe=MODE: goroutines inherit their creator's labels.
	var x *live.Lab
	var scr *scraper
	pprof.Do(context.Background(), pprof.Labels("observe", mode), func(context.Context) {
		if x, err = live.Start(l, opts); err != nil {
			return
		}
		if on && parts["metrics"] {
			scr, err = startScraper(x)
		}
	})
	if err != nil {
		if x != nil {
			x.Close()
		}
		return run, fmt.Errorf("observability %s: %w", mode, err)
	}
	closeLab := func() error {
		for _, ns := range x.Plan().Namespaces {
			nsrun.KillIn(ns.Name)
		}
		var errs []error
		if scr != nil {
			errs = append(errs, scr.close())
		}
		return errors.Join(append(errs, x.Close())...)
	}
	cleanups = append(cleanups, func() { closeLab() })
	defer func() {
		cleanups = cleanups[:len(cleanups)-1]
		if cerr := closeLab(); cerr != nil && err == nil {
			err = fmt.Errorf("observability %s: closing the lab: %w", mode, cerr)
		}
		if err == nil && on && parts["flowlogs"] {
			if run.notes != "" {
				run.notes += "; "
			}
			run.notes += flowNotes(x.FlowLogs().Stats())
		}
	}()
	if on && parts["mirror"] && *mirrorTarget == "eni" {
		// The appliance's socket, never read (see the file's doc).
		var c net.PacketConn
		if err := x.Net().Do(x.Plan().Instance("monitor").Name, func() (err error) {
			c, err = net.ListenPacket("udp4", "10.0.2.20:4789")
			return err
		}); err != nil {
			return run, fmt.Errorf("monitor's socket: %w", err)
		}
		defer c.Close()
	}
	srv, cli := x.Plan().Instance("b").Name, x.Plan().Instance("a").Name
	dst := x.Plan().Instance("b").Links[0].Addrs[0].Addr().String()
	fmt.Fprintf(os.Stderr, "round %d, observability %s:\n", round+1, mode)
	for _, t := range ts {
		v, err := measure(srv, cli, dst, t)
		if err != nil {
			return run, fmt.Errorf("observability %s, %s: %w", mode, t.name, err)
		}
		select {
		case <-x.Failed():
			return run, fmt.Errorf("observability %s: the lab's dataplane failed", mode)
		default:
		}
		run.gbps = append(run.gbps, v)
	}
	if on {
		var notes []string
		if parts["mirror"] {
			notes = append(notes, mirrorNotes(x.Mirror().Stats(), x.MirrorCounters().Load()))
		}
		if scr != nil {
			notes = append(notes, fmt.Sprintf("%d scrapes (%d failed)", scr.ok.Load(), scr.failed.Load()))
		}
		run.notes = strings.Join(notes, "; ")
		fmt.Fprintf(os.Stderr, "  %s\n", run.notes)
	}
	return run, nil
}

// mirrorNotes tells what the mirror session did in a run.
func mirrorNotes(st []mirror.SessionStats, through live.Stats) string {
	if len(st) != 1 {
		return fmt.Sprintf("%d mirror sessions, want 1", len(st))
	}
	s := st[0]
	offered := s.Mirrored + s.Dropped + s.Failed
	share := 0.0
	if offered > 0 {
		share = float64(s.Dropped) / float64(offered) * 100
	}
	n := fmt.Sprintf("mirror: %d copies sent (%d truncated), %d dropped on a full queue (%.1f%% of %d), %d failed",
		s.Mirrored, s.Truncated, s.Dropped, share, offered, s.Failed)
	if *mirrorTarget == "eni" {
		var denied uint64
		for _, d := range through.DeniedPackets {
			denied += d
		}
		n += fmt.Sprintf("; through the dataplane to monitor: %d delivered, %d denied, %d refused by the device", through.AllowedPackets, denied, through.WriteErrors)
	}
	return n
}

func flowNotes(st flowlog.Stats) string {
	return fmt.Sprintf("flow log: %+v", st)
}

// scraper serves the lab's metrics on loopback and scrapes them every
// second, as a Prometheus server would.
type scraper struct {
	srv         *metrics.Server
	stop        chan struct{}
	done        chan struct{}
	ok, failed  atomic.Uint64
	closeOnce   sync.Once
	closeResult error
}

func startScraper(x *live.Lab) (*scraper, error) {
	reg, err := metrics.NewRegistry(metrics.New(metrics.SourceFunc(x.ReadMetrics), metrics.Options{}))
	if err != nil {
		return nil, err
	}
	srv, err := metrics.Serve("127.0.0.1:0", reg)
	if err != nil {
		return nil, err
	}
	s := &scraper{srv: srv, stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

func (s *scraper) run() {
	defer close(s.done)
	client := &http.Client{Timeout: 5 * time.Second}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
		resp, err := client.Get(s.srv.URL())
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = errors.New(resp.Status)
			}
		}
		if err != nil {
			s.failed.Add(1)
			continue
		}
		s.ok.Add(1)
	}
}

func (s *scraper) close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.closeResult = s.srv.Close()
	})
	return s.closeResult
}

// parseParts reads -observe-on.
func parseParts(s string) (map[string]bool, error) {
	parts := map[string]bool{}
	for _, p := range strings.Split(s, ",") {
		switch p = strings.TrimSpace(p); p {
		case "flowlogs", "metrics", "mirror":
			parts[p] = true
		case "":
		default:
			return nil, fmt.Errorf("-observe-on: %q is not flowlogs, metrics or mirror", p)
		}
	}
	if len(parts) == 0 {
		return nil, errors.New("-observe-on: name at least one of flowlogs, metrics and mirror")
	}
	return parts, nil
}

// runOf returns the run of round r with observability on or off.
func runOf(runs []observeRun, r int, on bool) observeRun {
	for _, run := range runs {
		if run.round == r && run.on == on {
			return run
		}
	}
	panic(fmt.Sprintf("no run of round %d, on %v", r, on))
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadavg returns the 1, 5 and 15-minute load averages.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// commandLine is the command as run, with go run's binary named as such.
func commandLine() string {
	argv0 := os.Args[0]
	if strings.Contains(argv0, "go-build") {
		argv0 = "go run ./bench/e2e"
	}
	return strings.Join(append([]string{argv0}, os.Args[1:]...), " ")
}
