// Package aws imports one VPC from the JSON that the AWS CLI prints
// ("vpclab import aws DIR -o lab.yaml"): it builds a lab.Lab and an
// importer.Report of everything it could not carry over.
//
// # Input
//
// DIR holds one file per describe call, under any names: the content says
// what a file is, by its top-level key. Run the CLI with its default JSON
// output and without --query:
//
//	aws ec2 describe-vpcs                  > vpcs.json            Vpcs
//	aws ec2 describe-subnets               > subnets.json         Subnets
//	aws ec2 describe-network-acls          > acls.json            NetworkAcls
//	aws ec2 describe-route-tables          > routes.json          RouteTables
//	aws ec2 describe-security-groups       > groups.json          SecurityGroups
//	aws ec2 describe-security-group-rules  > rules.json           SecurityGroupRules
//	aws ec2 describe-instances             > instances.json       Reservations
//	aws ec2 describe-network-interfaces    > enis.json            NetworkInterfaces
//	aws ec2 describe-managed-prefix-lists  > prefix-lists.json    PrefixLists
//	aws ec2 get-managed-prefix-list-entries --prefix-list-id pl-0123456789abcdef0 \
//	                                       > pl-0123456789abcdef0.json   Entries
//
// get-managed-prefix-list-entries does not say which list it describes:
// its file's name must hold the list's id (pl-…), one file per list. The
// older describe-prefix-lists (AWS's service lists, with their Cidrs) is
// read too. Only describe-vpcs is required; each missing output leaves
// its part of the lab at the lab's defaults, and the report says so. A
// file of any other JSON object is read for the keys it has; keys of other
// describe calls (NAT gateways, transit gateways, peering connections,
// endpoints, flow logs…) are reported, unknown keys too. A file that is not
// a JSON object is an error when its name ends in .json, else it is
// reported and skipped. Output that is one page of several (NextToken set)
// is reported. Files may be UTF-8 or, as Windows PowerShell 5 redirects the
// CLI's output, UTF-16 with a byte-order mark.
//
// Errors name the file, line, column and JSON path at fault; they come as a
// lab.ErrorList sorted by file and position, followed by any errors about
// the input as a whole (no VPC, or several and none chosen; quotas beyond a
// lab's).
//
// # One VPC
//
// A lab is one VPC. When the input describes several, Options.VPC chooses
// one, and everything of the others is reported as skipped (one report
// item per file, kind and VPC). describe-security-group-rules does not give
// a group's VPC: a group found only there belongs to the VPC when an
// imported interface or rule uses it (or, when nothing else in the input
// can tell, always).
//
// # What becomes what
//
//   - VPC: its primary IPv4 block and its first associated IPv6 block; the
//     owner as the account, the region from a subnet's ARN or zone.
//     Secondary IPv4 blocks and further IPv6 blocks are reported: a lab
//     VPC has one of each, so subnets in them are not imported.
//   - Subnets: IPv4 block, IPv6 /64, zone name and id, network ACL (from
//     the ACLs' associations; else the VPC's default ACL). IPv6-only
//     subnets are reported and skipped. A subnet is public when its route
//     table (its own, else the VPC's main table) has a default route,
//     0.0.0.0/0 or ::/0, to an internet gateway. MapPublicIpOnLaunch does
//     not say it, so without describe-route-tables every subnet is private,
//     and the report says so. Routes to NAT gateways, transit gateways,
//     peering connections, endpoints and the like are reported as not
//     modelled.
//   - Network ACLs: every entry, ingress and egress, ordered by rule
//     number: action, protocol (-1, numbers), ports of TCP and UDP entries,
//     ICMP type and code of ICMP and ICMPv6 entries (-1: any; any type
//     means any code), IPv4 or IPv6 block. The entries 32767 and 32768 are
//     AWS's implicit deny, which every lab ACL ends with by itself: they are
//     dropped by design, not reported. The default ACL keeps its AWS id.
//   - Security groups: one lab rule per peer. A permission of
//     describe-security-groups bundles a protocol and port range with any
//     number of IPv4 and IPv6 ranges, prefix lists and groups; each becomes
//     a rule with the peer's description. Protocol -1 and protocols other
//     than TCP, UDP, ICMP and ICMPv6 have no ports; for ICMP and ICMPv6
//     FromPort is the type and ToPort the code. References to groups of the
//     VPC (the group itself included) become group peers; references to
//     groups of other VPCs (VPC peering, transit gateways) are reported as
//     not modelled and their rules left out. A group of another VPC that
//     the VPC's interfaces use (a security group VPC association) is
//     imported, and reported. When
//     describe-security-group-rules is given, each rule takes the id
//     (sgr-…) of the rule there with the same direction, traffic and peer;
//     rules found in one output only are reported, and
//     describe-security-groups decides what is imported. A group known only
//     from describe-security-group-rules is built from its rules. A group
//     that interfaces or rules name but the input does not describe is
//     imported without rules (it allows nothing), and reported. Groups keep
//     their AWS ids, descriptions and empty lists (a group without egress
//     rules allows no egress).
//   - Prefix lists: those the imported rules use, with their entries and
//     max entries. A list without entries (AWS's service lists, such as
//     com.amazonaws.us-east-1.s3, whose entries get-managed-prefix-list-entries
//     must be asked for) is imported empty, so rules using it match
//     nothing, and reported; so is a list the input does not describe.
//     Unused lists are reported and left out.
//   - Instances (describe-instances): each running, stopped or pending
//     instance of the VPC, named after its Name tag made to fit a lab name
//     (1-64 letters, digits, '.', '_' or '-', starting with a letter or
//     digit; other characters become '-'), else its id; a name already
//     taken gets the instance id appended. Renames are reported.
//     HttpTokens required makes the metadata service v2-only. The
//     connection-tracking allowance, which AWS does not print, is the lab's
//     default. Terminated instances are reported and skipped.
//   - Interfaces, primary first (by network card, then device index): the
//     primary and secondary private IPv4 addresses, the IPv6 addresses, the
//     security groups, the source/destination check and the
//     connection-tracking timeouts (ConnectionTrackingConfiguration, in
//     seconds). describe-network-interfaces completes the interfaces of
//     describe-instances (it alone may give the timeouts); where the two
//     disagree, describe-instances is imported and the difference
//     reported. An interface attached to an instance missing from
//     describe-instances makes an instance named after the instance id. An
//     interface attached to no instance (an unattached interface, or one
//     that AWS manages for a load balancer, a Lambda function, an endpoint)
//     becomes an instance of its own named after the interface, since its
//     addresses take part in filtering and in group references; that is
//     reported, as the service behind it is not modelled. Interfaces of NAT
//     and transit gateways, and interfaces without security groups, are
//     reported and skipped. Public and Elastic IP addresses and delegated
//     prefixes are reported.
//   - Quotas start at AWS's defaults and are raised to what the imported
//     objects need (network ACL entries, rules per group, groups per
//     interface, rules over an interface's groups), as a lab counts them; an
//     import needing more than a lab allows is an error. Settings are the
//     lab's defaults.
//
// # Left out by design
//
// Names other than an instance's (group names, Name tags), tags, the
// descriptions of prefix-list entries (a lab's lists have none), DNS names,
// MAC addresses, times, states and ARNs change no packet's fate and are
// not reported; the shapes in shapes.go list every key read or left aside.
// Any other key is reported as unknown.
package aws
