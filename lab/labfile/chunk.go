package labfile

import (
	"bytes"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/sg"
)

// This file reads a file's security groups one at a time. The YAML
// library's tree of a file costs some 23 bytes per byte of it, most of it
// the groups' rules: a lab of 2,400 groups of 60 rules (7.7 MB) peaked at
// 30 times its size in live heap. When prescan finds the groups in a
// block list of the top-level block mapping, each item's dash first on its
// line, the rest of the file is parsed with the list's lines blanked (their
// line numbers kept), and each group's text is parsed on its own as it is
// read, its nodes' lines moved to the file's; what the parser keeps of a
// node (place) is its position, so each group's tree is garbage once read.
// At the first thing a group's text does not parse as on its own (a
// syntax error, more than one item), the whole file is parsed again the
// usual way, which reports what is wrong as ever.

// groupItems gives the items of the security group list, by index.
type groupItems interface {
	len() int
	item(i int) *yaml.Node // nil when the item cannot be read on its own
	hasDefault() bool      // an item has id default
}

// nodeItems are the items of a list in the file's tree.
type nodeItems []*yaml.Node

func (n nodeItems) len() int              { return len(n) }
func (n nodeItems) item(i int) *yaml.Node { return n[i] }
func (n nodeItems) hasDefault() bool {
	for _, item := range n {
		if v := lookup(item, "id"); v != nil && v.Value == sg.DefaultGroupID {
			return true
		}
	}
	return false
}

// chunkItems reads the items from the file's text, one at a time.
type chunkItems struct {
	file   string
	data   []byte
	layout *groupsLayout
	failed bool // an item could not be read on its own: parse the file whole
}

func (c *chunkItems) len() int { return len(c.layout.starts) }

func (c *chunkItems) text(i int) []byte {
	starts := c.layout.starts
	end := c.layout.end
	if i+1 < len(starts) {
		end = starts[i+1].off
	}
	return c.data[starts[i].off:end]
}

func (c *chunkItems) item(i int) *yaml.Node {
	if c.failed {
		return nil
	}
	d := yamlpos.Decoder{File: c.file}
	n := d.Document(c.text(i), "", "")
	if n == nil || len(d.Errs) > 0 || n.Kind != yaml.SequenceNode || len(n.Content) != 1 {
		c.failed = true
		return nil
	}
	shiftLines(n.Content[0], c.layout.starts[i].line-1)
	return n.Content[0]
}

func (c *chunkItems) hasDefault() bool {
	for i := range c.len() {
		if !bytes.Contains(c.text(i), []byte(sg.DefaultGroupID)) {
			continue
		}
		if v := lookup(c.item(i), "id"); v != nil && v.Value == sg.DefaultGroupID {
			return true
		}
	}
	return false
}

// plainBreaks reports whether every line break of data is "\n" or
// "\r\n", the ones prescan counts lines by: the YAML library also breaks
// lines at a lone "\r" and at NEL, LS and PS, and a group read on its own
// would then be placed at the wrong lines.
func plainBreaks(data []byte) bool {
	for i, c := range data {
		if c == '\r' && (i+1 >= len(data) || data[i+1] != '\n') {
			return false
		}
	}
	for _, b := range []string{"\u0085", "\u2028", "\u2029"} {
		if bytes.Contains(data, []byte(b)) {
			return false
		}
	}
	return true
}

// shiftLines adds d to the line of n and of every node below it.
func shiftLines(n *yaml.Node, d int) {
	n.Line += d
	for _, c := range n.Content {
		shiftLines(c, d)
	}
}

// blanked returns a copy of data with the bytes from..to turned to
// spaces, line ends kept.
func blanked(data []byte, from, to int) []byte {
	out := bytes.Clone(data)
	for i := from; i < to; i++ {
		if c := out[i]; c != '\n' && c != '\r' {
			out[i] = ' '
		}
	}
	return out
}

// firstCol returns the column (from 1) of the first character of the
// line at off that is not a space.
func firstCol(data []byte, off int) int {
	n := 0
	for off+n < len(data) && data[off+n] == ' ' {
		n++
	}
	return n + 1
}
