package capture

import (
	"strconv"

	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/verdict"
)

// Comment appends the comment that a packet with verdict v gets: allow or
// deny, the stage that decided (the last that let the packet through, for
// an allowed one), the explanation code, and what decided in the words of
// explain:
//
//	allow sg-ingress SG_RULE_MATCH: sg-web ingress #2 (sgr-0abc) on eni-web1
//	allow sg-egress CONNTRACK_ESTABLISHED: conntrack entry on eni-web1
//	deny sg-ingress ENI_SG_RULES_MISMATCH: no ingress rule of the security groups on eni-db1 allows it
//	deny nacl-ingress SUBNET_ACL_RESTRICTION: acl-db rule 32767 (the implicit deny)
//	deny parse MALFORMED_PACKET: bad_ihl
//
// Security-group rules are counted from 0, as policy tests and explain
// count them. It allocates nothing when dst has room.
func Comment(dst []byte, v *verdict.Verdict) []byte {
	if v.Allowed {
		dst = append(dst, "allow "...)
	} else {
		dst = append(dst, "deny "...)
	}
	dst = append(dst, v.Stage.String()...)
	dst = append(dst, ' ')
	dst = append(dst, v.Code.String()...)
	return appendWhy(dst, v)
}

// appendWhy appends ": what decided", or nothing when the code says it
// all (DELIVERED) or the verdict holds nothing more (a later fragment,
// which carries its first fragment's stage and code only).
func appendWhy(dst []byte, v *verdict.Verdict) []byte {
	isNACL := v.Stage == verdict.StageNACLEgress || v.Stage == verdict.StageNACLIngress
	switch {
	case v.Stage == verdict.StageParse && v.Code == verdict.CodeMalformed:
		return append(append(dst, ": "...), v.Parse.String()...)
	case v.Code == verdict.CodeConntrack && v.ENI != "":
		return append(append(dst, ": conntrack entry on "...), v.ENI...)
	case v.SG != nil:
		r := v.SG
		dst = append(dst, ": "...)
		dst = append(dst, r.Group...)
		dst = append(dst, ' ')
		dst = append(dst, r.Dir.String()...)
		dst = append(dst, " #"...)
		dst = strconv.AppendInt(dst, int64(r.Index), 10)
		if r.ID != "" {
			dst = append(dst, " ("...)
			dst = append(dst, r.ID...)
			dst = append(dst, ')')
		}
		if v.ENI != "" {
			dst = append(dst, " on "...)
			dst = append(dst, v.ENI...)
		}
		return dst
	case isNACL && v.ACL != "":
		dst = append(dst, ": "...)
		if v.ACL == nacl.DefaultACLID {
			dst = append(dst, "default ACL"...)
		} else {
			dst = append(dst, v.ACL...)
		}
		if v.NACLRule > 0 {
			dst = append(dst, " rule "...)
			dst = strconv.AppendInt(dst, int64(v.NACLRule), 10)
			if v.NACLRule == 32767 || v.NACLRule == 32768 {
				dst = append(dst, " (the implicit deny)"...)
			}
		}
		return dst
	case v.Code == verdict.CodeSGRulesMismatch && v.ENI != "":
		dir := "ingress"
		if v.Stage == verdict.StageSGEgress {
			dir = "egress"
		}
		dst = append(dst, ": no "...)
		dst = append(dst, dir...)
		dst = append(dst, " rule of the security groups on "...)
		dst = append(dst, v.ENI...)
		return append(dst, " allows it"...)
	case v.Code == verdict.CodeSourceDestCheck && v.ENI != "":
		dst = append(dst, ": "...)
		dst = append(dst, v.ENI...)
		return append(dst, " does not own the source address and its source/destination check is on"...)
	case v.Code == verdict.CodeAllowanceExceeded && v.ENI != "":
		dst = append(dst, ": the conntrack allowance of the instance of "...)
		dst = append(dst, v.ENI...)
		return append(dst, " is used up"...)
	case v.Code == verdict.CodePPSAllowanceExceeded && v.ENI != "":
		dst = append(dst, ": the packet-rate allowance of the instance of "...)
		dst = append(dst, v.ENI...)
		return append(dst, " is used up"...)
	}
	if w := codeWords[v.Code]; w != "" {
		dst = append(dst, ": "...)
		dst = append(dst, w...)
	}
	return dst
}

// codeWords explains the codes that involve no rule and no ENI.
var codeWords = [verdict.NumCodes]string{
	verdict.CodeExempt:            "traffic with a VPC service, which no security group or network ACL filters",
	verdict.CodeSourceDestCheck:   "the source address cannot come from where the packet entered",
	verdict.CodeCannotRoute:       "nothing in the VPC takes the destination address, or the path is not one the VPC routes",
	verdict.CodeNoBroadcast:       "the destination is a broadcast or multicast address: a VPC has neither",
	verdict.CodeLinkLocal:         "the destination is link-local: the VPC does not route it",
	verdict.CodeTTLExceeded:       "the TTL (hop limit) would reach 0",
	verdict.CodeNoInternetGateway: "the subnet has no route to the internet gateway (not public)",
	verdict.CodeFragmentOrphan:    "a later fragment whose first fragment was not seen",
	verdict.CodeFragmentFollowing: "a later fragment, following its first fragment's verdict",
}
