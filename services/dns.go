package services

import (
	"net/netip"
	"strings"

	"github.com/vpclab/vpclab/labnet"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsTTL is the TTL of every answer, in seconds. The lab's addresses do
// not change while it runs.
const dnsTTL = 60

// Zone answers DNS queries for one lab's names (see the package doc). It
// is built once by New (or NewZone) and safe for concurrent use.
type Zone struct {
	names map[string]*dnsRecord          // lower-case, fully qualified (trailing dot)
	ptrs  map[netip.Addr]dnsmessage.Name // address → name
}

type dnsRecord struct {
	a, aaaa []netip.Addr
}

func newZone(d *directory) *Zone {
	z := &Zone{names: map[string]*dnsRecord{}, ptrs: map[netip.Addr]dnsmessage.Name{}}
	for _, in := range d.l.Instances {
		p := d.primary(in.Name)
		if p == nil {
			continue
		}
		r := &dnsRecord{a: []netip.Addr{p.IP}, aaaa: p.IPv6}
		name := strings.ToLower(in.Name)
		id := labnet.InstanceID(in.Name) + ".ec2.internal."
		z.names[name+"."] = r
		z.names[name+"."+labnet.Domain+"."] = r
		z.names[id] = r
		for _, e := range d.byInst[in.Name] {
			for _, a := range e.Addrs() {
				if a.Is4() {
					h := labnet.Hostname(a) + "."
					z.names[h] = &dnsRecord{a: []netip.Addr{a}}
					z.ptrs[a] = dnsmessage.MustNewName(h)
				} else {
					z.ptrs[a] = dnsmessage.MustNewName(id)
				}
			}
		}
	}
	return z
}

// Answer appends to buf the response to the DNS message req and returns
// it; ok is false when req deserves no response (it is itself a response,
// or too short to carry an ID). Only the first question is answered.
// Malformed questions get FORMERR, opcodes other than QUERY NOTIMP.
func (z *Zone) Answer(req, buf []byte) (resp []byte, ok bool) {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil || h.Response {
		return nil, false
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, Authoritative: true, RecursionDesired: h.RecursionDesired}
	if h.OpCode != 0 {
		rh.RCode = dnsmessage.RCodeNotImplemented
		return finish(dnsmessage.NewBuilder(buf, rh))
	}
	q, err := p.Question()
	if err != nil {
		rh.RCode = dnsmessage.RCodeFormatError
		return finish(dnsmessage.NewBuilder(buf, rh))
	}
	name := strings.ToLower(q.Name.String())
	rh.RCode = dnsmessage.RCodeNameError
	rr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: dnsTTL}
	var answers func(b *dnsmessage.Builder) error
	if r := z.names[name]; r != nil {
		rh.RCode = dnsmessage.RCodeSuccess
		answers = func(b *dnsmessage.Builder) error {
			switch q.Type {
			case dnsmessage.TypeA:
				for _, a := range r.a {
					if err := b.AResource(rr, dnsmessage.AResource{A: a.As4()}); err != nil {
						return err
					}
				}
			case dnsmessage.TypeAAAA:
				for _, a := range r.aaaa {
					if err := b.AAAAResource(rr, dnsmessage.AAAAResource{AAAA: a.As16()}); err != nil {
						return err
					}
				}
			}
			return nil
		}
	} else if a, isPTR := parseReverse(name); isPTR {
		if target, ok := z.ptrs[a]; ok {
			rh.RCode = dnsmessage.RCodeSuccess
			if q.Type == dnsmessage.TypePTR {
				answers = func(b *dnsmessage.Builder) error {
					return b.PTRResource(rr, dnsmessage.PTRResource{PTR: target})
				}
			}
		}
	}
	b := dnsmessage.NewBuilder(buf, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil {
		return nil, false
	}
	if answers != nil {
		if b.StartAnswers() != nil || answers(&b) != nil {
			return nil, false
		}
	}
	return finish(b)
}

// finish completes a message with no further sections.
func finish(b dnsmessage.Builder) ([]byte, bool) {
	m, err := b.Finish()
	return m, err == nil
}

// parseReverse returns the address a reverse-lookup name stands for:
// "10.1.0.10.in-addr.arpa." or the 32 nibbles under "ip6.arpa.". name is
// lower case and fully qualified.
func parseReverse(name string) (netip.Addr, bool) {
	if s, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		var b [4]byte
		for i := 3; i >= 0; i-- {
			var label string
			if i == 0 {
				label = s
			} else {
				var found bool
				if label, s, found = strings.Cut(s, "."); !found {
					return netip.Addr{}, false
				}
			}
			n := 0
			if len(label) == 0 || len(label) > 3 || (len(label) > 1 && label[0] == '0') {
				return netip.Addr{}, false
			}
			for _, c := range []byte(label) {
				if c < '0' || c > '9' {
					return netip.Addr{}, false
				}
				n = n*10 + int(c-'0')
			}
			if n > 255 {
				return netip.Addr{}, false
			}
			b[i] = byte(n)
		}
		return netip.AddrFrom4(b), true
	}
	if s, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		if len(s) != 63 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i := range 32 {
			c := s[2*i]
			if i < 31 && s[2*i+1] != '.' {
				return netip.Addr{}, false
			}
			var v byte
			switch {
			case c >= '0' && c <= '9':
				v = c - '0'
			case c >= 'a' && c <= 'f':
				v = c - 'a' + 10
			default:
				return netip.Addr{}, false
			}
			// Nibble i counts from the end of the address.
			k := 31 - i
			if k%2 == 0 {
				b[k/2] |= v << 4
			} else {
				b[k/2] |= v
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
