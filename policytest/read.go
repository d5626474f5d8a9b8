package policytest

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// This file reads the keys of a policy-test file, on top of decode.go.

// maxAdvance bounds one advance: longer than any timeout a lab can set.
const maxAdvance = 1000 * time.Hour

var (
	fileKeys     = []string{"lab", "steps"}
	stepKeys     = []string{"name", "send", "expect", "by", "rule", "advance", "apply"}
	sendKeys     = []string{"from", "to", "reply", "family", "src", "dst", "proto", "sport", "dport", "flags", "type", "code", "id", "fragment", "size", "ttl", "quote"}
	fragmentKeys = []string{"id", "offset", "more", "length"}
)

// byNames are the values by accepts: the stages' names, and conntrack.
var byNames = func() []string {
	var names []string
	for s := verdict.StageNone + 1; s < verdict.NumStages; s++ {
		names = append(names, s.String())
	}
	return append(names, byConntrack)
}()

// byConntrack is the by of a security-group stage passed by a
// connection-tracking entry.
const byConntrack = "conntrack"

// names records the step names read so far.
type names struct {
	line  map[string]int   // name → line of its step
	sends map[string]*Send // name → send, for the named sends (nil when it has errors)
	order []string         // the named sends, in file order, for messages
}

// readFile reads the top-level mapping into f.
func (d *decoder) readFile(n *yaml.Node, f *File) {
	top, ok := d.Object(n, "", "a policy test", fileKeys...)
	if !ok {
		return
	}
	f.Lab, _ = d.text(d.Need(top, "lab", "the lab to start from, such as lab: lab.yaml (relative to this file)"), "lab", "a lab file's path")
	stepsN := d.Need(top, "steps", "a list of steps, each a send, an advance or an apply")
	if stepsN == nil {
		return
	}
	if stepsN.Kind != yaml.SequenceNode || len(stepsN.Content) == 0 {
		d.Errorf(stepsN, "steps", "want a list of at least one step, each a send, an advance or an apply")
		return
	}
	nm := names{line: map[string]int{}, sends: map[string]*Send{}}
	for i, item := range stepsN.Content {
		f.Steps = append(f.Steps, d.step(item, fmt.Sprintf("steps[%d]", i), &nm))
	}
}

// step reads one step. The step is incomplete when it has errors.
func (d *decoder) step(n *yaml.Node, path string, nm *names) Step {
	st := Step{Line: n.Line}
	o, ok := d.Object(n, path, "a step", stepKeys...)
	if !ok {
		return st
	}
	var actions []string
	for _, k := range []string{"send", "advance", "apply"} {
		if o.Vals[k] != nil {
			actions = append(actions, k)
		}
	}
	if len(actions) != 1 {
		d.Errorf(n, path, "a step does one thing: give exactly one of send, advance or apply (this one has %d)", len(actions))
		return st
	}
	action := actions[0]
	for _, k := range []string{"expect", "by", "rule"} {
		switch {
		case o.Key(k) == nil || action == "send" || action == "apply" && k == "expect":
		case k == "expect":
			d.Errorf(o.Key(k), o.At(k), "an advance step takes no expect: expect applies to a send or an apply")
		default:
			d.Errorf(o.Key(k), o.At(k), "an %s step takes no %s: %s applies to a send", action, k, k)
		}
	}
	if n := o.Vals["name"]; n != nil {
		st.Name, _ = d.text(n, o.At("name"), "a step name")
		if first, dup := nm.line[st.Name]; dup {
			d.Errorf(n, o.At("name"), "%q names the step at line %d already: names are unique", st.Name, first)
			st.Name = ""
		}
	}
	switch action {
	case "send":
		st.Send = d.send(o.Vals["send"], o.At("send"), nm)
		st.Expect, _ = d.oneOf(d.Need(o, "expect", "a send needs expect: allow or deny"), o.At("expect"), "allow", "deny")
		if n := o.Vals["by"]; n != nil {
			st.By, _ = d.oneOf(n, o.At("by"), byNames...)
		}
		if n := o.Vals["rule"]; n != nil {
			st.Rule, _ = d.rule(n, o.At("rule"))
		}
	case "advance":
		st.Advance, _ = d.duration(o.Vals["advance"], o.At("advance"))
	case "apply":
		st.Apply, _ = d.text(o.Vals["apply"], o.At("apply"), "a lab file's path")
		if n := o.Vals["expect"]; n != nil {
			st.Expect, _ = d.oneOf(n, o.At("expect"), "error")
		}
	}
	if st.Name != "" {
		nm.line[st.Name] = st.Line
		if action == "send" {
			nm.sends[st.Name] = st.Send // nil when the send has errors
			nm.order = append(nm.order, st.Name)
		}
	}
	return st
}

// duration reads how far an advance moves the clock.
func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := d.Scalar(n, field, "a duration")
	if !ok {
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if secs, serr := strconv.ParseInt(s, 10, 64); serr == nil {
		// A number of seconds, bounded first so that it cannot overflow.
		v, err = time.Duration(min(secs, int64(maxAdvance/time.Second)+1))*time.Second, nil
	}
	if err != nil || v <= 0 || v > maxAdvance {
		d.Errorf(n, field, "%q is not a duration to advance by: use one such as 31s, 5m or 2h, or a number of seconds, above 0 and at most %s", s, maxAdvance)
		return 0, false
	}
	return v, true
}

// rule reads a step's rule: a network-ACL rule number, a group or rule id,
// or group/direction/index.
func (d *decoder) rule(n *yaml.Node, field string) (string, bool) {
	const want = "a network-ACL rule number (1-32768), a security group id (sg-web), a rule id (sgr-…) or group/direction/index (sg-web/ingress/2)"
	s, ok := d.text(n, field, "a rule")
	if !ok {
		return "", false
	}
	if num, err := strconv.Atoi(s); err == nil {
		ok = num >= 1 && num <= 32768
	} else if group, rest, isRef := strings.Cut(s, "/"); isRef {
		dir, idx, _ := strings.Cut(rest, "/")
		i, err := strconv.Atoi(idx)
		ok = group != "" && (dir == "ingress" || dir == "egress") && err == nil && i >= 0
	} else {
		ok = !strings.ContainsAny(s, " \t")
	}
	if !ok {
		d.Errorf(n, field, "%q is not a rule: want %s", s, want)
	}
	return s, ok
}

// send reads a send; nm holds the earlier named sends, for reply and
// quote.
func (d *decoder) send(n *yaml.Node, path string, nm *names) *Send {
	o, ok := d.Object(n, path, "a send", sendKeys...)
	if !ok {
		return nil
	}
	errs := len(d.Errs)
	s := &Send{}
	if rn := o.Vals["reply"]; rn != nil {
		name, prev := d.earlierSend(rn, o.At("reply"), nm)
		if prev == nil {
			return nil
		}
		s = prev.Reverse()
		s.Reply = name
		for _, k := range []string{"from", "to", "family", "proto"} {
			if o.Key(k) != nil {
				d.Errorf(o.Key(k), o.At(k), "a reply takes its %s from step %q: leave %s out", k, name, k)
			}
		}
	}
	for _, k := range sendKeys {
		if n := o.Vals[k]; n != nil {
			d.sendKey(s, k, n, o.At(k), nm)
		}
	}
	if len(d.Errs) > errs {
		return nil
	}
	if d.checkSend(s, o) {
		return s
	}
	return nil
}

// earlierSend returns the earlier send that n names, reporting a name of
// no send. It returns a nil send without a report when that send has
// errors of its own.
func (d *decoder) earlierSend(n *yaml.Node, field string, nm *names) (string, *Send) {
	name, ok := d.text(n, field, "the name of an earlier send")
	if !ok {
		return "", nil
	}
	prev, isSend := nm.sends[name]
	switch line, named := nm.line[name]; {
	case named && !isSend:
		d.Errorf(n, field, "the step named %q (line %d) is not a send: %s", name, line, earlier(nm.order))
	case !named:
		d.Errorf(n, field, "no earlier send step is named %q: %s", name, earlier(nm.order))
	}
	return name, prev
}

// earlier lists the names a reply may give, for messages.
func earlier(order []string) string {
	if len(order) == 0 {
		return "name the send to answer, with name: …"
	}
	return "the named sends before it are " + strings.Join(order, ", ")
}

// endWant describes what from and to may be, for messages.
const endWant = "an instance, an ENI id or an address"

// sendKey reads key k of a send into s.
func (d *decoder) sendKey(s *Send, k string, n *yaml.Node, field string, nm *names) {
	switch k {
	case "from":
		s.From, _ = d.text(n, field, endWant)
	case "to":
		s.To, _ = d.text(n, field, endWant)
	case "src":
		s.Src, _ = d.addr(n, field)
	case "dst":
		s.Dst, _ = d.addr(n, field)
	case "family":
		if v, ok := d.oneOf(n, field, "4", "6"); ok {
			s.Family, _ = strconv.Atoi(v)
		}
	case "proto":
		if v, ok := d.Scalar(n, field, "a protocol"); ok {
			if p, ok := protoNumber(v); ok {
				s.Proto = protoName(p)
			} else {
				d.Errorf(n, field, "%q is not a protocol a packet can carry: use tcp, udp, icmp, icmpv6, or a protocol number 0-255", v)
			}
		}
	case "sport":
		s.Sport, _ = d.Integer(n, field, "a port", 0, 65535)
	case "dport":
		s.Dport, _ = d.Integer(n, field, "a port", 0, 65535)
	case "flags":
		if v, ok := d.Scalar(n, field, "TCP flags"); ok {
			if f, err := parseFlags(v); err == nil {
				s.Flags = formatFlags(f)
			} else {
				d.Errorf(n, field, "%v", err)
			}
		}
	case "type":
		s.Type = d.optional(n, field, "an ICMP type", 255)
	case "code":
		s.Code = d.optional(n, field, "an ICMP code", 255)
	case "id":
		s.ID = d.optional(n, field, "an ICMP echo identifier", 65535)
	case "fragment":
		s.Fragment = d.fragment(n, field)
	case "size":
		s.Size, _ = d.Integer(n, field, "a payload size in bytes", 0, 65000)
	case "ttl":
		s.TTL, _ = d.Integer(n, field, "a TTL", 1, 255)
	case "quote":
		_, s.Quote = d.earlierSend(n, field, nm)
	}
}

// optional reads an integer in 0..hi for a field that is nil when absent.
func (d *decoder) optional(n *yaml.Node, field, what string, hi int) *int {
	if v, ok := d.Integer(n, field, what, 0, hi); ok {
		return &v
	}
	return nil
}

// addr reads an IP address.
func (d *decoder) addr(n *yaml.Node, field string) (string, bool) {
	s, ok := d.Scalar(n, field, "an IP address")
	if !ok {
		return "", false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		d.Errorf(n, field, "%q is not an IP address: write one such as 10.0.1.10 or 2001:db8::10", s)
		return "", false
	}
	return a.Unmap().String(), true
}

// fragment reads a send's fragment.
func (d *decoder) fragment(n *yaml.Node, field string) *Fragment {
	o, ok := d.Object(n, field, "a fragment", fragmentKeys...)
	if !ok {
		return nil
	}
	f := &Fragment{}
	if n := o.Vals["id"]; n != nil {
		f.ID, _ = d.Integer(n, o.At("id"), "a fragment id", 0, 1<<32-1)
	}
	if n := o.Vals["offset"]; n != nil {
		if off, ok := d.Integer(n, o.At("offset"), "a fragment offset in bytes", 0, 65528); ok && off%8 != 0 {
			d.Errorf(n, o.At("offset"), "%d is not a multiple of 8: fragments start on 8-byte boundaries (try %d)", off, off/8*8)
		} else {
			f.Offset = off
		}
	}
	if n := o.Vals["more"]; n != nil {
		f.More, _ = d.Boolean(n, o.At("more"))
	}
	if n := o.Vals["length"]; n != nil {
		f.Length, _ = d.Integer(n, o.At("length"), "a first fragment's length after the IP header", 1, 65000)
		if f.Offset > 0 {
			d.Errorf(o.Key("length"), o.At("length"), "length cuts a first fragment; a later fragment (offset > 0) carries size bytes")
		}
	}
	return f
}

// checkSend checks that the keys of a send, with what a reply inherits,
// make a packet.
func (d *decoder) checkSend(s *Send, o yamlpos.Object) bool {
	errs := len(d.Errs)
	if s.Reply == "" {
		if s.From == "" && s.Src == "" {
			d.Errorf(o.Node, o.At("from"), "missing: where the packet comes from: an instance, an ENI id or an address (or give src)")
		}
		if s.To == "" && s.Dst == "" {
			d.Errorf(o.Node, o.At("to"), "missing: where the packet goes: an instance, an ENI id or an address (or give dst)")
		}
		if s.Proto == "" {
			d.Errorf(o.Node, o.At("proto"), "missing: the protocol: tcp, udp, icmp, icmpv6, or a protocol number 0-255")
			return false
		}
	}
	proto, _ := protoNumber(s.Proto)
	later := s.Fragment != nil && s.Fragment.Offset > 0
	if o.Key("quote") != nil && o.Key("size") != nil {
		d.Errorf(o.Key("size"), o.At("size"), "an ICMP error's payload is the packet it quotes: leave size out")
	}
	for _, k := range []string{"sport", "dport", "flags", "type", "code", "id", "quote"} {
		key := o.Key(k)
		switch {
		case key == nil:
			if later || s.Reply != "" && k != "flags" {
				continue
			}
			if hasPorts(proto) && (k == "sport" || k == "dport") {
				d.Errorf(o.Node, o.At(k), "missing: %s needs sport and dport", s.Proto)
			}
			if proto == packet.ProtoTCP && k == "flags" {
				d.Errorf(o.Node, o.At(k), `missing: a TCP packet needs flags, such as S, SA, A, FA or R ("" for none)`)
			}
		case later:
			d.Errorf(key, o.At(k), "a later fragment (offset > 0) carries no transport header: leave %s out", k)
		case (k == "sport" || k == "dport") && !hasPorts(proto):
			d.Errorf(key, o.At(k), "ports apply to tcp and udp only, not %s", s.Proto)
		case k == "flags" && proto != packet.ProtoTCP:
			d.Errorf(key, o.At(k), "flags apply to tcp only, not %s", s.Proto)
		case (k == "type" || k == "code" || k == "id" || k == "quote") && !isICMP(proto):
			d.Errorf(key, o.At(k), "%s applies to icmp and icmpv6 only, not %s", k, s.Proto)
		}
	}
	return len(d.Errs) == errs
}
