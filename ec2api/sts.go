package ec2api

import (
	"encoding/xml"
	"fmt"
	"net/http"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/lab"
)

const stsNamespace = "https://sts.amazonaws.com/doc/" + STSVersion + "/"

type callerIdentityResponse struct {
	XMLName   xml.Name `xml:"GetCallerIdentityResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Arn       string   `xml:"GetCallerIdentityResult>Arn"`
	UserId    string   `xml:"GetCallerIdentityResult>UserId"`
	Account   string   `xml:"GetCallerIdentityResult>Account"`
	RequestID string   `xml:"ResponseMetadata>RequestId"`
}

// principalARN is the IAM user a principal stands for, in the lab's
// account: arn:aws:iam::123456789012:user/NAME.
func principalARN(l *lab.Lab, p *authz.Principal) string {
	name := "anonymous"
	if p != nil {
		name = p.Name
	}
	return "arn:aws:iam::" + l.VPC.AccountID + ":user/" + name
}

// sts serves STS's GetCallerIdentity, which needs no permission, as in
// AWS: who signed the request, as an ARN.
func (s *server) sts(c *call, params map[string]string) error {
	if c.action != "GetCallerIdentity" {
		return errorf(http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s: vpclab serves STS's GetCallerIdentity alone", c.action, params["Version"]))
	}
	for k := range params {
		if !reserved(k) {
			return errorf(http.StatusBadRequest, "InvalidParameterValue", fmt.Sprintf("GetCallerIdentity takes no parameter; %s was given", k))
		}
	}
	writeXML(c.w, http.StatusOK, callerIdentityResponse{Xmlns: stsNamespace, Arn: principalARN(c.l, c.principal),
		UserId: c.principal.AccessKeyID, Account: c.l.VPC.AccountID, RequestID: c.id})
	return nil
}
