package change

import (
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
)

// CreateTags is EC2's CreateTags: each tag set on each resource (a key
// already there takes the new value).
type CreateTags struct {
	call
	ec2.CreateTagsRequest
}

func (c *CreateTags) Resource() (string, string) { return tagResource(c.Resources) }

func (c *CreateTags) resources() []Resource { return tagResources(c.Resources) }

func tagResource(ids []string) (string, string) {
	if len(ids) == 1 {
		return ec2.KindOf(ids[0]), ids[0]
	}
	return ec2.KindVPC, "*"
}

func tagResources(ids []string) []Resource {
	out := make([]Resource, len(ids))
	for i, id := range ids {
		out[i] = Resource{ec2.KindOf(id), id}
	}
	return out
}

func (c *CreateTags) apply(l *lab.Lab) (any, error) {
	if len(c.Resources) == 0 {
		return nil, errorf("MissingParameter", "give Resources (ResourceId.N): the resources to tag")
	}
	if len(c.Tags) == 0 {
		return nil, errorf("MissingParameter", "give Tags (Tag.N.Key, Tag.N.Value)")
	}
	for _, id := range c.Resources {
		if err := setTags(l, id, c.Tags); err != nil {
			return nil, err
		}
	}
	return map[string]any{"Return": true}, nil
}

// setTags sets tags on resource id of l.
func setTags(l *lab.Lab, id string, tags []ec2.Tag) error {
	if !l.Taggable(id) {
		return errorf("InvalidID", "The ID '%s' is not valid: it is no resource of the lab", id)
	}
	if l.Tags == nil {
		l.Tags = lab.Tags{}
	}
	m := l.Tags[id]
	if m == nil {
		m = map[string]string{}
		l.Tags[id] = m
	}
	for i, t := range tags {
		if why := lab.CheckTag(t.Key, t.Value); why != "" {
			return errorf("InvalidParameterValue", "Tags[%d]: %s", i, why)
		}
		m[t.Key] = t.Value
	}
	if len(m) > lab.MaxTagsPerItem {
		return errorf("TagLimitExceeded", "%s would have %d tags: a resource has at most %d", id, len(m), lab.MaxTagsPerItem)
	}
	return nil
}

// tagSpecs puts the tags of a create call's TagSpecifications on id.
func tagSpecs(l *lab.Lab, id string, specs []ec2.TagSpecification) error {
	for _, s := range specs {
		if err := setTags(l, id, s.Tags); err != nil {
			return err
		}
	}
	return nil
}

// DeleteTags is EC2's DeleteTags: the tags given (by key, or key and
// value), or every tag, of each resource.
type DeleteTags struct {
	call
	ec2.DeleteTagsRequest
}

func (c *DeleteTags) Resource() (string, string) { return tagResource(c.Resources) }

func (c *DeleteTags) resources() []Resource { return tagResources(c.Resources) }

func (c *DeleteTags) apply(l *lab.Lab) (any, error) {
	if len(c.Resources) == 0 {
		return nil, errorf("MissingParameter", "give Resources (ResourceId.N)")
	}
	for _, id := range c.Resources {
		if !l.Taggable(id) {
			return nil, errorf("InvalidID", "The ID '%s' is not valid: it is no resource of the lab", id)
		}
		m := l.Tags[id]
		if len(c.Tags) == 0 {
			delete(l.Tags, id)
			continue
		}
		for _, t := range c.Tags {
			if v, ok := m[t.Key]; ok && (t.Value == nil || *t.Value == v) {
				delete(m, t.Key)
			}
		}
		if len(m) == 0 {
			delete(l.Tags, id)
		}
	}
	return map[string]any{"Return": true}, nil
}
