package control

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/change"
)

// instancesRequest is the body of StartInstances and StopInstances. Force
// and Hibernate are accepted and change nothing: a lab instance stops at
// once.
type instancesRequest struct {
	InstanceIDs []string `json:"InstanceIds"`
	Force       bool     `json:"Force,omitempty"`
	Hibernate   bool     `json:"Hibernate,omitempty"`
}

// instanceState is EC2's InstanceState.
type instanceState struct {
	Code int    `json:"Code"`
	Name string `json:"Name"`
}

type instanceStateChange struct {
	InstanceID    string        `json:"InstanceId"`
	CurrentState  instanceState `json:"CurrentState"`
	PreviousState instanceState `json:"PreviousState"`
}

// stateCodes are EC2's codes of the states a lab instance has.
var stateCodes = map[string]int{StateRunning: 16, StateStopped: 80}

// instances serves StartInstances and StopInstances: a stopped instance
// sends and receives nothing until started again (Lab.SetInstanceState).
// The request is checked whole, and every instance authorized, before
// any changes.
func (a *api) instances(q *request, api string, data []byte) {
	iam := "ec2:" + api
	start := api == "StartInstances"
	var req instancesRequest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			err = &change.Error{Code: "MalformedRequest", Message: api + ": more than one JSON value in the body"}
		}
	} else {
		err = &change.Error{Code: "MalformedRequest", Message: api + ": " + err.Error()}
	}
	if err == nil && len(req.InstanceIDs) == 0 {
		err = &change.Error{Code: "MissingParameter", Message: "give InstanceIds"}
	}
	for _, id := range req.InstanceIDs {
		if err == nil && a.x.InstanceState(id) == "" {
			err = &change.Error{Code: "InvalidInstanceID.NotFound", Message: "the instance " + id + " does not exist"}
		}
	}
	if err != nil {
		a.audit(q, iam, "", authz.ResultInvalid, err.Error())
		writeEC2Error(q.w, err)
		return
	}
	for _, id := range req.InstanceIDs {
		if !a.authorize(q, iam, a.arn(authz.KindInstance, id)) {
			return
		}
	}
	if !a.begin(q, iam, a.arn(authz.KindInstance, req.InstanceIDs[0])) {
		return
	}
	changeMu.Lock()
	defer changeMu.Unlock()
	out := make([]instanceStateChange, 0, len(req.InstanceIDs))
	for _, id := range req.InstanceIDs {
		prev, _ := a.x.SetInstanceState(id, start) // every id exists
		cur := a.x.InstanceState(id)
		out = append(out, instanceStateChange{InstanceID: id,
			CurrentState:  instanceState{Code: stateCodes[cur], Name: cur},
			PreviousState: instanceState{Code: stateCodes[prev], Name: prev}})
		a.audit(q, iam, a.arn(authz.KindInstance, id), authz.ResultApplied, prev+" → "+cur)
	}
	key := "StoppingInstances"
	if start {
		key = "StartingInstances"
	}
	writeJSON(q.w, http.StatusOK, map[string]any{key: out})
}

// SetInstanceState starts (running) or stops an instance of x, as
// StartInstances and StopInstances do, serialised with every change of
// the lab (ApplyChange's lock); it returns the previous state. For every
// API of the running lab (package ec2api's too); authorisation and the
// audit log are the caller's.
func SetInstanceState(x Lab, name string, running bool) (previous string, err error) {
	changeMu.Lock()
	defer changeMu.Unlock()
	return x.SetInstanceState(name, running)
}
