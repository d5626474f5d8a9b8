package yamlpos

import (
	"fmt"
	"strings"
	"testing"
)

func TestDocumentAndObject(t *testing.T) {
	d := &Decoder{File: "t.yaml"}
	top := d.Document([]byte("a: 1\nb: x\nb: y\nc: [1]\nz: true\n"), "want a and b", "one document")
	if top == nil {
		t.Fatalf("Document: %v", d.Errs)
	}
	o, ok := d.Object(top, "", "a thing", "a", "b", "c")
	if !ok {
		t.Fatal("Object = false on a mapping")
	}
	if v, ok := d.Integer(o.Vals["a"], o.At("a"), "a count", 0, 9); !ok || v != 1 {
		t.Errorf("Integer = %d, %v", v, ok)
	}
	d.Scalar(o.Vals["c"], o.At("c"), "a word")
	if _, ok := d.Boolean(d.Need(o, "d", "give d"), o.At("d")); ok {
		t.Error("Boolean of an absent key = true")
	}
	got := d.Errs.Err(0).Error()
	want := strings.Join([]string{
		"t.yaml:1:1: d: missing: give d",
		"t.yaml:3:1: b: given twice (first at line 2)",
		"t.yaml:4:4: c: want a word, not a list",
		"t.yaml:5:1: z: unknown key: the keys of a thing are a, b, c",
	}, "\n")
	if got != want {
		t.Errorf("errors:\n%s\nwant:\n%s", got, want)
	}
}

func TestDocumentRefuses(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"", "t.yaml: the file is empty: want a and b"},
		{"a: 1\n---\nb: 2\n", "t.yaml:2:1: a second YAML document: one document (remove the '---')"},
		{"a: &x 1\nb: *x\n", "t.yaml:2:4: YAML aliases (*x) are not supported: write the value out"},
		{"a: [1\n", "t.yaml:"},
	} {
		d := &Decoder{File: "t.yaml"}
		if top := d.Document([]byte(c.src), "want a and b", "one document"); top != nil {
			t.Errorf("Document(%q) = %v, want nil", c.src, top)
			continue
		}
		if err := d.Errs.Err(0); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Document(%q): %v, want %s…", c.src, err, c.want)
		}
	}
}

func TestErrLimit(t *testing.T) {
	var l ErrorList
	for i := 5; i > 0; i-- {
		l = append(l, &Error{File: "f", Line: i, Msg: fmt.Sprint("e", i)})
	}
	if err := (ErrorList{}).Err(3); err != nil {
		t.Errorf("empty Err = %v, want nil", err)
	}
	got := l.Err(3).(ErrorList)
	if len(got) != 4 || got[0].Line != 1 || got[2].Line != 3 {
		t.Fatalf("Err(3) = %v", got)
	}
	if last := got[3]; last.Line != 4 || last.Msg != "too many errors: 2 more not shown" {
		t.Errorf("last = %v", last)
	}
	if got := l.Err(0).(ErrorList); len(got) != 5 {
		t.Errorf("Err(0) kept %d of 5", len(got))
	}
}

func TestTooDeep(t *testing.T) {
	deep := func(open, close string, n int) string { return strings.Repeat(open, n) + strings.Repeat(close, n) }
	for _, c := range []struct {
		src       string
		line, col int // 0 when the nesting is fine
	}{
		{"a: " + deep("[", "]", MaxDepth), 0, 0},
		{"a: " + deep("[", "]", MaxDepth+1), 1, 4 + MaxDepth},
		{"a: 1\nb: " + deep("{c: ", "}", MaxDepth+1), 2, 4 + 4*MaxDepth},
		{`a: "` + strings.Repeat("[", 100) + `"`, 0, 0},
		{"a: '" + strings.Repeat("{", 100) + "'", 0, 0},
		{"a: 1 # " + strings.Repeat("[", 100) + "\nb: 2", 0, 0},
		{`a: "\"` + strings.Repeat("[", 100) + `"`, 0, 0},
		{"a: it's " + deep("[", "]", 10), 0, 0},
	} {
		line, col, ok := tooDeep([]byte(c.src))
		if ok != (c.line != 0) || line != c.line || col != c.col {
			t.Errorf("tooDeep(%.40q…) = %d, %d, %v; want %d, %d", c.src, line, col, ok, c.line, c.col)
		}
	}
}
