package flowlog_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

const (
	syn    = packet.TCPSyn
	ack    = packet.TCPAck
	fin    = packet.TCPFin
	rst    = packet.TCPRst
	psh    = packet.TCPPsh
	urg    = packet.TCPUrg
	synAck = syn | ack
)

const vpcLog60 = "  - {id: fl-vpc, vpc: vpc-1, max_aggregation_interval: 60, destination: DIR}\n"

// A TCP exchange between two interfaces gives four records: each side's
// egress and ingress, with packets, bytes and times as sent.
func TestKnownTraffic(t *testing.T) {
	r := newRig(t, vpcLog60, flowlog.Options{})
	ms := time.Millisecond
	for _, p := range []struct {
		s  packet.Spec
		at time.Duration
	}{
		{tcp(web, db, 40000, 5432, syn, 0), 5 * time.Second},
		{tcp(db, web, 5432, 40000, synAck, 0), 5*time.Second + 100*ms},
		{tcp(web, db, 40000, 5432, ack, 0), 5*time.Second + 200*ms},
		{tcp(web, db, 40000, 5432, psh|ack, 100), 6 * time.Second},
		{tcp(db, web, 5432, 40000, ack, 0), 7*time.Second + 900*ms},
	} {
		if v := r.send(p.s, at(p.at)); !v.Allowed {
			t.Fatalf("%v→%v denied at %v", p.s.Src, p.s.Dst, v.Stage)
		}
	}
	// Not yet: the interval ends at t0+60s, and the grace is 2s.
	if err := r.lg.Tick(at(61 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if recs := allRecords(t, r.dir, defaultFields, false); len(recs) != 0 {
		t.Fatalf("records before the interval closed:\n%s", dump(recs))
	}
	if err := r.lg.Tick(at(62 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, defaultFields, false)
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4:\n%s", len(recs), dump(recs))
	}
	// Requests: 40 + 40 + 140 bytes.
	check(t, one(t, recs, "interface-id", "eni-web", "srcaddr", "10.0.1.10"),
		"version", "2", "account-id", "123456789010", "dstaddr", "10.0.2.10",
		"srcport", "40000", "dstport", "5432", "protocol", "6", "packets", "3", "bytes", "220",
		"start", sec(5*time.Second), "end", sec(6*time.Second), "action", "ACCEPT", "log-status", "OK")
	check(t, one(t, recs, "interface-id", "eni-db", "srcaddr", "10.0.1.10"),
		"dstaddr", "10.0.2.10", "srcport", "40000", "dstport", "5432", "protocol", "6",
		"packets", "3", "bytes", "220", "start", sec(5*time.Second), "end", sec(6*time.Second),
		"action", "ACCEPT", "log-status", "OK")
	// Replies.
	for _, eni := range []string{"eni-db", "eni-web"} {
		check(t, one(t, recs, "interface-id", eni, "srcaddr", "10.0.2.10"),
			"dstaddr", "10.0.1.10", "srcport", "5432", "dstport", "40000", "protocol", "6",
			"packets", "2", "bytes", "80", "start", sec(5*time.Second), "end", sec(7*time.Second),
			"action", "ACCEPT", "log-status", "OK")
	}

	// The file: AWS's S3 layout and name, the whole line as AWS writes it.
	files := readLogs(t, r.dir, defaultFields, false)
	if len(files) != 1 {
		t.Fatalf("%d files, want 1", len(files))
	}
	rel, _ := filepath.Rel(r.dir, files[0].path)
	name := regexp.MustCompile(`^AWSLogs/123456789010/vpcflowlogs/eu-west-1/2018/06/20/123456789010_vpcflowlogs_eu-west-1_fl-vpc_20180620T1620Z_[0-9a-f]{8}\.log$`)
	if !name.MatchString(filepath.ToSlash(rel)) {
		t.Errorf("file %s: not AWS's layout", rel)
	}
	data, err := os.ReadFile(files[0].path)
	if err != nil {
		t.Fatal(err)
	}
	want := "2 123456789010 eni-db 10.0.1.10 10.0.2.10 40000 5432 6 3 220 " + sec(5*time.Second) + " " + sec(6*time.Second) + " ACCEPT OK\n"
	if !strings.Contains(string(data), want) {
		t.Errorf("file lacks %q:\n%s", want, data)
	}
}

// AWS's example: a ping from the internet let in by the NACL and the
// security group, its reply let out by the security group (stateful) but
// dropped by the NACL (stateless): one ACCEPT and one REJECT record, ICMP
// with ports 0.
func TestNACLExample(t *testing.T) {
	r := newRig(t, "  - {id: fl-web, eni: eni-web, max_aggregation_interval: 60, destination: DIR}\n", flowlog.Options{})
	for i := range 4 {
		d := time.Duration(10+i) * time.Second
		if v := r.send(ping(host, web, 8, 7), at(d)); !v.Allowed {
			t.Fatalf("request denied at %v", v.Stage)
		}
		v := r.send(ping(web, host, 0, 7), at(d+time.Millisecond))
		if v.Allowed || v.Stage != verdict.StageNACLEgress {
			t.Fatalf("reply: allowed %v at %v, want denied at nacl-egress", v.Allowed, v.Stage)
		}
	}
	if err := r.lg.Tick(at(2*time.Minute + 2*time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, defaultFields, false)
	// Interval 1 (t0+60s..): NODATA.
	check(t, one(t, recs, "log-status", "NODATA"), "start", sec(time.Minute))
	check(t, one(t, recs, "action", "ACCEPT"),
		"interface-id", "eni-web", "srcaddr", "203.0.113.12", "dstaddr", "10.0.1.10",
		"srcport", "0", "dstport", "0", "protocol", "1", "packets", "4", "bytes", "336",
		"start", sec(10*time.Second), "end", sec(13*time.Second), "log-status", "OK")
	check(t, one(t, recs, "action", "REJECT"),
		"interface-id", "eni-web", "srcaddr", "10.0.1.10", "dstaddr", "203.0.113.12",
		"srcport", "0", "dstport", "0", "protocol", "1", "packets", "4", "bytes", "336",
		"start", sec(10*time.Second), "end", sec(13*time.Second), "log-status", "OK")
	if len(recs) != 3 {
		t.Errorf("%d records, want 3:\n%s", len(recs), dump(recs))
	}
}

// Dropped by the receiver: the sender's egress is ACCEPT, the receiver's
// ingress REJECT. Dropped by the sender: one egress REJECT, nothing on the
// receiver.
func TestRejectAttribution(t *testing.T) {
	r := newRig(t, vpcLog60, flowlog.Options{})
	// sg-db has no rule for 22: the receiver's security group drops it.
	if v := r.send(tcp(web, db, 40001, 22, syn, 0), at(time.Second)); v.Allowed || v.Stage != verdict.StageSGIngress {
		t.Fatalf("to db:22: allowed %v at %v", v.Allowed, v.Stage)
	}
	// acl-db lets nothing but the ephemeral range out: the sender's NACL
	// drops db's packet to web:80.
	if v := r.send(tcp(db, web, 40002, 80, syn, 0), at(2*time.Second)); v.Allowed || v.Stage != verdict.StageNACLEgress {
		t.Fatalf("from db to web:80: allowed %v at %v", v.Allowed, v.Stage)
	}
	if err := r.lg.Close(at(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, defaultFields, false)
	check(t, one(t, recs, "dstport", "22", "interface-id", "eni-web"), "action", "ACCEPT", "srcaddr", "10.0.1.10")
	check(t, one(t, recs, "dstport", "22", "interface-id", "eni-db"), "action", "REJECT", "srcaddr", "10.0.1.10")
	check(t, one(t, recs, "dstport", "80", "interface-id", "eni-db"), "action", "REJECT", "srcaddr", "10.0.2.10")
	if m := find(recs, "dstport", "80", "interface-id", "eni-web"); len(m) != 0 {
		t.Errorf("the receiver logged a packet its sender's NACL dropped:\n%s", dump(m))
	}
	if len(recs) != 3 {
		t.Errorf("%d records, want 3:\n%s", len(recs), dump(recs))
	}
}

// ACCEPT and REJECT flow logs take their share of the same traffic; an
// interface whose traffic is all of the other kind gets no record.
func TestTrafficType(t *testing.T) {
	r := newRig(t, ""+
		"  - {id: fl-acc, vpc: vpc-1, traffic_type: ACCEPT, max_aggregation_interval: 60, destination: DIR/acc}\n"+
		"  - {id: fl-rej, vpc: vpc-1, traffic_type: REJECT, max_aggregation_interval: 60, destination: DIR/rej}\n"+
		"  - {id: fl-all, vpc: vpc-1, max_aggregation_interval: 60, destination: DIR/all}\n",
		flowlog.Options{})
	r.send(tcp(web, db, 40000, 5432, syn, 0), at(time.Second)) // web egress ACCEPT, db ingress ACCEPT
	r.send(tcp(web, db, 40001, 22, syn, 0), at(time.Second))   // web egress ACCEPT, db ingress REJECT
	if err := r.lg.Close(at(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	acc := allRecords(t, filepath.Join(r.dir, "acc"), defaultFields, false)
	rej := allRecords(t, filepath.Join(r.dir, "rej"), defaultFields, false)
	all := allRecords(t, filepath.Join(r.dir, "all"), defaultFields, false)
	if len(acc) != 3 || len(find(acc, "action", "ACCEPT")) != 3 {
		t.Errorf("ACCEPT log:\n%s", dump(acc))
	}
	// web sent only accepted packets: no REJECT record and no NODATA.
	if len(rej) != 1 {
		t.Errorf("REJECT log:\n%s", dump(rej))
	}
	check(t, one(t, rej, "action", "REJECT"), "interface-id", "eni-db", "dstport", "22")
	if len(all) != 4 {
		t.Errorf("ALL log:\n%s", dump(all))
	}
}

// An interface with no traffic in an interval gets a NODATA record with
// the interval's bounds and "-" for the flow's fields.
func TestNoData(t *testing.T) {
	r := newRig(t, vpcLog60, flowlog.Options{})
	// acl-web lets no TCP out of the VPC: an egress REJECT on web.
	r.send(tcp(web, host, 40000, 443, syn, 0), at(70*time.Second))
	if err := r.lg.Tick(at(0)); err != nil { // starts the logs at t0
		t.Fatal(err)
	}
	if err := r.lg.Tick(at(125 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, defaultFields, false)
	// Interval 0: both silent. Interval 1: web sent, db silent.
	for _, w := range []struct {
		eni   string
		start time.Duration
	}{{"eni-web", 0}, {"eni-db", 0}, {"eni-db", time.Minute}} {
		check(t, one(t, recs, "interface-id", w.eni, "start", sec(w.start), "log-status", "NODATA"),
			"version", "2", "account-id", "123456789010", "end", sec(w.start+59*time.Second),
			"srcaddr", "-", "dstaddr", "-", "srcport", "-", "dstport", "-", "protocol", "-",
			"packets", "-", "bytes", "-", "action", "-")
	}
	check(t, one(t, recs, "interface-id", "eni-web", "log-status", "OK"),
		"dstaddr", "203.0.113.12", "dstport", "443", "action", "REJECT", "start", sec(70*time.Second))
	if len(recs) != 4 {
		t.Errorf("%d records, want 4:\n%s", len(recs), dump(recs))
	}
}

// Exempt traffic (the VPC's DNS here) is never logged: the interface shows
// NODATA.
func TestExemptNotLogged(t *testing.T) {
	r := newRig(t, "  - {id: fl-web, eni: eni-web, max_aggregation_interval: 60, destination: DIR}\n", flowlog.Options{})
	if v := r.send(udp(web, dns, 40000, 53, 30), at(time.Second)); !v.Allowed || v.Code != verdict.CodeExempt {
		t.Fatalf("DNS: allowed %v, code %v", v.Allowed, v.Code)
	}
	r.send(udp(dns, web, 53, 40000, 60), at(time.Second))
	if err := r.lg.Close(at(2 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, defaultFields, false)
	if len(recs) != 1 || recs[0]["log-status"] != "NODATA" {
		t.Errorf("records of exempt traffic:\n%s", dump(recs))
	}
}

// SKIPDATA: a shard with room for two flows loses the packets of the rest
// and its interface gets a SKIPDATA record besides the two it kept.
func TestSkipData(t *testing.T) {
	r := newRig(t, "  - {id: fl-web, eni: eni-web, max_aggregation_interval: 60, destination: DIR}\n", flowlog.Options{Capacity: 2})
	for i := range 5 {
		r.send(tcp(web, db, uint16(41000+i), 5432, syn, 0), at(time.Duration(i)*time.Second))
	}
	// The first two flows again: they have entries, nothing is lost.
	r.send(tcp(web, db, 41000, 5432, ack, 0), at(6*time.Second))
	r.send(tcp(web, db, 41001, 5432, ack, 0), at(6*time.Second))
	if err := r.lg.Close(at(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs := allRecords(t, r.dir, defaultFields, false)
	check(t, one(t, recs, "log-status", "SKIPDATA"), "interface-id", "eni-web",
		"start", sec(0), "end", sec(59*time.Second), "srcaddr", "-", "packets", "-", "action", "-")
	ok := find(recs, "log-status", "OK")
	if len(ok) != 2 {
		t.Fatalf("%d OK records, want 2:\n%s", len(ok), dump(recs))
	}
	for _, rec := range ok {
		check(t, rec, "packets", "2")
	}
	st := r.lg.Stats()
	if st.SkippedPackets != 3 || st.SkipData != 1 || st.Records != 2 {
		t.Errorf("stats %+v, want 3 packets skipped, 1 SKIPDATA, 2 records", st)
	}
}
