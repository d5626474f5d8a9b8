package terraform

import (
	"fmt"

	"github.com/vpclab/vpclab/importer"
)

// raiseQuotas raises the lab's quotas, AWS's defaults, to what the
// imported objects need (lab.NeededQuotas); a need beyond what a lab
// allows is an error.
func (b *builder) raiseQuotas() {
	for _, over := range importer.RaiseQuotas(b.l) {
		b.errs = append(b.errs, fmt.Errorf("%s: the state needs %s", b.source, over))
	}
}
