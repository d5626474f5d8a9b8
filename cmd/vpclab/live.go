package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

// The commands of a live lab: up, down and exec. They need root and
// /dev/net/tun (labnet.Check says what is missing).

func downCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "down [LAB]",
		Short: "Remove what a crashed 'vpclab up' left behind",
		Long: `Delete the namespaces and links of a lab that a crashed or killed "vpclab up"
left behind. A running "vpclab up" removes its lab itself when it stops; while
one runs, down refuses. Without LAB, the built-in example is used.`,
		Example: `  sudo vpclab down
  sudo vpclab down lab.yaml`,
		Args: maxLabArgs,
		RunE: work(func(cmd *cobra.Command, args []string) error {
			l, err := labArg(args)
			if err != nil {
				return err
			}
			p, err := labnet.NewPlan(l, labnet.Options{})
			if err != nil {
				return err
			}
			return labnet.Down(p)
		}),
	}
}

func execCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exec INSTANCE [--lab LAB] -- COMMAND [ARG...]",
		Short: "Run a command inside an instance of a running lab",
		Long: `Run COMMAND in the network namespace of INSTANCE, an instance of a lab that
"vpclab up" is running. The command replaces vpclab: its exit status is
exec's, and signals reach it directly. Only the network namespace changes.
Without --lab, the built-in example is used.`,
		Example: `  sudo vpclab exec web1 -- ip addr
  sudo vpclab exec web1 -- curl -m2 http://10.0.2.10:8080/
  sudo vpclab exec db1 --lab lab.yaml -- nc -l 5432`,
		Args: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 || len(args) < 2 {
				return usageErrorf("want INSTANCE -- COMMAND [ARG...]")
			}
			return nil
		},
	}
	labPath := labFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		l, err := loadLab(*labPath)
		if err != nil {
			return failure{err}
		}
		p, err := labnet.NewPlan(l, labnet.Options{})
		if err != nil {
			return failure{err}
		}
		ns := p.Instance(args[0])
		if ns == nil {
			names := make([]string, len(l.Instances))
			for i, in := range l.Instances {
				names[i] = in.Name
			}
			return usageErrorf("no instance %q in %s (it has %s)", args[0], l.File, strings.Join(names, ", "))
		}
		return failure{labnet.Exec(ns, args[1:], os.Environ())}
	}
	return cmd
}

func maxLabArgs(_ *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usageErrorf("give at most one lab file (got %d arguments)", len(args))
	}
	return nil
}

// labArg loads the lab file of args, or the built-in example.
func labArg(args []string) (*lab.Lab, error) {
	if len(args) == 0 {
		return loadLab("")
	}
	return loadLab(args[0])
}

// writeDevices prints what up made, one line per device.
func writeDevices(w io.Writer, l *lab.Lab, x *live.Lab) {
	fmt.Fprintf(w, "lab %s is up\n\n", l.File)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tNAMESPACE\tENI\tDEVICE\tADDRESSES\tOFFLOADS")
	for _, d := range x.Devices() {
		inst := d.Instance
		if inst == "" {
			inst = "(internet)"
		}
		addrs := make([]string, len(d.Link.Addrs))
		for i, a := range d.Link.Addrs {
			addrs[i] = a.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", inst, d.Link.Namespace, d.Link.Alias(), d.Link.Name, strings.Join(addrs, " "), d.Offloads)
	}
	tw.Flush()
}

// writeCounters prints what each device sent: allowed and denied.
func writeCounters(w io.Writer, x *live.Lab) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FROM\tALLOWED PKTS\tALLOWED BYTES\tDENIED PKTS")
	for _, d := range x.Devices() {
		s := d.Counters.Load()
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", d.Link.Alias(), s.AllowedPackets, s.AllowedBytes, s.Denied())
	}
	tw.Flush()
}
