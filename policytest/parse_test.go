package policytest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab"
)

// TestParseErrors checks that each mistake is reported with the file, the
// position, the field and what is allowed.
func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", "f.yaml: the file is empty"},
		{"syntax", "lab: a\nsteps: [\n", "f.yaml:2: invalid YAML: did not find expected node content"},
		{"second document", "lab: a\nsteps: [{advance: 1s}]\n---\nlab: b\n", "f.yaml:3:1: a second YAML document"},
		{"alias", "lab: &l a.yaml\nsteps: [{apply: *l}]\n", "f.yaml:2:17: YAML aliases (*l) are not supported"},
		{"not a mapping", "- a\n", "f.yaml:1:1: want a policy test (a mapping with keys lab, steps), not a list"},
		{"unknown key", "lab: a\nlabs: b\nsteps: [{advance: 1s}]\n", "f.yaml:2:1: labs: unknown key: the keys of a policy test are lab, steps"},
		{"key twice", "lab: a\nlab: b\nsteps: [{advance: 1s}]\n", "f.yaml:2:1: lab: given twice (first at line 1)"},
		{"no lab", "steps: [{advance: 1s}]\n", "f.yaml:1:1: lab: missing: the lab to start from"},
		{"no steps", "lab: a\nsteps: []\n", "f.yaml:2:8: steps: want a list of at least one step"},
		{"two actions", "lab: a\nsteps:\n  - {advance: 1s, apply: b.yaml}\n", "f.yaml:3:5: steps[0]: a step does one thing: give exactly one of send, advance or apply (this one has 2)"},
		{"no action", "lab: a\nsteps:\n  - {name: x}\n", "f.yaml:3:5: steps[0]: a step does one thing"},
		{"step not a mapping", "lab: a\nsteps: [advance]\n", "f.yaml:2:9: steps[0]: want a step (a mapping with keys name, send, expect, by, rule, advance, apply), not a single value"},
		{"unknown send key", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: udp, sport: 1, port: 2}\n    expect: allow\n",
			"f.yaml:3:50: steps[0].send.port: unknown key: the keys of a send are from, to, reply"},
		{"port range", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: udp, sport: 1, dport: 70000}\n    expect: allow\n",
			`f.yaml:3:57: steps[0].send.dport: "70000" is not a port: use a whole number from 0 to 65535`},
		{"no expect", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp}\n",
			"f.yaml:3:5: steps[0].expect: missing: a send needs expect: allow or deny"},
		{"bad expect", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp}\n    expect: maybe\n",
			`f.yaml:4:13: steps[0].expect: "maybe" is not allowed here: use allow or deny`},
		{"bad by", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp}\n    expect: deny\n    by: acl\n",
			`f.yaml:5:9: steps[0].by: "acl" is not allowed here: use parse or src-dst-check or exempt or sg-egress`},
		{"bad rule", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp}\n    expect: deny\n    rule: sg-web/up/1\n",
			`f.yaml:5:11: steps[0].rule: "sg-web/up/1" is not a rule: want a network-ACL rule number (1-32768)`},
		{"rule number range", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp}\n    expect: deny\n    rule: 40000\n",
			`f.yaml:5:11: steps[0].rule: "40000" is not a rule`},
		{"no from", "lab: a\nsteps:\n  - send: {to: b, proto: icmp}\n    expect: deny\n",
			"f.yaml:3:11: steps[0].send.from: missing: where the packet comes from"},
		{"no proto", "lab: a\nsteps:\n  - send: {from: a, to: b}\n    expect: deny\n",
			"f.yaml:3:11: steps[0].send.proto: missing: the protocol: tcp, udp, icmp, icmpv6, or a protocol number 0-255"},
		{"proto all", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: all}\n    expect: deny\n",
			`f.yaml:3:35: steps[0].send.proto: "all" is not a protocol a packet can carry`},
		{"no ports", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: udp}\n    expect: deny\n",
			"f.yaml:3:11: steps[0].send.sport: missing: udp needs sport and dport"},
		{"no flags", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: tcp, sport: 1, dport: 2}\n    expect: deny\n",
			"f.yaml:3:11: steps[0].send.flags: missing: a TCP packet needs flags"},
		{"bad flags", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: tcp, sport: 1, dport: 2, flags: SX}\n    expect: deny\n",
			`f.yaml:3:67: steps[0].send.flags: "SX" is not a set of TCP flags: use the letters S (SYN)`},
		{"flag twice", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: tcp, sport: 1, dport: 2, flags: SS}\n    expect: deny\n",
			`steps[0].send.flags: "SS" is not a set of TCP flags`},
		{"ports on icmp", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp, dport: 2}\n    expect: deny\n",
			"f.yaml:3:41: steps[0].send.dport: ports apply to tcp and udp only, not icmp"},
		{"flags on udp", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: udp, sport: 1, dport: 2, flags: S}\n    expect: deny\n",
			"steps[0].send.flags: flags apply to tcp only, not udp"},
		{"type on tcp", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: tcp, sport: 1, dport: 2, flags: S, type: 8}\n    expect: deny\n",
			"steps[0].send.type: type applies to icmp and icmpv6 only, not tcp"},
		{"src not an address", "lab: a\nsteps:\n  - send: {from: a, src: web1, to: b, proto: icmp}\n    expect: deny\n",
			`f.yaml:3:26: steps[0].send.src: "web1" is not an IP address`},
		{"family", "lab: a\nsteps:\n  - send: {from: a, to: b, family: 5, proto: icmp}\n    expect: deny\n",
			`steps[0].send.family: "5" is not allowed here: use 4 or 6`},
		{"ttl 0", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp, ttl: 0}\n    expect: deny\n",
			`steps[0].send.ttl: "0" is not a TTL: use a whole number from 1 to 255`},
		{"fragment offset", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp, fragment: {offset: 20}}\n    expect: deny\n",
			"f.yaml:3:60: steps[0].send.fragment.offset: 20 is not a multiple of 8: fragments start on 8-byte boundaries (try 16)"},
		{"fragment key", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: icmp, fragment: {offest: 8}}\n    expect: deny\n",
			"steps[0].send.fragment.offest: unknown key: the keys of a fragment are id, offset, more, length"},
		{"later fragment with ports", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: udp, sport: 1, fragment: {offset: 8}}\n    expect: deny\n",
			"f.yaml:3:40: steps[0].send.sport: a later fragment (offset > 0) carries no transport header: leave sport out"},
		{"later fragment cut", "lab: a\nsteps:\n  - send: {from: a, to: b, proto: udp, fragment: {offset: 8, length: 2}}\n    expect: deny\n",
			"steps[0].send.fragment.length: length cuts a first fragment"},
		{"unknown reply", "lab: a\nsteps:\n  - {name: q, send: {from: a, to: b, proto: icmp}, expect: allow}\n  - {send: {reply: x}, expect: allow}\n",
			`f.yaml:4:20: steps[1].send.reply: no earlier send step is named "x": the named sends before it are q`},
		{"reply forward", "lab: a\nsteps:\n  - {send: {reply: q}, expect: allow}\n  - {name: q, send: {from: a, to: b, proto: icmp}, expect: allow}\n",
			`steps[0].send.reply: no earlier send step is named "q": name the send to answer`},
		{"reply to an advance", "lab: a\nsteps:\n  - {name: wait, advance: 1s}\n  - {send: {reply: wait}, expect: allow}\n",
			`f.yaml:4:20: steps[1].send.reply: the step named "wait" (line 3) is not a send`},
		{"reply with from", "lab: a\nsteps:\n  - {name: q, send: {from: a, to: b, proto: icmp}, expect: allow}\n  - {send: {reply: q, from: b}, expect: allow}\n",
			`f.yaml:4:23: steps[1].send.from: a reply takes its from from step "q": leave from out`},
		{"reply without flags", "lab: a\nsteps:\n  - {name: q, send: {from: a, to: b, proto: tcp, sport: 1, dport: 2, flags: S}, expect: allow}\n  - {send: {reply: q}, expect: allow}\n",
			"f.yaml:4:12: steps[1].send.flags: missing: a TCP packet needs flags"},
		{"quote on tcp", "lab: a\nsteps:\n  - {name: q, send: {from: a, to: b, proto: icmp}, expect: allow}\n  - {send: {from: b, to: a, proto: tcp, sport: 1, dport: 2, flags: S, quote: q}, expect: allow}\n",
			"steps[1].send.quote: quote applies to icmp and icmpv6 only, not tcp"},
		{"quote and size", "lab: a\nsteps:\n  - {name: q, send: {from: a, to: b, proto: icmp}, expect: allow}\n  - {send: {from: b, to: a, proto: icmp, type: 3, quote: q, size: 8}, expect: allow}\n",
			"steps[1].send.size: an ICMP error's payload is the packet it quotes: leave size out"},
		{"name twice", "lab: a\nsteps:\n  - {name: x, advance: 1s}\n  - {name: x, advance: 1s}\n",
			`f.yaml:4:12: steps[1].name: "x" names the step at line 3 already: names are unique`},
		{"advance text", "lab: a\nsteps:\n  - advance: soon\n", `f.yaml:3:14: steps[0].advance: "soon" is not a duration to advance by`},
		{"advance negative", "lab: a\nsteps:\n  - advance: -1s\n", `steps[0].advance: "-1s" is not a duration to advance by`},
		{"advance too far", "lab: a\nsteps:\n  - advance: 99999999999\n", `steps[0].advance: "99999999999" is not a duration to advance by`},
		{"advance expect", "lab: a\nsteps:\n  - {advance: 1s, expect: allow}\n",
			"f.yaml:3:19: steps[0].expect: an advance step takes no expect: expect applies to a send or an apply"},
		{"apply by", "lab: a\nsteps:\n  - {apply: b.yaml, by: sg-egress}\n", "f.yaml:3:21: steps[0].by: an apply step takes no by: by applies to a send"},
		{"apply expect", "lab: a\nsteps:\n  - {apply: b.yaml, expect: allow}\n", `f.yaml:3:29: steps[0].expect: "allow" is not allowed here: use error`},
		{"null value", "lab: a\nsteps:\n  - apply:\n", "f.yaml:3:11: steps[0].apply: has no value: want a lab file's path"},
		{"null apply", "lab: a\nsteps:\n  - {apply: ~}\n", "f.yaml:3:13: steps[0].apply: has no value: want a lab file's path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("f.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("Parse succeeded (%d steps), want an error containing %q", len(f.Steps), tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
			var list lab.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Errorf("error is %T, want a non-empty lab.ErrorList", err)
			}
		})
	}
}

// TestParseErrorsSorted checks that every problem of a file is reported,
// in the order of the file.
func TestParseErrorsSorted(t *testing.T) {
	src := "steps:\n  - {advance: x}\n  - {apply: b, by: exempt}\nbogus: 1\n"
	_, err := Parse("f.yaml", []byte(src))
	var list lab.ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error %v is not a lab.ErrorList", err)
	}
	var got []string
	for _, e := range list {
		got = append(got, e.Field)
	}
	want := []string{"lab", "steps[0].advance", "steps[1].by", "bogus"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("fields %q, want %q", got, want)
	}
}

func TestParse(t *testing.T) {
	src := `lab: labs/lab.yaml
steps:
  - name: query
    send: {from: web1, to: db1, proto: 6, sport: 40000, dport: 5432, flags: as}
    expect: allow
    by: sg-ingress
    rule: sg-db/ingress/0
  - send: {reply: query, flags: FA, size: 10, ttl: 3}
    expect: deny
    by: conntrack
    rule: 32767
  - name: ping
    send: {from: web1, to: "::ffff:10.0.3.10", proto: icmp, id: 7, fragment: {id: 9, more: true, length: 4}}
    expect: allow
  - send: {reply: ping}
    expect: allow
  - {name: pong, send: {reply: ping, type: 3, code: 4}, expect: deny}
  - advance: 90
  - advance: 1m30s
  - apply: lab-2.yaml
    expect: error
  - apply: lab-3.yaml
`
	f, err := Parse("dir/f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "dir/f.yaml" || f.Lab != "labs/lab.yaml" || len(f.Steps) != 9 {
		t.Fatalf("file %q, lab %q, %d steps", f.Path, f.Lab, len(f.Steps))
	}
	if got := f.path(f.Lab); got != "dir/labs/lab.yaml" {
		t.Errorf("lab path %q, want dir/labs/lab.yaml", got)
	}
	query, reply := f.Steps[0], f.Steps[1]
	if query.Line != 3 || query.Name != "query" || query.Expect != "allow" || query.By != "sg-ingress" || query.Rule != "sg-db/ingress/0" {
		t.Errorf("step 0: %+v", query)
	}
	if s := query.Send; s.Proto != "tcp" || s.Flags != "SA" {
		t.Errorf("step 0 send: proto %q flags %q, want tcp SA (canonical)", s.Proto, s.Flags)
	}
	want := Send{From: "db1", To: "web1", Reply: "query", Proto: "tcp", Sport: 5432, Dport: 40000, Flags: "FA", Size: 10, TTL: 3}
	if *reply.Send != want {
		t.Errorf("reply:\n%+v\nwant\n%+v", *reply.Send, want)
	}
	if reply.By != "conntrack" || reply.Rule != "32767" {
		t.Errorf("reply by %q rule %q", reply.By, reply.Rule)
	}
	ping, pingReply, pong := f.Steps[2].Send, f.Steps[3].Send, f.Steps[4].Send
	if ping.To != "::ffff:10.0.3.10" || *ping.ID != 7 || *ping.Fragment != (Fragment{ID: 9, More: true, Length: 4}) {
		t.Errorf("ping: %+v, fragment %+v", ping, ping.Fragment)
	}
	if pingReply.From != "::ffff:10.0.3.10" || *pingReply.Type != 0 || *pingReply.Code != 0 || *pingReply.ID != 7 || pingReply.Fragment != nil {
		t.Errorf("ping's reply: %+v", pingReply)
	}
	if *pong.Type != 3 || *pong.Code != 4 || *pong.ID != 7 {
		t.Errorf("pong: type %d code %d id %d, want 3 4 7", *pong.Type, *pong.Code, *pong.ID)
	}
	if f.Steps[5].Advance != 90*time.Second || f.Steps[6].Advance != 90*time.Second {
		t.Errorf("advances %v %v, want 1m30s", f.Steps[5].Advance, f.Steps[6].Advance)
	}
	if a := f.Steps[7]; a.Apply != "lab-2.yaml" || a.Expect != "error" {
		t.Errorf("apply: %+v", a)
	}
	if a := f.Steps[8]; a.Apply != "lab-3.yaml" || a.Expect != "" {
		t.Errorf("apply: %+v", a)
	}
}

// TestParseJSON checks that JSON, being YAML, is read as well.
func TestParseJSON(t *testing.T) {
	src := `{"lab": "lab.yaml", "steps": [
  {"name": "q", "send": {"from": "a", "to": "b", "proto": "udp", "sport": 1, "dport": "53"}, "expect": "allow"},
  {"send": {"reply": "q"}, "expect": "deny", "by": "sg-egress"}]}`
	f, err := Parse("f.json", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Steps[1].Send; s.From != "b" || s.Sport != 53 || s.Dport != 1 {
		t.Errorf("reply %+v", s)
	}
}

func TestStepString(t *testing.T) {
	typ, code, id := 3, 4, 0
	echo := 0
	for _, tc := range []struct {
		step Step
		want string
	}{
		{Step{Name: "web-to-db", Send: &Send{From: "web1"}}, "web-to-db"},
		{Step{Send: &Send{From: "web1", To: "db1", Proto: "tcp", Sport: 40000, Dport: 5432, Flags: "S"}}, "web1 → db1 tcp 40000→5432 [S]"},
		{Step{Send: &Send{From: "web1", To: "db1", Proto: "tcp", Sport: 1, Dport: 2}}, "web1 → db1 tcp 1→2 []"},
		{Step{Send: &Send{From: "web1", Src: "10.0.0.2", To: "db1", Family: 4, Proto: "udp", Sport: 53, Dport: 9, TTL: 1}},
			"web1(10.0.0.2) → db1 IPv4 udp 53→9 ttl=1"},
		{Step{Send: &Send{Src: "203.0.113.5", To: "web1", Proto: "icmp", ID: &echo}}, "203.0.113.5 → web1 icmp echo-request id=0"},
		{Step{Send: &Send{From: "a", To: "b", Proto: "icmpv6", Type: &typ, Code: &code, ID: &id}}, "a → b icmpv6 type=3 code=4"},
		{Step{Send: &Send{From: "a", To: "b", Proto: "icmp", Type: &echo, Code: &code}}, "a → b icmp echo-reply code=4 id=0"},
		{Step{Send: &Send{From: "a", To: "b", Proto: "47", Size: 100}}, "a → b proto 47 size=100"},
		{Step{Send: &Send{From: "a", To: "b", Proto: "tcp", Sport: 1, Fragment: &Fragment{ID: 7, Offset: 24}}}, "a → b tcp fragment id=7 offset=24"},
		{Step{Send: &Send{From: "a", To: "b", Proto: "udp", Sport: 1, Dport: 2, Fragment: &Fragment{ID: 7, More: true, Length: 2}}},
			"a → b udp 1→2 fragment id=7 offset=0 more length=2"},
		{Step{Send: &Send{From: "b", To: "a", Proto: "icmp", Type: &typ, Code: &code, Quote: &Send{From: "a", To: "b", Proto: "udp", Sport: 1, Dport: 2}}},
			"b → a icmp type=3 code=4 quoting [a → b udp 1→2]"},
		{Step{Advance: 90 * time.Second}, "advance 1m30s"},
		{Step{Apply: "lab-2.yaml"}, "apply lab-2.yaml"},
	} {
		if got := tc.step.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
}
