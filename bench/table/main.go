// Command table reads `go test -bench` output on standard input and prints
// vpclab's benchmark goals as one table: each figure beside the baseline
// measured in the same run, their ratio, the goal and whether it holds.
// With -count N the figures are medians of the N runs, shown with their
// minimum and maximum.
//
//	go test -run '^$' -bench . -benchmem -count 3 ./bench/ ./internal/reference/ | go run ./bench/table [-o json]
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
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
	{"established packet, 1k flows", "EstablishedFlows/1000", "ns/op", "Decode", "ns/op", "≤ 100 ns",
		func(v, _ float64) bool { return v <= 100 }},
	{"established packet, 100k flows", "EstablishedFlows/100000", "ns/op", "EstablishedFlows/1000", "ns/op", "≤ 100 ns",
		func(v, _ float64) bool { return v <= 100 }},
	{"established packet, 1M flows", "EstablishedFlows/1000000", "ns/op", "EstablishedFlows/1000", "ns/op", "≤ 100 ns",
		func(v, _ float64) bool { return v <= 100 }},
	{"established packet, 1M flows, judged a read batch at a time", "EstablishedFlowsBatch/1000000", "ns/op", "EstablishedFlows/1000000", "ns/op", "≤ 100 ns",
		func(v, _ float64) bool { return v <= 100 }},
	{"established packet, 4M flows, judged a read batch at a time", "EstablishedFlowsBatch/4000000", "ns/op", "EstablishedFlows/4000000", "ns/op", "no goal (shown)",
		func(v, _ float64) bool { return true }},
	{"established packet, 4M flows", "EstablishedFlows/4000000", "ns/op", "EstablishedFlows/1000", "ns/op", "no goal (shown)",
		func(v, _ float64) bool { return true }},
	{"first packet of a tracked flow, 10 rules", "FirstPacket10", "ns/op", "Decode", "ns/op", "≤ 150 ns",
		func(v, _ float64) bool { return v <= 150 }},
	{"first packet of a tracked flow, 10k ClassBench rules", "FirstPacket10k", "ns/op", "FirstPacket10", "ns/op", "≤ 300 ns (flat)",
		func(v, _ float64) bool { return v <= 300 }},
	{"first packet, 10k ClassBench rules, vs reference", "EngineFirstPacket10k", "ns/op", "ReferenceFirstPacket10k", "ns/op", "≥ 5× faster than reference",
		func(v, base float64) bool { return base >= 5*v }},
	{"replay from memory, one core", "Replay", "pkts/s", "ReplayDecode", "pkts/s", "≥ 3 Mpps",
		func(v, _ float64) bool { return v >= 3e6 }},
	{"replay from a pcap, new tracked flows, 10 rules, one core", "ReplayFile10/cores=1", "pkts/s", "ReplayReader", "pkts/s", "≥ 0.3× the reader alone",
		func(v, base float64) bool { return v >= 0.3*base }},
	{"replay from a pcap, new tracked flows, 10 rules, two cores", "ReplayFile10/cores=2", "pkts/s", "ReplayFile10/cores=1", "pkts/s", "≥ 1.8× one core",
		func(v, base float64) bool { return v >= 1.8*base }},
	{"replay, two cores, the flows split between two ENIs (no table shared)", "ReplayFile10TwoENIs/cores=2", "pkts/s", "ReplayFile10TwoENIs/cores=1", "pkts/s", "no goal (shown: the cost of one shared table)",
		func(v, _ float64) bool { return true }},
	{"replay from a pcap, new tracked flows, 10 rules vs 10k rules", "ReplayFile10/cores=1", "pkts/s", "ReplayFile10k", "pkts/s", "10 rules ≥ 10k rules",
		func(v, base float64) bool { return v >= base }},
	{"reach map: 200 ENIs, 5,000 SG rules, 20 NACLs, all pairs, both families", "Reach200", "ns/op", "ExplainPair200", "ns/all-pairs", "faster than 200×200 explain calls",
		func(v, base float64) bool { return v < base }},
	{"memory per tracked flow, 1M flows", "FlowMemory", "B/flow", "", "", "≤ 72 B",
		func(v, _ float64) bool { return v <= 72 }},
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+\d+\s+(.*)$`)

// stat is one metric over the runs of a benchmark.
type stat struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func summarise(runs []float64) *stat {
	if len(runs) == 0 {
		return nil
	}
	s := slices.Clone(runs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &stat{Median: m, Min: s[0], Max: s[len(s)-1], Runs: runs}
}

// result is one row of the table, as -o json gives it.
type result struct {
	Name           string `json:"name"`
	Benchmark      string `json:"benchmark"`
	Metric         string `json:"metric"`
	Result         *stat  `json:"result"` // nil: not run
	Baseline       string `json:"baseline,omitempty"`
	BaselineMetric string `json:"baseline_metric,omitempty"`
	BaselineResult *stat  `json:"baseline_result,omitempty"`
	// Ratio is baseline time ÷ result time (result ÷ baseline for
	// rates): above 1 the result is faster. 0 without a baseline.
	Ratio float64 `json:"ratio,omitempty"`
	Goal  string  `json:"goal"`
	OK    bool    `json:"ok"`
}

// parse reads benchmark output: benchmark name → metric → one value per run.
func parse(r io.Reader) (map[string]map[string][]float64, error) {
	results := map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		f := strings.Fields(m[3])
		if results[m[1]] == nil {
			results[m[1]] = map[string][]float64{}
		}
		for i := 0; i+1 < len(f); i += 2 {
			if v, err := strconv.ParseFloat(f[i], 64); err == nil {
				results[m[1]][f[i+1]] = append(results[m[1]][f[i+1]], v)
			}
		}
	}
	return results, sc.Err()
}

func judge(results map[string]map[string][]float64) []result {
	var out []result
	for _, r := range rows {
		res := result{Name: r.name, Benchmark: r.bench, Metric: r.metric, Goal: r.goal,
			Result: summarise(results[r.bench][r.metric])}
		if r.baseline != "" {
			res.Baseline, res.BaselineMetric = r.baseline, r.baseMetric
			res.BaselineResult = summarise(results[r.baseline][r.baseMetric])
		}
		if res.Result != nil {
			base := 0.0
			if res.BaselineResult != nil {
				base = res.BaselineResult.Median
				if r.metric == "pkts/s" {
					res.Ratio = res.Result.Median / base
				} else {
					res.Ratio = base / res.Result.Median
				}
			}
			res.OK = r.ok(res.Result.Median, base) && (r.baseline == "" || res.BaselineResult != nil)
		}
		out = append(out, res)
	}
	return out
}

func main() {
	output := flag.String("o", "text", "output format: text or json")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go test -bench . -count 3 ./bench/ ./internal/reference/ | table [-o text|json]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *output != "text" && *output != "json" {
		fmt.Fprintf(os.Stderr, "table: -o %q: want text or json\n", *output)
		os.Exit(2)
	}
	results, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "table:", err)
		os.Exit(1)
	}
	table := judge(results)
	if *output == "json" {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(table); err != nil {
			fmt.Fprintln(os.Stderr, "table:", err)
			os.Exit(1)
		}
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(w, "figure\tresult (median)\tmin–max\tbaseline (median)\tratio\tgoal\t\t")
	failed := 0
	for _, r := range table {
		if r.Result == nil {
			fmt.Fprintf(w, "%s\tnot run\t\t\t\t%s\tMISSED\t\n", r.Name, r.Goal)
			failed++
			continue
		}
		baseText, ratio := "-", "-"
		if r.BaselineResult != nil {
			baseText = format(r.BaselineResult.Median, r.BaselineMetric) + " (" + r.Baseline + ")"
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		}
		verdict := "ok"
		if !r.OK {
			verdict = "MISSED"
			failed++
		}
		spread := format(r.Result.Min, r.Metric) + " – " + format(r.Result.Max, r.Metric)
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.Name, format(r.Result.Median, r.Metric), spread, baseText, ratio, r.Goal, verdict)
	}
	w.Flush()
	runs := 0
	for _, r := range table {
		if r.Result != nil {
			runs = max(runs, len(r.Result.Runs))
		}
	}
	fmt.Printf("medians of %d run(s). ratio: baseline time ÷ result time (for pkts/s: result ÷ baseline); above 1 the result is faster.\n", runs)
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
