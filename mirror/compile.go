package mirror

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// Direction says which way a packet crossed a mirrored ENI.
type Direction uint8

const (
	// Ingress: the packet was delivered to the ENI. The filter's inbound
	// rules decide.
	Ingress Direction = iota
	// Egress: the ENI sent the packet. The filter's outbound rules decide.
	Egress
)

func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return "unknown"
}

// AWS's limits.
const (
	maxSessionsPerSource = 3
	// minFrame is the fewest bytes of an inner frame a copy keeps, by
	// family: the Ethernet and IP headers and one byte (TM, limitations).
	minFrame4 = etherLen + 20 + 1 // 35
	minFrame6 = etherLen + 40 + 1 // 55
)

// Session is a compiled traffic mirror session, as a Sink sees it. Its
// fields never change.
type Session struct {
	ID     string
	Number int
	// Source is the mirrored ENI, SourcePort its dataplane port and
	// SourceAddr its primary IPv4 address, the outer source.
	Source     string
	SourcePort verdict.Port
	SourceAddr netip.Addr
	// Target is the lab.MirrorTarget's id. For an ENI target, TargetENI,
	// TargetPort and TargetAddr (its primary IPv4, the outer destination)
	// say where copies go; for a file target PcapFile names the file,
	// TargetPort is verdict.PortNone and TargetAddr 0.0.0.0.
	Target     string
	TargetENI  string
	TargetPort verdict.Port
	TargetAddr netip.Addr
	PcapFile   string
	Filter     string
	VNI        uint32
	// PacketLength is the lab's value: bytes of the inner frame kept, 0
	// for all.
	PacketLength int
}

// rule is a compiled mirror filter rule.
type rule struct {
	number   int
	accept   bool
	anyProto bool
	proto    uint8
	// ports is false when both port ranges are 0-65535: the rule does not
	// look at ports.
	ports    bool
	src, dst netip.Prefix // masked; a rule matches their family only
	sLo, sHi uint16
	dLo, dHi uint16
}

// matches reports whether r applies to p.
func (r *rule) matches(p *packet.Parsed) bool {
	if !r.anyProto && r.proto != p.Proto {
		return false
	}
	if !r.src.Contains(p.Src) || !r.dst.Contains(p.Dst) {
		return false
	}
	if r.ports && (!p.HasPorts || p.SrcPort < r.sLo || p.SrcPort > r.sHi || p.DstPort < r.dLo || p.DstPort > r.dHi) {
		return false
	}
	return true
}

// accepts runs rules (sorted by number) on p: the first rule that matches
// decides; none matching, the packet is not mirrored.
func accepts(rules []rule, p *packet.Parsed) bool {
	for i := range rules {
		if rules[i].matches(p) {
			return rules[i].accept
		}
	}
	return false
}

// session is a Session with what the packet path and the consumer need.
type session struct {
	Session
	in, out []rule
	src     *source
	// limit is the most bytes of inner frame a copy keeps, by family
	// (famIdx): PacketLength (raised to AWS's floor) or the target's room.
	limit [2]int
	file  *pcapFile // nil for an ENI target
	ctr   *counters
	// segs is how many mirror packets the consumer coalesces into one UDP
	// GSO super-packet for the Sink (Sink.MaxSegments); 1 for none, and
	// for a file target.
	segs int
}

// source is a mirrored ENI: its sessions by number and what the inner
// Ethernet header needs.
type source struct {
	id       string
	sessions []*session
	mac      [6]byte
	router   [6]byte // its subnet router's MAC
	subnet   string
	peers    map[netip.Addr]peer // every ENI address of the lab; shared
}

// peer is an ENI as an inner Ethernet header shows it.
type peer struct {
	mac    [6]byte
	subnet string
}

// match returns the session that mirrors p in direction dir, or nil.
func (s *source) match(dir Direction, p *packet.Parsed) *session {
	for _, ss := range s.sessions {
		rules := ss.in
		if dir == Egress {
			rules = ss.out
		}
		if accepts(rules, p) {
			return ss
		}
	}
	return nil
}

// peerMAC returns the MAC the inner frame gives the other end, at
// address a: the ENI's own when it is in the source's subnet, else the
// subnet router's.
func (s *source) peerMAC(a netip.Addr) [6]byte {
	if p, ok := s.peers[a]; ok && p.subnet == s.subnet {
		return p.mac
	}
	return s.router
}

// table is one compiled configuration, published whole.
type table struct {
	ports    []*source // by dataplane port; nil: not mirrored
	sessions []*session
	files    []*pcapFile
	ring     *ring // nil until a lab has a session; then shared by every later table
}

func famIdx(version byte) int {
	if version == 6 {
		return 1
	}
	return 0
}

// routerMAC is the MAC vpclab gives a subnet's router (Policy): derived
// from the subnet id as ENI MACs are from theirs.
func routerMAC(subnetID string) [6]byte {
	return [6]byte(labnet.MAC("router/" + subnetID))
}

// compile builds the table of l. Files are looked up in, and new ones
// opened into, files (keyed by path); the caller owns what it opened.
// roomENI is the most inner-frame bytes an ENI target takes.
func compile(l *lab.Lab, port func(string) (verdict.Port, bool), roomENI int,
	files map[string]*pcapFile, ctrs map[string]*counters) (*table, error) {
	where := func(line int) string { return fmt.Sprintf("%s:%d", l.File, line) }
	filters := map[string]*lab.MirrorFilter{}
	for _, f := range l.MirrorFilters {
		filters[f.ID] = f
	}
	targets := map[string]*lab.MirrorTarget{}
	for _, t := range l.MirrorTargets {
		targets[t.ID] = t
	}
	targetENIs := map[string]string{} // ENI → a target id naming it
	for _, t := range l.MirrorTargets {
		if t.ENI != "" {
			targetENIs[t.ENI] = t.ID
		}
	}
	peers := map[netip.Addr]peer{}
	for _, e := range l.Interfaces() {
		for _, a := range e.Addrs() {
			peers[a] = peer{mac: [6]byte(labnet.MAC(e.ID)), subnet: e.Subnet}
		}
	}

	t := &table{}
	bySource := map[string]*source{}
	for _, ms := range l.MirrorSessions {
		at := where(ms.Line)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s: traffic mirror session %s: %s", at, ms.ID, fmt.Sprintf(format, args...))
		}
		eni := l.Interface(ms.Source)
		if eni == nil {
			return nil, bad("source %s is not an interface of the lab", ms.Source)
		}
		if !eni.IP.Is4() {
			return nil, bad("source %s has no primary IPv4 address, which mirror packets come from (AWS does not mirror IPv6-only subnets)", ms.Source)
		}
		if tid, ok := targetENIs[ms.Source]; ok {
			return nil, bad("source %s is also traffic mirror target %s: AWS does not let an interface be both", ms.Source, tid)
		}
		srcPort, ok := port(ms.Source)
		if !ok || srcPort < 0 {
			return nil, bad("source %s has no dataplane port: apply the lab to the engine before the mirror", ms.Source)
		}
		f := filters[ms.Filter]
		if f == nil {
			return nil, bad("filter %s is not defined", ms.Filter)
		}
		tg := targets[ms.Target]
		if tg == nil {
			return nil, bad("target %s is not defined", ms.Target)
		}
		if ms.Number < 1 || ms.Number > 32766 {
			return nil, bad("number %d is outside 1-32766", ms.Number)
		}
		if ms.PacketLength < 0 {
			return nil, bad("packet length %d is negative", ms.PacketLength)
		}
		if ms.VNI > 1<<24-1 {
			return nil, bad("VNI %d does not fit VXLAN's 24 bits", ms.VNI)
		}
		s := &session{Session: Session{
			ID: ms.ID, Number: ms.Number,
			Source: ms.Source, SourcePort: srcPort, SourceAddr: eni.IP,
			Target: tg.ID, TargetPort: verdict.PortNone, TargetAddr: netip.IPv4Unspecified(),
			Filter: f.ID, VNI: ms.VNI, PacketLength: ms.PacketLength,
		}}
		room := roomFile
		switch {
		case tg.ENI != "":
			te := l.Interface(tg.ENI)
			if te == nil {
				return nil, bad("target %s names interface %s, which is not in the lab", tg.ID, tg.ENI)
			}
			if tg.ENI == ms.Source {
				return nil, bad("target %s is the source itself", tg.ID)
			}
			if !te.IP.Is4() {
				return nil, bad("target interface %s has no primary IPv4 address to send mirror packets to", tg.ENI)
			}
			tp, ok := port(tg.ENI)
			if !ok || tp < 0 {
				return nil, bad("target interface %s has no dataplane port: apply the lab to the engine before the mirror", tg.ENI)
			}
			s.TargetENI, s.TargetPort, s.TargetAddr = tg.ENI, tp, te.IP
			room = roomENI
		case tg.PcapFile != "":
			s.PcapFile = tg.PcapFile
			pf := files[tg.PcapFile]
			if pf == nil {
				var err error
				if pf, err = openPcap(tg.PcapFile); err != nil {
					return nil, bad("target %s: %v", tg.ID, err)
				}
				files[tg.PcapFile] = pf
			}
			s.file = pf
			if !slices.Contains(t.files, pf) {
				t.files = append(t.files, pf)
			}
		default:
			return nil, bad("target %s names neither an interface nor a file", tg.ID)
		}
		for fam, floor := range [2]int{minFrame4, minFrame6} {
			s.limit[fam] = room
			if n := ms.PacketLength; n > 0 {
				s.limit[fam] = min(max(n, floor), room)
			}
		}
		var err error
		if s.in, err = compileRules(f.Ingress); err != nil {
			return nil, fmt.Errorf("%s: traffic mirror filter %s, inbound %v", where(f.Line), f.ID, err)
		}
		if s.out, err = compileRules(f.Egress); err != nil {
			return nil, fmt.Errorf("%s: traffic mirror filter %s, outbound %v", where(f.Line), f.ID, err)
		}
		if s.ctr = ctrs[ms.ID]; s.ctr == nil {
			s.ctr = &counters{}
			ctrs[ms.ID] = s.ctr
		}

		src := bySource[ms.Source]
		if src == nil {
			src = &source{id: ms.Source, mac: [6]byte(labnet.MAC(ms.Source)), router: routerMAC(eni.Subnet),
				subnet: eni.Subnet, peers: peers}
			bySource[ms.Source] = src
			for int(srcPort) >= len(t.ports) {
				t.ports = append(t.ports, nil)
			}
			t.ports[srcPort] = src
		}
		for _, o := range src.sessions {
			if o.Number == s.Number {
				return nil, bad("%s already has session %s with number %d", ms.Source, o.ID, s.Number)
			}
		}
		if len(src.sessions) == maxSessionsPerSource {
			return nil, bad("%s already has %d sessions, AWS's most per source interface", ms.Source, maxSessionsPerSource)
		}
		s.src = src
		src.sessions = append(src.sessions, s)
		slices.SortFunc(src.sessions, func(a, b *session) int { return cmp.Compare(a.Number, b.Number) })
		t.sessions = append(t.sessions, s)
	}
	return t, nil
}

// compileRules compiles one direction of a filter, sorted by number.
func compileRules(rs []lab.MirrorRule) ([]rule, error) {
	out := make([]rule, 0, len(rs))
	for _, r := range rs {
		c := rule{number: r.Number, accept: r.Accept, anyProto: r.Protocol < 0, proto: uint8(r.Protocol)}
		switch {
		case r.Protocol > 255:
			return nil, fmt.Errorf("rule %d (line %d): protocol %d is not an IP protocol number", r.Number, r.Line, r.Protocol)
		case !r.SourceCIDR.IsValid() || !r.DestinationCIDR.IsValid():
			return nil, fmt.Errorf("rule %d (line %d): source and destination CIDRs are required", r.Number, r.Line)
		case r.SourceCIDR.Addr().Is4() != r.DestinationCIDR.Addr().Is4():
			return nil, fmt.Errorf("rule %d (line %d): source %s and destination %s are of different families", r.Number, r.Line, r.SourceCIDR, r.DestinationCIDR)
		}
		c.src, c.dst = r.SourceCIDR.Masked(), r.DestinationCIDR.Masked()
		for _, pr := range [][2]int{{r.SourceFromPort, r.SourceToPort}, {r.DestinationFromPort, r.DestinationToPort}} {
			if pr[0] < 0 || pr[1] > 65535 || pr[0] > pr[1] {
				return nil, fmt.Errorf("rule %d (line %d): port range %d-%d is not within 0-65535", r.Number, r.Line, pr[0], pr[1])
			}
		}
		c.sLo, c.sHi = uint16(r.SourceFromPort), uint16(r.SourceToPort)
		c.dLo, c.dHi = uint16(r.DestinationFromPort), uint16(r.DestinationToPort)
		c.ports = c.sLo != 0 || c.sHi != 65535 || c.dLo != 0 || c.dHi != 65535
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b rule) int { return cmp.Compare(a.number, b.number) })
	for i := 1; i < len(out); i++ {
		if out[i].number == out[i-1].number {
			return nil, fmt.Errorf("rule number %d is used twice", out[i].number)
		}
	}
	return out, nil
}
