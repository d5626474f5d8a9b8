package lab

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Tags are EC2's tags of a lab's resources, by resource id (an instance
// by its name): the tags section of a lab file,
//
//	tags:
//	  sg-web: {Name: web, team: blue}
//
// They change nothing a packet meets; describe calls show them.
type Tags map[string]map[string]string

// Tag limits, as EC2's: keys of 1-128 characters, not starting with
// "aws:" (AWS's own); values of at most 256; 50 tags a resource.
const (
	MaxTagKey      = 128
	MaxTagValue    = 256
	MaxTagsPerItem = 50
)

// CheckTag says why key and value cannot be a tag, or "".
func CheckTag(key, value string) string {
	switch {
	case key == "":
		return "a tag needs a key"
	case utf8.RuneCountInString(key) > MaxTagKey:
		return "a tag's key has at most 128 characters"
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return "tag keys starting with aws: are AWS's own"
	case utf8.RuneCountInString(value) > MaxTagValue:
		return "a tag's value has at most 256 characters"
	case !utf8.ValidString(key) || !utf8.ValidString(value):
		return "a tag is UTF-8"
	}
	return ""
}

// Taggable reports whether id is a resource of l that may carry tags: the
// VPC, a subnet, network ACL, prefix list, security group, instance (by
// name), interface or flow log.
func (l *Lab) Taggable(id string) bool {
	switch {
	case id == l.VPC.ID, l.Subnet(id) != nil, l.ACL(id) != nil, l.PrefixList(id) != nil,
		l.Group(id) != nil, l.Instance(id) != nil, l.Interface(id) != nil:
		return true
	}
	return slices.ContainsFunc(l.FlowLogs, func(f *FlowLog) bool { return f.ID == id })
}

// readTags reads the tags section, after every resource it may name.
func (p *parser) readTags(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.Errorf(n, "tags", "want a mapping of resource ids to their tags, such as {sg-web: {Name: web}}")
		return
	}
	p.l.Tags = Tags{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		id, ok := p.id(k, "tags")
		if !ok {
			continue
		}
		path := "tags." + id
		if !p.l.Taggable(id) {
			p.Errorf(k, path, "%s is no resource of the lab: tags go on the VPC, subnets, network ACLs, prefix lists, security groups, instances (by name), interfaces and flow logs", id)
			continue
		}
		if _, dup := p.l.Tags[id]; dup {
			p.Errorf(k, path, "%s's tags are given twice", id)
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.Errorf(v, path, "want a mapping of keys to values, such as {Name: web}")
			continue
		}
		tags := map[string]string{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			tk, tv := v.Content[j], v.Content[j+1]
			key, ok := p.text(tk, path)
			if !ok {
				continue
			}
			val, ok := p.text(tv, path+"."+key)
			if !ok {
				continue
			}
			if why := CheckTag(key, val); why != "" {
				p.Errorf(tk, path+"."+key, "%s", why)
				continue
			}
			if _, dup := tags[key]; dup {
				p.Errorf(tk, path+"."+key, "the tag %s is given twice", key)
				continue
			}
			tags[key] = val
		}
		if len(tags) > MaxTagsPerItem {
			p.Errorf(v, path, "%d tags: a resource has at most %d", len(tags), MaxTagsPerItem)
		}
		if len(tags) > 0 {
			p.l.Tags[id] = tags
		}
	}
}

// marshalTags writes l's tags, resources and keys in order.
func (m *marshaller) tags(t Tags) node {
	root := mapping()
	for _, id := range slices.Sorted(maps.Keys(t)) {
		if len(t[id]) == 0 {
			continue
		}
		o := mapping()
		for _, k := range slices.Sorted(maps.Keys(t[id])) {
			m.checkText(k)
			m.checkText(t[id][k])
			o.str(k, t[id][k])
		}
		root.add(id, o.flow())
	}
	return root
}

// clone returns a deep copy of t.
func (t Tags) clone() Tags {
	if t == nil {
		return nil
	}
	out := make(Tags, len(t))
	for id, m := range t {
		out[id] = maps.Clone(m)
	}
	return out
}
