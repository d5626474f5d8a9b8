package aws

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/vpclab/vpclab/lab"
)

// FuzzImportFiles feeds the importer a file of any content beside a VPC
// and a subnet. It must not panic, and every import it does not refuse
// must be a lab that lab.Parse reads back: the importer reports what a lab
// cannot hold instead of writing it.
func FuzzImportFiles(f *testing.F) {
	paths, err := filepath.Glob("testdata/shop/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(js(instances(vm("i-1", eni("eni-1", "10.0.1.10", "sg-1")))))
	f.Add(js(obj{"SecurityGroupRules": list{obj{"SecurityGroupRuleId": "sgr-1", "GroupId": "sg-1", "IpProtocol": "icmpv6",
		"FromPort": 128, "ToPort": -1, "CidrIpv6": "::/0"}}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		files := base()
		files["fuzz.json"] = data
		l, rep, err := ImportFiles(files)
		if err != nil {
			return
		}
		if rep == nil {
			t.Fatal("an import without a report")
		}
		out, err := lab.Marshal(l)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := lab.Parse("imported.yaml", out); err != nil {
			t.Fatalf("the imported lab does not load: %v\n%s", err, out)
		}
	})
}
