package aws

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpclab/vpclab/lab/labfile"
)

// FuzzImportFiles feeds the importer a file of any content beside a VPC
// and a subnet. It must not panic, and every import it does not refuse
// must be a lab that labfile.Parse reads back: the importer reports what a lab
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
		out, err := labfile.Marshal(l)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		if _, err := labfile.Parse("imported.yaml", out); err != nil {
			t.Fatalf("the imported lab does not load: %v\n%s", err, out)
		}
	})
}

// TestMutatedShop changes testdata/shop at random, a few values or list
// items at a time, with values that real and broken inputs hold: every
// import that succeeds must be a lab that labfile.Parse reads back.
func TestMutatedShop(t *testing.T) {
	paths, err := filepath.Glob("testdata/shop/*.json")
	if err != nil {
		t.Fatal(err)
	}
	shop := map[string]any{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		shop[filepath.Base(p)] = v
	}
	strs := []string{"", "-1", "tcp", "icmp", "58", "17", "10.0.1.4", "10.0.1.255", "10.0.1.10", "10.0.2.10",
		"10.0.0.0/8", "10.0.1.0/25", "10.0.2.0/24", "10.0.9.0/29", "0.0.0.0/0", "::/0", "2600:1f18:4a3:6f01::",
		"2600:1f18:4a3:6f01::10", "2600:1f18:4a3:6f01::/64", "2600:1f18:4a3:6f09::/64", "fe80::/10",
		"sg-0web0000000000a1", "sg-0db00000000000c3", "subnet-0bbb2222cccc3333d", "acl-0c1c2c3c4c5c6c7c8",
		"vpc-0a1b2c3d4e5f60718", "vpc-0f9e8d7c6b5a40312", "pl-0123456789abcdef0", "pl-63a5400a",
		"eni-0app1000000000001", "i-0app1000000000001", "sgr-0a00000000000001a", "required", "disabled",
		"terminated", "web server", "us-east-1z", "use1-bos1-az1", "us-east-1-bos-1a", "disassociated",
		"blackhole", "igw-1", "nat_gateway", "IPv6", "deny", "allow", "Name"}
	nums := []float64{-2, -1, 0, 1, 8, 22, 80, 255, 256, 65535, 65536, 32766, 32767, 32768, 40000, 10, 1000, 1001, 59, 61, 180, 432001}
	rng := rand.New(rand.NewPCG(1, 2))
	iterations, imported := 150, 0
	if testing.Short() {
		iterations = 30
	}
	for iter := range iterations {
		files := map[string][]byte{}
		mutated := deepCopy(shop).(map[string]any)
		for range 1 + rng.IntN(4) {
			mutate(rng, mutated, strs, nums)
		}
		for name, v := range mutated {
			files[name] = js(v)
		}
		l, _, err := ImportFilesWith(files, Options{VPC: shopVPC})
		if err != nil {
			continue
		}
		out, err := labfile.Marshal(l)
		if err != nil {
			t.Fatalf("iteration %d: marshal: %v", iter, err)
		}
		if _, err := labfile.Parse("imported.yaml", out); err != nil {
			t.Fatalf("iteration %d: the imported lab does not load: %v", iter, err)
		}
		imported++
	}
	// Most changes leave an input that imports, with more in the report:
	// the test checks those labs, not only errors.
	if imported < iterations/2 {
		t.Errorf("only %d of %d changed inputs imported", imported, iterations)
	}
	t.Logf("%d of %d changed inputs imported", imported, iterations)
}

// deepCopy copies a decoded JSON value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = deepCopy(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = deepCopy(x)
		}
		return out
	}
	return v
}

// mutate changes one value of one file of files: a scalar takes a value
// of the pools, a list gets one of its items twice.
func mutate(rng *rand.Rand, files map[string]any, strs []string, nums []float64) {
	names := sortedKeys(files)
	name := names[rng.IntN(len(names))]
	var spots []func()
	var walk func(v any, set func(any))
	walk = func(v any, set func(any)) {
		switch x := v.(type) {
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(x[k], func(n any) { x[k] = n })
			}
		case []any:
			if len(x) > 0 {
				spots = append(spots, func() { set(append(x, deepCopy(x[rng.IntN(len(x))]))) })
			}
			for i := range x {
				walk(x[i], func(n any) { x[i] = n })
			}
		case string:
			spots = append(spots, func() { set(strs[rng.IntN(len(strs))]) })
		case float64:
			spots = append(spots, func() { set(nums[rng.IntN(len(nums))]) })
		case bool:
			spots = append(spots, func() { set(!x) })
		}
	}
	walk(files[name], func(n any) { files[name] = n })
	if len(spots) > 0 {
		spots[rng.IntN(len(spots))]()
	}
}
