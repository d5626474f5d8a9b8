package labfile

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/vpclab/vpclab/lab"
)

func TestObserveSections(t *testing.T) {
	l, err := Load("testdata/observe.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if l.VPC.AccountID != "210987654321" || l.VPC.Region != "eu-central-1" {
		t.Errorf("vpc account %q region %q", l.VPC.AccountID, l.VPC.Region)
	}
	a, b := l.Subnet("subnet-a"), l.Subnet("subnet-b")
	if a.AvailabilityZone != "eu-central-1a" || a.AZID != "euc1-az1" || b.AvailabilityZone != "eu-central-1b" || b.AZID != "euc1-az2" {
		t.Errorf("zones: a %s/%s, b %s/%s", a.AvailabilityZone, a.AZID, b.AvailabilityZone, b.AZID)
	}
	wantLogs := []*lab.FlowLog{
		{ID: "fl-vpc", ResourceType: lab.FlowLogVPC, ResourceID: "vpc-o", TrafficType: "ALL",
			MaxAggregationInterval: 10 * time.Minute, Destination: "flowlogs", Line: 9},
		{ID: "fl-web", ResourceType: lab.FlowLogENI, ResourceID: "eni-web", TrafficType: "REJECT",
			MaxAggregationInterval: time.Minute, LogFormat: "${version} ${interface-id} ${srcaddr} ${tcp-flags}",
			Destination: "/tmp/fl", Line: 10},
	}
	if !reflect.DeepEqual(l.FlowLogs, wantLogs) {
		for i, f := range l.FlowLogs {
			t.Errorf("flow log %d: %+v", i, *f)
		}
	}
	all := netip.MustParsePrefix("0.0.0.0/0")
	wantFilters := []*lab.MirrorFilter{
		{ID: "tmf-web", Line: 17,
			Ingress: []lab.MirrorRule{
				{Number: 200, Accept: true, Protocol: 6, SourceCIDR: all, DestinationCIDR: all,
					SourceToPort: 65535, DestinationFromPort: 80, DestinationToPort: 80, Line: 19},
				{Number: 100, Protocol: -1, SourceCIDR: netip.MustParsePrefix("10.0.2.0/24"), DestinationCIDR: all,
					SourceToPort: 65535, DestinationToPort: 65535, Line: 20},
			},
			Egress: []lab.MirrorRule{{Number: 10, Accept: true, Protocol: -1, SourceCIDR: netip.MustParsePrefix("::/0"),
				DestinationCIDR: netip.MustParsePrefix("::/0"), SourceToPort: 65535, DestinationToPort: 65535, Line: 22}},
		},
		{ID: "tmf-none", Ingress: []lab.MirrorRule{}, Egress: []lab.MirrorRule{}, Line: 23},
	}
	if !reflect.DeepEqual(l.MirrorFilters, wantFilters) {
		for i, f := range l.MirrorFilters {
			t.Errorf("filter %d: %+v", i, *f)
		}
	}
	wantTargets := []*lab.MirrorTarget{{ID: "tmt-sensor", ENI: "eni-sensor", Line: 25}, {ID: "tmt-file", PcapFile: "mirror.pcap", Line: 26}}
	if !reflect.DeepEqual(l.MirrorTargets, wantTargets) {
		t.Errorf("targets: %+v %+v", *l.MirrorTargets[0], *l.MirrorTargets[1])
	}
	wantSessions := []*lab.MirrorSession{
		{ID: "tms-1", Number: 1, Source: "eni-web", Target: "tmt-sensor", Filter: "tmf-web", VNI: 4242, PacketLength: 128, Line: 28},
		{ID: "tms-2", Number: 2, Source: "eni-web", Target: "tmt-file", Filter: "tmf-none", VNI: 2, Line: 29},
	}
	if !reflect.DeepEqual(l.MirrorSessions, wantSessions) {
		t.Errorf("sessions: %+v %+v", *l.MirrorSessions[0], *l.MirrorSessions[1])
	}
	// Defaults: the example names no account, region or zone.
	ex := ExampleLab()
	if ex.VPC.AccountID != lab.DefaultAccountID || ex.VPC.Region != lab.DefaultRegion || ex.Subnets[0].AZID != "use1-az1" || ex.Subnets[0].AvailabilityZone != "us-east-1a" {
		t.Errorf("example defaults: %+v, %s %s", ex.VPC, ex.Subnets[0].AvailabilityZone, ex.Subnets[0].AZID)
	}
}

const observeBase = base + "instances:\n  - {name: i1, subnet: subnet-a, ip: 10.0.1.10}\n  - {name: i2, subnet: subnet-b, ip: 10.0.2.10}\n" // next line is 8

var observeErrors = []errorCase{
	{"flow log no resource", observeBase + "flow_logs:\n  - {id: fl}\n", 9, "flow_logs[fl].vpc", "give vpc, subnet or eni"},
	{"flow log two resources", observeBase + "flow_logs:\n  - {id: fl, vpc: vpc-t, eni: eni-i1}\n", 9, "flow_logs[fl].eni", "give one of vpc, subnet and eni"},
	{"flow log wrong vpc", observeBase + "flow_logs:\n  - {id: fl, vpc: vpc-x}\n", 9, "flow_logs[fl].vpc", `no VPC "vpc-x"`},
	{"flow log unknown eni", observeBase + "flow_logs:\n  - {id: fl, eni: eni-x}\n", 9, "flow_logs[fl].eni", `no interface "eni-x"`},
	{"flow log traffic type", observeBase + "flow_logs:\n  - {id: fl, vpc: vpc-t, traffic_type: some}\n", 9, "flow_logs[fl].traffic_type", "ACCEPT, REJECT or ALL"},
	{"flow log interval", observeBase + "flow_logs:\n  - {id: fl, vpc: vpc-t, max_aggregation_interval: 2m}\n", 9, "flow_logs[fl].max_aggregation_interval", "60s and 600s"},
	{"flow log format", observeBase + "flow_logs:\n  - {id: fl, vpc: vpc-t, log_format: \"${srcaddr} dstaddr\"}\n", 9, "flow_logs[fl].log_format", `"dstaddr" is not a field`},
	{"flow log format twice", observeBase + "flow_logs:\n  - {id: fl, vpc: vpc-t, log_format: \"${srcaddr} ${srcaddr}\"}\n", 9, "flow_logs[fl].log_format", "given twice"},
	{"flow log twice", observeBase + "flow_logs:\n  - {id: fl, vpc: vpc-t}\n  - {id: fl, vpc: vpc-t}\n", 10, "flow_logs[fl].id", "defined twice"},
	{"mirror rule number", observeBase + "traffic_mirror_filters:\n  - id: f\n    ingress:\n      - {rule: 0, action: accept}\n", 11, "traffic_mirror_filters[f].ingress[0].rule", "1 to 32766"},
	{"mirror rule twice", observeBase + "traffic_mirror_filters:\n  - id: f\n    egress:\n      - {rule: 5, action: accept}\n      - {rule: 5, action: reject}\n", 12, "traffic_mirror_filters[f].egress[1].rule", "used twice"},
	{"mirror action", observeBase + "traffic_mirror_filters:\n  - id: f\n    ingress:\n      - {rule: 1, action: allow}\n", 11, "traffic_mirror_filters[f].ingress[0].action", "accept (mirror) or reject"},
	{"mirror families", observeBase + "traffic_mirror_filters:\n  - id: f\n    ingress:\n      - {rule: 1, action: accept, source_cidr: 10.0.0.0/8, destination_cidr: \"::/0\"}\n", 11, "traffic_mirror_filters[f].ingress[0].destination_cidr", "different families"},
	{"mirror ports icmp", observeBase + "traffic_mirror_filters:\n  - id: f\n    ingress:\n      - {rule: 1, action: accept, protocol: icmp, destination_ports: 80}\n", 11, "traffic_mirror_filters[f].ingress[0].destination_ports", "only to tcp and udp"},
	{"target both", observeBase + "traffic_mirror_targets:\n  - {id: t, eni: eni-i2, pcap_file: x.pcap}\n", 9, "traffic_mirror_targets[t].pcap_file", "not both"},
	{"target none", observeBase + "traffic_mirror_targets:\n  - {id: t}\n", 9, "traffic_mirror_targets[t].eni", "needs eni"},
	{"target unknown eni", observeBase + "traffic_mirror_targets:\n  - {id: t, eni: eni-x}\n", 9, "traffic_mirror_targets[t].eni", `no interface "eni-x"`},
	{"session to itself", observeBase + "traffic_mirror_filters: [{id: f}]\ntraffic_mirror_targets: [{id: t, eni: eni-i1}]\ntraffic_mirror_sessions:\n  - {id: s, number: 1, source: eni-i1, target: t, filter: f}\n", 11, "traffic_mirror_sessions[s].target", "the source itself"},
	{"session unknown filter", observeBase + "traffic_mirror_targets: [{id: t, eni: eni-i2}]\ntraffic_mirror_sessions:\n  - {id: s, number: 1, source: eni-i1, target: t, filter: f}\n", 10, "traffic_mirror_sessions[s].filter", `no traffic mirror filter "f"`},
	{"session number twice", observeBase + "traffic_mirror_filters: [{id: f}]\ntraffic_mirror_targets: [{id: t, eni: eni-i2}]\ntraffic_mirror_sessions:\n  - {id: s1, number: 1, source: eni-i1, target: t, filter: f}\n  - {id: s2, number: 1, source: eni-i1, target: t, filter: f}\n", 12, "traffic_mirror_sessions[s2].number", "already has session number 1"},
	{"four sessions", observeBase + "traffic_mirror_filters: [{id: f}]\ntraffic_mirror_targets: [{id: t, eni: eni-i2}]\ntraffic_mirror_sessions:\n  - {id: s1, number: 1, source: eni-i1, target: t, filter: f}\n  - {id: s2, number: 2, source: eni-i1, target: t, filter: f}\n  - {id: s3, number: 3, source: eni-i1, target: t, filter: f}\n  - {id: s4, number: 4, source: eni-i1, target: t, filter: f}\n", 14, "traffic_mirror_sessions[s4].source", "AWS's most"},
	{"session vni", observeBase + "traffic_mirror_filters: [{id: f}]\ntraffic_mirror_targets: [{id: t, eni: eni-i2}]\ntraffic_mirror_sessions:\n  - {id: s, number: 1, source: eni-i1, target: t, filter: f, vni: 16777216}\n", 11, "traffic_mirror_sessions[s].vni", "0 to 16777215"},
	{"target is a source", observeBase + "traffic_mirror_filters: [{id: f}]\ntraffic_mirror_targets: [{id: t, eni: eni-i2}, {id: t1, pcap_file: x.pcap}]\ntraffic_mirror_sessions:\n  - {id: s, number: 1, source: eni-i1, target: t, filter: f}\n  - {id: s2, number: 1, source: eni-i2, target: t1, filter: f}\n", 11, "traffic_mirror_sessions[s].target", "a mirror source or a target, not both"},
	{"account id", "vpc: {id: v, cidr: 10.0.0.0/16, account_id: \"12\"}\n", 1, "vpc.account_id", "12 digits"},
	{"region", "vpc: {id: v, cidr: 10.0.0.0/16, region: Frankfurt}\n", 1, "vpc.region", "not a region name"},
	{"zone of another region", "vpc: {id: v, cidr: 10.0.0.0/16}\nsubnets:\n  - {id: s, cidr: 10.0.1.0/24, availability_zone: eu-west-1a}\n", 3, "subnets[s].availability_zone", "not a zone of us-east-1"},
	{"imds", instances + "  - {name: i, subnet: subnet-a, ip: 10.0.1.10, imds: v3}\n", 6, "instances[i].imds", "v1-and-v2"},
}

func TestObserveValidation(t *testing.T) {
	saved := errorCases
	defer func() { errorCases = saved }()
	errorCases = observeErrors
	TestValidation(t)
}
