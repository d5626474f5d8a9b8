package live

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
)

// ErrTopology is wrapped by Apply's error when the new lab would need the
// namespaces, devices or addresses to change: a running lab changes its
// policy, not its wiring.
var ErrTopology = errors.New("the change alters the lab's wiring")

// Reconfigurer is a part of a running lab that follows policy changes:
// flow logs, mirroring. Reconfigure either takes l whole or returns an
// error and keeps what it had.
type Reconfigurer interface {
	Reconfigure(l *lab.Lab) error
}

// Lab returns the lab in force: the one Start was given, or the last one
// Apply took.
func (x *Lab) Lab() *lab.Lab { return x.cur.Load() }

// Follow adds r to the parts that Apply reconfigures, after the engine.
func (x *Lab) Follow(r Reconfigurer) {
	x.applyMu.Lock()
	defer x.applyMu.Unlock()
	x.followers = append(x.followers, r)
}

// Apply makes l, a new version of the lab in force (from labfile.Parse or
// change.Do), the policy of the running lab at once: the next packet is
// judged by it (spec §3.5: tracked flows survive, untracked flows and
// network ACLs see the change). l must keep the lab's wiring: the same
// instances, interfaces, addresses, public subnets and internet hosts;
// otherwise Apply returns an error wrapping ErrTopology and changes
// nothing. A follower that refuses l also leaves everything as it was.
// Applies are serialised; the packet path never waits for one.
func (x *Lab) Apply(l *lab.Lab) (err error) {
	x.applyMu.Lock()
	defer x.applyMu.Unlock()
	start := time.Now()
	defer func() {
		if x.onApply != nil {
			x.onApply(time.Since(start), err == nil)
		}
	}()
	old := x.cur.Load()
	plan, err := labnet.NewPlan(l, x.opts.Net)
	if err != nil {
		return err
	}
	if diff := planDiff(x.plan, plan); diff != "" {
		return fmt.Errorf("%w: %s; bring the lab down and up again to change that", ErrTopology, diff)
	}
	for i, f := range x.followers {
		if err := f.Reconfigure(l); err != nil {
			// Those before took l, so take old back; f should have kept
			// old, and is told again in case it did not.
			for _, g := range x.followers[:i+1] {
				g.Reconfigure(old)
			}
			return err
		}
	}
	if x.svc != nil {
		if err := x.svc.Update(l); err != nil {
			for _, g := range x.followers {
				g.Reconfigure(old)
			}
			return err
		}
	}
	x.engine.Apply(l, x.Now())
	x.cur.Store(l)
	if x.fast != nil {
		x.markNoFast() // the mirror's new sessions
	}
	return x.bumpFast() // the fast path's next packet sees the change too
}

// planDiff describes the first difference between two plans that the
// running lab cannot follow, or returns "".
func planDiff(a, b *labnet.Plan) string {
	links := func(p *labnet.Plan) map[string]*labnet.Link {
		m := map[string]*labnet.Link{}
		for _, ns := range p.Namespaces {
			for _, l := range ns.Links {
				m[ns.Name+"/"+l.Alias()] = l
			}
		}
		return m
	}
	la, lb := links(a), links(b)
	for _, ns := range a.Namespaces {
		for _, l := range ns.Links {
			k := ns.Name + "/" + l.Alias()
			m := lb[k]
			switch {
			case m == nil:
				return fmt.Sprintf("%s of %s would go", l.Alias(), describeNS(ns))
			case !slices.Equal(l.Addrs, m.Addrs):
				return fmt.Sprintf("the addresses of %s would change from %v to %v", l.Alias(), prefixes(l.Addrs), prefixes(m.Addrs))
			case !slices.Equal(l.Routes, m.Routes):
				return fmt.Sprintf("the routes of %s would change (a subnet's public flag, or the VPC's blocks)", l.Alias())
			case l.MTU != m.MTU || l.Name != m.Name:
				return fmt.Sprintf("the link of %s would change", l.Alias())
			}
		}
	}
	for _, ns := range b.Namespaces {
		for _, l := range ns.Links {
			if la[ns.Name+"/"+l.Alias()] == nil {
				return fmt.Sprintf("%s of %s would be added", l.Alias(), describeNS(ns))
			}
		}
	}
	return ""
}

func describeNS(ns *labnet.Namespace) string {
	if ns.Instance == "" {
		return "the internet"
	}
	return "instance " + ns.Instance
}

func prefixes(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
