package conntrack

import (
	"time"

	"github.com/vpclab/vpclab/packet"
)

// State is the tracking state of a flow. Each state has its own idle timeout
// (see Timeouts).
type State uint8

// The states. TCP follows Linux nf_conntrack, from the TCP flags alone (no
// sequence-number checks); UDP counts request/response exchanges.
const (
	SynSent      State = iota + 1 // TCP: SYN seen from the originator
	SynRecv                       // TCP: SYN-ACK seen from the responder
	Established                   // TCP: handshake done (or picked up mid-stream)
	FinWait                       // TCP: one side sent FIN
	CloseWait                     // TCP: the other side acknowledged that FIN
	LastAck                       // TCP: both sides sent FIN
	TimeWait                      // TCP: the last FIN was acknowledged
	Close                         // TCP: reset
	UDPUnreplied                  // UDP: packets from the originator only
	UDPReplied                    // UDP: a reply was seen
	UDPStream                     // UDP: more packets after the reply
	ICMP                          // ICMP and ICMPv6
	Other                         // any other protocol
	numStates
)

var stateNames = [numStates]string{
	SynSent: "SYN_SENT", SynRecv: "SYN_RECV", Established: "ESTABLISHED",
	FinWait: "FIN_WAIT", CloseWait: "CLOSE_WAIT", LastAck: "LAST_ACK",
	TimeWait: "TIME_WAIT", Close: "CLOSE",
	UDPUnreplied: "UDP_UNREPLIED", UDPReplied: "UDP_REPLIED", UDPStream: "UDP_STREAM",
	ICMP: "ICMP", Other: "OTHER",
}

// String returns the state's name, in nf_conntrack's style (e.g. "ESTABLISHED").
func (s State) String() string {
	if s > 0 && s < numStates {
		return stateNames[s]
	}
	return "INVALID"
}

// cstate is an entry's state as stored: the State in the low 4 bits, which
// side opened the flow, and which side sent the first FIN. 0 marks a free slot.
type cstate uint8

const (
	kindMask cstate = 0x0f
	origLo   cstate = 0x10 // the flow was opened from the Lo side
	finLo    cstate = 0x20 // TCP: the Lo side sent the first FIN
)

func (s cstate) kind() State         { return State(s & kindMask) }
func (s cstate) with(k State) cstate { return s&^kindMask | cstate(k) }

// isFrom reports whether a packet from the Lo side if lo comes from the side
// that flag f records: the originator (origLo) or the first closer (finLo).
func (s cstate) isFrom(f cstate, lo bool) bool { return (s&f != 0) == lo }

// withFin records the side that sent the first FIN.
func (s cstate) withFin(fromLo bool) cstate {
	if fromLo {
		return s | finLo
	}
	return s &^ finLo
}

// initial returns the state of a new entry whose first packet, from the Lo
// side if fromLo, has the given protocol and TCP flags.
//
// A TCP entry may start mid-connection (Linux's loose mode), as it does when
// the flow began before the entry could be made: a SYN-ACK starts SYN_RECV
// opened by the other side, a FIN starts FIN_WAIT, a RST starts CLOSE, and
// any other segment starts ESTABLISHED.
func initial(proto uint8, fromLo bool, flags uint8) cstate {
	s := cstate(0)
	if fromLo {
		s = origLo
	}
	switch proto {
	case packet.ProtoTCP:
		switch {
		case flags&packet.TCPRst != 0:
			return s.with(Close)
		case flags&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn|packet.TCPAck:
			return (s ^ origLo).with(SynRecv)
		case flags&packet.TCPSyn != 0:
			return s.with(SynSent)
		case flags&packet.TCPFin != 0:
			return s.withFin(fromLo).with(FinWait)
		}
		return s.with(Established)
	case packet.ProtoUDP:
		return s.with(UDPUnreplied)
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return s.with(ICMP)
	}
	return s.with(Other)
}

// next returns the state after a packet from the Lo side if fromLo, with the
// given TCP flags (ignored unless the flow is TCP).
//
// TCP, with the flags classified in Linux's order (RST, then SYN or SYN-ACK,
// then FIN, then ACK): RST closes from any state; the responder's SYN-ACK (or
// SYN, in a simultaneous open) moves SYN_SENT to SYN_RECV; the originator's
// ACK moves SYN_RECV to ESTABLISHED; a FIN from either side moves SYN_RECV or
// ESTABLISHED to FIN_WAIT; then the other side's ACK moves FIN_WAIT to
// CLOSE_WAIT, and its FIN moves FIN_WAIT or CLOSE_WAIT to LAST_ACK; the first
// closer's ACK moves LAST_ACK to TIME_WAIT. Anything else leaves the state as
// it is (Linux would ignore or invalidate it; here the packet still belongs
// to the flow and refreshes its timer).
//
// UDP: a packet from the responder moves UDP_UNREPLIED to UDP_REPLIED, and
// any packet after that makes a UDP_STREAM.
func (s cstate) next(fromLo bool, flags uint8) cstate {
	k := s.kind()
	switch k {
	case UDPUnreplied:
		if !s.isFrom(origLo, fromLo) {
			return s.with(UDPReplied)
		}
		return s
	case UDPReplied:
		return s.with(UDPStream)
	case UDPStream, ICMP, Other:
		return s
	}
	switch {
	case flags&packet.TCPRst != 0:
		return s.with(Close)
	case flags&packet.TCPSyn != 0:
		if k == SynSent && !s.isFrom(origLo, fromLo) {
			return s.with(SynRecv)
		}
	case flags&packet.TCPFin != 0:
		switch {
		case k == SynRecv || k == Established:
			return s.withFin(fromLo).with(FinWait)
		case (k == FinWait || k == CloseWait) && !s.isFrom(finLo, fromLo):
			return s.with(LastAck)
		}
	case flags&packet.TCPAck != 0:
		switch {
		case k == SynRecv && s.isFrom(origLo, fromLo):
			return s.with(Established)
		case k == FinWait && !s.isFrom(finLo, fromLo):
			return s.with(CloseWait)
		case k == LastAck && s.isFrom(finLo, fromLo):
			return s.with(TimeWait)
		}
	}
	return s
}

// steady reports, cheaply, that a packet with these flags leaves state s
// as it is: most packets, which then skip next. UDPStream, ICMP and Other
// are the last States and never change.
func (s cstate) steady(flags uint8) bool {
	k := s.kind()
	return k == Established && flags&(packet.TCPSyn|packet.TCPFin|packet.TCPRst) == 0 || k >= UDPStream
}

// reopens reports whether a packet with these TCP flags, hitting an entry in
// state s, opens a new connection on the same tuple rather than belonging to
// the entry: a SYN without ACK on a TIME_WAIT or CLOSE entry.
func (s cstate) reopens(flags uint8) bool {
	k := s.kind()
	return flags&(packet.TCPSyn|packet.TCPAck|packet.TCPRst) == packet.TCPSyn && (k == TimeWait || k == Close)
}

// Timeouts are the idle timeouts of tracked flows, per state (spec §3.6).
// conntrack owns no defaults and checks no ranges: the model does (package
// lab holds AWS's defaults, the Policy values and the ranges AWS allows).
// Every field is used as given; one of zero or less expires the entries
// of its state at once.
type Timeouts struct {
	// Per ENI, settable in AWS (ConnectionTrackingConfiguration).
	TCPEstablished time.Duration // 60s..432000s, default 432000s (5 days)
	UDP            time.Duration // one direction or a single request/response: 30s..60s, default 30s
	UDPStream      time.Duration // more than one request/response: 60s..180s, default 180s

	// Policy: what AWS does not publish, as Linux nf_conntrack.
	TCPSynSent   time.Duration // 120s
	TCPSynRecv   time.Duration // 60s
	TCPFinWait   time.Duration // 120s
	TCPCloseWait time.Duration // 60s
	TCPTimeWait  time.Duration // 120s
	TCPLastAck   time.Duration // 30s
	TCPClose     time.Duration // 10s, after a RST
	ICMP         time.Duration // 30s
	Other        time.Duration // 600s, fixed by AWS for protocols other than TCP, UDP and ICMP
}

// timeoutTable holds the idle timeout of each State, in nanoseconds.
type timeoutTable [16]int64

func (t Timeouts) table() *timeoutTable {
	return &timeoutTable{
		SynSent:      int64(t.TCPSynSent),
		SynRecv:      int64(t.TCPSynRecv),
		Established:  int64(t.TCPEstablished),
		FinWait:      int64(t.TCPFinWait),
		CloseWait:    int64(t.TCPCloseWait),
		LastAck:      int64(t.TCPLastAck),
		TimeWait:     int64(t.TCPTimeWait),
		Close:        int64(t.TCPClose),
		UDPUnreplied: int64(t.UDP),
		UDPReplied:   int64(t.UDP),
		UDPStream:    int64(t.UDPStream),
		ICMP:         int64(t.ICMP),
		Other:        int64(t.Other),
	}
}
