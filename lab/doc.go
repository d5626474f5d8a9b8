// Package lab is the model of a lab: one VPC with its subnets, network
// ACLs, prefix lists, security groups, instances and their network
// interfaces, the internet hosts behind its gateway, its flow logs and
// traffic mirroring, with AWS's defaults (Normalize, AddDefaults) and
// quotas, and Validate, which checks a model against every rule of a lab
// and reports each problem by its field path (such as
// security_groups[sg-web].ingress[2].ports).
//
// A Lab that Validate accepts is complete and valid: every reference
// resolves and every quota holds. Nothing else in vpclab validates a lab
// again; the dataplane compiles it as it is. Lab files are package
// labfile's, which reads them into this model and places Validate's
// problems at their lines; importers and EC2 changes build the model
// directly and call Normalize and Validate. lab must not import labfile
// or a YAML library (the dataplane links lab).
package lab
