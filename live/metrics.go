package live

import "github.com/vpclab/vpclab/metrics"

// ReadMetrics fills r with the lab's counters, for a metrics.Collector:
// each device's traffic (sender: the ENI id or "internet"), the services',
// and each instance's conntrack entries and allowance. It reads atomics
// only, at scrape time; the packet path does nothing for metrics.
func (x *Lab) ReadMetrics(r *metrics.Reading) {
	snap := x.engine.Snapshot()
	seen := map[string]bool{}
	for _, d := range x.devices {
		r.Senders = append(r.Senders, metrics.Sender{Name: d.Link.Alias(), Traffic: traffic(d.Counters.Load())})
		if d.Instance == "" || seen[d.Instance] {
			continue
		}
		if a := snap.Allowance(d.Port); a != nil {
			seen[d.Instance] = true
			r.Instances = append(r.Instances, metrics.Instance{
				Name:               d.Instance,
				ConntrackEntries:   a.InUse(),
				AllowanceAvailable: a.Available(),
				AllowanceExceeded:  a.Exceeded(),
			})
			if pa := snap.PacketAllowance(d.Port); pa != nil {
				r.Instances[len(r.Instances)-1].PPSAllowanceExceeded = pa.Exceeded()
			}
		}
	}
	r.Senders = append(r.Senders, metrics.Sender{Name: metrics.SenderServices, Traffic: traffic(x.ServiceCounters().Load())})
}

func traffic(s Stats) metrics.Traffic {
	return metrics.Traffic{
		ForwardedPackets: s.AllowedPackets, ForwardedBytes: s.AllowedBytes, SuperPackets: s.SuperPackets,
		DroppedPackets: s.DeniedPacketsBy, DroppedBytes: s.DeniedBytesBy,
		ServicePackets: s.ServicePackets, ServiceSuperPackets: s.ServiceSuperPackets, ServiceDropped: s.ServiceDropped,
		WriteErrors: s.WriteErrors,
	}
}
