package reference

import (
	"net/netip"
	"time"

	"github.com/vpclab/vpclab/lab"
)

// Connection tracking (§3), as a plain map per ENI.

// flowKey identifies a flow the same way for a packet and its reply
// (§3.2): TCP and UDP by the 5-tuple; ICMP echo by the addresses and the
// identifier; other ICMP messages by the addresses, type and code (the
// conntrack package's reading: the spec names only echo); any other
// protocol by the addresses and the protocol. The two ends are stored in a
// fixed order, A before B, so that both directions give one key.
type flowKey struct {
	Proto        uint8
	A, B         netip.Addr // A ≤ B (by address, then port)
	APort, BPort uint16     // TCP and UDP: the ports of A and B
	Echo         bool       // ICMP or ICMPv6 echo request or reply
	ID           uint16     // echo: the identifier
	Type, Code   uint8      // another ICMP message: its type and code
}

// keyOf returns p's flow key.
func keyOf(p Packet) flowKey {
	k := flowKey{Proto: p.Proto, A: p.Src, B: p.Dst}
	switch {
	case p.Proto == 6 || p.Proto == 17:
		k.APort, k.BPort = p.SrcPort, p.DstPort
		if p.Dst.Less(p.Src) || (p.Dst == p.Src && p.DstPort < p.SrcPort) {
			k.A, k.B, k.APort, k.BPort = p.Dst, p.Src, p.DstPort, p.SrcPort
		}
		return k
	case isEcho(p):
		k.Echo, k.ID = true, p.ICMPID
	case p.Proto == 1 || p.Proto == 58:
		k.Type, k.Code = p.ICMPType, p.ICMPCode
	}
	if p.Dst.Less(p.Src) {
		k.A, k.B = p.Dst, p.Src
	}
	return k
}

// isEcho reports whether p is an ICMP echo request or reply (types 8 and 0)
// or an ICMPv6 one (128 and 129).
func isEcho(p Packet) bool {
	switch p.Proto {
	case 1:
		return p.ICMPType == 8 || p.ICMPType == 0
	case 58:
		return p.ICMPType == 128 || p.ICMPType == 129
	}
	return false
}

// isICMPError reports whether p is an ICMP error quoting another packet
// (§3.8): IPv4 types 3, 11, 12; IPv6 types 1 to 4.
func isICMPError(p Packet) bool {
	switch {
	case p.Proto == 1 && p.Src.Is4():
		return p.ICMPType == 3 || p.ICMPType == 11 || p.ICMPType == 12
	case p.Proto == 58 && p.Src.Is6():
		return p.ICMPType >= 1 && p.ICMPType <= 4
	}
	return false
}

// state is the tracking state of a flow; each has its idle timeout
// (timeout). The TCP states and their timeouts are Linux nf_conntrack's
// (§3.6 Policy); the transitions are the conntrack package's documented
// ones (see advance).
type state int

const (
	synSent state = iota + 1
	synRecv
	established
	finWait
	closeWait
	lastAck
	timeWait
	closed // after a RST
	udpUnreplied
	udpReplied
	udpStream
	icmpFlow
	otherFlow
)

// entry is one tracked flow on one ENI.
type entry struct {
	state state
	// origAddr and origPort are the end that opened the flow; the flow's
	// packets travel from it or to it.
	origAddr netip.Addr
	origPort uint16
	// finAddr and finPort are the end that sent the first FIN (TCP).
	finAddr netip.Addr
	finPort uint16
	// last is when the flow last passed this ENI.
	last time.Duration
}

// TCP flag bits.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

// ports returns the ports that tell a flow's ends apart: TCP and UDP ports,
// nothing for other protocols (their ends are the addresses).
func ports(p Packet) (src, dst uint16) {
	if p.Proto == 6 || p.Proto == 17 {
		return p.SrcPort, p.DstPort
	}
	return 0, 0
}

// newEntry returns the entry a flow gets from its first tracked packet p.
// The sender opened the flow, except that a TCP entry may start mid-flow
// (Linux's loose pick-up, as the conntrack package documents): a SYN-ACK
// starts SYN_RECV opened by the other end, a FIN starts FIN_WAIT, a RST
// starts CLOSE and any other segment without SYN starts ESTABLISHED.
func newEntry(p Packet, now time.Duration) *entry {
	sport, dport := ports(p)
	e := &entry{origAddr: p.Src, origPort: sport, last: now}
	switch p.Proto {
	case 6:
		f := p.TCPFlags
		switch {
		case f&tcpRST != 0:
			e.state = closed
		case f&tcpSYN != 0 && f&tcpACK != 0:
			e.state = synRecv
			e.origAddr, e.origPort = p.Dst, dport
		case f&tcpSYN != 0:
			e.state = synSent
		case f&tcpFIN != 0:
			e.state = finWait
			e.finAddr, e.finPort = p.Src, sport
		default:
			e.state = established
		}
	case 17:
		e.state = udpUnreplied
	case 1, 58:
		e.state = icmpFlow
	default:
		e.state = otherFlow
	}
	return e
}

// advance moves e on with packet p, a packet of the flow.
//
// UDP: a packet from the responder moves UNREPLIED to REPLIED, and any
// packet after that makes a STREAM (§3.6: a stream is more than one
// request/response).
//
// TCP, the flags read in Linux's order (RST, then SYN, then FIN, then ACK):
//
//	RST                                   any state  → CLOSE
//	SYN or SYN-ACK from the responder     SYN_SENT   → SYN_RECV
//	FIN                                   SYN_RECV, ESTABLISHED → FIN_WAIT (sender closed first)
//	FIN from the end that did not close   FIN_WAIT, CLOSE_WAIT  → LAST_ACK
//	ACK from the originator               SYN_RECV   → ESTABLISHED
//	ACK from the end that did not close   FIN_WAIT   → CLOSE_WAIT
//	ACK from the end that closed first    LAST_ACK   → TIME_WAIT
//
// Anything else leaves the state as it is.
func (e *entry) advance(p Packet) {
	sport, _ := ports(p)
	fromOrig := p.Src == e.origAddr && sport == e.origPort
	fromCloser := p.Src == e.finAddr && sport == e.finPort
	switch e.state {
	case udpUnreplied:
		if !fromOrig {
			e.state = udpReplied
		}
		return
	case udpReplied:
		e.state = udpStream
		return
	case udpStream, icmpFlow, otherFlow:
		return
	}
	f := p.TCPFlags
	switch {
	case f&tcpRST != 0:
		e.state = closed
	case f&tcpSYN != 0:
		if e.state == synSent && !fromOrig {
			e.state = synRecv
		}
	case f&tcpFIN != 0:
		switch {
		case e.state == synRecv || e.state == established:
			e.state = finWait
			e.finAddr, e.finPort = p.Src, sport
		case (e.state == finWait || e.state == closeWait) && !fromCloser:
			e.state = lastAck
		}
	case f&tcpACK != 0:
		switch {
		case e.state == synRecv && fromOrig:
			e.state = established
		case e.state == finWait && !fromCloser:
			e.state = closeWait
		case e.state == lastAck && fromCloser:
			e.state = timeWait
		}
	}
}

// reopens reports whether p, hitting entry e, opens a new connection on the
// same tuple instead of belonging to e: a SYN without ACK (or RST) on a
// TIME_WAIT or CLOSE entry, as Linux does.
func (e *entry) reopens(p Packet) bool {
	return p.Proto == 6 && p.TCPFlags&(tcpSYN|tcpACK|tcpRST) == tcpSYN &&
		(e.state == timeWait || e.state == closed)
}

// timeout returns the idle timeout of entry e on ENI eni (§3.6): the ENI's
// own TCP-established and UDP timeouts, the lab's Policy ones for the rest.
func (ev *Evaluator) timeout(e *entry, eni *lab.Interface) time.Duration {
	s := &ev.lab.Settings
	switch e.state {
	case synSent:
		return s.TCPSynSent
	case synRecv:
		return s.TCPSynRecv
	case established:
		return eni.Conntrack.TCPEstablished
	case finWait:
		return s.TCPFinWait
	case closeWait:
		return s.TCPCloseWait
	case lastAck:
		return s.TCPLastAck
	case timeWait:
		return s.TCPTimeWait
	case closed:
		return s.TCPClose
	case udpUnreplied, udpReplied:
		return eni.Conntrack.UDP
	case udpStream:
		return eni.Conntrack.UDPStream
	case icmpFlow:
		return s.ICMP
	}
	return s.Other
}

// isLive reports whether entry e of ENI eni is still live at now: it has
// been idle for less than its timeout.
//
// Reading: at exactly its timeout an entry has timed out (an entry with a
// 30 s timeout lasts 30 s), as in Linux, where a conntrack entry is expired
// once its timeout is reached.
func (ev *Evaluator) isLive(e *entry, eni *lab.Interface, now time.Duration) bool {
	return now-e.last < ev.timeout(e, eni)
}

// expire removes every entry that has timed out by now (§3.6). A flow idle
// past its timeout is no longer tracked: a later Apply that raises the
// timeout does not bring it back.
func (ev *Evaluator) expire(now time.Duration) {
	for id, t := range ev.tables {
		eni := ev.lab.Interface(id)
		for k, e := range t {
			if !ev.isLive(e, eni, now) {
				delete(t, k)
			}
		}
	}
}

// alive reports whether ENI eni has a live entry for key k, without
// touching it.
func (ev *Evaluator) alive(eni *lab.Interface, k flowKey, now time.Duration) bool {
	e := ev.tables[eni.ID][k]
	return e != nil && ev.isLive(e, eni, now)
}

// hit looks p's flow up on ENI eni. On a live entry that p does not reopen,
// it advances the entry with p, refreshes its idle timer and reports true
// (§3.1). The packet passed this ENI's stage, so the entry saw it, whatever
// later stages decide.
func (ev *Evaluator) hit(eni *lab.Interface, p Packet, now time.Duration) bool {
	e := ev.tables[eni.ID][keyOf(p)]
	if e == nil || !ev.isLive(e, eni, now) || e.reopens(p) {
		return false
	}
	e.advance(p)
	e.last = now
	return true
}

// newEntries returns how many entries tracking flow k on ENI eni adds to
// its instance's count: 0 when eni has a live entry for k (a reopened TCP
// connection replaces it), else 1.
func (ev *Evaluator) newEntries(eni *lab.Interface, k flowKey, now time.Duration) int {
	if ev.alive(eni, k, now) {
		return 0
	}
	return 1
}

// allowanceLeft returns how many more flows the instance may track at now
// (§3.7): its allowance minus the live entries of all its ENIs. Entries that
// have timed out are no longer tracked flows and do not count.
func (ev *Evaluator) allowanceLeft(instance string, now time.Duration) int {
	in := ev.lab.Instance(instance)
	used := 0
	for _, eni := range in.Interfaces {
		for _, e := range ev.tables[eni.ID] {
			if ev.isLive(e, eni, now) {
				used++
			}
		}
	}
	return in.ConntrackAllowance - used
}

// track records flow k on ENI eni with its first tracked packet p (§3.9:
// called only once p is delivered). An entry p reopens, or one that timed
// out, is replaced.
func (ev *Evaluator) track(eni *lab.Interface, k flowKey, p Packet, now time.Duration) {
	t := ev.tables[eni.ID]
	if t == nil {
		t = map[flowKey]*entry{}
		ev.tables[eni.ID] = t
	}
	t[k] = newEntry(p, now)
}
