package aws

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpclab/vpclab/lab/labfile"
)

// largeImport is describe-* output of a large VPC: base's VPC and
// subnet, groups security groups of rules rules each (in
// describe-security-groups, each rule a port with an IPv4 and an IPv6
// range, some with a description), and an instance per group.
func largeImport(groups, rules int) map[string][]byte {
	var sgs list
	var vms []obj
	for g := range groups {
		var perms list
		for r := range rules {
			perms = append(perms, obj{"IpProtocol": "tcp", "FromPort": 1000 + r, "ToPort": 1000 + r,
				"IpRanges":   list{obj{"CidrIp": fmt.Sprintf("10.%d.%d.0/24", g%250, r%250), "Description": "app"}},
				"Ipv6Ranges": list{obj{"CidrIpv6": "::/0"}}, "PrefixListIds": list{}, "UserIdGroupPairs": list{}})
		}
		id := fmt.Sprintf("sg-%017x", g+1)
		sgs = append(sgs, obj{"GroupId": id, "GroupName": id, "Description": "group", "VpcId": "vpc-1", "OwnerId": "111122223333",
			"IpPermissions": perms, "IpPermissionsEgress": list{obj{"IpProtocol": "-1", "IpRanges": list{obj{"CidrIp": "0.0.0.0/0"}}}}})
		vms = append(vms, vm(fmt.Sprintf("i-%017x", g+1), eni(fmt.Sprintf("eni-%017x", g+1), fmt.Sprintf("10.0.1.%d", 4+g%250), id)))
	}
	return with(base(), "security-groups.json", obj{"SecurityGroups": sgs}, "instances.json", instances(vms...))
}

// BenchmarkImportLarge imports describe-* output of 200 groups of 50
// rules and 200 instances.
func BenchmarkImportLarge(b *testing.B) {
	files := largeImport(200, 50)
	n := 0
	for _, f := range files {
		n += len(f)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ImportFiles(files); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFuzzBody runs the fuzz target's body on its seeds, the shop's
// files each as fuzz.json next to base: an import, its Marshal and its
// Parse; one op is every seed once.
func BenchmarkFuzzBody(b *testing.B) {
	paths, _ := filepath.Glob("testdata/shop/*")
	var seeds [][]byte
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range seeds {
			files := base()
			files["fuzz.json"] = data
			l, _, err := ImportFiles(files)
			if err != nil {
				continue
			}
			out, err := labfile.Marshal(l)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := labfile.Parse("imported.yaml", out); err != nil {
				b.Fatal(err)
			}
		}
	}
}
