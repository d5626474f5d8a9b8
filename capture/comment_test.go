package capture

import (
	"strings"
	"testing"

	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/policytest"
	"github.com/vpclab/vpclab/verdict"
)

func TestComment(t *testing.T) {
	for _, c := range []struct {
		v    verdict.Verdict
		want string
	}{
		{verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch, ENI: "eni-web",
			SG: &verdict.RuleRef{Group: "sg-web", Dir: verdict.Ingress, Index: 2, ID: "sgr-0abc"}},
			"allow sg-ingress SG_RULE_MATCH: sg-web ingress #2 (sgr-0abc) on eni-web"},
		{verdict.Verdict{Allowed: true, Stage: verdict.StageSGEgress, Code: verdict.CodeSGRuleMatch,
			SG: &verdict.RuleRef{Group: "default", Dir: verdict.Egress, Index: 0}},
			"allow sg-egress SG_RULE_MATCH: default egress #0"},
		{verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeConntrack, ENI: "eni-web1"},
			"allow sg-ingress CONNTRACK_ESTABLISHED: conntrack entry on eni-web1"},
		{verdict.Verdict{Stage: verdict.StageNACLIngress, Code: verdict.CodeSubnetACLRestrict, ACL: "acl-db", NACLRule: 32767},
			"deny nacl-ingress SUBNET_ACL_RESTRICTION: acl-db rule 32767 (the implicit deny)"},
		{verdict.Verdict{Stage: verdict.StageNACLEgress, Code: verdict.CodeSubnetACLRestrict, ACL: "acl-web", NACLRule: 90},
			"deny nacl-egress SUBNET_ACL_RESTRICTION: acl-web rule 90"},
		{verdict.Verdict{Allowed: true, Stage: verdict.StageNACLIngress, Code: verdict.CodeNACLAllow, ACL: nacl.DefaultACLID, NACLRule: 100},
			"allow nacl-ingress NACL_RULE_ALLOW: default ACL rule 100"},
		{verdict.Verdict{Stage: verdict.StageParse, Code: verdict.CodeMalformed, Parse: packet.BadIHL},
			"deny parse MALFORMED_PACKET: bad_ihl"},
		{verdict.Verdict{Stage: verdict.StageSGEgress, Code: verdict.CodeSGRulesMismatch, ENI: "eni-db1"},
			"deny sg-egress ENI_SG_RULES_MISMATCH: no egress rule of the security groups on eni-db1 allows it"},
		{verdict.Verdict{Stage: verdict.StageSGIngress, Code: verdict.CodeSGRulesMismatch, ENI: "eni-db1"},
			"deny sg-ingress ENI_SG_RULES_MISMATCH: no ingress rule of the security groups on eni-db1 allows it"},
		{verdict.Verdict{Stage: verdict.StageSrcDstCheck, Code: verdict.CodeSourceDestCheck, ENI: "eni-app1"},
			"deny src-dst-check SOURCE_DEST_CHECK_RESTRICTION: eni-app1 does not own the source address and its source/destination check is on"},
		{verdict.Verdict{Stage: verdict.StageSrcDstCheck, Code: verdict.CodeSourceDestCheck},
			"deny src-dst-check SOURCE_DEST_CHECK_RESTRICTION: the source address cannot come from where the packet entered"},
		{verdict.Verdict{Stage: verdict.StageConntrackAllowance, Code: verdict.CodeAllowanceExceeded, ENI: "eni-db1"},
			"deny conntrack-allowance CONNTRACK_ALLOWANCE_EXCEEDED: the conntrack allowance of the instance of eni-db1 is used up"},
		{verdict.Verdict{Allowed: true, Stage: verdict.StageExempt, Code: verdict.CodeExempt},
			"allow exempt EXEMPT_VPC_SERVICE: traffic with a VPC service, which no security group or network ACL filters"},
		{verdict.Verdict{Stage: verdict.StageRoute, Code: verdict.CodeTTLExceeded},
			"deny route TTL_EXCEEDED: the TTL (hop limit) would reach 0"},
		{verdict.Verdict{Stage: verdict.StageParse, Code: verdict.CodeFragmentOrphan},
			"deny parse FRAGMENT_ORPHAN: a later fragment whose first fragment was not seen"},
		{verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch},
			"allow sg-ingress SG_RULE_MATCH"},
	} {
		if got := string(Comment(nil, &c.v)); got != c.want {
			t.Errorf("Comment(%+v)\n got %q\nwant %q", c.v, got, c.want)
		}
	}
}

// TestCommentEveryCode checks that every code a verdict can carry gets a
// comment naming its stage and code, and that appending keeps dst.
func TestCommentEveryCode(t *testing.T) {
	for c := verdict.Code(1); c < verdict.NumCodes; c++ {
		v := verdict.Verdict{Stage: verdict.StageRoute, Code: c}
		got := string(Comment([]byte("x "), &v))
		if want := "x deny route " + c.String(); !strings.HasPrefix(got, want) {
			t.Errorf("code %v: %q does not start with %q", c, got, want)
		}
	}
}

// TestCommentFromEngine checks the comments of verdicts the engine makes
// for the example lab.
func TestCommentFromEngine(t *testing.T) {
	_, e := exampleEngine(t)
	for _, c := range []struct {
		send policytest.Send
		want string
	}{
		{policytest.Send{From: "web1", To: "app1", Proto: "tcp", Sport: 49152, Dport: 8080, Flags: "S"},
			"allow sg-ingress SG_RULE_MATCH: sg-app ingress #0 on eni-app1"},
		{policytest.Send{From: "app1", To: "web1", Proto: "tcp", Sport: 8080, Dport: 49152, Flags: "SA"},
			"allow sg-ingress CONNTRACK_ESTABLISHED: conntrack entry on eni-web1"},
		{policytest.Send{From: "web1", To: "db1", Proto: "tcp", Sport: 49152, Dport: 5432, Flags: "S"},
			"deny nacl-ingress SUBNET_ACL_RESTRICTION: acl-db rule 32767 (the implicit deny)"},
		{policytest.Send{From: "db1", To: "web1", Proto: "tcp", Sport: 49152, Dport: 80, Flags: "S"},
			"deny sg-egress ENI_SG_RULES_MISMATCH: no egress rule of the security groups on eni-db1 allows it"},
	} {
		from, pkt := build(t, e, c.send)
		var v verdict.Verdict
		e.Process(from, pkt, 1e9, &v)
		if got := string(Comment(nil, &v)); got != c.want {
			t.Errorf("%s → %s %s %d:\n got %q\nwant %q", c.send.From, c.send.To, c.send.Proto, c.send.Dport, got, c.want)
		}
	}
}

func TestCommentNoAllocs(t *testing.T) {
	v := verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch, ENI: "eni-web",
		SG: &verdict.RuleRef{Group: "sg-web", Dir: verdict.Ingress, Index: 12, ID: "sgr-0abc"}}
	nv := verdict.Verdict{Stage: verdict.StageNACLIngress, Code: verdict.CodeSubnetACLRestrict, ACL: "acl-db", NACLRule: 32767}
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(1000, func() {
		buf = Comment(buf[:0], &v)
		buf = Comment(buf[:0], &nv)
	}); n != 0 {
		t.Errorf("Comment allocates %v times with a reused buffer", n)
	}
}
