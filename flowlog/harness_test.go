package flowlog_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// The test VPC:
//
//	internet 203.0.113.12 ── IGW ── subnet-web 10.0.1.0/24 (public, acl-web)
//	                                   web 10.0.1.10 (eni-web, sg-web)
//	                                subnet-db 10.0.2.0/24 (acl-db)
//	                                   db 10.0.2.10 (eni-db, sg-db)
//
// acl-web lets ICMP in but not out (AWS's flow log example); acl-db lets
// TCP 5432 and 22 in from subnet-web and the ephemeral ports out. sg-db
// lets 5432 in from sg-web, not 22.
const labSrc = `
vpc: {id: vpc-1, cidr: 10.0.0.0/16, account_id: "123456789010", region: eu-west-1}
subnets:
  - {id: subnet-web, cidr: 10.0.1.0/24, public: true, network_acl: acl-web, availability_zone: eu-west-1a, az_id: euw1-az3}
  - {id: subnet-db, cidr: 10.0.2.0/24, network_acl: acl-db, availability_zone: eu-west-1b, az_id: euw1-az1}
network_acls:
  - id: acl-web
    ingress:
      - {rule: 100, action: allow, protocol: icmp, cidr: 0.0.0.0/0}
      - {rule: 110, action: allow, protocol: tcp, cidr: 10.0.0.0/16}
    egress:
      - {rule: 100, action: allow, protocol: tcp, cidr: 10.0.0.0/16}
  - id: acl-db
    ingress:
      - {rule: 100, action: allow, protocol: tcp, ports: 5432, cidr: 10.0.1.0/24}
      - {rule: 110, action: allow, protocol: tcp, ports: 22, cidr: 10.0.1.0/24}
    egress:
      - {rule: 100, action: allow, protocol: tcp, ports: 32768-60999, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-web
    ingress:
      - {protocol: icmp, cidr: 0.0.0.0/0}
  - id: sg-db
    ingress:
      - {protocol: tcp, ports: 5432, group: sg-web}
instances:
  - {name: web, subnet: subnet-web, ip: 10.0.1.10, security_groups: [sg-web]}
  - {name: db, subnet: subnet-db, ip: 10.0.2.10, security_groups: [sg-db]}
internet:
  hosts: [203.0.113.12]
`

var (
	web  = netip.MustParseAddr("10.0.1.10")
	db   = netip.MustParseAddr("10.0.2.10")
	host = netip.MustParseAddr("203.0.113.12")
	dns  = netip.MustParseAddr("10.0.0.2")
)

// t0 is 2018-06-20 16:20:00 UTC, on a minute and a 5-minute boundary.
var t0 = time.Date(2018, 6, 20, 16, 20, 0, 0, time.UTC)

// at returns the packets' clock (Unix nanoseconds) d after t0.
func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

// sec returns the Unix seconds of d after t0, as records show them.
func sec(d time.Duration) string { return fmt.Sprint(t0.Add(d).Unix()) }

// flowLogsYAML is the flow_logs section of a test lab; DIR is replaced by
// the test's directory.
func newLab(t testing.TB, flowLogs, dir string) *lab.Lab {
	t.Helper()
	src := labSrc + "flow_logs:\n" + strings.ReplaceAll(flowLogs, "DIR", dir)
	l, err := labfile.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// rig is a lab, its dataplane and a Logger on it.
type rig struct {
	t   testing.TB
	l   *lab.Lab
	e   *dataplane.Engine
	lg  *flowlog.Logger
	dir string
	v   verdict.Verdict
	p   packet.Parsed
}

func newRig(t testing.TB, flowLogs string, o flowlog.Options) *rig {
	t.Helper()
	dir := t.TempDir()
	l := newLab(t, flowLogs, dir)
	e := dataplane.New(l)
	o.Epoch = time.Unix(0, 0)
	lg, err := flowlog.New(l, e.Port, o)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, l: l, e: e, lg: lg, dir: dir}
}

// send judges one packet at time now and observes it on shard 0, as one
// batch; it returns the verdict.
func (r *rig) send(s packet.Spec, now int64) verdict.Verdict {
	return r.sendOn(0, s, now, 1)
}

func (r *rig) sendOn(shard int, s packet.Spec, now int64, packets uint64) verdict.Verdict {
	r.t.Helper()
	b := s.Append(nil)
	r.e.ProcessParsed(r.e.SourcePort(s.Src), b, now, &r.v, &r.p)
	sh := r.lg.Shard(shard)
	sh.Begin()
	sh.Observe(&r.v, &r.p, len(b), packets, now)
	sh.End()
	return r.v
}

func tcp(src, dst netip.Addr, sport, dport uint16, flags uint8, payload int) packet.Spec {
	return packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoTCP, SrcPort: sport, DstPort: dport, TCPFlags: flags, Payload: payload}
}

func udp(src, dst netip.Addr, sport, dport uint16, payload int) packet.Spec {
	return packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoUDP, SrcPort: sport, DstPort: dport, Payload: payload}
}

func ping(src, dst netip.Addr, typ uint8, id uint16) packet.Spec {
	return packet.Spec{Src: src, Dst: dst, Proto: packet.ProtoICMP, ICMPType: typ, ICMPID: id, Payload: 56}
}

// The documented field order of the default format (AWS's table), written
// out here rather than taken from the package, so that the test reads the
// files independently of the writer.
var defaultFields = strings.Fields("version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status")

// logFile is one log file as read back.
type logFile struct {
	path    string
	name    string
	header  string
	records []map[string]string
}

// readLogs reads every log file under dir, splitting each line on single
// spaces into fields, named in order. With header, the first line of each
// file must be the field names.
func readLogs(t testing.TB, dir string, fields []string, header bool) []logFile {
	t.Helper()
	var files []logFile
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		lf := logFile{path: path, name: d.Name()}
		sc := bufio.NewScanner(f)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first && header {
				lf.header, first = line, false
				continue
			}
			first = false
			vals := strings.Split(line, " ")
			if len(vals) != len(fields) {
				t.Fatalf("%s: %q has %d fields, want %d", path, line, len(vals), len(fields))
			}
			rec := map[string]string{}
			for i, name := range fields {
				if vals[i] == "" {
					t.Fatalf("%s: %q: empty field %s", path, line, name)
				}
				rec[name] = vals[i]
			}
			lf.records = append(lf.records, rec)
		}
		files = append(files, lf)
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// allRecords returns every record under dir.
func allRecords(t testing.TB, dir string, fields []string, header bool) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, f := range readLogs(t, dir, fields, header) {
		out = append(out, f.records...)
	}
	return out
}

// find returns the records whose fields have the given values (pairs of
// name, value).
func find(recs []map[string]string, kv ...string) []map[string]string {
	var out []map[string]string
next:
	for _, r := range recs {
		for i := 0; i < len(kv); i += 2 {
			if r[kv[i]] != kv[i+1] {
				continue next
			}
		}
		out = append(out, r)
	}
	return out
}

// one returns the only record matching kv, failing otherwise.
func one(t testing.TB, recs []map[string]string, kv ...string) map[string]string {
	t.Helper()
	m := find(recs, kv...)
	if len(m) != 1 {
		t.Fatalf("%d records match %v, want 1; records:\n%s", len(m), kv, dump(recs))
	}
	return m[0]
}

// check compares a record's fields with want (pairs of name, value).
func check(t testing.TB, r map[string]string, want ...string) {
	t.Helper()
	for i := 0; i < len(want); i += 2 {
		if got := r[want[i]]; got != want[i+1] {
			t.Errorf("record %v: %s = %q, want %q", r, want[i], got, want[i+1])
		}
	}
}

func dump(recs []map[string]string) string {
	var lines []string
	for _, r := range recs {
		var kv []string
		for k, v := range r {
			kv = append(kv, k+"="+v)
		}
		slices.Sort(kv)
		lines = append(lines, strings.Join(kv, " "))
	}
	return strings.Join(lines, "\n")
}
