package dataplane

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/conntrack"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
	"github.com/vpclab/vpclab/verdict"
)

// Snapshot is one compiled, immutable policy. The engine publishes it with
// an atomic pointer; the packet path reads it without locks.
type Snapshot struct {
	Lab *lab.Lab

	enis    []*eniPolicy // by slot; nil where the slot's ENI is gone
	subnets []*subnetPolicy
	dests   addrTable // every address the VPC itself answers for

	gen        uint32 // generation, for cached NACL verdicts
	stopped    *stopFlags
	vpc4, vpc6 netip.Prefix
	fragTTL    int64
	settings   lab.Settings
}

type destKind uint8

const (
	destENI destKind = iota + 1
	destService
	destBroadcast
)

type dest struct {
	kind   destKind
	slot   verdict.Port // destENI
	subnet int32        // subnet index of the ENI, or of the reserved address
}

type eniPolicy struct {
	id          string
	slot        verdict.Port
	subnet      int32
	addrs       []netip.Addr
	srcDstCheck bool
	groups      []string
	in, out     [2]*sg.Compiled // [0] IPv4, [1] IPv6
	table       *conntrack.Table
	allowance   *conntrack.Allowance
	pps         *PacketAllowance // the instance's, never nil
	// instanceTables are the tables of every ENI of the instance, which
	// share its allowance.
	instanceTables []*conntrack.Table
	// reclaimAfter is when, on the packets' clock, allowanceLeft may
	// reclaim expired entries again after one that left too few.
	reclaimAfter atomic.Int64
}

type subnetPolicy struct {
	id      string
	acl     string
	public  bool
	cidr4   netip.Prefix
	cidr6   netip.Prefix
	in, out [2]*nacl.Compiled
}

// state is what outlives snapshots: the ENIs' slots and conntrack tables,
// the instances' allowances.
type state struct {
	slots      map[string]verdict.Port
	tables     []*conntrack.Table // by slot
	allowances map[string]*conntrack.Allowance
	pps        map[string]*PacketAllowance
	// parts[id] is how many parts ENI id's table is to have
	// (Engine.PartitionTable); absent, one.
	parts map[string]int
}

func famIdx(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// Timeouts returns the conntrack timeouts of ENI e in lab l: its own
// per-ENI ones and the lab's settings, each zero field (a lab built in code
// rather than parsed) taking lab's default.
func Timeouts(l *lab.Lab, e *lab.Interface) conntrack.Timeouts {
	s, c := l.Settings, e.Conntrack
	ds, dc := lab.DefaultSettings(), lab.DefaultConntrackTimeouts()
	or := func(v, def time.Duration) time.Duration {
		if v <= 0 {
			return def
		}
		return v
	}
	return conntrack.Timeouts{
		TCPEstablished: or(c.TCPEstablished, dc.TCPEstablished),
		UDP:            or(c.UDP, dc.UDP),
		UDPStream:      or(c.UDPStream, dc.UDPStream),
		TCPSynSent:     or(s.TCPSynSent, ds.TCPSynSent),
		TCPSynRecv:     or(s.TCPSynRecv, ds.TCPSynRecv),
		TCPFinWait:     or(s.TCPFinWait, ds.TCPFinWait),
		TCPCloseWait:   or(s.TCPCloseWait, ds.TCPCloseWait),
		TCPTimeWait:    or(s.TCPTimeWait, ds.TCPTimeWait),
		TCPLastAck:     or(s.TCPLastAck, ds.TCPLastAck),
		TCPClose:       or(s.TCPClose, ds.TCPClose),
		ICMP:           or(s.ICMP, ds.ICMP),
		Other:          or(s.Other, ds.Other),
	}
}

// compile builds a snapshot of l. It assigns slots and creates tables in
// st for new ENIs but changes nothing that a running snapshot reads: the
// caller publishes the result, then calls commit.
func compile(l *lab.Lab, st *state) (*Snapshot, *pending) {
	s := &Snapshot{
		Lab:      l,
		vpc4:     l.VPC.CIDR,
		vpc6:     l.VPC.IPv6CIDR,
		fragTTL:  int64(l.Settings.FragmentTimeout / time.Nanosecond),
		settings: l.Settings,
	}
	p := &pending{}
	dests := map[netip.Addr]dest{}
	subnetIdx := map[string]int32{}
	for i, sn := range l.Subnets {
		subnetIdx[sn.ID] = int32(i)
		acl := l.ACL(sn.NetworkACL)
		sp := &subnetPolicy{id: sn.ID, acl: acl.ID, public: sn.Public, cidr4: sn.CIDR, cidr6: sn.IPv6CIDR}
		for f, fam := range []int{4, 6} {
			sp.in[f] = nacl.Compile(fam, acl.Ingress)
			sp.out[f] = nacl.Compile(fam, acl.Egress)
		}
		s.subnets = append(s.subnets, sp)
		for _, c := range []netip.Prefix{sn.CIDR, sn.IPv6CIDR} {
			if !c.IsValid() {
				continue
			}
			a := c.Addr()
			for k := 0; k < 4; k++ { // network, router, DNS, reserved
				dests[a] = dest{kind: destService, subnet: int32(i)}
				a = a.Next()
			}
			dests[lastAddr(c)] = dest{kind: destBroadcast, subnet: int32(i)}
		}
	}
	for _, a := range serviceAddrs(l) {
		if _, ok := dests[a]; !ok {
			dests[a] = dest{kind: destService, subnet: -1}
		}
	}

	res := lab.NewResolver(l)
	compiled := map[string]*[2][2]*sg.Compiled{} // by group set
	for _, inst := range l.Instances {
		a := st.allowances[inst.Name]
		if a == nil {
			a = conntrack.NewAllowance(inst.ConntrackAllowance)
			p.allowances = append(p.allowances, namedAllowance{inst.Name, a})
		} else {
			p.resize = append(p.resize, resize{a, inst.ConntrackAllowance})
		}
		pa := st.pps[inst.Name]
		if pa == nil {
			pa = NewPacketAllowance(inst.PPSAllowance)
			p.pps = append(p.pps, namedPPS{inst.Name, pa})
		} else {
			p.rerate = append(p.rerate, rerate{pa, inst.PPSAllowance})
		}
		var tables []*conntrack.Table
		var eps []*eniPolicy
		for _, e := range inst.Interfaces {
			slot, ok := st.slots[e.ID]
			var table *conntrack.Table
			parts := conntrack.PartCount(st.parts[e.ID])
			switch {
			case ok && st.tables[slot].Parts() != parts && st.tables[slot].Len() == 0:
				// Repartitioned before its first flow: a new table.
				table = conntrack.NewPartitionedTable(a, Timeouts(l, e), parts)
				p.replace = append(p.replace, namedTable{e.ID, slot, table})
			case ok:
				table = st.tables[slot]
				p.retime = append(p.retime, retime{table, Timeouts(l, e), a})
			default:
				slot = verdict.Port(len(st.tables) + len(p.tables))
				table = conntrack.NewPartitionedTable(a, Timeouts(l, e), parts)
				p.tables = append(p.tables, namedTable{e.ID, slot, table})
			}
			key := groupSetKey(e.SecurityGroups)
			c := compiled[key]
			if c == nil {
				var groups []*sg.Group
				for _, id := range e.SecurityGroups {
					groups = append(groups, l.Group(id))
				}
				c = &[2][2]*sg.Compiled{}
				for f, fam := range []int{4, 6} {
					c[0][f] = sg.Compile(fam, verdict.Ingress, groups, res)
					c[1][f] = sg.Compile(fam, verdict.Egress, groups, res)
				}
				compiled[key] = c
			}
			ep := &eniPolicy{
				id:          e.ID,
				slot:        slot,
				subnet:      subnetIdx[e.Subnet],
				addrs:       e.Addrs(),
				srcDstCheck: e.SourceDestCheck,
				groups:      e.SecurityGroups,
				in:          c[0],
				out:         c[1],
				table:       table,
				allowance:   a,
				pps:         pa,
			}
			for int(slot) >= len(s.enis) {
				s.enis = append(s.enis, nil)
			}
			s.enis[slot] = ep
			tables = append(tables, table)
			eps = append(eps, ep)
			for _, addr := range ep.addrs {
				dests[addr] = dest{kind: destENI, slot: slot, subnet: ep.subnet}
			}
		}
		for _, ep := range eps {
			ep.instanceTables = tables
		}
	}
	s.dests = newAddrTable(dests)
	// ENIs that are gone: their tables are flushed when the snapshot is
	// committed.
	for id, slot := range st.slots {
		if int(slot) >= len(s.enis) || s.enis[slot] == nil || s.enis[slot].id != id {
			p.gone = append(p.gone, slot)
		}
	}
	return s, p
}

// pending holds the changes to state that a compiled snapshot needs; they
// are applied only once the snapshot is accepted.
type pending struct {
	tables     []namedTable // new slots
	replace    []namedTable // empty tables of existing slots, repartitioned
	allowances []namedAllowance
	resize     []resize
	retime     []retime
	gone       []verdict.Port
	pps        []namedPPS
	rerate     []rerate
}

type namedPPS struct {
	name string
	a    *PacketAllowance
}
type rerate struct {
	a   *PacketAllowance
	pps int
}

type namedTable struct {
	id    string
	slot  verdict.Port
	table *conntrack.Table
}
type namedAllowance struct {
	name string
	a    *conntrack.Allowance
}
type resize struct {
	a   *conntrack.Allowance
	max int
}
type retime struct {
	t  *conntrack.Table
	to conntrack.Timeouts
	a  *conntrack.Allowance
}

func (p *pending) commit(st *state, now int64) {
	for _, t := range p.tables {
		st.slots[t.id] = t.slot
		st.tables = append(st.tables, t.table)
	}
	for _, t := range p.replace {
		st.tables[t.slot] = t.table
	}
	for _, a := range p.allowances {
		st.allowances[a.name] = a.a
	}
	for _, r := range p.resize {
		r.a.SetMax(r.max)
	}
	if st.pps == nil {
		st.pps = map[string]*PacketAllowance{}
	}
	for _, a := range p.pps {
		st.pps[a.name] = a.a
	}
	for _, r := range p.rerate {
		r.a.SetRate(r.pps)
	}
	for _, r := range p.retime {
		// Retire what has expired under the old timeouts first, so that
		// longer ones do not bring it back (§3.6).
		r.t.Expire(now, r.t.Len()+1)
		r.t.SetTimeouts(r.to)
		r.t.SetAllowance(r.a)
	}
	for _, slot := range p.gone {
		st.tables[slot].Flush()
		for id, s := range st.slots {
			if s == slot {
				delete(st.slots, id)
				delete(st.parts, id)
			}
		}
	}
}

func groupSetKey(ids []string) string {
	k := ""
	for _, id := range ids {
		k += id + "\x00"
	}
	return k
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
