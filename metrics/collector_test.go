package metrics

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vpclab/vpclab/verdict"
)

// fakeSource is a Source over a Reading the test changes between
// scrapes.
type fakeSource struct {
	mu    sync.Mutex
	r     Reading
	reads int
}

func (f *fakeSource) Read(r *Reading) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	r.Senders = append(r.Senders, f.r.Senders...)
	r.Instances = append(r.Instances, f.r.Instances...)
}

func (f *fakeSource) set(r Reading) {
	f.mu.Lock()
	f.r = r
	f.mu.Unlock()
}

func dropped(t *Traffic, s verdict.Stage, c verdict.Code, packets, bytes uint64) {
	t.DroppedPackets[s][c] += packets
	t.DroppedBytes[s][c] += bytes
}

// labReading is a lab of two instances, an ENI, the internet and the
// services sending.
func labReading() Reading {
	a := Sender{Name: "eni-a", Traffic: Traffic{
		ForwardedPackets: 10, ForwardedBytes: 1500, SuperPackets: 1,
		ServicePackets: 3, ServiceSuperPackets: 1, ServiceDropped: 1, WriteErrors: 1,
	}}
	dropped(&a.Traffic, verdict.StageSGEgress, verdict.CodeSGRulesMismatch, 2, 120)
	dropped(&a.Traffic, verdict.StageRoute, verdict.CodeTTLExceeded, 1, 60)
	inet := Sender{Name: SenderInternet, Traffic: Traffic{ForwardedPackets: 4, ForwardedBytes: 400}}
	dropped(&inet.Traffic, verdict.StageNACLIngress, verdict.CodeSubnetACLRestrict, 5, 300)
	dropped(&inet.Traffic, verdict.StageSGIngress, verdict.CodeSGRulesMismatch, 1, 40)
	svc := Sender{Name: SenderServices, Traffic: Traffic{ForwardedPackets: 2, ForwardedBytes: 200}}
	return Reading{
		Senders: []Sender{a, inet, svc},
		Instances: []Instance{
			{Name: "web", ConntrackEntries: 3, AllowanceAvailable: 997},
			{Name: "db", AllowanceExceeded: 7, PPSAllowanceExceeded: 3},
		},
	}
}

const wantAggregate = `
# HELP vpclab_packets_total Packets put into the dataplane, forwarded to a device or dropped (by stage, reason and direction). A GSO super-packet counts as the packets it stands for.
# TYPE vpclab_packets_total counter
vpclab_packets_total{action="forwarded",direction="",reason="",stage=""} 16
vpclab_packets_total{action="dropped",direction="",reason="MALFORMED_PACKET",stage="parse"} 0
vpclab_packets_total{action="dropped",direction="",reason="FRAGMENT_ORPHAN",stage="parse"} 0
vpclab_packets_total{action="dropped",direction="egress",reason="SOURCE_DEST_CHECK_RESTRICTION",stage="src-dst-check"} 0
vpclab_packets_total{action="dropped",direction="egress",reason="ENI_SG_RULES_MISMATCH",stage="sg-egress"} 2
vpclab_packets_total{action="dropped",direction="egress",reason="SUBNET_ACL_RESTRICTION",stage="nacl-egress"} 0
vpclab_packets_total{action="dropped",direction="ingress",reason="SUBNET_ACL_RESTRICTION",stage="nacl-ingress"} 5
vpclab_packets_total{action="dropped",direction="ingress",reason="ENI_SG_RULES_MISMATCH",stage="sg-ingress"} 1
vpclab_packets_total{action="dropped",direction="",reason="CONNTRACK_ALLOWANCE_EXCEEDED",stage="conntrack-allowance"} 0
vpclab_packets_total{action="dropped",direction="",reason="CANNOT_ROUTE",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="NO_ROUTE_TO_INTERNET_GATEWAY",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="TTL_EXCEEDED",stage="route"} 1
vpclab_packets_total{action="dropped",direction="",reason="NO_BROADCAST",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="LINK_LOCAL_NOT_ROUTED",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="PPS_ALLOWANCE_EXCEEDED",stage="pps-allowance"} 0
# HELP vpclab_bytes_total IP bytes put into the dataplane, forwarded to a device or dropped (by stage, reason and direction).
# TYPE vpclab_bytes_total counter
vpclab_bytes_total{action="forwarded",direction="",reason="",stage=""} 2100
vpclab_bytes_total{action="dropped",direction="",reason="MALFORMED_PACKET",stage="parse"} 0
vpclab_bytes_total{action="dropped",direction="",reason="FRAGMENT_ORPHAN",stage="parse"} 0
vpclab_bytes_total{action="dropped",direction="egress",reason="SOURCE_DEST_CHECK_RESTRICTION",stage="src-dst-check"} 0
vpclab_bytes_total{action="dropped",direction="egress",reason="ENI_SG_RULES_MISMATCH",stage="sg-egress"} 120
vpclab_bytes_total{action="dropped",direction="egress",reason="SUBNET_ACL_RESTRICTION",stage="nacl-egress"} 0
vpclab_bytes_total{action="dropped",direction="ingress",reason="SUBNET_ACL_RESTRICTION",stage="nacl-ingress"} 300
vpclab_bytes_total{action="dropped",direction="ingress",reason="ENI_SG_RULES_MISMATCH",stage="sg-ingress"} 40
vpclab_bytes_total{action="dropped",direction="",reason="CONNTRACK_ALLOWANCE_EXCEEDED",stage="conntrack-allowance"} 0
vpclab_bytes_total{action="dropped",direction="",reason="CANNOT_ROUTE",stage="route"} 0
vpclab_bytes_total{action="dropped",direction="",reason="NO_ROUTE_TO_INTERNET_GATEWAY",stage="route"} 0
vpclab_bytes_total{action="dropped",direction="",reason="TTL_EXCEEDED",stage="route"} 60
vpclab_bytes_total{action="dropped",direction="",reason="NO_BROADCAST",stage="route"} 0
vpclab_bytes_total{action="dropped",direction="",reason="LINK_LOCAL_NOT_ROUTED",stage="route"} 0
vpclab_bytes_total{action="dropped",direction="",reason="PPS_ALLOWANCE_EXCEEDED",stage="pps-allowance"} 0
# HELP vpclab_service_packets_total Packets allowed to the VPC's built-in services, handed to them (forwarded) or not (dropped: malformed GSO or checksum offsets).
# TYPE vpclab_service_packets_total counter
vpclab_service_packets_total{action="forwarded"} 3
vpclab_service_packets_total{action="dropped"} 1
# HELP vpclab_gso_super_packets_total GSO super-packets forwarded whole to a device (to=device) or cut into packets for the built-in services (to=service).
# TYPE vpclab_gso_super_packets_total counter
vpclab_gso_super_packets_total{to="device"} 1
vpclab_gso_super_packets_total{to="service"} 1
# HELP vpclab_device_write_errors_total Forwarded frames the destination TUN device refused.
# TYPE vpclab_device_write_errors_total counter
vpclab_device_write_errors_total 1
# HELP vpclab_conntrack_entries Connection-tracking entries held by the instance's ENIs, expired entries not yet removed included.
# TYPE vpclab_conntrack_entries gauge
vpclab_conntrack_entries{instance="web"} 3
vpclab_conntrack_entries{instance="db"} 0
# HELP vpclab_conntrack_allowance_available Flows the instance may still track before its conntrack allowance is used up.
# TYPE vpclab_conntrack_allowance_available gauge
vpclab_conntrack_allowance_available{instance="web"} 997
vpclab_conntrack_allowance_available{instance="db"} 0
# HELP vpclab_conntrack_allowance_exceeded_total New flows refused, their packets dropped, because the instance's conntrack allowance was used up.
# TYPE vpclab_conntrack_allowance_exceeded_total counter
vpclab_conntrack_allowance_exceeded_total{instance="web"} 0
vpclab_conntrack_allowance_exceeded_total{instance="db"} 7
# HELP vpclab_pps_allowance_exceeded_total Packets dropped because the instance's packet-rate allowance (packets per second, both directions) was used up.
# TYPE vpclab_pps_allowance_exceeded_total counter
vpclab_pps_allowance_exceeded_total{instance="web"} 0
vpclab_pps_allowance_exceeded_total{instance="db"} 3
`

// labFamilies are the families that come from the Source.
var labFamilies = []string{
	"vpclab_packets_total", "vpclab_bytes_total", "vpclab_service_packets_total",
	"vpclab_gso_super_packets_total", "vpclab_device_write_errors_total",
	"vpclab_conntrack_entries", "vpclab_conntrack_allowance_available", "vpclab_conntrack_allowance_exceeded_total",
	"vpclab_pps_allowance_exceeded_total",
}

func TestCollectAggregate(t *testing.T) {
	src := &fakeSource{r: labReading()}
	c := New(src, Options{})
	if err := testutil.CollectAndCompare(c, strings.NewReader(wantAggregate), labFamilies...); err != nil {
		t.Error(err)
	}
}

func TestCollectPerENI(t *testing.T) {
	src := &fakeSource{r: labReading()}
	c := New(src, Options{PerENI: true})
	const want = `
# HELP vpclab_service_packets_total Packets allowed to the VPC's built-in services, handed to them (forwarded) or not (dropped: malformed GSO or checksum offsets).
# TYPE vpclab_service_packets_total counter
vpclab_service_packets_total{action="forwarded",eni="eni-a"} 3
vpclab_service_packets_total{action="dropped",eni="eni-a"} 1
vpclab_service_packets_total{action="forwarded",eni="internet"} 0
vpclab_service_packets_total{action="dropped",eni="internet"} 0
vpclab_service_packets_total{action="forwarded",eni="vpc-service"} 0
vpclab_service_packets_total{action="dropped",eni="vpc-service"} 0
# HELP vpclab_device_write_errors_total Forwarded frames the destination TUN device refused.
# TYPE vpclab_device_write_errors_total counter
vpclab_device_write_errors_total{eni="eni-a"} 1
vpclab_device_write_errors_total{eni="internet"} 0
vpclab_device_write_errors_total{eni="vpc-service"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "vpclab_service_packets_total", "vpclab_device_write_errors_total"); err != nil {
		t.Error(err)
	}

	// Every sender has the forwarded series and the 13 known drop pairs,
	// each with its own counts.
	if n, want := testutil.CollectAndCount(c, "vpclab_packets_total"), 3*(1+len(knownDrops)); n != want {
		t.Errorf("vpclab_packets_total: %d series, want %d", n, want)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vpclab_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			got[l["eni"]+"/"+l["action"]+"/"+l["stage"]+"/"+l["reason"]+"/"+l["direction"]] = m.GetCounter().GetValue()
		}
	}
	for key, v := range map[string]float64{
		"eni-a/forwarded///": 10,
		"eni-a/dropped/sg-egress/ENI_SG_RULES_MISMATCH/egress":         2,
		"eni-a/dropped/route/TTL_EXCEEDED/":                            1,
		"eni-a/dropped/sg-ingress/ENI_SG_RULES_MISMATCH/ingress":       0,
		"internet/forwarded///":                                        4,
		"internet/dropped/nacl-ingress/SUBNET_ACL_RESTRICTION/ingress": 5,
		"internet/dropped/sg-ingress/ENI_SG_RULES_MISMATCH/ingress":    1,
		"internet/dropped/sg-egress/ENI_SG_RULES_MISMATCH/egress":      0,
		"vpc-service/forwarded///":                                     2,
	} {
		if g, ok := got[key]; !ok || g != v {
			t.Errorf("vpclab_packets_total %s = %v (present %v), want %v", key, g, ok, v)
		}
	}
}

// TestReadAtScrape checks that each scrape reads the counters anew.
func TestReadAtScrape(t *testing.T) {
	src := &fakeSource{}
	c := New(src, Options{})
	if v := forwarded(t, c); v != 0 {
		t.Errorf("no lab: %v packets forwarded, want 0", v)
	}
	r := labReading()
	src.set(r)
	if v := forwarded(t, c); v != 16 {
		t.Errorf("%v packets forwarded, want 16", v)
	}
	r.Senders[0].Traffic.ForwardedPackets += 100
	src.set(r)
	if v := forwarded(t, c); v != 116 {
		t.Errorf("after 100 more: %v packets forwarded, want 116", v)
	}
	if src.reads != 3 {
		t.Errorf("%d reads of the source for 3 scrapes", src.reads)
	}
}

// forwarded scrapes c and returns vpclab_packets_total{action="forwarded"}.
func forwarded(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vpclab_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "action" && l.GetValue() == "forwarded" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatal(`no vpclab_packets_total{action="forwarded"}`)
	return 0
}

// TestUnknownDrops checks that a pair outside knownDrops shows once it
// counts.
func TestUnknownDrops(t *testing.T) {
	var tr Traffic
	dropped(&tr, verdict.StageNone, verdict.CodeNone, 1, 50)         // live's fallback for an out-of-range verdict
	dropped(&tr, verdict.StageExempt, verdict.CodeCannotRoute, 0, 0) // zero and unknown: absent
	// A code no drop carries today still gets its series.
	dropped(&tr, verdict.StageSGIngress, verdict.CodeFragmentFollowing, 5, 250)
	src := &fakeSource{r: Reading{Senders: []Sender{{Name: "eni-a", Traffic: tr}}}}

	ds := drops(&tr)
	if len(ds) != len(knownDrops)+2 {
		t.Errorf("%d drop series, want the %d known ones and 2 more: %+v", len(ds), len(knownDrops), ds)
	}
	const want = `
# HELP vpclab_packets_total Packets put into the dataplane, forwarded to a device or dropped (by stage, reason and direction). A GSO super-packet counts as the packets it stands for.
# TYPE vpclab_packets_total counter
vpclab_packets_total{action="forwarded",direction="",reason="",stage=""} 0
vpclab_packets_total{action="dropped",direction="",reason="NONE",stage="none"} 1
vpclab_packets_total{action="dropped",direction="",reason="MALFORMED_PACKET",stage="parse"} 0
vpclab_packets_total{action="dropped",direction="",reason="FRAGMENT_ORPHAN",stage="parse"} 0
vpclab_packets_total{action="dropped",direction="egress",reason="SOURCE_DEST_CHECK_RESTRICTION",stage="src-dst-check"} 0
vpclab_packets_total{action="dropped",direction="egress",reason="ENI_SG_RULES_MISMATCH",stage="sg-egress"} 0
vpclab_packets_total{action="dropped",direction="egress",reason="SUBNET_ACL_RESTRICTION",stage="nacl-egress"} 0
vpclab_packets_total{action="dropped",direction="ingress",reason="SUBNET_ACL_RESTRICTION",stage="nacl-ingress"} 0
vpclab_packets_total{action="dropped",direction="ingress",reason="FRAGMENT_FOLLOWS_FIRST",stage="sg-ingress"} 5
vpclab_packets_total{action="dropped",direction="ingress",reason="ENI_SG_RULES_MISMATCH",stage="sg-ingress"} 0
vpclab_packets_total{action="dropped",direction="",reason="CONNTRACK_ALLOWANCE_EXCEEDED",stage="conntrack-allowance"} 0
vpclab_packets_total{action="dropped",direction="",reason="CANNOT_ROUTE",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="NO_ROUTE_TO_INTERNET_GATEWAY",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="TTL_EXCEEDED",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="NO_BROADCAST",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="LINK_LOCAL_NOT_ROUTED",stage="route"} 0
vpclab_packets_total{action="dropped",direction="",reason="PPS_ALLOWANCE_EXCEEDED",stage="pps-allowance"} 0
`
	for _, perENI := range []bool{false, true} {
		c := New(src, Options{PerENI: perENI})
		w := want
		if perENI {
			w = strings.ReplaceAll(want, `,reason=`, `,eni="eni-a",reason=`)
		}
		if err := testutil.CollectAndCompare(c, strings.NewReader(w), "vpclab_packets_total"); err != nil {
			t.Errorf("PerENI %v: %v", perENI, err)
		}
	}
}

// TestDirection checks the direction label of every stage.
func TestDirection(t *testing.T) {
	want := map[verdict.Stage]string{
		verdict.StageSrcDstCheck: "egress",
		verdict.StageSGEgress:    "egress",
		verdict.StageNACLEgress:  "egress",
		verdict.StageNACLIngress: "ingress",
		verdict.StageSGIngress:   "ingress",
	}
	for s := range verdict.NumStages {
		if got := direction(s); got != want[s] {
			t.Errorf("direction(%s) = %q, want %q", s, got, want[s])
		}
	}
}

// TestBadReading checks that a Reading with a repeated or empty name
// fails the scrape with an error naming it, rather than exporting
// colliding series.
func TestBadReading(t *testing.T) {
	for _, tc := range []struct {
		name   string
		perENI bool
		r      Reading
		want   string
	}{
		{"repeated sender", true, Reading{Senders: []Sender{{Name: "eni-a"}, {Name: "eni-b"}, {Name: "eni-a"}}},
			`Reading.Senders[2] repeats the name "eni-a" of Senders[0]`},
		{"repeated sender, aggregate", false, Reading{Senders: []Sender{{Name: "eni-a"}, {Name: "eni-a"}}},
			`Reading.Senders[1] repeats the name "eni-a" of Senders[0]`},
		{"unnamed sender", true, Reading{Senders: []Sender{{Name: "eni-a"}, {}}},
			`Reading.Senders[1] has no name`},
		{"repeated instance", false, Reading{Instances: []Instance{{Name: "web"}, {Name: "web"}}},
			`Reading.Instances[1] repeats the name "web" of Instances[0]`},
		{"unnamed instance", false, Reading{Instances: []Instance{{}}},
			`Reading.Instances[0] has no name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(New(&fakeSource{r: tc.r}, Options{PerENI: tc.perENI}))
			_, err := reg.Gather()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Gather error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestObserveApply(t *testing.T) {
	c := New(nil, Options{})
	c.ObserveApply(300*time.Microsecond, true)
	c.ObserveApply(2*time.Second, true)
	c.ObserveApply(time.Millisecond, false)
	const want = `
# HELP vpclab_policy_applies_total Policy applies to the running lab, by result.
# TYPE vpclab_policy_applies_total counter
vpclab_policy_applies_total{result="success"} 2
vpclab_policy_applies_total{result="failure"} 1
# HELP vpclab_policy_apply_duration_seconds Time from an apply request to its policy in force, for the applies that succeeded.
# TYPE vpclab_policy_apply_duration_seconds histogram
vpclab_policy_apply_duration_seconds_bucket{le="0.0001"} 0
vpclab_policy_apply_duration_seconds_bucket{le="0.00025"} 0
vpclab_policy_apply_duration_seconds_bucket{le="0.0005"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.001"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.0025"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.005"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.01"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.025"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.05"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.1"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.25"} 1
vpclab_policy_apply_duration_seconds_bucket{le="0.5"} 1
vpclab_policy_apply_duration_seconds_bucket{le="1"} 1
vpclab_policy_apply_duration_seconds_bucket{le="2.5"} 2
vpclab_policy_apply_duration_seconds_bucket{le="5"} 2
vpclab_policy_apply_duration_seconds_bucket{le="10"} 2
vpclab_policy_apply_duration_seconds_bucket{le="+Inf"} 2
vpclab_policy_apply_duration_seconds_sum 2.0003
vpclab_policy_apply_duration_seconds_count 2
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "vpclab_policy_applies_total", "vpclab_policy_apply_duration_seconds"); err != nil {
		t.Error(err)
	}
}

func TestBuildInfo(t *testing.T) {
	c := New(nil, Options{Version: "v1.2.3", Revision: "0123abcd"})
	want := fmt.Sprintf(`
# HELP vpclab_build_info The vpclab build: version, VCS revision and Go version. Always 1.
# TYPE vpclab_build_info gauge
vpclab_build_info{goversion=%q,revision="0123abcd",version="v1.2.3"} 1
`, runtime.Version())
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "vpclab_build_info"); err != nil {
		t.Error(err)
	}
	// Without a version, the test binary's build information gives one.
	if n := testutil.CollectAndCount(New(nil, Options{}), "vpclab_build_info"); n != 1 {
		t.Errorf("%d vpclab_build_info series without Options.Version, want 1", n)
	}
}

// TestLint runs promlint's naming and help checks over every family, in
// both modes, with every family populated.
func TestLint(t *testing.T) {
	for _, perENI := range []bool{false, true} {
		c := New(&fakeSource{r: labReading()}, Options{PerENI: perENI})
		c.ObserveApply(time.Millisecond, true)
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("PerENI %v: %s: %s", perENI, p.Metric, p.Text)
		}
	}
}

// TestDescribe checks that Collect sends only described metrics, with
// their declared labels: a pedantic registry refuses anything else.
func TestDescribe(t *testing.T) {
	for _, perENI := range []bool{false, true} {
		reg := prometheus.NewPedanticRegistry()
		c := New(&fakeSource{r: labReading()}, Options{PerENI: perENI})
		c.ObserveApply(time.Millisecond, false)
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("PerENI %v: %v", perENI, err)
		}
		if len(mfs) != len(labFamilies)+3 {
			t.Errorf("PerENI %v: %d families, want %d", perENI, len(mfs), len(labFamilies)+3)
		}
	}
}

// TestConcurrentScrapes scrapes from several goroutines while applies are
// observed (run with -race).
func TestConcurrentScrapes(t *testing.T) {
	c := New(&fakeSource{r: labReading()}, Options{PerENI: true})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
				c.ObserveApply(time.Millisecond, true)
			}
		})
	}
	wg.Wait()
	if got := testutil.ToFloat64(c.appliedOK); got != 80 {
		t.Errorf("%v successful applies counted, want 80", got)
	}
}

// TestObserveApplyNoAllocs checks that ObserveApply uses the counters
// resolved in New rather than looking them up by label.
func TestObserveApplyNoAllocs(t *testing.T) {
	c := New(nil, Options{})
	if n := testing.AllocsPerRun(100, func() {
		c.ObserveApply(time.Millisecond, true)
		c.ObserveApply(time.Millisecond, false)
	}); n != 0 {
		t.Errorf("ObserveApply: %v allocations per call pair, want 0", n)
	}
}
