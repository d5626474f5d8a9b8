package labfile

import (
	"bytes"
	"errors"
	"fmt"
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
		everyChunk(t)
		// What the count before the tree refuses, the tree refuses too.
		if errs := prescan("fuzz.yaml", data); errs != nil {
			if l, err := parseTree("fuzz.yaml", data); err == nil {
				t.Fatalf("refused before the tree (%v) but not by it: %v", errs, l)
			}
		}
		// Reading the lists one item at a time gives what the whole tree
		// gives.
		if errs, lay := prescanLayout("fuzz.yaml", data); errs == nil && lay != nil {
			if cl, cerr, ok := parseChunked("fuzz.yaml", data, lay); ok {
				sameParse(t, data, cl, cerr)
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

// sameParse fails t unless l and err, from reading data's groups one at a
// time, are what parseTree gives: the same errors, or labs that marshal
// alike and keep the same lines.
func sameParse(t *testing.T, data []byte, l *lab.Lab, err error) {
	t.Helper()
	wl, werr := parseTree("fuzz.yaml", data)
	if fmt.Sprint(err) != fmt.Sprint(werr) {
		t.Fatalf("groups one at a time: %v\nthe whole tree:     %v", err, werr)
	}
	if l == nil || wl == nil {
		if (l == nil) != (wl == nil) {
			t.Fatalf("groups one at a time gave lab %v, the whole tree %v", l != nil, wl != nil)
		}
		return
	}
	a, aerr := Marshal(l)
	b, berr := Marshal(wl)
	if aerr != nil || berr != nil || !bytes.Equal(a, b) {
		t.Fatalf("the labs differ (%v, %v):\n%s\n---\n%s", aerr, berr, a, b)
	}
	for i, g := range l.SecurityGroups {
		w := wl.SecurityGroups[i]
		if g.Line != w.Line || len(g.Ingress) != len(w.Ingress) {
			t.Fatalf("group %d: line %d, want %d", i, g.Line, w.Line)
		}
		for j := range g.Ingress {
			if g.Ingress[j].Line != w.Ingress[j].Line {
				t.Fatalf("group %d rule %d: line %d, want %d", i, j, g.Ingress[j].Line, w.Ingress[j].Line)
			}
		}
	}
}
