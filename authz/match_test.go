package authz

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	const sgArn = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-web"
	tests := []struct {
		p, s string
		fold bool
		want bool
	}{
		{"*", "", false, true},
		{"*", "anything:at/all", false, true},
		{"", "", false, true},
		{"", "x", false, false},
		{"ec2:Describe*", "ec2:DescribeInstances", true, true},
		{"ec2:describe*", "EC2:DescribeInstances", true, true}, // actions: any case
		{"EC2:*", "ec2:StopInstances", true, true},
		{"ec2:Describe*", "ec2:StopInstances", true, false},
		{"ec2:*SecurityGroup*", "ec2:AuthorizeSecurityGroupIngress", true, true},
		{"ec2:*SecurityGroup*", "ec2:DescribeSecurityGroups", true, true},
		{"ec2:?topInstances", "ec2:StopInstances", true, true},
		{"ec2:?topInstances", "ec2:topInstances", true, false}, // ? is exactly one
		{"ec2:St*Instances", "ec2:StartInstances", true, true},
		{"ec2:St*Instances", "ec2:StopInstance", true, false},
		{"*Ingress", "ec2:AuthorizeSecurityGroupIngress", true, true},
		{"a*b*c", "abc", false, true},
		{"a*b*c", "axxbyyc", false, true},
		{"a*b*c", "axxbyy", false, false},
		{"a*b*c", "acb", false, false},
		{"**", "x", false, true},
		{"*?", "", false, false},
		{"*?", "x", false, true},
		// Resources: exact case.
		{sgArn, sgArn, false, true},
		{strings.ToUpper(sgArn), sgArn, false, false},
		{"arn:aws:ec2:*:*:security-group/*", sgArn, false, true},
		{"arn:aws:ec2:*:*:security-group/SG-*", sgArn, false, false},
		{"arn:aws:ec2:*:*:security-group/sg-???", sgArn, false, true},
		{"arn:aws:ec2:*:*:security-group/sg-??", sgArn, false, false},
		{"arn:aws:ec2:*:*:instance/*", sgArn, false, false},
		// A '*' ending a field reaches into the next ones, as in IAM.
		{"arn:aws:ec2:*", sgArn, false, true},
		{"arn:aws:ec2:us-east-1:1234*", sgArn, false, true},
		{"arn:aws:ec2:*/sg-web", sgArn, false, true},
		// '?' is one character, not one byte.
		{"id/?", "id/é", false, true},
		{"id/??", "id/é", false, false},
		{"id/*x", "id/ééx", false, true},
	}
	for _, tt := range tests {
		if got := match(tt.p, tt.s, tt.fold); got != tt.want {
			t.Errorf("match(%q, %q, fold=%v) = %v, want %v", tt.p, tt.s, tt.fold, got, tt.want)
		}
	}
}

// reference is the obvious matcher: the pattern as a regular expression.
func reference(p, s string, fold bool) bool {
	var b strings.Builder
	b.WriteString(`^(?s)`)
	if fold {
		b.WriteString(`(?i)`)
	}
	for _, r := range p {
		switch r {
		case '*':
			b.WriteString(`.*`)
		case '?':
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`$`)
	return regexp.MustCompile(b.String()).MatchString(s)
}

// TestMatchDifferential compares match with the reference on random
// patterns and strings over a small alphabet, where wildcards and
// literals collide often.
func TestMatchDifferential(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const lit = "aAb:/é"
	pick := func(alphabet string, n int) string {
		rs := []rune(alphabet)
		var b strings.Builder
		for range n {
			b.WriteRune(rs[rng.IntN(len(rs))])
		}
		return b.String()
	}
	for range 20000 {
		p := pick(lit+"*?", rng.IntN(7))
		s := pick(lit, rng.IntN(9))
		fold := rng.IntN(2) == 0
		if got, want := match(p, s, fold), reference(p, s, fold); got != want {
			t.Fatalf("match(%q, %q, fold=%v) = %v, the reference says %v", p, s, fold, got, want)
		}
	}
}

func TestMatchNoAllocs(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		match("arn:aws:ec2:*:*:security-group/sg-*", "arn:aws:ec2:us-east-1:123456789012:security-group/sg-web", false)
		match("ec2:*SecurityGroup*", "EC2:AuthorizeSecurityGroupIngress", true)
	})
	if allocs != 0 {
		t.Errorf("match allocates %v times per run, want 0", allocs)
	}
}
