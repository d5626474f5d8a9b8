package authz

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/vpclab/vpclab/internal/yamlpos"
)

// isJSON reports whether data holds a JSON object: its first character
// other than white space is '{'. Such files are read as strict JSON
// (jsonDocument) rather than as YAML: IAM policies are JSON, and YAML
// parsers refuse some valid JSON, such as the "\/" escape that some JSON
// writers put in every ARN.
func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// jsonDocument parses data as one JSON value and returns it as the YAML
// node tree that yaml.v3 would have built, with the line and column of
// every value, so that one reader serves JSON and YAML files alike. It
// returns nil after reporting to d why it cannot. Duplicate keys are left
// for yamlpos.Decoder.Object to report.
func jsonDocument(d *yamlpos.Decoder, data []byte) *yaml.Node {
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value(0)
	if err == nil {
		// Anything after the value is an error.
		off := p.start()
		if _, terr := p.dec.Token(); !errors.Is(terr, io.EOF) {
			err = &syntaxError{off, "more after the end of the JSON value"}
			if terr != nil {
				err = terr
			}
		}
	}
	if err != nil {
		e := &yamlpos.Error{File: d.File, Msg: "invalid JSON: " + err.Error()}
		var se *json.SyntaxError
		var own *syntaxError
		switch {
		case errors.As(err, &own):
			e.Line, e.Column = p.position(own.off)
			e.Msg = "invalid JSON: " + own.msg
		case errors.As(err, &se):
			e.Line, e.Column = p.position(se.Offset)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			e.Line, e.Column = p.position(int64(len(data)))
			e.Msg = "invalid JSON: the file ends in the middle of a value"
		}
		d.Errs = append(d.Errs, e)
		return nil
	}
	return n
}

// syntaxError is a JSON syntax error that jsonParser finds itself.
type syntaxError struct {
	off int64 // byte offset
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

// jsonParser turns the token stream of a json.Decoder into nodes.
type jsonParser struct {
	data []byte
	dec  *json.Decoder
}

// start returns the offset of the next token: the decoder stands at the
// end of the previous one, before any white space and separators.
func (p *jsonParser) start() int64 {
	off := p.dec.InputOffset()
	for off < int64(len(p.data)) {
		switch p.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

// position converts a byte offset into a line and column (in characters),
// both counting from 1.
func (p *jsonParser) position(off int64) (line, col int) {
	off = min(max(off, 0), int64(len(p.data)))
	before := p.data[:off]
	line = 1 + bytes.Count(before, []byte{'\n'})
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[lineStart:])
}

// maxDepth bounds the nesting of JSON values; a policy needs 4.
const maxDepth = 64

// value reads one JSON value, nested depth deep.
func (p *jsonParser) value(depth int) (*yaml.Node, error) {
	off := p.start()
	if depth > maxDepth {
		return nil, &syntaxError{off, fmt.Sprintf("nested more than %d deep", maxDepth)}
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	n := &yaml.Node{}
	n.Line, n.Column = p.position(off)
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.Kind, n.Tag, n.Style = yaml.MappingNode, "!!map", yaml.FlowStyle
			for p.dec.More() {
				k, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, k, v)
			}
		case '[':
			n.Kind, n.Tag, n.Style = yaml.SequenceNode, "!!seq", yaml.FlowStyle
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
		default:
			return nil, &syntaxError{off, fmt.Sprintf("unexpected %q", rune(t))}
		}
		if _, err := p.dec.Token(); err != nil { // the closing '}' or ']'
			return nil, err
		}
	case string:
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", t, yaml.DoubleQuotedStyle
	case json.Number:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!int", t.String()
		if _, err := t.Int64(); err != nil {
			n.Tag = "!!float"
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", fmt.Sprint(t)
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
	}
	return n, nil
}
