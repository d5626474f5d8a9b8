package ec2api

import (
	"fmt"
	"net/http"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/ec2api/query"
)

type xmlStateChange struct {
	InstanceId    string           `xml:"instanceId"`
	CurrentState  xmlInstanceState `xml:"currentState"`
	PreviousState xmlInstanceState `xml:"previousState"`
}

type instancesResponse struct {
	meta
	Instances []xmlStateChange `xml:"instancesSet>item"`
}

// instances serves StartInstances and StopInstances: checked whole and
// every instance authorized before any changes, audited per instance as
// the control API does.
func (s *server) instances(c *call, a *ec2.Action, params map[string]string) error {
	iam := a.IAM()
	var req ec2.InstancesRequest
	err := query.Decode(params, &req)
	if err == nil && len(req.InstanceIds) == 0 {
		err = errorf(http.StatusBadRequest, "MissingParameter", "The request must contain the parameter InstanceId")
	}
	for _, id := range req.InstanceIds {
		if err == nil && s.x.InstanceState(id) == "" {
			err = errorf(http.StatusBadRequest, "InvalidInstanceID.NotFound", fmt.Sprintf("The instance ID '%s' does not exist", id))
		}
	}
	if err != nil {
		s.record(c, iam, "", authz.ResultInvalid, err.Error(), false)
		return ec2Error(err)
	}
	for _, id := range req.InstanceIds {
		if err := s.authorize(c, iam, c.arn(ec2.KindInstance, id)); err != nil {
			return err
		}
	}
	if c.dryRun {
		return errDryRun
	}
	if err := s.record(c, iam, c.arn(ec2.KindInstance, req.InstanceIds[0]), authz.ResultAllowed, "", false); err != nil {
		return errorf(http.StatusServiceUnavailable, "Unavailable", "the audit log cannot be written, so nothing was changed: "+err.Error())
	}
	start := a.Name == "StartInstances"
	out := &instancesResponse{}
	for _, id := range req.InstanceIds {
		arn := c.arn(ec2.KindInstance, id)
		prev, err := s.x.SetInstanceState(id, start)
		if err != nil {
			s.record(c, iam, arn, authz.ResultFailed, err.Error(), false)
			return errorf(http.StatusInternalServerError, "InternalError", err.Error())
		}
		cur := s.x.InstanceState(id)
		s.record(c, iam, arn, authz.ResultApplied, prev+" → "+cur, false)
		out.Instances = append(out.Instances, xmlStateChange{InstanceId: id,
			CurrentState: xmlInstanceState{stateCodes[cur], cur}, PreviousState: xmlInstanceState{stateCodes[prev], prev}})
	}
	writeResponse(c.w, a.Name, c.id, out)
	return nil
}
