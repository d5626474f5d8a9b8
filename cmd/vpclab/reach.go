package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vpclab/vpclab/reach"
)

func reachCmd() *cobra.Command {
	var q reach.Query
	var port, assertFile string
	var diff bool
	cmd := &cobra.Command{
		Use:   "reach [--lab LAB] [--from X] [--to Y] [--proto P] [--port N] [-o text|json|html FILE]",
		Short: "Map who can reach whom, on which ports, and what a change opens",
		Long: `Compute, for every ordered pair of endpoints (each interface, each internet
host, and the internet when a subnet routes to the internet gateway) and both
IP families, the traffic whose request gets through and whose reply gets
back: per protocol, the destination ports (ICMP: types and codes), each range
with the security-group rules and network-ACL entries that admit it, and the
ranges beside it with the stage and rule that stops them, in explain's words.
The map is computed from the rules by interval arithmetic, not by trying
ports. Traffic with the VPC's services is exempt and listed apart.

A TCP or UDP port is open when its request gets through from a source port
its replies come back to: the output names those source ports. An echo
request needs its echo reply back; other ICMP messages have no reply.

--from, --to, --proto, --port and --family narrow the question. --stopped
names instances that are stopped (a lab file has no instance state): every
path to or from them stops at the route (INSTANCE_STOPPED). The conntrack
allowance is not in the map: it depends on the traffic in flight (a full
allowance stops new tracked flows), and the output says so. LAB is a lab
file, a directory of AWS CLI describe-* output or a Terraform state; without
--lab, the built-in example.

--assert FILE checks expectations ("web1 must not reach db1 except tcp/5432")
and exits 1 with the violating paths when one fails. --diff OLD NEW lists
what NEW opens and closes compared with OLD (each a lab, a describe-*
directory or a Terraform state), path by path, with the rule that makes the
difference, and exits 0.

-o html FILE writes one self-contained page: the matrix coloured by how open
each pair is, a graph of subnets and instances, and each cell's ranges and
rule trail on a click (with --diff, opened paths red and closed ones grey).`,
		Example: `  vpclab reach
  vpclab reach --lab lab.yaml --to db1
  vpclab reach --from web1 --to app1 --proto tcp --port 8000-9000 -o json
  vpclab reach --stopped app1
  vpclab reach --assert testdata/reach/example-assert.yaml
  vpclab reach --diff before.json after.json
  vpclab reach --diff old.yaml new.yaml -o html diff.html
  vpclab reach -o html reach.html`,
	}
	labPath := labFlag(cmd)
	f := cmd.Flags()
	output := f.StringP("output", "o", "text", "output format: text, json, or html (then FILE is the page to write)")
	f.StringSliceVar(&q.From, "from", nil, "sources: instances, ENI ids, internet hosts or internet (default: all)")
	f.StringSliceVar(&q.To, "to", nil, "destinations, as --from (default: all)")
	f.StringVar(&q.Proto, "proto", "", "protocol: tcp, udp, icmp, icmpv6 or a number 0-255 (default: all)")
	f.StringVar(&port, "port", "", "TCP and UDP destination ports: N or LO-HI (default: all)")
	f.IntVar(&q.Family, "family", 0, "IP family, 4 or 6 (default: both)")
	f.StringSliceVar(&q.Stopped, "stopped", nil, "instances to take as stopped: nothing reaches or leaves them (default: all run)")
	f.StringVar(&assertFile, "assert", "", "check the expectations of FILE; exit 1 when one fails")
	f.BoolVar(&diff, "diff", false, "compare two labs: vpclab reach --diff OLD NEW")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		want := 0
		if diff {
			want = 2
		}
		switch {
		case *output != "text" && *output != "json" && *output != "html":
			return usageErrorf("-o %s: the output format is text, json or html", *output)
		case *output == "html":
			want++
		}
		switch {
		case len(args) != want && diff && *output == "html":
			return usageErrorf("--diff -o html takes OLD NEW FILE")
		case len(args) != want && diff:
			return usageErrorf("--diff takes OLD and NEW: the two labs to compare")
		case len(args) != want && *output == "html":
			return usageErrorf("-o html takes the page's FILE")
		case len(args) != want:
			return usageErrorf("unexpected argument %q", args[0])
		case diff && (assertFile != "" || *labPath != ""):
			return usageErrorf("--diff compares OLD and NEW: it takes neither --lab nor --assert")
		case q.Family != 0 && q.Family != 4 && q.Family != 6:
			return usageErrorf("--family %d: the family is 4 or 6", q.Family)
		case assertFile != "" && (len(q.From)+len(q.To) > 0 || q.Proto != "" || port != "" || q.Family != 0):
			return usageErrorf("--assert checks the whole map: it takes no --from, --to, --proto, --port or --family")
		}
		if port != "" {
			r, err := reach.ParsePorts(port)
			if err != nil {
				return usageErrorf("--port: %v", err)
			}
			q.Ports = reach.Set{r}
		}
		return work(func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			if diff {
				old, err := analyze(args[0], q)
				if err != nil {
					return err
				}
				new, err := analyze(args[1], q)
				if err != nil {
					return err
				}
				d := reach.Compare(old, new)
				switch *output {
				case "json":
					return writeJSON(out, d)
				case "html":
					return writePage(args[2], new, d, out)
				}
				return d.WriteText(out)
			}
			if assertFile != "" {
				a, err := reach.LoadAssertions(assertFile)
				if err != nil {
					return err
				}
				path := *labPath
				if path == "" {
					path = a.Lab
				}
				m, err := analyze(path, q)
				if err != nil {
					return err
				}
				r, err := a.Check(m)
				if err != nil {
					return err
				}
				if *output == "json" {
					err = writeJSON(out, r)
				} else {
					err = r.WriteText(out)
				}
				if err == nil && r.Failed > 0 {
					return failure{}
				}
				return err
			}
			m, err := analyze(*labPath, q)
			if err != nil {
				return err
			}
			switch *output {
			case "json":
				return writeJSON(out, m)
			case "html":
				return writePage(args[0], m, nil, out)
			}
			return m.WriteText(out)
		})(cmd, nil)
	}
	return cmd
}

func analyze(path string, q reach.Query) (*reach.Map, error) {
	l, err := loadLab(path)
	if err != nil {
		return nil, err
	}
	return reach.Analyze(l, q)
}

func writePage(file string, m *reach.Map, d *reach.Diff, out interface{ Write([]byte) (int, error) }) error {
	var b strings.Builder
	if err := reach.WriteHTML(&b, m, d); err != nil {
		return err
	}
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		return err
	}
	_, err := fmt.Fprintf(out, "wrote %s\n", file)
	return err
}
