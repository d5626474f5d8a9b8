package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
)

// client returns a control client of the running lab l.
func client(l *lab.Lab) (*control.Client, string, error) {
	p, err := labnet.NewPlan(l, labnet.Options{})
	if err != nil {
		return nil, "", err
	}
	path := control.SocketPath(p)
	return control.NewClient(path), path, nil
}

// notUp rewrites a not-up error for people.
func notUp(err error, l *lab.Lab, path string) error {
	if errors.Is(err, control.ErrNotUp) {
		return fmt.Errorf("lab %s (%s) is not up: no control socket at %s; start it with vpclab up", l.VPC.ID, l.File, path)
	}
	return err
}

func applyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "apply FILE",
		Short: "Replace the whole policy of a running lab with a lab file's",
		Long: `Send the lab file FILE to the running lab with the same VPC id ("vpclab up"),
which validates it whole and swaps it in at once: no packet is judged by half a
policy. Tracked flows survive security-group changes, untracked flows and
network ACLs see the new rules on their next packet (spec section 3.5). The
lab's wiring (instances, interfaces, addresses, internet hosts) cannot change
while it runs; a file that changes it, or any invalid file, is refused and the
running policy stays. With principals configured, the token comes from
VPCLAB_TOKEN.`,
		Example: `  vpclab example > lab.yaml; sudo vpclab up lab.yaml &
  $EDITOR lab.yaml; sudo vpclab apply lab.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: work(func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			l, err := labfile.Parse(args[0], data)
			if err != nil {
				return err
			}
			c, path, err := client(l)
			if err != nil {
				return err
			}
			if err := c.PutLab(cmd.Context(), args[0], data); err != nil {
				return notUp(err, l, path)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "applied %s to the running lab %s\n", args[0], l.VPC.ID)
			return nil
		}),
	}
}

func ec2Cmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ec2 ACTION [flags]",
		Short: "Change a running lab with EC2's calls (authorize-security-group-ingress, …)",
		Long: `Send one of EC2's policy-changing calls to the running lab named by --lab (the
built-in example when not given). Each call takes the AWS CLI's flags, or its
whole request as JSON with --cli-input-json (a file, or - for stdin), and
prints EC2's JSON response. The change is validated whole and swapped in at
once; a refused change names EC2's error code and leaves the running policy
untouched. start-instances and stop-instances stop an instance's traffic (it
sends and receives nothing) and start it again. With principals configured,
the token comes from VPCLAB_TOKEN.`,
		Example: `  sudo vpclab ec2 authorize-security-group-ingress --group-id sg-app --protocol tcp --port 9000 --cidr 10.0.1.0/24
  sudo vpclab ec2 revoke-security-group-ingress --group-id sg-app --security-group-rule-ids sgr-0123456789abcdef0
  sudo vpclab ec2 create-network-acl-entry --network-acl-id acl-db --rule-number 50 --protocol 6 \
      --rule-action deny --cidr-block 10.0.2.99/32 --port-range From=5432,To=5432
  sudo vpclab ec2 modify-network-interface-attribute --network-interface-id eni-app1 --groups sg-app sg-web`,
	}
	for _, a := range ec2.Actions() {
		if len(a.Flags) > 0 {
			cmd.AddCommand(ec2ActionCmd(&a))
		}
	}
	return cmd
}

// ec2ActionCmd is the command of one action of ec2's table, with the
// flags the table gives it.
func ec2ActionCmd(a *ec2.Action) *cobra.Command {
	action, flags := a.Name, a.Flags
	cmd := &cobra.Command{
		Use:   a.CLIName() + " [flags]",
		Short: "EC2's " + action,
		Args:  cobra.NoArgs,
	}
	labPath := cmd.Flags().String("lab", "", "the running lab's file (default: the built-in example)")
	input := cmd.Flags().String("cli-input-json", "", "the whole request as JSON: a file, or - for stdin")
	for _, f := range flags {
		switch f.Kind {
		case ec2.FlagStrings:
			cmd.Flags().StringSlice(f.Name, nil, f.Usage)
		case ec2.FlagBool, ec2.FlagBoolValue:
			cmd.Flags().Bool(f.Name, false, f.Usage)
		default:
			cmd.Flags().String(f.Name, "", f.Usage)
		}
	}
	cmd.RunE = work(func(cmd *cobra.Command, _ []string) error {
		req := map[string]any{}
		if *input != "" {
			data, err := readInput(cmd.InOrStdin(), *input)
			if err != nil {
				return err
			}
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(&req); err != nil {
				return fmt.Errorf("--cli-input-json %s: %v", *input, err)
			}
		}
		if err := requestFromFlags(cmd.Flags(), flags, req); err != nil {
			return err
		}
		body, err := json.Marshal(req)
		if err != nil {
			return err
		}
		// Check the request here too, for messages that name the flag's
		// field before anything is sent.
		if a.Request != nil {
			if _, err := change.Decode(action, body); err != nil {
				return err
			}
		}
		l, err := loadLab(*labPath)
		if err != nil {
			return err
		}
		c, path, err := client(l)
		if err != nil {
			return err
		}
		resp, err := c.EC2(cmd.Context(), action, body)
		if err != nil {
			var callErr *control.EC2CallError
			if errors.As(err, &callErr) {
				return fmt.Errorf("an error occurred (%s) when calling the %s operation: %s", callErr.Code, action, callErr.Message)
			}
			return notUp(err, l, path)
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, resp, "", "    ") != nil {
			pretty.Reset()
			pretty.Write(resp)
		}
		if pretty.Len() > 0 && pretty.Bytes()[pretty.Len()-1] != '\n' {
			pretty.WriteByte('\n')
		}
		_, err = cmd.OutOrStdout().Write(pretty.Bytes())
		return err
	})
	return cmd
}

func readInput(stdin io.Reader, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(stdin)
	}
	if rest, ok := strings.CutPrefix(name, "file://"); ok {
		name = rest
	}
	return os.ReadFile(name)
}

// requestFromFlags sets the request's fields from the flags given.
func requestFromFlags(fs *pflag.FlagSet, flags []ec2.Flag, req map[string]any) error {
	var perm map[string]any
	permFlags := map[string]string{}
	for _, f := range flags {
		if !fs.Changed(f.Name) {
			continue
		}
		v := fs.Lookup(f.Name).Value.String()
		switch f.Kind {
		case ec2.FlagString:
			req[f.Field] = v
		case ec2.FlagInt:
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("--%s: %q is not a whole number", f.Name, v)
			}
			req[f.Field] = n
		case ec2.FlagBool:
			b, _ := fs.GetBool(f.Name)
			req[f.Field] = b
		case ec2.FlagBoolValue:
			b, _ := fs.GetBool(f.Name)
			req[f.Field] = map[string]any{"Value": b}
		case ec2.FlagStrings:
			s, _ := fs.GetStringSlice(f.Name)
			req[f.Field] = s
		case ec2.FlagJSON:
			var x any
			if err := json.Unmarshal([]byte(v), &x); err != nil {
				return fmt.Errorf("--%s: not JSON: %v", f.Name, err)
			}
			req[f.Field] = x
		case ec2.FlagKV:
			m := map[string]any{}
			for _, pair := range strings.Split(v, ",") {
				k, val, ok := strings.Cut(pair, "=")
				n, err := strconv.Atoi(strings.TrimSpace(val))
				if !ok || err != nil {
					return fmt.Errorf("--%s: %q: write Key=N pairs separated by commas, such as %s", f.Name, pair, f.Usage)
				}
				m[strings.TrimSpace(k)] = n
			}
			req[f.Field] = m
		case ec2.FlagPerm:
			permFlags[f.Name] = v
		}
	}
	if len(permFlags) == 0 {
		return nil
	}
	if _, has := req["IpPermissions"]; has {
		return errors.New("give --ip-permissions or the shorthand flags (--protocol, --port, --cidr, --source-group), not both")
	}
	proto, ok := permFlags["protocol"]
	if !ok {
		return errors.New("--protocol is needed with --port, --cidr or --source-group")
	}
	perm = map[string]any{"IpProtocol": proto}
	if port, ok := permFlags["port"]; ok {
		from, to, isRange := strings.Cut(port, "-")
		if from == "" && isRange { // -1
			from, to = port, port
		} else if !isRange {
			to = from
		}
		f, err1 := strconv.Atoi(from)
		t, err2 := strconv.Atoi(to)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("--port: %q: give a port, a range such as 1024-65535, or -1", port)
		}
		if p, ok := ec2.ParseAPIProtocol(proto); ok && ec2.ICMPMatters(p) {
			t = -1 // --port is the ICMP type; any code
		}
		perm["FromPort"], perm["ToPort"] = f, t
	}
	desc := permFlags["description"]
	switch cidr, group := permFlags["cidr"], permFlags["source-group"]; {
	case cidr != "" && group != "":
		return errors.New("give --cidr or --source-group, not both")
	case strings.Contains(cidr, ":"):
		perm["Ipv6Ranges"] = []any{map[string]any{"CidrIpv6": cidr, "Description": desc}}
	case cidr != "":
		perm["IpRanges"] = []any{map[string]any{"CidrIp": cidr, "Description": desc}}
	case group != "":
		perm["UserIdGroupPairs"] = []any{map[string]any{"GroupId": group, "Description": desc}}
	default:
		return errors.New("give the peer: --cidr or --source-group")
	}
	req["IpPermissions"] = []any{perm}
	return nil
}
