package resolve

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/verdict"
)

func TestName(t *testing.T) {
	e := dataplane.New(labfile.ExampleLab())
	s := e.Snapshot()
	web1, ok := e.Port("eni-web1")
	if !ok {
		t.Fatal("no port for eni-web1")
	}
	app1, _ := e.Port("eni-app1")
	for _, tc := range []struct {
		name   string
		family int
		port   verdict.Port
		addr   string
		shown  string
	}{
		{"web1", 0, web1, "10.0.1.10", "eni-web1"},
		{"web1", 6, web1, "2600:1f18:aa:bb01::10", "eni-web1"},
		{"eni-app1", 4, app1, "10.0.2.10", "eni-app1"},
		{"10.0.2.10", 0, app1, "10.0.2.10", "eni-app1"},
		{"::ffff:10.0.1.10", 4, web1, "10.0.1.10", "eni-web1"},
		{"10.0.0.2", 0, verdict.PortService, "10.0.0.2", "vpc-service"},
		{"10.0.9.9", 0, verdict.PortNone, "10.0.9.9", "-"},
		{"203.0.113.5", 0, verdict.PortInternet, "203.0.113.5", "internet"},
		{"2001:db8::5", 6, verdict.PortInternet, "2001:db8::5", "internet"},
	} {
		ep, err := Name(s, tc.name, tc.family)
		if err != nil {
			t.Errorf("Name(%q, %d): %v", tc.name, tc.family, err)
			continue
		}
		if want := (Endpoint{Port: tc.port, Addr: netip.MustParseAddr(tc.addr), Name: tc.shown}); ep != want {
			t.Errorf("Name(%q, %d) = %+v, want %+v", tc.name, tc.family, ep, want)
		}
	}
}

func TestNameErrors(t *testing.T) {
	s := dataplane.New(labfile.ExampleLab()).Snapshot()
	for _, tc := range []struct {
		name   string
		family int
		want   string
	}{
		{"10.0.1.10", 6, "10.0.1.10 is not an IPv6 address"},
		{"app1", 6, "eni-app1 has no IPv6 address"},
		{"nosuch", 0, `"nosuch" is not an instance, an ENI or an address of lab example.yaml`},
	} {
		if _, err := Name(s, tc.name, tc.family); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Name(%q, %d): error %v, want %q", tc.name, tc.family, err, tc.want)
		}
	}
}
