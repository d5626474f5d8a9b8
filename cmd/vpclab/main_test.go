package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/vpclab/vpclab/explain"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/replay"
)

// vpclab runs the command line in-process and returns its exit status,
// stdout and stderr.
func vpclab(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// want checks an exit status and that stdout and stderr contain the given
// strings.
func want(t *testing.T, args []string, code int, inStdout, inStderr []string) string {
	t.Helper()
	got, out, errs := vpclab(t, args...)
	if got != code {
		t.Errorf("vpclab %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out, errs)
	}
	for _, s := range inStdout {
		if !strings.Contains(out, s) {
			t.Errorf("vpclab %s: stdout lacks %q:\n%s", strings.Join(args, " "), s, out)
		}
	}
	for _, s := range inStderr {
		if !strings.Contains(errs, s) {
			t.Errorf("vpclab %s: stderr lacks %q:\n%s", strings.Join(args, " "), s, errs)
		}
	}
	return out
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"example", "explain", "test", "replay", "version"} {
		want(t, []string{cmd, "--help"}, 0, []string{"Usage:", "vpclab " + cmd, "Examples:", "-h, --help"}, nil)
	}
	want(t, []string{"--help"}, 0, []string{"explain", "replay", "test", "example", "version", "Examples:"}, nil)
	want(t, []string{"explain", "--help"}, 0, []string{"--from", "--to", "--proto", "--dport", "--sport", "--family", "--type", "--code", "--lab", "-o, --output"}, nil)
	want(t, []string{"replay", "--help"}, 0, []string{"--verdicts", "--write-allowed", "--lab", "-o, --output"}, nil)
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"nosuch"},
		{"explain", "--nosuch"},
		{"explain", "--to", "app1", "--dport", "80"},                      // no --from
		{"explain", "--from", "web1", "--to", "app1"},                     // tcp without --dport
		{"explain", "--from", "web1", "--to", "app1", "--dport", "x"},     // not a number
		{"explain", "--from", "web1", "--to", "app1", "--dport", "70000"}, // out of range
		{"explain", "--from", "web1", "--to", "app1", "--proto", "gre"},   // unknown protocol
		{"explain", "--from", "web1", "--to", "app1", "--proto", "icmp", "--dport", "80"},
		{"explain", "--from", "web1", "--to", "app1", "--dport", "80", "--type", "3"},
		{"explain", "--from", "web1", "--to", "app1", "--dport", "80", "--family", "5"},
		{"explain", "--from", "web1", "--to", "app1", "--dport", "80", "-o", "yaml"},
		{"explain", "extra", "--from", "web1", "--to", "app1", "--dport", "80"},
		{"test"},
		{"replay"},
		{"replay", "a.pcap", "b.pcap"},
		{"example", "extra"},
		{"version", "-o", "xml"},
	} {
		want(t, args, 2, nil, []string{"Run 'vpclab", "--help' for usage."})
	}
}

func TestExample(t *testing.T) {
	out := want(t, []string{"example"}, 0, nil, nil)
	if out != string(labfile.Example()) {
		t.Errorf("example printed something else than labfile.Example()")
	}
}

func TestExplain(t *testing.T) {
	want(t, []string{"explain", "--from", "web1", "--to", "app1", "--proto", "tcp", "--dport", "8080"}, 0,
		[]string{"request  web1 (eni-web1) → app1 (eni-app1)", "ALLOWED: delivered to eni-app1", "conntrack entry on eni-app1"}, nil)
	want(t, []string{"explain", "--from", "web1", "--to", "db1", "--dport", "5432"}, 0,
		[]string{"DENIED at nacl-ingress: acl-db rule 32767 (the implicit deny) — SUBNET_ACL_RESTRICTION"}, nil)

	out := want(t, []string{"explain", "--from", "203.0.113.5", "--to", "web1", "--proto", "icmp", "--type", "8", "--code", "0", "-o", "json"}, 0, nil, nil)
	var r explain.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if !r.Request.Allowed || r.Reply == nil || !r.Reply.Allowed || *r.Request.Packet.ICMPType != 8 {
		t.Errorf("-o json: %s", out)
	}

	// Failures: exit 1, the problem on stderr.
	want(t, []string{"explain", "--from", "nosuch", "--to", "app1", "--dport", "80"}, 1, nil, []string{`"nosuch" is not an instance`})
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("vpc: {id: vpc-x, cidr: 10.0.0.0/16}\nsubnets:\n  - {id: s, cidr: 10.9.0.0/24}\n"), 0o644)
	want(t, []string{"explain", "--lab", bad, "--from", "web1", "--to", "app1", "--dport", "80"}, 1, nil,
		[]string{bad + ":3:", "subnets[s].cidr"})
	want(t, []string{"explain", "--lab", filepath.Join(dir, "missing.yaml"), "--from", "a", "--to", "b", "--dport", "1"}, 1, nil,
		[]string{"missing.yaml", "no such file"})
}

// writeLab writes the example lab to dir and returns its path.
func writeLab(t *testing.T, dir string) string {
	path := filepath.Join(dir, "lab.yaml")
	if err := os.WriteFile(path, labfile.Example(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPolicyTests(t *testing.T) {
	dir := t.TempDir()
	writeLab(t, dir)
	pass := filepath.Join(dir, "pass.yaml")
	os.WriteFile(pass, []byte(`lab: lab.yaml
steps:
  - name: web-to-app
    send: {from: web1, to: app1, proto: tcp, sport: 40000, dport: 8080, flags: S}
    expect: allow
  - send: {reply: web-to-app, flags: SA}
    expect: allow
    by: conntrack
  - send: {from: web1, to: db1, proto: tcp, sport: 40001, dport: 5432, flags: S}
    expect: deny
    by: nacl-ingress
    rule: 32767
`), 0o644)
	fail := filepath.Join(dir, "fail.yaml")
	os.WriteFile(fail, []byte(`lab: lab.yaml
steps:
  - send: {from: web1, to: db1, proto: tcp, sport: 40001, dport: 5432, flags: S}
    expect: allow
`), 0o644)
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("lab: lab.yaml\nsteps:\n  - send: {from: web1}\n    expect: maybe\n"), 0o644)

	want(t, []string{"test", pass}, 0, []string{"3 passed, 0 failed"}, nil)
	want(t, []string{"test", pass, fail}, 1, []string{pass + "\n", fail + "\n", "3 passed, 0 failed", "0 passed, 1 failed", "total: 2 files, 3 passed, 1 failed\n"}, nil)
	want(t, []string{"test", broken}, 1, nil, []string{broken + ":"})
	want(t, []string{"test", filepath.Join(dir, "missing.yaml")}, 1, nil, []string{"missing.yaml"})
}

func TestReplay(t *testing.T) {
	dir := t.TempDir()
	labPath := writeLab(t, dir)
	capture := filepath.Join(dir, "in.pcap")
	writeCapture(t, capture)
	verdicts, allowed := filepath.Join(dir, "v.jsonl"), filepath.Join(dir, "allowed.pcap")

	want(t, []string{"replay", "--lab", labPath, capture}, 0,
		[]string{"capture " + capture, "packets", "allowed", "SUBNET_ACL_RESTRICTION", "ethertype 0x0806 (ARP)"}, nil)

	out := want(t, []string{"replay", "--lab", labPath, capture, "-o", "json", "--verdicts", verdicts, "--write-allowed", allowed}, 0, nil, nil)
	var sum map[string]any
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	for k, v := range map[string]float64{"frames": 4, "packets": 3, "allowed": 2, "denied": 1, "skipped": 1} {
		if sum[k] != v {
			t.Errorf("%s = %v, want %v", k, sum[k], v)
		}
	}
	for _, k := range []string{"seconds", "pps", "wall_seconds", "denied_by_stage", "denied_by_code", "parse_drops", "skipped_by"} {
		if _, ok := sum[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	if sum["cores"] != 1.0 {
		t.Errorf("cores = %v, want 1", sum["cores"])
	}
	if r, _ := sum["reader_pps"].(float64); r <= 0 {
		t.Errorf("reader_pps = %v, want a rate", sum["reader_pps"])
	}
	if r, pps, ratio := sum["reader_pps"].(float64), sum["pps"].(float64), sum["reader_ratio"].(float64); ratio <= 0 || math.Abs(ratio-pps/r) > 0.001 {
		t.Errorf("reader_ratio = %v, want pps / reader_pps = %v", ratio, pps/r)
	}

	// Two cores: the same counts, the summary only.
	out = want(t, []string{"replay", "--lab", labPath, capture, "-o", "json", "--cores", "2"}, 0, nil, nil)
	var sum2 map[string]any
	if err := json.Unmarshal([]byte(out), &sum2); err != nil {
		t.Fatalf("--cores 2 -o json: %v\n%s", err, out)
	}
	for _, k := range []string{"frames", "packets", "allowed", "denied", "skipped"} {
		if sum2[k] != sum[k] {
			t.Errorf("--cores 2: %s = %v, one core %v", k, sum2[k], sum[k])
		}
	}
	if sum2["cores"] != 2.0 {
		t.Errorf("--cores 2: cores = %v", sum2["cores"])
	}
	want(t, []string{"replay", "--lab", labPath, capture, "--cores", "2", "--verdicts", verdicts}, 2, nil, []string{"--cores 2 writes the summary only"})
	want(t, []string{"replay", "--lab", labPath, capture}, 0, []string{"reader alone", "on 1 core(s)"}, nil)
	if b, _ := os.ReadFile(verdicts); strings.Count(string(b), "\n") != 3 {
		t.Errorf("verdicts:\n%s", b)
	}
	pkts, err := replay.Packets(allowed)
	if err != nil || len(pkts) != 2 {
		t.Errorf("allowed pcap: %d packets, %v; want 2", len(pkts), err)
	}

	// The built-in lab by default; failures exit 1 naming the file.
	want(t, []string{"replay", capture}, 0, []string{"frames"}, nil)
	want(t, []string{"replay", filepath.Join(dir, "missing.pcap")}, 1, nil, []string{"missing.pcap"})
	junk := filepath.Join(dir, "junk.pcap")
	os.WriteFile(junk, []byte("not a capture, but long enough to have a header"), 0o644)
	want(t, []string{"replay", junk}, 1, nil, []string{junk + ": not a pcap or pcapng capture"})
	want(t, []string{"replay", "--verdicts", filepath.Join(dir, "no", "such", "dir.jsonl"), capture}, 1, nil, []string{"dir.jsonl"})
}

// writeCapture writes an Ethernet pcap against the example lab: a request
// and its reply (allowed), a denied packet and an ARP frame.
func writeCapture(t *testing.T, path string) {
	web1, app1, db1 := netipAddr("10.0.1.10"), netipAddr("10.0.2.10"), netipAddr("10.0.3.10")
	ips := [][]byte{
		(&packet.Spec{Src: web1, Dst: app1, Proto: packet.ProtoTCP, SrcPort: 40000, DstPort: 8080, TCPFlags: packet.TCPSyn}).Append(nil),
		(&packet.Spec{Src: app1, Dst: web1, Proto: packet.ProtoTCP, SrcPort: 8080, DstPort: 40000, TCPFlags: packet.TCPSyn | packet.TCPAck}).Append(nil),
		(&packet.Spec{Src: web1, Dst: db1, Proto: packet.ProtoTCP, SrcPort: 40001, DstPort: 5432, TCPFlags: packet.TCPSyn}).Append(nil),
	}
	var frames [][]byte
	mac := []byte{2, 0, 0, 0, 0, 1}
	for _, ip := range ips {
		buf := gopacket.NewSerializeBuffer()
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{},
			&layers.Ethernet{SrcMAC: mac, DstMAC: mac, EthernetType: layers.EthernetTypeIPv4}, gopacket.Payload(ip))
		frames = append(frames, buf.Bytes())
	}
	buf := gopacket.NewSerializeBuffer()
	gopacket.SerializeLayers(buf, gopacket.SerializeOptions{},
		&layers.Ethernet{SrcMAC: mac, DstMAC: layers.EthernetBroadcast, EthernetType: layers.EthernetTypeARP},
		&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
			SourceHwAddress: mac, SourceProtAddress: web1.AsSlice(), DstHwAddress: make([]byte, 6), DstProtAddress: app1.AsSlice()})
	frames = append(frames, buf.Bytes())

	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(65536, layers.LinkTypeEthernet)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Second), CaptureLength: len(fr), Length: len(fr)}
		if err := w.WritePacket(ci, fr); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVersion(t *testing.T) {
	want(t, []string{"version"}, 0, []string{"vpclab ", "go1."}, nil)
	out := want(t, []string{"version", "-o", "json"}, 0, nil, nil)
	var v versionInfo
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.Version == "" || v.Go == "" || v.Revision == "" {
		t.Errorf("version -o json: %v\n%s", err, out)
	}
	// The key is there even when the build carries no revision (a test
	// binary has no VCS stamp).
	if !strings.Contains(out, `"revision":`) {
		t.Errorf("version -o json has no revision key:\n%s", out)
	}
}

func netipAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestReach(t *testing.T) {
	want(t, []string{"reach", "--help"}, 0, []string{"--from", "--to", "--proto", "--port", "--family", "--assert", "--diff", "-o, --output", "Examples:"}, nil)
	want(t, []string{"reach"}, 0, []string{"from \\ to", "web1 → app1  IPv4", "sg-app ingress #0 (line 65): tcp 8080 from sg-web", "exempt"}, nil)
	want(t, []string{"reach", "--from", "web1", "--to", "db1", "--proto", "tcp", "--port", "5432"}, 0, []string{"no path is open"}, nil)
	out := want(t, []string{"reach", "--from", "app1", "--to", "db1", "-o", "json"}, 0, nil, nil)
	var m struct {
		Paths []struct {
			From, To string
			Flows    []struct {
				Proto string
				Open  []struct{ Lo, Hi int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil || len(m.Paths) != 1 || m.Paths[0].Flows[0].Proto != "tcp" || m.Paths[0].Flows[0].Open[0].Lo != 5432 {
		t.Errorf("reach -o json: %v\n%s", err, out)
	}
	want(t, []string{"reach", "--assert", "../../testdata/reach/example-assert.yaml"}, 0, []string{"7 passed, 0 failed"}, nil)
	want(t, []string{"reach", "--assert", "../../testdata/reach/example-assert.yaml", "--lab", "../../testdata/reach/example-new.yaml"}, 1,
		[]string{"✗", "web1 must not reach db1", "tcp 5432 open", "6 passed, 1 failed"}, nil)
	want(t, []string{"reach", "--diff", "../../lab/labfile/example.yaml", "../../testdata/reach/example-new.yaml"}, 0,
		[]string{"opened:", "+ web1 → db1 IPv4 tcp 5432", "now nacl-ingress: acl-db rule 90", "closed:", "- internet → web1 IPv4 tcp 22", "2 opened"}, nil)
	page := filepath.Join(t.TempDir(), "reach.html")
	want(t, []string{"reach", "-o", "html", page}, 0, []string{"wrote " + page}, nil)
	if b, err := os.ReadFile(page); err != nil || !strings.Contains(string(b), `<script id="data" type="application/json">`) {
		t.Errorf("the page: %v", err)
	}
	for _, c := range []struct {
		args []string
		err  string
	}{
		{[]string{"reach", "-o", "html"}, "-o html takes the page's FILE"},
		{[]string{"reach", "--diff", "a.yaml"}, "--diff takes OLD and NEW"},
		{[]string{"reach", "-o", "xml"}, "the output format is text, json or html"},
		{[]string{"reach", "--port", "70000"}, "--port"},
		{[]string{"reach", "--family", "5"}, "--family 5"},
		{[]string{"reach", "--assert", "x.yaml", "--from", "web1"}, "--assert checks the whole map"},
		{[]string{"reach", "--from", "nosuch"}, `"nosuch" is not an instance`},
	} {
		code := exitUsage
		if strings.Contains(c.err, "nosuch") {
			code = exitFailure
		}
		want(t, c.args, code, nil, []string{c.err})
	}
}

// TestReachImported runs reach, --assert, --diff and -o html on the
// importers' test data: an AWS describe-* directory (imported with --vpc,
// as it holds two VPCs) and a Terraform state read directly.
func TestReachImported(t *testing.T) {
	dir := t.TempDir()
	shop := filepath.Join(dir, "shop.yaml")
	want(t, []string{"import", "aws", "../../importer/aws/testdata/shop", "--vpc", "vpc-0a1b2c3d4e5f60718", "-o", shop}, 0, nil, nil)
	want(t, []string{"reach", "--lab", shop, "--from", "internet"}, 0, []string{"internet → web-server-1  IPv4", "tcp 22"}, nil)
	state := "../../importer/terraform/testdata/webapp.json"
	want(t, []string{"reach", "--lab", state, "--to", "i-0c0c0c0c0c0c0c0c1"}, 0, []string{"app → i-0c0c0c0c0c0c0c0c1  IPv4", "tcp 5432", "sgr-0c0c0c0c0c0c0c0c1"}, nil)
	page := filepath.Join(dir, "webapp.html")
	want(t, []string{"reach", "--lab", state, "-o", "html", page}, 0, []string{"wrote"}, nil)
	want(t, []string{"reach", "--diff", state, state}, 0, []string{"nothing opened", "nothing closed", "0 opened, 0 closed"}, nil)
	want(t, []string{"reach", "--diff", shop, state, "-o", "json"}, 0, []string{`"opened": [`, `"closed": [`}, nil)
	asserts := filepath.Join(dir, "webapp-assert.yaml")
	if err := os.WriteFile(asserts, []byte("expect:\n  - app must reach i-0c0c0c0c0c0c0c0c1 on tcp/5432\n  - internet must not reach i-0c0c0c0c0c0c0c0c1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want(t, []string{"reach", "--lab", state, "--assert", asserts}, 0, []string{"2 passed, 0 failed"}, nil)
}
