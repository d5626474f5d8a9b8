// Package authz decides who may change what through vpclab's control API,
// the way AWS IAM decides who may call the EC2 API: principals prove who
// they are with a token, and IAM-style policy documents, grouped into
// roles, say which actions they may take on which resources. It also
// keeps the audit log of every change attempted.
//
// The package owns the model and its files; the control API asks it two
// questions per request. Authenticate: whose token is this? (none: the
// API answers 401 Unauthorized). Authorize: may this principal take this
// action on this resource? (no: 403 Forbidden, with Decision.Reason, which
// names the action, the resource and the statement that decided). In
// either case nothing changes, and the attempt goes to the audit log.
//
// # The principals file
//
// A principals file is YAML (or JSON). It lists the principals, each with
// a name, its token, and its roles and policies; it may define roles of
// its own. For example:
//
//	# /etc/vpclab/principals.yaml (mode 0600, owned by the user vpclab runs as)
//	principals:
//	  - name: alice                     # a network administrator
//	    token_sha256: 5b1a...e0c2       # printf %s "$TOKEN" | sha256sum
//	    roles: [network-admin]
//	  - name: bob                       # runs instances, changes no rule
//	    token_sha256: 9f0c...41ab
//	    roles: [instance-operator]
//	    policies:                       # inline, as IAM's inline policies
//	      - Version: "2012-10-17"
//	        Statement:
//	          - Sid: ProtectDatabase
//	            Effect: Deny
//	            Action: ec2:StopInstances
//	            Resource: "arn:aws:ec2:*:*:instance/db"
//	  - name: carol                     # reads, and edits one group's rules
//	    token: 3c5e0d0a4b1f8e27a9d6c2b4e5f70819   # the token itself: see below
//	    roles: [viewer, web-rules]
//	roles:                              # custom roles: name → policy document
//	  web-rules:
//	    Version: "2012-10-17"
//	    Statement:
//	      - Effect: Allow
//	        Action: ["ec2:AuthorizeSecurityGroup*", "ec2:RevokeSecurityGroup*"]
//	        Resource: "arn:aws:ec2:*:*:security-group/sg-web"
//
// The keys of a principal are name (1-64 letters, digits and +=,.@_-, as
// IAM names users; unique), token_sha256 or token (one of them), roles
// (names of built-in or custom roles) and policies (policy documents);
// a principal needs roles or policies. token_sha256 is the SHA-256 of the
// token in hex: the file then holds no token, and reading it does not
// give one away. token is the token itself, for labs where that does not
// matter. A token is at least 16 printable ASCII characters without
// spaces (openssl rand -hex 16 makes one); no two principals share one.
// Unknown keys are errors; every error names the file, line, column and
// field, such as principals[bob].policies[0].Statement[0].Action.
//
// A principal may also have access_key_id and secret_access_key, an AWS
// access key pair (AKIA… of 16-128 upper-case letters and digits; a
// secret of at least 16 printable characters), with which it signs
// requests to EC2's Query API (package ec2api) with Signature Version 4;
// a principal with a key pair alone needs no token:
//
//	principals:
//	  - name: dave                      # the aws CLI, boto3, Terraform
//	    access_key_id: AKIAVPCLABDAVE000001
//	    secret_access_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
//	    roles: [network-admin]
//
// Load refuses the file unless it is a regular file owned by the user
// vpclab runs as, without permissions for group or others, as ssh refuses
// a private key: "principals.yaml: permissions 0644 are too open: ...;
// run: chmod 600 principals.yaml".
//
// # Quick labs: the environment
//
// Without a principals file, or besides one, the environment may describe
// one principal (AddEnv):
//
//	VPCLAB_TOKEN=$(openssl rand -hex 16) VPCLAB_ROLE=network-admin vpclab up lab.yaml
//
// VPCLAB_TOKEN is its token and VPCLAB_ROLE its roles, comma-separated;
// both are required, so that a token alone grants nothing. VPCLAB_PRINCIPAL
// names it ("env" by default). vpclab's client commands send the
// VPCLAB_TOKEN of their own environment, so one shell serves a lab and
// talks to it. Remember that the environment of a process is readable by
// root and its own user (/proc/PID/environ).
//
// # Roles
//
// The built-in roles are policy documents in roles/*.json of vpclab's
// source, built into the binary:
//
//	network-admin      security groups (create, delete, their rules and
//	                   descriptions) and which groups an interface has, network
//	                   ACLs (create, delete, entries, associations), flow logs, traffic
//	                   mirroring, vpclab:ApplyLab, vpclab:Capture, and every read
//	instance-operator  ec2:ModifyNetworkInterfaceAttribute (attach existing groups
//	                   to interfaces), ec2:StartInstances, ec2:StopInstances, and
//	                   every read; no rule changes
//	viewer             every read: ec2:Describe*, ec2:Get*, vpclab:GetStatus
//
// The built-in roles only allow: what a role does not allow, it denies
// implicitly, so roles add up (network-admin and instance-operator
// together allow both sets). An explicit Deny, which no Allow can
// override, belongs in a policy written for the purpose, such as bob's
// above. A custom role may not take a built-in role's name.
//
// # Actions and resources
//
// The actions are the EC2 API actions vpclab implements, under their EC2
// names, and three of vpclab's own (Actions lists them):
//
//	ec2:AuthorizeSecurityGroupIngress, ec2:AuthorizeSecurityGroupEgress,
//	ec2:RevokeSecurityGroupIngress, ec2:RevokeSecurityGroupEgress  security-group
//	ec2:CreateNetworkAclEntry, ec2:ReplaceNetworkAclEntry,
//	ec2:DeleteNetworkAclEntry, ec2:ReplaceNetworkAclAssociation    network-acl
//	ec2:ModifyNetworkInterfaceAttribute                            network-interface
//	ec2:CreateFlowLogs                    vpc, subnet or network-interface (what it logs)
//	ec2:DeleteFlowLogs                                             vpc-flow-log
//	ec2:CreateTrafficMirrorSession        network-interface (the source)
//	ec2:DeleteTrafficMirrorSession                                 traffic-mirror-session
//	ec2:StartInstances, ec2:StopInstances                          instance
//	ec2:DescribeSecurityGroups, ec2:DescribeNetworkAcls,
//	ec2:DescribeNetworkInterfaces, ec2:DescribeInstances,
//	ec2:DescribeFlowLogs                                           vpc
//	vpclab:ApplyLab (replace the whole lab policy with a new file's) vpc
//	vpclab:GetStatus (counters and conntrack tables)               vpc
//	vpclab:Capture (record an interface's packets)                 network-interface
//
// Each acts on the resource named after it, written as an ARN:
// arn:aws:ec2:REGION:ACCOUNT:KIND/ID, with the lab's region and account
// (us-east-1 and 123456789012 unless the lab file says otherwise) and the
// id from the lab file (for an instance, its name); for example
// arn:aws:ec2:us-east-1:123456789012:security-group/sg-web.
//
// EC2 has one action, ec2:ModifyNetworkInterfaceAttribute, for every
// attribute of an interface, and vpclab keeps it: it both replaces the
// security groups of an interface (aws ec2 modify-network-interface-attribute
// --groups) and sets its connection-tracking timeouts
// (--connection-tracking-specification). A policy cannot allow one
// without the other, in vpclab as in AWS.
//
// # Policy documents
//
// Policies are IAM's JSON policy language, the subset that identity-based
// policies use:
//
//	{"Version": "2012-10-17", "Id": "optional",
//	 "Statement": [{"Sid": "optional", "Effect": "Allow" or "Deny",
//	                "Action" or "NotAction": "ec2:Describe*" or a list,
//	                "Resource" or "NotResource": "*", an ARN, or a list}]}
//
// Statement may be one statement instead of a list. Keys and Effect are
// written as IAM writes them, capitals included. A missing Version means
// 2008-10-17, as in IAM. Sids, when given, are letters and digits, unique
// in their policy.
//
// '*' (any characters, none too) and '?' (one character) are wildcards in
// actions and resources. Actions match without regard to case
// ("EC2:stopinstances" is ec2:StopInstances), resources exactly. A
// wildcard in a resource reaches across ':' and '/' (a '*' that ends an
// ARN field reaches into the next, as in IAM), but not into the service
// field, which must be written out. A statement with NotAction applies to
// every action none of its patterns matches; NotResource likewise.
//
// What vpclab cannot evaluate, it refuses rather than ignores, since
// ignoring it would grant or deny other than the policy says: Condition
// (vpclab has no condition keys), Principal and NotPrincipal (these belong
// in resource-based policies), and policy variables (${aws:username}) in
// version 2012-10-17. It also refuses an action pattern that matches none
// of its actions, with a suggestion when one is close: IAM accepts such a
// pattern, but here it can only be a typing mistake, and a Deny with a
// typing mistake denies nothing.
//
// # Evaluation
//
// Authorize decides as IAM does for identity-based policies. Every
// statement of every policy of the principal (its roles' and its own) is
// considered, in no particular order: if one with Effect Deny applies, the
// request is explicitly denied; otherwise, if one with Effect Allow
// applies, it is allowed; otherwise it is implicitly denied. A statement
// applies when its Action (or NotAction) and its Resource (or
// NotResource) both match.
//
// # The audit log
//
// Every change attempted, allowed or not, is appended to the audit log
// (AuditLog): one JSON object a line, written whole with one write(2) and
// flushed to disk with fsync before the request is answered.
//
//	{"time":"2025-03-01T11:30:45.123456789Z","principal":"bob","action":"ec2:StopInstances",
//	 "resource":"arn:aws:ec2:us-east-1:123456789012:instance/db","result":"denied",
//	 "detail":"principal bob may not ec2:StopInstances on ...: explicitly denied by statement 0 (Sid \"ProtectDatabase\") of policy principals[bob].policies[0]",
//	 "remote":"uid=1000 pid=4242"}
//
// (shown here on four lines). time is UTC; principal is empty when the
// request was not authenticated; result is one of allowed, denied,
// unauthenticated, invalid, failed and applied; detail and remote are
// left out when empty. The log is created with mode 0600; an existing one
// that group or others may write is refused. jq reads it:
// jq 'select(.result == "denied")' audit.log.
package authz
