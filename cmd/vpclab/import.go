package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vpclab/vpclab/importer"
	"github.com/vpclab/vpclab/importer/aws"
	"github.com/vpclab/vpclab/importer/terraform"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
)

func importCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import {aws DIR | terraform STATE.json} [-o lab.yaml]",
		Short: "Write a lab file from a real VPC: AWS CLI output or a Terraform state",
		Long: `Read a real VPC's configuration and write it as a lab file.

  vpclab import aws DIR        the JSON that the AWS CLI prints for describe-vpcs,
                               describe-subnets, describe-security-groups (or
                               describe-security-group-rules), describe-network-acls,
                               describe-network-interfaces, describe-instances,
                               describe-managed-prefix-lists and
                               get-managed-prefix-list-entries: one file each, any
                               names; the content says what each is.
  vpclab import terraform F    the JSON of "terraform show -json" of a state.

What the importer does not carry over is listed on stderr (resource, field,
why), never dropped silently, and so are the AWS features a lab cannot model
(peering, transit gateways, …). The lab is validated before it is written.
Every command that takes a lab (--lab or LAB) also takes such a directory or
state file directly.`,
		Example: `  mkdir vpc; for c in describe-vpcs describe-subnets describe-security-groups \
      describe-network-acls describe-instances; do aws ec2 $c > vpc/$c.json; done
  vpclab import aws vpc -o lab.yaml
  terraform show -json > state.json; vpclab import terraform state.json -o lab.yaml`,
		Args: cobra.ExactArgs(2),
	}
	out := cmd.Flags().StringP("output", "o", "-", "the lab file to write (- for stdout)")
	vpc := cmd.Flags().String("vpc", "", "the VPC to import when the input has several")
	cmd.RunE = work(func(cmd *cobra.Command, args []string) error {
		var l *lab.Lab
		var rep *importer.Report
		var err error
		switch args[0] {
		case "aws":
			l, rep, err = aws.ImportWith(args[1], aws.Options{VPC: *vpc})
		case "terraform":
			l, rep, err = terraform.ImportVPC(args[1], *vpc)
		default:
			return usageErrorf("import from aws or terraform, not %q", args[0])
		}
		if err != nil {
			return err
		}
		data, _, err := validate(l, args[1])
		if rep != nil {
			rep.Sort()
			rep.Write(cmd.ErrOrStderr())
		}
		if err != nil {
			return err
		}
		if *out == "-" {
			_, err = cmd.OutOrStdout().Write(data)
			return err
		}
		if err := os.WriteFile(*out, data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d subnets, %d security groups, %d network ACLs, %d instances\n",
			*out, len(l.Subnets), len(l.SecurityGroups), len(l.NetworkACLs), len(l.Instances))
		return nil
	})
	return cmd
}

// validate fills in an imported lab's defaults and checks it as a lab
// file is checked; it returns the lab file vpclab import writes.
func validate(l *lab.Lab, source string) ([]byte, *lab.Lab, error) {
	lab.Normalize(l)
	if err := lab.Validate(l); err != nil {
		return nil, nil, fmt.Errorf("the lab imported from %s is not valid (vpclab import writes nothing):\n%w", source, err)
	}
	data, err := labfile.Marshal(l)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", source, err)
	}
	l.File = source
	return data, l, nil
}

// importLab reads a lab from something that is not a lab file: a
// directory of AWS CLI output or a Terraform state. ok is false when path
// is neither (a lab file).
func importLab(path string, stderr io.Writer) (l *lab.Lab, ok bool, err error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, nil // labfile.Load reports it
	}
	var rep *importer.Report
	switch {
	case fi.IsDir():
		l, rep, err = aws.Import(path)
	default:
		data, rerr := os.ReadFile(path)
		if rerr != nil || !terraform.IsState(data) {
			return nil, false, nil
		}
		l, rep, err = terraform.Parse(path, data)
	}
	if err != nil {
		return nil, true, err
	}
	_, v, err := validate(l, path)
	if err != nil {
		return nil, true, err
	}
	if rep != nil && !rep.Empty() && stderr != nil {
		var b bytes.Buffer
		rep.Sort()
		rep.Write(&b)
		fmt.Fprintf(stderr, "vpclab: imported %s; %d items not carried over (vpclab import lists them):\n%s", path,
			len(rep.Unsupported)+len(rep.NotModelled), b.String())
	}
	return v, true, nil
}
