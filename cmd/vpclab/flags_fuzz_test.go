package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2"
)

// FuzzEC2Flags parses command lines of the vpclab ec2 subcommands (the
// action chosen by the first byte, the arguments separated by NULs) into
// a request and decodes it as the command does: flag parsing, the
// shorthand flags and Key=N pairs must fail with an error, never panic,
// and a request they build must be JSON that change.Decode accepts or
// refuses with an error.
func FuzzEC2Flags(f *testing.F) {
	var actions []*ec2.Action
	for _, a := range ec2.Actions() {
		if len(a.Flags) > 0 {
			actions = append(actions, &a)
		}
	}
	index := func(name string) byte {
		for i, a := range actions {
			if a.Name == name {
				return byte(i)
			}
		}
		f.Fatalf("no action %s with flags", name)
		return 0
	}
	for _, s := range []struct{ action, args string }{
		{"AuthorizeSecurityGroupIngress", "--group-id\x00sg-app\x00--protocol\x00tcp\x00--port\x009000\x00--cidr\x0010.0.1.0/24"},
		{"AuthorizeSecurityGroupIngress", "--group-id\x00sg-app\x00--protocol\x00icmp\x00--port\x00-1\x00--source-group\x00sg-web"},
		{"RevokeSecurityGroupEgress", "--group-id\x00sg-db\x00--protocol\x00-1\x00--cidr\x00::/0\x00--description\x00x"},
		{"CreateNetworkAclEntry", "--network-acl-id\x00acl-db\x00--rule-number\x0050\x00--protocol\x006\x00--rule-action\x00deny\x00--cidr-block\x0010.0.2.99/32\x00--port-range\x00From=5432,To=5432"},
		{"CreateNetworkAclEntry", "--network-acl-id\x00acl-db\x00--rule-number\x0050\x00--protocol\x001\x00--icmp-type-code\x00Type=8,Code=-1\x00--egress"},
		{"ModifyNetworkInterfaceAttribute", "--network-interface-id\x00eni-app1\x00--groups\x00sg-app,sg-web"},
		{"ModifyNetworkInterfaceAttribute", "--network-interface-id\x00eni-app1\x00--connection-tracking-specification\x00TcpEstablishedTimeout=60,UdpTimeout=30"},
	} {
		f.Add(index(s.action), s.args)
	}
	f.Fuzz(func(t *testing.T, which byte, args string) {
		a := actions[int(which)%len(actions)]
		cmd := ec2ActionCmd(a)
		if err := cmd.Flags().Parse(strings.Split(args, "\x00")); err != nil {
			return
		}
		req := map[string]any{}
		if err := requestFromFlags(cmd.Flags(), a.Flags, req); err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		body, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("%s %q: the request is not JSON: %v", a.Name, args, err)
		}
		if a.Request != nil {
			if _, err := change.Decode(a.Name, body); err != nil {
				if _, ok := err.(*change.Error); !ok {
					t.Fatalf("%s %s: %v is not an EC2 error", a.Name, body, err)
				}
			}
		}
	})
}
