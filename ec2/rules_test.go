package ec2

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vpclab/vpclab/nacl"
	"github.com/vpclab/vpclab/sg"
)

func perms(t *testing.T, js string) []IpPermission {
	t.Helper()
	var p []IpPermission
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPermissionRules(t *testing.T) {
	rules, err := PermissionRules(perms(t, `[
		{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
		 "IpRanges": [{"CidrIp": "10.0.1.7/24", "Description": "web"}],
		 "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
		 "PrefixListIds": [{"PrefixListId": "pl-office"}],
		 "UserIdGroupPairs": [{"GroupId": "sg-app"}]},
		{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
		{"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
		{"IpProtocol": "UDP", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
		{"IpProtocol": "47", "FromPort": 5, "ToPort": 6, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`))
	if err != nil {
		t.Fatal(err)
	}
	tcp := sg.Rule{Protocol: 6, FromPort: 443, ToPort: 443, ICMPType: -1, ICMPCode: -1}
	any4 := netip.MustParsePrefix("0.0.0.0/0")
	want := []sg.Rule{
		with(tcp, func(r *sg.Rule) { r.CIDR, r.Description = netip.MustParsePrefix("10.0.1.0/24"), "web" }),
		with(tcp, func(r *sg.Rule) { r.CIDR = netip.MustParsePrefix("2001:db8::/32") }),
		with(tcp, func(r *sg.Rule) { r.PrefixList = "pl-office" }),
		with(tcp, func(r *sg.Rule) { r.Group = "sg-app" }),
		with(sg.AnyTraffic(), func(r *sg.Rule) { r.CIDR = any4 }),
		{Protocol: 1, FromPort: 0, ToPort: 65535, ICMPType: 8, ICMPCode: -1, CIDR: any4},
		{Protocol: 17, FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1, CIDR: any4},
		{Protocol: 47, FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1, CIDR: any4},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("rules:\n got  %+v\n want %+v", rules, want)
	}
	descs := []string{"tcp 443 10.0.1.0/24", "tcp 443 2001:db8::/32", "tcp 443 prefix list pl-office", "tcp 443 group sg-app",
		"all traffic 0.0.0.0/0", "icmp type 8 0.0.0.0/0", "udp all ports 0.0.0.0/0", "proto 47 0.0.0.0/0"}
	for i, r := range rules {
		if got := DescribeRule(r); got != descs[i] {
			t.Errorf("DescribeRule(%+v) = %q, want %q", r, got, descs[i])
		}
	}
	// Back to EC2's shape, and in again.
	for _, r := range rules {
		back, err := PermissionRules([]IpPermission{Permission(r)})
		if err != nil || len(back) != 1 || back[0] != r {
			t.Errorf("Permission(%+v) reads back as %+v, %v", r, back, err)
		}
	}
}

func with(r sg.Rule, f func(*sg.Rule)) sg.Rule { f(&r); return r }

func TestPermissionErrors(t *testing.T) {
	for _, c := range []struct{ in, code, field string }{
		{`[]`, "MissingParameter", ""},
		{`[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}, {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80}]`, "MissingParameter", "IpPermissions[1]"},
		{`[{"IpProtocol": "gre", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`, "InvalidParameterValue", "IpPermissions[0].IpProtocol"},
		{`[{"IpProtocol": "tcp", "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`, "MissingParameter", "IpPermissions[0].FromPort"},
		{`[{"IpProtocol": "tcp", "FromPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`, "MissingParameter", "IpPermissions[0].ToPort"},
		{`[{"IpProtocol": "tcp", "FromPort": -5, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`, "InvalidParameterValue", "IpPermissions[0].FromPort"},
		{`[{"IpProtocol": "udp", "FromPort": 90, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`, "InvalidParameterValue", "IpPermissions[0].ToPort"},
		{`[{"IpProtocol": "icmp", "FromPort": 300, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`, "InvalidParameterValue", "IpPermissions[0].FromPort"},
		{`[{"IpProtocol": "icmpv6", "FromPort": -1, "ToPort": 3, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]`, "InvalidParameterValue", "IpPermissions[0].ToPort"},
		{`[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}, {"CidrIp": "::/0"}]}]`, "InvalidParameterValue", "IpPermissions[0].IpRanges[1].CidrIp"},
		{`[{"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "10.0.0.0/8"}]}]`, "InvalidParameterValue", "IpPermissions[0].Ipv6Ranges[0].CidrIpv6"},
		{`[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": ""}]}]`, "MissingParameter", "IpPermissions[0].UserIdGroupPairs[0].GroupId"},
		{`[{"IpProtocol": "-1", "PrefixListIds": [{"Description": "x"}]}]`, "MissingParameter", "IpPermissions[0].PrefixListIds[0].PrefixListId"},
	} {
		_, err := PermissionRules(perms(t, c.in))
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code || e.Field != c.field {
			t.Errorf("%s:\n got  %#v\n want %s at %q", c.in, err, c.code, c.field)
		}
	}
}

func entry(t *testing.T, js string) NetworkAclEntry {
	t.Helper()
	var e NetworkAclEntry
	if err := json.Unmarshal([]byte(js), &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEntry(t *testing.T) {
	for _, c := range []struct {
		in   string
		want nacl.Entry
	}{
		{`{"RuleNumber": 100, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "10.0.0.9/16", "PortRange": {"From": 80, "To": 90}}`,
			nacl.Entry{Rule: 100, Allow: true, Protocol: 6, CIDR: netip.MustParsePrefix("10.0.0.0/16"), FromPort: 80, ToPort: 90, ICMPType: -1, ICMPCode: -1}},
		{`{"RuleNumber": 7, "Egress": true, "Protocol": "-1", "RuleAction": "DENY", "Ipv6CidrBlock": "::/0"}`,
			nacl.Entry{Rule: 7, Protocol: ProtoAll, CIDR: netip.MustParsePrefix("::/0"), FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}},
		{`{"RuleNumber": 8, "Protocol": "58", "RuleAction": "allow", "Ipv6CidrBlock": "::/0", "IcmpTypeCode": {"Type": 128, "Code": 0}}`,
			nacl.Entry{Rule: 8, Allow: true, Protocol: 58, CIDR: netip.MustParsePrefix("::/0"), FromPort: 0, ToPort: 65535, ICMPType: 128, ICMPCode: 0}},
		{`{"RuleNumber": 9, "Protocol": "50", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 1, "To": 2}}`,
			nacl.Entry{Rule: 9, Allow: true, Protocol: 50, CIDR: netip.MustParsePrefix("0.0.0.0/0"), FromPort: 0, ToPort: 65535, ICMPType: -1, ICMPCode: -1}},
	} {
		e := entry(t, c.in)
		got, err := Entry(e, "")
		if err != nil || got != c.want {
			t.Errorf("Entry(%s) = %+v, %v; want %+v", c.in, got, err, c.want)
			continue
		}
		back, err := Entry(APIEntry(got, e.Egress), "")
		if err != nil || back != got {
			t.Errorf("APIEntry(%+v) reads back as %+v, %v", got, back, err)
		}
	}
	for _, c := range []struct{ in, code, field string }{
		{`{"RuleNumber": 32767, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`, "InvalidParameterValue", "NetworkAcls[0].Entries[3].RuleNumber"},
		{`{"RuleNumber": 1, "Protocol": "sctp", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`, "InvalidParameterValue", "NetworkAcls[0].Entries[3].Protocol"},
		{`{"RuleNumber": 1, "Protocol": "-1", "RuleAction": "permit", "CidrBlock": "0.0.0.0/0"}`, "InvalidParameterValue", "NetworkAcls[0].Entries[3].RuleAction"},
		{`{"RuleNumber": 1, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "Ipv6CidrBlock": "::/0"}`, "InvalidParameterCombination", "NetworkAcls[0].Entries[3]"},
		{`{"RuleNumber": 1, "Protocol": "-1", "RuleAction": "allow"}`, "MissingParameter", "NetworkAcls[0].Entries[3]"},
		{`{"RuleNumber": 1, "Protocol": "-1", "RuleAction": "allow", "CidrBlock": "::/0"}`, "InvalidParameterValue", "NetworkAcls[0].Entries[3].CidrBlock"},
		{`{"RuleNumber": 1, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`, "MissingParameter", "NetworkAcls[0].Entries[3].PortRange"},
		{`{"RuleNumber": 1, "Protocol": "6", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 70000, "To": 80}}`, "InvalidParameterValue", "NetworkAcls[0].Entries[3].PortRange.From"},
		{`{"RuleNumber": 1, "Protocol": "17", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "PortRange": {"From": 90, "To": 80}}`, "InvalidParameterValue", "NetworkAcls[0].Entries[3].PortRange.To"},
		{`{"RuleNumber": 1, "Protocol": "1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0"}`, "MissingParameter", "NetworkAcls[0].Entries[3].IcmpTypeCode"},
		{`{"RuleNumber": 1, "Protocol": "1", "RuleAction": "allow", "CidrBlock": "0.0.0.0/0", "IcmpTypeCode": {"Type": 3, "Code": 256}}`, "InvalidParameterValue", "NetworkAcls[0].Entries[3].IcmpTypeCode.Code"},
	} {
		_, err := Entry(entry(t, c.in), "NetworkAcls[0].Entries[3]")
		var e *Error
		if !errors.As(err, &e) || e.Code != c.code || e.Field != c.field {
			t.Errorf("%s:\n got  %#v\n want %s at %q", c.in, err, c.code, c.field)
		}
	}
}

func TestDescribeTraffic(t *testing.T) {
	for _, c := range []struct {
		r    sg.Rule
		want string
	}{
		{sg.AnyTraffic(), "all traffic"},
		{sg.Rule{Protocol: 6, FromPort: 0, ToPort: 65535}, "tcp all ports"},
		{sg.Rule{Protocol: 6, FromPort: 443, ToPort: 443}, "tcp 443"},
		{sg.Rule{Protocol: 17, FromPort: 1024, ToPort: 65535}, "udp 1024-65535"},
		{sg.Rule{Protocol: 58, ICMPType: -1, ICMPCode: -1}, "icmpv6 all types"},
		{sg.Rule{Protocol: 1, ICMPType: 8, ICMPCode: -1}, "icmp type 8"},
		{sg.Rule{Protocol: 1, ICMPType: 3, ICMPCode: 4}, "icmp type 3 code 4"},
		{sg.Rule{Protocol: 132}, "proto 132"},
	} {
		if got := RuleTraffic(c.r); got != c.want {
			t.Errorf("RuleTraffic(%+v) = %q, want %q", c.r, got, c.want)
		}
	}
}
