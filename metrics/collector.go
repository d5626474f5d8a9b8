package metrics

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vpclab/vpclab/verdict"
)

// Sender names for Reading.Senders that are not ENIs; they match
// dataplane.Snapshot.PortName.
const (
	SenderInternet = "internet"
	SenderServices = "vpc-service"
)

// Traffic is a reading of what one sender put into the dataplane: the
// counters of a live device (live.Stats), with drops broken down by stage
// and verdict code together. Packet counts count a GSO super-packet as
// the packets it stands for; byte counts are IP bytes as read.
type Traffic struct {
	// ForwardedPackets and ForwardedBytes count the packets delivered to a
	// TUN device (an ENI's or the internet's).
	ForwardedPackets, ForwardedBytes uint64
	// SuperPackets counts the GSO super-packets among them, forwarded
	// whole.
	SuperPackets uint64
	// DroppedPackets and DroppedBytes count the packets the dataplane
	// dropped, by the stage that dropped them and the verdict's code.
	DroppedPackets, DroppedBytes [verdict.NumStages][verdict.NumCodes]uint64
	// ServicePackets counts the packets allowed to the built-in services
	// and handed to them; ServiceSuperPackets the GSO super-packets cut
	// into packets for them; ServiceDropped the packets allowed to them
	// that could not be handed over.
	ServicePackets, ServiceSuperPackets, ServiceDropped uint64
	// WriteErrors counts the forwarded frames the destination device
	// refused.
	WriteErrors uint64
}

// Add adds u's counts to t.
func (t *Traffic) Add(u *Traffic) {
	t.ForwardedPackets += u.ForwardedPackets
	t.ForwardedBytes += u.ForwardedBytes
	t.SuperPackets += u.SuperPackets
	for s := range t.DroppedPackets {
		for c := range t.DroppedPackets[s] {
			t.DroppedPackets[s][c] += u.DroppedPackets[s][c]
			t.DroppedBytes[s][c] += u.DroppedBytes[s][c]
		}
	}
	t.ServicePackets += u.ServicePackets
	t.ServiceSuperPackets += u.ServiceSuperPackets
	t.ServiceDropped += u.ServiceDropped
	t.WriteErrors += u.WriteErrors
}

// Sender is one source of traffic into the dataplane.
type Sender struct {
	// Name is the ENI id of the sending device, SenderInternet or
	// SenderServices: the eni label with Options.PerENI. Names are unique
	// within a Reading.
	Name    string
	Traffic Traffic
}

// Instance is a reading of one instance's connection tracking.
type Instance struct {
	// Name is the instance's name (the instance label); unique within a
	// Reading.
	Name string
	// ConntrackEntries is the number of entries its ENIs' tables hold,
	// expired ones not yet removed included (conntrack.Allowance.InUse).
	ConntrackEntries int
	// AllowanceAvailable is how many more flows it may track
	// (conntrack.Allowance.Available).
	AllowanceAvailable int
	// AllowanceExceeded counts the flows refused for lack of allowance
	// (conntrack.Allowance.Exceeded).
	AllowanceExceeded uint64
	// PPSAllowanceExceeded counts the packets dropped for lack of
	// packet-rate allowance (dataplane.PacketAllowance.Exceeded).
	PPSAllowanceExceeded uint64
}

// Reading is what a Source reports for one scrape.
type Reading struct {
	// Senders are every device of the lab and the built-in services.
	Senders []Sender
	// Instances are the lab's instances.
	Instances []Instance
}

// Source reads the lab's counters. A Collector calls Read once per scrape,
// possibly from several goroutines at once, with a zero Reading to fill.
// A Source with no lab running leaves r empty.
type Source interface {
	Read(r *Reading)
}

// SourceFunc adapts a function to a Source.
type SourceFunc func(r *Reading)

// Read calls f(r).
func (f SourceFunc) Read(r *Reading) { f(r) }

// Options adjust a Collector. The zero value exports the aggregate
// traffic series and reads the version from the binary's build
// information.
type Options struct {
	// PerENI adds an eni label, naming the sender, to the traffic
	// families (see the package doc on cardinality).
	PerENI bool
	// Version and Revision label vpclab_build_info. Empty, they come from
	// the main module's build information ("(devel)" and "" when it has
	// none).
	Version, Revision string
}

// ApplyBuckets are the upper bounds, in seconds, of
// vpclab_policy_apply_duration_seconds: a small lab compiles in well under
// a millisecond, a large imported one in seconds.
var ApplyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Collector is a prometheus.Collector of a lab's metrics (see the package
// doc). It reads its Source at each scrape and is safe for concurrent use.
type Collector struct {
	src    Source
	perENI bool

	packets, bytes, service, super, writeErrors *prometheus.Desc
	ctEntries, ctAvailable, ctExceeded          *prometheus.Desc
	ppsExceeded                                 *prometheus.Desc
	buildInfo                                   prometheus.Metric

	applies               *prometheus.CounterVec
	appliedOK, appliedBad prometheus.Counter
	applyDuration         prometheus.Histogram
}

// New returns a Collector reading src (nil: no lab, no traffic).
func New(src Source, o Options) *Collector {
	var eni []string
	if o.PerENI {
		eni = []string{"eni"}
	}
	labels := func(l ...string) []string { return append(l, eni...) }
	c := &Collector{
		src:    src,
		perENI: o.PerENI,
		packets: prometheus.NewDesc("vpclab_packets_total",
			"Packets put into the dataplane, forwarded to a device or dropped (by stage, reason and direction). A GSO super-packet counts as the packets it stands for.",
			labels("action", "stage", "reason", "direction"), nil),
		bytes: prometheus.NewDesc("vpclab_bytes_total",
			"IP bytes put into the dataplane, forwarded to a device or dropped (by stage, reason and direction).",
			labels("action", "stage", "reason", "direction"), nil),
		service: prometheus.NewDesc("vpclab_service_packets_total",
			"Packets allowed to the VPC's built-in services, handed to them (forwarded) or not (dropped: malformed GSO or checksum offsets).",
			labels("action"), nil),
		super: prometheus.NewDesc("vpclab_gso_super_packets_total",
			"GSO super-packets forwarded whole to a device (to=device) or cut into packets for the built-in services (to=service).",
			labels("to"), nil),
		writeErrors: prometheus.NewDesc("vpclab_device_write_errors_total",
			"Forwarded frames the destination TUN device refused.",
			labels(), nil),
		ctEntries: prometheus.NewDesc("vpclab_conntrack_entries",
			"Connection-tracking entries held by the instance's ENIs, expired entries not yet removed included.",
			[]string{"instance"}, nil),
		ctAvailable: prometheus.NewDesc("vpclab_conntrack_allowance_available",
			"Flows the instance may still track before its conntrack allowance is used up.",
			[]string{"instance"}, nil),
		ctExceeded: prometheus.NewDesc("vpclab_conntrack_allowance_exceeded_total",
			"New flows refused, their packets dropped, because the instance's conntrack allowance was used up.",
			[]string{"instance"}, nil),
		ppsExceeded: prometheus.NewDesc("vpclab_pps_allowance_exceeded_total",
			"Packets dropped because the instance's packet-rate allowance (packets per second, both directions) was used up.",
			[]string{"instance"}, nil),
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vpclab_policy_applies_total",
			Help: "Policy applies to the running lab, by result.",
		}, []string{"result"}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vpclab_policy_apply_duration_seconds",
			Help:    "Time from an apply request to its policy in force, for the applies that succeeded.",
			Buckets: ApplyBuckets,
		}),
	}
	c.appliedOK = c.applies.WithLabelValues("success")
	c.appliedBad = c.applies.WithLabelValues("failure")
	version, revision := buildVersion(o)
	c.buildInfo = prometheus.MustNewConstMetric(
		prometheus.NewDesc("vpclab_build_info", "The vpclab build: version, VCS revision and Go version. Always 1.",
			nil, prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()}),
		prometheus.GaugeValue, 1)
	return c
}

// buildVersion returns the version and revision to label
// vpclab_build_info with: o's, or the build information's.
func buildVersion(o Options) (version, revision string) {
	version, revision = o.Version, o.Revision
	if bi, ok := debug.ReadBuildInfo(); ok {
		if version == "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && revision == "" {
				revision = s.Value
			}
		}
	}
	if version == "" {
		version = "(devel)"
	}
	return version, revision
}

// ObserveApply records one policy apply that took d and succeeded if ok.
// The duration histogram holds the successful applies only: a rejected
// policy never comes into force.
func (c *Collector) ObserveApply(d time.Duration, ok bool) {
	if !ok {
		c.appliedBad.Inc()
		return
	}
	c.appliedOK.Inc()
	c.applyDuration.Observe(d.Seconds())
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.service, c.super, c.writeErrors,
		c.ctEntries, c.ctAvailable, c.ctExceeded, c.ppsExceeded, c.buildInfo.Desc()} {
		ch <- d
	}
	c.applies.Describe(ch)
	c.applyDuration.Describe(ch)
}

// Collect implements prometheus.Collector: it reads the Source and sends
// the reading's metrics. A Reading that names a sender or an instance
// twice, or leaves a name empty, yields an invalid metric, which fails the
// scrape with an error naming it.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var r Reading
	if c.src != nil {
		c.src.Read(&r)
	}
	ch <- c.buildInfo
	c.applies.Collect(ch)
	c.applyDuration.Collect(ch)

	if err := checkNames(len(r.Senders), func(i int) string { return r.Senders[i].Name }, "Senders"); err != nil {
		ch <- prometheus.NewInvalidMetric(c.packets, err)
	} else if c.perENI {
		for i := range r.Senders {
			c.collectTraffic(ch, &r.Senders[i].Traffic, r.Senders[i].Name)
		}
	} else {
		var sum Traffic
		for i := range r.Senders {
			sum.Add(&r.Senders[i].Traffic)
		}
		c.collectTraffic(ch, &sum, "")
	}

	if err := checkNames(len(r.Instances), func(i int) string { return r.Instances[i].Name }, "Instances"); err != nil {
		ch <- prometheus.NewInvalidMetric(c.ctEntries, err)
		return
	}
	for _, in := range r.Instances {
		ch <- prometheus.MustNewConstMetric(c.ctEntries, prometheus.GaugeValue, float64(in.ConntrackEntries), in.Name)
		ch <- prometheus.MustNewConstMetric(c.ctAvailable, prometheus.GaugeValue, float64(in.AllowanceAvailable), in.Name)
		ch <- prometheus.MustNewConstMetric(c.ctExceeded, prometheus.CounterValue, float64(in.AllowanceExceeded), in.Name)
		ch <- prometheus.MustNewConstMetric(c.ppsExceeded, prometheus.CounterValue, float64(in.PPSAllowanceExceeded), in.Name)
	}
}

// checkNames reports the first empty or repeated name among n, in the
// Reading field called field.
func checkNames(n int, name func(int) string, field string) error {
	seen := make(map[string]int, n)
	for i := range n {
		s := name(i)
		if s == "" {
			return fmt.Errorf("metrics: Reading.%s[%d] has no name", field, i)
		}
		if j, dup := seen[s]; dup {
			return fmt.Errorf("metrics: Reading.%s[%d] repeats the name %q of %s[%d]", field, i, s, field, j)
		}
		seen[s] = i
	}
	return nil
}

// collectTraffic sends t's metrics, labelled eni=sender with PerENI.
func (c *Collector) collectTraffic(ch chan<- prometheus.Metric, t *Traffic, sender string) {
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		if c.perENI {
			labels = append(labels, sender)
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.packets, t.ForwardedPackets, "forwarded", "", "", "")
	counter(c.bytes, t.ForwardedBytes, "forwarded", "", "", "")
	for _, d := range drops(t) {
		counter(c.packets, d.packets, "dropped", d.stage.String(), d.reason, direction(d.stage))
		counter(c.bytes, d.bytes, "dropped", d.stage.String(), d.reason, direction(d.stage))
	}
	counter(c.service, t.ServicePackets, "forwarded")
	counter(c.service, t.ServiceDropped, "dropped")
	counter(c.super, t.SuperPackets, "device")
	counter(c.super, t.ServiceSuperPackets, "service")
	counter(c.writeErrors, t.WriteErrors)
}

// drop is one dropped series: a stage and a reason, with its counts.
type drop struct {
	stage          verdict.Stage
	reason         string
	packets, bytes uint64
}

// drops returns the drop series of t: every pair in knownDrops and any
// other pair that counted something. Codes that share a name (a later
// fragment keeps its first fragment's code) are merged into one series.
func drops(t *Traffic) []drop {
	var out []drop
	for s := range verdict.NumStages {
		first := len(out) // the series of stage s start here
	codes:
		for k := range verdict.NumCodes {
			p, b := t.DroppedPackets[s][k], t.DroppedBytes[s][k]
			if p == 0 && b == 0 && !known[s][k] {
				continue
			}
			reason := k.String()
			for i := first; i < len(out); i++ {
				if out[i].reason == reason {
					out[i].packets += p
					out[i].bytes += b
					continue codes
				}
			}
			out = append(out, drop{stage: s, reason: reason, packets: p, bytes: b})
		}
	}
	return out
}

// knownDrops are the stage and code pairs the dataplane drops packets
// with (dataplane/engine.go and frag.go; live adds parse/MALFORMED_PACKET
// for a frame too short for its virtio header and route/CANNOT_ROUTE for
// the internet in a lab without internet hosts). Their series are
// exported from the start.
var knownDrops = [...]struct {
	stage verdict.Stage
	code  verdict.Code
}{
	{verdict.StageParse, verdict.CodeMalformed},
	{verdict.StageParse, verdict.CodeFragmentOrphan},
	{verdict.StageSrcDstCheck, verdict.CodeSourceDestCheck},
	{verdict.StageSGEgress, verdict.CodeSGRulesMismatch},
	{verdict.StageNACLEgress, verdict.CodeSubnetACLRestrict},
	{verdict.StageNACLIngress, verdict.CodeSubnetACLRestrict},
	{verdict.StageSGIngress, verdict.CodeSGRulesMismatch},
	{verdict.StageConntrackAllowance, verdict.CodeAllowanceExceeded},
	{verdict.StagePPSAllowance, verdict.CodePPSAllowanceExceeded},
	{verdict.StageRoute, verdict.CodeCannotRoute},
	{verdict.StageRoute, verdict.CodeNoInternetGateway},
	{verdict.StageRoute, verdict.CodeTTLExceeded},
	{verdict.StageRoute, verdict.CodeNoBroadcast},
	{verdict.StageRoute, verdict.CodeLinkLocal},
}

// known marks knownDrops by stage and code.
var known = func() (k [verdict.NumStages][verdict.NumCodes]bool) {
	for _, d := range knownDrops {
		k[d.stage][d.code] = true
	}
	return k
}()

// direction returns the direction label of a drop at stage s: the side of
// the path the stage checks for.
func direction(s verdict.Stage) string {
	switch s {
	case verdict.StageSrcDstCheck, verdict.StageSGEgress, verdict.StageNACLEgress:
		return "egress"
	case verdict.StageNACLIngress, verdict.StageSGIngress:
		return "ingress"
	}
	return ""
}
