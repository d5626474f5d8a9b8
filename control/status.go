package control

import (
	"sort"
	"time"

	"github.com/vpclab/vpclab/verdict"
)

// Status is the body of GET /v1/status.
type Status struct {
	// Lab is the lab id (labnet.Plan.ID) and File the lab file it was
	// loaded from.
	Lab  string `json:"lab"`
	File string `json:"file"`
	// Started is when the lab started enforcing; UptimeSeconds is how long
	// ago, at the time of the reply.
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// ENIs are the lab's ENIs in file order.
	ENIs []ENI `json:"enis"`
	// FlowLogErrors counts the failed writes of the flow logs (their
	// records were lost; enforcement went on), FlowLogError the last.
	FlowLogErrors uint64 `json:"flow_log_errors"`
	FlowLogError  string `json:"flow_log_error,omitempty"`
	// EC2 is where EC2's Query API of the lab is served; absent when off.
	EC2 *EC2Endpoint `json:"ec2_api,omitempty"`
	// Metrics is the URL of the lab's Prometheus metrics; absent when
	// off.
	Metrics string `json:"metrics,omitempty"`
	// Datapath is tun or ebpf; DatapathNote says why the eBPF datapath
	// asked for is not running, or which ENIs are off its fast path.
	Datapath     string `json:"datapath"`
	DatapathNote string `json:"datapath_note,omitempty"`
}

// ENI is the status of one ENI and its device.
type ENI struct {
	ID       string `json:"id"`
	Instance string `json:"instance"`
	// State is the instance's: running, or stopped (StopInstances).
	State     string   `json:"state"`
	Namespace string   `json:"namespace"`
	Device    string   `json:"device"`
	Addresses []string `json:"addresses"` // with prefix lengths, IPv4 first
	// Allowed counts the packets the ENI sent that were forwarded.
	Allowed Count `json:"allowed"`
	// Denied counts the packets the ENI sent that were dropped.
	Denied Denied `json:"denied"`
	// ServicePackets counts the packets the ENI sent that were handed to
	// the VPC's built-in services (DNS, metadata, Time Sync, routers).
	ServicePackets uint64    `json:"service_packets"`
	Conntrack      Conntrack `json:"conntrack"`
	// Allowance is the conntrack allowance of the ENI's instance, shared
	// by its ENIs.
	Allowance Allowance `json:"conntrack_allowance"`
	// PPSAllowance is the packet-rate allowance of the ENI's instance,
	// shared by its ENIs.
	PPSAllowance PPSAllowance `json:"pps_allowance"`
}

// PPSAllowance is an instance's packet-rate allowance.
type PPSAllowance struct {
	PacketsPerSecond int    `json:"packets_per_second"` // 0: unlimited
	Exceeded         uint64 `json:"exceeded"`           // pps_allowance_exceeded
}

// Count is a number of packets and their IP bytes.
type Count struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Denied is Count broken down by the stage that dropped the packets.
type Denied struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// ByStage holds the stages that dropped any packet, by stage name
	// (verdict.Stage's String: "sg-egress", "nacl-ingress", …); it is
	// empty, never null, when nothing was denied.
	ByStage map[string]Count `json:"by_stage"`
}

// Conntrack is an ENI's conntrack table.
type Conntrack struct {
	// Count is the number of live (unexpired) entries.
	Count int `json:"count"`
	// Entries lists them when the request asked (?entries=1), sorted by
	// key.
	Entries []Entry `json:"entries,omitempty"`
}

// Entry is one conntrack entry.
type Entry struct {
	Key              string  `json:"key"`   // e.g. "tcp 10.0.1.10:40000 <-> 10.0.2.10:8080"
	State            string  `json:"state"` // e.g. "ESTABLISHED"
	ExpiresInSeconds float64 `json:"expires_in_seconds"`
}

// Allowance is an instance's conntrack allowance.
type Allowance struct {
	Used      int    `json:"used"`      // entries held, expired ones not yet removed included
	Available int    `json:"available"` // conntrack_allowance_available
	Exceeded  uint64 `json:"exceeded"`  // conntrack_allowance_exceeded
}

// Error is the body of every error reply.
type Error struct {
	Error string `json:"error"`
}

// Snapshot reads the status of x, loaded from l, now; with entries it
// lists each ENI's conntrack entries.
func Snapshot(x Lab, entries bool) *Status {
	l := x.Lab()
	now := x.Now()
	started := x.Started()
	st := &Status{
		Lab:           x.Plan().ID,
		File:          l.File,
		Started:       started,
		UptimeSeconds: time.Since(started).Seconds(),
		ENIs:          []ENI{},
	}
	st.FlowLogErrors, st.FlowLogError = x.FlowLogErrors()
	st.Datapath, st.DatapathNote = x.Datapath()
	snap := x.Engine().Snapshot()
	for _, d := range x.Devices() {
		if d.Link.ENI == "" {
			continue
		}
		e := ENI{
			ID:             d.Link.ENI,
			Instance:       d.Instance,
			State:          x.InstanceState(d.Instance),
			Namespace:      d.Link.Namespace,
			Device:         d.Link.Name,
			Addresses:      make([]string, len(d.Link.Addrs)),
			Allowed:        Count{Packets: d.AllowedPackets, Bytes: d.AllowedBytes},
			Denied:         Denied{ByStage: map[string]Count{}},
			ServicePackets: d.ServicePackets,
		}
		for i, a := range d.Link.Addrs {
			e.Addresses[i] = a.String()
		}
		for s := range verdict.NumStages {
			p, b := d.DeniedPackets[s], d.DeniedBytes[s]
			if p == 0 && b == 0 {
				continue
			}
			e.Denied.Packets += p
			e.Denied.Bytes += b
			e.Denied.ByStage[s.String()] = Count{Packets: p, Bytes: b}
		}
		if t := snap.Table(d.Port); t != nil {
			infos := t.Entries(now)
			e.Conntrack.Count = len(infos)
			if entries {
				e.Conntrack.Entries = make([]Entry, len(infos))
				for i, in := range infos {
					e.Conntrack.Entries[i] = Entry{Key: in.Key.String(), State: in.State.String(), ExpiresInSeconds: in.Expires.Seconds()}
				}
				sort.Slice(e.Conntrack.Entries, func(i, j int) bool { return e.Conntrack.Entries[i].Key < e.Conntrack.Entries[j].Key })
			}
		}
		if a := snap.Allowance(d.Port); a != nil {
			e.Allowance = Allowance{Used: a.InUse(), Available: a.Available(), Exceeded: a.Exceeded()}
		}
		if a := snap.PacketAllowance(d.Port); a != nil {
			e.PPSAllowance = PPSAllowance{PacketsPerSecond: a.Rate(), Exceeded: a.Exceeded()}
		}
		st.ENIs = append(st.ENIs, e)
	}
	return st
}
