package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
)

func statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [LAB]",
		Short: "Show the counters and conntrack of a running lab",
		Long: `Ask the "vpclab up" running LAB for its status over its control socket
(/run/vpclab/vpclab-<lab id>.sock) and print, per ENI, the packets and bytes
its instance sent that were allowed, those denied by stage, its conntrack
entries and its instance's conntrack allowance. Without LAB, the built-in
example is used. -o json prints the control server's JSON (GET /v1/status);
--entries lists the conntrack entries too.`,
		Example: `  sudo vpclab status
  sudo vpclab status lab.yaml -o json
  sudo vpclab status --entries`,
		Args: maxLabArgs,
	}
	output := outputFlag(cmd)
	entries := cmd.Flags().Bool("entries", false, "list each ENI's conntrack entries")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*output); err != nil {
			return err
		}
		return work(func(cmd *cobra.Command, args []string) error {
			l, err := labArg(args)
			if err != nil {
				return err
			}
			p, err := labnet.NewPlan(l, labnet.Options{})
			if err != nil {
				return err
			}
			return showStatus(cmd.Context(), cmd.OutOrStdout(), l, control.SocketPath(p), *output == "json", *entries)
		})(cmd, args)
	}
	return cmd
}

// showStatus asks the server on the socket at path for the status of l
// and prints it.
func showStatus(ctx context.Context, w io.Writer, l *lab.Lab, path string, asJSON, entries bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	st, body, err := control.NewClient(path).GetStatus(ctx, entries)
	if errors.Is(err, control.ErrNotUp) {
		return fmt.Errorf("lab %s is not up: no control socket at %s; start it with vpclab up", l.File, path)
	}
	if err != nil {
		return err
	}
	if asJSON {
		_, err := w.Write(body)
		return err
	}
	writeStatus(w, st)
	return nil
}

// writeStatus prints st as a table, one line per ENI, and the conntrack
// entries when st has them.
func writeStatus(w io.Writer, st *control.Status) {
	fmt.Fprintf(w, "lab %s (%s), up %s\n", st.Lab, st.File, formatUptime(st.UptimeSeconds))
	if st.Datapath != "" {
		fmt.Fprintf(w, "datapath %s", st.Datapath)
		if st.DatapathNote != "" {
			fmt.Fprintf(w, " (%s)", st.DatapathNote)
		}
		fmt.Fprintln(w)
	}
	if st.Metrics != "" {
		fmt.Fprintf(w, "metrics         %s\n", st.Metrics)
	}
	writeEC2Endpoint(w, st.EC2)
	fmt.Fprintln(w)
	if st.FlowLogErrors > 0 {
		fmt.Fprintf(w, "flow logs: %d failed writes, the last: %s\n\n", st.FlowLogErrors, st.FlowLogError)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENI\tINSTANCE\tALLOWED PKTS\tALLOWED BYTES\tDENIED PKTS\tDENIED BY STAGE\tSERVICE PKTS\tCONNTRACK\tALLOWANCE USED/AVAILABLE\tPPS ALLOWANCE")
	for _, e := range st.ENIs {
		stages := make([]string, 0, len(e.Denied.ByStage))
		for name, c := range e.Denied.ByStage {
			stages = append(stages, fmt.Sprintf("%s=%d", name, c.Packets))
		}
		sort.Strings(stages)
		by := strings.Join(stages, " ")
		if by == "" {
			by = "-"
		}
		allowance := fmt.Sprintf("%d/%d", e.Allowance.Used, e.Allowance.Available)
		if e.Allowance.Exceeded > 0 {
			allowance += fmt.Sprintf(" (exceeded %d)", e.Allowance.Exceeded)
		}
		pps := "unlimited"
		if e.PPSAllowance.PacketsPerSecond > 0 {
			pps = fmt.Sprintf("%d/s", e.PPSAllowance.PacketsPerSecond)
		}
		if e.PPSAllowance.Exceeded > 0 {
			pps += fmt.Sprintf(" (exceeded %d)", e.PPSAllowance.Exceeded)
		}
		inst := e.Instance
		if e.State == "stopped" {
			inst += " (stopped)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\t%s\t%s\n", e.ID, inst, e.Allowed.Packets, e.Allowed.Bytes,
			e.Denied.Packets, by, e.ServicePackets, e.Conntrack.Count, allowance, pps)
	}
	tw.Flush()
	for _, e := range st.ENIs {
		if len(e.Conntrack.Entries) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nconntrack of %s (%s)\n", e.ID, e.Instance)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tSTATE\tEXPIRES IN")
		for _, c := range e.Conntrack.Entries {
			fmt.Fprintf(tw, "%s\t%s\t%.0fs\n", c.Key, c.State, c.ExpiresInSeconds)
		}
		tw.Flush()
	}
}

func formatUptime(s float64) string {
	d := int64(s)
	switch {
	case d < 60:
		return fmt.Sprintf("%ds", d)
	case d < 3600:
		return fmt.Sprintf("%dm%02ds", d/60, d%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", d/3600, d/60%60, d%60)
}
