package flowlog_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/flowlog"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

func TestParseFormat(t *testing.T) {
	for _, c := range []struct {
		format  string
		version int
		fields  string
	}{
		{"", 2, "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"},
		{"${srcaddr}", 2, "srcaddr"},
		{"${version} ${vpc-id} ${srcaddr}", 3, "version vpc-id srcaddr"},
		{"${az-id}  ${tcp-flags}", 4, "az-id tcp-flags"},
		{"${version} ${region} ${vpc-id} ${flow-direction}", 5, "version region vpc-id flow-direction"},
		{"${traffic-path}", 5, "traffic-path"},
	} {
		f, err := flowlog.ParseFormat(c.format)
		if err != nil {
			t.Errorf("%q: %v", c.format, err)
			continue
		}
		if f.Version() != c.version || strings.Join(f.Fields(), " ") != c.fields || f.Header() != c.fields {
			t.Errorf("%q: version %d, fields %q; want %d, %q", c.format, f.Version(), f.Fields(), c.version, c.fields)
		}
	}
	for _, c := range []struct{ format, err string }{
		{"${srcaddr} ${bogus}", "unknown field ${bogus}"},
		{"${srcaddr} ${srcaddr}", "${srcaddr} is given twice"},
		{"srcaddr", `"srcaddr" is not a field`},
		{"${}", `"${}" is not a field`},
		{"${srcaddr", `"${srcaddr" is not a field`},
	} {
		if _, err := flowlog.ParseFormat(c.format); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: error %v, want one containing %q", c.format, err, c.err)
		}
	}
}

// New and Check name the file, line, flow log and field at fault.
func TestFormatErrors(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, "  - {id: fl-ok, vpc: vpc-1, destination: DIR}\n  - {id: fl-bad, vpc: vpc-1, destination: DIR, log_format: \"${srcaddr} ${pkt-src-port}\"}\n", dir)
	want := "test.yaml:" + strconv.Itoa(l.FlowLogs[1].Line) + ": flow log fl-bad: log format: unknown field ${pkt-src-port}"
	if err := flowlog.Check(l); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Check: %v, want %q", err, want)
	}
	e := dataplane.New(l)
	if _, err := flowlog.New(l, e.Port, flowlog.Options{}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("New: %v, want %q", err, want)
	}
	// An interface the dataplane does not know is a wiring mistake.
	none := func(string) (verdict.Port, bool) { return verdict.PortNone, false }
	l.FlowLogs = l.FlowLogs[:1]
	if _, err := flowlog.New(l, none, flowlog.Options{}); err == nil || !strings.Contains(err.Error(), "has no dataplane port") {
		t.Errorf("New without ports: %v", err)
	}
	// Definitions built by hand are checked too.
	bad := *l.FlowLogs[0]
	bad.MaxAggregationInterval = 30 * time.Second
	l.FlowLogs = []*lab.FlowLog{&bad}
	if err := flowlog.Check(l); err == nil || !strings.Contains(err.Error(), "flow log fl-ok: aggregation interval 30s") {
		t.Errorf("Check of a 30s interval: %v", err)
	}
}

// AWS's TCP flag example format (version 3) and its traffic-path example
// format (version 5): the version field, the interface's metadata and the
// packet's addresses.
func TestCustomFormats(t *testing.T) {
	v3 := "version vpc-id subnet-id instance-id interface-id account-id type srcaddr dstaddr srcport dstport pkt-srcaddr pkt-dstaddr protocol bytes packets start end action tcp-flags log-status"
	v5 := "version srcaddr dstaddr srcport dstport protocol start end type packets bytes account-id vpc-id subnet-id instance-id interface-id region az-id sublocation-type sublocation-id action tcp-flags pkt-srcaddr pkt-dstaddr pkt-src-aws-service pkt-dst-aws-service traffic-path flow-direction log-status"
	r := newRig(t, ""+
		"  - {id: fl-3, vpc: vpc-1, max_aggregation_interval: 60, destination: DIR/v3, log_format: \""+dollars(v3)+"\"}\n"+
		"  - {id: fl-5, vpc: vpc-1, max_aggregation_interval: 60, destination: DIR/v5, log_format: \""+dollars(v5)+"\"}\n",
		flowlog.Options{})
	r.send(tcp(web, db, 40000, 5432, syn, 0), at(time.Second))
	r.send(tcp(db, web, 5432, 40000, synAck, 0), at(2*time.Second))
	if err := r.lg.Close(at(3 * time.Second)); err != nil {
		t.Fatal(err)
	}
	recs3 := allRecords(t, r.dir+"/v3", strings.Fields(v3), false)
	check(t, one(t, recs3, "interface-id", "eni-web", "srcaddr", "10.0.1.10"),
		"version", "3", "vpc-id", "vpc-1", "subnet-id", "subnet-web", "instance-id", "web",
		"account-id", "123456789010", "type", "IPv4", "dstaddr", "10.0.2.10",
		"pkt-srcaddr", "10.0.1.10", "pkt-dstaddr", "10.0.2.10", "protocol", "6",
		"bytes", "40", "packets", "1", "action", "ACCEPT", "tcp-flags", "2", "log-status", "OK")
	check(t, one(t, recs3, "interface-id", "eni-db", "srcaddr", "10.0.2.10"),
		"subnet-id", "subnet-db", "instance-id", "db", "tcp-flags", "18")

	recs5 := allRecords(t, r.dir+"/v5", strings.Fields(v5), false)
	check(t, one(t, recs5, "interface-id", "eni-web", "flow-direction", "egress"),
		"version", "5", "srcaddr", "10.0.1.10", "region", "eu-west-1", "az-id", "euw1-az3",
		"sublocation-type", "-", "sublocation-id", "-", "pkt-src-aws-service", "-", "pkt-dst-aws-service", "-",
		"traffic-path", "1", "tcp-flags", "2")
	check(t, one(t, recs5, "interface-id", "eni-web", "flow-direction", "ingress"),
		"srcaddr", "10.0.2.10", "dstaddr", "10.0.1.10", "traffic-path", "-", "tcp-flags", "18")
	check(t, one(t, recs5, "interface-id", "eni-db", "flow-direction", "ingress"), "az-id", "euw1-az1")
}

func dollars(fields string) string {
	var out []string
	for _, f := range strings.Fields(fields) {
		out = append(out, "${"+f+"}")
	}
	return strings.Join(out, " ")
}

// NODATA and SKIPDATA records of a custom format carry the interface's
// metadata and "-" for every field of the flow. A relative destination is
// under Options.Dir.
func TestNoDataCustomFormat(t *testing.T) {
	v5 := "version account-id interface-id vpc-id subnet-id instance-id region az-id type srcaddr pkt-srcaddr tcp-flags flow-direction traffic-path action start end log-status"
	dir := t.TempDir()
	l := newLab(t, "  - {id: fl, eni: eni-db, max_aggregation_interval: 60, destination: rel/logs, log_format: \""+dollars(v5)+"\"}\n", "")
	e := dataplane.New(l)
	lg, err := flowlog.New(l, e.Port, flowlog.Options{Epoch: time.Unix(0, 0), Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := lg.Close(at(time.Second)); err != nil {
		t.Fatal(err)
	}
	check(t, one(t, allRecords(t, dir+"/rel/logs", strings.Fields(v5), false), "log-status", "NODATA"),
		"version", "5", "account-id", "123456789010", "interface-id", "eni-db", "vpc-id", "vpc-1",
		"subnet-id", "subnet-db", "instance-id", "db", "region", "eu-west-1", "az-id", "euw1-az1",
		"type", "-", "srcaddr", "-", "pkt-srcaddr", "-", "tcp-flags", "-", "flow-direction", "-",
		"traffic-path", "-", "action", "-", "start", sec(0), "end", sec(59*time.Second))
}
