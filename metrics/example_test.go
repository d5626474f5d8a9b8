package metrics_test

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"

	"github.com/vpclab/vpclab/metrics"
	"github.com/vpclab/vpclab/verdict"
)

// A lab's counters exported per ENI and scraped over HTTP. A real Source
// reads live.Lab's devices; this one makes up one ENI's.
func Example() {
	src := metrics.SourceFunc(func(r *metrics.Reading) {
		var t metrics.Traffic
		t.ForwardedPackets, t.ForwardedBytes = 3, 180
		t.DroppedPackets[verdict.StageSGIngress][verdict.CodeSGRulesMismatch] = 1
		t.DroppedBytes[verdict.StageSGIngress][verdict.CodeSGRulesMismatch] = 60
		r.Senders = append(r.Senders, metrics.Sender{Name: "eni-0a1b", Traffic: t})
	})
	c := metrics.New(src, metrics.Options{PerENI: true})
	reg, err := metrics.NewRegistry(c)
	if err != nil {
		panic(err)
	}
	s, err := metrics.Serve("127.0.0.1:0", reg) // "" for metrics.DefaultAddr
	if err != nil {
		panic(err)
	}
	defer s.Close()

	resp, err := http.Get(s.URL())
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, "vpclab_packets_total") && !strings.HasSuffix(line, " 0") {
			fmt.Println(line)
		}
	}
	// Output:
	// vpclab_packets_total{action="dropped",direction="ingress",eni="eni-0a1b",reason="ENI_SG_RULES_MISMATCH",stage="sg-ingress"} 1
	// vpclab_packets_total{action="forwarded",direction="",eni="eni-0a1b",reason="",stage=""} 3
}
