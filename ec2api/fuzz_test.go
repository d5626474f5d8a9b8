package ec2api_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/ec2api"
	"github.com/vpclab/vpclab/lab/labfile"
)

// FuzzHandler: any form body, correctly signed by the administrator, is
// answered in EC2's XML, a success or EC2's error envelope, never a 500
// or a crash; and whatever it changed is a valid lab.
func FuzzHandler(f *testing.F) {
	for _, s := range []string{
		"Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=group-id&Filter.1.Value.1=sg-*",
		"Action=AuthorizeSecurityGroupIngress&Version=2016-11-15&GroupId=sg-db&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=1&IpPermissions.1.ToPort=2&IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0%2F8",
		"Action=CreateNetworkAclEntry&Version=2016-11-15&NetworkAclId=acl-db&RuleNumber=7&Protocol=1&RuleAction=allow&CidrBlock=0.0.0.0%2F0&Icmp.Type=-1&Icmp.Code=-1",
		"Action=DescribeInstances&MaxResults=5&NextToken=dnBjbGFiOjE",
		"Action=CreateSecurityGroup&GroupName=x&GroupDescription=y&DryRun=true",
		"Action=GetCallerIdentity&Version=2011-06-15",
		"Action=DeleteSecurityGroup&GroupId=sg-app", "Action=Nope", "Action=DescribeVpcs&DryRun=maybe", "a=%zz",
	} {
		f.Add(s)
	}
	ps, err := authz.Parse("principals.yaml", []byte(principalsFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, form string) {
		m := &memLab{l: labfile.ExampleLab(), stopped: map[string]bool{}}
		h := ec2api.Handler(m, ec2api.Options{Principals: ps})
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8730/", strings.NewReader(form))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		sum := sha256.Sum256([]byte(form))
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: adminKey, SecretAccessKey: adminSecret},
			r, hex.EncodeToString(sum[:]), "ec2", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%q: %d %s", form, w.Code, w.Body)
		}
		var doc struct {
			XMLName xml.Name
			Code    string `xml:"Errors>Error>Code"`
			STSCode string `xml:"Error>Code"`
		}
		if err := xml.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%q: the answer is not XML (%v): %s", form, err, w.Body)
		}
		switch {
		case w.Code == http.StatusOK && strings.HasSuffix(doc.XMLName.Local, "Response") && doc.XMLName.Local != "ErrorResponse":
		case w.Code != http.StatusOK && doc.XMLName.Local == "Response" && doc.Code != "":
		case w.Code != http.StatusOK && doc.XMLName.Local == "ErrorResponse" && doc.STSCode != "":
		default:
			t.Fatalf("%q: %d with %s: %s", form, w.Code, doc.XMLName.Local, w.Body)
		}
		if data, err := labfile.Marshal(m.l); err != nil {
			t.Fatalf("%q: the changed lab does not marshal: %v", form, err)
		} else if _, err := labfile.Parse("fuzz.yaml", data); err != nil {
			t.Fatalf("%q: the changed lab is invalid: %v", form, err)
		}
	})
}
