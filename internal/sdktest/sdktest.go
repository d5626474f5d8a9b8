// Package sdktest holds what the tests that drive vpclab's EC2 endpoint
// through the AWS SDK for Go share. Only tests import it.
package sdktest

import (
	"errors"
	"net"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// Retryer makes one more attempt only when the SDK's HTTP connection was
// closed under the response it was reading (net.ErrClosed): smithy-go
// closes the request body early and net/http's write loop then closes
// the connection, a race of the client's own (aws/aws-sdk-go-v2#2737,
// which the SDK's default retryer absorbs). Every other error, EC2's
// error responses included, is returned at once, so that tests see what
// the endpoint answered.
func Retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 2
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if errors.Is(err, net.ErrClosed) {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}
