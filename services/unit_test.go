package services

import (
	"bytes"
	"encoding/binary"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"golang.org/x/net/dns/dnsmessage"
)

func testDir(t *testing.T) *directory {
	t.Helper()
	d, err := newDirectory(labfile.ExampleLab())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// query builds a DNS query for name and type.
func query(t *testing.T, id uint16, name string, typ dnsmessage.Type) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.StartQuestions()
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	m, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// answers parses a response: its rcode and its answers as strings.
func answers(t *testing.T, id uint16, resp []byte) (dnsmessage.RCode, []string) {
	t.Helper()
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatal(err)
	}
	if !m.Header.Response || !m.Header.Authoritative || m.Header.ID != id || len(m.Questions) != 1 {
		t.Fatalf("bad header or question: %+v", m)
	}
	var out []string
	for _, a := range m.Answers {
		if a.Header.TTL != dnsTTL {
			t.Errorf("TTL %d", a.Header.TTL)
		}
		switch r := a.Body.(type) {
		case *dnsmessage.AResource:
			out = append(out, netip.AddrFrom4(r.A).String())
		case *dnsmessage.AAAAResource:
			out = append(out, netip.AddrFrom16(r.AAAA).String())
		case *dnsmessage.PTRResource:
			out = append(out, r.PTR.String())
		default:
			t.Fatalf("unexpected answer %v", a)
		}
	}
	return m.Header.RCode, out
}

func TestZoneAnswer(t *testing.T) {
	z := newZone(testDir(t))
	web1 := labnet.InstanceID("web1") + ".ec2.internal."
	ok, nx := dnsmessage.RCodeSuccess, dnsmessage.RCodeNameError
	for _, tc := range []struct {
		name  string
		typ   dnsmessage.Type
		rcode dnsmessage.RCode
		want  string // answers joined by spaces
	}{
		{"web1.", dnsmessage.TypeA, ok, "10.0.1.10"},
		{"web1.vpc.internal.", dnsmessage.TypeA, ok, "10.0.1.10"},
		{"WEB1.Vpc.Internal.", dnsmessage.TypeA, ok, "10.0.1.10"},
		{"web1.vpc.internal.", dnsmessage.TypeAAAA, ok, "2600:1f18:aa:bb01::10"},
		{web1, dnsmessage.TypeAAAA, ok, "2600:1f18:aa:bb01::10"},
		{"app1.vpc.internal.", dnsmessage.TypeAAAA, ok, ""}, // NODATA
		{"app1.vpc.internal.", dnsmessage.TypeMX, ok, ""},
		{"ip-10-0-1-10.ec2.internal.", dnsmessage.TypeA, ok, "10.0.1.10"},
		{"ip-10-0-3-10.ec2.internal.", dnsmessage.TypeA, ok, "10.0.3.10"},
		{"ip-10-0-3-10.ec2.internal.", dnsmessage.TypeAAAA, ok, ""},
		{"10.1.0.10.in-addr.arpa.", dnsmessage.TypePTR, ok, "ip-10-0-1-10.ec2.internal."},
		{"10.2.0.10.in-addr.arpa.", dnsmessage.TypePTR, ok, "ip-10-0-2-10.ec2.internal."},
		{reverse6(netip.MustParseAddr("2600:1f18:aa:bb01::10")), dnsmessage.TypePTR, ok, web1},
		{"10.1.0.10.in-addr.arpa.", dnsmessage.TypeA, ok, ""},
		{"ip-10-0-1-99.ec2.internal.", dnsmessage.TypeA, nx, ""}, // no ENI has it
		{"99.1.0.10.in-addr.arpa.", dnsmessage.TypePTR, nx, ""},
		{"010.1.0.10.in-addr.arpa.", dnsmessage.TypePTR, nx, ""},
		{"example.com.", dnsmessage.TypeA, nx, ""},
		{"web2.vpc.internal.", dnsmessage.TypeA, nx, ""},
	} {
		resp, sent := z.Answer(query(t, 7, tc.name, tc.typ), nil)
		if !sent {
			t.Errorf("%s %v: no response", tc.name, tc.typ)
			continue
		}
		rcode, got := answers(t, 7, resp)
		if rcode != tc.rcode || strings.Join(got, " ") != tc.want {
			t.Errorf("%s %v: %v %q, want %v %q", tc.name, tc.typ, rcode, got, tc.rcode, tc.want)
		}
	}
	// A response is not answered; garbage is not either.
	r, _ := z.Answer(query(t, 1, "web1.", dnsmessage.TypeA), nil)
	if _, sent := z.Answer(r, nil); sent {
		t.Error("answered a response")
	}
	if _, sent := z.Answer([]byte{1, 2, 3}, nil); sent {
		t.Error("answered 3 bytes")
	}
}

// reverse6 is the ip6.arpa name of a, written independently of parseReverse.
func reverse6(a netip.Addr) string {
	const hex = "0123456789abcdef"
	b := a.As16()
	var s strings.Builder
	for i := 15; i >= 0; i-- {
		s.WriteByte(hex[b[i]&15])
		s.WriteByte('.')
		s.WriteByte(hex[b[i]>>4])
		s.WriteByte('.')
	}
	return s.String() + "ip6.arpa."
}

func TestParseReverse(t *testing.T) {
	for _, s := range []string{"10.0.1.10", "255.0.0.1", "::1", "2600:1f18:aa:bb01::10", "fd00:ec2::253"} {
		a := netip.MustParseAddr(s)
		name := reverse6(a)
		if a.Is4() {
			b := a.As4()
			name = netip.AddrFrom4([4]byte{b[3], b[2], b[1], b[0]}).String() + ".in-addr.arpa."
		}
		if got, ok := parseReverse(name); !ok || got != a {
			t.Errorf("parseReverse(%q) = %v, %v; want %v", name, got, ok, a)
		}
	}
	for _, s := range []string{"1.2.3.in-addr.arpa.", "256.1.1.1.in-addr.arpa.", "a.1.1.1.in-addr.arpa.", "1.ip6.arpa.", "example.com."} {
		if a, ok := parseReverse(s); ok {
			t.Errorf("parseReverse(%q) = %v", s, a)
		}
	}
}

func TestIdentity(t *testing.T) {
	id := labnet.InstanceID("web1")
	if len(id) != 19 || !strings.HasPrefix(id, "i-") || id != labnet.InstanceID("web1") || id == labnet.InstanceID("web2") {
		t.Errorf("labnet.InstanceID(web1) = %q", id)
	}
	m := labnet.MAC("eni-web1")
	if m[0]&3 != 2 || !bytes.Equal(m, labnet.MAC("eni-web1")) || bytes.Equal(m, labnet.MAC("eni-app1")) {
		t.Errorf("labnet.MAC(eni-web1) = %v: want stable, locally administered, unicast", m)
	}
	if h := labnet.Hostname(netip.MustParseAddr("10.0.1.10")); h != "ip-10-0-1-10.ec2.internal" {
		t.Errorf("Hostname = %q", h)
	}
	if h := labnet.Hostname(netip.MustParseAddr("::1")); h != "" {
		t.Errorf("labnet.Hostname(::1) = %q", h)
	}
}

func TestSNTPReply(t *testing.T) {
	req := make([]byte, 48)
	req[0] = 4<<3 | 3 // v4, client
	req[2] = 6        // poll
	copy(req[40:], []byte{1, 2, 3, 4, 5, 6, 7, 8})
	rx := time.Date(2026, 3, 1, 12, 0, 0, 250_000_000, time.UTC)
	tx := rx.Add(time.Millisecond)
	resp := make([]byte, 48)
	n, ok := SNTPReply(req, resp, rx, tx, timeSyncRefID)
	if !ok || n != 48 {
		t.Fatalf("SNTPReply = %d, %v", n, ok)
	}
	if resp[0] != 4<<3|4 || resp[1] != 3 || resp[2] != 6 || int8(resp[3]) != -20 {
		t.Errorf("header % x", resp[:4])
	}
	if !bytes.Equal(resp[12:16], []byte{169, 254, 169, 123}) {
		t.Errorf("reference id % x", resp[12:16])
	}
	if !bytes.Equal(resp[24:32], req[40:48]) {
		t.Errorf("origin % x", resp[24:32])
	}
	for _, f := range []struct {
		off  int
		want time.Time
	}{{16, rx}, {32, rx}, {40, tx}} {
		if got := NTPTime(resp[f.off:]); got.Sub(f.want).Abs() > time.Microsecond {
			t.Errorf("timestamp at %d = %v, want %v", f.off, got, f.want)
		}
	}
	if s := binary.BigEndian.Uint32(resp[40:]); s != uint32(tx.Unix()+ntpEpochOffset) {
		t.Errorf("transmit seconds %d", s)
	}
	for _, bad := range [][]byte{req[:47], append([]byte{4<<3 | 4}, req[1:]...), append([]byte{0<<3 | 3}, req[1:]...)} {
		if _, ok := SNTPReply(bad, resp, rx, tx, timeSyncRefID); ok {
			t.Errorf("answered % x", bad[:1])
		}
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newTestIMDS(t *testing.T, v2Only bool) (*IMDS, *fakeClock) {
	clk := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	return newIMDS(testDir(t), &Options{IMDSv2Only: v2Only, Now: clk.now}), clk
}

// do sends one request to m from addr and returns the status and body.
func do(m *IMDS, from, method, path string, hdr ...string) (int, string) {
	r := httptest.NewRequest(method, path, nil)
	r.RemoteAddr = from
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestIMDSPaths(t *testing.T) {
	m, _ := newTestIMDS(t, false)
	const web1 = "10.0.1.10:41000"
	mac := labnet.MAC("eni-web1").String()
	for _, tc := range []struct {
		from, path string
		code       int
		body       string
	}{
		{web1, "/latest/meta-data/", 200, "hostname\ninstance-id\nlocal-hostname\nlocal-ipv4\nmac\nnetwork/\nsecurity-groups"},
		{web1, "/latest/meta-data/instance-id", 200, labnet.InstanceID("web1")},
		{web1, "/latest/meta-data/local-ipv4", 200, "10.0.1.10"},
		{web1, "/latest/meta-data/mac", 200, mac},
		{web1, "/latest/meta-data/hostname", 200, "ip-10-0-1-10.ec2.internal"},
		{web1, "/latest/meta-data/security-groups", 200, "sg-web"},
		{web1, "/latest/meta-data/network/interfaces/macs/", 200, mac + "/"},
		{web1, "/latest/meta-data/network/interfaces/macs/" + mac + "/subnet-id", 200, "subnet-web"},
		{web1, "/latest/meta-data/network/interfaces/macs/" + mac + "/vpc-id", 200, "vpc-example"},
		{web1, "/latest/meta-data/network/interfaces/macs/" + mac + "/security-group-ids", 200, "sg-web"},
		{web1, "/latest/meta-data/network/interfaces/macs/" + mac + "/local-ipv4s", 200, "10.0.1.10"},
		{web1, "/latest/meta-data/network/interfaces/macs/" + mac + "/ipv6s", 200, "2600:1f18:aa:bb01::10"},
		{"[2600:1f18:aa:bb01::10]:5000", "/latest/meta-data/instance-id", 200, labnet.InstanceID("web1")},
		{"10.0.3.10:1234", "/latest/meta-data/local-ipv4", 200, "10.0.3.10"},
		{"10.0.3.10:1234", "/latest/meta-data/security-groups", 200, "sg-db"},
		// Another instance's MAC is not there for db1.
		{"10.0.3.10:1234", "/latest/meta-data/network/interfaces/macs/" + mac + "/vpc-id", 404, ""},
		{web1, "/latest/meta-data/nope", 404, ""},
		{web1, "/latest/meta-data/network/interfaces/macs/" + mac + "/nope", 404, ""},
		{web1, "/latest/user-data", 404, ""},
		// Not an ENI of the lab.
		{"10.0.9.9:1", "/latest/meta-data/instance-id", 403, ""},
	} {
		code, body := do(m, tc.from, "GET", tc.path)
		if code != tc.code || (code == 200 && body != tc.body) {
			t.Errorf("GET %s from %s = %d %q, want %d %q", tc.path, tc.from, code, body, tc.code, tc.body)
		}
	}
}

func TestIMDSTokens(t *testing.T) {
	for _, v2Only := range []bool{false, true} {
		m, clk := newTestIMDS(t, v2Only)
		const web1, app1 = "10.0.1.10:40000", "10.0.2.10:40000"
		const path = "/latest/meta-data/instance-id"
		code, _ := do(m, web1, "GET", path)
		if want := map[bool]int{false: 200, true: 401}[v2Only]; code != want {
			t.Errorf("v2Only=%v: GET without token = %d, want %d", v2Only, code, want)
		}
		for _, ttl := range []string{"", "0", "21601", "x"} {
			if code, _ := do(m, web1, "PUT", "/latest/api/token", tokenTTLHeader, ttl); code != 400 {
				t.Errorf("PUT with ttl %q = %d", ttl, code)
			}
		}
		if code, _ := do(m, web1, "GET", "/latest/api/token", tokenTTLHeader, "60"); code != 405 {
			t.Errorf("GET token = %d", code)
		}
		if code, _ := do(m, web1, "PUT", "/latest/api/token", tokenTTLHeader, "60", "X-Forwarded-For", "1.2.3.4"); code != 403 {
			t.Errorf("PUT through a proxy = %d", code)
		}
		code, tok := do(m, web1, "PUT", "/latest/api/token", tokenTTLHeader, "60")
		if code != 200 || len(tok) < 32 {
			t.Fatalf("PUT token = %d %q", code, tok)
		}
		if code, body := do(m, web1, "GET", path, tokenHeader, tok); code != 200 || body != labnet.InstanceID("web1") {
			t.Errorf("GET with token = %d %q", code, body)
		}
		if code, _ := do(m, web1, "GET", path, tokenHeader, tok+"x"); code != 401 {
			t.Errorf("GET with a wrong token = %d", code)
		}
		if code, _ := do(m, app1, "GET", path, tokenHeader, tok); code != 401 {
			t.Errorf("GET with web1's token from app1 = %d", code)
		}
		if code, _ := do(m, web1, "PUT", path, tokenHeader, tok); code != 405 {
			t.Errorf("PUT to a metadata path = %d", code)
		}
		clk.t = clk.t.Add(59 * time.Second)
		if code, _ := do(m, web1, "GET", path, tokenHeader, tok); code != 200 {
			t.Errorf("GET 59s later = %d", code)
		}
		clk.t = clk.t.Add(time.Second)
		if code, _ := do(m, web1, "GET", path, tokenHeader, tok); code != 401 {
			t.Errorf("GET with an expired token = %d", code)
		}
	}
}

func TestIMDSTokenSweep(t *testing.T) {
	m, clk := newTestIMDS(t, false)
	for range 200 {
		do(m, "10.0.1.10:1", "PUT", "/latest/api/token", tokenTTLHeader, "1")
		clk.t = clk.t.Add(2 * time.Second)
	}
	if n := len(m.tokens); n > 64 {
		t.Errorf("%d tokens kept; expired ones should be swept", n)
	}
}

// TestIMDSv2OnlyInstance: an instance whose lab entry says imds: v2-only
// refuses tokenless requests while the others still answer them.
func TestIMDSv2OnlyInstance(t *testing.T) {
	l := labfile.ExampleLab()
	l.Instance("web1").IMDS = lab.IMDSv2Only
	d, err := newDirectory(l)
	if err != nil {
		t.Fatal(err)
	}
	m := newIMDS(d, &Options{Now: time.Now})
	const path = "/latest/meta-data/instance-id"
	if code, _ := do(m, "10.0.1.10:40000", "GET", path); code != 401 {
		t.Errorf("web1 (v2-only) without a token: %d, want 401", code)
	}
	if code, _ := do(m, "10.0.2.10:40000", "GET", path); code != 200 {
		t.Errorf("app1 (v1-and-v2) without a token: %d, want 200", code)
	}
	_, tok := do(m, "10.0.1.10:40000", "PUT", "/latest/api/token", tokenTTLHeader, "60")
	if code, body := do(m, "10.0.1.10:40000", "GET", path, tokenHeader, tok); code != 200 || body != labnet.InstanceID("web1") {
		t.Errorf("web1 with a token: %d %q", code, body)
	}
}

// TestIMDSUpdate: after a policy change the metadata shows the new groups.
func TestIMDSUpdate(t *testing.T) {
	m := newIMDS(testDir(t), &Options{Now: time.Now})
	const app1, path = "10.0.2.10:40000", "/latest/meta-data/security-groups"
	if _, body := do(m, app1, "GET", path); body != "sg-app" {
		t.Fatalf("before: %q", body)
	}
	l := labfile.ExampleLab()
	l.Interface("eni-app1").SecurityGroups = []string{"sg-app", "sg-web"}
	d, err := newDirectory(l)
	if err != nil {
		t.Fatal(err)
	}
	m.update(d)
	if _, body := do(m, app1, "GET", path); body != "sg-app\nsg-web" {
		t.Errorf("after: %q", body)
	}
}
