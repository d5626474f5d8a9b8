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
