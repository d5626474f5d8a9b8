package dataplane

import (
	"testing"

	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// When policy generations wrap, cached NACL verdicts of the old
// generation with the same number must not come back to life.
func TestGenerationWrapClearsCachedVerdicts(t *testing.T) {
	const src = `
vpc: {id: vpc-t, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
  - {id: subnet-b, cidr: 10.0.2.0/24, network_acl: acl-b}
network_acls:
  - id: acl-b
    ingress: [{rule: 100, action: allow, protocol: tcp, ports: 80, cidr: 10.0.1.0/24}]
    egress: [{rule: 100, action: allow, protocol: all, cidr: 0.0.0.0/0}]
security_groups:
  - id: sg-b
    ingress: [{protocol: tcp, ports: 80, cidr: 10.0.0.0/16}]
instances:
  - {name: a, subnet: subnet-a, ip: 10.0.1.10}
  - {name: b, subnet: subnet-b, ip: 10.0.2.10, security_groups: [sg-b]}
`
	open, err := labfile.Parse("open.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e := New(open)
	pa, _ := e.Port("eni-a")
	a, b := open.Interface("eni-a").IP, open.Interface("eni-b").IP
	pkt := func(flags uint8) []byte {
		s := packet.Spec{Src: a, Dst: b, Proto: packet.ProtoTCP, SrcPort: 1000, DstPort: 80, TCPFlags: flags}
		return s.Append(nil)
	}
	var v verdict.Verdict
	e.Process(pa, pkt(packet.TCPSyn), 1, &v)
	e.Process(pa, pkt(packet.TCPAck), 2, &v) // caches "passes" under this generation
	if !v.Allowed {
		t.Fatalf("ack denied at %v", v.Stage)
	}
	cached := e.gen

	// Run the generations round to just before the cached one comes back,
	// then apply a policy whose NACL denies the flow.
	e.gen = maxGen
	e.Apply(open, 0)
	for e.gen != cached-1 {
		e.gen++
	}
	shut, err := labfile.Parse("shut.yaml", []byte(src[:len(src)-1]+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	shut.ACL("acl-b").Ingress[0].FromPort, shut.ACL("acl-b").Ingress[0].ToPort = 81, 81
	e.Apply(shut, 0)
	if e.gen != cached {
		t.Fatalf("generation %d, want the cached one, %d", e.gen, cached)
	}
	e.Process(pa, pkt(packet.TCPAck), 3, &v)
	if v.Allowed || v.Stage != verdict.StageNACLIngress {
		t.Errorf("after the wrap: allowed=%v at %v, want a deny at nacl-ingress", v.Allowed, v.Stage)
	}
}
