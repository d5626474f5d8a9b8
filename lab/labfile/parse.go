package labfile

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
)

// maxErrors is how many errors Parse reports before giving up on the rest.
const maxErrors = 50

// Load reads the lab file at path and parses it with Parse.
func Load(path string) (*lab.Lab, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse decodes and validates a lab file (YAML, or JSON, which is YAML);
// file names it in errors. It returns either a complete, valid Lab and a nil
// error, or a nil Lab and a lab.ErrorList of every problem found, sorted by
// position. The format is described in the package documentation.
//
// Parse reads what the file says into the model, reporting what cannot be
// read (a value of the wrong kind, an unknown key, a CIDR that is not
// one), fills in AWS's defaults, and then checks the
// model with lab.Check, placing each of its problems at the line of the
// value its field path names.
func Parse(file string, data []byte) (*lab.Lab, error) {
	errs, lay := prescanLayout(file, data)
	if errs != nil {
		return nil, errs
	}
	if lay != nil {
		if l, err, ok := parseChunked(file, data, lay); ok {
			return l, err
		}
	}
	return parseTree(file, data)
}

// parseTree is Parse after prescan: it reads the YAML library's tree of
// the file.
func parseTree(file string, data []byte) (*lab.Lab, error) {
	p := &parser{Decoder: yamlpos.Decoder{File: file}, places: map[string][]place{}}
	if root := p.document(data); root != nil {
		p.lab(root)
	}
	return p.finish()
}

// parseChunked is parseTree reading the large collections from the
// text one item at a time, where lay says they are (chunk.go). ok is
// false when an item's text does not read on its own, or the rest of the
// file does not parse: parseTree then reads the file as ever.
//
// It reads the file without recording where its values are (places cost
// more than the lab: some 17 times the size of a file of instances), and
// again, recording the places of lab.Check's problems only, when it finds
// some: a valid lab is read once, a lab.Check refuses twice.
func parseChunked(file string, data []byte, lay *layout) (l *lab.Lab, err error, ok bool) {
	if !plainBreaks(data) {
		return nil, nil, false
	}
	p, ok := readChunked(file, data, lay, nil)
	if !ok {
		return nil, nil, false
	}
	// The spans (some 16 bytes an item) are not needed to check the lab,
	// and are found again in the rare case they are.
	p.lists, lay = nil, nil
	if p.l != nil {
		p.l.AddDefaults()
		errs := lab.Check(p.l)
		if len(errs) == 0 {
			if err := p.Errs.Err(maxErrors); err != nil {
				return nil, err, true
			}
			return p.l, nil, true
		}
		want := map[string]bool{}
		for _, e := range errs {
			for at := e.Field; !want[at]; at = parent(at) {
				want[at] = true
				if at == "" {
					break
				}
			}
		}
		p = nil
		if _, lay = prescanLayout(file, data); lay == nil {
			return nil, nil, false
		}
		if p, ok = readChunked(file, data, lay, want); !ok {
			return nil, nil, false
		}
	}
	l, err = p.finish()
	return l, err, true
}

// readChunked reads the file as parseChunked does, recording the places
// of the field paths in want only (none when want is nil).
func readChunked(file string, data []byte, lay *layout, want map[string]bool) (*parser, bool) {
	p := &parser{Decoder: yamlpos.Decoder{File: file}, want: want}
	if want != nil {
		p.places = map[string][]place{}
	}
	p.lists = &textLists{file: file, data: data, spans: lay.spans, nodes: map[*yaml.Node]*span{}}
	if root := p.lists.root(p); root != nil {
		p.lab(root)
		if want == nil {
			p.lists.checkUnread() // once: the second reading reads the same text
		}
	}
	if p.lists.syntax != nil {
		// The whole file's parse reports that, and nothing else.
		p.l, p.Errs = nil, yamlpos.ErrorList{p.lists.syntax}
		return p, true
	}
	if p.lists.failed {
		return nil, false
	}
	return p, true
}

// finish completes the lab read and returns it, or the problems found.
func (p *parser) finish() (*lab.Lab, error) {
	if p.l != nil {
		// The decoder gave every field the file leaves out its default;
		// what remains are the objects every VPC has.
		p.l.AddDefaults()
		p.place(lab.Check(p.l))
	}
	if err := p.Errs.Err(maxErrors); err != nil {
		return nil, err
	}
	return p.l, nil
}

// parser builds a Lab from the nodes of one file and records where in the
// file each field path of the model is, for lab.Check's errors.
type parser struct {
	yamlpos.Decoder
	l *lab.Lab

	// places holds the nodes of the field paths of the model (as lab.Check
	// names them), in file order: more than one when an id is given twice.
	places map[string][]place
	// want, when not nil, holds the only field paths places records;
	// places is nil when it records none.
	want map[string]bool
	// keyNames are the names of the mappings' keys places record, by
	// index, keyIndexes their indices.
	keyNames   []string
	keyIndexes map[string]uint32
	// lists, when not nil, gives the items of the file's large
	// collections from its text one at a time (chunk.go).
	lists *textLists
}

// place is where a field path of the model is in the file: its node's
// position and its path as the file writes it, which differs where the
// model names an object the file does not write out (the one interface of
// an instance given by the instance's own keys) or counts the default
// group or ACL the file leaves out. Of a mapping it keeps where each key's
// value is, and nothing of the tree: a file's groups are read one at a
// time (chunk.go), their trees dropped as they are read.
type place struct {
	line, col int32
	field     string
	keys      []keyAt // a mapping's keys, in file order
}

// keyAt is where the value of a mapping's key is; the key is its index in
// parser.keyNames.
type keyAt struct {
	key       uint32
	line, col int32
}

// at records that the model's field path is node n, written as field.
func (p *parser) at(path, field string, n *yaml.Node) {
	if n == nil || p.places == nil || p.want != nil && !p.want[path] {
		return
	}
	if field == path {
		field = path // one string for both: a lab's rules have hundreds of thousands
	}
	pl := place{line: int32(n.Line), col: int32(n.Column), field: field}
	if n.Kind == yaml.MappingNode {
		pl.keys = make([]keyAt, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k, v := n.Content[i], n.Content[i+1]; k.Kind == yaml.ScalarNode {
				pl.keys = append(pl.keys, keyAt{p.keyIndex(k.Value), int32(v.Line), int32(v.Column)})
			}
		}
	}
	p.places[path] = append(p.places[path], pl)
}

// keyIndex returns the index of a mapping key's name in p.keyNames,
// adding it if new.
func (p *parser) keyIndex(name string) uint32 {
	if i, ok := p.keyIndexes[name]; ok {
		return i
	}
	if p.keyIndexes == nil {
		p.keyIndexes = map[string]uint32{}
	}
	i := uint32(len(p.keyNames))
	p.keyNames = append(p.keyNames, name)
	p.keyIndexes[name] = i
	return i
}

// value returns the place of key's value in pl, a mapping's.
func (p *parser) value(pl place, key string) (place, bool) {
	i, ok := p.keyIndexes[key]
	if !ok {
		return place{}, false
	}
	for _, k := range pl.keys {
		if k.key == i {
			return place{line: k.line, col: k.col}, true
		}
	}
	return place{}, false
}

// object reads mapping n like Decoder.Object and records it (even when it
// is not a mapping) at the model's path; the file writes the mapping at
// filePath. Its values are found in it when needed (see find).
func (p *parser) object(n *yaml.Node, path, filePath, what string, known ...string) (yamlpos.Object, bool) {
	p.at(path, filePath, n)
	return p.Object(n, filePath, what, known...)
}

// item1 records item i of a list at the model's path.
func (p *parser) item1(path, filePath string, i int, n *yaml.Node) {
	p.at(fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("%s[%d]", filePath, i), n)
}

// place adds lab.Check's problems to the decoder's, each at the line of
// the node its field path names (or of the nearest enclosing one the file
// has), leaving out those about a value the decoder has already reported
// (an unreadable CIDR is also a missing one).
func (p *parser) place(errs lab.ErrorList) {
	decoded := make([]string, 0, len(p.Errs))
	for _, e := range p.Errs {
		decoded = append(decoded, e.Field)
	}
	for _, e := range errs {
		pl, rest, ok := p.find(e.Field, e.Line)
		field := e.Field
		if ok {
			field = pl.field + rest
		}
		if slices.ContainsFunc(decoded, func(d string) bool { return related(field, d) }) {
			continue
		}
		e.Field = field
		if ok {
			e.Line, e.Column = int(pl.line), int(pl.col)
		}
		p.Errs = append(p.Errs, e)
	}
}

// find returns the place of path, or of its nearest ancestor the file
// has, and the rest of path below it. Of several places (an id given
// twice), it takes the first at or after line, the line of the object the
// problem is about.
func (p *parser) find(path string, line int) (place, string, bool) {
	for at := path; ; at = parent(at) {
		places := p.places[at]
		if len(places) == 0 {
			if at == "" {
				break
			}
			continue
		}
		pl := places[0]
		for _, c := range places {
			if int(c.line) >= line {
				pl = c
				break
			}
		}
		rest := path[len(at):]
		// A key of a recorded mapping is at its value.
		if key, more, ok := firstKey(rest); ok {
			if v, ok := p.value(pl, key); ok {
				v.field = key
				if pl.field != "" {
					v.field = pl.field + "." + key
				}
				pl, rest = v, more
			}
		}
		return pl, rest, true
	}
	return place{}, "", false
}

// firstKey splits ".key…" (or "key…", below the top) into key and the
// rest.
func firstKey(rest string) (key, more string, ok bool) {
	if rest == "" || rest[0] == '[' {
		return "", "", false
	}
	if rest[0] != '.' {
		rest = "." + rest
	}
	end := strings.IndexAny(rest[1:], ".[")
	if end < 0 {
		return rest[1:], "", true
	}
	return rest[1 : 1+end], rest[1+end:], true
}

// parent returns the path above path: a.b[1].c → a.b[1] → a.b → a.
func parent(path string) string {
	if i := strings.LastIndexAny(path, ".["); i > 0 {
		return path[:i]
	}
	return ""
}

// related reports whether a problem lab.Check found at field is about a
// value the decoder reported at decoded: the same value, one inside it,
// or the list item holding it (a rule whose CIDR is unreadable has no
// peer either).
func related(field, decoded string) bool {
	switch {
	case decoded == "":
		return false
	case field == decoded, below(field, decoded):
		return true
	}
	return strings.HasSuffix(field, "]") && below(decoded, field)
}

// below reports whether path lies inside ancestor.
func below(path, ancestor string) bool {
	return strings.HasPrefix(path, ancestor) && len(path) > len(ancestor) &&
		(path[len(ancestor)] == '.' || path[len(ancestor)] == '[')
}

// lab reads the top-level mapping.
func (p *parser) lab(n *yaml.Node) {
	top, ok := p.object(n, "", "", "a lab", "vpc", "subnets", "network_acls", "prefix_lists",
		"security_groups", "instances", "internet", "quotas", "settings",
		"flow_logs", "traffic_mirror_filters", "traffic_mirror_targets", "traffic_mirror_sessions", "tags")
	if !ok {
		return
	}
	p.l = &lab.Lab{File: p.File, Quotas: lab.DefaultQuotas(), Settings: lab.DefaultSettings()}
	p.vpc(p.Need(top, "vpc", "a lab needs a vpc, such as {id: vpc-lab, cidr: 10.0.0.0/16}"))
	p.quotas(top.Vals["quotas"])
	p.settings(top.Vals["settings"])
	p.readPrefixLists(top.Vals["prefix_lists"])
	p.readNetworkACLs(top.Vals["network_acls"])
	p.readSubnets(top.Vals["subnets"])
	p.readSecurityGroups(top.Vals["security_groups"])
	p.readInstances(top.Vals["instances"])
	p.internet(top.Vals["internet"])
	p.readFlowLogs(top.Vals["flow_logs"])
	p.readMirrorFilters(top.Vals["traffic_mirror_filters"])
	p.readMirrorTargets(top.Vals["traffic_mirror_targets"])
	p.readMirrorSessions(top.Vals["traffic_mirror_sessions"])
	p.readTags(top.Vals["tags"])
}

// item reads item i of a list of objects identified by idKey ("id" or
// "name") and records it at the model's path list[id] (list[i] when the id
// is not valid); the file writes the list at fileList. ok is false when the
// item is not a mapping.
func (p *parser) item(n *yaml.Node, list, fileList string, i int, what, idKey string, known ...string) (o yamlpos.Object, id string, ok bool) {
	raw := ""
	if v := lookup(n, idKey); v != nil && v.Kind == yaml.ScalarNode {
		raw = v.Value
	}
	path := lab.ItemPath(list, i, raw)
	filePath := lab.ItemPath(fileList, i, raw)
	if fileList == list {
		filePath = path
	}
	o, ok = p.object(n, path, filePath, what, known...)
	if !ok {
		return o, "", false
	}
	article := "an"
	if idKey == "name" {
		article = "a"
	}
	id, _ = p.id(p.Need(o, idKey, fmt.Sprintf("%s needs %s %s", what, article, idKey)), o.At(idKey))
	return o, id, true
}

// vpc reads the vpc section.
func (p *parser) vpc(n *yaml.Node) {
	o, ok := p.object(n, "vpc", "vpc", "the vpc", "id", "cidr", "ipv6_cidr", "account_id", "region")
	if !ok {
		return
	}
	v := &p.l.VPC
	v.AccountID, v.Region = lab.DefaultAccountID, lab.DefaultRegion
	if s, ok := p.Scalar(o.Vals["account_id"], o.At("account_id"), "a 12-digit AWS account id"); ok {
		v.AccountID = s
	}
	if s, ok := p.Scalar(o.Vals["region"], o.At("region"), "an AWS region"); ok {
		v.Region = s
	}
	v.ID, _ = p.id(p.Need(o, "id", "the VPC needs an id, such as vpc-lab"), o.At("id"))
	v.CIDR, _ = p.prefix(p.Need(o, "cidr", "the VPC needs an IPv4 block, such as 10.0.0.0/16"), o.At("cidr"))
	v.IPv6CIDR, _ = p.prefix(o.Vals["ipv6_cidr"], o.At("ipv6_cidr"))
}

// quotas reads the optional quotas section.
func (p *parser) quotas(n *yaml.Node) {
	fields := []struct {
		key     string
		dst     *int
		meaning string
	}{
		{"nacl_entries", &p.l.Quotas.NACLEntries, "network ACL entries per direction and family"},
		{"sg_rules", &p.l.Quotas.SGRules, "rules per security group, direction and family"},
		{"sgs_per_eni", &p.l.Quotas.SGsPerENI, "security groups per interface"},
		{"rules_times_sgs", &p.l.Quotas.RulesTimesSGs, "rules per direction and family over an interface's groups"},
		{"sgs_per_vpc", &p.l.Quotas.SGsPerVPC, "security groups per VPC"},
	}
	known := make([]string, len(fields))
	for i, f := range fields {
		known[i] = f.key
	}
	o, ok := p.object(n, "quotas", "quotas", "the quotas", known...)
	if !ok {
		return
	}
	for _, f := range fields {
		p.integer(o.Vals[f.key], o.At(f.key), "a quota of "+f.meaning, f.dst)
	}
}

// settings reads the optional settings section: the Policy choices.
func (p *parser) settings(n *yaml.Node) {
	s := &p.l.Settings
	bools := []struct {
		key string
		dst *bool
	}{
		{"secondary_ips_in_group_refs", &s.SecondaryIPsInGroupRefs},
		{"untracked_across_groups", &s.UntrackedAcrossGroups},
		{"admit_related_icmp", &s.AdmitRelatedICMP},
	}
	timeouts := []struct {
		key string
		dst *time.Duration
	}{
		{"tcp_syn_sent", &s.TCPSynSent},
		{"tcp_syn_recv", &s.TCPSynRecv},
		{"tcp_fin_wait", &s.TCPFinWait},
		{"tcp_close_wait", &s.TCPCloseWait},
		{"tcp_time_wait", &s.TCPTimeWait},
		{"tcp_last_ack", &s.TCPLastAck},
		{"tcp_close", &s.TCPClose},
		{"icmp", &s.ICMP},
		{"fragment_timeout", &s.FragmentTimeout},
	}
	known := []string{"default_allowance", "imds"}
	for _, b := range bools {
		known = append(known, b.key)
	}
	for _, t := range timeouts {
		known = append(known, t.key)
	}
	known = append(known, "datapath", "pps_allowance")
	o, ok := p.object(n, "settings", "settings", "the settings", known...)
	if !ok {
		return
	}
	p.integer(o.Vals["default_allowance"], o.At("default_allowance"), "a number of tracked flows", &s.DefaultAllowance)
	p.integer(o.Vals["pps_allowance"], o.At("pps_allowance"), "packets per second (0: unlimited)", &s.PPSAllowance)
	if v, ok := p.imds(o.Vals["imds"], o.At("imds")); ok {
		s.IMDS = v
	}
	if n := o.Vals["datapath"]; n != nil {
		if v, ok := p.Scalar(n, o.At("datapath"), "tun or ebpf"); ok {
			s.Datapath = v // lab.Check says what is allowed
		}
	}
	for _, b := range bools {
		if v, ok := p.Boolean(o.Vals[b.key], o.At(b.key)); ok {
			*b.dst = v
		}
	}
	for _, t := range timeouts {
		p.duration(o.Vals[t.key], o.At(t.key), t.dst)
	}
}

// imds reads a metadata mode: AWS's names (optional, required) read as
// vpclab's.
func (p *parser) imds(n *yaml.Node, field string) (string, bool) {
	s, ok := p.Scalar(n, field, "v1-and-v2 or v2-only")
	if !ok {
		return "", false
	}
	switch strings.ToLower(s) {
	case lab.IMDSv1AndV2, "optional":
		return lab.IMDSv1AndV2, true
	case lab.IMDSv2Only, "required":
		return lab.IMDSv2Only, true
	}
	return s, true // lab.Check says what is allowed
}

// internet reads the optional internet section.
func (p *parser) internet(n *yaml.Node) {
	o, ok := p.object(n, "internet", "internet", "the internet", "hosts")
	if !ok {
		return
	}
	items, _ := p.list(o.Vals["hosts"], o.At("hosts"))
	for i, item := range items.all() {
		p.item1("internet.hosts", o.At("hosts"), i, item)
		a, _ := p.addr(item, fmt.Sprintf("%s[%d]", o.At("hosts"), i))
		p.l.Internet.Hosts = append(p.l.Internet.Hosts, a)
	}
}
