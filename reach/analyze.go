package reach

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/explain/describe"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/verdict"
)

// stage is one filtering stage of a request or its reply, its answer over
// the value space already painted (pieces: the deciding rule of each
// value).
type stage struct {
	stage verdict.Stage
	reply bool
	sg    *sgRules  // a security-group stage
	acl   *aclRules // a network-ACL stage
	same  bool      // both ends in one subnet: the NACL step that does not apply
	peer  netip.Addr
	ps    []piece
}

func (st *stage) pass(idx int32) bool {
	switch {
	case st.same:
		return true
	case st.sg != nil:
		return idx >= 0
	}
	return idx >= 0 && st.acl.entries[idx].allow
}

func (a *analyzer) sgStage(rs *sgRules, s verdict.Stage, proto uint8, peer netip.Addr) *stage {
	var cs []cover
	for i := range rs.rules {
		r := &rs.rules[i]
		if (r.proto == -1 || r.proto == int(proto)) && containsAny(r.prefixes, peer) {
			cs = append(cs, cover{r.lo, r.hi, int32(i)})
		}
	}
	return &stage{stage: s, sg: rs, peer: peer, ps: firstCover(cs, nil)}
}

func (a *analyzer) naclStage(ar *aclRules, s verdict.Stage, proto uint8, peer netip.Addr, reply bool) *stage {
	var cs []cover
	for i := range ar.entries {
		e := &ar.entries[i]
		if (e.proto == -1 || e.proto == int(proto)) && e.cidr.Contains(peer) {
			cs = append(cs, cover{e.lo, e.hi, int32(i)})
		}
	}
	return &stage{stage: s, acl: ar, peer: peer, reply: reply, ps: firstCover(cs, nil)}
}

func containsAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// valueMap takes a request's match value to its reply's: identity for the
// reply's own space (TCP and UDP replies are judged over source ports),
// an echo request's type and code to the echo reply's, anything to 0 for
// protocols without ports.
type valueMap struct {
	kind         uint8 // mapNone, mapEcho, mapZero
	reqT, replyT uint16
}

const (
	mapNone = iota // no reply in the request's space
	mapEcho
	mapZero
)

func (m valueMap) apply(v uint16) (uint16, bool) {
	switch m.kind {
	case mapEcho:
		if v>>8 == m.reqT {
			return m.replyT<<8 | v&0xff, true
		}
	case mapZero:
		return 0, true
	}
	return 0, false
}

// outcome is the decision of the stages over one range: the rule index
// each stage reached (-2 for one not reached or not applicable).
type outcome struct {
	lo, hi  uint16
	idx     []int32
	allowed bool
}

// evaluate decides every value of lo..hi (all of them when constant is
// false; the single value lo standing for the range when true) through
// req then rep (rep judged at the mapped value), and returns the ranges of
// one decision.
func evaluate(req, rep []*stage, m valueMap, lo, hi uint16, constant bool) []outcome {
	cuts := []uint16{lo}
	if !constant {
		for _, st := range req {
			for _, p := range st.ps {
				cuts = append(cuts, p.lo)
			}
		}
		if m.kind == mapEcho {
			cuts = append(cuts, m.reqT<<8)
			if m.reqT < 0xff {
				cuts = append(cuts, (m.reqT+1)<<8)
			}
			for _, st := range rep {
				for _, p := range st.ps {
					if p.lo>>8 == m.replyT {
						cuts = append(cuts, m.reqT<<8|p.lo&0xff)
					}
				}
			}
		}
		slices.Sort(cuts)
		cuts = slices.Compact(cuts)
	}
	var out []outcome
	for i, c := range cuts {
		if c < lo || c > hi {
			continue
		}
		end := hi
		if !constant && i+1 < len(cuts) && cuts[i+1]-1 < hi {
			end = cuts[i+1] - 1
		}
		o := outcome{lo: c, hi: end, idx: make([]int32, len(req)+len(rep)), allowed: true}
		for k := range o.idx {
			o.idx[k] = -2
		}
		for k, st := range req {
			o.idx[k] = at(st.ps, c)
			if !st.pass(o.idx[k]) {
				o.allowed = false
				break
			}
		}
		if v, ok := m.apply(c); ok && o.allowed {
			for k, st := range rep {
				o.idx[len(req)+k] = at(st.ps, v)
				if !st.pass(o.idx[len(req)+k]) {
					o.allowed = false
					break
				}
			}
		}
		if n := len(out); n > 0 && slices.Equal(out[n-1].idx, o.idx) && uint32(out[n-1].hi)+1 == uint32(o.lo) {
			out[n-1].hi = o.hi
			continue
		}
		out = append(out, o)
	}
	return out
}

// addrChoice is one address (or block of the internet) of an end.
type addrChoice struct {
	addr  netip.Addr // the address judged
	label []string   // how the path names it: the address, or the blocks
}

// paths returns the paths from s to d in family f.
func (a *analyzer) paths(s, d *Endpoint, f int, protos map[int]bool, ports Set) []*Path {
	if s.Kind != KindENI && d.Kind != KindENI {
		return nil
	}
	if s.Stopped || d.Stopped {
		return a.stopped(s, d, f, protos)
	}
	if (s.Kind != KindENI && !a.l.Subnets[d.subnet].Public) || (d.Kind != KindENI && !a.l.Subnets[s.subnet].Public) {
		return a.noGateway(s, d, f, protos)
	}
	var srcs, dsts []addrChoice
	switch {
	case s.Kind == KindInternet:
		dsts = a.ends(d, f)
		if len(dsts) > 0 {
			srcs = a.blocks(d, f)
		}
	case d.Kind == KindInternet:
		srcs = a.ends(s, f)
		if len(srcs) > 0 {
			dsts = a.blocks(s, f)
		}
	default:
		srcs, dsts = a.ends(s, f), a.ends(d, f)
	}
	var out []*Path
	seen := map[string]*Path{}
	w := &worder{a: a, f: f, internet: s.Kind == KindInternet || d.Kind == KindInternet}
	for _, sa := range srcs {
		for _, da := range dsts {
			fcs := a.calc(s, d, sa.addr, da.addr, f, protos)
			a.keyBuf = key(fcs, a.keyBuf)
			if p := seen[string(a.keyBuf)]; p != nil {
				p.Src = appendNew(p.Src, sa.label...)
				p.Dst = appendNew(p.Dst, da.label...)
				continue
			}
			p := &Path{From: s.Name, To: d.Name, Family: f, Src: slices.Clone(sa.label), Dst: slices.Clone(da.label), Flows: a.words(fcs, f, ports, w)}
			seen[string(a.keyBuf)] = p
			out = append(out, p)
		}
	}
	return out
}

func appendNew(list []string, xs ...string) []string {
	for _, x := range xs {
		if !slices.Contains(list, x) {
			list = append(list, x)
		}
	}
	return list
}

// ends returns an ENI's or a host's addresses of family f.
func (a *analyzer) ends(e *Endpoint, f int) []addrChoice {
	var out []addrChoice
	for _, x := range e.Addrs {
		if familyOf(x) == f {
			out = append(out, addrChoice{x, []string{x.String()}})
		}
	}
	return out
}

// noGateway is the path between the outside and an ENI whose subnet does
// not route to the internet gateway: every protocol stops at the route.
func (a *analyzer) noGateway(s, d *Endpoint, f int, protos map[int]bool) []*Path {
	eni := d
	if s.Kind == KindENI {
		eni = s
	}
	if len(a.ends(eni, f)) == 0 {
		return nil
	}
	label := func(e *Endpoint) []string {
		if e.Kind == KindInternet {
			if f == 6 {
				return []string{"::/0"}
			}
			return []string{"0.0.0.0/0"}
		}
		var l []string
		for _, c := range a.ends(e, f) {
			l = append(l, c.label...)
		}
		return l
	}
	p := &Path{From: s.Name, To: d.Name, Family: f, Src: label(s), Dst: label(d)}
	if len(p.Src) == 0 || len(p.Dst) == 0 {
		return nil
	}
	for _, n := range a.named[fi(f)] {
		if protos != nil && !protos[n] {
			continue
		}
		p.Flows = append(p.Flows, &Flow{Proto: ProtoName(n), Number: n, Request: []*Segment{{
			Range: All[0],
			Trail: []*Step{{Stage: verdict.StageRoute.String(), Code: verdict.CodeNoInternetGateway.String(),
				By: "subnet " + eni.Subnet + " has no route to the internet gateway (not public)"}},
		}}})
	}
	return []*Path{p}
}

// stopped is the path to or from a stopped instance: every protocol
// stops at the route, as the engine stops it (before any other check,
// the internet gateway's included).
func (a *analyzer) stopped(s, d *Endpoint, f int, protos map[int]bool) []*Path {
	eni := s
	if !s.Stopped {
		eni = d
	}
	var srcs, dsts []string
	for _, e := range []*Endpoint{s, d} {
		var l []string
		switch e.Kind {
		case KindInternet:
			l = []string{"0.0.0.0/0"}
			if f == 6 {
				l = []string{"::/0"}
			}
		default:
			for _, c := range a.ends(e, f) {
				l = append(l, c.label...)
			}
		}
		if len(l) == 0 {
			return nil
		}
		if e == s {
			srcs = l
		} else {
			dsts = l
		}
	}
	p := &Path{From: s.Name, To: d.Name, Family: f, Src: srcs, Dst: dsts}
	by := "instance " + eni.Instance + " is stopped: it sends and receives nothing"
	for _, n := range a.named[fi(f)] {
		if protos != nil && !protos[n] {
			continue
		}
		p.Flows = append(p.Flows, &Flow{Proto: ProtoName(n), Number: n, Request: []*Segment{{
			Range: All[0],
			Trail: []*Step{{Stage: verdict.StageRoute.String(), Code: verdict.CodeInstanceStopped.String(), ENI: eni.ENI, By: by}},
		}}})
	}
	return []*Path{p}
}

// flowCalc is one protocol's decision before it is put into words: the
// stages and the outcomes over the value space.
type flowCalc struct {
	n        int // protocol number, -1 for other
	req, rep []*stage
	request  []outcome
	reply    []outcome // TCP, UDP: over source ports
	replyIn  bool      // the reply's stages end the request's trails
}

// calc judges every protocol from address src of s to address dst of d.
func (a *analyzer) calc(s, d *Endpoint, src, dst netip.Addr, f int, protos map[int]bool) []flowCalc {
	var out []flowCalc
	same := s.Kind == KindENI && d.Kind == KindENI && s.subnet == d.subnet
	for _, n := range a.named[fi(f)] {
		if protos != nil && !protos[n] {
			continue
		}
		proto := uint8(n)
		if n == -1 {
			proto = a.otherRep
		}
		var req, rep []*stage
		if s.Kind == KindENI {
			req = append(req, a.sgStage(a.sgs[s.ENI][fi(f)][verdict.Egress], verdict.StageSGEgress, proto, dst))
		}
		if same {
			req = append(req, &stage{stage: verdict.StageNACLEgress, same: true, acl: a.acls[s.subnet][fi(f)][verdict.Egress], ps: []piece{{0, 0xffff, -1}}})
		} else {
			if s.Kind == KindENI {
				req = append(req, a.naclStage(a.acls[s.subnet][fi(f)][verdict.Egress], verdict.StageNACLEgress, proto, dst, false))
			}
			if d.Kind == KindENI {
				req = append(req, a.naclStage(a.acls[d.subnet][fi(f)][verdict.Ingress], verdict.StageNACLIngress, proto, src, false))
				rep = append(rep, a.naclStage(a.acls[d.subnet][fi(f)][verdict.Egress], verdict.StageNACLEgress, proto, src, true))
			}
			if s.Kind == KindENI {
				rep = append(rep, a.naclStage(a.acls[s.subnet][fi(f)][verdict.Ingress], verdict.StageNACLIngress, proto, dst, true))
			}
		}
		if d.Kind == KindENI {
			req = append(req, a.sgStage(a.sgs[d.ENI][fi(f)][verdict.Ingress], verdict.StageSGIngress, proto, src))
		}
		fc := flowCalc{n: n, req: req, rep: rep}
		switch proto {
		case packet.ProtoTCP, packet.ProtoUDP:
			fc.request = evaluate(req, nil, valueMap{}, 0, 0xffff, false)
			fc.reply = evaluate(rep, nil, valueMap{}, 0, 0xffff, false)
		case packet.ProtoICMP, packet.ProtoICMPv6:
			m := valueMap{kind: mapEcho, reqT: 8, replyT: 0}
			if proto == packet.ProtoICMPv6 {
				m.reqT, m.replyT = 128, 129
			}
			fc.request, fc.replyIn = evaluate(req, rep, m, 0, 0xffff, false), true
		default:
			fc.request, fc.replyIn = evaluate(req, rep, valueMap{kind: mapZero}, 0, 0xffff, true), true
		}
		out = append(out, fc)
	}
	return out
}

// key identifies the decisions of fcs: two address pairs with one key
// have the same flows, word for word (the words of an internet peer name
// no address), so they make one path.
func key(fcs []flowCalc, buf []byte) []byte {
	buf = buf[:0]
	put := func(os []outcome) {
		for _, o := range os {
			buf = append(buf, byte(o.lo>>8), byte(o.lo), byte(o.hi>>8), byte(o.hi))
			for _, i := range o.idx {
				buf = append(buf, byte(i>>8), byte(i))
			}
			buf = append(buf, 0xfe)
		}
		buf = append(buf, 0xff)
	}
	for _, fc := range fcs {
		buf = append(buf, byte(fc.n))
		put(fc.request)
		put(fc.reply)
	}
	return buf
}

// words puts calculated flows into explain's words.
func (a *analyzer) words(fcs []flowCalc, f int, ports Set, w *worder) []*Flow {
	var out []*Flow
	for _, fc := range fcs {
		fl := &Flow{Proto: ProtoName(fc.n), Number: fc.n}
		w.proto = fc.n
		var rep []*stage
		if fc.replyIn {
			rep = fc.rep
		}
		for _, o := range fc.request {
			fl.Request = append(fl.Request, w.segment(o, fc.req, rep))
		}
		if fc.n == packet.ProtoTCP || fc.n == packet.ProtoUDP {
			if ports != nil {
				fl.Request = clip(fl.Request, ports)
			}
			for _, o := range fc.reply {
				fl.Reply = append(fl.Reply, w.segment(o, fc.rep, nil))
			}
			if back := allowedSet(fl.Reply); len(back) > 0 {
				fl.Open, fl.SourcePorts = allowedSet(fl.Request), back
			}
		} else {
			fl.Open = allowedSet(fl.Request)
		}
		out = append(out, fl)
	}
	return out
}

func allowedSet(segs []*Segment) Set {
	var rs []Range
	for _, s := range segs {
		if s.Allowed {
			rs = append(rs, s.Range)
		}
	}
	return normalize(rs)
}

// clip keeps the parts of segments inside ports.
func clip(segs []*Segment, ports Set) []*Segment {
	var out []*Segment
	for _, s := range segs {
		for _, r := range (Set{s.Range}).Intersect(ports) {
			c := *s
			c.Range = r
			out = append(out, &c)
		}
	}
	return out
}

// worder puts outcomes into explain's words.
type worder struct {
	a        *analyzer
	proto    int // -1 for other
	f        int
	internet bool // one end is the internet: its peer is the path's blocks
}

func (w *worder) segment(o outcome, req, rep []*stage) *Segment {
	seg := &Segment{Range: Range{o.lo, o.hi}, Allowed: o.allowed, Trail: make([]*Step, 0, len(o.idx))}
	for k, i := range o.idx {
		if i == -2 {
			continue
		}
		st := req[min(k, len(req)-1)]
		if k >= len(req) {
			st = rep[k-len(req)]
		}
		seg.Trail = append(seg.Trail, w.step(st, i, Range{o.lo, o.hi}))
	}
	return seg
}

// step words one stage's decision. The steps of rules (all but a
// security group that allows nothing, whose words name the range and the
// peer) are made once and shared by every trail that holds them.
func (w *worder) step(st *stage, idx int32, r Range) *Step {
	var rules any = st.acl
	if st.sg != nil {
		rules = st.sg
	}
	k := stepKey{rules, st.stage, st.reply, st.same, idx}
	shared := st.sg == nil || idx >= 0
	if shared {
		if s, ok := w.a.steps[k]; ok {
			return s
		}
	}
	s := w.newStep(st, idx, r)
	if shared {
		w.a.steps[k] = s
	}
	return s
}

type stepKey struct {
	rules any
	stage verdict.Stage
	reply bool
	same  bool
	idx   int32
}

func (w *worder) newStep(st *stage, idx int32, r Range) *Step {
	s := &Step{Stage: st.stage.String(), Allowed: st.pass(idx), Reply: st.reply}
	l := w.a.l
	switch {
	case st.same:
		s.Code = verdict.CodeSameSubnet.String()
		s.ACL = st.acl.id
		s.By = "both ends in one subnet: its network ACL (" + describe.ACLName(st.acl.id) + ") does not apply"
	case st.acl != nil:
		s.ACL = st.acl.id
		s.NACLRule = st.acl.deny
		if idx >= 0 {
			s.NACLRule = st.acl.entries[idx].rule
		}
		s.Code = verdict.CodeNACLAllow.String()
		if !s.Allowed {
			s.Code = verdict.CodeSubnetACLRestrict.String()
		}
		k := wordKey{st.acl, idx}
		by, ok := w.a.naclWords[k]
		if !ok {
			by = describe.NACLEntry(l, st.acl.id, s.NACLRule, st.acl.dir == verdict.Egress, w.f)
			w.a.naclWords[k] = by
		}
		s.By = by
	case st.sg != nil:
		s.ENI = st.sg.eni
		if idx >= 0 {
			k := wordKey{st.sg, idx}
			r, ok := w.a.sgWords[k]
			if !ok {
				ref := st.sg.rules[idx].ref
				r = describe.Rule(l, ref.Group, ref.Dir.String(), ref.Index, ref.ID)
				w.a.sgWords[k] = r
				w.a.sgText[r] = r.String()
			}
			s.SGRule = r
			s.Code = verdict.CodeSGRuleMatch.String()
			s.By = w.a.sgText[r]
		} else {
			s.Code = verdict.CodeSGRulesMismatch.String()
			peer := "the internet addresses of this path"
			if !w.internet {
				peer = st.peer.String()
			}
			groups, ok := w.a.groupNames[st.sg.eni]
			if !ok {
				groups = strings.Join(l.Interface(st.sg.eni).SecurityGroups, ", ")
				w.a.groupNames[st.sg.eni] = groups
			}
			egress := st.sg.dir == verdict.Egress
			s.By = describe.NoSGRuleOf(groups, st.sg.eni, egress, w.traffic(r), peer)
			if !w.internet {
				peer = "{src}"
				if egress {
					peer = "{dst}"
				}
			}
			s.tmpl = describe.NoSGRuleOf(groups, st.sg.eni, egress, "{traffic}", peer)
		}
	}
	return s
}

// traffic words a protocol and value range: "tcp 1-79", "icmp type 8
// code 0-255", "proto 47".
func (w *worder) traffic(r Range) string {
	name := ProtoName(w.proto)
	switch w.proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		return name + " " + r.ports()
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return name + " " + (Set{r}).ICMP()
	case -1:
		return "protocol " + strconv.Itoa(int(w.a.otherRep)) + " (any protocol no rule names)"
	}
	return name
}
