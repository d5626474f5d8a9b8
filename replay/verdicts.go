package replay

import (
	"bufio"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/vpclab/vpclab/dataplane"
	"github.com/vpclab/vpclab/packet"
	"github.com/vpclab/vpclab/pcap"
	"github.com/vpclab/vpclab/verdict"
)

// VerdictRecord is one line of the verdicts output (Options.Verdicts),
// the form to decode it into. Fields that do not apply are left out.
type VerdictRecord struct {
	// Index is the frame number in the capture, counting from 1 (as
	// Wireshark numbers frames); Time the capture timestamp (RFC 3339).
	Index int64  `json:"index"`
	Time  string `json:"time"`
	// From and To are the ports the packet entered and was routed to:
	// an ENI id, "internet", "vpc-service", or "-" when unknown.
	From string `json:"from"`
	To   string `json:"to"`
	// Src, Dst, Proto, Sport, Dport, ICMPType and ICMPCode are what the
	// parser read; Length is the IP packet's length on the wire.
	Src      string `json:"src,omitempty"`
	Dst      string `json:"dst,omitempty"`
	Proto    int    `json:"proto"`
	Sport    *int   `json:"sport,omitempty"`
	Dport    *int   `json:"dport,omitempty"`
	ICMPType *int   `json:"icmp_type,omitempty"`
	ICMPCode *int   `json:"icmp_code,omitempty"`
	Length   int    `json:"length"`
	// Allowed, Stage and Code are the verdict (verdict.Stage and
	// verdict.Code names); Parse the parser's reason (packet.Reason
	// name) when the packet was malformed.
	Allowed bool   `json:"allowed"`
	Stage   string `json:"stage"`
	Code    string `json:"code"`
	Parse   string `json:"parse,omitempty"`
	// ENI is the ENI whose security group or conntrack table decided.
	ENI string `json:"eni,omitempty"`
	// ACL and NACLRule name the deciding network-ACL entry.
	ACL      string `json:"acl,omitempty"`
	NACLRule int    `json:"nacl_rule,omitempty"`
	// SG, SGDir, SGRuleIndex (the rule's position in the group's list,
	// from 0, as policy tests count) and SGRuleID name the security-group
	// rule that matched. SGDir is set exactly when a rule matched.
	SG          string `json:"sg,omitempty"`
	SGDir       string `json:"sg_dir,omitempty"`
	SGRuleIndex int    `json:"sg_rule_index"`
	SGRuleID    string `json:"sg_rule_id,omitempty"`
}

// verdictWriter encodes VerdictRecords by hand, appending to one reused
// buffer, so that writing a verdict allocates nothing.
type verdictWriter struct {
	w    *bufio.Writer
	snap *dataplane.Snapshot
	buf  []byte
	p    packet.Parsed
}

func newVerdictWriter(w io.Writer, snap *dataplane.Snapshot) *verdictWriter {
	return &verdictWriter{w: bufio.NewWriterSize(w, 64<<10), snap: snap, buf: make([]byte, 0, 512)}
}

func (vw *verdictWriter) write(fr *pcap.Frame, v *verdict.Verdict) error {
	p := &vw.p
	p.Decode(fr.Data) // fills what it can read even when it fails
	b := vw.buf[:0]
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, fr.Number, 10)
	b = append(b, `,"time":"`...)
	b = time.Unix(0, fr.Time).UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendField(b, "from", vw.snap.PortName(v.From))
	b = appendField(b, "to", vw.snap.PortName(v.To))
	if p.Src.IsValid() {
		b = append(b, `,"src":"`...)
		b = p.Src.AppendTo(b)
		b = append(b, '"')
	}
	if p.Dst.IsValid() {
		b = append(b, `,"dst":"`...)
		b = p.Dst.AppendTo(b)
		b = append(b, '"')
	}
	b = appendInt(b, "proto", int(p.Proto))
	if p.HasPorts {
		b = appendInt(b, "sport", int(p.SrcPort))
		b = appendInt(b, "dport", int(p.DstPort))
	}
	if p.HasICMP {
		b = appendInt(b, "icmp_type", int(p.ICMPType))
		b = appendInt(b, "icmp_code", int(p.ICMPCode))
	}
	b = appendInt(b, "length", fr.Length)
	b = append(b, `,"allowed":`...)
	b = strconv.AppendBool(b, v.Allowed)
	b = appendField(b, "stage", v.Stage.String())
	b = appendField(b, "code", v.Code.String())
	if v.Code == verdict.CodeMalformed {
		b = appendField(b, "parse", v.Parse.String())
	}
	if v.ENI != "" {
		b = appendField(b, "eni", v.ENI)
	}
	if v.ACL != "" && (v.Stage == verdict.StageNACLEgress || v.Stage == verdict.StageNACLIngress) {
		b = appendField(b, "acl", v.ACL)
		b = appendInt(b, "nacl_rule", v.NACLRule)
	}
	if r := v.SG; r != nil {
		b = appendField(b, "sg", r.Group)
		b = appendField(b, "sg_dir", r.Dir.String())
		b = appendInt(b, "sg_rule_index", r.Index)
		if r.ID != "" {
			b = appendField(b, "sg_rule_id", r.ID)
		}
	}
	b = append(b, "}\n"...)
	vw.buf = b
	_, err := vw.w.Write(b)
	return err
}

func appendInt(b []byte, key string, n int) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, int64(n), 10)
}

func appendField(b []byte, key, val string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, val)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		case c < utf8.RuneSelf:
			b = append(b, c)
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		i++
	}
	return append(b, '"')
}
