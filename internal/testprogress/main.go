// Command testprogress reads `go test -json` on standard input and prints
// a line per package as it finishes (go test itself prints in package
// order, so one slow package hides the others), the whole output of every
// failed test, and a last line with the totals and the wall time. It exits
// 1 when any package failed, so `make test` fails with it.
//
// It is a tool of the Makefile; it must not import any package of vpclab.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	start := time.Now()
	output := map[string]*strings.Builder{} // package or package/test → output
	var ok, failed, skipped int
	var failedNames []string
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			// Build errors and vet output come as plain text.
			fmt.Println(string(line))
			continue
		}
		key := e.Package
		if e.Test != "" {
			key += "\x00" + e.Test
		}
		switch e.Action {
		case "output":
			b := output[key]
			if b == nil {
				b = new(strings.Builder)
				output[key] = b
			}
			b.WriteString(e.Output)
		case "pass", "skip":
			if e.Test == "" {
				if e.Action == "skip" {
					skipped++
				} else {
					ok++
					fmt.Printf("ok    %-52s %6.1fs\n", e.Package, e.Elapsed)
				}
			}
			delete(output, key)
		case "fail":
			if e.Test != "" {
				failedNames = append(failedNames, e.Package+" "+e.Test)
				if b := output[key]; b != nil {
					fmt.Print(b.String())
				}
				delete(output, key)
				continue
			}
			failed++
			if b := output[key]; b != nil {
				fmt.Print(b.String())
			}
			fmt.Printf("FAIL  %-52s %6.1fs\n", e.Package, e.Elapsed)
			delete(output, key)
		}
	}
	fmt.Printf("\n%d packages ok, %d failed, %d without tests; %s\n", ok, failed, skipped, time.Since(start).Round(time.Second))
	for _, n := range failedNames {
		fmt.Println("failed:", n)
	}
	if failed > 0 || len(failedNames) > 0 {
		os.Exit(1)
	}
}
