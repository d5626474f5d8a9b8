// Package ec2api is EC2's Query API on a running lab, so that the real
// aws CLI, boto3, the AWS SDKs and Terraform's AWS provider drive it:
// POST / with a form body (or GET with a query string), signed with
// Signature Version 4 (package sigv4) by an access key of the principals
// file, answered in EC2's XML, errors in EC2's envelope with EC2's codes
// and HTTP statuses. STS's GetCallerIdentity is served on the same
// endpoint, as SDKs and Terraform check credentials with it.
//
// Each request is: verified (AuthFailure, RequestExpired: recorded in the
// audit log), decoded (package query, into ec2's request shapes),
// authorised as the IAM action ec2:<Action> on every resource it names
// (UnauthorizedOperation), answered DryRunOperation when DryRun=true and
// allowed, then served: the reads from the lab in force, the changes
// through package change, applied by Lab.Change (serialised with every
// other change of the lab, as the control API applies them) and recorded
// in the audit log as the control API records them (allowed, then
// applied or failed; denied; invalid). Without an audit log entry, no
// change: the audit log fails closed (Unavailable).
//
// It must not import live or control: it declares the Lab it needs, and
// daemon adapts the running lab to it.
package ec2api
