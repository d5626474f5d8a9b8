package lab_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
)

// TestDuplicatesNamed checks the messages of duplicate instance names,
// interface ids and addresses, which Check finds by sorting and by who
// claims each address (index.go): they name the first holder by its path
// in a lab built by hand and by its line in one read from a file.
func TestDuplicatesNamed(t *testing.T) {
	l := handBuilt()
	second := func(name, eni, ip string) *lab.Instance {
		return &lab.Instance{Name: name, Interfaces: []*lab.Interface{
			{ID: eni, Subnet: "subnet-a", IP: netip.MustParseAddr(ip), SecurityGroups: []string{"sg-web"}},
		}}
	}
	l.Instances = append(l.Instances,
		second("web2", "eni-web2", "10.0.1.11"),
		second("web1", "eni-web3", "10.0.1.12"),
		second("web4", "eni-web2", "10.0.1.13"),
		second("web5", "eni-web5", "10.0.1.10"))
	l.Instances[4].Interfaces[0].SecondaryIPs = []netip.Addr{netip.MustParseAddr("10.0.1.11")}
	l.Internet.Hosts = []netip.Addr{netip.MustParseAddr("198.51.100.7"), netip.MustParseAddr("198.51.100.7")}
	lab.Normalize(l)
	got := lab.Check(l).Error()
	for _, want := range []string{
		"instances[web1].name: web1 is defined twice (first at instances[web1]): instance names are unique",
		"instances[web4].interfaces[eni-web2].id: eni-web2 is defined twice (first at instances[web2].interfaces[eni-web2]): interface ids are unique",
		"instances[web5].interfaces[eni-web5].ip: 10.0.1.10 is already used by eni-web1 (instances[web1].interfaces[eni-web1].ip)",
		"instances[web5].interfaces[eni-web5].secondary_ips[0]: 10.0.1.11 is already used by eni-web2 (instances[web2].interfaces[eni-web2].ip)",
		"internet.hosts[1]: 198.51.100.7 is already used by internet.hosts (internet.hosts[0])",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Check does not say\n\t%s\nit says\n%s", want, got)
		}
	}
	for i, in := range l.Instances {
		in.Line = 10 + i
		in.Interfaces[0].Line = 10 + i
	}
	got = lab.Check(l).Error()
	for _, want := range []string{
		"web1 is defined twice (first at line 10)",
		"eni-web2 is defined twice (first at line 11)",
		"10.0.1.10 is already used by eni-web1 (line 10)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("with lines, Check does not say\n\t%s\nit says\n%s", want, got)
		}
	}
}
