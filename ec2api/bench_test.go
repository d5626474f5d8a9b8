package ec2api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/vpclab/vpclab/change"
	"github.com/vpclab/vpclab/ec2"
	"github.com/vpclab/vpclab/lab/labfile"
)

// BenchmarkAuthorizeRoundTrip: AuthorizeSecurityGroupIngress and its
// RevokeSecurityGroupIngress, each a signed SDK call over loopback HTTP
// through the whole endpoint (verify, decode, authorize, audit, apply:
// change.Do validates the whole lab), against the example lab in memory.
// Its baseline is BenchmarkAuthorizeInProcess: the same two changes by
// change.Do alone.
func BenchmarkAuthorizeRoundTrip(b *testing.B) {
	e := start(b)
	c := e.client(adminKey, adminSecret)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		perm := []types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(1000 + i%1000)), ToPort: aws.Int32(int32(1000 + i%1000)),
			IpRanges: []types.IpRange{{CidrIp: aws.String("10.9.0.0/16")}}}}
		if _, err := c.AuthorizeSecurityGroupIngress(ctx, &sdk.AuthorizeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: perm}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.RevokeSecurityGroupIngress(ctx, &sdk.RevokeSecurityGroupIngressInput{GroupId: aws.String("sg-db"), IpPermissions: perm}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAuthorizeInProcess(b *testing.B) {
	l := labfile.ExampleLab()
	auth, _ := ec2.LookupAction("AuthorizeSecurityGroupIngress")
	rev, _ := ec2.LookupAction("RevokeSecurityGroupIngress")
	for i := range b.N {
		body := fmt.Sprintf(`{"GroupId": "sg-db", "IpPermissions": [{"IpProtocol": "tcp", "FromPort": %d, "ToPort": %d, "IpRanges": [{"CidrIp": "10.9.0.0/16"}]}]}`, 1000+i%1000, 1000+i%1000)
		for _, a := range []*ec2.Action{auth, rev} {
			c, err := change.Decode(a.Name, []byte(body))
			if err != nil {
				b.Fatal(err)
			}
			if l, _, err = change.Do(l, c); err != nil {
				b.Fatal(err)
			}
		}
	}
}
