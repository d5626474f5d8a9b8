package live

import (
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
)

func plan(t *testing.T, edit func(l *lab.Lab)) *labnet.Plan {
	t.Helper()
	l := labfile.ExampleLab()
	if edit != nil {
		edit(l)
	}
	p, err := labnet.NewPlan(l, labnet.Options{ID: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPlanDiff: what a running lab can follow (policy) and what it cannot
// (wiring).
func TestPlanDiff(t *testing.T) {
	base := plan(t, nil)
	for _, c := range []struct {
		name string
		edit func(l *lab.Lab)
		want string // "" when the change is policy only
	}{
		{"groups", func(l *lab.Lab) { l.Interface("eni-app1").SecurityGroups = []string{"sg-web"} }, ""},
		{"acl", func(l *lab.Lab) { l.Subnet("subnet-app").NetworkACL = "acl-db" }, ""},
		{"address", func(l *lab.Lab) {
			l.Interface("eni-db1").SecondaryIPs = append(l.Interface("eni-db1").SecondaryIPs, l.Interface("eni-db1").IP.Next())
		}, "addresses of eni-db1"},
		{"public", func(l *lab.Lab) { l.Subnet("subnet-app").Public = true }, ""}, // the engine routes to the gateway, not the namespace
		{"instance gone", func(l *lab.Lab) { l.Instances = l.Instances[:2] }, "eni-db1 of instance db1 would go"},
		{"internet host", func(l *lab.Lab) { l.Internet.Hosts = l.Internet.Hosts[:1] }, "addresses of internet"},
	} {
		got := planDiff(base, plan(t, c.edit))
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: planDiff = %q, want …%s…", c.name, got, c.want)
		}
	}
}
