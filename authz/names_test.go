package authz

// The IAM names of ec2's actions, as the tests name them: written here
// by hand, apart from ec2's table, so that TestActions checks the table.
const (
	AuthorizeSecurityGroupIngress   = "ec2:AuthorizeSecurityGroupIngress"
	AuthorizeSecurityGroupEgress    = "ec2:AuthorizeSecurityGroupEgress"
	RevokeSecurityGroupIngress      = "ec2:RevokeSecurityGroupIngress"
	RevokeSecurityGroupEgress       = "ec2:RevokeSecurityGroupEgress"
	CreateNetworkAclEntry           = "ec2:CreateNetworkAclEntry"
	ReplaceNetworkAclEntry          = "ec2:ReplaceNetworkAclEntry"
	DeleteNetworkAclEntry           = "ec2:DeleteNetworkAclEntry"
	ReplaceNetworkAclAssociation    = "ec2:ReplaceNetworkAclAssociation"
	ModifyNetworkInterfaceAttribute = "ec2:ModifyNetworkInterfaceAttribute"
	CreateFlowLogs                  = "ec2:CreateFlowLogs"
	DeleteFlowLogs                  = "ec2:DeleteFlowLogs"
	CreateTrafficMirrorSession      = "ec2:CreateTrafficMirrorSession"
	DeleteTrafficMirrorSession      = "ec2:DeleteTrafficMirrorSession"
	StartInstances                  = "ec2:StartInstances"
	StopInstances                   = "ec2:StopInstances"
	DescribeSecurityGroups          = "ec2:DescribeSecurityGroups"
	DescribeNetworkAcls             = "ec2:DescribeNetworkAcls"
	DescribeNetworkInterfaces       = "ec2:DescribeNetworkInterfaces"
	DescribeInstances               = "ec2:DescribeInstances"
	DescribeFlowLogs                = "ec2:DescribeFlowLogs"
)
