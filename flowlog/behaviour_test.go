package flowlog_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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

// tcp-flags as AWS's records show them: SYN 2, SYN-ACK 18, only ACKs 0, a
// short connection 3 (client) and 19 (server), SYN and RST 6, URG 32.
func TestTCPFlags(t *testing.T) {
	fields := "interface-id srcport dstport start tcp-flags packets"
	r := newRig(t, "  - {id: fl, vpc: vpc-1, max_aggregation_interval: 60, destination: DIR, log_format: \""+dollars(fields)+"\"}\n", flowlog.Options{})
	s := time.Second
	send := func(spec packet.Spec, d time.Duration) {
		t.Helper()
		if v := r.send(spec, at(d)); !v.Allowed {
			t.Fatalf("%d→%d flags %#x denied at %v", spec.SrcPort, spec.DstPort, spec.TCPFlags, v.Stage)
		}
	}
	// A short connection, all in interval 0.
	send(tcp(web, db, 41000, 5432, syn, 0), 1*s)
	send(tcp(db, web, 5432, 41000, synAck, 0), 1*s)
	send(tcp(web, db, 41000, 5432, ack, 0), 1*s)
	send(tcp(web, db, 41000, 5432, psh|ack, 200), 2*s)
	send(tcp(db, web, 5432, 41000, psh|ack, 900), 2*s)
	send(tcp(web, db, 41000, 5432, fin|ack, 0), 3*s)
	send(tcp(db, web, 5432, 41000, fin|ack, 0), 3*s)
	send(tcp(web, db, 41000, 5432, ack, 0), 3*s)
	// A connection set up in interval 0 that only sends data in interval
	// 1, one segment urgent.
	send(tcp(web, db, 41001, 5432, syn, 0), 4*s)
	send(tcp(db, web, 5432, 41001, synAck, 0), 4*s)
	send(tcp(web, db, 41001, 5432, ack, 0), 4*s)
	send(tcp(web, db, 41001, 5432, psh|ack, 100), 61*s)
	send(tcp(db, web, 5432, 41001, ack, 0), 61*s)
	send(tcp(web, db, 41001, 5432, urg|ack, 1), 62*s)
	// A SYN answered by a reset.
	send(tcp(web, db, 41002, 5432, syn, 0), 5*s)
	send(tcp(db, web, 5432, 41002, rst|ack, 0), 5*s)
	send(tcp(web, db, 41002, 5432, rst, 0), 6*s)
	if err := r.lg.Close(at(90 * s)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, strings.Fields(fields), false)
	for _, w := range []struct {
		eni, sport string
		start      time.Duration
		flags      string
	}{
		{"eni-web", "41000", 1 * s, "11"},  // SYN, PSH, FIN
		{"eni-db", "5432", 1 * s, "27"},    // SYN-ACK, PSH, FIN
		{"eni-web", "41001", 4 * s, "2"},   // SYN
		{"eni-db", "5432", 4 * s, "18"},    // SYN-ACK
		{"eni-web", "41001", 61 * s, "40"}, // ACK, PSH and one URG: PSH 8 + URG 32
		{"eni-db", "5432", 61 * s, "0"},    // only ACKs
		{"eni-web", "41002", 5 * s, "6"},   // SYN, RST
		{"eni-db", "5432", 5 * s, "4"},     // RST-ACK
	} {
		// Each packet is logged on both interfaces: the sender's and the
		// receiver's record agree.
		for _, eni := range []string{"eni-web", "eni-db"} {
			check(t, one(t, recs, "interface-id", eni, "srcport", w.sport, "start", sec(w.start)), "tcp-flags", w.flags)
		}
	}
}

// The interfaces each verdict logs, for every stage that can decide.
func TestAttribution(t *testing.T) {
	fields := "interface-id flow-direction action"
	flowLogs := "  - {id: fl, vpc: vpc-1, max_aggregation_interval: 60, destination: DIR, log_format: \"" + dollars(fields) + "\"}\n"
	var p packet.Parsed
	spec := tcp(web, db, 40000, 5432, syn, 0)
	if r := p.Decode(spec.Append(nil)); r != packet.OK {
		t.Fatal(r)
	}
	for _, c := range []struct {
		name string
		v    verdict.Verdict
		want string // sorted records, "eni dir action", joined by ", "
	}{
		{"delivered", verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, Code: verdict.CodeSGRuleMatch},
			"eni-db ingress ACCEPT, eni-web egress ACCEPT"},
		{"src-dst-check", verdict.Verdict{Stage: verdict.StageSrcDstCheck, ENI: "eni-web"}, "eni-web egress REJECT"},
		{"sg-egress", verdict.Verdict{Stage: verdict.StageSGEgress, ENI: "eni-web"}, "eni-web egress REJECT"},
		{"nacl-egress", verdict.Verdict{Stage: verdict.StageNACLEgress}, "eni-web egress REJECT"},
		{"route", verdict.Verdict{Stage: verdict.StageRoute, Code: verdict.CodeTTLExceeded}, "eni-web egress REJECT"},
		{"sender's allowance", verdict.Verdict{Stage: verdict.StageConntrackAllowance, ENI: "eni-web"}, "eni-web egress REJECT"},
		{"receiver's allowance", verdict.Verdict{Stage: verdict.StageConntrackAllowance, ENI: "eni-db"},
			"eni-db ingress REJECT, eni-web egress ACCEPT"},
		{"nacl-ingress", verdict.Verdict{Stage: verdict.StageNACLIngress}, "eni-db ingress REJECT, eni-web egress ACCEPT"},
		{"sg-ingress", verdict.Verdict{Stage: verdict.StageSGIngress, ENI: "eni-db"}, "eni-db ingress REJECT, eni-web egress ACCEPT"},
		{"parse", verdict.Verdict{Stage: verdict.StageParse, Code: verdict.CodeMalformed}, ""},
		{"exempt", verdict.Verdict{Allowed: true, Stage: verdict.StageExempt, Code: verdict.CodeExempt}, ""},
		{"from the internet", verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, From: verdict.PortInternet},
			"eni-db ingress ACCEPT"},
		{"to the internet", verdict.Verdict{Allowed: true, Stage: verdict.StageNACLEgress, To: verdict.PortInternet},
			"eni-web egress ACCEPT"},
		{"to the services", verdict.Verdict{Allowed: true, Stage: verdict.StageExempt, Code: verdict.CodeExempt, To: verdict.PortService}, ""},
		{"to itself", verdict.Verdict{Allowed: true, Stage: verdict.StageSGIngress, To: -100}, "eni-web egress ACCEPT, eni-web ingress ACCEPT"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, flowLogs, flowlog.Options{})
			pw, _ := r.e.Port("eni-web")
			pd, _ := r.e.Port("eni-db")
			v := c.v
			if v.From == 0 {
				v.From = pw
			}
			switch v.To {
			case 0:
				v.To = pd
			case -100:
				v.To = pw
			}
			sh := r.lg.Shard(0)
			sh.Begin()
			sh.Observe(&v, &p, 40, 1, at(time.Second))
			sh.End()
			if err := r.lg.Close(at(2 * time.Second)); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, rec := range allRecords(t, r.dir, strings.Fields(fields), false) {
				if rec["action"] != "-" { // not NODATA
					got = append(got, rec["interface-id"]+" "+rec["flow-direction"]+" "+rec["action"])
				}
			}
			sort.Strings(got)
			if s := strings.Join(got, ", "); s != c.want {
				t.Errorf("records %q, want %q", s, c.want)
			}
		})
	}
}

// A GSO super-packet counts as the packets it stands for.
func TestSuperPacket(t *testing.T) {
	r := newRig(t, "  - {id: fl, eni: eni-web, max_aggregation_interval: 60, destination: DIR}\n", flowlog.Options{})
	r.sendOn(0, tcp(web, db, 40000, 5432, syn, 0), at(time.Second), 1)
	r.sendOn(0, tcp(web, db, 40000, 5432, ack, 8948), at(2*time.Second), 7)
	if err := r.lg.Close(at(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	check(t, one(t, allRecords(t, r.dir, defaultFields, false), "interface-id", "eni-web"),
		"packets", "8", "bytes", strconv.Itoa(40+40+8948))
}

// A 600s flow log sums a flow over ten minutes (first and last packet of
// the interval); the file holding a record is that of its end time's
// 5-minute period.
func TestTenMinuteInterval(t *testing.T) {
	r := newRig(t, "  - {id: fl-10, eni: eni-web, destination: DIR}\n", flowlog.Options{})
	s := time.Second
	r.send(tcp(web, db, 40000, 5432, syn, 0), at(30*s))
	r.send(tcp(web, db, 40000, 5432, ack, 0), at(250*s))
	r.send(tcp(web, db, 40000, 5432, fin|ack, 0), at(400*s))
	r.send(tcp(web, db, 40001, 5432, syn, 0), at(100*s))
	for _, d := range []time.Duration{0, 10 * s, 301 * s, 601 * s} {
		if err := r.lg.Tick(at(d)); err != nil {
			t.Fatal(err)
		}
	}
	if recs := allRecords(t, r.dir, defaultFields, false); len(recs) != 0 {
		t.Fatalf("records before the interval ended:\n%s", dump(recs))
	}
	if err := r.lg.Tick(at(602 * s)); err != nil {
		t.Fatal(err)
	}
	files := readLogs(t, r.dir, defaultFields, false)
	byPeriod := map[string][]map[string]string{}
	for _, f := range files {
		period := strings.Split(f.name, "_")[4]
		byPeriod[period] = append(byPeriod[period], f.records...)
	}
	check(t, one(t, byPeriod["20180620T1625Z"], "srcport", "40000"),
		"packets", "3", "bytes", "120", "start", sec(30*s), "end", sec(400*s), "log-status", "OK")
	check(t, one(t, byPeriod["20180620T1620Z"], "srcport", "40001"),
		"packets", "1", "start", sec(100*s), "end", sec(100*s))
	if len(files) != 2 || len(byPeriod["20180620T1625Z"]) != 1 || len(byPeriod["20180620T1620Z"]) != 1 {
		t.Errorf("files %+v", files)
	}
}

// Close writes the records of the interval still open: nothing observed is
// lost.
func TestCloseFlushes(t *testing.T) {
	r := newRig(t, strings.Replace(vpcLog60, "DIR", "DIR/one", 1)+"  - {id: fl-10, vpc: vpc-1, destination: DIR/ten}\n", flowlog.Options{})
	r.send(tcp(web, db, 40000, 5432, syn, 0), at(5*time.Second))
	r.send(tcp(web, db, 40000, 5432, ack, 0), at(130*time.Second))
	if err := r.lg.Tick(at(125 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := r.lg.Close(at(131 * time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(r.dir, "one"), filepath.Join(r.dir, "ten")} {
		var packets int
		for _, rec := range find(allRecords(t, dir, defaultFields, false), "log-status", "OK") {
			n, _ := strconv.Atoi(rec["packets"])
			packets += n
		}
		if packets != 4 { // two packets, each on both interfaces
			t.Errorf("%s: %d packets logged, want 4", dir, packets)
		}
	}
	if err := r.lg.Close(at(140 * time.Second)); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := r.lg.Tick(at(140 * time.Second)); err == nil {
		t.Error("Tick after Close: no error")
	}
}

// A packet collected after its interval was written gives a late record.
func TestLateRecord(t *testing.T) {
	r := newRig(t, "  - {id: fl, eni: eni-web, max_aggregation_interval: 60, destination: DIR}\n", flowlog.Options{})
	r.send(tcp(web, db, 40000, 5432, syn, 0), at(10*time.Second))
	if err := r.lg.Tick(at(65 * time.Second)); err != nil {
		t.Fatal(err)
	}
	r.send(tcp(web, db, 40001, 5432, syn, 0), at(59*time.Second)) // judged before t0+60s, collected after
	if err := r.lg.Close(at(66 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, defaultFields, false)
	check(t, one(t, recs, "srcport", "40001"), "start", sec(59*time.Second), "log-status", "OK")
	if st := r.lg.Stats(); st.Late != 1 {
		t.Errorf("stats %+v, want 1 late", st)
	}
}

// Flow logs created and deleted while running: a deleted one writes what
// it has and stops, a created one starts with the next interval, an
// unchanged one goes on.
func TestReconfigure(t *testing.T) {
	dir := t.TempDir()
	keep := "  - {id: fl-keep, vpc: vpc-1, max_aggregation_interval: 60, destination: DIR/keep}\n"
	l1 := newLab(t, keep+"  - {id: fl-old, eni: eni-web, max_aggregation_interval: 60, destination: DIR/old}\n", dir)
	l2 := newLab(t, keep+"  - {id: fl-new, eni: eni-db, max_aggregation_interval: 60, destination: DIR/new}\n", dir)
	e := dataplane.New(l1)
	lg, err := flowlog.New(l1, e.Port, flowlog.Options{Epoch: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, l: l1, e: e, lg: lg, dir: dir}
	r.send(tcp(web, db, 40000, 5432, syn, 0), at(10*time.Second))
	if err := lg.Tick(at(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	e.Apply(l2, at(30*time.Second))
	if err := lg.Reconfigure(l2); err != nil {
		t.Fatal(err)
	}
	r.send(tcp(web, db, 40001, 5432, syn, 0), at(40*time.Second))
	// A format error leaves the flow logs as they were.
	bad := *l2
	bad.FlowLogs = []*lab.FlowLog{{ID: "fl-bad", ResourceType: lab.FlowLogVPC, ResourceID: "vpc-1", TrafficType: "ALL",
		MaxAggregationInterval: time.Minute, LogFormat: "${nope}", Destination: dir, Line: 7}}
	if err := lg.Reconfigure(&bad); err == nil || !strings.Contains(err.Error(), "test.yaml:7: flow log fl-bad: log format: unknown field ${nope}") {
		t.Errorf("Reconfigure with a bad format: %v", err)
	}
	r.send(tcp(web, db, 40002, 5432, syn, 0), at(70*time.Second))
	if err := lg.Close(at(80 * time.Second)); err != nil {
		t.Fatal(err)
	}
	ports := func(sub string) string {
		var out []string
		for _, rec := range find(allRecords(t, filepath.Join(dir, sub), defaultFields, false), "log-status", "OK") {
			out = append(out, rec["interface-id"]+":"+rec["srcport"])
		}
		sort.Strings(out)
		return strings.Join(out, " ")
	}
	for sub, want := range map[string]string{
		"keep": "eni-db:40000 eni-db:40001 eni-db:40002 eni-web:40000 eni-web:40001 eni-web:40002",
		"old":  "eni-web:40000",
		"new":  "eni-db:40002",
	} {
		if got := ports(sub); got != want {
			t.Errorf("%s: records %q, want %q", sub, got, want)
		}
	}
	if err := lg.Reconfigure(l2); err == nil {
		t.Error("Reconfigure after Close: no error")
	}
}

// Files rotate by size, each with AWS's header line, under distinct
// names; the same traffic gives the same files whatever the shards and
// Tick calls, so a replay writes the same bytes every time.
func TestFilesDeterministic(t *testing.T) {
	traffic := func(r *rig, shards int, tick time.Duration) {
		n := 0
		next := tick
		for i := range 300 {
			d := time.Duration(i) * 700 * time.Millisecond
			for d >= next {
				if err := r.lg.Tick(at(next)); err != nil {
					t.Fatal(err)
				}
				next += tick
			}
			sport := uint16(40000 + i%37)
			r.sendOn(n%shards, tcp(web, db, sport, 5432, syn, i%5), at(d), 1)
			n++
			r.sendOn(n%shards, tcp(db, web, 5432, sport, synAck, 0), at(d), 1)
			n++
		}
		if err := r.lg.Close(at(300 * 700 * time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	o := flowlog.Options{Header: true, MaxFileBytes: 2000, Shards: 3}
	r1 := newRig(t, vpcLog60, o)
	traffic(r1, 1, 10*time.Second)
	r2 := newRig(t, vpcLog60, o)
	traffic(r2, 3, 7*time.Second)

	files1 := readLogs(t, r1.dir, defaultFields, true)
	if len(files1) < 3 {
		t.Fatalf("%d files: no rotation", len(files1))
	}
	for _, f := range files1 {
		if f.header != strings.Join(defaultFields, " ") {
			t.Errorf("%s: header %q", f.name, f.header)
		}
		if fi, err := os.Stat(f.path); err != nil || fi.Size() > 2000 {
			t.Errorf("%s: %v bytes, more than MaxFileBytes", f.name, fi.Size())
		}
	}
	if a, b := tree(t, r1.dir), tree(t, r2.dir); a != b {
		t.Errorf("the same traffic gave different files:\n%s\n---\n%s", a, b)
	}
}

// tree returns every file under dir, with its path and contents.
func tree(t *testing.T, dir string) string {
	var b bytes.Buffer
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		data, err := os.ReadFile(path)
		fmt.Fprintf(&b, "== %s\n%s", rel, data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// IPv6 traffic shows the packet's addresses and type IPv6. IPv4 traffic
// to a secondary address shows the primary address in dstaddr and the
// packet's in pkt-dstaddr (AWS's flow log limitations).
func TestAddresses(t *testing.T) {
	dir := t.TempDir()
	fields := "interface-id type srcaddr dstaddr pkt-srcaddr pkt-dstaddr flow-direction traffic-path"
	src := `
vpc: {id: vpc-6, cidr: 10.0.0.0/16, ipv6_cidr: "2600:1f18:aa:bb00::/56"}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:aa:bb01::/64"}
instances:
  - {name: a1, subnet: subnet-a, ip: 10.0.1.10, ipv6: ["2600:1f18:aa:bb01::10"]}
  - {name: a2, subnet: subnet-a, ip: 10.0.1.11, secondary_ips: [10.0.1.12], ipv6: ["2600:1f18:aa:bb01::11"]}
flow_logs:
  - {id: fl, vpc: vpc-6, destination: ` + dir + `, log_format: "` + dollars(fields) + `"}
`
	l, err := labfile.Parse("v6.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e := dataplane.New(l)
	lg, err := flowlog.New(l, e.Port, flowlog.Options{Epoch: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, l: l, e: e, lg: lg, dir: dir}
	a16 := netip.MustParseAddr("2600:1f18:aa:bb01::10")
	a26 := netip.MustParseAddr("2600:1f18:aa:bb01::11")
	if v := r.send(tcp(a16, a26, 40000, 22, syn, 0), at(time.Second)); !v.Allowed {
		t.Fatalf("IPv6 denied at %v", v.Stage)
	}
	if v := r.send(tcp(netip.MustParseAddr("10.0.1.10"), netip.MustParseAddr("10.0.1.12"), 40000, 22, syn, 0), at(time.Second)); !v.Allowed {
		t.Fatalf("to the secondary address: denied at %v", v.Stage)
	}
	if err := lg.Close(at(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, dir, strings.Fields(fields), false)
	check(t, one(t, recs, "interface-id", "eni-a1", "type", "IPv6"),
		"srcaddr", "2600:1f18:aa:bb01::10", "dstaddr", "2600:1f18:aa:bb01::11", "flow-direction", "egress", "traffic-path", "1")
	check(t, one(t, recs, "interface-id", "eni-a2", "type", "IPv6"),
		"srcaddr", "2600:1f18:aa:bb01::10", "dstaddr", "2600:1f18:aa:bb01::11", "flow-direction", "ingress", "traffic-path", "-")
	check(t, one(t, recs, "interface-id", "eni-a2", "type", "IPv4"),
		"srcaddr", "10.0.1.10", "dstaddr", "10.0.1.11", "pkt-srcaddr", "10.0.1.10", "pkt-dstaddr", "10.0.1.12")
}
