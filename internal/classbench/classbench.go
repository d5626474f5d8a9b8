// Package classbench reads ClassBench filter sets: the synthetic 5-tuple
// rule files that packet-classification papers benchmark against. The
// classifier's tests and benchmarks use them as realistic, large rule sets.
//
// One rule per line, highest priority first:
//
//	@<src>/<len> <dst>/<len> <sport lo> : <sport hi> <dport lo> : <dport hi> <proto>/<mask> [<flags>/<mask>]
//
// Fields are separated by tabs or spaces; a trailing tab, a CR before the
// newline and blank lines are accepted, so the dialects in circulation (with
// or without the TCP-flags field, Unix or DOS line ends) all parse. Anything
// else is an error naming the line. Parsing is strict past that: a protocol
// mask other than 0x00 or 0xFF, an inverted port range or an unknown extra
// field is rejected, not guessed at.
package classbench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// Rule is one filter of a ClassBench file.
type Rule struct {
	// Src and Dst are the source and destination blocks, host bits cleared.
	Src, Dst netip.Prefix
	// SrcLo..SrcHi and DstLo..DstHi are the inclusive source and
	// destination port ranges.
	SrcLo, SrcHi, DstLo, DstHi uint16
	// Proto is the IP protocol number, or -1 when the file's protocol mask
	// is 0 (any protocol).
	Proto int
}

// Error reports a line that could not be parsed.
type Error struct {
	// File is the path given to Load, or empty for Parse.
	File string
	// Line is the 1-based line number.
	Line int
	// Msg says what is wrong with the line.
	Msg string
}

// Error formats the error as "classbench: file:line: msg", or
// "classbench: line N: msg" when there is no file name.
func (e *Error) Error() string {
	if e.File != "" {
		return fmt.Sprintf("classbench: %s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("classbench: line %d: %s", e.Line, e.Msg)
}

// Load reads the ClassBench file at path.
func Load(path string) ([]Rule, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rules, err := Parse(f)
	if e, ok := errors.AsType[*Error](err); ok {
		e.File = path
	}
	return rules, err
}

// Parse reads ClassBench rules from r, in file order (priority order).
// Syntax errors are returned as *Error; read errors as they come.
func Parse(r io.Reader) ([]Rule, error) {
	var rules []Rule
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		rule, msg := parseLine(line)
		if msg != "" {
			return nil, &Error{Line: n, Msg: msg}
		}
		rules = append(rules, rule)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return rules, nil
}

// parseLine parses one non-blank line, returning a message when it is bad.
func parseLine(line string) (Rule, string) {
	var r Rule
	rest, ok := strings.CutPrefix(line, "@")
	if !ok {
		return r, "line does not start with '@'"
	}
	// The port ranges carry spaces ("0 : 65535"): split on all white
	// space and expect the colons as tokens of their own.
	f := strings.Fields(rest)
	if len(f) != 9 && len(f) != 10 {
		return r, fmt.Sprintf("want 9 or 10 fields (src dst sport dport proto [flags]), got %d", len(f))
	}
	var msg string
	if r.Src, msg = parsePrefix("source", f[0]); msg != "" {
		return r, msg
	}
	if r.Dst, msg = parsePrefix("destination", f[1]); msg != "" {
		return r, msg
	}
	if r.SrcLo, r.SrcHi, msg = parseRange("source", f[2:5]); msg != "" {
		return r, msg
	}
	if r.DstLo, r.DstHi, msg = parseRange("destination", f[5:8]); msg != "" {
		return r, msg
	}
	v, m, ok := parseMasked(f[8], 8)
	switch {
	case !ok:
		return r, fmt.Sprintf("bad protocol %q: want value/mask", f[8])
	case m == 0xff:
		r.Proto = int(v)
	case m == 0:
		r.Proto = -1
	default:
		return r, fmt.Sprintf("protocol mask %#x: want 0x00 or 0xFF", m)
	}
	// The TCP-flags field is checked but not kept: VPC filters never match
	// on flags.
	if len(f) == 10 {
		if _, _, ok := parseMasked(f[9], 16); !ok {
			return r, fmt.Sprintf("bad TCP flags %q: want value/mask", f[9])
		}
	}
	return r, ""
}

func parsePrefix(what, s string) (netip.Prefix, string) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, fmt.Sprintf("bad %s prefix %q", what, s)
	}
	return p.Masked(), ""
}

// parseRange parses the three tokens "lo", ":", "hi".
func parseRange(what string, f []string) (lo, hi uint16, msg string) {
	l, err1 := strconv.ParseUint(f[0], 10, 16)
	h, err2 := strconv.ParseUint(f[2], 10, 16)
	if f[1] != ":" || err1 != nil || err2 != nil {
		return 0, 0, fmt.Sprintf("bad %s port range %q: want lo : hi", what, strings.Join(f, " "))
	}
	if l > h {
		return 0, 0, fmt.Sprintf("%s port range %d : %d is inverted", what, l, h)
	}
	return uint16(l), uint16(h), ""
}

// parseMasked parses "value/mask", each a number of at most bits bits in
// Go syntax (0x06 or 6).
func parseMasked(s string, bits int) (v, m uint64, ok bool) {
	vs, ms, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, false
	}
	v, err1 := strconv.ParseUint(vs, 0, bits)
	m, err2 := strconv.ParseUint(ms, 0, bits)
	return v, m, err1 == nil && err2 == nil
}
