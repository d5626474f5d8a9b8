package authz

import (
	"fmt"
	"slices"
	"strings"
)

// Decision is the outcome of Authorize.
type Decision struct {
	Allowed bool
	// Explicit is set when a Deny statement applied: an explicit deny,
	// which no Allow overrides. A request that is neither allowed nor
	// explicitly denied is denied implicitly.
	Explicit bool
	// Reason names the principal, action and resource, the outcome and
	// the statement that decided it, for the 403 reply and the audit log:
	//
	//	principal bob may not ec2:StopInstances on arn:aws:ec2:us-east-1:123456789012:instance/db:
	//	explicitly denied by statement 1 (Sid "ProtectDB") of policy principals[bob].policies[0]
	Reason string
	// Policy and Statement locate the statement that decided: its policy's
	// Name and its index there. Policy is empty and Statement -1 when no
	// statement applied (an implicit deny, or a request refused before
	// any policy was read).
	Policy    string
	Statement int
}

// Authorize decides whether principal p may perform action on resource,
// as IAM decides for identity-based policies: if any statement of p's
// policies with Effect Deny applies, the request is explicitly denied;
// otherwise, if any statement with Effect Allow applies, it is allowed;
// otherwise it is implicitly denied. Every statement of every policy is
// considered; their order does not matter.
//
// action is one of vpclab's actions (any case); resource is the ARN of the
// resource it acts on (ARN builds it), of a kind the action acts on
// (ActionInfo.Kinds). Anything else, and a nil p, is denied, with a Reason
// saying why: these are mistakes of the caller, and fail closed.
func Authorize(p *Principal, action, resource string) Decision {
	d := Decision{Statement: -1}
	if p == nil {
		d.Reason = fmt.Sprintf("%s on %s: no principal: the request was not authenticated", action, resource)
		return d
	}
	i := actionIndex(action)
	if i < 0 {
		d.Reason = fmt.Sprintf("principal %s may not %s on %s: %q is not an action vpclab implements", p.Name, action, resource, action)
		return d
	}
	a := &actions[i]
	action = a.Name
	if kind, ok := arnKind(resource); !ok || !slices.Contains(a.Kinds, kind) {
		d.Reason = fmt.Sprintf("principal %s may not %s on %s: %s acts on the ARN of a %s (arn:aws:ec2:REGION:ACCOUNT:KIND/ID)",
			p.Name, action, resource, action, strings.Join(a.Kinds, ", "))
		return d
	}
	allowPol, allowSt := -1, -1
	for pi, pol := range p.Policies {
		for si := range pol.Statements {
			s := &pol.Statements[si]
			if !s.applies(action, resource) {
				continue
			}
			if s.Effect == Deny {
				d.Explicit = true
				d.Policy, d.Statement = pol.Name, si
				d.Reason = fmt.Sprintf("principal %s may not %s on %s: explicitly denied by %s",
					p.Name, action, resource, describe(pol, si))
				return d
			}
			if allowPol < 0 {
				allowPol, allowSt = pi, si
			}
		}
	}
	if allowPol >= 0 {
		pol := p.Policies[allowPol]
		d.Allowed = true
		d.Policy, d.Statement = pol.Name, allowSt
		d.Reason = fmt.Sprintf("principal %s may %s on %s: allowed by %s", p.Name, action, resource, describe(pol, allowSt))
		return d
	}
	names := []string{"none"}
	if len(p.Policies) > 0 {
		names = make([]string, len(p.Policies))
	}
	for i, pol := range p.Policies {
		names[i] = pol.Name
	}
	d.Reason = fmt.Sprintf("principal %s may not %s on %s: no statement allows it (implicit deny; its policies: %s)",
		p.Name, action, resource, strings.Join(names, ", "))
	return d
}

// describe names statement si of pol: `statement 1 (Sid "ProtectDB") of
// role instance-operator`.
func describe(pol *Policy, si int) string {
	if sid := pol.Statements[si].Sid; sid != "" {
		return fmt.Sprintf("statement %d (Sid %q) of %s", si, sid, pol.Name)
	}
	return fmt.Sprintf("statement %d of %s", si, pol.Name)
}
