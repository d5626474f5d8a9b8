package labfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpclab/vpclab/lab"
)

// FuzzParse checks that Parse never panics, that what prescan refuses
// the tree refuses too, that it returns a Lab exactly
// when it returns no error, that every error is an *Error naming the file,
// and that a returned Lab keeps the package's promises.
func FuzzParse(f *testing.F) {
	f.Add(Example())
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	jsonFiles, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range append(files, jsonFiles...) {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, c := range errorCases[:20] {
		f.Add([]byte(c.src))
	}
	for _, c := range largeLabs(130) {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// What the count before the tree refuses, the tree refuses too.
		if errs := prescan("fuzz.yaml", data); errs != nil {
			if l, err := parseTree("fuzz.yaml", data); err == nil {
				t.Fatalf("refused before the tree (%v) but not by it: %v", errs, l)
			}
		}
		l, err := Parse("fuzz.yaml", data)
		if (l == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v: want a Lab or an error", l, err)
		}
		if err != nil {
			var list lab.ErrorList
			if !errors.As(err, &list) || len(list) == 0 || len(list) > maxErrors+1 {
				t.Fatalf("err = %T with %d errors", err, len(list))
			}
			for _, e := range list {
				if e.File != "fuzz.yaml" || e.Msg == "" {
					t.Fatalf("error %#v", e)
				}
			}
			return
		}
		checkInvariants(t, l)
	})
}
