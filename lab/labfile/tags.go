package labfile

import (
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/lab"
)

// readTags reads the tags section, after every resource it may name.
func (p *parser) readTags(n *yaml.Node) {
	if n == nil {
		return
	}
	if n.Kind != yaml.MappingNode {
		p.Errorf(n, "tags", "want a mapping of resource ids to their tags, such as {sg-web: {Name: web}}")
		return
	}
	p.l.Tags = lab.Tags{}
	if count := p.pairsLen(n); count > maxListItems {
		// As prescan refuses it: at the first resource past the bound.
		i := 0
		for k := range p.pairs(n) {
			if i == maxListItems {
				p.Errorf(k, "tags", "%d resources tagged: a lab tags at most %d", count, maxListItems)
				break
			}
			i++
		}
		return
	}
	for k, v := range p.pairs(n) {
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
			if why := lab.CheckTag(key, val); why != "" {
				p.Errorf(tk, path+"."+key, "%s", why)
				continue
			}
			if _, dup := tags[key]; dup {
				p.Errorf(tk, path+"."+key, "the tag %s is given twice", key)
				continue
			}
			tags[key] = val
		}
		if len(tags) > lab.MaxTagsPerItem {
			p.Errorf(v, path, "%d tags: a resource has at most %d", len(tags), lab.MaxTagsPerItem)
		}
		if len(tags) > 0 {
			p.l.Tags[id] = tags
		}
	}
}

// marshalTags writes l's tags, resources and keys in order.
func (m *marshaller) tags(t lab.Tags) node {
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
