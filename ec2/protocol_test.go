package ec2

import "testing"

func TestProtocols(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"tcp", 6, true}, {"TCP", 6, true}, {" udp ", 17, true}, {"-1", ProtoAll, true},
		{"all", ProtoAll, true}, {"icmpv6", 58, true}, {"ipv6-icmp", 58, true},
		{"gre", 47, true}, {"50", 50, true}, {"0", 0, true}, {"255", 255, true},
		{"256", 0, false}, {"-2", 0, false}, {"", 0, false}, {"tcpx", 0, false},
	} {
		got, ok := ParseProtocol(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("ParseProtocol(%q) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	for p, want := range map[int]string{ProtoAll: "-1", 6: "tcp", 58: "icmpv6", 47: "47"} {
		if got := APIProtocol(p); got != want {
			t.Errorf("APIProtocol(%d) = %q, want %q", p, got, want)
		}
	}
	if s, ok := ProtocolName(ProtoAll); s != "all" || !ok {
		t.Errorf("ProtocolName(all) = %q, %v", s, ok)
	}
	if s, ok := ProtocolName(47); s != "47" || ok {
		t.Errorf("ProtocolName(47) = %q, %v", s, ok)
	}
}
