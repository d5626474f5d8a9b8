package terraform

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vpclab/vpclab/lab/labfile"
)

// FuzzParse feeds the importer mutated state documents: it must never
// panic, read every value as encoding/json does, and what it imports must be a lab that labfile.Marshal can write.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed states: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"format_version": "1.0", "values": {"root_module": {"resources": [
		{"address": "aws_vpc.v", "mode": "managed", "type": "aws_vpc", "name": "v",
		 "values": {"id": "vpc-1", "cidr_block": "10.0.0.0/16"}}]}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameValues(t, data)
		sameHeader(t, data)
		l, rep, err := ParseVPC("fuzz.json", data, "")
		if err != nil {
			if l != nil || rep != nil {
				t.Fatalf("a lab or a report with error %v", err)
			}
			return
		}
		if l == nil || rep == nil {
			t.Fatal("no lab or no report, and no error")
		}
		if _, err := labfile.Marshal(l); err != nil {
			t.Fatalf("Marshal of an imported lab: %v", err)
		}
	})
}
