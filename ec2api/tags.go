package ec2api

import (
	"maps"
	"slices"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
)

type xmlTagDescription struct {
	ResourceId   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

type describeTagsResponse struct {
	meta
	Tags      []xmlTagDescription `xml:"tagSet>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}

// resourceType is EC2's resource type of id in l, as DescribeTags names
// it.
func resourceType(l *lab.Lab, id string) string {
	switch {
	case id == l.VPC.ID:
		return "vpc"
	case l.Subnet(id) != nil:
		return "subnet"
	case l.Group(id) != nil:
		return "security-group"
	case l.ACL(id) != nil:
		return "network-acl"
	case l.Instance(id) != nil:
		return "instance"
	case l.Interface(id) != nil:
		return "network-interface"
	case l.PrefixList(id) != nil:
		return "prefix-list"
	}
	return "vpc-flow-log"
}

func init() {
	reg("DescribeTags", func(v *view, r *ec2.DescribeTagsRequest) (body, error) {
		l := v.l
		var all []xmlTagDescription
		tags := map[string]map[string]string{}
		for id, m := range l.Tags {
			tags[id] = m
		}
		for _, in := range l.Instances {
			tags[in.Name] = instanceTags(l, in)
		}
		for _, id := range slices.Sorted(maps.Keys(tags)) {
			for _, k := range slices.Sorted(maps.Keys(tags[id])) {
				all = append(all, xmlTagDescription{ResourceId: id, ResourceType: resourceType(l, id), Key: k, Value: tags[id][k]})
			}
		}
		s := selection[xmlTagDescription]{items: all, id: func(t xmlTagDescription) string { return t.ResourceId }, idParam: "ResourceId",
			filters: map[string]func(xmlTagDescription) []string{
				"resource-id":   func(t xmlTagDescription) []string { return one(t.ResourceId) },
				"resource-type": func(t xmlTagDescription) []string { return one(t.ResourceType) },
				"key":           func(t xmlTagDescription) []string { return one(t.Key) },
				"value":         func(t xmlTagDescription) []string { return one(t.Value) },
			},
			tags: func(t xmlTagDescription) map[string]string { return map[string]string{t.Key: t.Value} }}
		picked, next, err := s.pick(nil, r.Filters, r.Page)
		if err != nil {
			return nil, err
		}
		return &describeTagsResponse{Tags: append([]xmlTagDescription{}, picked...), NextToken: next}, nil
	})
}
