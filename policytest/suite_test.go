package policytest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSuite runs every policy-test file of testdata/policy: the spec's
// rules as packets and verdicts. A failed step fails the test with the
// file's whole report.
func TestSuite(t *testing.T) {
	files, err := filepath.Glob("../testdata/policy/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no policy-test files in ../testdata/policy")
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".yaml"), func(t *testing.T) {
			f, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(f)
			if err != nil {
				t.Fatal(err)
			}
			if r.Failed > 0 || r.Passed == 0 {
				var b strings.Builder
				if err := r.Write(&b); err != nil {
					t.Fatal(err)
				}
				t.Errorf("%s: %d of %d checks failed:\n%s", path, r.Failed, r.Passed+r.Failed, b.String())
			}
		})
	}
}
