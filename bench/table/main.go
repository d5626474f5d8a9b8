// Command table reads `go test -bench` output on standard input and prints
// vpclab's benchmark goals as a table: each figure beside the baseline
// measured in the same run, their ratio, and whether the goal holds.
//
//	go test -run '^$' -bench . -benchmem ./bench/ ./internal/reference/ | go run ./bench/table
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
)

// row is one goal: a benchmark's metric, its baseline and the rule that
// judges them.
type row struct {
	name, bench, metric  string
	baseline, baseMetric string
	goal                 string
	ok                   func(v, base float64) bool
}

var rows = []row{
	{"established flow, 10 rules", "Established10", "ns/op", "Decode", "ns/op", "≤ 60 ns",
		func(v, _ float64) bool { return v <= 60 }},
	{"established flow, 10k rules", "Established10k", "ns/op", "Established10", "ns/op", "≤ 60 ns, ≈ 10 rules",
		func(v, base float64) bool { return v <= 60 && v <= 1.25*base }},
	{"first packet, 10 rules", "FirstPacket10", "ns/op", "Decode", "ns/op", "≤ 150 ns",
		func(v, _ float64) bool { return v <= 150 }},
	{"first packet, 10k ClassBench rules", "FirstPacket10k", "ns/op", "ReferenceFirstPacket10k", "ns/op", "≤ 1 µs, ≥ 5× faster than reference",
		func(v, base float64) bool { return v <= 1000 && base >= 5*v }},
	{"replay from memory, one core", "Replay", "pkts/s", "ReplayDecode", "pkts/s", "≥ 3 Mpps",
		func(v, _ float64) bool { return v >= 3e6 }},
	{"reach map: 200 ENIs, 5,000 SG rules, 20 NACLs, all pairs, both families", "Reach200", "ns/op", "ExplainPair200", "ns/all-pairs", "faster than 200×200 explain calls",
		func(v, base float64) bool { return v < base }},
	{"memory per tracked flow, 1M flows", "FlowMemory", "B/flow", "", "", "≤ 192 B",
		func(v, _ float64) bool { return v <= 192 }},
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+(.*)$`)

func main() {
	results := map[string]map[string]float64{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		metrics := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				metrics[f[i+1]] = v
			}
		}
		results[m[1]] = metrics
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(w, "goal\tresult\tbaseline\tratio\ttarget\t\t")
	failed := 0
	for _, r := range rows {
		v, ok := results[r.bench][r.metric]
		if !ok {
			fmt.Fprintf(w, "%s\tnot run\t\t\t%s\t\t\n", r.name, r.goal)
			failed++
			continue
		}
		base, haveBase := results[r.baseline][r.baseMetric]
		baseText, ratio := "-", "-"
		if haveBase {
			baseText = format(base, r.baseMetric) + " (" + r.baseline + ")"
			if r.metric == "pkts/s" {
				ratio = fmt.Sprintf("%.2f×", v/base)
			} else {
				ratio = fmt.Sprintf("%.2f×", base/v)
			}
		}
		verdict := "ok"
		if !r.ok(v, base) || (r.baseline != "" && !haveBase) {
			verdict = "MISSED"
			failed++
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.name, format(v, r.metric), baseText, ratio, r.goal, verdict)
	}
	w.Flush()
	fmt.Println("ratio: baseline time ÷ result time (for pkts/s: result ÷ baseline); above 1 the result is faster.")
	if failed > 0 {
		fmt.Printf("%d goal(s) missed or not run\n", failed)
	}
}

func format(v float64, metric string) string {
	switch metric {
	case "pkts/s":
		return fmt.Sprintf("%.2f Mpps", v/1e6)
	case "ns/op", "ns/all-pairs":
		if v >= 1e8 {
			return fmt.Sprintf("%.2f s", v/1e9)
		}
		return fmt.Sprintf("%.1f ns", v)
	}
	return fmt.Sprintf("%.1f %s", v, metric)
}
