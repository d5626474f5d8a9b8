package change

import (
	"strings"
	"time"

	"github.com/vpclab/vpclab/lab"
)

// CreateFlowLogs is EC2's CreateFlowLogs. LogDestinationType is "file"
// (the only destination a lab writes; s3 and cloud-watch-logs are
// refused) and LogDestination a directory.
type CreateFlowLogs struct {
	ResourceIDs            []string `json:"ResourceIds"`
	ResourceType           string   `json:"ResourceType"`
	TrafficType            string   `json:"TrafficType,omitempty"`
	LogFormat              string   `json:"LogFormat,omitempty"`
	MaxAggregationInterval int      `json:"MaxAggregationInterval,omitempty"`
	LogDestinationType     string   `json:"LogDestinationType,omitempty"`
	LogDestination         string   `json:"LogDestination,omitempty"`
}

func (c *CreateFlowLogs) Action() string { return "ec2:CreateFlowLogs" }
func (c *CreateFlowLogs) Resource() (string, string) {
	kind := map[string]string{"VPC": "vpc", "Subnet": "subnet", "NetworkInterface": "network-interface"}[c.ResourceType]
	if len(c.ResourceIDs) == 1 {
		return kind, c.ResourceIDs[0]
	}
	return kind, "*"
}

func (c *CreateFlowLogs) resources() []Resource {
	kind, _ := c.Resource()
	out := make([]Resource, len(c.ResourceIDs))
	for i, id := range c.ResourceIDs {
		out[i] = Resource{kind, id}
	}
	return out
}

func (c *CreateFlowLogs) apply(l *lab.Lab) (any, error) {
	var typ string
	switch c.ResourceType {
	case "VPC":
		typ = lab.FlowLogVPC
	case "Subnet":
		typ = lab.FlowLogSubnet
	case "NetworkInterface":
		typ = lab.FlowLogENI
	default:
		return nil, errorf("InvalidParameterValue", "ResourceType: %q: use VPC, Subnet or NetworkInterface", c.ResourceType)
	}
	if len(c.ResourceIDs) == 0 {
		return nil, errorf("MissingParameter", "give ResourceIds")
	}
	switch strings.ToLower(c.LogDestinationType) {
	case "", "file":
	default:
		return nil, errorf("InvalidParameterValue", "LogDestinationType: %q: a lab writes flow logs to files (give file, or leave it out)", c.LogDestinationType)
	}
	traffic := strings.ToUpper(c.TrafficType)
	if traffic == "" {
		traffic = "ALL"
	}
	interval := 600 * time.Second
	if c.MaxAggregationInterval != 0 {
		interval = time.Duration(c.MaxAggregationInterval) * time.Second
	}
	dest := c.LogDestination
	if dest == "" {
		dest = "flowlogs"
	}
	var ids []string
	for _, r := range c.ResourceIDs {
		id := newID("fl-")
		ids = append(ids, id)
		l.FlowLogs = append(l.FlowLogs, &lab.FlowLog{ID: id, ResourceType: typ, ResourceID: r, TrafficType: traffic,
			MaxAggregationInterval: interval, LogFormat: c.LogFormat, Destination: dest})
	}
	return map[string]any{"FlowLogIds": ids, "Unsuccessful": []any{}}, nil
}

// DeleteFlowLogs is EC2's DeleteFlowLogs.
type DeleteFlowLogs struct {
	FlowLogIDs []string `json:"FlowLogIds"`
}

func (c *DeleteFlowLogs) Action() string { return "ec2:DeleteFlowLogs" }
func (c *DeleteFlowLogs) Resource() (string, string) {
	if len(c.FlowLogIDs) == 1 {
		return "vpc-flow-log", c.FlowLogIDs[0]
	}
	return "vpc-flow-log", "*"
}

func (c *DeleteFlowLogs) resources() []Resource {
	out := make([]Resource, len(c.FlowLogIDs))
	for i, id := range c.FlowLogIDs {
		out[i] = Resource{"vpc-flow-log", id}
	}
	return out
}

func (c *DeleteFlowLogs) apply(l *lab.Lab) (any, error) {
	if len(c.FlowLogIDs) == 0 {
		return nil, errorf("MissingParameter", "give FlowLogIds")
	}
	for _, id := range c.FlowLogIDs {
		i := slicesIndex(l.FlowLogs, func(f *lab.FlowLog) bool { return f.ID == id })
		if i < 0 {
			return nil, errorf("InvalidFlowLogId.NotFound", "no flow log %q: %s", id, oneOf(l.FlowLogs, func(f *lab.FlowLog) string { return f.ID }))
		}
		l.FlowLogs = append(l.FlowLogs[:i:i], l.FlowLogs[i+1:]...)
	}
	return map[string]any{"Unsuccessful": []any{}}, nil
}
