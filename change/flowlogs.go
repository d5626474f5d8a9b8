package change

import (
	"strings"
	"time"

	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab"
)

// CreateFlowLogs is EC2's CreateFlowLogs. LogDestinationType is "file"
// (the only destination a lab writes; s3 and cloud-watch-logs are
// refused) and LogDestination a directory.
type CreateFlowLogs struct {
	call
	ec2.CreateFlowLogsRequest
}

func (c *CreateFlowLogs) Resource() (string, string) {
	kind := map[string]string{"VPC": ec2.KindVPC, "Subnet": ec2.KindSubnet, "NetworkInterface": ec2.KindNetworkInterface}[c.ResourceType]
	if len(c.ResourceIds) == 1 {
		return kind, c.ResourceIds[0]
	}
	return kind, "*"
}

func (c *CreateFlowLogs) resources() []Resource {
	kind, _ := c.Resource()
	out := make([]Resource, len(c.ResourceIds))
	for i, id := range c.ResourceIds {
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
	if len(c.ResourceIds) == 0 {
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
	for _, r := range c.ResourceIds {
		id := newID("fl-")
		ids = append(ids, id)
		l.FlowLogs = append(l.FlowLogs, &lab.FlowLog{ID: id, ResourceType: typ, ResourceID: r, TrafficType: traffic,
			MaxAggregationInterval: interval, LogFormat: c.LogFormat, Destination: dest})
	}
	return map[string]any{"FlowLogIds": ids, "Unsuccessful": []any{}}, nil
}

// DeleteFlowLogs is EC2's DeleteFlowLogs.
type DeleteFlowLogs struct {
	call
	ec2.DeleteFlowLogsRequest
}

func (c *DeleteFlowLogs) Resource() (string, string) {
	if len(c.FlowLogIds) == 1 {
		return ec2.KindFlowLog, c.FlowLogIds[0]
	}
	return ec2.KindFlowLog, "*"
}

func (c *DeleteFlowLogs) resources() []Resource {
	out := make([]Resource, len(c.FlowLogIds))
	for i, id := range c.FlowLogIds {
		out[i] = Resource{ec2.KindFlowLog, id}
	}
	return out
}

func (c *DeleteFlowLogs) apply(l *lab.Lab) (any, error) {
	if len(c.FlowLogIds) == 0 {
		return nil, errorf("MissingParameter", "give FlowLogIds")
	}
	for _, id := range c.FlowLogIds {
		i := slicesIndex(l.FlowLogs, func(f *lab.FlowLog) bool { return f.ID == id })
		if i < 0 {
			return nil, errorf("InvalidFlowLogId.NotFound", "no flow log %q: %s", id, oneOf(l.FlowLogs, func(f *lab.FlowLog) string { return f.ID }))
		}
		l.FlowLogs = append(l.FlowLogs[:i:i], l.FlowLogs[i+1:]...)
	}
	return map[string]any{"Unsuccessful": []any{}}, nil
}
