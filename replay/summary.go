package replay

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// WriteText writes the summary for people: the capture, an aligned table
// of counts with the breakdowns of denied and skipped frames (largest
// first, with their share of the packets or frames), then the times.
func (s *Summary) WriteText(w io.Writer) error {
	type row struct {
		label string
		n, of int64 // of: the total n is a share of, 0 for none
		title bool  // a heading without a count
	}
	var rows []row
	add := func(indent int, label string, n, of int64) {
		rows = append(rows, row{label: strings.Repeat("  ", indent) + label, n: n, of: of})
	}
	breakdown := func(indent int, title string, m map[string]int64, of int64) {
		if len(m) > 0 {
			rows = append(rows, row{label: strings.Repeat("  ", indent) + title, title: true})
			for _, k := range sortedKeys(m) {
				add(indent+1, k, m[k], of)
			}
		}
	}
	add(0, "frames", s.Frames, 0)
	add(0, "packets", s.Packets, 0)
	add(1, "allowed", s.Allowed, s.Packets)
	add(1, "denied", s.Denied, s.Packets)
	breakdown(2, "by stage", s.DeniedByStage, s.Packets)
	breakdown(2, "by code", s.DeniedByCode, s.Packets)
	breakdown(2, "parse drops", s.ParseDrops, s.Packets)
	add(0, "skipped", s.Skipped, s.Frames)
	for _, k := range sortedKeys(s.SkippedBy) {
		add(1, k, s.SkippedBy[k], s.Frames)
	}

	labelW, numW := len("capture span"), len(strconv.FormatInt(s.Frames, 10))
	for _, r := range rows {
		labelW = max(labelW, utf8.RuneCountInString(r.label))
	}
	b := &strings.Builder{}
	fmt.Fprintf(b, "capture %s (%s, %s)\n\n", s.Capture, s.Format, s.LinkType)
	for _, r := range rows {
		switch {
		case r.title:
			fmt.Fprintf(b, "%s\n", r.label)
		case r.of > 0:
			fmt.Fprintf(b, "%-*s  %*d  %5.1f%%\n", labelW, r.label, numW, r.n, 100*float64(r.n)/float64(r.of))
		default:
			fmt.Fprintf(b, "%-*s  %*d\n", labelW, r.label, numW, r.n)
		}
	}
	fmt.Fprintf(b, "\n%-*s  %s\n", labelW, "capture span", seconds(s.Seconds))
	fmt.Fprintf(b, "%-*s  %s\n", labelW, "wall time", seconds(s.WallSeconds))
	fmt.Fprintf(b, "%-*s  %s packets/s on %d core(s)\n", labelW, "rate", human(s.PPS), max(s.Cores, 1))
	if len(s.CorePackets) > 1 {
		fmt.Fprintf(b, "%-*s ", labelW, "packets by core")
		for _, n := range s.CorePackets {
			fmt.Fprintf(b, " %d", n)
		}
		b.WriteString("\n")
	}
	if s.ReaderPPS > 0 {
		fmt.Fprintf(b, "%-*s  %s frames/s (the replay runs at %.2f× it)\n", labelW, "reader alone", human(s.ReaderPPS), s.PPS/s.ReaderPPS)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// sortedKeys returns m's keys, largest count first, then by name.
func sortedKeys(m map[string]int64) []string {
	return slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(m[b], m[a]), cmp.Compare(a, b))
	})
}

// seconds formats a duration given in seconds, rounded for reading.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Microsecond).String()
	}
	return d.String()
}
