package classbench

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dataDir holds the ClassBench files the repository carries.
const dataDir = "../../testdata/external/classbench"

// TestFiles parses every file shipped in dataDir and checks its rule count
// against the README, and the first and last rules of each dialect.
func TestFiles(t *testing.T) {
	want := map[string]int{
		"neurocuts/acl1_1k":              942,
		"neurocuts/fw1_1k":               857,
		"neurocuts/ipc1_1k":              974,
		"neurocuts/acl1_10k":             9774,
		"neurocuts/fw1_10k":              9379,
		"neurocuts/ipc1_10k":             9518,
		"tuplemerge/acl1_seed_1.rules":   941,
		"partitionsort/fw1_seed_1.rules": 58576,
	}
	files, err := filepath.Glob(filepath.Join(dataDir, "*", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ClassBench files under %s (%v): the repository carries them in testdata/external", dataDir, err)
	}
	seen := 0
	for _, path := range files {
		name, _ := filepath.Rel(dataDir, path)
		name = filepath.ToSlash(name)
		rules, err := Load(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		n, ok := want[name]
		if !ok {
			t.Errorf("%s: parsed %d rules, but the file is not in the expected list", name, len(rules))
			continue
		}
		seen++
		if len(rules) != n {
			t.Errorf("%s: %d rules, want %d", name, len(rules), n)
		}
		// Every ClassBench set ends with the match-everything default.
		last := rules[len(rules)-1]
		all := netip.MustParsePrefix("0.0.0.0/0")
		wantLast := Rule{Src: all, Dst: all, SrcHi: 65535, DstHi: 65535, Proto: -1}
		if name == "tuplemerge/acl1_seed_1.rules" {
			wantLast.Proto = 6 // this generator run ends with a TCP default
		}
		if last != wantLast {
			t.Errorf("%s: last rule %+v, want %+v", name, last, wantLast)
		}
	}
	if seen != len(want) {
		t.Errorf("found %d of the %d expected files", seen, len(want))
	}

	// Spot checks of one 6-field (neurocuts) and one 5-field CRLF
	// (tuplemerge) first line.
	for name, first := range map[string]Rule{
		"neurocuts/acl1_1k": {
			Src: netip.MustParsePrefix("176.19.181.33/32"), Dst: netip.MustParsePrefix("90.145.23.162/32"),
			SrcLo: 0, SrcHi: 65535, DstLo: 1550, DstHi: 1550, Proto: 6,
		},
		"tuplemerge/acl1_seed_1.rules": {
			Src: netip.MustParsePrefix("136.107.241.86/32"), Dst: netip.MustParsePrefix("123.222.236.2/32"),
			SrcLo: 0, SrcHi: 65535, DstLo: 1521, DstHi: 1521, Proto: 6,
		},
		"partitionsort/fw1_seed_1.rules": {
			Src: netip.MustParsePrefix("5.109.82.112/29"), Dst: netip.MustParsePrefix("73.12.254.144/29"),
			SrcLo: 7648, SrcHi: 7648, DstLo: 7649, DstHi: 7649, Proto: 17,
		},
	} {
		rules, err := Load(filepath.Join(dataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if rules[0] != first {
			t.Errorf("%s: first rule %+v, want %+v", name, rules[0], first)
		}
	}
}

func TestParseDialects(t *testing.T) {
	want := []Rule{
		{Src: netip.MustParsePrefix("10.0.0.0/8"), Dst: netip.MustParsePrefix("0.0.0.0/0"),
			SrcLo: 0, SrcHi: 65535, DstLo: 80, DstHi: 443, Proto: 6},
		{Src: netip.MustParsePrefix("192.168.0.0/16"), Dst: netip.MustParsePrefix("1.2.3.4/32"),
			SrcLo: 53, SrcHi: 53, DstLo: 0, DstHi: 65535, Proto: -1},
	}
	for name, in := range map[string]string{
		"six fields, trailing tab": "@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF\t0x0000/0x0200\t\n" +
			"@192.168.0.0/16\t1.2.3.4/32\t53 : 53\t0 : 65535\t0x00/0x00\t0x1000/0x1000\t\n",
		"five fields, CRLF, no final newline": "@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF\r\n" +
			"@192.168.0.0/16\t1.2.3.4/32\t53 : 53\t0 : 65535\t0x11/0x00",
		"spaces, decimal protocol, blank lines": "\n@10.0.0.0/8 0.0.0.0/0 0 : 65535 80 : 443 6/255\n\n" +
			"  @192.168.0.0/16   1.2.3.4/32  53 : 53   0 : 65535  0/0  \n\n",
		"host bits cleared": "@10.1.2.3/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF\n" +
			"@192.168.7.7/16\t1.2.3.4/32\t53 : 53\t0 : 65535\t0x00/0x00\n",
	} {
		got, err := Parse(strings.NewReader(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d rules, want %d", name, len(got), len(want))
			continue
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: rule %d = %+v, want %+v", name, i, got[i], want[i])
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	const good = "@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF\n"
	for _, tc := range []struct {
		line, msg string
	}{
		{"10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF", "does not start with '@'"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443", "want 9 or 10 fields"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF\t0x0/0x0\textra", "want 9 or 10 fields"},
		{"@10.0.0.0/33\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF", "bad source prefix"},
		{"@10.0.0.0/8\t0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF", "bad destination prefix"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 - 65535\t80 : 443\t0x06/0xFF", "bad source port range"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 65536\t0x06/0xFF", "bad destination port range"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t443 : 80\t0x06/0xFF", "destination port range 443 : 80 is inverted"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06", "bad protocol"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x106/0xFF", "bad protocol"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xF0", "protocol mask 0xf0"},
		{"@10.0.0.0/8\t0.0.0.0/0\t0 : 65535\t80 : 443\t0x06/0xFF\t0x1000", "bad TCP flags"},
	} {
		_, err := Parse(strings.NewReader(good + "\n" + tc.line + "\n" + good))
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%q: error %v, want *Error", tc.line, err)
			continue
		}
		if e.Line != 3 || !strings.Contains(e.Msg, tc.msg) {
			t.Errorf("%q: got line %d %q, want line 3 containing %q", tc.line, e.Line, e.Msg, tc.msg)
		}
		if want := "classbench: line 3: "; !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error text %q, want prefix %q", tc.line, err, want)
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.rules")
	if err := os.WriteFile(path, []byte("@1.2.3.4/32\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path)
	if want := "classbench: " + path + ":1: "; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Load error %v, want prefix %q", err, want)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want ErrNotExist", err)
	}
}

// FuzzParse checks that Parse never panics and that whatever it accepts
// satisfies the documented invariants.
func FuzzParse(f *testing.F) {
	f.Add("@186.11.101.36/32\t20.69.109.43/32\t0 : 65535\t1521 : 1521\t0x06/0xFF\t0x1000/0x1000\t\n")
	f.Add("@0.0.0.0/0\t97.0.0.0/8\t0 : 65535\t0 : 65535\t0x06/0xFF\r\n")
	f.Add("@::/0 2001:db8::/32 1 : 2 3 : 4 0/0\n\n")
	f.Fuzz(func(t *testing.T, in string) {
		rules, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, r := range rules {
			if !r.Src.IsValid() || !r.Dst.IsValid() || r.Src != r.Src.Masked() || r.Dst != r.Dst.Masked() {
				t.Fatalf("bad prefixes in %+v", r)
			}
			if r.SrcLo > r.SrcHi || r.DstLo > r.DstHi || r.Proto < -1 || r.Proto > 255 {
				t.Fatalf("bad ranges in %+v", r)
			}
		}
	})
}
