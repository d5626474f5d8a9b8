package labfile

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/sg"
)

// bigLab is a lab with n ingress rules in one group, as a 10,000-rule
// apply sends.
func bigLab(n int) *lab.Lab {
	l := ExampleLab()
	l.Quotas.SGRules, l.Quotas.RulesTimesSGs = n+100, 16*(n+100)
	g := l.Group("sg-db")
	for i := range n {
		g.Ingress = append(g.Ingress, sg.Rule{ID: fmt.Sprintf("sgr-%017x", i), Protocol: packet.ProtoTCP, FromPort: i % 65536, ToPort: i % 65536,
			ICMPType: -1, ICMPCode: -1, CIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)})
	}
	return l
}

func BenchmarkMarshal10k(b *testing.B) {
	l := bigLab(10000)
	for b.Loop() {
		if _, err := Marshal(l); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParse10k(b *testing.B) {
	data, err := Marshal(bigLab(10000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("big.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkClone10k(b *testing.B) {
	l := bigLab(10000)
	for b.Loop() {
		l.Clone()
	}
}
