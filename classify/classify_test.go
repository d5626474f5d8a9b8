package classify

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vpclab/vpclab/internal/classbench"
)

// linear is the reference for Match: its definition, read rule by rule.
func linear(family int, rules []Rule, proto uint8, addr netip.Addr, val uint16) int {
	for i, r := range rules {
		if (r.Proto == -1 || r.Proto == int(proto)) && r.Lo <= val && val <= r.Hi && inPrefixes(family, r.Prefixes, addr) {
			return i
		}
	}
	return -1
}

// inPrefixes reports whether addr is in one of the prefixes of the family.
func inPrefixes(family int, prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Addr().Is4() == (family == 4) && p.Contains(addr) {
			return true
		}
	}
	return false
}

// packet is one lookup.
type packet struct {
	proto uint8
	addr  netip.Addr
	val   uint16
}

func (p packet) String() string {
	return fmt.Sprintf("proto %d addr %v val %d", p.proto, p.addr, p.val)
}

// protos are the protocols random rules and packets draw from: the ones
// with a meaning, the edges, and out-of-range values rules may carry.
var protos = []int{-1, -1, -1, 0, 1, 6, 6, 17, 17, 47, 58, 255, -2, 256}

// randRules returns n rules over a few base addresses per family, so that
// prefixes nest, overlap and share edges, with every length, both families
// (and IPv4-mapped IPv6) mixed in one rule, protocols from protos, and full,
// single-value, random, edge and inverted ranges.
func randRules(rng *rand.Rand, n int) []Rule {
	bases := []netip.Addr{
		netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("10.1.200.77"),
		netip.MustParseAddr("192.168.255.255"), netip.MustParseAddr("0.0.0.0"),
		netip.MustParseAddr("255.255.255.255"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8:0:ffff:ffff:ffff:ffff:ffff"),
		netip.MustParseAddr("::"), netip.MustParseAddr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
		netip.MustParseAddr("::ffff:10.1.2.3"),
	}
	rules := make([]Rule, n)
	for i := range rules {
		r := &rules[i]
		for range rng.IntN(4) {
			var p netip.Prefix // one in 20 stays invalid
			if rng.IntN(20) != 0 {
				base := bases[rng.IntN(len(bases))]
				if rng.IntN(4) == 0 {
					base = randAddr(rng, base.Is4())
				}
				p = netip.PrefixFrom(base, rng.IntN(base.BitLen()+1)) // host bits kept
			}
			r.Prefixes = append(r.Prefixes, p)
		}
		r.Proto = protos[rng.IntN(len(protos))]
		switch x := uint16(rng.Uint32()); rng.IntN(10) {
		case 0, 1, 2:
			r.Lo, r.Hi = 0, 65535
		case 3, 4:
			r.Lo, r.Hi = x, x
		case 5:
			r.Lo, r.Hi = 0, x
		case 6:
			r.Lo, r.Hi = x, 65535
		case 7:
			r.Lo, r.Hi = x, x-1 // inverted unless x is 0
		default:
			r.Lo, r.Hi = x, x+uint16(rng.IntN(2000))
			if r.Hi < r.Lo {
				r.Hi = 65535
			}
		}
	}
	return rules
}

// deepRules returns n TCP or any-protocol rules, each for one random prefix
// at least half the address long and a short port range, so that they
// rarely overlap and the first match of a packet near rule i is mostly
// rule i, however large i is.
func deepRules(rng *rand.Rand, n int) []Rule {
	rules := make([]Rule, n)
	for i := range rules {
		a := randAddr(rng, rng.IntN(2) == 0)
		p := netip.PrefixFrom(a, a.BitLen()/2+rng.IntN(a.BitLen()/2+1))
		lo := uint16(rng.Uint32())
		rules[i] = Rule{Prefixes: []netip.Prefix{p}, Proto: []int{-1, 6}[rng.IntN(2)], Lo: lo, Hi: lo + uint16(rng.IntN(10))}
		if rules[i].Hi < lo {
			rules[i].Hi = 65535
		}
	}
	return rules
}

func randAddr(rng *rand.Rand, v4 bool) netip.Addr {
	var a [16]byte
	for i := range a {
		a[i] = byte(rng.Uint32())
	}
	if v4 {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(a)
}

// lastAddr returns the last address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(a)
	return last
}

// nearPacket returns a packet near the edges of a random rule: an address
// at, inside or one past an end of one of its prefixes, a value at Lo-1,
// Lo, Hi, Hi+1 or inside, and its protocol; or, now and then, anything.
// It also hands the classifier of one family addresses of the other,
// including IPv4-mapped IPv6 ones.
func nearPacket(rng *rand.Rand, family int, rules []Rule) packet {
	var pk packet
	pk.proto = uint8(protos[rng.IntN(len(protos))])
	pk.val = uint16(rng.Uint32())
	pk.addr = randAddr(rng, family == 4)
	if len(rules) > 0 && rng.IntN(8) != 0 {
		r := rules[rng.IntN(len(rules))]
		if r.Proto >= 0 && r.Proto <= 255 && rng.IntN(4) != 0 {
			pk.proto = uint8(r.Proto)
		}
		switch rng.IntN(6) {
		case 0:
			pk.val = r.Lo - 1
		case 1:
			pk.val = r.Lo
		case 2:
			pk.val = r.Hi
		case 3:
			pk.val = r.Hi + 1
		case 4:
			if r.Lo <= r.Hi {
				pk.val = r.Lo + uint16(rng.IntN(int(r.Hi-r.Lo)+1))
			}
		}
		if len(r.Prefixes) > 0 {
			p := r.Prefixes[rng.IntN(len(r.Prefixes))]
			if p.IsValid() {
				first, last := p.Masked().Addr(), lastAddr(p)
				switch rng.IntN(5) {
				case 0:
					pk.addr = first
				case 1:
					pk.addr = first.Prev()
				case 2:
					pk.addr = last
				case 3:
					pk.addr = last.Next()
				default:
					pk.addr = inside(rng, p)
				}
			}
		}
	}
	if rng.IntN(10) == 0 {
		switch a := pk.addr; {
		case a.Is4():
			pk.addr = netip.AddrFrom16(a.As16()) // IPv4-mapped IPv6
		case a.Is4In6():
			pk.addr = a.Unmap()
		}
	}
	return pk
}

// inside returns a random address of p.
func inside(rng *rand.Rand, p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().AsSlice()
	r := randAddr(rng, false).As16()
	for i := p.Bits(); i < len(a)*8; i++ {
		a[i/8] |= r[i/8] & (0x80 >> (i % 8))
	}
	addr, _ := netip.AddrFromSlice(a)
	return addr
}

// linearMarked is the reference for MatchMarked's second answer: whether
// any matching rule is marked.
func linearMarked(family int, rules []Rule, proto uint8, addr netip.Addr, val uint16) bool {
	for _, r := range rules {
		if r.Mark && (r.Proto == -1 || r.Proto == int(proto)) && r.Lo <= val && val <= r.Hi && inPrefixes(family, r.Prefixes, addr) {
			return true
		}
	}
	return false
}

// check compares Compile(family, rules) against linear on packets and
// returns how many of them matched a rule. It marks some of the rules (one
// in every seven, none or all of them, depending on the set's size) and
// checks MatchMarked against linearMarked too.
func check(t *testing.T, name string, family int, rules []Rule, packets []packet) (matched int) {
	t.Helper()
	rules = slices.Clone(rules)
	for i := range rules {
		switch len(rules) % 3 {
		case 0:
			rules[i].Mark = i%7 == 3
		case 1:
			rules[i].Mark = true
		}
	}
	c := Compile(family, rules)
	if c.Len() != len(rules) {
		t.Fatalf("%s: Len() = %d, want %d", name, c.Len(), len(rules))
	}
	bad := 0
	for _, pk := range packets {
		got, want := c.Match(pk.proto, pk.addr, pk.val), linear(family, rules, pk.proto, pk.addr, pk.val)
		first, marked := c.MatchMarked(pk.proto, pk.addr, pk.val)
		if wantMarked := linearMarked(family, rules, pk.proto, pk.addr, pk.val); first != want || marked != wantMarked {
			t.Errorf("%s: IPv%d %v: MatchMarked = %d, %v, want %d, %v", name, family, pk, first, marked, want, wantMarked)
		}
		if got == want {
			if got >= 0 {
				matched++
			}
			continue
		}
		t.Errorf("%s: IPv%d %v: Match = %d, want %d", name, family, pk, got, want)
		for _, i := range []int{got, want} {
			if i >= 0 {
				t.Logf("  rule %d: %+v", i, rules[i])
			}
		}
		if bad++; bad == 5 {
			t.Fatalf("%s: giving up", name)
		}
	}
	return matched
}

// TestRandom is the differential test over random rule sets of every size
// from 0 to 300 and packets aimed at the rules' edges; then over deep
// rules followed by random ones, for tables of more than 4096 rules
// (several summary words) that matches reach all the way down.
func TestRandom(t *testing.T) {
	matched, total := 0, 0
	for n := range 302 {
		rng := rand.New(rand.NewPCG(uint64(n), 1))
		var rules []Rule
		if n <= 300 {
			rules = randRules(rng, n)
		} else {
			rules = append(deepRules(rng, 20000), randRules(rng, 300)...)
		}
		for _, family := range []int{4, 6} {
			packets := make([]packet, 300)
			for i := range packets {
				packets[i] = nearPacket(rng, family, rules)
			}
			matched += check(t, fmt.Sprintf("%d random rules (seed %d)", len(rules), n), family, rules, packets)
			total += len(packets)
		}
	}
	// Guard the test itself: packets that miss everything prove nothing.
	if matched < total/5 {
		t.Errorf("only %d of %d packets matched a rule", matched, total)
	}
}

// classbenchDir holds the ClassBench files the repository carries (their
// origin and licences: testdata/external/README.md).
const classbenchDir = "../testdata/external/classbench"

// loadClassBench maps a ClassBench file to rules as the tests use them:
// the peer is the source prefix, the value the destination port range.
func loadClassBench(tb testing.TB, name string) []Rule {
	tb.Helper()
	cb, err := classbench.Load(filepath.Join(classbenchDir, name))
	if err != nil {
		tb.Fatalf("%v (the repository carries them in testdata/external)", err)
	}
	rules := make([]Rule, len(cb))
	for i, r := range cb {
		rules[i] = Rule{Prefixes: []netip.Prefix{r.Src}, Proto: r.Proto, Lo: r.DstLo, Hi: r.DstHi}
	}
	return rules
}

// TestClassBench is the differential test over every ClassBench file.
func TestClassBench(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(classbenchDir, "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ClassBench files under %s (%v): the repository carries them in testdata/external", classbenchDir, err)
	}
	for _, path := range files {
		name, _ := filepath.Rel(classbenchDir, path)
		rules := loadClassBench(t, name)
		rng := rand.New(rand.NewPCG(uint64(len(rules)), 2))
		// About 20M rule visits by the reference per file.
		packets := make([]packet, min(4000, 20_000_000/len(rules)))
		for i := range packets {
			packets[i] = nearPacket(rng, 4, rules)
		}
		if matched := check(t, name, 4, rules, packets); matched < len(packets)/2 {
			t.Errorf("%s: only %d of %d packets matched a rule", name, matched, len(packets))
		}
	}
}

// TestFamilies pins the family rules: IPv4 is 4-byte, an IPv4-mapped IPv6
// address is IPv6, and prefixes of the other family are ignored.
func TestFamilies(t *testing.T) {
	rules := []Rule{
		{Prefixes: []netip.Prefix{netip.MustParsePrefix("::ffff:0:0/96")}, Proto: -1, Hi: 65535},
		{Prefixes: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}, Proto: -1, Hi: 65535},
	}
	v4, v6 := Compile(4, rules), Compile(6, rules)
	for _, tc := range []struct {
		c    *Classifier
		addr string
		want int
	}{
		{v4, "10.0.0.1", 1},
		{v4, "::ffff:10.0.0.1", -1},
		{v4, "2001:db8::1", -1},
		{v6, "::ffff:10.0.0.1", 0},
		{v6, "2001:db8::1", 1},
		{v6, "10.0.0.1", -1},
		{v6, "fe80::1%eth0", 1}, // the zone is ignored
	} {
		if got := tc.c.Match(6, netip.MustParseAddr(tc.addr), 80); got != tc.want {
			t.Errorf("IPv%d Match(%s) = %d, want %d", tc.c.family, tc.addr, got, tc.want)
		}
	}
	if got := v4.Match(6, netip.Addr{}, 80); got != -1 {
		t.Errorf("Match of the zero Addr = %d, want -1", got)
	}
}

// TestShape asserts which lookup Compile picks for the data it is given.
func TestShape(t *testing.T) {
	all4 := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0")}
	rule := func(proto int, prefix string, lo, hi uint16) Rule {
		return Rule{Prefixes: []netip.Prefix{netip.MustParsePrefix(prefix)}, Proto: proto, Lo: lo, Hi: hi}
	}
	tcpRules := func(n int) []Rule {
		rs := make([]Rule, n)
		for i := range rs {
			rs[i] = rule(6, fmt.Sprintf("10.0.%d.0/24", i), uint16(i), uint16(i))
		}
		return rs
	}
	for _, tc := range []struct {
		name  string
		rules []Rule
		want  map[uint8]Shape // the rest of the protocols: ShapeNone
	}{
		{"no rules", nil, nil},
		{"no rule of the family", []Rule{rule(-1, "::/0", 0, 65535)}, nil},
		{"rules that cannot match", []Rule{{Proto: -1, Hi: 65535}, {Prefixes: all4, Proto: 6, Lo: 2, Hi: 1}, {Prefixes: all4, Proto: 256, Hi: 65535}}, nil},
		{"one TCP rule", []Rule{rule(6, "10.0.0.0/8", 22, 22)}, map[uint8]Shape{6: ShapeWord}},
		{"64 TCP rules", tcpRules(64), map[uint8]Shape{6: ShapeWord}},
		{"65 TCP rules", tcpRules(65), map[uint8]Shape{6: ShapeBitmap}},
		{"65 TCP rules and one UDP rule", append(tcpRules(65), rule(17, "10.0.0.0/8", 53, 53)), map[uint8]Shape{6: ShapeBitmap, 17: ShapeWord}},
	} {
		c := Compile(4, tc.rules)
		for p := range 256 {
			if got, want := c.Shape(uint8(p)), tc.want[uint8(p)]; got != want {
				t.Errorf("%s: Shape(%d) = %v, want %v", tc.name, p, got, want)
			}
		}
	}

	// One any-protocol rule: every protocol shares one table, whose
	// dimensions have one interval each, so neither searches.
	c := Compile(4, []Rule{{Prefixes: all4, Proto: -1, Hi: 65535}})
	for p := range 256 {
		if got := c.Shape(uint8(p)); got != ShapeWord {
			t.Fatalf("any-protocol rule: Shape(%d) = %v, want word", p, got)
		}
	}
	if tb := c.tables[c.byProto[6]]; len(c.tables) != 1 || len(tb.addr4) != 1 || len(tb.val) != 1 {
		t.Errorf("any-protocol rule: %d tables, %d address and %d value intervals; want 1, 1, 1",
			len(c.tables), len(tb.addr4), len(tb.val))
	}
}

func TestShapeString(t *testing.T) {
	for s, want := range map[Shape]string{ShapeNone: "none", ShapeWord: "word", ShapeBitmap: "bitmap", 7: "Shape(7)"} {
		if got := s.String(); got != want {
			t.Errorf("Shape(%d).String() = %q, want %q", s, got, want)
		}
	}
}

func TestCompileBadFamily(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Compile(5, nil) did not panic")
		}
	}()
	Compile(5, nil)
}

// TestMatchAllocs asserts that Match never allocates, whatever the shape
// and family.
func TestMatchAllocs(t *testing.T) {
	rules := loadClassBench(t, "neurocuts/acl1_10k")
	rules = append(rules, randRules(rand.New(rand.NewPCG(1, 1)), 100)...)
	rng := rand.New(rand.NewPCG(3, 3))
	for _, family := range []int{4, 6} {
		for _, rs := range [][]Rule{nil, rules[len(rules)-10:], rules} {
			c := Compile(family, rs)
			packets := make([]packet, 64)
			for i := range packets {
				packets[i] = nearPacket(rng, family, rs)
			}
			i := 0
			if n := testing.AllocsPerRun(1000, func() {
				pk := packets[i%len(packets)]
				c.Match(pk.proto, pk.addr, pk.val)
				i++
			}); n != 0 {
				t.Errorf("IPv%d, %d rules: Match allocates %v times per call", family, len(rs), n)
			}
		}
	}
}

// TestFixed covers the tables whose answer is the same for every packet
// (every rule covers all addresses and values: an allow-all ACL, an
// all-traffic rule), which Match answers without searching: one and 65
// such rules (ShapeWord and ShapeBitmap), marked or not, first or later,
// with a protocol of their own or any.
func TestFixed(t *testing.T) {
	all4, all6 := netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")
	every := func(proto int, mark bool) Rule {
		return Rule{Prefixes: []netip.Prefix{all4, all6}, Proto: proto, Hi: 65535, Mark: mark}
	}
	many := func(n int, mark func(int) bool) []Rule {
		rs := make([]Rule, n)
		for i := range rs {
			rs[i] = every(6, mark(i))
		}
		return rs
	}
	sets := map[string][]Rule{
		"one, unmarked":              {every(-1, false)},
		"one, marked":                {every(-1, true)},
		"marked second":              {every(6, false), every(-1, true)},
		"tcp only":                   {every(6, true)},
		"65, none marked":            many(65, func(int) bool { return false }),
		"65, the last marked":        many(65, func(i int) bool { return i == 64 }),
		"65, the first marked":       many(65, func(i int) bool { return i == 0 }),
		"200, one in the third word": many(200, func(i int) bool { return i == 150 }),
	}
	pkts := []packet{
		{6, netip.MustParseAddr("10.0.0.1"), 80},
		{17, netip.MustParseAddr("203.0.113.9"), 0},
		{1, netip.MustParseAddr("255.255.255.255"), 0x0800},
		{6, netip.MustParseAddr("2001:db8::1"), 65535},
		{6, netip.MustParseAddr("::ffff:10.0.0.1"), 22},
		{6, netip.Addr{}, 22},
	}
	for name, rs := range sets {
		for _, family := range []int{4, 6} {
			c := Compile(family, rs)
			for _, pk := range pkts {
				first, marked := c.MatchMarked(pk.proto, pk.addr, pk.val)
				want, wantMarked := linear(family, rs, pk.proto, pk.addr, pk.val), linearMarked(family, rs, pk.proto, pk.addr, pk.val)
				if got := c.Match(pk.proto, pk.addr, pk.val); got != want || first != want || marked != wantMarked {
					t.Errorf("%s, IPv%d, %v: Match = %d, MatchMarked = %d, %v; want %d, %v", name, family, pk, got, first, marked, want, wantMarked)
				}
			}
		}
	}
}
