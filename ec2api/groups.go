package ec2api

import (
	"slices"
	"strconv"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/sg"
)

type xmlSecurityGroup struct {
	OwnerId             string            `xml:"ownerId"`
	GroupId             string            `xml:"groupId"`
	GroupName           string            `xml:"groupName"`
	GroupDescription    string            `xml:"groupDescription"`
	VpcId               string            `xml:"vpcId"`
	IpPermissions       []xmlIpPermission `xml:"ipPermissions>item"`
	IpPermissionsEgress []xmlIpPermission `xml:"ipPermissionsEgress>item"`
	TagSet              []xmlTag          `xml:"tagSet>item"`
	SecurityGroupArn    string            `xml:"securityGroupArn"`
}

type describeSecurityGroupsResponse struct {
	meta
	SecurityGroups []xmlSecurityGroup `xml:"securityGroupInfo>item"`
	NextToken      string             `xml:"nextToken,omitempty"`
}

// permissions are a direction's rules as EC2 shows them: one permission
// per protocol and port range, in the order they first appear, with all
// its peers.
func permissions(rules []sg.Rule, account string) []xmlIpPermission {
	var out []ec2.IpPermission
	for _, r := range rules {
		p := ec2.Permission(r)
		i := slices.IndexFunc(out, func(q ec2.IpPermission) bool {
			return q.IpProtocol == p.IpProtocol && *q.FromPort == *p.FromPort && *q.ToPort == *p.ToPort
		})
		if i < 0 {
			out = append(out, p)
			continue
		}
		q := &out[i]
		q.IpRanges = append(q.IpRanges, p.IpRanges...)
		q.Ipv6Ranges = append(q.Ipv6Ranges, p.Ipv6Ranges...)
		q.PrefixListIds = append(q.PrefixListIds, p.PrefixListIds...)
		q.UserIdGroupPairs = append(q.UserIdGroupPairs, p.UserIdGroupPairs...)
	}
	xs := make([]xmlIpPermission, len(out))
	for i, p := range out {
		xs[i] = permissionXML(p, account)
	}
	return xs
}

// ruleValues are, for the ip-permission.* filters, a direction's values
// of one attribute.
func ruleValues(rules []sg.Rule, f func(ec2.IpPermission) []string) []string {
	var out []string
	for _, r := range rules {
		out = append(out, f(ec2.Permission(r))...)
	}
	return out
}

func permFilters(prefix string, rules func(*sg.Group) []sg.Rule) map[string]func(*sg.Group) []string {
	return map[string]func(*sg.Group) []string{
		prefix + "protocol": func(g *sg.Group) []string {
			return ruleValues(rules(g), func(p ec2.IpPermission) []string { return one(p.IpProtocol) })
		},
		prefix + "from-port": func(g *sg.Group) []string {
			return ruleValues(rules(g), func(p ec2.IpPermission) []string { return one(strconv.Itoa(*p.FromPort)) })
		},
		prefix + "to-port": func(g *sg.Group) []string {
			return ruleValues(rules(g), func(p ec2.IpPermission) []string { return one(strconv.Itoa(*p.ToPort)) })
		},
		prefix + "cidr": func(g *sg.Group) []string {
			return ruleValues(rules(g), func(p ec2.IpPermission) []string {
				if len(p.IpRanges) > 0 {
					return one(p.IpRanges[0].CidrIp)
				}
				return nil
			})
		},
		prefix + "ipv6-cidr": func(g *sg.Group) []string {
			return ruleValues(rules(g), func(p ec2.IpPermission) []string {
				if len(p.Ipv6Ranges) > 0 {
					return one(p.Ipv6Ranges[0].CidrIpv6)
				}
				return nil
			})
		},
		prefix + "group-id": func(g *sg.Group) []string {
			return ruleValues(rules(g), func(p ec2.IpPermission) []string {
				if len(p.UserIdGroupPairs) > 0 {
					return one(p.UserIdGroupPairs[0].GroupId)
				}
				return nil
			})
		},
		prefix + "prefix-list-id": func(g *sg.Group) []string {
			return ruleValues(rules(g), func(p ec2.IpPermission) []string {
				if len(p.PrefixListIds) > 0 {
					return one(p.PrefixListIds[0].PrefixListId)
				}
				return nil
			})
		},
	}
}

func init() {
	reg("DescribeSecurityGroups", func(v *view, r *ec2.DescribeSecurityGroupsRequest) (body, error) {
		l := v.l
		filters := map[string]func(*sg.Group) []string{
			"group-id":    func(g *sg.Group) []string { return one(g.ID) },
			"group-name":  func(g *sg.Group) []string { return one(g.ID) },
			"description": func(g *sg.Group) []string { return one(g.Description) },
			"vpc-id":      func(*sg.Group) []string { return one(l.VPC.ID) },
			"owner-id":    func(*sg.Group) []string { return one(l.VPC.AccountID) },
		}
		for k, f := range permFilters("ip-permission.", func(g *sg.Group) []sg.Rule { return g.Ingress }) {
			filters[k] = f
		}
		for k, f := range permFilters("egress.ip-permission.", func(g *sg.Group) []sg.Rule { return g.Egress }) {
			filters[k] = f
		}
		s := selection[*sg.Group]{items: l.SecurityGroups, id: func(g *sg.Group) string { return g.ID }, idParam: "GroupId",
			notFound: notFound("InvalidGroup.NotFound", "security group"), filters: filters,
			tags: func(g *sg.Group) map[string]string { return l.Tags[g.ID] }}
		// In a lab a group's name is its id.
		ids := slices.Concat(r.GroupIds, r.GroupNames)
		groups, next, err := s.pick(ids, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeSecurityGroupsResponse{NextToken: next, SecurityGroups: []xmlSecurityGroup{}}
		for _, g := range groups {
			out.SecurityGroups = append(out.SecurityGroups, xmlSecurityGroup{OwnerId: l.VPC.AccountID, GroupId: g.ID, GroupName: g.ID,
				GroupDescription: g.Description, VpcId: l.VPC.ID,
				IpPermissions: permissions(g.Ingress, l.VPC.AccountID), IpPermissionsEgress: permissions(g.Egress, l.VPC.AccountID),
				SecurityGroupArn: authz.ARN(l.VPC.Region, l.VPC.AccountID, ec2.KindSecurityGroup, g.ID), TagSet: tagSet(l, g.ID)})
		}
		return out, nil
	})

	reg("DescribeSecurityGroupRules", func(v *view, r *ec2.DescribeSecurityGroupRulesRequest) (body, error) {
		l := v.l
		var rules []change.SecurityGroupRule
		for _, g := range l.SecurityGroups {
			for _, x := range g.Ingress {
				rules = append(rules, change.Rule(g.ID, false, x))
			}
			for _, x := range g.Egress {
				rules = append(rules, change.Rule(g.ID, true, x))
			}
		}
		s := selection[change.SecurityGroupRule]{items: rules, id: func(r change.SecurityGroupRule) string { return r.SecurityGroupRuleID },
			idParam: "SecurityGroupRuleId", notFound: notFound("InvalidSecurityGroupRuleId.NotFound", "security group rule"),
			filters: map[string]func(change.SecurityGroupRule) []string{
				"group-id":               func(r change.SecurityGroupRule) []string { return one(r.GroupID) },
				"security-group-rule-id": func(r change.SecurityGroupRule) []string { return one(r.SecurityGroupRuleID) },
			},
			tags: func(change.SecurityGroupRule) map[string]string { return nil }}
		picked, next, err := s.pick(r.SecurityGroupRuleIds, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		out := &describeSecurityGroupRulesResponse{NextToken: next, Rules: []xmlSecurityGroupRule{}}
		for _, x := range picked {
			out.Rules = append(out.Rules, ruleXML(x, l))
		}
		return out, nil
	})
}

type describeSecurityGroupRulesResponse struct {
	meta
	Rules     []xmlSecurityGroupRule `xml:"securityGroupRuleSet>item"`
	NextToken string                 `xml:"nextToken,omitempty"`
}
