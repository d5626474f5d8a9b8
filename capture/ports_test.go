package capture

import (
	"bytes"
	"testing"

	"github.com/vpclab/vpclab/policytest"
	"github.com/vpclab/vpclab/verdict"
)

// TestPortWriter writes packets as a replay judges them: each on the
// interface of the port it entered at, declared at first use.
func TestPortWriter(t *testing.T) {
	l, e := exampleEngine(t)
	var buf bytes.Buffer
	pw, err := NewPortWriter(&buf, e.Snapshot(), l)
	if err != nil {
		t.Fatal(err)
	}
	type frame struct {
		from verdict.Port
		pkt  []byte
		v    verdict.Verdict
	}
	var frames []frame
	for _, s := range []policytest.Send{
		{From: "web1", To: "app1", Proto: "tcp", Sport: 49152, Dport: 8080, Flags: "S"},
		{From: "203.0.113.5", To: "web1", Proto: "tcp", Sport: 40000, Dport: 80, Flags: "S"},
		{From: "web1", To: "db1", Proto: "tcp", Sport: 49152, Dport: 5432, Flags: "S"},
	} {
		from, pkt := build(t, e, s)
		frames = append(frames, frame{from: from, pkt: pkt})
	}
	frames = append(frames, frame{from: verdict.PortNone, pkt: []byte{0x00, 1, 2}}) // no source to read
	for i := range frames {
		f := &frames[i]
		e.Process(f.from, f.pkt, int64(i+1)*1e9, &f.v)
		if err := pw.WritePacket(int64(i+1)*1e9, f.pkt, len(f.pkt)+i, &f.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Flush(); err != nil {
		t.Fatal(err)
	}

	pkts, comments, ifaces, _ := readNg(t, buf.Bytes())
	wantIfaces := []Interface{
		{Name: "eni-web1", Description: "ENI of web1 in subnet-web: 10.0.1.10, 2600:1f18:aa:bb01::10; security groups sg-web"},
		{Name: "internet", Description: "hosts behind the internet gateway"},
		{Name: "unknown", Description: "packets too broken to name their source"},
	}
	if len(ifaces) != len(wantIfaces) {
		t.Fatalf("%d interfaces, want %d", len(ifaces), len(wantIfaces))
	}
	for i, w := range wantIfaces {
		if ifaces[i].Name != w.Name || ifaces[i].Description != w.Description {
			t.Errorf("interface %d: %q %q, want %q %q", i, ifaces[i].Name, ifaces[i].Description, w.Name, w.Description)
		}
	}
	wantIface := []int{0, 1, 0, 2}
	if len(pkts) != len(frames) {
		t.Fatalf("%d packets, want %d", len(pkts), len(frames))
	}
	for i, p := range pkts {
		f := &frames[i]
		if p.iface != wantIface[i] || p.dir != Outbound || p.ts != int64(i+1)*1e9 || !bytes.Equal(p.pkt, f.pkt) ||
			p.orig != len(f.pkt)+i || comments[i][0] != string(Comment(nil, &f.v)) {
			t.Errorf("packet %d: iface %d %v ts %d orig %d %q", i, p.iface, p.dir, p.ts, p.orig, comments[i])
		}
	}
	if comments[3][0] != "deny parse MALFORMED_PACKET: bad_ip_version" {
		t.Errorf("the broken packet's comment is %q", comments[3][0])
	}

	// Once its port's interface is declared, a packet costs no allocation.
	f := &frames[0]
	if n := testing.AllocsPerRun(1000, func() { pw.WritePacket(1, f.pkt, len(f.pkt), &f.v) }); n != 0 {
		t.Errorf("WritePacket allocates %v times", n)
	}
}

func TestPortWriterWithoutLab(t *testing.T) {
	_, e := exampleEngine(t)
	var buf bytes.Buffer
	pw, err := NewPortWriter(&buf, e.Snapshot(), nil)
	if err != nil {
		t.Fatal(err)
	}
	app1, _ := e.Port("eni-app1")
	for _, p := range []verdict.Port{app1, verdict.PortService, verdict.Port(99)} {
		v := verdict.Verdict{From: p, Stage: verdict.StageRoute, Code: verdict.CodeCannotRoute}
		if err := pw.WritePacket(1, []byte{0x45}, 1, &v); err != nil {
			t.Fatal(err)
		}
	}
	pw.Flush()
	_, _, ifaces, _ := readNg(t, buf.Bytes())
	want := []Interface{
		{Name: "eni-app1", Description: "ENI"},
		{Name: "vpc-service", Description: "the VPC's built-in services (DNS, instance metadata, time, DHCP, the router)"},
		{Name: "port 99", Description: "an ENI port the lab does not name"},
	}
	for i, w := range want {
		if i >= len(ifaces) || ifaces[i].Name != w.Name || ifaces[i].Description != w.Description {
			t.Errorf("interfaces %+v, want %+v", ifaces, want)
			break
		}
	}
	if _, err := NewPortWriter(nil, e.Snapshot(), nil); err == nil {
		t.Error("NewPortWriter(nil) succeeded")
	}
}

func TestDescribe(t *testing.T) {
	l, _ := exampleEngine(t)
	if d := Describe(l, "eni-db1"); d != "ENI of db1 in subnet-db: 10.0.3.10; security groups sg-db" {
		t.Errorf("Describe(eni-db1) = %q", d)
	}
	if d := Describe(l, "eni-nope"); d != "ENI" {
		t.Errorf("Describe(eni-nope) = %q", d)
	}
	if d := Describe(nil, "eni-db1"); d != "ENI" {
		t.Errorf("Describe(nil lab) = %q", d)
	}
}
