package lab

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
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
