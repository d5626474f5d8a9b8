package lab_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/sg"
)

// handBuilt is a lab as an importer or an EC2 change builds it: no file,
// no lines, defaults left to Normalize.
func handBuilt() *lab.Lab {
	return &lab.Lab{
		VPC:     lab.VPC{ID: "vpc-h", CIDR: netip.MustParsePrefix("10.0.0.0/16")},
		Subnets: []*lab.Subnet{{ID: "subnet-a", CIDR: netip.MustParsePrefix("10.0.1.0/24")}},
		SecurityGroups: []*sg.Group{{ID: "sg-web", Ingress: []sg.Rule{
			{Protocol: 6, FromPort: 443, ToPort: 443, ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0")},
			{Protocol: 47, FromPort: 80, ToPort: 80, ICMPType: -1, ICMPCode: -1, CIDR: netip.MustParsePrefix("10.1.2.3/16")},
		}}},
		Instances: []*lab.Instance{{Name: "web1", Interfaces: []*lab.Interface{
			{ID: "eni-web1", Subnet: "subnet-a", IP: netip.MustParseAddr("10.0.1.10"), SecurityGroups: []string{"sg-web"}},
		}}},
	}
}

// TestNormalizeValidate: a hand-built lab gets AWS's defaults from
// Normalize and passes Validate; what Normalize fills in is what a lab
// file's reader fills in.
func TestNormalizeValidate(t *testing.T) {
	l := handBuilt()
	lab.Normalize(l)
	if err := lab.Validate(l); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if l.Group(sg.DefaultGroupID) == nil || l.ACL("default") == nil || l.Subnets[0].NetworkACL != "default" ||
		l.Subnets[0].AvailabilityZone != "us-east-1a" || l.Subnets[0].AZID != "use1-az1" {
		t.Errorf("defaults missing: %+v %+v", l.SecurityGroups, l.Subnets[0])
	}
	if e := l.Instances[0].Interfaces[0]; e.Instance != "web1" || e.Conntrack != lab.DefaultConntrackTimeouts() || l.Instances[0].ConntrackAllowance != lab.DefaultSettings().DefaultAllowance {
		t.Errorf("interface defaults missing: %+v", e)
	}
	if r := l.Group("sg-web").Ingress[1]; r.FromPort != 0 || r.ToPort != 65535 || r.CIDR != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("GRE rule: %+v, want every port and 10.1.0.0/16", r)
	}
	// The same lab as a file reads back as the normalized model.
	data, err := labfile.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := labfile.Parse("h.yaml", data)
	if err != nil {
		t.Fatalf("Parse(Marshal): %v", err)
	}
	if len(back.SecurityGroups) != len(l.SecurityGroups) || len(back.NetworkACLs) != len(l.NetworkACLs) {
		t.Errorf("file: %d groups, %d ACLs; model: %d, %d", len(back.SecurityGroups), len(back.NetworkACLs), len(l.SecurityGroups), len(l.NetworkACLs))
	}
}

// TestValidateFieldPaths: Validate reports a model's problems by field
// path, with no file or line when the model came from none.
func TestValidateFieldPaths(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*lab.Lab)
		field string
		msg   string
	}{
		{"unknown group", func(l *lab.Lab) { l.Instances[0].Interfaces[0].SecurityGroups = []string{"sg-nope"} },
			"instances[web1].interfaces[eni-web1].security_groups[0]", `no security group "sg-nope"`},
		{"address outside the subnet", func(l *lab.Lab) { l.Instances[0].Interfaces[0].IP = netip.MustParseAddr("10.0.2.10") },
			"instances[web1].interfaces[eni-web1].ip", "10.0.2.10 is outside subnet-a's 10.0.1.0/24"},
		{"reserved address", func(l *lab.Lab) { l.Instances[0].Interfaces[0].IP = netip.MustParseAddr("10.0.1.3") },
			"instances[web1].interfaces[eni-web1].ip", "reserved by AWS"},
		{"ports for icmp", func(l *lab.Lab) { l.Group("sg-web").Ingress[0].Protocol = 1 },
			"security_groups[sg-web].ingress[0].ports", "ports apply only to tcp and udp; icmp has none to choose"},
		{"bad protocol", func(l *lab.Lab) { l.Group("sg-web").Ingress[0].Protocol = 300 },
			"security_groups[sg-web].ingress[0].protocol", "300 is not a protocol"},
		{"two peers", func(l *lab.Lab) { l.Group("sg-web").Ingress[0].Group = "sg-web" },
			"security_groups[sg-web].ingress[0]", "cidr and group: a rule has exactly one peer"},
		{"subnet outside the VPC", func(l *lab.Lab) { l.Subnets[0].CIDR = netip.MustParsePrefix("10.9.0.0/24") },
			"subnets[subnet-a].cidr", "10.9.0.0/24 is outside the VPC's 10.0.0.0/16"},
		{"description not UTF-8", func(l *lab.Lab) { l.Group("sg-web").Description = "\xff" },
			"security_groups[sg-web].description", "is not UTF-8"},
		{"tag on nothing", func(l *lab.Lab) { l.Tags = lab.Tags{"sg-nope": {"Name": "x"}} },
			"tags.sg-nope", "sg-nope is no resource of the lab"},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := handBuilt()
			lab.Normalize(l)
			c.edit(l)
			err := lab.Validate(l)
			var list lab.ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Validate = %v, want an ErrorList", err)
			}
			for _, e := range list {
				if e.Field == c.field && strings.Contains(e.Msg, c.msg) {
					if e.File != "" || e.Line != 0 {
						t.Errorf("%v: want no file or line", e)
					}
					return
				}
			}
			t.Errorf("Validate = %v\nwant %s: …%s…", err, c.field, c.msg)
		})
	}
}

// TestValidateParsed: every lab a file gives is one Validate accepts.
func TestValidateParsed(t *testing.T) {
	l := labfile.ExampleLab()
	if err := lab.Validate(l); err != nil {
		t.Errorf("Validate(example): %v", err)
	}
	c := l.Clone()
	lab.Normalize(c)
	if err := lab.Validate(c); err != nil {
		t.Errorf("Validate(Normalize(example)): %v", err)
	}
}
