package labfile

import (
	"strings"
	"testing"
)

func TestTags(t *testing.T) {
	src := strings.Replace(string(Example()), "\ninternet:", "\ntags:\n  sg-web: {Name: web, team: \"blue: dark\"}\n  web1: {Name: web1}\n  vpc-example: {env: lab}\n\ninternet:", 1)
	l, err := Parse("tags.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if l.Tags["sg-web"]["team"] != "blue: dark" || l.Tags["web1"]["Name"] != "web1" || l.Tags["vpc-example"]["env"] != "lab" {
		t.Fatalf("tags %v", l.Tags)
	}
	data, err := Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("back.yaml", data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if len(back.Tags) != 3 || back.Tags["sg-web"]["team"] != "blue: dark" {
		t.Errorf("read back %v from\n%s", back.Tags, data)
	}
	c := l.Clone()
	c.Tags["sg-web"]["team"] = "red"
	if l.Tags["sg-web"]["team"] != "blue: dark" {
		t.Error("Clone shares the tags")
	}
	for _, c := range []struct{ tags, msg string }{
		{"  sg-nope: {Name: x}", "sg-nope is no resource of the lab"},
		{"  sg-web: {aws:cloudformation: x}", "AWS's own"},
		{"  sg-web: {\"\": x}", "needs a key"},
		{"  sg-web: [x]", "want a mapping of keys"},
		{"  sg-web: {" + strings.Repeat("k", 129) + ": x}", "at most 128"},
	} {
		bad := strings.Replace(string(Example()), "\ninternet:", "\ntags:\n"+c.tags+"\n\ninternet:", 1)
		if _, err := Parse("bad.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want …%s…", c.tags, err, c.msg)
		}
	}
}
