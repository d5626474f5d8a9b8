package ec2api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/ec2"
)

// Namespace is the XML namespace of EC2's responses, of the API version
// vpclab speaks.
const Namespace = "http://ec2.amazonaws.com/doc/" + Version + "/"

// Version is the EC2 API version of the responses (every SDK and the CLI
// send it).
const Version = "2016-11-15"

// newRequestID returns a request id as AWS's: a random UUID.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Error is a refused call: EC2's error code, its message, and the HTTP
// status EC2 answers it with.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// statusOf is the HTTP status EC2 answers an error code with: 400 for a
// refused request unless listed.
func statusOf(code string) int {
	switch code {
	case "AuthFailure":
		return http.StatusUnauthorized
	case "UnauthorizedOperation", "OptInRequired", "Blocked":
		return http.StatusForbidden
	case "DryRunOperation":
		return http.StatusPreconditionFailed
	case "InternalError":
		return http.StatusInternalServerError
	case "Unavailable", "ServiceUnavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// errorResponse is EC2's error envelope.
type errorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Errors    []xmlErr `xml:"Errors>Error"`
	RequestID string   `xml:"RequestID"`
}

type xmlErr struct {
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// stsErrorResponse is STS's (the Query protocol's) error envelope.
type stsErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil { // our types always marshal
		status = http.StatusInternalServerError
		b, _ = xml.Marshal(errorResponse{Errors: []xmlErr{{"InternalError", "encoding the response failed: " + err.Error()}}})
	}
	b = append([]byte(xml.Header), b...)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// meta is what every response carries; each response's type embeds it
// first, so requestId leads, as in EC2's.
type meta struct {
	RequestID string `xml:"requestId"`
}

func (m *meta) setRequestID(id string) { m.RequestID = id }

// body is a response's type: its fields are the members of the action's
// response element.
type body interface{ setRequestID(string) }

// writeResponse answers action's success: <ActionResponse xmlns=…>
// with the request id and the members of b.
func writeResponse(w http.ResponseWriter, action, requestID string, b body) {
	b.setRequestID(requestID)
	var buf strings.Builder
	buf.WriteString(xml.Header)
	e := xml.NewEncoder(&buf)
	err := e.EncodeElement(b, xml.StartElement{Name: xml.Name{Local: action + "Response"},
		Attr: []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: Namespace}}})
	if err == nil {
		err = e.Close()
	}
	if err != nil { // our types always marshal
		writeXML(w, http.StatusInternalServerError, errorResponse{Errors: []xmlErr{{"InternalError", "encoding the response failed: " + err.Error()}}, RequestID: requestID})
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, buf.String())
}

// returnResponse is the response of the calls that answer true.
type returnResponse struct {
	meta
	Return bool `xml:"return"`
}

// The shapes of EC2's XML, as its responses spell them: lower camel case,
// lists as <name><item>…</item></name>.

type xmlIpRange struct {
	CidrIp      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type xmlIpv6Range struct {
	CidrIpv6    string `xml:"cidrIpv6"`
	Description string `xml:"description,omitempty"`
}

type xmlPrefixListId struct {
	PrefixListId string `xml:"prefixListId"`
	Description  string `xml:"description,omitempty"`
}

type xmlGroupPair struct {
	UserId      string `xml:"userId,omitempty"`
	GroupId     string `xml:"groupId"`
	GroupName   string `xml:"groupName,omitempty"`
	VpcId       string `xml:"vpcId,omitempty"`
	Description string `xml:"description,omitempty"`
}

type xmlIpPermission struct {
	IpProtocol    string            `xml:"ipProtocol"`
	FromPort      *int              `xml:"fromPort,omitempty"`
	ToPort        *int              `xml:"toPort,omitempty"`
	Groups        []xmlGroupPair    `xml:"groups>item"`
	IpRanges      []xmlIpRange      `xml:"ipRanges>item"`
	Ipv6Ranges    []xmlIpv6Range    `xml:"ipv6Ranges>item"`
	PrefixListIds []xmlPrefixListId `xml:"prefixListIds>item"`
}

// permissionXML is p as EC2 shows it: without ports for a protocol that
// has none (-1, 47, …), as EC2 answers.
func permissionXML(p ec2.IpPermission, account string) xmlIpPermission {
	out := xmlIpPermission{IpProtocol: p.IpProtocol, FromPort: p.FromPort, ToPort: p.ToPort}
	if proto, ok := ec2.ParseAPIProtocol(p.IpProtocol); ok && !ec2.PortsMatter(proto) && !ec2.ICMPMatters(proto) {
		out.FromPort, out.ToPort = nil, nil
	}
	for _, g := range p.UserIdGroupPairs {
		out.Groups = append(out.Groups, xmlGroupPair{UserId: account, GroupId: g.GroupId, Description: g.Description})
	}
	for _, r := range p.IpRanges {
		out.IpRanges = append(out.IpRanges, xmlIpRange(r))
	}
	for _, r := range p.Ipv6Ranges {
		out.Ipv6Ranges = append(out.Ipv6Ranges, xmlIpv6Range(r))
	}
	for _, r := range p.PrefixListIds {
		out.PrefixListIds = append(out.PrefixListIds, xmlPrefixListId(r))
	}
	return out
}

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}
