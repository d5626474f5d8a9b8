package main

import (
	"strings"
	"testing"
)

func TestMedianOfRuns(t *testing.T) {
	in := `BenchmarkDecode-2 100 10.0 ns/op
BenchmarkFirstPacket10-2   1000   200 ns/op   0 B/op   0 allocs/op
BenchmarkDecode-2 100 30.0 ns/op
BenchmarkFirstPacket10-2   1000   100 ns/op   0 B/op   0 allocs/op
BenchmarkDecode-2 100 20.0 ns/op
BenchmarkFirstPacket10-2   1000   140 ns/op   0 B/op   0 allocs/op
BenchmarkEstablishedFlows/1000000-2   1000   90 ns/op
`
	res, err := parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	byBench := map[string]result{}
	for _, r := range judge(res) {
		byBench[r.Benchmark] = r
	}
	fp := byBench["FirstPacket10"]
	if fp.Result == nil || fp.Result.Median != 140 || fp.Result.Min != 100 || fp.Result.Max != 200 {
		t.Fatalf("FirstPacket10: %+v", fp.Result)
	}
	if fp.BaselineResult == nil || fp.BaselineResult.Median != 20 || fp.Ratio != 20.0/140 {
		t.Fatalf("FirstPacket10 baseline: %+v ratio %v", fp.BaselineResult, fp.Ratio)
	}
	if !fp.OK {
		t.Error("140 ns should meet ≤ 150 ns")
	}
	if m := byBench["EstablishedFlows/1000000"]; m.Result == nil || m.Result.Median != 90 || m.OK {
		t.Errorf("1M flows without its baseline run: %+v ok=%v (want not ok)", m.Result, m.OK)
	}
	if r := byBench["Replay"]; r.Result != nil || r.OK {
		t.Errorf("Replay not run but %+v", r)
	}
}
