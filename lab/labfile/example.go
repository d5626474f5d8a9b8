package labfile

import (
	_ "embed"

	"github.com/vpclab/vpclab/lab"
)

//go:embed example.yaml
var example string

// Example returns the text of the built-in example lab: a web, an
// application and a database tier in one VPC, with comments for newcomers.
// Each call returns a new copy.
func Example() []byte { return []byte(example) }

// ExampleLab returns the built-in example lab, parsed. It panics if the
// example is invalid, which its tests rule out.
func ExampleLab() *lab.Lab {
	l, err := Parse("example.yaml", Example())
	if err != nil {
		panic("lab: the built-in example is invalid:\n" + err.Error())
	}
	return l
}
