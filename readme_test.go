package vpclab_test

import (
	"bytes"
	"os"
	"testing"
)

// TestReadmeExample checks that the lab the README shows is the built-in
// example byte for byte, so pasting it gives the transcripts' output.
func TestReadmeExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("lab/labfile/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := bytes.Cut(readme, []byte("\n```yaml\n"))
	if ok {
		block, _, ok = bytes.Cut(block, []byte("\n```\n"))
	}
	if !ok {
		t.Fatal("README.md has no ```yaml block")
	}
	if got, want := string(block)+"\n", string(example); got != want {
		t.Errorf("README.md's first yaml block is not lab/labfile/example.yaml (vpclab example); paste the example into it.\nREADME:\n%s\nexample:\n%s", got, want)
	}
}

// TestReadmeHeadings checks that no heading of README.md appears twice: a
// section pasted in twice (as a careless edit once did) reads as two
// versions of the truth.
func TestReadmeHeadings(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	fence := false
	for i, line := range bytes.Split(readme, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("```")) {
			fence = !fence
		}
		if fence || !bytes.HasPrefix(line, []byte("#")) {
			continue
		}
		if first, ok := seen[string(line)]; ok {
			t.Errorf("README.md:%d: heading %q already at line %d", i+1, line, first)
			continue
		}
		seen[string(line)] = i + 1
	}
}
