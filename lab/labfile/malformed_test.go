package labfile

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/vpclab/vpclab/lab"
)

// malformed are lab files no one meant to write: each must be refused
// with errors that name the file (and, where there is one, the line), and
// never a panic.
func malformed() []struct{ name, src, want string } {
	rng := rand.New(rand.NewPCG(1, 2))
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(rng.Uint32())
	}
	return []struct{ name, src, want string }{
		{"nested YAML lists", "vpc: " + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + "\n", "nested deeper than 64 levels"},
		{"nested YAML mappings", "vpc: " + strings.Repeat("{a: ", 5000) + "1" + strings.Repeat("}", 5000) + "\n", "1:262: invalid YAML: lists and mappings nested deeper than 64 levels"},
		{"nested JSON", `{"vpc": ` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}", "nested deeper than 64 levels"},
		{"duplicate key", "vpc: {id: vpc-a, cidr: 10.0.0.0/16}\nvpc: {id: vpc-b, cidr: 10.1.0.0/16}\n", "given twice (first at line 1)"},
		{"duplicate key in an item", "vpc: {id: vpc-a, cidr: 10.0.0.0/16, cidr: 10.1.0.0/16}\n", "given twice"},
		{"garbage", string(garbage), "invalid YAML"},
		{"alias bomb", "a: &a [x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n", "aliases"},
		{"NUL bytes", "vpc: {id: vpc-a,\x00 cidr: 10.0.0.0/16}\n", "invalid YAML"},
		{"a tab for indentation", "vpc:\n\tid: vpc-a\n", "invalid YAML"},
	}
}

// TestMalformed checks malformed files are refused with positioned errors,
// quickly and within bounded memory: at most 10 bytes allocated per byte
// of input beyond a fixed 4 MiB.
func TestMalformed(t *testing.T) {
	for _, c := range malformed() {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			l, err := Parse("bad.yaml", []byte(c.src))
			runtime.ReadMemStats(&after)
			var list lab.ErrorList
			if l != nil || !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("Parse = %v, %v; want an ErrorList", l, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			for _, e := range list {
				if e.File != "bad.yaml" || e.Msg == "" {
					t.Errorf("error %#v does not name the file or say what is wrong", e)
				}
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			if limit := 4<<20 + 10*uint64(len(c.src)); alloc > limit {
				t.Errorf("Parse allocated %d bytes for %d bytes of input, over %d", alloc, len(c.src), limit)
			}
		})
	}
}

// TestTruncated cuts the example lab at every line and checks that each
// cut is either a valid lab or refused with positioned errors.
func TestTruncated(t *testing.T) {
	src := string(Example())
	lines := strings.SplitAfter(src, "\n")
	for n := range lines {
		cut := strings.Join(lines[:n], "")
		for _, data := range []string{cut, cut + lines[n][:len(lines[n])/2]} {
			l, err := Parse("cut.yaml", []byte(data))
			if (l == nil) == (err == nil) {
				t.Fatalf("cut at line %d: Parse = %v, %v: want a lab or an error", n, l, err)
			}
			var list lab.ErrorList
			if err != nil && !errors.As(err, &list) {
				t.Fatalf("cut at line %d: %T %v is not an ErrorList", n, err, err)
			}
		}
	}
}
