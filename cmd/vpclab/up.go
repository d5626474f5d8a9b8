package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/daemon"
	"github.com/vpclab/vpclab/ec2api"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/metrics"
)

// upFlags are the options of vpclab up.
type upFlags struct {
	principals   string
	auditLog     string
	controlAddr  string
	ec2Addr      string
	dataDir      string
	metricsAddr  string
	perENI       bool
	procs        int
	workers      int
	flowDir      *string
	flowInterval *time.Duration
	datapath     string
}

func upCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up [LAB]",
		Short: "Run a lab live: instances as namespaces, ENIs as TUN devices",
		Long: `Bring the lab up on this host and enforce it until interrupted (SIGINT or
SIGTERM), then remove everything it made.

Each instance becomes a network namespace with one TUN device per ENI (eth0,
eth1, …) carrying the ENI's addresses and routes; the internet hosts, if any,
share one more namespace. Every packet between them passes the same dataplane
as explain and replay: security groups with connection tracking, network
ACLs, the route. Without LAB, the built-in example is used.

While it runs, the lab answers on its control socket
(/run/vpclab/vpclab-<lab id>.sock, mode 0600): vpclab status, apply and ec2
change and read it. With --principals (or VPCLAB_TOKEN and VPCLAB_ROLE in the
environment) every request needs a token, each principal may do what its roles
allow, and --control-addr serves the same API on TCP. Every change attempt is
appended to the audit log. Prometheus metrics are served on --metrics-addr.

EC2's Query API is served on --ec2-addr (default 127.0.0.1:8730), so the aws
CLI, boto3, the AWS SDKs and Terraform change the running lab: every request
is signed (SigV4) with an access key of the principals file (access_key_id,
secret_access_key), or, without one, with the administrator key pair up makes
and writes to /var/lib/vpclab/<lab id>/ec2-credentials (mode 0600, an AWS
credentials file; removed when the lab stops). up prints how to use it.

Needs root and /dev/net/tun. Run commands inside an instance with
"vpclab exec", or "ip netns exec NAMESPACE" with the namespace from the table.`,
		Example: `  sudo vpclab up                       # the built-in example
  sudo vpclab up lab.yaml
  sudo vpclab exec web1 -- ping -c1 10.0.2.10   # from another terminal
  sudo vpclab up lab.yaml --principals /etc/vpclab/principals.yaml --control-addr 127.0.0.1:9723`,
		Args: maxLabArgs,
	}
	var f upFlags
	cmd.Flags().StringVar(&f.principals, "principals", "", "principals file: tokens and roles (see the README); without it the socket's peer (root) may do everything")
	cmd.Flags().StringVar(&f.auditLog, "audit-log", "", `audit log of every change attempt (default /var/log/vpclab/<lab id>.audit.log; "off" for none)`)
	cmd.Flags().StringVar(&f.dataDir, "data-dir", "", "where files named by changes over the API go (default /var/lib/vpclab/<lab id>)")
	cmd.Flags().StringVar(&f.controlAddr, "control-addr", "", "also serve the control API on this TCP address (needs principals)")
	cmd.Flags().StringVar(&f.ec2Addr, "ec2-addr", ec2api.DefaultAddr, `serve EC2's Query API (aws CLI, boto3, SDKs, Terraform) here ("off" for none)`)
	cmd.Flags().StringVar(&f.metricsAddr, "metrics-addr", metrics.DefaultAddr, `serve Prometheus metrics here ("off" for none)`)
	cmd.Flags().BoolVar(&f.perENI, "metrics-per-eni", false, "label the packet metrics with each ENI (more series)")
	cmd.Flags().IntVar(&f.workers, "workers", 0, "loops forwarding the instances' packets, each serving its devices in turn, a fair share of a batch each (default: the threads of --procs; -1: a goroutine per device, without the fair shares, for comparisons)")
	cmd.Flags().IntVar(&f.procs, "procs", 0, "threads running vpclab's Go code (default: GOMAXPROCS if set, else half the CPUs: the rest is left to the instances)")
	cmd.Flags().StringVar(&f.datapath, "datapath", "", `the lab file's settings.datapath, else "tun": "tun": the userspace router judges and forwards every packet; "ebpf": ENIs are veth pairs and a kernel fast path forwards the packets of flows the engine has judged (falls back to tun, saying why, where the kernel cannot load it)`)
	f.flowDir, f.flowInterval = flowLogFlags(cmd)
	cmd.RunE = work(func(cmd *cobra.Command, args []string) error {
		return up(cmd, args, &f)
	})
	return cmd
}

func up(cmd *cobra.Command, args []string, f *upFlags) error {
	l, err := labArg(args)
	if err != nil {
		return err
	}
	added, err := addFlowLog(l, *f.flowDir, *f.flowInterval)
	if err != nil {
		return err
	}
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	procs := f.procs
	if procs <= 0 {
		procs = live.Procs()
	}
	runtime.GOMAXPROCS(procs)

	cfg := daemon.Config{
		Lab:            l,
		Workers:        f.workers,
		PrincipalsFile: f.principals,
		Getenv:         os.Getenv,
		AuditLog:       f.auditLog,
		DataDir:        f.dataDir,
		ControlAddr:    f.controlAddr,
		EC2Addr:        f.ec2Addr,
		MetricsAddr:    f.metricsAddr,
		Metrics:        metrics.Options{PerENI: f.perENI, Version: buildVersion().Version, Revision: buildVersion().Revision},
		Warn:           errOut,
		Datapath:       f.datapath,
	}
	if added != nil {
		cfg.KeepFlowLogs = []*lab.FlowLog{added}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := daemon.New(cfg)
	if err != nil {
		return err
	}
	writeDevices(out, l, d.Lab())
	fmt.Fprintln(out)
	writeEndpoints(out, d)
	fmt.Fprintf(out, "threads         %d of %d CPUs (--procs), %d forwarding (--workers)\n", runtime.GOMAXPROCS(0), runtime.NumCPU(), d.Lab().Workers())
	dp, _ := d.Lab().Datapath()
	fmt.Fprintf(out, "datapath        %s (--datapath)\n", dp)
	fmt.Fprintln(out, "enforcing; press Ctrl-C to stop and remove the lab")
	d.Wait(ctx)
	err = d.Close()
	writeCounters(out, d.Lab())
	return err
}

func writeEndpoints(w io.Writer, d *daemon.Daemon) {
	for _, s := range d.Servers {
		if s.Path() != "" {
			fmt.Fprintf(w, "control socket  %s (vpclab status, apply, ec2)\n", s.Path())
		} else {
			fmt.Fprintf(w, "control API     http://%s/v1/\n", s.Addr())
		}
	}
	switch {
	case d.Principals != nil:
		fmt.Fprintf(w, "principals      %d (requests need Authorization: Bearer TOKEN)\n", d.Principals.Len())
	default:
		fmt.Fprintln(w, "principals      none: the socket's peer (root) may do everything")
	}
	if d.Audit != nil {
		fmt.Fprintf(w, "audit log       %s\n", d.Audit.Path())
	}
	if d.Metrics != nil {
		fmt.Fprintf(w, "metrics         %s\n", d.Metrics.URL())
	}
	writeEC2Endpoint(w, d.EC2Endpoint)
}

// writeEC2Endpoint says where EC2's Query API is and how to point the
// aws CLI and the SDKs at it.
func writeEC2Endpoint(w io.Writer, e *control.EC2Endpoint) {
	if e == nil {
		return
	}
	fmt.Fprintf(w, "EC2 API         %s (aws --endpoint-url %s ec2 …)\n", e.URL, e.URL)
	if e.CredentialsFile != "" {
		fmt.Fprintf(w, "EC2 keys        %s (root only; profile %s)\n", e.CredentialsFile, e.Profile)
		fmt.Fprintf(w, "  export AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=%s\n", e.CredentialsFile, e.Profile)
	} else {
		fmt.Fprintf(w, "EC2 keys        %d principals sign with their access_key_id and secret_access_key\n", e.AccessKeys)
	}
	fmt.Fprintf(w, "  export AWS_DEFAULT_REGION=%s AWS_ENDPOINT_URL=%s\n", e.Region, e.URL)
}

// flowLogFlags adds --flow-logs and --flow-log-interval to cmd.
func flowLogFlags(cmd *cobra.Command) (dir *string, interval *time.Duration) {
	dir = cmd.Flags().String("flow-logs", "", "write VPC flow logs of the whole VPC (traffic ALL, default format) under `DIR`")
	interval = cmd.Flags().Duration("flow-log-interval", time.Minute, "their aggregation interval: 60s or 600s")
	return dir, interval
}

// addFlowLog adds the flow log of --flow-logs to l, if asked, and returns
// it; and checks every flow log's format.
func addFlowLog(l *lab.Lab, dir string, interval time.Duration) (*lab.FlowLog, error) {
	var f *lab.FlowLog
	if dir != "" {
		if interval != time.Minute && interval != 10*time.Minute {
			return nil, fmt.Errorf("--flow-log-interval %s: AWS offers 60s and 600s", interval)
		}
		f = &lab.FlowLog{ID: "fl-vpclab", ResourceType: lab.FlowLogVPC, ResourceID: l.VPC.ID,
			TrafficType: "ALL", MaxAggregationInterval: interval, Destination: dir}
		l.FlowLogs = append(l.FlowLogs, f)
	}
	return f, flowlog.Check(l)
}
