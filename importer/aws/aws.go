package aws

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"unicode/utf16"

	"github.com/vpclab/vpclab/importer"
	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
)

// Options adjust an import.
type Options struct {
	// VPC is the id of the VPC to import when the input describes several.
	// Empty means the only one.
	VPC string
}

// Import reads the AWS CLI output files in dir (not its subdirectories)
// and returns the lab of the one VPC they describe, with the report of what
// was left out. See the package documentation.
func Import(dir string) (*lab.Lab, *importer.Report, error) {
	return ImportWith(dir, Options{})
}

// ImportWith is Import with options.
func ImportWith(dir string, o Options) (*lab.Lab, *importer.Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	files := map[string][]byte{}
	var skipped []string
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		info, err := os.Stat(name) // follows symbolic links
		if err != nil {
			return nil, nil, err
		}
		if !info.Mode().IsRegular() {
			skipped = append(skipped, name)
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		files[name] = data
	}
	l, rep, err := ImportFilesWith(files, o)
	if rep != nil {
		for _, name := range skipped {
			rep.Unsupportedf(name, "", "", "not a regular file: not read (the importer reads the files of %s, not its subdirectories)", dir)
		}
		rep.Sort()
	}
	return l, rep, err
}

// ImportFiles imports the given files, name → content, as Import does
// the files of a directory. Names appear in errors and in the report; a
// prefix list's id is taken from the name of its entries file.
func ImportFiles(files map[string][]byte) (*lab.Lab, *importer.Report, error) {
	return ImportFilesWith(files, Options{})
}

// ImportFilesWith is ImportFiles with options.
func ImportFilesWith(files map[string][]byte, o Options) (*lab.Lab, *importer.Report, error) {
	r := &run{opts: o, rep: &importer.Report{}, unknown: map[string]*unknownKey{}}
	for _, name := range sortedKeys(files) {
		r.readFile(&source{name: name, data: utf8Text(files[name])})
	}
	if err := r.errs.err(); err != nil {
		return nil, r.rep, err
	}
	l := r.build()
	if err := r.errs.err(); err != nil {
		return nil, r.rep, err
	}
	r.rep.Sort()
	return l, r.rep, nil
}

// item is one object of the input with where it was read.
type item[T any] struct {
	v   T
	src *source
	at  path // such as SecurityGroups[3]
}

// entriesFile is the output of get-managed-prefix-list-entries.
type entriesFile struct {
	src     *source
	listID  string
	entries []item[prefixListEntry]
}

// run is one import: the input as read, and the lab as it is built.
type run struct {
	opts Options
	rep  *importer.Report
	errs errorList

	// The input, in file-name order, then file order.
	vpcs         []item[vpc]
	subnets      []item[subnet]
	acls         []item[networkACL]
	groups       []item[securityGroup]
	groupRules   []item[securityGroupRule]
	prefixLists  []item[prefixList]
	entries      []entriesFile
	instances    []item[instance]
	interfaces   []item[networkInterface]
	routeTables  []item[routeTable]
	unknown      map[string]*unknownKey // by file and pattern
	unknownOrder []string

	// The lab as it is built.
	l     *lab.Lab
	state *buildState
}

// readFile reads one input file and files its objects by kind.
func (r *run) readFile(src *source) {
	trimmed := bytes.TrimSpace(src.data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if isJSONName(src.name) || (len(trimmed) > 0 && trimmed[0] == '[') {
			r.errs.list = append(r.errs.list, &yamlpos.Error{File: src.name, Line: 1, Column: 1,
				Msg: "not the output of an AWS CLI describe call: want a JSON object such as {\"SecurityGroups\": [...]} (run the CLI with --output json and without --query)"})
			return
		}
		r.rep.Unsupportedf(src.name, "", "", "not JSON: not read")
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(src.data, &top); err != nil {
		r.errs.list = append(r.errs.list, decodeError(src, "", err))
		return
	}
	for _, key := range sortedKeys(top) {
		raw := top[key]
		switch key {
		case "Vpcs":
			r.vpcs = append(r.vpcs, decodeItems[vpc](r, src, key, raw)...)
		case "Subnets":
			r.subnets = append(r.subnets, decodeItems[subnet](r, src, key, raw)...)
		case "NetworkAcls":
			r.acls = append(r.acls, decodeItems[networkACL](r, src, key, raw)...)
		case "SecurityGroups":
			r.groups = append(r.groups, decodeItems[securityGroup](r, src, key, raw)...)
		case "SecurityGroupRules":
			r.groupRules = append(r.groupRules, decodeItems[securityGroupRule](r, src, key, raw)...)
		case "PrefixLists":
			r.prefixLists = append(r.prefixLists, decodeItems[prefixList](r, src, key, raw)...)
		case "Entries":
			r.readEntries(src, raw)
		case "Reservations":
			for _, res := range decodeItems[reservation](r, src, key, raw) {
				for j, in := range res.v.Instances {
					r.instances = append(r.instances, item[instance]{v: in, src: src, at: res.at.key("Instances").index(j)})
				}
			}
		case "NetworkInterfaces":
			r.interfaces = append(r.interfaces, decodeItems[networkInterface](r, src, key, raw)...)
		case "RouteTables":
			r.routeTables = append(r.routeTables, decodeItems[routeTable](r, src, key, raw)...)
		case "NextToken":
			var token string
			if json.Unmarshal(raw, &token) == nil && token != "" {
				r.rep.Unsupportedf(src.name, "", key, "the output is one page of several (NextToken is set): the later pages are missing (run the CLI without --max-items and --no-paginate, and it fetches every page)")
			}
		default:
			r.otherKey(src, key, raw)
		}
	}
}

// utf8Text returns data as UTF-8 without a byte-order mark. The CLI's
// output redirected by Windows PowerShell 5 is UTF-16 with a mark, and
// some editors mark UTF-8.
func utf8Text(data []byte) []byte {
	var order binary.ByteOrder
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		order = binary.LittleEndian
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		order = binary.BigEndian
	default:
		return data
	}
	units := make([]uint16, (len(data)-2)/2)
	for i := range units {
		units[i] = order.Uint16(data[2+2*i:])
	}
	return []byte(string(utf16.Decode(units)))
}

// isJSONName reports whether a file's name says it holds JSON.
func isJSONName(name string) bool {
	return strings.EqualFold(filepath.Ext(name), ".json")
}

// decodeItems decodes the list under key of src into items of type T, and
// records the keys T does not know.
func decodeItems[T any](r *run, src *source, key string, raw json.RawMessage) []item[T] {
	var list []T
	// Most lists have no key the types leave out: decoded strictly, they
	// need no second reading to find those keys. Any error (an unknown
	// key or another) sends the list the long way, which reports as ever.
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if strict.Decode(&list) == nil && !strict.More() {
		return itemsOf(list, src, key)
	}
	list = nil
	if err := json.Unmarshal(raw, &list); err != nil {
		r.errs.list = append(r.errs.list, decodeError(src, key, err))
		return nil
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&generic) == nil {
		found := map[string]*unknownKey{}
		var order []string
		unknownKeys(reflect.TypeFor[[]T](), generic, path{key}, found, &order)
		for _, pattern := range order {
			u := found[pattern]
			id := src.name + "\x00" + pattern
			if prev := r.unknown[id]; prev != nil {
				prev.count += u.count
				continue
			}
			u.src, u.resource = src, resourceAt(generic, u.first[1:])
			r.unknown[id] = u
			r.unknownOrder = append(r.unknownOrder, id)
		}
	}
	return itemsOf(list, src, key)
}

// itemsOf returns the items of list, decoded from src's list key.
func itemsOf[T any](list []T, src *source, key string) []item[T] {
	items := make([]item[T], len(list))
	for i, v := range list {
		items[i] = item[T]{v: v, src: src, at: path{key, i}}
	}
	return items
}

// idKeys are the keys naming an object, most specific first.
var idKeys = []string{"SecurityGroupRuleId", "InstanceId", "NetworkInterfaceId", "GroupId",
	"NetworkAclId", "RouteTableId", "SubnetId", "PrefixListId", "VpcId", "ReservationId"}

// resourceAt names the object of the generic list v that holds the value
// at p: the list's item, or for describe-instances the instance.
func resourceAt(v any, p path) string {
	var name string
	for depth, step := range p {
		switch step := step.(type) {
		case int:
			items, _ := v.([]any)
			if step >= len(items) {
				return name
			}
			v = items[step]
			obj, _ := v.(map[string]any)
			if depth > 0 && obj["InstanceId"] == nil {
				continue
			}
			for _, k := range idKeys {
				if s, ok := obj[k].(string); ok && s != "" {
					name = s
					break
				}
			}
		case string:
			obj, _ := v.(map[string]any)
			v = obj[step]
		}
	}
	return name
}

// reportUnknown reports the keys no shape lists, one item per file and
// key pattern.
func (r *run) reportUnknown() {
	for _, id := range r.unknownOrder {
		u := r.unknown[id]
		times := ""
		if u.count > 1 {
			times = fmt.Sprintf(" (%d times in this file)", u.count)
		}
		r.rep.Unsupportedf(u.src.name, u.resource, u.pattern, "unknown key: not read%s", times)
	}
}

// plID finds a prefix-list id in a file name; plStem is a file name
// that is one whole (pl-office.json, for a list of a lab's naming).
var (
	plID   = regexp.MustCompile(`pl-[0-9a-fA-F]+`)
	plStem = regexp.MustCompile(`^pl-[A-Za-z0-9._-]+$`)
)

// readEntries reads the output of get-managed-prefix-list-entries, which
// does not say which list it describes: the file's name must.
func (r *run) readEntries(src *source, raw json.RawMessage) {
	items := decodeItems[prefixListEntry](r, src, "Entries", raw)
	base := filepath.Base(src.name)
	id := plID.FindString(base)
	if stem := strings.TrimSuffix(base, filepath.Ext(base)); plStem.MatchString(stem) {
		id = stem
	}
	if id == "" {
		r.rep.Unsupportedf(src.name, "", "Entries", "get-managed-prefix-list-entries output does not name its prefix list and neither does the file name: %s not imported (name the file after the list, such as pl-0123456789abcdef0.json)", count(len(items), "entry"))
		return
	}
	r.entries = append(r.entries, entriesFile{src: src, listID: id, entries: items})
}

// notModelled are the outputs of describe calls for AWS features a lab
// does not model, by top-level key: what they are and the key of their
// ids.
var notModelled = map[string]struct{ what, idKey string }{
	"NatGateways":                  {"NAT gateway", "NatGatewayId"},
	"TransitGateways":              {"transit gateway", "TransitGatewayId"},
	"TransitGatewayAttachments":    {"transit gateway attachment", "TransitGatewayAttachmentId"},
	"TransitGatewayVpcAttachments": {"transit gateway VPC attachment", "TransitGatewayAttachmentId"},
	"TransitGatewayRouteTables":    {"transit gateway route table", "TransitGatewayRouteTableId"},
	"VpcPeeringConnections":        {"VPC peering connection", "VpcPeeringConnectionId"},
	"VpcEndpoints":                 {"VPC endpoint", "VpcEndpointId"},
	"EgressOnlyInternetGateways":   {"egress-only internet gateway", "EgressOnlyInternetGatewayId"},
	"VpnGateways":                  {"virtual private gateway", "VpnGatewayId"},
	"VpnConnections":               {"VPN connection", "VpnConnectionId"},
	"CustomerGateways":             {"customer gateway", "CustomerGatewayId"},
	"Addresses":                    {"Elastic IP address", "PublicIp"},
	"LoadBalancers":                {"load balancer", "LoadBalancerName"},
	"CarrierGateways":              {"carrier gateway", "CarrierGatewayId"},
	"LocalGatewayRouteTables":      {"local gateway route table", "LocalGatewayRouteTableId"},
	"DhcpOptions":                  {"DHCP option set", "DhcpOptionsId"},
	"Firewalls":                    {"network firewall", "FirewallName"},
}

// notImported are outputs of describe calls the importer does not read,
// for features a lab models or does not need, with why.
var notImported = map[string]struct{ what, idKey, why string }{
	"InternetGateways":      {"internet gateway", "InternetGatewayId", "a lab's internet gateway is implicit, and the route tables say which subnets use it"},
	"FlowLogs":              {"flow log", "FlowLogId", "write them in the lab file"},
	"TrafficMirrorFilters":  {"traffic mirror filter", "TrafficMirrorFilterId", "write them in the lab file"},
	"TrafficMirrorSessions": {"traffic mirror session", "TrafficMirrorSessionId", "write them in the lab file"},
	"TrafficMirrorTargets":  {"traffic mirror target", "TrafficMirrorTargetId", "write them in the lab file"},
}

// otherKey reports a top-level key the importer does not read.
func (r *run) otherKey(src *source, key string, raw json.RawMessage) {
	kind, modelled := notModelled[key]
	skipped, known := notImported[key]
	if !modelled {
		kind.what, kind.idKey = skipped.what, skipped.idKey
		if !known {
			r.rep.Unsupportedf(src.name, "", key, "unknown key: not read (the importer reads the output of describe-vpcs, describe-subnets, describe-security-groups, describe-security-group-rules, describe-network-acls, describe-route-tables, describe-network-interfaces, describe-instances, describe-managed-prefix-lists and get-managed-prefix-list-entries)")
			return
		}
	}
	var items []map[string]any
	if err := json.Unmarshal(raw, &items); err != nil {
		r.rep.Unsupportedf(src.name, "", key, "not a list of objects: not read")
		return
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it[kind.idKey].(string); ok {
			ids = append(ids, s)
		}
	}
	if modelled {
		for _, id := range ids {
			r.rep.NotModelledf(src.name, id, "%s: a lab does not model it", kind.what)
		}
		if len(ids) < len(items) {
			r.rep.NotModelledf(src.name, "", "%s without %s: a lab does not model them", count(len(items)-len(ids), kind.what), kind.idKey)
		}
		return
	}
	r.rep.Unsupportedf(src.name, "", key, "%s (%s): not imported: %s", count(len(items), kind.what), listIDs(ids), skipped.why)
}

// count writes n things: "1 subnet", "2 subnets", "3 entries".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	switch {
	case strings.HasSuffix(thing, "y") && !strings.ContainsAny(thing[len(thing)-2:len(thing)-1], "aeiou"):
		thing = strings.TrimSuffix(thing, "y") + "ies"
	case strings.HasSuffix(thing, "s"):
		thing += "es"
	default:
		thing += "s"
	}
	return fmt.Sprintf("%d %s", n, thing)
}

// listIDs lists up to ten ids for a message.
func listIDs(ids []string) string {
	if len(ids) > 10 {
		return strings.Join(ids[:10], ", ") + fmt.Sprintf(" and %d more", len(ids)-10)
	}
	return strings.Join(ids, ", ")
}
