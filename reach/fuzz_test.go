package reach_test

import (
	"os"
	"testing"

	"github.com/vpclab/vpclab/reach"
)

// FuzzParseAssertions: any input gives assertions or an error naming the
// file, never a panic; what parses checks against the example's map.
func FuzzParseAssertions(f *testing.F) {
	if b, err := os.ReadFile("../testdata/reach/example-assert.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("expect:\n  - web1 must reach db1 on tcp/1-2, icmp/3/4\n"))
	f.Add([]byte("expect:\n  - {from: [a, b], to: '*', family: 6, must_not_reach: [all], except: [udp]}\n"))
	m, err := reach.Analyze(exampleLab(), reach.Query{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := reach.ParseAssertions("f.yaml", data)
		if err != nil {
			if len(err.Error()) < len("f.yaml") || err.Error()[:6] != "f.yaml" {
				t.Fatalf("an error that does not name the file: %v", err)
			}
			return
		}
		a.Check(m) // unknown endpoints are errors, not panics
	})
}
