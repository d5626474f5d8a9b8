// Package vpclab_test holds the repository's dependency rules: the imports
// that would undo the layering described in the README's code map. It
// fails when a package gains a forbidden import, directly or through
// another package (the habit of Tailscale's tstest/deptest).
package vpclab_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vpclab/vpclab/"

// forbidden lists, for each package of the module, the import paths (or
// path prefixes ending in "/") it must not depend on, even indirectly.
var forbidden = map[string][]string{
	"dataplane": {
		"gvisor.dev/gvisor/pkg/tcpip/stack", // netstack; header views are fine
		"go.yaml.in/yaml/v3",                // the model, not its file format
		module + "lab/labfile",
		module + "services",
		module + "internal/reference",
		module + "explain",
	},
	"internal/reference": {module + "dataplane"}, // the oracle must not share the engine's code
	"explain/resolve":    {module + "explain", module + "policytest"},
	"explain/describe":   {module + "dataplane", module + "explain", module + "reach"},                                      // words over the model, shared by explain and reach
	"mirror":             {module + "services", "gvisor.dev/gvisor/pkg/tcpip/stack", module + "dataplane", module + "live"}, // a device the forwarder reads, told ports and verdicts
	"packet":             {module + "lab", module + "dataplane"},
	"conntrack":          {module + "lab", module + "dataplane"},
	"classify":           {module + "lab", module + "dataplane"},
	"sg":                 {module + "lab", module + "dataplane"},
	"nacl":               {module + "lab", module + "dataplane"},
	"ec2":                {module + "lab", module + "dataplane", module + "change", module + "authz", module + "control", module + "live"},
	"lab":                {module + "conntrack", module + "lab/labfile", "go.yaml.in/yaml/v3"},          // the model and Validate; files are labfile's; lab holds the timeout defaults, conntrack takes values
	"change":             {"go.yaml.in/yaml/v3"},                                                        // changes are checked on the model (lab.Validate), not by a YAML round trip
	"control":            {module + "live"},                                                             // it declares the Lab it needs; daemon adapts live to it
	"reach":              {module + "dataplane", module + "internal/reference", module + "policytest"},  // checked against the engine, so it must not share its code
	"pcap":               {module + "dataplane", module + "lab", module + "live", module + "verdict"},   // files, not verdicts
	"tun":                {module + "dataplane", module + "lab", module + "live", module + "services"},  // devices, not policy
	"services":           {module + "dataplane", module + "live"},                                       // a device the forwarder reads, not a forwarder
	"fastpath":           {module + "dataplane", module + "conntrack", module + "lab", module + "live"}, // a cache of the engine's decisions, never a judge
	"ec2api":             {module + "live", module + "control", module + "daemon"},                      // it declares the Lab it needs; daemon adapts
}

// onlyImports lists packages whose direct imports, outside the standard
// library, must be among the given ones.
var onlyImports = map[string][]string{
	"verdict":      {module + "packet"},
	"conntrack":    {module + "packet"},
	"tun/tuntest":  {module + "tun", module + "packet", "gvisor.dev/gvisor/pkg/tcpip/checksum"},
	"ec2api/query": {module + "ec2"}, // the wire format alone
	"ec2api/sigv4": {},               // the signature alone
}

// cmdOnly are the modules only cmd/ may link.
var cmdOnly = []string{"github.com/spf13/cobra"}

type pkgInfo struct {
	imports, deps []string
}

// list runs go list over the module and returns, for each package, its
// direct imports and its transitive dependencies (non-test).
func list(t *testing.T) map[string]pkgInfo {
	t.Helper()
	out, err := exec.Command("go", "list", "-f",
		"{{.ImportPath}}\t{{join .Imports \" \"}}\t{{join .Deps \" \"}}", "./...").Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]pkgInfo{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			t.Fatalf("go list: unexpected line %q", sc.Text())
		}
		pkgs[f[0]] = pkgInfo{imports: strings.Fields(f[1]), deps: strings.Fields(f[2])}
	}
	return pkgs
}

func matches(dep, rule string) bool {
	if strings.HasSuffix(rule, "/") {
		return strings.HasPrefix(dep, rule)
	}
	return dep == rule || strings.HasPrefix(dep, rule+"/")
}

func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

func TestDependencies(t *testing.T) {
	pkgs := list(t)
	for rel, rules := range forbidden {
		p, ok := pkgs[module+rel]
		if !ok {
			t.Errorf("%s: no such package (a rule names it)", rel)
			continue
		}
		for _, dep := range p.deps {
			for _, r := range rules {
				if matches(dep, r) {
					t.Errorf("%s depends on %s, which it must not", rel, dep)
				}
			}
		}
	}
	for rel, allowed := range onlyImports {
		p := pkgs[module+rel]
		for _, imp := range p.imports {
			if !isStd(imp) && !slices.Contains(allowed, imp) {
				t.Errorf("%s imports %s; it may import only the standard library and %v", rel, imp, allowed)
			}
		}
	}
	for path, p := range pkgs {
		if strings.HasPrefix(path, module+"cmd/") {
			continue
		}
		for _, dep := range p.deps {
			for _, r := range cmdOnly {
				if matches(dep, r) {
					t.Errorf("%s depends on %s: only cmd/ may", strings.TrimPrefix(path, module), dep)
				}
			}
		}
	}
}
