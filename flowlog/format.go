package flowlog

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// field is one field of a flow log record (AWS's "Available fields").
type field uint8

// The fields, in the order of AWS's table: versions 2 to 5.
const (
	fVersion field = iota
	fAccountID
	fInterfaceID
	fSrcAddr
	fDstAddr
	fSrcPort
	fDstPort
	fProtocol
	fPackets
	fBytes
	fStart
	fEnd
	fAction
	fLogStatus
	// Version 3.
	fVPCID
	fSubnetID
	fInstanceID
	fTCPFlags
	fType
	fPktSrcAddr
	fPktDstAddr
	// Version 4.
	fRegion
	fAZID
	fSublocationType
	fSublocationID
	// Version 5.
	fPktSrcAWSService
	fPktDstAWSService
	fFlowDirection
	fTrafficPath
	numFields
)

// fieldInfo is a field's name in a format string and the flow log version
// that introduced it.
var fieldInfo = [numFields]struct {
	name    string
	version int
}{
	fVersion:          {"version", 2},
	fAccountID:        {"account-id", 2},
	fInterfaceID:      {"interface-id", 2},
	fSrcAddr:          {"srcaddr", 2},
	fDstAddr:          {"dstaddr", 2},
	fSrcPort:          {"srcport", 2},
	fDstPort:          {"dstport", 2},
	fProtocol:         {"protocol", 2},
	fPackets:          {"packets", 2},
	fBytes:            {"bytes", 2},
	fStart:            {"start", 2},
	fEnd:              {"end", 2},
	fAction:           {"action", 2},
	fLogStatus:        {"log-status", 2},
	fVPCID:            {"vpc-id", 3},
	fSubnetID:         {"subnet-id", 3},
	fInstanceID:       {"instance-id", 3},
	fTCPFlags:         {"tcp-flags", 3},
	fType:             {"type", 3},
	fPktSrcAddr:       {"pkt-srcaddr", 3},
	fPktDstAddr:       {"pkt-dstaddr", 3},
	fRegion:           {"region", 4},
	fAZID:             {"az-id", 4},
	fSublocationType:  {"sublocation-type", 4},
	fSublocationID:    {"sublocation-id", 4},
	fPktSrcAWSService: {"pkt-src-aws-service", 5},
	fPktDstAWSService: {"pkt-dst-aws-service", 5},
	fFlowDirection:    {"flow-direction", 5},
	fTrafficPath:      {"traffic-path", 5},
}

// DefaultFormat is AWS's default format: the version 2 fields in order.
const DefaultFormat = "${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} ${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status}"

// Format is a parsed log format: the fields of a record, in order, and the
// version AWS writes for them.
type Format struct {
	fields  []field
	version int
}

// ParseFormat parses an AWS log format string: fields written ${name},
// separated by spaces. "" is DefaultFormat. Every field of versions 2 to 5
// is known; an unknown or repeated field is an error naming it.
func ParseFormat(s string) (*Format, error) {
	if strings.TrimSpace(s) == "" {
		s = DefaultFormat
	}
	f := &Format{}
	var seen [numFields]bool
	for _, tok := range strings.Fields(s) {
		name, ok := strings.CutPrefix(tok, "${")
		if ok {
			name, ok = strings.CutSuffix(name, "}")
		}
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not a field: write each field as ${name}, such as ${srcaddr}", tok)
		}
		fd, known := lookupField(name)
		if !known {
			return nil, fmt.Errorf("unknown field ${%s}: the fields are %s", name, fieldNames())
		}
		if seen[fd] {
			return nil, fmt.Errorf("field ${%s} is given twice", name)
		}
		seen[fd] = true
		f.fields = append(f.fields, fd)
		f.version = max(f.version, fieldInfo[fd].version)
	}
	return f, nil
}

func lookupField(name string) (field, bool) {
	for i := range numFields {
		if fieldInfo[i].name == name {
			return i, true
		}
	}
	return 0, false
}

func fieldNames() string {
	names := make([]string, numFields)
	for i := range numFields {
		names[i] = fieldInfo[i].name
	}
	return strings.Join(names, ", ")
}

// Version returns the version AWS writes in records of this format: the
// highest version among its fields (2 for the default format).
func (f *Format) Version() int { return f.version }

// Fields returns the field names, in order.
func (f *Format) Fields() []string {
	out := make([]string, len(f.fields))
	for i, fd := range f.fields {
		out[i] = fieldInfo[fd].name
	}
	return out
}

// String returns the format in AWS's syntax.
func (f *Format) String() string {
	var b strings.Builder
	for i, fd := range f.fields {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("${")
		b.WriteString(fieldInfo[fd].name)
		b.WriteByte('}')
	}
	return b.String()
}

// Header returns the line AWS writes first in each log file it delivers to
// Amazon S3: the field names separated by spaces.
func (f *Format) Header() string { return strings.Join(f.Fields(), " ") }

// The log statuses.
const (
	statusOK = iota
	statusSkipData
	statusNoData
)

var statusNames = [...]string{statusOK: "OK", statusSkipData: "SKIPDATA", statusNoData: "NODATA"}

// record is one flow log record before formatting. For NODATA and SKIPDATA
// records only the ENI, start and end are set.
type record struct {
	eni            *eniInfo
	status         uint8
	egress, reject bool
	src, dst       netip.Addr // as the packets carry them
	sport, dport   uint16
	proto          uint8
	tcpFlags       uint8
	packets, bytes uint64
	start, end     int64 // Unix seconds
	trafficPath    uint8 // 0 when none applies
	late           bool  // written after its interval was closed
}

// The traffic-path values this dataplane produces (AWS: 1 through another
// resource in the same VPC, 8 through an internet gateway from a
// Nitro-based instance, which every current instance type is).
const (
	pathNone     = 0
	pathSameVPC  = 1
	pathInternet = 8
)

// appendRecord formats r in format f with account and region, and a
// newline. Values AWS would leave empty are "-".
func (f *Format) appendRecord(b []byte, r *record, account, region string) []byte {
	data := r.status == statusOK
	for i, fd := range f.fields {
		if i > 0 {
			b = append(b, ' ')
		}
		switch fd {
		case fVersion:
			b = strconv.AppendInt(b, int64(f.version), 10)
		case fAccountID:
			b = append(b, account...)
		case fInterfaceID:
			b = append(b, r.eni.id...)
		case fSrcAddr, fDstAddr:
			if !data {
				b = append(b, '-')
				break
			}
			b = r.addr(fd == fSrcAddr).AppendTo(b)
		case fPktSrcAddr:
			b = appendAddr(b, data, r.src)
		case fPktDstAddr:
			b = appendAddr(b, data, r.dst)
		case fSrcPort:
			b = appendUint(b, data, uint64(r.sport))
		case fDstPort:
			b = appendUint(b, data, uint64(r.dport))
		case fProtocol:
			b = appendUint(b, data, uint64(r.proto))
		case fPackets:
			b = appendUint(b, data, r.packets)
		case fBytes:
			b = appendUint(b, data, r.bytes)
		case fStart:
			b = strconv.AppendInt(b, r.start, 10)
		case fEnd:
			b = strconv.AppendInt(b, r.end, 10)
		case fAction:
			switch {
			case !data:
				b = append(b, '-')
			case r.reject:
				b = append(b, "REJECT"...)
			default:
				b = append(b, "ACCEPT"...)
			}
		case fLogStatus:
			b = append(b, statusNames[r.status]...)
		case fVPCID:
			b = appendString(b, r.eni.vpc)
		case fSubnetID:
			b = appendString(b, r.eni.subnet)
		case fInstanceID:
			b = appendString(b, r.eni.instance)
		case fTCPFlags:
			b = appendUint(b, data, uint64(r.tcpFlags))
		case fType:
			switch {
			case !data:
				b = append(b, '-')
			case r.src.Is4():
				b = append(b, "IPv4"...)
			default:
				b = append(b, "IPv6"...)
			}
		case fRegion:
			b = appendString(b, region)
		case fAZID:
			b = appendString(b, r.eni.azID)
		case fSublocationType, fSublocationID, fPktSrcAWSService, fPktDstAWSService:
			// No sublocations (Local Zones, Wavelength, Outposts) in a
			// lab, and no address of it is in AWS's published ranges.
			b = append(b, '-')
		case fFlowDirection:
			switch {
			case !data:
				b = append(b, '-')
			case r.egress:
				b = append(b, "egress"...)
			default:
				b = append(b, "ingress"...)
			}
		case fTrafficPath:
			b = appendUint(b, data && r.egress && r.trafficPath != pathNone, uint64(r.trafficPath))
		}
	}
	return append(b, '\n')
}

// addr returns the srcaddr (src true) or dstaddr of a record. AWS shows the
// interface's own side as its primary private IPv4 address for IPv4
// traffic, whichever of its addresses (or, with the source/destination
// check off, whatever address) the packet carries; pkt-srcaddr and
// pkt-dstaddr show the packet's. IPv6 traffic shows the packet's address.
func (r *record) addr(src bool) netip.Addr {
	own := src == r.egress // the ENI's side of the packet
	a := r.dst
	if src {
		a = r.src
	}
	if own && a.Is4() && r.eni.primary.IsValid() {
		return r.eni.primary
	}
	return a
}

func appendAddr(b []byte, ok bool, a netip.Addr) []byte {
	if !ok {
		return append(b, '-')
	}
	return a.AppendTo(b)
}

func appendUint(b []byte, ok bool, v uint64) []byte {
	if !ok {
		return append(b, '-')
	}
	return strconv.AppendUint(b, v, 10)
}

func appendString(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return append(b, s...)
}
