package reach_test

// The page in a real browser: headless Chromium (the Debian package
// chromium; .ci/run installs it) loads the page from a file, a click on a
// matrix cell must show that pair's ports and rule trail, and the page
// must fetch nothing. -reach.screenshot FILE saves a picture of the page
// after the click (the README's docs/reach.png comes from it).

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/vpclab/vpclab/lab/labfile"
	"github.com/vpclab/vpclab/reach"
)

var (
	screenshot     = flag.String("reach.screenshot", "", "save a PNG of the page after the click to this file")
	diffScreenshot = flag.String("reach.diffshot", "", "save a PNG of the diff page after the click to this file")
)

// browser starts headless Chromium; the test fails if it is missing.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("headless Chromium is needed to test the page: install the Debian package chromium (apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.WindowSize(1300, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	return ctx
}

// run runs one browser action with a deadline and returns its value.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("in Chromium: %v", err)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	run(t, ctx, chromedp.Steps(steps...))
}

func writePage(t *testing.T, m *reach.Map, d *reach.Diff) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "reach.html")
	var b strings.Builder
	if err := reach.WriteHTML(&b, m, d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// load opens the page and counts the requests it makes besides itself.
func load(t *testing.T, ctx context.Context, file string) *atomic.Int32 {
	t.Helper()
	var others atomic.Int32
	url := "file://" + file
	// The first call starts the browser, which lives as long as the
	// context of that call: no deadline on it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.URL != url {
			others.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#matrix td.cell")))
	return &others
}

func TestPageInChromium(t *testing.T) {
	m, err := reach.Analyze(labfile.ExampleLab(), reach.Query{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	others := load(t, ctx, writePage(t, m, nil))
	cell := chromedp.CSS(`td[data-from="web1"][data-to="app1"]`)
	cellText := run(t, ctx, chromedp.Text(cell))
	do(t, ctx, chromedp.Click(cell), chromedp.WaitVisible(chromedp.CSS("#detail .flow")))
	cellClass := run(t, ctx, chromedp.AttributeValue(cell, "class")).Value
	detail := run(t, ctx, chromedp.Text(chromedp.CSS("#detail")))
	edges := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#graph path.edge").length`))
	if cellText != "tcp 8080" || !strings.Contains(cellClass, "lvl1") || !strings.Contains(cellClass, "selected") {
		t.Errorf("cell web1 → app1: text %q class %q, want tcp 8080, lvl1, selected", cellText, cellClass)
	}
	for _, want := range []string{"web1 → app1", "IPv4", "tcp 8080",
		"sg-egress", "sg-web egress #0 (default rule): all traffic to 0.0.0.0/0",
		"acl-web rule 100: allow tcp 1024-65535 to 0.0.0.0/0",
		"sg-ingress", "sg-app ingress #0 (line 65): tcp 8080 from sg-web",
		"replies come back to source ports 80,443,1024-65535",
		"next to it, tcp 1024-8079 stops at sg-ingress"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the trail shown after the click lacks %q:\n%s", want, detail)
		}
	}
	if edges == 0 {
		t.Error("the graph has no edge")
	}
	graphText := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("graph").textContent`))
	for _, want := range []string{"subnet-web (public)", "10.0.1.0/24 · NACL acl-web", "web1", "203.0.113.5", "internet"} {
		if !strings.Contains(graphText, want) {
			t.Errorf("the graph lacks the label %q: %q", want, graphText)
		}
	}
	// No label is overdrawn: every edge lies under the labels' layer.
	if bad := run(t, ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("#graph path.edge")].filter(p => {
		const labels = document.querySelector("#graph > g:last-of-type");
		return !(p.compareDocumentPosition(labels) & Node.DOCUMENT_POSITION_FOLLOWING);
	}).length`)); bad != 0 {
		t.Errorf("%d edges are drawn over the labels", bad)
	}
	if *screenshot != "" {
		png := run(t, ctx, chromedp.FullScreenshot(100))
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A closed pair says what stops it.
	do(t, ctx, chromedp.Click(chromedp.CSS(`td[data-from="web1"][data-to="db1"]`)))
	detail = run(t, ctx, chromedp.Text(chromedp.CSS("#detail")))
	if !strings.Contains(detail, "stops at nacl-ingress: acl-db rule 32767 (the implicit deny)") {
		t.Errorf("web1 → db1 does not say what stops it:\n%s", detail)
	}
	if n := others.Load(); n != 0 {
		t.Errorf("the page made %d requests: it must be self-contained", n)
	}
}

// TestStoppedPageInChromium: a stopped instance's row and column say so,
// and its pairs show what stops them.
func TestStoppedPageInChromium(t *testing.T) {
	m, err := reach.Analyze(labfile.ExampleLab(), reach.Query{Stopped: []string{"app1"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t)
	load(t, ctx, writePage(t, m, nil))
	cell := chromedp.CSS(`td[data-from="web1"][data-to="app1"]`)
	text := run(t, ctx, chromedp.Text(cell))
	do(t, ctx, chromedp.Click(cell), chromedp.WaitVisible(chromedp.CSS("#detail .flow")))
	detail := run(t, ctx, chromedp.Text(chromedp.CSS("#detail")))
	notes := run(t, ctx, chromedp.Text(chromedp.CSS("#notes")))
	head := run(t, ctx, chromedp.Text(chromedp.CSS("#matrix tr:first-child")))
	if text != "stopped" || !strings.Contains(head, "app1 (stopped)") {
		t.Errorf("web1 → app1 reads %q, the header %q; want stopped, app1 (stopped)", text, head)
	}
	for _, want := range []string{"stopped: app1 sends and receives nothing", "tcp: nothing", "stops at route: instance app1 is stopped: it sends and receives nothing"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail lacks %q:\n%s", want, detail)
		}
	}
	if !strings.Contains(notes, "Stopped (send and receive nothing): app1") || !strings.Contains(notes, "Not in this map: the conntrack allowance") {
		t.Errorf("the page's notes: %q", notes)
	}
}

func TestDiffPageInChromium(t *testing.T) {
	old, new := diffLabs(t)
	mo, err := reach.Analyze(old, reach.Query{})
	if err != nil {
		t.Fatal(err)
	}
	mn, err := reach.Analyze(new, reach.Query{})
	if err != nil {
		t.Fatal(err)
	}
	d := reach.Compare(mo, mn)
	ctx := browser(t)
	load(t, ctx, writePage(t, mn, d))
	cell := chromedp.CSS(`td[data-from="web1"][data-to="db1"]`)
	cls := run(t, ctx, chromedp.AttributeValue(cell, "class")).Value
	do(t, ctx, chromedp.Click(cell))
	detail := run(t, ctx, chromedp.Text(chromedp.CSS("#detail")))
	edge := run(t, ctx, chromedp.Evaluate[string](`document.querySelector('#graph path.edge[data-from="web1"][data-to="db1"]').getAttribute("stroke")`))
	if !strings.Contains(cls, "opened") {
		t.Errorf("web1 → db1 class %q, want opened", cls)
	}
	if edge != "#d32f2f" {
		t.Errorf("the opened edge is drawn %s, want red", edge)
	}
	// 203.0.113.5 → web1 is partly closed (ssh): the cell shows what is
	// still open and, struck through in grey, what closed; the graph a
	// green edge and a grey dashed one beside it.
	part := `td[data-from="203.0.113.5"][data-to="web1"]`
	closedText := run(t, ctx, chromedp.Evaluate[string](`document.querySelector('`+part+` .minus').textContent`))
	partCls := run(t, ctx, chromedp.AttributeValue(chromedp.CSS(part), "class")).Value
	strokes := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#graph path.edge[data-from="203.0.113.5"][data-to="web1"]')].map(p => p.dataset.part + " " + p.getAttribute("stroke") + " " + p.getAttribute("stroke-dasharray"))`))
	if closedText != "tcp 22" || !strings.Contains(partCls, "closed") || !strings.Contains(partCls, "lvl1") {
		t.Errorf("203.0.113.5 → web1: class %q, struck-through %q; want closed, lvl1, tcp 22", partCls, closedText)
	}
	if strings.Join(strokes, "; ") != "open #43a047 ; closed #9e9e9e 5,4" {
		t.Errorf("203.0.113.5 → web1 edges: %q, want a green one and a grey dashed one", strokes)
	}
	if *diffScreenshot != "" {
		if err := os.WriteFile(*diffScreenshot, run(t, ctx, chromedp.FullScreenshot(100)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"opened: IPv4 tcp 5432", "now nacl-ingress: acl-db rule 90: allow tcp 5432 from 10.0.1.0/24", "was acl-db rule 32767 (the implicit deny)"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the diff detail lacks %q:\n%s", want, detail)
		}
	}
}

var largeScreenshot = flag.String("reach.largeshot", "", "save a PNG of the 200-ENI lab's page to this file")

// TestLargePageInChromium: the page of a 200-ENI lab (203 endpoints,
// 41,006 pairs) stays usable: it is at most 24 MB, Chromium shows it
// within 30 seconds, the matrix scrolls inside its box, the graph folds
// the 20 subnets and draws only the edges of one unit (the internet's at
// first, then an instance's after a click on it), a click on a folded
// subnet's + opens it, and a click on a cell far down the matrix shows
// that pair's trail.
func TestLargePageInChromium(t *testing.T) {
	l, err := labfile.Parse("large.yaml", []byte(largeLab()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := reach.Analyze(l, reach.Query{})
	if err != nil {
		t.Fatal(err)
	}
	file := writePage(t, m, nil)
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() > 24<<20 {
		t.Errorf("the page of 200 ENIs is %d MB, want at most 24", st.Size()>>20)
	}
	ctx := browser(t)
	start := time.Now()
	load(t, ctx, file)
	took := time.Since(start)
	t.Logf("page %.1f MB, shown in %v", float64(st.Size())/(1<<20), took)
	if took > 30*time.Second {
		t.Errorf("the page took %v to show, want at most 30 s", took)
	}
	type layout struct {
		Cells, Edges, Nodes, Folded, Foreign int
		ScrollH, ClientH, ScrollW, ClientW   int
	}
	measure := func() layout {
		return run(t, ctx, chromedp.Evaluate[layout](`(() => { const b = document.getElementById("matrixbox"); return {
			Cells: document.querySelectorAll("#matrix td.cell").length,
			Edges: document.querySelectorAll("#graph path.edge").length,
			Nodes: document.querySelectorAll("#graph circle.node").length,
			Folded: document.querySelectorAll("#graph g.subnet.folded").length,
			Foreign: [...document.querySelectorAll("#graph path.edge")].filter(p => p.dataset.from !== focus && p.dataset.to !== focus).length,
			ScrollH: b.scrollHeight, ClientH: b.clientHeight, ScrollW: b.scrollWidth, ClientW: b.clientWidth}; })()`))
	}
	got := measure()
	if got.Cells != 203*202 {
		t.Errorf("%d cells, want %d", got.Cells, 203*202)
	}
	if got.Folded != 20 || got.Nodes != 3 || got.Edges == 0 || got.Edges > 2*22 || got.Foreign != 0 {
		t.Errorf("graph: %d folded subnets, %d nodes, %d edges (%d not the internet's); want 20 folded, the 3 outside nodes, the internet's edges to and from the 22 other units at most",
			got.Folded, got.Nodes, got.Edges, got.Foreign)
	}
	if got.ScrollH <= got.ClientH || got.ClientH > 1000 || got.ScrollW <= got.ClientW {
		t.Errorf("the matrix box is %dx%d showing %dx%d: it must scroll both ways", got.ScrollW, got.ScrollH, got.ClientW, got.ClientH)
	}
	// Open subnet s5: its ten instances appear; a click on i57 draws its
	// edges, to and from the 19 folded subnets, the 9 others of s5 and
	// the 3 outside.
	do(t, ctx, chromedp.Click(chromedp.CSS(`#graph g.toggle[data-subnet="s5"] rect`)))
	if after := measure(); after.Nodes != 13 || after.Folded != 19 {
		t.Errorf("after a click on s5's +: %d nodes, %d folded; want 13, 19", after.Nodes, after.Folded)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`#graph circle[data-name="i57"]`)))
	if after := measure(); after.Edges == 0 || after.Edges > 2*31 || after.Foreign != 0 {
		t.Errorf("after a click on i57: %d edges, %d not i57's; want i57's alone, at most 62", after.Edges, after.Foreign)
	}
	if *largeScreenshot != "" {
		if err := os.WriteFile(*largeScreenshot, run(t, ctx, chromedp.CaptureScreenshot()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A cell far down and right: i190 → i57.
	want := m.Cell("i190", "i57")
	cell := chromedp.CSS(`td[data-from="i190"][data-to="i57"]`)
	do(t, ctx, chromedp.Click(cell), chromedp.WaitVisible(chromedp.CSS("#detail h3")))
	detail := run(t, ctx, chromedp.Text(chromedp.CSS("#detail")))
	if !strings.Contains(detail, "i190 → i57") || !strings.Contains(detail, "IPv4 10.0.19.10 → 10.0.5.17") {
		t.Errorf("the detail of i190 → i57 (%q):\n%.2000s", want, detail)
	}
	if want != "" && !strings.Contains(detail, "sg-ingress") {
		t.Errorf("i190 → i57 is open (%s) but its detail names no sg-ingress rule:\n%.2000s", want, detail)
	}
}
