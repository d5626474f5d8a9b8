//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
)

// stats is a side's figures for one test over the rounds.
type stats struct {
	Values []float64 `json:"values"` // by round
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	// Spread is (max − min) / median: how far the side's own runs moved.
	Spread float64 `json:"spread"`
}

func statsOf(v []float64) *stats {
	if len(v) == 0 {
		return nil
	}
	s := &stats{Values: v, Median: median(v), Min: slices.Min(v), Max: slices.Max(v)}
	if s.Median > 0 {
		s.Spread = (s.Max - s.Min) / s.Median
	}
	return s
}

// testResult is one test's figures: each side's, and each datapath's
// ratio to the kernel, round by round (a round's ratio divides figures
// measured minutes apart, not hours).
type testResult struct {
	Test   string            `json:"test"`
	Sides  map[string]*stats `json:"sides"`
	Ratios map[string]*stats `json:"ratio_to_kernel,omitempty"`
}

// goal is one of issue 12's goals, checked on this run.
type goal struct {
	Check string `json:"check"`
	OK    bool   `json:"ok"`
}

// report prints the runs' table (or, with -o json, everything).
func report(runs []e2eRun, ts []test) error {
	sides := []string{"vpclab", "ebpf", "kernel"}
	var results []testResult
	for _, t := range ts {
		r := testResult{Test: t.name, Sides: map[string]*stats{}, Ratios: map[string]*stats{}}
		byRound := map[string]map[int]float64{}
		for _, run := range runs {
			if run.Test != t.name {
				continue
			}
			if byRound[run.Side] == nil {
				byRound[run.Side] = map[int]float64{}
			}
			byRound[run.Side][run.Round] = run.Value
		}
		for _, side := range sides {
			var v []float64
			for round := 1; round <= *rounds; round++ {
				if x, ok := byRound[side][round]; ok {
					v = append(v, x)
				}
			}
			if s := statsOf(v); s != nil {
				r.Sides[side] = s
			}
		}
		for _, side := range sides[:2] {
			var v []float64
			for round := 1; round <= *rounds; round++ {
				x, ok1 := byRound[side][round]
				k, ok2 := byRound["kernel"][round]
				if ok1 && ok2 && k > 0 {
					v = append(v, x/k)
				}
			}
			if s := statsOf(v); s != nil {
				r.Ratios[side] = s
			}
		}
		results = append(results, r)
	}
	goals := checkGoals(results, ts)

	pinning := "not pinned"
	if *pinLabCPUs != "" || *pinClientCPUs != "" || *pinServerCPUs != "" {
		pinning = fmt.Sprintf("pinned: lab %s, client %s, server %s", orAny(*pinLabCPUs), orAny(*pinClientCPUs), orAny(*pinServerCPUs))
	}
	udpTool := "iperf3 -u"
	if *udpSender == "mmsg" {
		udpTool = fmt.Sprintf("sendmmsg/recvmmsg, %d per call", *udpBatch)
	}
	if *output == "json" {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		return e.Encode(map[string]any{
			"command": commandLine(), "cores": runtime.NumCPU(), "gomaxprocs": runtime.GOMAXPROCS(0),
			"go": runtime.Version(), "mtu": *mtu, "seconds_per_test": *secs, "rounds": *rounds,
			"udp_tool": udpTool, "pinning": pinning, "runs": runs, "tests": results, "goals": goals,
		})
	}

	fmt.Printf("\nvpclab end-to-end benchmark (TCP iperf3, UDP %s; %d s per test, %d rounds)\n", udpTool, *secs, *rounds)
	fmt.Printf("command: %s\n", commandLine())
	fmt.Printf("cores: %d (GOMAXPROCS %d), %s/%s, %s, MTU %d, %s, load average %s\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), *mtu, pinning, loadavg())
	fmt.Printf("%-26s %-12s %9s %19s %7s   %-30s\n", "test", "side", "median", "min–max", "spread", "÷ kernel: median (min–max) by round")
	for _, r := range results {
		first := true
		for _, side := range sides {
			s := r.Sides[side]
			if s == nil {
				continue
			}
			name := ""
			if first {
				name, first = r.Test, false
			}
			ratio := ""
			if q := r.Ratios[side]; q != nil {
				by := make([]string, len(q.Values))
				for i, x := range q.Values {
					by[i] = fmt.Sprintf("%.2f", x)
				}
				ratio = fmt.Sprintf("%.2fx (%.2f–%.2f) %s", q.Median, q.Min, q.Max, strings.Join(by, " "))
			}
			fmt.Printf("%-26s %-12s %9.3f %9.3f–%-9.3f %6.0f%%   %s\n", name, sideLabel(side), s.Median, s.Min, s.Max, 100*s.Spread, ratio)
		}
	}
	for _, side := range sides {
		var sent, loss []float64
		for _, run := range runs {
			if run.Side == side && run.SentMpps > 0 {
				sent, loss = append(sent, run.SentMpps), append(loss, run.LossPct)
			}
		}
		if len(sent) > 0 {
			fmt.Printf("  UDP on %s: sent %.3f Mpps, lost %.1f%% (medians)\n", sideLabel(side), median(sent), median(loss))
		}
	}

	fmt.Printf("\nwhere the work ran: CPU seconds on each CPU (cpu0+cpu1...), summed over the rounds\n")
	for _, t := range ts {
		for _, side := range sides {
			var sum placement
			n := 0
			for _, run := range runs {
				if run.Side == side && run.Test == t.name {
					sum = addPlacement(sum, run.Placement)
					n++
				}
			}
			if n > 0 {
				fmt.Printf("  %-26s %-12s %s\n", t.name, sideLabel(side), sum)
			}
		}
	}

	fmt.Printf("\ngoals (issue 12):\n")
	for _, g := range goals {
		mark := "ok"
		if !g.OK {
			mark = "MISSED"
		}
		fmt.Printf("  %-6s %s\n", mark, g.Check)
	}
	return nil
}

// checkGoals checks issue 12's end-to-end goals on the results: on TUN,
// TCP ≥ 0.7× the kernel in every round; on eBPF, TCP ≥ 0.9× (1 stream)
// and ≥ 0.95× (4 streams), small UDP ≥ 0.9×, as medians; the spread of
// each datapath's own runs ≤ 15%.
func checkGoals(results []testResult, ts []test) []goal {
	goals := []goal{}
	for i, r := range results {
		if q := r.Ratios["vpclab"]; q != nil && !ts[i].udp {
			goals = append(goals, goal{fmt.Sprintf("%s: tun ≥ 0.7× kernel in every round (min %.2f×)", r.Test, q.Min), q.Min >= 0.7})
		}
		if q := r.Ratios["ebpf"]; q != nil {
			want := 0.9
			if strings.Contains(r.Test, "4 streams") {
				want = 0.95
			}
			goals = append(goals, goal{fmt.Sprintf("%s: ebpf ≥ %.2g× kernel, median (%.2f×)", r.Test, want, q.Median), q.Median >= want})
		}
		for _, side := range []string{"vpclab", "ebpf"} {
			if s := r.Sides[side]; s != nil && len(s.Values) > 1 {
				goals = append(goals, goal{fmt.Sprintf("%s: %s's own runs within 15%% (%.0f%%)", r.Test, sideLabel(side), 100*s.Spread), s.Spread <= 0.15})
			}
		}
	}
	return goals
}

func addPlacement(a, b placement) placement {
	add := func(x, y []float64) []float64 {
		if y == nil {
			return x
		}
		if x == nil {
			x = make([]float64, len(y))
		}
		for i := range y {
			if i < len(x) {
				x[i] += y[i]
			}
		}
		return x
	}
	return placement{Lab: add(a.Lab, b.Lab), Client: add(a.Client, b.Client), Server: add(a.Server, b.Server),
		Softirq: add(a.Softirq, b.Softirq), Busy: add(a.Busy, b.Busy)}
}

// sideLabel names a side as the table shows it.
func sideLabel(side string) string {
	switch side {
	case "vpclab":
		return "vpclab tun"
	case "ebpf":
		return "vpclab ebpf"
	}
	return side
}

func orAny(cpus string) string {
	if cpus == "" {
		return "any"
	}
	return cpus
}
