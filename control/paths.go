package control

import (
	"fmt"
	"path/filepath"

	"github.com/vpclab/vpclab/lab"
)

// Files a change may name: flow-log destinations and pcap mirror targets.
// vpclab writes them as root, so a change over the API must not name just
// any path: a path the running lab does not already use must be relative
// and free of "..", and it is placed under Options.DataDir. Only the local
// principal (no principals configured: root on the 0600 socket) may name
// absolute paths, as it could write them anyway.

// placePaths checks and places the paths next uses that cur does not;
// local is whether the change comes from the local principal.
func placePaths(o *Options, local bool, cur, next *lab.Lab) error {
	known := map[string]bool{}
	for _, f := range cur.FlowLogs {
		known[f.Destination] = true
	}
	for _, t := range cur.MirrorTargets {
		known[t.PcapFile] = true
	}
	place := func(what, id string, p *string) error {
		if *p == "" || known[*p] {
			return nil
		}
		switch {
		case filepath.IsAbs(*p) && local:
			return nil // the local principal: root on the socket
		case !filepath.IsLocal(*p):
			return fmt.Errorf("%s %s: %q: a path given over the API must be relative, without \"..\"; it is placed under the lab's data directory", what, id, *p)
		case o.DataDir == "":
			return fmt.Errorf("%s %s: %q: this lab has no data directory for files given over the API (vpclab up --data-dir)", what, id, *p)
		}
		*p = filepath.Join(o.DataDir, *p)
		return nil
	}
	for _, f := range next.FlowLogs {
		if err := place("flow log", f.ID, &f.Destination); err != nil {
			return err
		}
	}
	for _, t := range next.MirrorTargets {
		if err := place("traffic mirror target", t.ID, &t.PcapFile); err != nil {
			return err
		}
	}
	return nil
}
