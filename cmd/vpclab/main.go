// Command vpclab emulates AWS VPC packet filtering in user space: security
// groups with connection tracking, network ACLs and the traffic no filter
// touches. Its commands print the example lab, explain one packet and its
// reply stage by stage, run policy tests, and replay packet captures.
//
// This file only wires the command line to the packages that do the work
// (lab, explain, policytest, replay). Exit status: 0 on success, 1 when the
// work fails (a bad lab, a failing policy test, an unreadable capture), 2
// on a usage error (an unknown command or flag, a missing or bad argument).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/explain"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/mirror"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/policytest"
	"github.com/vpclab/vpclab/replay"
)

// version and revision are set at link time (the Makefile does it):
// -ldflags "-X main.version=v1.2.3 -X main.revision=$(git rev-parse HEAD)".
// Without them, version reports what the build information holds: the
// module version and the VCS stamp, which -buildvcs=false leaves out.
var version, revision = "", ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// failure marks an error of the work itself, as opposed to the usage
// errors that cobra and the flag checks return. An empty message means the
// command already said what failed.
type failure struct{ err error }

func (f failure) Error() string {
	if f.err == nil {
		return ""
	}
	return f.err.Error()
}

func (f failure) Unwrap() error { return f.err }

// run executes the command line args, writing to stdout and stderr, and
// returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	if err == nil {
		return exitOK
	}
	var f failure
	if errors.As(err, &f) {
		if f.err != nil {
			printError(stderr, cmd, f.err)
		}
		return exitFailure
	}
	fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", cmd.CommandPath(), err, cmd.CommandPath())
	return exitUsage
}

// printError writes err to w: a lab or policy-test file's errors one per
// line as FILE:LINE:COL: FIELD: MESSAGE, others after the command's name.
func printError(w io.Writer, cmd *cobra.Command, err error) {
	var list lab.ErrorList
	if errors.As(err, &list) {
		fmt.Fprintln(w, list.Error())
		return
	}
	fmt.Fprintf(w, "%s: %v\n", cmd.CommandPath(), err)
}

// usageErrorf returns a usage error: exit status 2 and a pointer to --help.
func usageErrorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// work runs fn as a command's body: its errors are failures, not usage
// errors.
func work(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		err := fn(cmd, args)
		if err == nil {
			return nil
		}
		if f := (failure{}); errors.As(err, &f) {
			return f // already a failure, perhaps an empty one: not wrapped again
		}
		return failure{err}
	}
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "vpclab",
		Short: "Emulate AWS VPC packet filtering: security groups, network ACLs, conntrack",
		Long: `vpclab judges packets the way an AWS VPC does: the sender's security group,
the network ACLs of the subnets crossed, the receiver's security group, with
connection tracking that lets replies back, and the VPC services that no
filter touches. A lab file describes the VPC; "vpclab example" prints one.`,
		Example: `  vpclab example > lab.yaml
  vpclab explain --lab lab.yaml --from web1 --to db1 --proto tcp --dport 5432
  vpclab test tests/*.yaml
  vpclab replay --lab lab.yaml capture.pcap`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return err })
	root.AddCommand(exampleCmd(), explainCmd(), testCmd(), replayCmd(), upCmd(), downCmd(), execCmd(), statusCmd(), applyCmd(), ec2Cmd(), importCmd(), captureCmd(), demoCmd(), reachCmd(), versionCmd())
	return root
}

// outputFlag adds -o/--output, text or json.
func outputFlag(cmd *cobra.Command) *string {
	return cmd.Flags().StringP("output", "o", "text", "output format: text or json")
}

func checkOutput(o string) error {
	if o != "text" && o != "json" {
		return usageErrorf("-o %s: the output format is text or json", o)
	}
	return nil
}

// labFlag adds --lab, optional: without it the built-in example is used.
func labFlag(cmd *cobra.Command) *string {
	return cmd.Flags().String("lab", "", "lab file (default: the built-in example, see 'vpclab example')")
}

// loadLab reads the lab at path: a lab file, a directory of AWS CLI
// output or a Terraform state (imported as vpclab import does); the
// built-in example when path is empty.
func loadLab(path string) (*lab.Lab, error) {
	if path == "" {
		return labfile.ExampleLab(), nil
	}
	if l, ok, err := importLab(path, os.Stderr); ok {
		return l, err
	}
	return labfile.Load(path)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func exampleCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "example",
		Short: "Print the built-in example lab",
		Long: `Print the built-in example lab: a web, an application and a database tier in
one VPC, with comments. It is the lab that explain and replay use when --lab
is not given, and a starting point for your own.`,
		Example: `  vpclab example > lab.yaml`,
		Args:    cobra.NoArgs,
		RunE: work(func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(labfile.Example())
			return err
		}),
	}
}

func explainCmd() *cobra.Command {
	var q explain.Query
	cmd := &cobra.Command{
		Use:   "explain --from X --to Y --proto P [--dport N]",
		Short: "Explain, stage by stage, whether a packet and its reply get through",
		Long: `Send one packet from --from to --to and its reply back through the lab, and
show each stage's decision: the security groups (which rule, or the conntrack
entry), the network ACLs (which numbered entry), the VPC services, and the
final verdict with its explanation code (SUBNET_ACL_RESTRICTION,
ENI_SG_RULES_MISMATCH, ...).

The reply is judged after the request by the same dataplane, so it meets the
conntrack entries the request created when it was delivered. A TCP request
carries SYN and its reply SYN-ACK; an ICMP echo request gets an echo reply.

--from and --to name an instance (its first interface), an ENI id, or an
address: an interface's, a VPC service's (169.254.169.254, the VPC base + 2),
or any address outside the VPC (behind the internet gateway).`,
		Example: `  vpclab explain --from web1 --to app1 --proto tcp --dport 8080
  vpclab explain --from web1 --to db1 --proto tcp --dport 5432
  vpclab explain --from 203.0.113.5 --to web1 --proto tcp --dport 443 -o json
  vpclab explain --from 2001:db8::5 --to web1 --proto tcp --dport 80 --family 6
  vpclab explain --lab lab.yaml --from web1 --to 10.0.2.10 --proto icmp --type 8 --code 0`,
		Args: cobra.NoArgs,
	}
	labPath, output := labFlag(cmd), outputFlag(cmd)
	f := cmd.Flags()
	f.StringVar(&q.From, "from", "", "the sender: instance, ENI id or address (required)")
	f.StringVar(&q.To, "to", "", "the receiver: instance, ENI id or address (required)")
	f.StringVar(&q.Proto, "proto", "tcp", "protocol: tcp, udp, icmp, icmpv6 or a number 0-255")
	f.IntVar(&q.Sport, "sport", explain.EphemeralPort, "source port")
	f.IntVar(&q.Dport, "dport", 0, "destination port (required for tcp and udp)")
	f.IntVar(&q.Family, "family", 0, "IP family, 4 or 6 (default: the addresses', else 4)")
	icmpType := f.Int("type", 0, "ICMP type (default: echo request)")
	icmpCode := f.Int("code", 0, "ICMP code")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		if err := checkQuery(cmd, &q); err != nil {
			return err
		}
		if f.Changed("type") {
			q.Type = icmpType
		}
		if f.Changed("code") {
			q.Code = icmpCode
		}
		return work(func(cmd *cobra.Command, _ []string) error {
			l, err := loadLab(*labPath)
			if err != nil {
				return err
			}
			res, err := explain.Run(l, q)
			if err != nil {
				return err
			}
			if *output == "json" {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			return res.WriteText(cmd.OutOrStdout())
		})(cmd, nil)
	}
	return cmd
}

// checkQuery checks explain's flags against each other.
func checkQuery(cmd *cobra.Command, q *explain.Query) error {
	f := cmd.Flags()
	switch {
	case q.From == "" || q.To == "":
		return usageErrorf("--from and --to are required")
	case q.Family != 0 && q.Family != 4 && q.Family != 6:
		return usageErrorf("--family %d: the family is 4 or 6", q.Family)
	}
	proto := strings.ToLower(q.Proto)
	p, known := ec2.ParseAPIProtocol(proto)
	ported, icmp := known && ec2.PortsMatter(p), known && ec2.ICMPMatters(p)
	if n, err := strconv.Atoi(proto); err == nil && (n < 0 || n > 255) {
		return usageErrorf("--proto %s: a protocol number is 0-255", q.Proto)
	} else if !known || p == ec2.ProtoAll {
		return usageErrorf("--proto %s: use tcp, udp, icmp, icmpv6 or a protocol number 0-255", q.Proto)
	}
	switch {
	case ported && !f.Changed("dport"):
		return usageErrorf("--dport is required for %s", proto)
	case !ported && (f.Changed("dport") || f.Changed("sport")):
		return usageErrorf("--sport and --dport apply to tcp and udp only, not %s", proto)
	case q.Dport < 0 || q.Dport > 65535 || q.Sport < 0 || q.Sport > 65535:
		return usageErrorf("ports are 0-65535")
	case !icmp && (f.Changed("type") || f.Changed("code")):
		return usageErrorf("--type and --code apply to icmp and icmpv6 only, not %s", proto)
	}
	for _, name := range []string{"type", "code"} {
		if v, _ := f.GetInt(name); v < 0 || v > 255 {
			return usageErrorf("--%s %d: ICMP types and codes are 0-255", name, v)
		}
	}
	return nil
}

func testCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "test FILE...",
		Short: "Run policy tests",
		Long: `Run the policy-test files given: each names a lab and lists packets to send
with the verdict each must get (allow or deny, and optionally the stage and
rule that decides), clock advances, and policy changes. Every step is printed
with its outcome; the exit status is 1 when any step fails.`,
		Example: `  vpclab test testdata/policy/example.yaml
  vpclab test tests/*.yaml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("give at least one policy-test file")
			}
			return nil
		},
		RunE: work(func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			var failed bool
			var passed, failedSteps, errored int
			for i, path := range args {
				if i > 0 {
					fmt.Fprintln(out)
				}
				if len(args) > 1 {
					fmt.Fprintf(out, "%s\n", path)
				}
				f, err := policytest.Load(path)
				if err == nil {
					var res *policytest.Result
					if res, err = policytest.Run(f); err == nil {
						res.Write(out)
						passed += res.Passed
						failedSteps += res.Failed
						failed = failed || res.Failed > 0
						continue
					}
				}
				printError(cmd.ErrOrStderr(), cmd, err)
				failed = true
				errored++
			}
			if len(args) > 1 {
				fmt.Fprintf(out, "\ntotal: %d files, %d passed, %d failed", len(args), passed, failedSteps)
				if errored > 0 {
					fmt.Fprintf(out, ", %d files not run (errors above)", errored)
				}
				fmt.Fprintln(out)
			}
			if failed {
				return failure{}
			}
			return nil
		}),
	}
}

func replayCmd() *cobra.Command {
	var verdicts, allowed, verdictsPcapng string
	var cores int
	cmd := &cobra.Command{
		Use:   "replay [--lab FILE] CAPTURE",
		Short: "Judge every packet of a pcap or pcapng capture",
		Long: `Replay a capture through the lab's dataplane, in order, on the capture's own
clock, and summarise the verdicts: packets allowed and denied, by stage and by
explanation code, parse drops by reason, and frames skipped because they hold
no IP packet (ARP, other link types).

Each packet enters where its source address lives: the ENI that owns it, the
VPC's services, or else the internet gateway. Captures may be pcap or pcapng,
gzip-compressed or not, of link type Ethernet (VLAN tags are stripped), raw IP,
Linux cooked (SLL, SLL2) or BSD loopback.

--verdicts writes one JSON object per packet (JSON Lines); --write-allowed
writes the allowed packets as a raw-IP pcap with their original timestamps;
--write-verdicts writes every packet as pcapng with its verdict, stage and rule
as the packet's comment (as vpclab capture does live).

The lab's flow logs (flow_logs:, and --flow-logs DIR for one on the whole VPC)
are written on the capture's clock, so a capture gives the same records every
time; its traffic mirror sessions with pcap targets are written too.

--cores N judges on N goroutines, the packets sharded by ENI (every packet an
ENI sends or receives goes to one core, in capture order; between two ENIs, to
the lower one's; an ENI too busy for one core is split among all by address
pair); it writes the summary only. After the replay, the capture is read once more without judging
anything, and the summary reports that reader-alone rate beside the replay's.`,
		Example: `  vpclab replay --lab lab.yaml capture.pcap
  vpclab replay --lab lab.yaml capture.pcapng -o json
  vpclab replay --lab lab.yaml capture.pcap --cores 2 -o json
  vpclab replay --lab lab.yaml capture.pcap --verdicts verdicts.jsonl --write-allowed allowed.pcap
  vpclab replay --lab lab.yaml capture.pcap --write-verdicts verdicts.pcapng`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("give one capture file (got %d arguments)", len(args))
			}
			return nil
		},
	}
	labPath, output := labFlag(cmd), outputFlag(cmd)
	cmd.Flags().StringVar(&verdicts, "verdicts", "", "write one JSON verdict per packet to `OUT.jsonl`")
	cmd.Flags().StringVar(&allowed, "write-allowed", "", "write the allowed packets to `OUT.pcap` (raw IP)")
	cmd.Flags().StringVar(&verdictsPcapng, "write-verdicts", "", "write every packet with its verdict as a comment to `OUT.pcapng`")
	cmd.Flags().IntVar(&cores, "cores", 1, "judge on `N` cores (summary only: no per-packet outputs, flow logs or mirroring)")
	flowDir, flowInterval := flowLogFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		if cores < 1 {
			return usageErrorf("--cores %d: give 1 or more", cores)
		}
		if cores > 1 && (verdicts != "" || allowed != "" || verdictsPcapng != "") {
			return usageErrorf("--cores %d writes the summary only: drop --verdicts, --write-allowed and --write-verdicts, or use one core", cores)
		}
		return work(func(cmd *cobra.Command, args []string) error {
			l, err := loadLab(*labPath)
			if err != nil {
				return err
			}
			c, err := pcap.Open(args[0])
			if err != nil {
				return err
			}
			defer c.Close()
			var opts replay.Options
			var files []*os.File
			defer func() {
				for _, f := range files {
					f.Close()
				}
			}()
			for _, o := range []struct {
				path string
				dst  *io.Writer
			}{{verdicts, &opts.Verdicts}, {allowed, &opts.Allowed}, {verdictsPcapng, &opts.VerdictsPcapng}} {
				if o.path == "" {
					continue
				}
				f, err := os.Create(o.path)
				if err != nil {
					return err
				}
				files = append(files, f)
				*o.dst = f
			}
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && isTerminal(f.Fd()) {
				opts.Progress = f
			}
			opts.Lab = l
			if _, err := addFlowLog(l, *flowDir, *flowInterval); err != nil {
				return err
			}
			e := dataplane.New(l)
			if len(l.FlowLogs) > 0 {
				if opts.FlowLogs, err = flowlog.New(l, e.Port, flowlog.Options{Header: true}); err != nil {
					return err
				}
			}
			if len(l.MirrorSessions) > 0 {
				m, err := mirror.New(l, e.Port, mirror.Options{})
				if err != nil {
					return err
				}
				defer m.Close()
				opts.Mirror = m
			}
			sum, err := replay.RunParallel(e, c, cores, opts)
			for _, f := range files {
				if cerr := f.Close(); cerr != nil && err == nil {
					err = cerr
				}
			}
			files = nil
			if err != nil {
				return err
			}
			rate, err := replay.ReaderRate(args[0])
			if err != nil {
				return err
			}
			sum.SetReaderPPS(rate)
			if *output == "json" {
				return writeJSON(cmd.OutOrStdout(), sum)
			}
			return sum.WriteText(cmd.OutOrStdout())
		})(cmd, args)
	}
	return cmd
}

// versionInfo is what version prints.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"` // "unknown" when the build carries none
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	v.Revision, v.Modified = strings.CutSuffix(revision, "+modified")
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Revision == "" {
					v.Revision = s.Value
				}
			case "vcs.modified":
				v.Modified = v.Modified || s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	if v.Revision == "" {
		v.Revision = "unknown"
	}
	return v
}

func versionCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print vpclab's version",
		Long:  `Print vpclab's version, the source revision it was built from, and the Go version.`,
		Example: `  vpclab version
  vpclab version -o json`,
		Args: cobra.NoArgs,
	}
	output := outputFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		v := buildVersion()
		if *output == "json" {
			return work(func(cmd *cobra.Command, _ []string) error { return writeJSON(cmd.OutOrStdout(), v) })(cmd, nil)
		}
		s := "vpclab " + v.Version
		if v.Revision != "unknown" {
			s += " " + v.Revision[:min(12, len(v.Revision))]
			if v.Modified {
				s += "+modified"
			}
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s (%s, %s)\n", s, v.Go, v.Platform)
		return nil
	}
	return cmd
}
