package labfile

import "github.com/vpclab/vpclab/lab"

// The sizes MaxSize allows: a security-group rule or network ACL entry
// written in full with an id, ports and a CIDR takes 60-100 bytes
// (`- {id: sgr-0123456789abcdef0, protocol: tcp, ports: 1024-65535, cidr:
// 203.0.113.0/24}`), a group's own keys less than a few hundred, and
// everything else of a lab (VPC, subnets, instances, flow logs, mirrors,
// tags) fits a mebibyte.
const (
	sizeOfRule  = 128
	sizeOfGroup = 512
	sizeOfRest  = 1 << 20
)

// maxListItems bounds every list of a lab file that no quota bounds
// (subnets, instances, their interfaces and addresses, prefix lists and
// their CIDRs, flow logs, mirror filters, targets, sessions, internet
// hosts, …): no lab needs more, and without a bound a file of a million
// instances would be read whole before anything refused it. A security
// group's rules are bounded by quotas.sg_rules instead (up to 100,000 per
// direction and family); the groups and the network ACL entries, by
// their quotas, stay below it.
const maxListItems = 1 << 16

// maxMappingKeys bounds the keys of every mapping of a lab file but the
// tags': none knows more than 16 keys, each given once, so a mapping of
// more is refused by the tree too; without a bound, a mapping of a
// million unknown keys would be read whole before anything refused it.
// The tags tag at most maxListItems resources, each at most
// lab.MaxTagsPerItem tags.
const maxMappingKeys = 64

// MaxSize is the size of the largest lab file a lab within quotas q
// needs: sizeOfRest, plus, for each of q.SGsPerVPC groups, sizeOfGroup
// and sizeOfRule for each rule its quota allows (q.SGRules in each
// direction and IP family), plus the network ACL entries of as many ACLs.
// The control API refuses larger bodies; files on disk may be larger
// (comments), and Parse reads them.
func MaxSize(q lab.Quotas) int64 {
	groups := int64(max(q.SGsPerVPC, 1))
	perGroup := sizeOfGroup + 4*int64(max(q.SGRules, 0))*sizeOfRule + 4*int64(max(q.NACLEntries, 0))*sizeOfRule
	return sizeOfRest + groups*perGroup
}
