package explain

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab/labfile"
)

func intp(n int) *int { return &n }

func run(t *testing.T, q Query) *Result {
	t.Helper()
	r, err := Run(labfile.ExampleLab(), q)
	if err != nil {
		t.Fatalf("Run(%+v): %v", q, err)
	}
	return r
}

func stages(l *Leg) []string {
	var out []string
	for _, s := range l.Steps {
		out = append(out, s.Stage)
	}
	return out
}

func TestAllowedWithConntrackReply(t *testing.T) {
	r := run(t, Query{From: "web1", To: "app1", Proto: "tcp", Dport: 8080})
	req, rep := &r.Request, r.Reply
	if !req.Allowed || req.Verdict != "ALLOWED: delivered to eni-app1" {
		t.Fatalf("request: %+v", req)
	}
	if want := []string{"sg-egress", "nacl-egress", "nacl-ingress", "sg-ingress"}; !slices.Equal(stages(req), want) {
		t.Errorf("request stages %v, want %v", stages(req), want)
	}
	last := req.Steps[3]
	if sg := last.SGRule; sg == nil || sg.Group != "sg-app" || sg.Direction != "ingress" || sg.Index != 0 ||
		sg.Rule != "tcp 8080 from sg-web" || sg.Line == 0 || !last.NewEntry {
		t.Errorf("sg-ingress step %+v, rule %+v", last, last.SGRule)
	}
	if p := req.Packet; p.Flags != "S" || *p.Sport != EphemeralPort || *p.Dport != 8080 || p.Src != "10.0.1.10" || p.Dst != "10.0.2.10" {
		t.Errorf("request packet %+v", p)
	}
	if n := req.Steps[1]; n.ACL != "acl-web" || n.NACLRule != 100 || n.By != "acl-web rule 100: allow tcp 1024-65535 to 0.0.0.0/0" {
		t.Errorf("nacl-egress step %+v", n)
	}

	if rep == nil || !rep.Allowed || rep.Note != "" {
		t.Fatalf("reply: %+v", rep)
	}
	if rep.Packet.Flags != "SA" || *rep.Packet.Sport != 8080 || *rep.Packet.Dport != EphemeralPort {
		t.Errorf("reply packet %+v", rep.Packet)
	}
	for _, i := range []int{0, 3} {
		if s := rep.Steps[i]; !s.Conntrack || s.Code != "CONNTRACK_ESTABLISHED" || s.SGRule != nil {
			t.Errorf("reply step %d: %+v, want a conntrack hit", i, s)
		}
	}
	if s := rep.Steps[0]; s.By != "conntrack entry on eni-app1" {
		t.Errorf("reply sg-egress: %q", s.By)
	}
	if s := rep.Steps[2]; s.NACLRule != 140 || s.ACL != "acl-web" {
		t.Errorf("reply nacl-ingress: %+v (acl-web rule 140 lets replies from app1 in)", s)
	}
}

func TestDeniedByNACL(t *testing.T) {
	r := run(t, Query{From: "web1", To: "db1", Proto: "tcp", Dport: 5432})
	req := &r.Request
	want := "DENIED at nacl-ingress: acl-db rule 32767 (the implicit deny) — SUBNET_ACL_RESTRICTION"
	if req.Allowed || req.Verdict != want || req.Stage != "nacl-ingress" || req.Code != "SUBNET_ACL_RESTRICTION" {
		t.Errorf("request verdict %q (%s, %s), want %q", req.Verdict, req.Stage, req.Code, want)
	}
	if s := req.Steps[len(req.Steps)-1]; s.Allowed || s.ACL != "acl-db" || s.NACLRule != 32767 {
		t.Errorf("deciding step %+v", s)
	}
	if req.Steps[0].NewEntry {
		t.Errorf("sg-egress of a request that was not delivered shows a new conntrack entry")
	}
	// Without a delivered request, the reply meets no conntrack entry, and
	// sg-db has no egress rules.
	rep := r.Reply
	if rep == nil || rep.Allowed || rep.Note == "" || rep.Code != "ENI_SG_RULES_MISMATCH" ||
		rep.Steps[0].By != "no egress rule of sg-db on eni-db1 allows tcp 49152 to 10.0.1.10" {
		t.Errorf("reply %+v", rep)
	}
}

func TestDeniedByNumberedEntry(t *testing.T) {
	r := run(t, Query{From: "198.51.100.7", To: "web1", Proto: "tcp", Dport: 80})
	want := "DENIED at nacl-ingress: acl-web rule 90: deny all traffic from 198.51.100.0/24 — SUBNET_ACL_RESTRICTION"
	if r.Request.Verdict != want {
		t.Errorf("verdict %q, want %q", r.Request.Verdict, want)
	}
	if r.Request.From.Port != "internet" || r.Request.From.Addr != "198.51.100.7" {
		t.Errorf("from %+v", r.Request.From)
	}
}

func TestICMPEcho(t *testing.T) {
	r := run(t, Query{From: "203.0.113.5", To: "web1", Proto: "icmp"})
	if !r.Request.Allowed || *r.Request.Packet.ICMPType != 8 {
		t.Errorf("request %+v", r.Request)
	}
	rep := r.Reply
	if rep == nil || !rep.Allowed || *rep.Packet.ICMPType != 0 || !rep.Steps[0].Conntrack ||
		rep.Verdict != "ALLOWED: leaves through the internet gateway" {
		t.Errorf("reply %+v", rep)
	}
	// An ICMP message other than an echo request has no reply.
	r = run(t, Query{From: "web1", To: "app1", Proto: "icmp", Type: intp(3), Code: intp(4)})
	if r.Reply != nil {
		t.Errorf("a reply to destination unreachable: %+v", r.Reply)
	}
}

func TestIPv6(t *testing.T) {
	r := run(t, Query{From: "2001:db8::5", To: "web1", Proto: "tcp", Dport: 443, Family: 6})
	if !r.Request.Allowed || r.Request.Packet.Family != 6 || r.Request.To.Addr != "2600:1f18:aa:bb01::10" {
		t.Errorf("request %+v", r.Request)
	}
	if s := r.Request.Steps[0]; s.NACLRule != 111 {
		t.Errorf("nacl-ingress %+v, want acl-web rule 111 (tcp 443 from ::/0)", s)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "tcp [2001:db8::5]:49152 → [2600:1f18:aa:bb01::10]:443 [S]") {
		t.Errorf("IPv6 addresses with ports are not bracketed:\n%s", b.String())
	}
}

func TestVPCService(t *testing.T) {
	r := run(t, Query{From: "db1", To: "169.254.169.254", Proto: "tcp", Dport: 80})
	if !r.Request.Allowed || r.Request.Steps[0].Code != "EXEMPT_VPC_SERVICE" ||
		!strings.Contains(r.Request.Verdict, "VPC service") {
		t.Errorf("request %+v", r.Request)
	}
}

func TestErrors(t *testing.T) {
	for _, q := range []Query{
		{From: "nosuch", To: "app1", Proto: "tcp", Dport: 80},
		{From: "web1", To: "app1", Proto: "bogus"},
		{From: "app1", To: "web1", Proto: "tcp", Dport: 80, Family: 6}, // app1 has no IPv6
	} {
		if _, err := Run(labfile.ExampleLab(), q); err == nil {
			t.Errorf("Run(%+v): no error", q)
		}
	}
}

func TestJSON(t *testing.T) {
	r := run(t, Query{From: "web1", To: "app1", Proto: "tcp", Dport: 8080})
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&back)
	if !bytes.Equal(b, b2) {
		t.Errorf("JSON does not round-trip:\n%s\n%s", b, b2)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	for _, k := range []string{"lab", "request", "reply"} {
		if raw[k] == nil {
			t.Errorf("no %q in %s", k, b)
		}
	}
}

func ExampleRun() {
	r, err := Run(labfile.ExampleLab(), Query{From: "web1", To: "db1", Proto: "tcp", Dport: 5432})
	if err != nil {
		panic(err)
	}
	r.WriteText(os.Stdout)
	// Output:
	// lab example.yaml
	//
	// request  web1 (eni-web1) → db1 (eni-db1)
	//          tcp 10.0.1.10:49152 → 10.0.3.10:5432 [S]
	//   sg-egress     allow  SG_RULE_MATCH           sg-web egress #0 (default rule): all traffic to 0.0.0.0/0
	//   nacl-egress   allow  NACL_RULE_ALLOW         acl-web rule 100: allow tcp 1024-65535 to 0.0.0.0/0
	//   nacl-ingress  deny   SUBNET_ACL_RESTRICTION  acl-db rule 32767 (the implicit deny)
	//   DENIED at nacl-ingress: acl-db rule 32767 (the implicit deny) — SUBNET_ACL_RESTRICTION
	//
	// reply    db1 (eni-db1) → web1 (eni-web1)
	//          tcp 10.0.3.10:5432 → 10.0.1.10:49152 [SA]
	//          (the request was not delivered, so it created no conntrack entry: the reply is judged by the rules alone)
	//   sg-egress     deny   ENI_SG_RULES_MISMATCH   no egress rule of sg-db on eni-db1 allows tcp 49152 to 10.0.1.10
	//   DENIED at sg-egress: no egress rule of sg-db on eni-db1 allows tcp 49152 to 10.0.1.10 — ENI_SG_RULES_MISMATCH
}
