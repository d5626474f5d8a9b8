package policytest

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/explain/resolve"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/verdict"
)

// epoch is the virtual clock's reading when Run starts a file:
// 2026-01-01T00:00:00Z, in nanoseconds.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()

// Result is the outcome of running a file.
type Result struct {
	File *File
	// Steps holds one result per step of the file, in order.
	Steps []StepResult
	// Passed and Failed count the steps that check something: sends and
	// applies.
	Passed, Failed int
}

// StepResult is the outcome of one step.
type StepResult struct {
	Step *Step
	// OK is true when the step got what it expects (always, for an
	// advance).
	OK bool
	// Verdict is a send's verdict. Its Trace is nil: the stages are in
	// Trace.
	Verdict verdict.Verdict
	// Trace holds every stage a send's packet went through.
	Trace verdict.Trace
	// Got is what happened: allow or deny for a send (error when its
	// packet could not be built); for an apply, applied, error (refused)
	// or loaded (not applied, since the step expects an error).
	Got string
	// Want is what the step expects: allow or deny, with the by and rule
	// of the step, for a send; applied or error for an apply.
	Want string
	// Msg says why the step failed, or why an apply was refused.
	Msg string
}

// Run runs f's steps in order on a fresh engine enforcing f's lab, with a
// virtual clock that starts at 2026-01-01T00:00:00Z and moves only on
// advance steps. An apply whose lab loads replaces the policy through
// Engine.Apply, unless the step expects an error; one whose lab is refused
// keeps the policy in force. Run returns an error only when f's own lab
// cannot be loaded.
func Run(f *File) (*Result, error) {
	l, err := labfile.Load(f.path(f.Lab))
	if err != nil {
		return nil, err
	}
	e := dataplane.New(l)
	r := &Result{File: f, Steps: make([]StepResult, len(f.Steps))}
	now := epoch
	var buf []byte
	for i := range f.Steps {
		st, sr := &f.Steps[i], &r.Steps[i]
		sr.Step = st
		switch {
		case st.Send != nil:
			buf = send(e, sr, now, buf[:0])
		case st.Apply != "":
			apply(e, f, sr, now)
		default:
			now += int64(st.Advance)
			sr.OK = true
			continue
		}
		if sr.OK {
			r.Passed++
		} else {
			r.Failed++
		}
	}
	return r, nil
}

// send runs a send step at time now, building its packet in buf, and
// returns buf for the next step to reuse.
func send(e *dataplane.Engine, sr *StepResult, now int64, buf []byte) []byte {
	st := sr.Step
	sr.Want = st.Expect
	if st.By != "" {
		sr.Want += " by " + st.By
	}
	if st.Rule != "" {
		sr.Want += " rule " + st.Rule
	}
	snap := e.Snapshot()
	from, to, pkt, err := st.Send.Packet(snap, buf)
	if err != nil {
		sr.Got, sr.Msg = "error", err.Error()
		return buf
	}
	sr.Verdict.Trace = &sr.Trace
	e.Process(from.Port, pkt, now, &sr.Verdict)
	sr.Verdict.Trace = nil
	sr.Got = "deny"
	if sr.Verdict.Allowed {
		sr.Got = "allow"
	}
	sr.Msg = sr.check(snap, to)
	sr.OK = sr.Msg == ""
	return pkt
}

// check returns why a send's verdict is not what its step expects, or "".
func (sr *StepResult) check(snap *dataplane.Snapshot, to resolve.Endpoint) string {
	st, v := sr.Step, &sr.Verdict
	mismatch := fmt.Sprintf("want %s; got %s %s", sr.Want, sr.Got, describe(deciding(v)))
	switch {
	case sr.Got != st.Expect:
		return mismatch
	case v.Allowed && to.Port >= 0 && v.To != to.Port:
		return fmt.Sprintf("delivered to %s, want %s", snap.PortName(v.To), to.Name)
	case st.By == "" && st.Rule == "":
		return ""
	}
	// The decisions by and rule are checked against: the one that dropped
	// the packet, or every one that let it through.
	ds := []verdict.Step{deciding(v)}
	if v.Allowed {
		ds = slices.DeleteFunc(slices.Clone(sr.Trace.Steps), func(s verdict.Step) bool { return !s.Pass })
	}
	if st.By != "" {
		ds = slices.DeleteFunc(ds, func(s verdict.Step) bool { return !decidedBy(s, st.By) })
	}
	if len(ds) == 0 || st.Rule != "" && !slices.ContainsFunc(ds, func(s verdict.Step) bool { return ruleMatches(s, st.Rule) }) {
		return mismatch
	}
	return ""
}

// deciding returns the decision of the stage that decided a verdict.
func deciding(v *verdict.Verdict) verdict.Step {
	return verdict.Step{Stage: v.Stage, Pass: v.Allowed, Code: v.Code, ENI: v.ENI, ACL: v.ACL, NACLRule: v.NACLRule, SG: v.SG}
}

// decidedBy reports whether a decision was taken by the stage a step's by
// names.
func decidedBy(s verdict.Step, by string) bool {
	if by == byConntrack {
		return s.Code == verdict.CodeConntrack
	}
	return s.Stage.String() == by
}

// ruleMatches reports whether a decision was taken by the rule a step's
// rule names.
func ruleMatches(s verdict.Step, rule string) bool {
	if isNACL(s.Stage) {
		return s.NACLRule != 0 && strconv.Itoa(s.NACLRule) == rule
	}
	ref := s.SG
	return ref != nil && (rule == ref.Group || rule == ref.ID || rule == refName(ref))
}

func isNACL(s verdict.Stage) bool {
	return s == verdict.StageNACLEgress || s == verdict.StageNACLIngress
}

// refName names a security-group rule as group/direction/index.
func refName(ref *verdict.RuleRef) string {
	return fmt.Sprintf("%s/%s/%d", ref.Group, ref.Dir, ref.Index)
}

// describe describes a decision: its stage, the ENI or ACL, the rule and
// the code, such as "nacl-egress acl-db rule 32767 SUBNET_ACL_RESTRICTION".
func describe(s verdict.Step) string {
	parts := []string{s.Stage.String()}
	if s.ENI != "" {
		parts = append(parts, s.ENI)
	}
	if isNACL(s.Stage) && s.ACL != "" {
		parts = append(parts, s.ACL)
		if s.NACLRule != 0 {
			parts = append(parts, "rule "+strconv.Itoa(s.NACLRule))
		}
	}
	if s.SG != nil {
		parts = append(parts, refName(s.SG))
		if s.SG.ID != "" {
			parts = append(parts, s.SG.ID)
		}
	}
	return strings.Join(append(parts, s.Code.String()), " ")
}

// apply runs an apply step of f at time now.
func apply(e *dataplane.Engine, f *File, sr *StepResult, now int64) {
	st := sr.Step
	sr.Want = "applied"
	if st.Expect == "error" {
		sr.Want = "error"
	}
	l, err := labfile.Load(f.path(st.Apply))
	switch {
	case err != nil:
		sr.Got, sr.Msg = "error", err.Error()
	case st.Expect == "error":
		sr.Got, sr.Msg = "loaded", "the lab loaded, want it refused: it was not applied"
	default:
		e.Apply(l, now)
		sr.Got = "applied"
	}
	sr.OK = sr.Got == sr.Want
}

// String names the step: its name, or a summary of what it does.
func (st *Step) String() string {
	switch {
	case st.Name != "":
		return st.Name
	case st.Send != nil:
		return st.Send.String()
	case st.Apply != "":
		return "apply " + st.Apply
	}
	return "advance " + st.Advance.String()
}

// Write prints the result: a line per step (✓ or ✗, its name or summary,
// and what happened: the verdict with the stage and rule that decided),
// what each failed step wanted with the stages its packet went through,
// and a last line "N passed, N failed". Advances show as · with the
// clock's new reading. It returns w's error.
func (r *Result) Write(w io.Writer) error {
	var b bytes.Buffer
	width := 0
	for _, sr := range r.Steps {
		width = max(width, utf8.RuneCountInString(sr.Step.String()))
	}
	width = min(width, 60)
	var clock time.Duration
	for _, sr := range r.Steps {
		st := sr.Step
		title := st.String()
		title += strings.Repeat(" ", max(0, width-utf8.RuneCountInString(title)))
		switch {
		case st.Send == nil && st.Apply == "":
			clock += st.Advance
			fmt.Fprintf(&b, "· %s  clock +%s\n", title, clock)
			continue
		case sr.OK:
			fmt.Fprintf(&b, "✓ %s  %s\n", title, sr.outcome())
			continue
		}
		fmt.Fprintf(&b, "✗ %s  %s\n", title, sr.outcome())
		fmt.Fprintf(&b, "    %s:%d: %s\n", r.File.Path, st.Line, strings.ReplaceAll(sr.Msg, "\n", "\n    "))
		for _, ts := range sr.Trace.Steps {
			word := "deny "
			if ts.Pass {
				word = "pass "
			}
			fmt.Fprintf(&b, "      %s%s\n", word, describe(ts))
		}
	}
	fmt.Fprintf(&b, "%d passed, %d failed\n", r.Passed, r.Failed)
	_, err := w.Write(b.Bytes())
	return err
}

// outcome says in a few words what happened at a send or apply step.
func (sr *StepResult) outcome() string {
	switch {
	case sr.Step.Apply != "" && sr.Got == "error":
		msg, _, _ := strings.Cut(sr.Msg, "\n")
		return "refused: " + msg
	case sr.Step.Apply != "":
		return sr.Got
	case sr.Got == "error":
		return "error"
	}
	out := fmt.Sprintf("%-5s  %s", sr.Got, describe(deciding(&sr.Verdict)))
	if v := &sr.Verdict; v.Stage == verdict.StageParse && v.Code == verdict.CodeMalformed {
		out += " " + v.Parse.String()
	}
	return out
}
