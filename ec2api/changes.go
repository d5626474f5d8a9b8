package ec2api

import (
	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
)

// The responses of the changes, from change's (JSON-shaped) responses.

type xmlReferencedGroup struct {
	GroupId string `xml:"groupId"`
	UserId  string `xml:"userId"`
}

type xmlSecurityGroupRule struct {
	SecurityGroupRuleId  string              `xml:"securityGroupRuleId"`
	GroupId              string              `xml:"groupId"`
	GroupOwnerId         string              `xml:"groupOwnerId"`
	IsEgress             bool                `xml:"isEgress"`
	IpProtocol           string              `xml:"ipProtocol"`
	FromPort             int                 `xml:"fromPort"`
	ToPort               int                 `xml:"toPort"`
	CidrIpv4             string              `xml:"cidrIpv4,omitempty"`
	CidrIpv6             string              `xml:"cidrIpv6,omitempty"`
	PrefixListId         string              `xml:"prefixListId,omitempty"`
	ReferencedGroupInfo  *xmlReferencedGroup `xml:"referencedGroupInfo,omitempty"`
	Description          string              `xml:"description,omitempty"`
	SecurityGroupRuleArn string              `xml:"securityGroupRuleArn"`
	TagSet               []xmlTag            `xml:"tagSet>item"`
}

func ruleXML(r change.SecurityGroupRule, l *lab.Lab) xmlSecurityGroupRule {
	out := xmlSecurityGroupRule{SecurityGroupRuleId: r.SecurityGroupRuleID, GroupId: r.GroupID, GroupOwnerId: l.VPC.AccountID,
		IsEgress: r.IsEgress, IpProtocol: r.IPProtocol, FromPort: r.FromPort, ToPort: r.ToPort, CidrIpv4: r.CidrIPv4,
		CidrIpv6: r.CidrIPv6, PrefixListId: r.PrefixListID, Description: r.Description,
		SecurityGroupRuleArn: authz.ARN(l.VPC.Region, l.VPC.AccountID, "security-group-rule", r.SecurityGroupRuleID)}
	if r.ReferencedGroupID != "" {
		out.ReferencedGroupInfo = &xmlReferencedGroup{GroupId: r.ReferencedGroupID, UserId: l.VPC.AccountID}
	}
	return out
}

type authorizeResponse struct {
	meta
	Return bool                   `xml:"return"`
	Rules  []xmlSecurityGroupRule `xml:"securityGroupRuleSet>item"`
}

type createSecurityGroupResponse struct {
	meta
	GroupId          string `xml:"groupId"`
	SecurityGroupArn string `xml:"securityGroupArn"`
}

type replaceAssociationResponse struct {
	meta
	NewAssociationId string `xml:"newAssociationId"`
}

type createFlowLogsResponse struct {
	meta
	FlowLogIds   []string `xml:"flowLogIdSet>item"`
	Unsuccessful struct{} `xml:"unsuccessful"`
}

type prefixListResponse struct {
	meta
	PrefixList xmlPrefixList `xml:"prefixList"`
}

type createNetworkAclResponse struct {
	meta
	NetworkAcl xmlNetworkAcl `xml:"networkAcl"`
}

type deleteFlowLogsResponse struct {
	meta
	Unsuccessful struct{} `xml:"unsuccessful"`
}

// changeResponse is the XML response of action, whose change answered
// resp; l is the lab the call began with (its account and region).
func changeResponse(action string, resp any, l *lab.Lab) body {
	m, _ := resp.(map[string]any)
	switch action {
	case "AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress":
		out := &authorizeResponse{Return: true}
		rules, _ := m["SecurityGroupRules"].([]change.SecurityGroupRule)
		for _, r := range rules {
			out.Rules = append(out.Rules, ruleXML(r, l))
		}
		return out
	case "CreateSecurityGroup":
		id, _ := m["GroupId"].(string)
		return &createSecurityGroupResponse{GroupId: id, SecurityGroupArn: authz.ARN(l.VPC.Region, l.VPC.AccountID, ec2.KindSecurityGroup, id)}
	case "ReplaceNetworkAclAssociation":
		id, _ := m["NewAssociationId"].(string)
		return &replaceAssociationResponse{NewAssociationId: id}
	case "CreateFlowLogs":
		ids, _ := m["FlowLogIds"].([]string)
		return &createFlowLogsResponse{FlowLogIds: ids}
	case "DeleteFlowLogs":
		return &deleteFlowLogsResponse{}
	case "CreateManagedPrefixList", "ModifyManagedPrefixList", "DeleteManagedPrefixList":
		id, _ := m["PrefixListId"].(string)
		max, _ := m["MaxEntries"].(int)
		fam := "IPv4"
		if v6, _ := m["IPv6"].(bool); v6 {
			fam = "IPv6"
		}
		state := map[string]string{"CreateManagedPrefixList": "create-complete", "ModifyManagedPrefixList": "modify-complete", "DeleteManagedPrefixList": "delete-complete"}[action]
		return &prefixListResponse{PrefixList: xmlPrefixList{PrefixListId: id, PrefixListName: id, AddressFamily: fam, MaxEntries: max,
			PrefixListArn: authz.ARN(l.VPC.Region, l.VPC.AccountID, ec2.KindPrefixList, id), OwnerId: l.VPC.AccountID, State: state, Version: 1}}
	case "CreateNetworkAcl":
		id, _ := m["NetworkAclId"].(string)
		return &createNetworkAclResponse{NetworkAcl: xmlNetworkAcl{NetworkAclId: id, VpcId: l.VPC.ID, OwnerId: l.VPC.AccountID,
			EntrySet: entries(&nacl.ACL{ID: id}, l.VPC.IPv6CIDR.IsValid())}}
	}
	return &returnResponse{Return: true}
}
