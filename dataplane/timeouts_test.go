package dataplane

import (
	"testing"
	"time"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/lab"
)

// TestTimeouts checks that an ENI's table gets lab's defaults where the lab
// sets nothing (conntrack owns none) and the lab's values where it does.
func TestTimeouts(t *testing.T) {
	ds, dc := lab.DefaultSettings(), lab.DefaultConntrackTimeouts()
	want := conntrack.Timeouts{
		TCPEstablished: dc.TCPEstablished, UDP: dc.UDP, UDPStream: dc.UDPStream,
		TCPSynSent: ds.TCPSynSent, TCPSynRecv: ds.TCPSynRecv, TCPFinWait: ds.TCPFinWait,
		TCPCloseWait: ds.TCPCloseWait, TCPTimeWait: ds.TCPTimeWait, TCPLastAck: ds.TCPLastAck,
		TCPClose: ds.TCPClose, ICMP: ds.ICMP, Other: ds.Other,
	}
	if got := Timeouts(&lab.Lab{}, &lab.Interface{}); got != want {
		t.Errorf("a lab that sets nothing:\n got %+v\nwant %+v", got, want)
	}
	if want.TCPEstablished != 432000*time.Second || want.UDP != 30*time.Second || want.UDPStream != 180*time.Second || want.Other != 600*time.Second {
		t.Errorf("AWS's defaults changed: %+v", want)
	}
	l := &lab.Lab{Settings: ds}
	l.Settings.TCPSynSent = 5 * time.Second
	e := &lab.Interface{Conntrack: lab.ConntrackTimeouts{TCPEstablished: time.Hour, UDP: 45 * time.Second}}
	got := Timeouts(l, e)
	if got.TCPSynSent != 5*time.Second || got.TCPEstablished != time.Hour || got.UDP != 45*time.Second || got.UDPStream != dc.UDPStream {
		t.Errorf("a lab's own values: %+v", got)
	}
}
