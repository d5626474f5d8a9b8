package aws

import (
	"fmt"

	"github.com/vpclab/vpclab/importer"
)

// raiseQuotas raises the lab's quotas from AWS's defaults to what the
// imported objects need; an import that needs more than a lab's maxima is
// an error.
func (r *run) raiseQuotas() {
	for _, over := range importer.RaiseQuotas(r.l) {
		r.errs.plain = append(r.errs.plain, fmt.Errorf("the VPC needs %s", over))
	}
}
