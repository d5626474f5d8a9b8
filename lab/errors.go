package lab

import "github.com/vpclab/vpclab/internal/fileerr"

// Error is one problem in a lab file: File, and Line and Column (counting
// from 1; 0 when unknown) locate the offending value, Field is its path
// (such as security_groups[sg-web].ingress[2].ports or
// network_acls[acl-a].ingress[rule 110].protocol; list items are named by
// their id when they have a valid one, else by their index from 0; empty
// for problems with the file as a whole), and Msg says what is wrong and
// what is allowed instead. Its Error method returns
// "FILE:LINE:COL: FIELD: MSG", leaving out the parts that are unknown or
// empty.
//
// Policy-test files (package policytest) report their problems with the
// same type.
type Error = fileerr.Error

// ErrorList is every problem found in a lab file, sorted by position. Parse
// reports at most 50 of them, followed by one saying how many more there
// were. Its Error method returns the errors one per line, and errors.As
// finds an *Error in it.
type ErrorList = fileerr.ErrorList

// maxErrors is how many errors Parse reports before giving up on the rest.
const maxErrors = 50
