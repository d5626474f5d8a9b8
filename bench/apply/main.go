//go:build linux

// Command apply measures how long replacing the policy of a running lab
// takes when the lab holds 10,000 security-group rules, and what doing so
// does to a TCP stream running through the lab meanwhile.
//
// It brings up the benchmark lab of package bench (a client and a server
// instance in two subnets) with 10,000 ingress rules on the server's group
// (ClassBench filters turned into rules, as the packet-path benchmarks do;
// quotas raised to hold them), serves the lab's control API on a unix
// socket, and runs one TCP stream from the client to the server (port
// 5432, tracked by conntrack) for the whole run, sender and receiver in
// this process on threads inside the two instances' namespaces. The stream
// is measured in three phases: quiet, applying, quiet again (each quiet
// phase about as long as the applying one). While applying, the lab is
// replaced N times through the API (PUT /v1/lab, control.Client.PutLab),
// alternating between the lab and a variant that differs from it in a few
// rules. Each apply is timed end to end (the client call: sending the
// file, the server parsing and validating it, applying it) and inside the
// server (live.Options.OnApply: live.Lab.Apply alone).
//
// The stream's bytes are a pattern both ends know: the receiver checks
// every byte, in order, so a byte lost, duplicated or corrupted fails the
// run. Per phase it reports the throughput, the longest time between two
// reads (a stall), the sender's retransmissions (TCP_INFO), how many of
// them the receiver reported as duplicates (DSACK: spurious, the original
// had arrived) and the retransmission timeouts (the client namespace's
// TcpExt counters), the stream's packets denied by policy and the frames a
// device refused (the dataplane's counters), and the packets the two TUN
// devices dropped in the kernel.
//
// Run as root from the repository's root: `make bench-apply` or
// `go run ./bench/apply`. It exits non-zero when something could not be
// set up, an apply failed or the stream lost or corrupted a byte; a figure
// that misses its goal is reported, not an error. Everything it makes
// lives in namespaces whose names start with "vpclabapply-"; an earlier
// run's leftovers are removed at start, and everything at the end.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vpclab/vpclab/bench"
	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/daemon"
	"github.com/vpclab/vpclab/internal/classbench"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/verdict"
)

const (
	prefix = "vpclabapply-"
	labID  = "lab"

	// The stream: the client's data to the server's port, which the first
	// rule of sg-server allows from the client's subnet (bench.Lab).
	serverAddr = "10.0.1.10:5432"
	streamPort = "5432"

	// The goals of the issue: an apply within applyGoal, and no loss on
	// the stream meanwhile (no stall past stallGoal, no retransmission
	// timeout, no byte lost).
	applyGoal = 100 * time.Millisecond
	stallGoal = 100 * time.Millisecond
)

// ruleFiles are the ClassBench sets the rules come from, in this order,
// relative to -classbench: the first gives 8,816 distinct rules the lab
// can use (bench.ClassBenchRules), the next ones top it up.
var ruleFiles = []string{"neurocuts/acl1_10k", "neurocuts/ipc1_10k", "neurocuts/fw1_10k"}

var (
	nApplies = flag.Int("n", 20, "applies while the stream runs")
	every    = flag.Duration("every", 250*time.Millisecond, "from the start of one apply to the next (back to back when an apply takes longer)")
	nRules   = flag.Int("rules", 10000, "security-group rules in the lab (sg-server's ingress, the stream's rule included)")
	nChanged = flag.Int("changed", 5, "rules in which the two alternating labs differ")
	cbDir    = flag.String("classbench", filepath.Join("bench", bench.ClassBenchDir), "directory of the ClassBench rule sets (the default is right from the repository's root)")
	warmup   = flag.Duration("warmup", time.Second, "stream time before the first phase")
	verbose  = flag.Bool("v", false, "also print every TCP counter of the client namespace that moved, by phase")
	ec2Calls = flag.Bool("ec2", true, "also time two EC2 calls (revoke, then authorize again, the stream's rule) on the lab, with the stream stopped")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-apply:", err)
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

// phase is one measured stretch of the stream.
type phase struct {
	start   time.Time
	end     time.Time
	rxStart int64 // bytes received at start
	rxEnd   int64
	tcpi    [2]uint32  // the sender's total retransmissions at start, end
	snmp    [2]tcpStat // the client namespace's counters at start, end
	dp      [2]dpStat  // the dataplane's counters at start, end
}

// tcpStat are a namespace's TCP counters: the snmp file's Tcp table and
// netstat's TcpExt, by name.
type tcpStat map[string]uint64

// dpStat are the counters of the stream's two ENIs: the dataplane's, and
// their TUN devices' in the kernel.
type dpStat struct{ policyDenied, writeErrors, tunDropped uint64 }

func run() error {
	if os.Geteuid() != 0 {
		return errors.New("must run as root: it makes network namespaces and TUN devices")
	}
	if *nApplies < 1 || *nRules < 2 || *nChanged < 1 || *nChanged >= *nRules-1 {
		return errors.New("want -n ≥ 1, -rules ≥ 2 and 1 ≤ -changed < -rules-1")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Fprintln(os.Stderr, "bench-apply: interrupted, cleaning up")
		cleanup()
		os.Exit(1)
	}()
	defer cleanup()

	// The two labs: the rules, and the same with nChanged rules replaced.
	extra, sources, err := loadRules(*cbDir, *nRules-1)
	if err != nil {
		return err
	}
	changedAt, variant, err := vary(extra, *nChanged)
	if err != nil {
		return err
	}
	files := [2][]byte{[]byte(bench.Lab(extra)), []byte(bench.Lab(variant))}
	var labs [2]*lab.Lab
	var parse []time.Duration
	for i := range 3 {
		start := time.Now()
		l, err := labfile.Parse("apply.yaml", files[i%2])
		if err != nil {
			return fmt.Errorf("the benchmark lab: %w", err)
		}
		parse = append(parse, time.Since(start))
		labs[i%2] = l
	}
	if n := len(labs[0].Group("sg-server").Ingress); n != *nRules {
		return fmt.Errorf("the lab has %d rules in sg-server, want %d", n, *nRules)
	}

	// The lab, its control API, and what its applies took inside.
	var applyMu sync.Mutex
	var serverTimes []time.Duration
	var serverFailed int
	opts := live.Options{Net: labnet.Options{ID: labID, Prefix: prefix}, OnApply: func(d time.Duration, ok bool) {
		applyMu.Lock()
		defer applyMu.Unlock()
		if !ok {
			serverFailed++
			return
		}
		serverTimes = append(serverTimes, d)
	}}
	plan, err := labnet.NewPlan(labs[0], opts.Net)
	if err != nil {
		return err
	}
	if err := labnet.Down(plan); err != nil {
		return fmt.Errorf("removing an earlier run's lab: %w", err)
	}
	x, err := live.Start(labs[0], opts)
	if err != nil {
		return fmt.Errorf("live.Start: %w", err)
	}
	cleanups = append(cleanups, func() {
		if err := x.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "bench-apply: closing the lab:", err)
		}
	})
	dir, err := os.MkdirTemp("", "vpclab-apply-")
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	srv, err := control.Listen(daemon.ControlLab(x), filepath.Join(dir, "lab.sock"), control.Options{})
	if err != nil {
		return err
	}
	cleanups = append(cleanups, func() { srv.Close() })
	api := control.NewClient(srv.Path())
	api.Token = ""
	clientNS, serverNS := x.Plan().Instance("client").Name, x.Plan().Instance("server").Name

	// The stream.
	s, err := startStream(x, clientNS, serverNS)
	if err != nil {
		return err
	}
	cleanups = append(cleanups, s.abort)
	time.Sleep(*warmup)
	if err := s.failed(); err != nil {
		return err
	}
	tracked, err := trackedOn(api, "eni-server", s.local)
	if err != nil {
		return err
	}

	sample := func(p *phase, i int) error {
		var err error
		if i == 0 {
			p.start, p.rxStart = time.Now(), s.rx.Load()
		} else {
			p.end, p.rxEnd = time.Now(), s.rx.Load()
		}
		if p.tcpi[i], err = s.retrans(); err != nil {
			return err
		}
		if p.snmp[i], err = readTCPStat(x, clientNS); err != nil {
			return err
		}
		p.dp[i], err = readDP(x)
		return err
	}
	phases := []*phase{{}, {}, {}} // quiet, applying, quiet
	quietly := func(i int, d time.Duration) error {
		s.phase.Store(int32(i))
		if err := sample(phases[i], 0); err != nil {
			return err
		}
		time.Sleep(d)
		if err := s.failed(); err != nil {
			return err
		}
		return sample(phases[i], 1)
	}

	// Quiet, as long as the applies are planned to take.
	if err := quietly(0, time.Duration(*nApplies)**every); err != nil {
		return err
	}

	// Applying: N applies through the API, alternating, paced by -every.
	applying := phases[1]
	s.phase.Store(1)
	if err := sample(applying, 0); err != nil {
		return err
	}
	var clientTimes []time.Duration
	for i := range *nApplies {
		time.Sleep(time.Until(applying.start.Add(time.Duration(i) * *every)))
		v := (i + 1) % 2 // the lab in force is labs[0]: the first apply brings the variant
		start := time.Now()
		if err := api.PutLab(context.Background(), fmt.Sprintf("apply-%d.yaml", v), files[v]); err != nil {
			return fmt.Errorf("apply %d: %w", i+1, err)
		}
		clientTimes = append(clientTimes, time.Since(start))
		if err := inForce(x, v, changedAt, labs); err != nil {
			return fmt.Errorf("after apply %d: %w", i+1, err)
		}
	}
	// Until the planned end, so that the last apply's aftermath counts.
	time.Sleep(time.Until(applying.start.Add(time.Duration(*nApplies) * *every)))
	if err := s.failed(); err != nil {
		return err
	}
	if err := sample(applying, 1); err != nil {
		return err
	}
	length := applying.end.Sub(applying.start)

	// Quiet again, as long as the applies took.
	if err := quietly(2, length); err != nil {
		return err
	}
	sent, err := s.stop()
	if err != nil {
		return err
	}

	// One EC2 call each way, the stream stopped: what a one-rule change
	// costs on a lab this size.
	var ec2Times [2]time.Duration
	if *ec2Calls {
		// The stream's rule (the lab is at its quota: revoke first).
		perm := `{"GroupId": "sg-server", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.0.2.0/24"}]}]}`
		for i, action := range []string{"RevokeSecurityGroupIngress", "AuthorizeSecurityGroupIngress"} {
			start := time.Now()
			if _, err := api.EC2(context.Background(), action, []byte(perm)); err != nil {
				return fmt.Errorf("%s: %w", action, err)
			}
			ec2Times[i] = time.Since(start)
		}
	}

	applyMu.Lock()
	server, failedApplies := slices.Clone(serverTimes), serverFailed
	applyMu.Unlock()
	if *ec2Calls && len(server) >= 2 {
		server = server[:len(server)-2] // the EC2 calls' own
	}
	if failedApplies != 0 || len(server) != *nApplies {
		return fmt.Errorf("the server counted %d applies and %d failures, want %d applies", len(server), failedApplies, *nApplies)
	}

	report(reportData{
		sources: sources, fileBytes: len(files[0]), parse: parse, tracked: tracked,
		client: clientTimes, server: server, phases: phases, maxGap: s.maxGap, stalls: s.stalls,
		sent: sent, ec2: ec2Times, length: length,
	})
	return nil
}

// loadRules returns n distinct security-group rules (YAML flow mappings)
// made of the ClassBench sets in ruleFiles, in order, and says how many
// came from each.
func loadRules(dir string, n int) ([]string, []string, error) {
	seen := map[string]bool{}
	var out, sources []string
	for _, f := range ruleFiles {
		if len(out) == n {
			break
		}
		rules, err := classbench.Load(filepath.Join(dir, f))
		if err != nil {
			return nil, nil, fmt.Errorf("%w (run from the repository's root, or give -classbench)", err)
		}
		took := 0
		for _, r := range bench.ClassBenchRules(rules) {
			if len(out) == n {
				break
			}
			if !seen[r] {
				seen[r] = true
				out = append(out, r)
				took++
			}
		}
		sources = append(sources, fmt.Sprintf("%d from %s", took, filepath.Base(f)))
	}
	if len(out) < n {
		return nil, nil, fmt.Errorf("the ClassBench sets in %s give %d distinct rules, want %d", dir, len(out), n)
	}
	return out, sources, nil
}

// vary returns where the variant differs from rules and the variant:
// rules with k of them, spread evenly, replaced by rules for TCP ports
// 6000+i from 198.18.i/256.i%256/32 (benchmarking addresses, RFC 2544) that are
// not among rules.
func vary(rules []string, k int) ([]int, []string, error) {
	v := slices.Clone(rules)
	var at []int
	for i := range k {
		j := (i + 1) * len(rules) / (k + 1)
		v[j] = fmt.Sprintf("{protocol: tcp, ports: %d, cidr: 198.18.%d.%d/32}", 6000+i, i/256, i%256)
		if slices.Contains(rules, v[j]) {
			return nil, nil, fmt.Errorf("the variant's rule %s is among the lab's already", v[j])
		}
		at = append(at, j)
	}
	return at, v, nil
}

// inForce checks that the lab in force is labs[v], by a rule in which the
// two differ (sg-server's rule 0 is the stream's; the extra rules follow).
func inForce(x *live.Lab, v int, changedAt []int, labs [2]*lab.Lab) error {
	i := changedAt[0] + 1
	got, want := x.Lab().Group("sg-server").Ingress[i], labs[v].Group("sg-server").Ingress[i]
	if got.FromPort != want.FromPort || got.CIDR != want.CIDR {
		return fmt.Errorf("sg-server's rule %d is %v %d, want %v %d (lab %d)", i, got.CIDR, got.FromPort, want.CIDR, want.FromPort, v)
	}
	return nil
}

// trackedOn reports whether the ENI has a conntrack entry of the stream
// from local, as GET /v1/status?entries=1 lists them.
func trackedOn(api *control.Client, eni, local string) (bool, error) {
	st, _, err := api.GetStatus(context.Background(), true)
	if err != nil {
		return false, err
	}
	for _, e := range st.ENIs {
		if e.ID != eni {
			continue
		}
		for _, en := range e.Conntrack.Entries {
			f := strings.Fields(en.Key)
			if slices.Contains(f, local) && slices.Contains(f, serverAddr) {
				return true, nil
			}
		}
		return false, nil
	}
	return false, fmt.Errorf("the status has no ENI %s", eni)
}

// readTCPStat reads the TCP counters of a namespace, the snmp file's Tcp
// table (as Tcp.NAME) and netstat's TcpExt (as NAME), through
// /proc/thread-self on a thread inside it.
func readTCPStat(x *live.Lab, ns string) (tcpStat, error) {
	var st tcpStat
	err := x.Net().Do(ns, func() error {
		snmp, err := procCounters("/proc/thread-self/net/snmp", "Tcp:")
		if err != nil {
			return err
		}
		ext, err := procCounters("/proc/thread-self/net/netstat", "TcpExt:")
		if err != nil {
			return err
		}
		st = tcpStat{}
		for k, v := range snmp {
			st["Tcp."+k] = v
		}
		for k, v := range ext {
			st[k] = v
		}
		return nil
	})
	return st, err
}

// procCounters reads one table of a /proc/net counters file: a line of
// names, then a line of values, both starting with the table's name.
func procCounters(path, table string) (map[string]uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != table {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		m := map[string]uint64{}
		for i, v := range f[1:] {
			if i < len(names) {
				n, _ := strconv.ParseInt(v, 10, 64) // some counters are signed (MaxConn -1)
				m[names[i]] = uint64(n)
			}
		}
		return m, nil
	}
	return nil, fmt.Errorf("%s has no %s table", path, table)
}

// readDP sums the counters of the stream's two ENIs: packets a security
// group or network ACL denied (the kernel's IPv6 link-local chatter may be
// dropped at other stages, by design), frames a device refused, and the
// packets their TUN devices dropped in the kernel: tx_dropped, what the
// namespace sent while the device's queue to the dataplane was full, and
// rx_dropped, what the dataplane wrote that the kernel could not take in.
func readDP(x *live.Lab) (dpStat, error) {
	var d dpStat
	for _, eni := range []string{"eni-client", "eni-server"} {
		dev := x.Device(eni)
		s := dev.Counters.Load()
		for _, st := range []verdict.Stage{verdict.StageSGEgress, verdict.StageNACLEgress, verdict.StageNACLIngress, verdict.StageSGIngress} {
			d.policyDenied += s.DeniedPackets[st]
		}
		d.writeErrors += s.WriteErrors
		h, err := x.Net().Handle(dev.Link.Namespace)
		if err != nil {
			return d, err
		}
		link, err := h.LinkByName(dev.Link.Name)
		if err != nil {
			return d, fmt.Errorf("%s in %s: %w", dev.Link.Name, dev.Link.Namespace, err)
		}
		if st := link.Attrs().Statistics; st != nil {
			d.tunDropped += st.TxDropped + st.RxDropped
		}
	}
	return d, nil
}

// stream is one TCP connection from the client to the server. The sender
// writes the pattern until stopped; the receiver checks every byte.
type stream struct {
	cli, srv *net.TCPConn
	local    string // the client's address

	halt  atomic.Bool  // tells the sender to stop
	rx    atomic.Int64 // bytes received and checked
	phase atomic.Int32 // the phase the receiver counts stalls in; -1 during warmup

	sentBytes int64 // the sender's, read after sendDone
	sendErr   error
	sendDone  chan struct{}
	recvErr   error
	recvDone  chan struct{}
	maxGap    [3]time.Duration // by phase, the receiver's, read after recvDone
	stalls    [3]int           // by phase, reads after a gap over stallGoal
}

// blockSize is the period of the pattern.
const blockSize = 1 << 20

// pattern returns the stream's period: random bytes from a fixed seed.
// Each period's first 8 bytes are replaced by its number (little endian),
// so that losing a whole period, or several, is caught too.
func pattern() []byte {
	b := make([]byte, blockSize)
	r := rand.NewChaCha8([32]byte{'v', 'p', 'c', 'l', 'a', 'b'})
	r.Read(b)
	return b
}

func startStream(x *live.Lab, clientNS, serverNS string) (*stream, error) {
	var ln net.Listener
	if err := x.Net().Do(serverNS, func() (err error) {
		ln, err = net.Listen("tcp4", serverAddr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("listening in the server: %w", err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	var cli net.Conn
	if err := x.Net().Do(clientNS, func() (err error) {
		cli, err = (&net.Dialer{Timeout: 5 * time.Second}).Dial("tcp4", serverAddr)
		return err
	}); err != nil {
		return nil, fmt.Errorf("connecting the client to %s: %w", serverAddr, err)
	}
	var srv net.Conn
	select {
	case srv = <-accepted:
	case <-time.After(5 * time.Second):
	}
	if srv == nil {
		cli.Close()
		return nil, errors.New("the server accepted no connection")
	}
	s := newStream(cli.(*net.TCPConn), srv.(*net.TCPConn))
	go s.send()
	go s.receive()
	return s, nil
}

// newStream returns the stream over a connection, its ends not started.
func newStream(cli, srv *net.TCPConn) *stream {
	s := &stream{cli: cli, srv: srv, local: cli.LocalAddr().String(), sendDone: make(chan struct{}), recvDone: make(chan struct{})}
	s.phase.Store(-1)
	return s
}

func (s *stream) send() {
	defer close(s.sendDone)
	b := pattern()
	for k := uint64(0); !s.halt.Load(); k++ {
		binary.LittleEndian.PutUint64(b, k)
		n, err := s.cli.Write(b)
		s.sentBytes += int64(n)
		if err != nil {
			s.sendErr = fmt.Errorf("sending: %w", err)
			return
		}
	}
	if err := s.cli.CloseWrite(); err != nil {
		s.sendErr = fmt.Errorf("closing the stream: %w", err)
	}
}

func (s *stream) receive() {
	defer close(s.recvDone)
	want := pattern()
	buf := make([]byte, 256<<10)
	var k uint64 // the period being received
	off := 0     // in it
	last := time.Now()
	for {
		n, err := s.srv.Read(buf)
		if n > 0 {
			now := time.Now()
			if p := s.phase.Load(); p >= 0 {
				gap := now.Sub(last)
				s.maxGap[p] = max(s.maxGap[p], gap)
				if gap > stallGoal {
					s.stalls[p]++
				}
			}
			last = now
			for data := buf[:n]; len(data) > 0; {
				m := min(len(data), blockSize-off)
				if off == 0 {
					binary.LittleEndian.PutUint64(want, k)
				}
				if !bytes.Equal(data[:m], want[off:off+m]) {
					at := int64(k)*blockSize + int64(off)
					for i := range m {
						if data[i] != want[off+i] {
							at += int64(i)
							break
						}
					}
					s.recvErr = fmt.Errorf("the stream's byte %d is not the one sent: lost, duplicated or corrupted on the way", at)
					return
				}
				off += m
				data = data[m:]
				if off == blockSize {
					k, off = k+1, 0
				}
			}
			s.rx.Add(int64(n))
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.recvErr = fmt.Errorf("receiving: %w", err)
			}
			return
		}
	}
}

// failed returns the stream's error so far, if either end has stopped.
func (s *stream) failed() error {
	select {
	case <-s.sendDone:
		return errors.Join(errors.New("the stream's sender stopped early"), s.sendErr)
	case <-s.recvDone:
		return errors.Join(errors.New("the stream's receiver stopped early"), s.recvErr)
	default:
		return nil
	}
}

// retrans returns the sender's total retransmissions (TCP_INFO).
func (s *stream) retrans() (uint32, error) {
	rc, err := s.cli.SyscallConn()
	if err != nil {
		return 0, err
	}
	var info *unix.TCPInfo
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		info, gerr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil {
		return 0, err
	}
	if gerr != nil {
		return 0, fmt.Errorf("TCP_INFO: %w", gerr)
	}
	return info.Total_retrans, nil
}

// stop ends the stream: the sender half-closes, the receiver reads to the
// end. It returns the bytes sent, all of which the receiver checked.
func (s *stream) stop() (int64, error) {
	if err := s.failed(); err != nil {
		return 0, err
	}
	s.halt.Store(true)
	timeout := time.After(30 * time.Second)
	for _, done := range []chan struct{}{s.sendDone, s.recvDone} {
		select {
		case <-done:
		case <-timeout:
			s.abort()
			return 0, errors.New("the stream did not end within 30 s of being stopped")
		}
	}
	if err := errors.Join(s.sendErr, s.recvErr); err != nil {
		return 0, err
	}
	if got := s.rx.Load(); got != s.sentBytes {
		return 0, fmt.Errorf("the receiver got %d bytes, the sender sent %d", got, s.sentBytes)
	}
	s.abort()
	return s.sentBytes, nil
}

// abort closes both ends.
func (s *stream) abort() {
	s.halt.Store(true)
	s.cli.Close()
	s.srv.Close()
}

type reportData struct {
	sources   []string
	fileBytes int
	parse     []time.Duration
	tracked   bool
	client    []time.Duration
	server    []time.Duration
	phases    []*phase
	maxGap    [3]time.Duration
	stalls    [3]int
	sent      int64
	ec2       [2]time.Duration
	length    time.Duration
}

func report(r reportData) {
	argv0 := os.Args[0]
	if strings.Contains(argv0, "go-build") {
		argv0 = "go run ./bench/apply"
	}
	fmt.Printf("\nvpclab apply benchmark: PUT /v1/lab of a %d-rule lab while a TCP stream runs through it\n", *nRules)
	fmt.Printf("command: %s\n", strings.Join(append([]string{argv0}, os.Args[1:]...), " "))
	fmt.Printf("cores: %d (GOMAXPROCS %d), %s/%s, %s\n", runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Printf("lab: sg-server ingress %d rules (1 for the stream, %s), file %d KB; two labs %d rules apart, alternating\n",
		*nRules, strings.Join(r.sources, ", "), r.fileBytes/1000, *nChanged)
	tr := "tracked on eni-server (conntrack entry)"
	if !r.tracked {
		tr = "NOT tracked on eni-server"
	}
	fmt.Printf("stream: client -> server:%s, one TCP connection, %s; phases quiet %.1f s, applying %.1f s (%d applies, one every %s or back to back), quiet %.1f s\n\n",
		streamPort, tr, r.phases[0].end.Sub(r.phases[0].start).Seconds(), r.length.Seconds(), *nApplies, *every, r.phases[2].end.Sub(r.phases[2].start).Seconds())

	fmt.Printf("%-48s %9s %9s %9s\n", "apply latency (ms)", "median", "max", "goal")
	fmt.Printf("%-48s %9s %9s %9s\n", "client: PUT /v1/lab, end to end", ms(median(r.client)), ms(slices.Max(r.client)), "<= "+ms(applyGoal))
	fmt.Printf("%-48s %9s %9s %9s\n", "server: live.Lab.Apply (OnApply)", ms(median(r.server)), ms(slices.Max(r.server)), "")
	rest := make([]time.Duration, len(r.client))
	for i := range rest {
		rest[i] = r.client[i] - r.server[i]
	}
	fmt.Printf("%-48s %9s %9s %9s\n", "client - server: upload, labfile.Parse", ms(median(rest)), ms(slices.Max(rest)), "")
	fmt.Printf("%-48s %9s %9s %9s\n", "labfile.Parse of the file, idle, in-process", ms(median(r.parse)), ms(slices.Max(r.parse)), "")
	if *ec2Calls {
		fmt.Printf("%-48s %9s %9s %9s\n", "EC2 RevokeSecurityGroupIngress, 1 rule, idle", ms(r.ec2[0]), "", "")
		fmt.Printf("%-48s %9s %9s %9s\n", "EC2 AuthorizeSecurityGroupIngress, 1 rule, idle", ms(r.ec2[1]), "", "")
	}

	quiet := []*phase{r.phases[0], r.phases[2]}
	app := r.phases[1]
	rate := func(ps ...*phase) float64 {
		var b int64
		var d time.Duration
		for _, p := range ps {
			b += p.rxEnd - p.rxStart
			d += p.end.Sub(p.start)
		}
		return float64(b) * 8 / d.Seconds() / 1e9
	}
	sum := func(f func(p *phase) uint64, ps ...*phase) uint64 {
		var n uint64
		for _, p := range ps {
			n += f(p)
		}
		return n
	}
	retrans := func(p *phase) uint64 { return uint64(p.tcpi[1] - p.tcpi[0]) }
	counter := func(name string) func(*phase) uint64 {
		return func(p *phase) uint64 { return p.snmp[1][name] - p.snmp[0][name] }
	}
	dsacks, rtos := counter("TCPDSACKRecvSegs"), counter("TCPTimeouts")
	denied := func(p *phase) uint64 { return p.dp[1].policyDenied - p.dp[0].policyDenied }
	werr := func(p *phase) uint64 { return p.dp[1].writeErrors - p.dp[0].writeErrors }
	tunDrop := func(p *phase) uint64 { return p.dp[1].tunDropped - p.dp[0].tunDropped }
	qGap := max(r.maxGap[0], r.maxGap[2])

	fmt.Printf("\n%-48s %9s %9s %9s\n", "stream", "quiet", "applying", "ratio")
	q, a := rate(quiet...), rate(app)
	fmt.Printf("%-48s %9.3f %9.3f %8.2fx\n", "throughput (Gbit/s)", q, a, a/q)
	fmt.Printf("%-48s %9s %9s\n", "longest stall between two reads (ms)", ms(qGap), ms(r.maxGap[1]))
	row := func(name string, f func(*phase) uint64) {
		fmt.Printf("%-48s %9d %9d\n", name, sum(f, quiet...), f(app))
	}
	row("stalls > "+ms(stallGoal)+" ms", func(p *phase) uint64 { return uint64(r.stalls[slices.Index(r.phases, p)]) })
	row("retransmitted segments (sender's TCP_INFO)", retrans)
	row("  received twice (DSACK): spurious, not lost", dsacks)
	row("retransmission timeouts (TcpExt TCPTimeouts)", rtos)
	row("packets denied by policy (dataplane)", denied)
	row("frames refused by a device (dataplane)", werr)
	row("packets dropped by the TUN devices (kernel)", tunDrop)
	fmt.Printf("%-48s %9d MB, every byte in order\n", "bytes sent and checked (whole run)", r.sent/1e6)
	if *verbose {
		fmt.Printf("\nclient namespace TCP counters that moved (quiet, applying, quiet):\n")
		for _, name := range slices.Sorted(maps.Keys(r.phases[0].snmp[0])) {
			d := [3]uint64{}
			for i, p := range r.phases {
				d[i] = counter(name)(p)
			}
			if d != [3]uint64{} {
				fmt.Printf("  %-40s %9d %9d %9d\n", name, d[0], d[1], d[2])
			}
		}
	}

	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "missed"
	}
	lossFree := r.maxGap[1] <= stallGoal && rtos(app) == 0 && denied(app) == 0 && werr(app) == 0 && tunDrop(app) == 0
	fmt.Printf("\ngoal: a %d-rule lab applied in <= %s ms (client median %s, max %s): %s\n", *nRules, ms(applyGoal), ms(median(r.client)), ms(slices.Max(r.client)),
		verdict(slices.Max(r.client) <= applyGoal))
	fmt.Printf("goal: no loss on the stream meanwhile (every byte intact; while applying no stall > %s ms, no retransmission timeout, no packet denied or dropped): %s\n", ms(stallGoal), verdict(lossFree))
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
