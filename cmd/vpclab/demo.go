package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpclab/vpclab/demo"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

// demoCmd brings a lab up and checks real connections against explain
// (package demo). It needs root and /dev/net/tun.
func demoCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo [LAB]",
		Short: "Bring a lab up and check real connections against explain",
		Long: `Bring the lab up on this host (as "vpclab up" does), make real connections
between its instances and the internet host, compare each with what explain
predicts, print the table, and remove the lab. Without LAB, the built-in
example is used.

The cases come from the lab: every pair of instances on the services that
the destination's security groups open to groups or VPC addresses, the
internet host to every instance on the services open to it (and on the
others), every instance to the internet on tcp 443, and one IPv6 case when
the lab has IPv6. Each case has a listener in the destination's namespace
(TCP: accept and echo one line; UDP: echo; ICMP: the kernel's echo reply)
and a dial from the source's namespace with a short deadline. A case is
observed allowed when the line came back, predicted allowed when explain
allows the request and its reply.

The lab's namespaces are named with the lab id VPC-demo (vpclab-vpc-example-demo
for the example), so a demo runs beside a "vpclab up" of the same lab. Exit
status 1 when any case disagrees. Ctrl-C stops the run and removes the lab.
Needs root and /dev/net/tun.`,
		Example: `  sudo vpclab demo
  sudo vpclab demo lab.yaml -o json`,
		Args: maxLabArgs,
	}
	output := outputFlag(cmd)
	maxCases := cmd.Flags().Int("max-cases", demo.DefaultMaxCases, "the most cases to run")
	timeout := cmd.Flags().Duration("timeout", demo.DefaultTimeout, "how long a dial, then its echo, may take")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		if *maxCases < 1 || *timeout <= 0 {
			return usageErrorf("--max-cases and --timeout must be positive")
		}
		return work(func(cmd *cobra.Command, args []string) error {
			l, err := labArg(args)
			if err != nil {
				return err
			}
			if err := labnet.Check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			// A lab id of its own: the demo runs beside a "vpclab up" of the
			// same lab, and a crashed demo's leftovers go at the next demo.
			o := demo.Options{MaxCases: *maxCases, Timeout: *timeout,
				Live: live.Options{Net: labnet.Options{ID: l.VPC.ID + "-demo"}}}
			if *output == "text" {
				o.Started = func(x *live.Lab) {
					fmt.Fprintf(out, "lab %s is up in %d namespaces (%s…); each dial gets %v\n\n",
						l.File, len(x.Plan().Namespaces), x.Plan().Prefix+x.Plan().ID, *timeout)
				}
			}
			start := time.Now()
			r, err := demo.Run(ctx, l, o)
			if r != nil {
				if *output == "json" {
					if werr := writeJSON(out, r); werr != nil && err == nil {
						err = werr
					}
				} else {
					r.WriteText(out)
					fmt.Fprintf(out, "(%.1fs; the lab is removed)\n", time.Since(start).Seconds())
				}
			}
			if errors.Is(err, context.Canceled) {
				return errors.New("interrupted; the lab is removed")
			}
			if err != nil {
				return err
			}
			if !r.OK() {
				return failure{}
			}
			return nil
		})(cmd, args)
	}
	return cmd
}
