package capture

import (
	"io"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/verdict"
)

// PortWriter writes packets with their verdicts, each on an interface for
// the dataplane port it entered at (Verdict.From), as sent by that port
// (outbound): an ENI, "internet" (hosts behind the internet gateway),
// "vpc-service" (the VPC's built-in services) or "unknown" (a packet too
// broken to name its source). Each interface is declared when its first
// packet is written, so the file holds only the ports that sent
// something. It suits a replay, which judges every packet once at the
// port owning its source address. WritePacket allocates nothing once a
// port's interface is declared.
type PortWriter struct {
	w      *Writer
	snap   *dataplane.Snapshot
	lab    *lab.Lab
	ifaces []int // by port - minPort: the interface's index + 1, 0 if not declared
}

// minPort is the lowest dataplane port (PortService).
const minPort = verdict.PortService

// NewPortWriter writes the file header to w and returns a writer of the
// packets judged by an engine whose policy is snap. The ENIs' interfaces
// are described from l (Describe); l may be nil. Packets are kept whole.
func NewPortWriter(w io.Writer, snap *dataplane.Snapshot, l *lab.Lab) (*PortWriter, error) {
	wr, err := NewWriter(w, 0)
	if err != nil {
		return nil, err
	}
	return &PortWriter{w: wr, snap: snap, lab: l}, nil
}

// WritePacket writes packet pkt, captured at ts (nanoseconds since the
// Unix epoch) with origLen bytes on the wire, with verdict v, on the
// interface of v.From.
func (pw *PortWriter) WritePacket(ts int64, pkt []byte, origLen int, v *verdict.Verdict) error {
	iface, err := pw.iface(v.From)
	if err != nil {
		return err
	}
	return pw.w.WritePacket(iface, ts, Outbound, pkt, origLen, v)
}

// Flush writes the buffered blocks to the output.
func (pw *PortWriter) Flush() error { return pw.w.Flush() }

// iface returns the interface of port p, declaring it first if need be.
func (pw *PortWriter) iface(p verdict.Port) (int, error) {
	i := int(p - minPort)
	if i < 0 {
		i, p = int(verdict.PortNone-minPort), verdict.PortNone
	}
	if i < len(pw.ifaces) && pw.ifaces[i] > 0 {
		return pw.ifaces[i] - 1, nil
	}
	n, err := pw.w.AddInterface(pw.describe(p))
	if err != nil {
		return 0, err
	}
	if i >= len(pw.ifaces) {
		pw.ifaces = append(pw.ifaces, make([]int, i+1-len(pw.ifaces))...)
	}
	pw.ifaces[i] = n + 1
	return n, nil
}

func (pw *PortWriter) describe(p verdict.Port) Interface {
	switch p {
	case verdict.PortInternet:
		return Interface{Name: "internet", Description: "hosts behind the internet gateway"}
	case verdict.PortService:
		return Interface{Name: "vpc-service", Description: "the VPC's built-in services (DNS, instance metadata, time, DHCP, the router)"}
	case verdict.PortNone:
		return Interface{Name: "unknown", Description: "packets too broken to name their source"}
	}
	name := pw.snap.PortName(p)
	if name == "-" {
		name = "port " + strconv.Itoa(int(p))
		return Interface{Name: name, Description: "an ENI port the lab does not name"}
	}
	return Interface{Name: name, Description: Describe(pw.lab, name)}
}

// Describe describes ENI id of lab l for an interface's description:
// "ENI of web1 in subnet-web: 10.0.1.10; security groups sg-web, sg-ssh",
// with "; source/destination check off" when it is. It returns "ENI" when
// l is nil or has no such ENI.
func Describe(l *lab.Lab, id string) string {
	if l == nil {
		return "ENI"
	}
	e := l.Interface(id)
	if e == nil {
		return "ENI"
	}
	var b strings.Builder
	b.WriteString("ENI of ")
	b.WriteString(e.Instance)
	b.WriteString(" in ")
	b.WriteString(e.Subnet)
	b.WriteString(": ")
	for i, a := range e.Addrs() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	b.WriteString("; security groups ")
	b.WriteString(strings.Join(e.SecurityGroups, ", "))
	if !e.SourceDestCheck {
		b.WriteString("; source/destination check off")
	}
	return b.String()
}
