package live_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

// pauseLab: f, whose pps_allowance is 1,000 packets a second, floods t;
// q sends t a datagram a millisecond.
const pauseLab = `
vpc: {id: vpc-pause, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-t
    ingress:
      - {protocol: udp, ports: 5201, cidr: 10.0.0.0/16}
instances:
  - {name: f, subnet: subnet-a, ip: 10.0.1.10, pps_allowance: 1000}
  - {name: q, subnet: subnet-a, ip: 10.0.1.11}
  - {name: t, subnet: subnet-a, ip: 10.0.1.12, security_groups: [sg-t]}
`

// TestPausedDevice: on real TUN devices, an instance flooding past its
// packet-rate allowance gets no more than the allowance through (its
// device is left unread while over it, the kernel dropping the excess at
// its queue: the lab reads no more than the allowance), the drops are counted as its pps_allowance_exceeded, and
// another instance's datagrams all pass meanwhile.
func TestPausedDevice(t *testing.T) {
	if err := labnet.Check(); err != nil {
		t.Fatalf("%v\nThis test makes namespaces and TUN devices: run it as root.", err)
	}
	l, err := labfile.Parse("pause.yaml", []byte(pauseLab))
	if err != nil {
		t.Fatal(err)
	}
	o := live.Options{Net: labnet.Options{ID: "pause", Prefix: "vpclabtest-"}}
	p, err := labnet.NewPlan(l, o.Net)
	if err != nil {
		t.Fatal(err)
	}
	if err := labnet.Down(p); err != nil { // an earlier crashed run's leftovers
		t.Fatal(err)
	}
	x, err := live.Start(l, o)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	listen := func(name, addr string) net.PacketConn {
		var c net.PacketConn
		if err := x.Net().Do(x.Plan().Instance(name).Name, func() (err error) {
			c, err = net.ListenPacket("udp4", addr)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	sink := listen("t", "10.0.1.12:5201")
	from := map[string]int{}
	var mu sync.Mutex
	go func() {
		b := make([]byte, 64)
		for {
			_, a, err := sink.ReadFrom(b)
			if err != nil {
				return
			}
			mu.Lock()
			from[a.(*net.UDPAddr).IP.String()]++
			mu.Unlock()
		}
	}()
	fc, qc := listen("f", "10.0.1.10:0"), listen("q", "10.0.1.11:0")
	to := &net.UDPAddr{IP: net.IP{10, 0, 1, 12}, Port: 5201}
	const flood, trickle = 20000, 50
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range trickle {
			qc.WriteTo([]byte("q"), to)
			time.Sleep(time.Millisecond)
		}
	}()
	for range flood {
		fc.WriteTo([]byte("f"), to)
	}
	<-done
	elapsed := time.Since(start)
	time.Sleep(300 * time.Millisecond) // f's device resumed (at most 100 ms paused), its drops counted
	mu.Lock()
	gotF, gotQ := from["10.0.1.10"], from["10.0.1.11"]
	mu.Unlock()
	if gotQ != trickle {
		t.Errorf("t received %d of q's %d datagrams while f flooded", gotQ, trickle)
	}
	// The burst (128), then 1,000 a second while f sent, and what its
	// queue (500) held when it stopped, read as the allowance refilled.
	most := 128 + int(elapsed.Seconds()*1000) + 500 + 300
	if gotF < 128 || gotF > most {
		t.Errorf("t received %d of f's %d datagrams in %v, want from 128 (the burst) to %d (the allowance)", gotF, flood, elapsed, most)
	}
	fd := x.Device(x.Plan().Instance("f").Links[0].ENI)
	c := fd.Counters.Load()
	read := c.AllowedPackets + c.ServicePackets
	for _, n := range c.DeniedPackets {
		read += n
	}
	if read > uint64(most) {
		t.Errorf("the lab read %d frames from f's device, want at most the allowance's %d: the rest left to the kernel", read, most)
	}
	ex := x.Engine().Snapshot().PacketAllowance(fd.Port).Exceeded()
	if ex < flood/2 || ex > flood {
		t.Errorf("f's pps_allowance_exceeded %d after %d datagrams of which %d passed, want most of the rest", ex, flood, gotF)
	}
	t.Logf("f: %d of %d datagrams passed in %v, %d read by the lab, %d counted as pps_allowance_exceeded; q: %d of %d", gotF, flood, elapsed, read, ex, gotQ, trickle)
}
