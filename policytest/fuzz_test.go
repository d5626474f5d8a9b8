package policytest

import (
	"errors"
	"testing"

	"github.com/vpclab/vpclab/lab"
)

// FuzzParse checks that Parse never panics, that it fails only with a
// lab.ErrorList of positioned errors, and that what it accepts is a
// well-formed File.
//
// The seeds are small, between them using every key: the fuzzer minimizes
// each new interesting input, which takes long on big ones.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"lab: l\nsteps:\n  - name: q\n    send: {from: a, to: b, proto: tcp, sport: 1, dport: 2, flags: S}\n    expect: allow\n    by: sg-ingress\n    rule: sg-a/ingress/0\n  - {send: {reply: q, flags: SA, size: 9, ttl: 2}, expect: deny, by: conntrack, rule: 32767}\n",
		"lab: l\nsteps:\n  - {name: e, send: {from: a, to: b, family: 6, proto: udp, sport: 1, dport: 2}, expect: allow}\n  - {send: {from: b, to: a, proto: icmpv6, type: 1, code: 4, quote: e}, expect: deny}\n",
		"lab: l\nsteps:\n  - {send: {from: a, src: 10.0.0.1, dst: 10.0.0.2, proto: icmp, type: 8, id: 3}, expect: allow}\n  - {send: {src: 10.0.0.1, to: b, proto: 47, fragment: {id: 7, offset: 8, more: true}}, expect: deny, by: parse}\n",
		"lab: l\nsteps:\n  - {send: {from: a, to: b, proto: tcp, sport: 1, dport: 2, flags: S, fragment: {id: 7, more: true, length: 2}}, expect: deny}\n",
		"lab: l\nsteps: [{advance: 5m}, {advance: 30}, {name: x, apply: x.yaml, expect: error}, {apply: y.yaml}]\n",
		`{"lab": "l", "steps": [{"send": {"from": "a", "to": "b", "proto": "17", "sport": 1, "dport": "2"}, "expect": "allow"}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list lab.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v is not a non-empty lab.ErrorList", err)
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("error without a file or a message: %+v", e)
				}
			}
			return
		}
		if file.Lab == "" || len(file.Steps) == 0 {
			t.Fatalf("accepted a file without a lab or steps: %+v", file)
		}
		names := map[string]bool{}
		for i := range file.Steps {
			st := &file.Steps[i]
			actions := 0
			for _, set := range []bool{st.Send != nil, st.Advance > 0, st.Apply != ""} {
				if set {
					actions++
				}
			}
			if actions != 1 {
				t.Fatalf("step %d does %d things: %+v", i, actions, st)
			}
			if st.Name != "" && names[st.Name] {
				t.Fatalf("step %d reuses the name %q", i, st.Name)
			}
			names[st.Name] = true
			if s := st.Send; s != nil {
				if _, ok := protoNumber(s.Proto); !ok {
					t.Fatalf("step %d: accepted protocol %q", i, s.Proto)
				}
				if _, err := parseFlags(s.Flags); err != nil {
					t.Fatalf("step %d: accepted flags %q", i, s.Flags)
				}
				if err := s.checkRanges(); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if st.Expect != "allow" && st.Expect != "deny" {
					t.Fatalf("step %d: a send expecting %q", i, st.Expect)
				}
				_ = s.Reverse().String()
			}
			_ = st.String()
		}
	})
}
