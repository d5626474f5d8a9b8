package aws

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/vpclab/vpclab/internal/yamlpos"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/sg"
)

// obj and list shorten the JSON the tests write.
type obj = map[string]any
type list = []any

// js writes v as the CLI does: indented JSON.
func js(v any) []byte {
	b, err := json.MarshalIndent(v, "", "    ")
	if err != nil {
		panic(err)
	}
	return b
}

// base is a VPC with one subnet: the least input that imports.
func base() map[string][]byte {
	return map[string][]byte{
		"vpcs.json": js(obj{"Vpcs": list{obj{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "OwnerId": "111122223333",
			"Ipv6CidrBlockAssociationSet": list{obj{"Ipv6CidrBlock": "2600:1f18:1:100::/56", "Ipv6CidrBlockState": obj{"State": "associated"}}}}}}),
		"subnets.json": js(obj{"Subnets": list{obj{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24",
			"AvailabilityZone": "eu-west-1b", "AvailabilityZoneId": "euw1-az2",
			"Ipv6CidrBlockAssociationSet": list{obj{"Ipv6CidrBlock": "2600:1f18:1:101::/64", "Ipv6CidrBlockState": obj{"State": "associated"}}}}}}),
	}
}

// with returns files with more files added.
func with(files map[string][]byte, more ...any) map[string][]byte {
	for i := 0; i < len(more); i += 2 {
		files[more[i].(string)] = js(more[i+1])
	}
	return files
}

// eni is an interface of describe-instances in subnet-1.
func eni(id, addr string, groups ...string) obj {
	var gs list
	for _, g := range groups {
		gs = append(gs, obj{"GroupId": g, "GroupName": g})
	}
	return obj{"NetworkInterfaceId": id, "SubnetId": "subnet-1", "VpcId": "vpc-1", "Groups": gs,
		"PrivateIpAddresses": list{obj{"Primary": true, "PrivateIpAddress": addr}}, "SourceDestCheck": true,
		"Attachment": obj{"DeviceIndex": 0}}
}

// instances is describe-instances output of one reservation.
func instances(in ...obj) obj {
	var l list
	for _, i := range in {
		l = append(l, i)
	}
	return obj{"Reservations": list{obj{"Instances": l, "ReservationId": "r-1"}}}
}

// vm is an instance of vpc-1 with the given interfaces.
func vm(id string, enis ...obj) obj {
	var l list
	for _, e := range enis {
		l = append(l, e)
	}
	return obj{"InstanceId": id, "VpcId": "vpc-1", "State": obj{"Name": "running"}, "NetworkInterfaces": l}
}

// group is a security group of vpc-1.
func group(id string, ingress, egress list) obj {
	return obj{"GroupId": id, "GroupName": id, "VpcId": "vpc-1", "Description": "group " + id,
		"IpPermissions": ingress, "IpPermissionsEgress": egress}
}

// mustImport imports files, failing the test on an error.
func mustImport(t *testing.T, files map[string][]byte, o Options) (*lab.Lab, []string, []string) {
	t.Helper()
	l, rep, err := ImportFilesWith(files, o)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	var unsupported, notModelled []string
	for _, it := range rep.Unsupported {
		unsupported = append(unsupported, it.String())
	}
	for _, it := range rep.NotModelled {
		notModelled = append(notModelled, it.String())
	}
	return l, unsupported, notModelled
}

// hasItem reports whether one of items contains every part.
func hasItem(items []string, parts ...string) bool {
	for _, it := range items {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(it, p)
		}
		if all {
			return true
		}
	}
	return false
}

func TestChooseVPC(t *testing.T) {
	two := base()
	var vpcs obj
	if err := json.Unmarshal(two["vpcs.json"], &vpcs); err != nil {
		t.Fatal(err)
	}
	vpcs["Vpcs"] = append(vpcs["Vpcs"].([]any), obj{"VpcId": "vpc-2", "CidrBlock": "172.31.0.0/16"})
	two["vpcs.json"] = js(vpcs)

	_, _, err := ImportFiles(two)
	if err == nil || !strings.Contains(err.Error(), "vpc-1 (10.0.0.0/16, in vpcs.json), vpc-2 (172.31.0.0/16, in vpcs.json): choose") {
		t.Errorf("two VPCs without a choice: got %v, want an error listing both", err)
	}
	_, _, err = ImportFilesWith(two, Options{VPC: "vpc-3"})
	if err == nil || !strings.Contains(err.Error(), "no VPC vpc-3 in the input") {
		t.Errorf("an unknown choice: got %v", err)
	}
	l, unsupported, _ := mustImport(t, two, Options{VPC: "vpc-2"})
	if l.VPC.ID != "vpc-2" || len(l.Subnets) != 0 {
		t.Errorf("chose vpc-2: got VPC %s with %d subnets, want vpc-2 with none", l.VPC.ID, len(l.Subnets))
	}
	if !hasItem(unsupported, "subnets.json: vpc-1: 1 subnet of another VPC: not imported (subnet-1)") {
		t.Errorf("the subnet of vpc-1 is not reported as skipped: %q", unsupported)
	}
	delete(two, "vpcs.json")
	if _, _, err := ImportFiles(two); !errors.Is(err, errNoVPC) {
		t.Errorf("no describe-vpcs: got %v, want errNoVPC", err)
	}
}

// TestErrors checks that what makes an input unreadable is an error that
// names the file, the line and column, and the JSON path.
func TestErrors(t *testing.T) {
	for _, c := range []struct {
		name, file, data, want string
	}{
		{"syntax", "groups.json", "{\n  \"SecurityGroups\": [\n    {\"GroupId\": \"sg-1\",}\n  ]\n}",
			"groups.json:3:25: not valid JSON: invalid character '}'"},
		{"type", "groups.json", "{\n  \"SecurityGroups\": [\n    {\"GroupId\": \"sg-1\", \"VpcId\": \"vpc-1\",\n     \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": \"22\"}]}\n  ]\n}",
			"groups.json:4:58: SecurityGroups.IpPermissions.FromPort: want an integer, not a JSON string"},
		{"cidr", "groups.json", "{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"VpcId\": \"vpc-1\",\n  \"IpPermissions\": [{\"IpProtocol\": \"-1\",\n    \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/33\"}]}]}]}",
			`groups.json:3:29: SecurityGroups[0].IpPermissions[0].IpRanges[0].CidrIp: "10.0.0.0/33" is not a CIDR`},
		{"protocol", "acls.json", "{\"NetworkAcls\": [{\"NetworkAclId\": \"acl-1\", \"VpcId\": \"vpc-1\", \"Entries\": [\n {\"RuleNumber\": 100, \"RuleAction\": \"allow\", \"Protocol\": \"sctp\", \"CidrBlock\": \"0.0.0.0/0\"}]}]}",
			`acls.json:2:57: NetworkAcls[0].Entries[0].Protocol: "sctp" is not a protocol`},
		{"ports", "groups.json", "{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"VpcId\": \"vpc-1\",\n  \"IpPermissions\": [{\"IpProtocol\": \"tcp\", \"FromPort\": 443, \"ToPort\": 80,\n    \"IpRanges\": [{\"CidrIp\": \"10.0.0.0/8\"}]}]}]}",
			"groups.json:2:70: SecurityGroups[0].IpPermissions[0].ToPort: ports 443-80: an empty range"},
		{"two peers", "rules.json", "{\"SecurityGroupRules\": [{\"SecurityGroupRuleId\": \"sgr-1\", \"GroupId\": \"sg-1\",\n \"IpProtocol\": \"-1\", \"CidrIpv4\": \"0.0.0.0/0\", \"CidrIpv6\": \"::/0\"}]}",
			"rules.json:1:25: SecurityGroupRules[0]: a rule has exactly one peer (CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupInfo), not 2"},
		{"array", "groups.json", "[{\"GroupId\": \"sg-1\"}]", "groups.json:1:1: not the output of an AWS CLI describe call"},
		{"rule number", "acls.json", "{\"NetworkAcls\": [{\"NetworkAclId\": \"acl-1\", \"VpcId\": \"vpc-1\", \"Entries\": [\n {\"RuleNumber\": 40000, \"RuleAction\": \"allow\", \"Protocol\": \"-1\", \"CidrBlock\": \"0.0.0.0/0\"}]}]}",
			"acls.json:2:17: NetworkAcls[0].Entries[0].RuleNumber: rule 40000: entries are numbered 1-32766"},
		{"icmp", "acls.json", "{\"NetworkAcls\": [{\"NetworkAclId\": \"acl-1\", \"VpcId\": \"vpc-1\", \"Entries\": [\n {\"RuleNumber\": 1, \"RuleAction\": \"allow\", \"Protocol\": \"1\", \"CidrBlock\": \"0.0.0.0/0\", \"IcmpTypeCode\": {\"Type\": 300}}]}]}",
			"acls.json:2:111: NetworkAcls[0].Entries[0].IcmpTypeCode.Type: ICMP type 300: want 0-255"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := base()
			files[c.file] = []byte(c.data)
			_, _, err := ImportFiles(files)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v\nwant …%s…", err, c.want)
			}
			var e *yamlpos.Error
			if !errors.As(err, &e) || e.File != c.file || e.Line == 0 {
				t.Errorf("the error is not a located *yamlpos.Error: %#v", e)
			}
		})
	}
}

// TestManyErrors checks that an import reports every error, sorted by
// file and position, up to a limit.
func TestManyErrors(t *testing.T) {
	var ranges list
	for i := range 60 {
		ranges = append(ranges, obj{"CidrIp": fmt.Sprintf("10.0.%d.0/99", i)})
	}
	files := with(base(), "b.json", obj{"SecurityGroups": list{group("sg-1", list{obj{"IpProtocol": "-1", "IpRanges": ranges}}, nil)}},
		"a.json", obj{"NetworkAcls": list{obj{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": list{obj{"RuleNumber": 1, "RuleAction": "maybe", "Protocol": "-1", "CidrBlock": "0.0.0.0/0"}}}}})
	_, _, err := ImportFiles(files)
	var l yamlpos.ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("got %v, want a yamlpos.ErrorList", err)
	}
	if len(l) != maxErrors+1 || l[0].File != "a.json" || !strings.Contains(l[maxErrors].Msg, "11 more not shown") {
		t.Errorf("got %d errors, first in %s, last %q: want %d, a.json first, then one saying 11 more", len(l), l[0].File, l[len(l)-1].Msg, maxErrors)
	}
}

// TestReported checks inputs that import, with what they leave out in
// the report.
func TestReported(t *testing.T) {
	t.Run("unknown keys", func(t *testing.T) {
		files := with(base(), "groups.json", obj{"SecurityGroups": list{
			group("sg-1", list{obj{"IpProtocol": "-1", "IpRanges": list{obj{"CidrIp": "10.0.0.0/8", "Shiny": 1}, obj{"CidrIp": "10.1.0.0/16", "Shiny": 2}}}}, nil),
		}, "Paging": obj{}})
		_, unsupported, _ := mustImport(t, files, Options{})
		if !hasItem(unsupported, "groups.json: sg-1: SecurityGroups[].IpPermissions[].IpRanges[].Shiny: unknown key: not read (2 times in this file)") {
			t.Errorf("the unknown key of a rule is not reported: %q", unsupported)
		}
		if !hasItem(unsupported, "groups.json: Paging: unknown key") {
			t.Errorf("the unknown top-level key is not reported: %q", unsupported)
		}
	})
	t.Run("missing outputs", func(t *testing.T) {
		l, unsupported, _ := mustImport(t, base(), Options{})
		if !hasItem(unsupported, "vpcs.json: vpc-1: no describe-network-acls output") || !hasItem(unsupported, "vpcs.json: vpc-1: no describe-route-tables output") {
			t.Errorf("missing outputs are not reported: %q", unsupported)
		}
		want := lab.Subnet{ID: "subnet-1", CIDR: pfx("10.0.1.0/24"), IPv6CIDR: pfx("2600:1f18:1:101::/64"),
			NetworkACL: "default", AvailabilityZone: "eu-west-1b", AZID: "euw1-az2"}
		if len(l.Subnets) != 1 || *l.Subnets[0] != want || l.VPC.Region != "eu-west-1" {
			t.Errorf("got subnets %+v in %s, want %+v in eu-west-1", l.Subnets, l.VPC.Region, want)
		}
		roundTrip(t, l)
	})
	t.Run("paginated", func(t *testing.T) {
		files := with(base(), "groups.json", obj{"SecurityGroups": list{}, "NextToken": "eyJ2IjoiMiJ9"})
		_, unsupported, _ := mustImport(t, files, Options{})
		if !hasItem(unsupported, "groups.json: NextToken: the output is one page of several") {
			t.Errorf("paging is not reported: %q", unsupported)
		}
	})
	t.Run("byte-order marks", func(t *testing.T) {
		files := base()
		// As Windows PowerShell 5 writes a redirected output: UTF-16LE.
		text := string(files["subnets.json"])
		utf16le := []byte{0xFF, 0xFE}
		for _, u := range utf16.Encode([]rune(text)) {
			utf16le = binary.LittleEndian.AppendUint16(utf16le, u)
		}
		files["subnets.json"] = utf16le
		files["vpcs.json"] = append([]byte{0xEF, 0xBB, 0xBF}, files["vpcs.json"]...)
		l, _, _ := mustImport(t, files, Options{})
		if len(l.Subnets) != 1 {
			t.Errorf("got %d subnets from UTF-16 input, want 1", len(l.Subnets))
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		files := base()
		files["README"] = []byte("how these files were made")
		files["empty.txt"] = nil
		_, unsupported, _ := mustImport(t, files, Options{})
		if !hasItem(unsupported, "README: not JSON") || !hasItem(unsupported, "empty.txt: not JSON") {
			t.Errorf("files that are not JSON are not reported: %q", unsupported)
		}
		files["broken.json"] = []byte("Vpcs: []")
		if _, _, err := ImportFiles(files); err == nil || !strings.Contains(err.Error(), "broken.json:1:1") {
			t.Errorf("a .json file that is not JSON: got %v, want an error", err)
		}
	})
	t.Run("undescribed group", func(t *testing.T) {
		files := with(base(), "instances.json", instances(vm("i-1", eni("eni-1", "10.0.1.10", "sg-gone"))))
		l, unsupported, _ := mustImport(t, files, Options{})
		g := l.Group("sg-gone")
		if g == nil || len(g.Ingress) != 0 || len(g.Egress) != 0 || g.Ingress == nil || g.Egress == nil {
			t.Fatalf("got group %+v, want sg-gone with empty rule lists", g)
		}
		if !hasItem(unsupported, "instances.json: sg-gone: security group used at Reservations[0].Instances[0].NetworkInterfaces[0].Groups but not in the input") {
			t.Errorf("the undescribed group is not reported: %q", unsupported)
		}
		back := roundTrip(t, l)
		if g := back.Group("sg-gone"); len(g.Egress) != 0 {
			t.Errorf("read back, sg-gone lets out %+v: want nothing", g.Egress)
		}
	})
	t.Run("describe-prefix-lists", func(t *testing.T) {
		files := with(base(),
			"groups.json", obj{"SecurityGroups": list{group("sg-1", nil, list{obj{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
				"PrefixListIds": list{obj{"PrefixListId": "pl-63a5400a"}, obj{"PrefixListId": "pl-0missing"}}}})}},
			"lists.json", obj{"PrefixLists": list{obj{"PrefixListName": "com.amazonaws.us-east-1.s3", "PrefixListId": "pl-63a5400a",
				"Cidrs": list{"54.231.0.0/17", "52.216.0.0/15", "54.231.0.0/17"}}}})
		l, unsupported, _ := mustImport(t, files, Options{})
		compare(t, "prefix lists", l.PrefixLists, []*lab.PrefixList{
			{ID: "pl-63a5400a", MaxEntries: 2, CIDRs: []netip.Prefix{pfx("54.231.0.0/17"), pfx("52.216.0.0/15")}},
			{ID: "pl-0missing", MaxEntries: 1},
		})
		if !hasItem(unsupported, "groups.json: pl-0missing: prefix list used at SecurityGroups[0].IpPermissionsEgress[0].PrefixListIds[1] but neither described") {
			t.Errorf("the undescribed list is not reported: %q", unsupported)
		}
		roundTrip(t, l)
	})
	t.Run("entries of a list", func(t *testing.T) {
		files := with(base(),
			"groups.json", obj{"SecurityGroups": list{group("sg-1", list{obj{"IpProtocol": "-1", "PrefixListIds": list{obj{"PrefixListId": "pl-0abc"}}}}, nil)}},
			"dumps/entries-pl-0abc-page1.json", obj{"Entries": list{obj{"Cidr": "2001:db8::/48"}, obj{"Cidr": "2001:db8:1::/48"}}},
			"dumps/entries-pl-0abc-page2.json", obj{"Entries": list{obj{"Cidr": "2001:db8:2::/48"}}},
			"dumps/pl-0def.json", obj{"Entries": list{obj{"Cidr": "192.0.2.0/24"}}})
		l, unsupported, _ := mustImport(t, files, Options{})
		want := &lab.PrefixList{ID: "pl-0abc", MaxEntries: 3, CIDRs: []netip.Prefix{pfx("2001:db8::/48"), pfx("2001:db8:1::/48"), pfx("2001:db8:2::/48")}}
		compare(t, "prefix lists", l.PrefixLists, []*lab.PrefixList{want})
		if !hasItem(unsupported, "pl-0abc: prefix list used at SecurityGroups[0].IpPermissions[0].PrefixListIds[0] but not described (describe-managed-prefix-lists): its max entries are taken to be its 3 entries") ||
			!hasItem(unsupported, "dumps/pl-0def.json: pl-0def: Entries: entries of prefix list pl-0def, which is neither described nor used") {
			t.Errorf("the lists are not reported: %q", unsupported)
		}
		// The list is IPv6 only: it weighs 3 in IPv6 and nothing in IPv4.
		back := roundTrip(t, l)
		if back.PrefixList("pl-0abc") == nil {
			t.Error("pl-0abc is lost")
		}
	})
	t.Run("interfaces", func(t *testing.T) {
		first := eni("eni-1", "10.0.1.10", "sg-1")
		first["ConnectionTrackingConfiguration"] = obj{"TcpEstablishedTimeout": 30, "UdpTimeout": 60}
		first["Ipv6Addresses"] = list{obj{"Ipv6Address": "2600:1f18:1:101::10"}, obj{"Ipv6Address": "2600:1f18:1:999::1"}}
		first["PrivateIpAddresses"] = list{
			obj{"Primary": false, "PrivateIpAddress": "10.0.1.11"},
			obj{"Primary": true, "PrivateIpAddress": "10.0.1.10"},
			obj{"Primary": false, "PrivateIpAddress": "10.0.1.255"},
		}
		second := eni("eni-2", "10.0.1.11", "sg-1") // 10.0.1.11 is eni-1's
		third := eni("eni-3", "10.0.1.20", "sg-1", "sg-1")
		third["Ipv4Prefixes"] = list{obj{"Ipv4Prefix": "10.0.1.32/28"}}
		in := vm("i-1", first)
		in["MetadataOptions"] = obj{"HttpTokens": "optional", "HttpEndpoint": "disabled"}
		files := with(base(),
			"groups.json", obj{"SecurityGroups": list{group("sg-1", nil, nil)}},
			"instances.json", instances(in, vm("i-2", second), vm("i-3", third)),
			"enis.json", obj{"NetworkInterfaces": list{
				// eni-1 again, with another group.
				obj{"NetworkInterfaceId": "eni-1", "SubnetId": "subnet-1", "VpcId": "vpc-1", "Groups": list{obj{"GroupId": "sg-2"}},
					"PrivateIpAddresses": first["PrivateIpAddresses"], "Ipv6Addresses": first["Ipv6Addresses"], "SourceDestCheck": true,
					"Attachment": obj{"InstanceId": "i-1", "DeviceIndex": 0}},
				// Attached to an instance describe-instances does not list.
				obj{"NetworkInterfaceId": "eni-4", "SubnetId": "subnet-1", "VpcId": "vpc-1", "Groups": list{obj{"GroupId": "sg-1"}},
					"PrivateIpAddresses": list{obj{"Primary": true, "PrivateIpAddress": "10.0.1.40"}}, "SourceDestCheck": false,
					"Attachment": obj{"InstanceId": "i-4", "DeviceIndex": 1}},
				obj{"NetworkInterfaceId": "eni-5", "SubnetId": "subnet-1", "VpcId": "vpc-1", "Groups": list{obj{"GroupId": "sg-1"}},
					"PrivateIpAddresses": list{obj{"Primary": true, "PrivateIpAddress": "10.0.1.41"}},
					"Attachment":         obj{"InstanceId": "i-4", "DeviceIndex": 0}},
				obj{"NetworkInterfaceId": "eni-tgw", "SubnetId": "subnet-1", "VpcId": "vpc-1", "InterfaceType": "transit_gateway",
					"PrivateIpAddresses": list{obj{"Primary": true, "PrivateIpAddress": "10.0.1.50"}}},
				obj{"NetworkInterfaceId": "eni-gwlbe", "SubnetId": "subnet-1", "VpcId": "vpc-1", "InterfaceType": "gateway_load_balancer_endpoint",
					"PrivateIpAddresses": list{obj{"Primary": true, "PrivateIpAddress": "10.0.1.51"}}},
			}})
		l, unsupported, notModelled := mustImport(t, files, Options{})
		d := lab.DefaultConntrackTimeouts()
		compare(t, "instances", l.Instances, []*lab.Instance{
			{Name: "i-1", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
				{ID: "eni-1", Instance: "i-1", Subnet: "subnet-1", IP: ip("10.0.1.10"), SecondaryIPs: []netip.Addr{ip("10.0.1.11")},
					IPv6: []netip.Addr{ip("2600:1f18:1:101::10")}, SecurityGroups: []string{"sg-1"}, SourceDestCheck: true,
					Conntrack: lab.ConntrackTimeouts{TCPEstablished: d.TCPEstablished, UDP: time.Minute, UDPStream: d.UDPStream}}}},
			{Name: "i-3", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
				{ID: "eni-3", Instance: "i-3", Subnet: "subnet-1", IP: ip("10.0.1.20"), SecurityGroups: []string{"sg-1"}, SourceDestCheck: true, Conntrack: d}}},
			{Name: "i-4", ConntrackAllowance: 100000, IMDS: lab.IMDSv1AndV2, Interfaces: []*lab.Interface{
				{ID: "eni-5", Instance: "i-4", Subnet: "subnet-1", IP: ip("10.0.1.41"), SecurityGroups: []string{"sg-1"}, SourceDestCheck: true, Conntrack: d},
				{ID: "eni-4", Instance: "i-4", Subnet: "subnet-1", IP: ip("10.0.1.40"), SecurityGroups: []string{"sg-1"}, SourceDestCheck: false, Conntrack: d}}},
		})
		for _, want := range [][]string{
			{"instances.json: eni-1: ConnectionTrackingConfiguration.TcpEstablishedTimeout: 30s is outside AWS's range 60-432000s"},
			{"instances.json: eni-1: Reservations[0].Instances[0].NetworkInterfaces[0].PrivateIpAddresses[2]: 10.0.1.255 is reserved by AWS"},
			{"instances.json: eni-1: Reservations[0].Instances[0].NetworkInterfaces[0].Ipv6Addresses[1]: 2600:1f18:1:999::1 is outside the IPv6 block"},
			{"instances.json: eni-2: PrivateIpAddresses: the primary private IPv4 address is not imported"},
			{"instances.json: eni-2: Reservations[0].Instances[1].NetworkInterfaces[0].PrivateIpAddresses[0]: 10.0.1.11 is also eni-1's"},
			{"instances.json: i-2: NetworkInterfaces: no interface of the instance could be imported"},
			{"instances.json: i-1: MetadataOptions.HttpEndpoint: the metadata service is disabled"},
			{"instances.json: eni-3: Ipv4Prefixes: delegated prefix 10.0.1.32/28"},
			{"enis.json: eni-1: Groups: describe-network-interfaces says [sg-2], describe-instances (instances.json) says [sg-1]"},
			{"enis.json: eni-gwlbe: Groups: interface without security groups (type gateway_load_balancer_endpoint)"},
		} {
			if !hasItem(unsupported, want...) {
				t.Errorf("not reported: %q", want)
			}
		}
		if !hasItem(notModelled, "enis.json: eni-tgw: interface of a transit gateway") {
			t.Errorf("the transit gateway's interface is not reported: %q", notModelled)
		}
		roundTrip(t, l)
	})
	t.Run("other describe calls", func(t *testing.T) {
		files := with(base(),
			"peering.json", obj{"VpcPeeringConnections": list{obj{"VpcPeeringConnectionId": "pcx-1"}}},
			"igw.json", obj{"InternetGateways": list{obj{"InternetGatewayId": "igw-1"}, obj{"InternetGatewayId": "igw-2"}}},
			"flows.json", obj{"FlowLogs": list{obj{"FlowLogId": "fl-1"}}})
		_, unsupported, notModelled := mustImport(t, files, Options{})
		if !hasItem(notModelled, "peering.json: pcx-1: VPC peering connection: a lab does not model it") {
			t.Errorf("peering is not reported: %q", notModelled)
		}
		if !hasItem(unsupported, "igw.json: InternetGateways: 2 internet gateways (igw-1, igw-2): not imported") ||
			!hasItem(unsupported, "flows.json: FlowLogs: 1 flow log (fl-1): not imported") {
			t.Errorf("outputs not read are not reported: %q", unsupported)
		}
	})
}

// TestRouteTables checks which subnets are public: those whose route
// table, their own or else the main one, has a default route to an
// internet gateway.
func TestRouteTables(t *testing.T) {
	files := base()
	files = with(files, "subnets.json", obj{"Subnets": list{
		obj{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24"},
		obj{"SubnetId": "subnet-2", "VpcId": "vpc-1", "CidrBlock": "10.0.2.0/24"},
		obj{"SubnetId": "subnet-3", "VpcId": "vpc-1", "CidrBlock": "10.0.3.0/24"},
		obj{"SubnetId": "subnet-4", "VpcId": "vpc-1", "CidrBlock": "10.0.4.0/24"},
	}}, "routes.json", obj{"RouteTables": list{
		obj{"RouteTableId": "rtb-main", "VpcId": "vpc-1", "Associations": list{obj{"Main": true}},
			"Routes": list{obj{"DestinationIpv6CidrBlock": "::/0", "GatewayId": "igw-1", "State": "active"}}},
		obj{"RouteTableId": "rtb-2", "VpcId": "vpc-1", "Associations": list{obj{"SubnetId": "subnet-2"}, obj{"GatewayId": "igw-1"}},
			"Routes": list{obj{"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local"},
				obj{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "blackhole"},
				obj{"DestinationCidrBlock": "198.51.100.0/24", "GatewayId": "igw-1"},
				obj{"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-1"}}},
		obj{"RouteTableId": "rtb-3", "VpcId": "vpc-1", "Associations": list{obj{"SubnetId": "subnet-3"}},
			"Routes":          list{obj{"DestinationCidrBlock": "0.0.0.0/0", "GatewayId": "igw-1", "State": "active"}},
			"PropagatingVgws": list{obj{"GatewayId": "vgw-1"}}},
	}})
	l, unsupported, notModelled := mustImport(t, files, Options{})
	got := map[string]bool{}
	for _, s := range l.Subnets {
		got[s.ID] = s.Public
	}
	want := map[string]bool{"subnet-1": true, "subnet-2": false, "subnet-3": true, "subnet-4": true}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("public: got %v, want %v", got, want)
	}
	for _, w := range []string{"rtb-2: Routes: route to 0.0.0.0/0 via igw-1 is a blackhole", "rtb-2: Routes: route to 198.51.100.0/24 via igw-1: a lab subnet is public"} {
		if !hasItem(unsupported, w) {
			t.Errorf("not reported: %q in %q", w, unsupported)
		}
	}
	for _, w := range []string{"rtb-2: associated with gateway igw-1", "rtb-2: route to ::/0 via eigw-1 (egress-only internet gateway)", "rtb-3: routes propagated from virtual private gateway vgw-1"} {
		if !hasItem(notModelled, w) {
			t.Errorf("not reported: %q in %q", w, notModelled)
		}
	}
}

// TestRulesOnly imports security groups from describe-security-group-rules
// alone: a group belongs to the VPC when an interface or an imported
// group's rule uses it.
func TestRulesOnly(t *testing.T) {
	rule := func(id, group string, egress bool, peer obj) obj {
		r := obj{"SecurityGroupRuleId": id, "GroupId": group, "IsEgress": egress, "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
		for k, v := range peer {
			r[k] = v
		}
		return r
	}
	files := with(base(),
		"instances.json", instances(vm("i-1", eni("eni-1", "10.0.1.10", "sg-a"))),
		"rules.json", obj{"SecurityGroupRules": list{
			rule("sgr-1", "sg-a", false, obj{"ReferencedGroupInfo": obj{"GroupId": "sg-b"}}),
			rule("sgr-2", "sg-b", true, obj{"CidrIpv6": "2001:db8::/32", "Description": "v6"}),
			rule("sgr-3", "sg-a", false, obj{"ReferencedGroupInfo": obj{"GroupId": "sg-x", "VpcId": "vpc-9", "VpcPeeringConnectionId": "pcx-9"}}),
			rule("sgr-4", "sg-other", false, obj{"CidrIpv4": "0.0.0.0/0"}),
		}})
	l, unsupported, notModelled := mustImport(t, files, Options{})
	ssh := tcp(22, 22)
	compare(t, "security groups", l.SecurityGroups, []*sg.Group{
		{ID: "sg-a", Ingress: []sg.Rule{groupRule(ssh, "sgr-1", "sg-b", "")}, Egress: []sg.Rule{}},
		{ID: "sg-b", Ingress: []sg.Rule{}, Egress: []sg.Rule{cidrRule(ssh, "sgr-2", "2001:db8::/32", "v6")}},
	})
	if !hasItem(unsupported, "2 security groups known only from describe-security-group-rules (sg-a, sg-b), used by") ||
		!hasItem(unsupported, "1 security group known only from describe-security-group-rules (sg-other)") {
		t.Errorf("the groups are not reported: %q", unsupported)
	}
	if !hasItem(notModelled, "rules.json: sg-a: inbound rule (tcp 22) references group sg-x of vpc-9 through VPC peering connection pcx-9") {
		t.Errorf("the peered reference is not reported: %q", notModelled)
	}
	roundTrip(t, l)
}

// TestGroupOfAnotherVPC imports a group of another VPC that this VPC's
// interfaces use (AWS's security group VPC associations).
func TestGroupOfAnotherVPC(t *testing.T) {
	shared := group("sg-shared", list{obj{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": list{obj{"CidrIp": "10.0.0.0/8"}}}}, nil)
	shared["VpcId"] = "vpc-2"
	mine := group("sg-1", list{obj{"IpProtocol": "-1", "UserIdGroupPairs": list{obj{"GroupId": "sg-shared", "VpcId": "vpc-2"}}}}, nil)
	files := with(base(), "groups.json", obj{"SecurityGroups": list{shared, mine}},
		"instances.json", instances(vm("i-1", eni("eni-1", "10.0.1.10", "sg-1", "sg-shared"))))
	l, unsupported, notModelled := mustImport(t, files, Options{})
	compare(t, "security groups", l.SecurityGroups, []*sg.Group{
		{ID: "sg-shared", Description: "group sg-shared", Ingress: []sg.Rule{cidrRule(tcp(443, 443), "", "10.0.0.0/8", "")}, Egress: []sg.Rule{}},
		{ID: "sg-1", Description: "group sg-1", Ingress: []sg.Rule{groupRule(proto(-1), "", "sg-shared", "")}, Egress: []sg.Rule{}},
	})
	if !hasItem(unsupported, "groups.json: sg-shared: VpcId: group of vpc-2 used at Reservations[0].Instances[0].NetworkInterfaces[0].Groups (a security group VPC association)") || len(notModelled) != 0 {
		t.Errorf("report: %q, %q", unsupported, notModelled)
	}
	roundTrip(t, l)
}

// TestQuotas checks that quotas rise to what the VPC needs, and that
// needing more than a lab allows is an error.
func TestQuotas(t *testing.T) {
	build := func(rules, entries, groups int) map[string][]byte {
		var ranges list
		for i := range rules {
			ranges = append(ranges, obj{"CidrIp": fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)})
		}
		var es list
		for i := range entries {
			es = append(es, obj{"RuleNumber": i + 1, "RuleAction": "deny", "Protocol": "6", "Egress": false,
				"CidrBlock": "192.0.2.0/24", "PortRange": obj{"From": i, "To": i}})
		}
		gs := list{group("sg-0", list{obj{"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": ranges}}, nil)}
		ids := []string{"sg-0"}
		for i := 1; i < groups; i++ {
			gs = append(gs, group(fmt.Sprintf("sg-%d", i), nil, nil))
			ids = append(ids, fmt.Sprintf("sg-%d", i))
		}
		return with(base(), "groups.json", obj{"SecurityGroups": gs},
			"acls.json", obj{"NetworkAcls": list{obj{"NetworkAclId": "acl-1", "VpcId": "vpc-1", "Entries": es,
				"Associations": list{obj{"SubnetId": "subnet-1", "NetworkAclId": "acl-1"}}}}},
			"instances.json", instances(vm("i-1", eni("eni-1", "10.0.1.10", ids...))))
	}
	l, _, _ := mustImport(t, build(70, 25, 7), Options{})
	// Seven groups of one outbound rule each (a new group's) and sg-0's 70
	// inbound rules: 70 inbound IPv4 rules on the interface.
	want := lab.Quotas{NACLEntries: 25, SGRules: 70, SGsPerENI: 7, RulesTimesSGs: 1000, SGsPerVPC: 2500}
	if l.Quotas != want {
		t.Errorf("quotas: got %+v, want %+v", l.Quotas, want)
	}
	roundTrip(t, l)

	l, _, _ = mustImport(t, build(1200, 1, 1), Options{})
	if l.Quotas.SGRules != 1200 || l.Quotas.RulesTimesSGs != 1200 {
		t.Errorf("1200 rules: got quotas %+v", l.Quotas)
	}

	_, _, err := ImportFiles(build(1, 41, 17))
	for _, want := range []string{"the VPC needs 41 network ACL entries per direction and family: a lab allows at most 40",
		"the VPC needs 17 security groups per interface: a lab allows at most 16"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want …%s…", err, want)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"web server #1":         "web-server-1",
		"db.primary_2":          "db.primary_2",
		"--lead":                "lead",
		"trail!!":               "trail",
		"日本のサーバー":               "",
		"a/b\\c":                "a-b-c",
		strings.Repeat("x", 70): strings.Repeat("x", 64),
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNames checks instance names: sanitised, else the id, unique.
func TestNames(t *testing.T) {
	named := func(id, name, addr string) obj {
		in := vm(id, eni("eni-"+id, addr, "sg-1"))
		in["Tags"] = list{obj{"Key": "Name", "Value": name}}
		return in
	}
	long := strings.Repeat("n", 64)
	files := with(base(), "groups.json", obj{"SecurityGroups": list{group("sg-1", nil, nil)}},
		"instances.json", instances(
			named("i-1", "日本", "10.0.1.10"),
			named("i-2", long, "10.0.1.11"),
			named("i-3", long, "10.0.1.12"),
			named("i-4", "i-1", "10.0.1.13"),
		))
	l, _, _ := mustImport(t, files, Options{})
	var got []string
	for _, in := range l.Instances {
		got = append(got, in.Name)
	}
	want := []string{"i-1", long, strings.Repeat("n", 60) + "-i-3", "i-1-i-4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("names: got %q, want %q", got, want)
	}
	roundTrip(t, l)
}

// TestPosition checks the lookup of a value's position by its path.
func TestPosition(t *testing.T) {
	data := []byte("{\n  \"A\": [1, {\"B\": \"x\"}],\n  \"C\": {\"D\": [true, null]}\n}")
	for _, c := range []struct {
		p         path
		line, col int
	}{
		{path{"A"}, 2, 8},
		{path{"A", 1, "B"}, 2, 18},
		{path{"C", "D", 1}, 3, 21},
		{path{"C", "E"}, 0, 0},
		{path{"A", 5}, 0, 0},
	} {
		if line, col := position(data, c.p); line != c.line || col != c.col {
			t.Errorf("position(%s) = %d:%d, want %d:%d", c.p, line, col, c.line, c.col)
		}
	}
}

// TestImportDir checks reading a directory: subdirectories are reported,
// not read.
func TestImportDir(t *testing.T) {
	dir := t.TempDir()
	for name, data := range base() {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, rep, err := Import(dir)
	if err != nil || l.VPC.ID != "vpc-1" || len(l.Subnets) != 1 {
		t.Fatalf("import: %v", err)
	}
	found := false
	for _, it := range rep.Unsupported {
		found = found || (it.Source == filepath.Join(dir, "old") && strings.Contains(it.Reason, "not a regular file"))
	}
	if !found {
		t.Errorf("the subdirectory is not reported: %v", rep.Unsupported)
	}
	if _, _, err := Import(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory imports")
	}
}

// TestVPCAndSubnets checks the blocks and zones a lab cannot hold.
func TestVPCAndSubnets(t *testing.T) {
	files := with(base(),
		"vpcs.json", obj{"Vpcs": list{obj{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "OwnerId": "amazon",
			"Ipv6CidrBlockAssociationSet": list{
				obj{"Ipv6CidrBlock": "2600:1f18:1:100::/56", "Ipv6CidrBlockState": obj{"State": "disassociated"}},
				obj{"Ipv6CidrBlock": "2600:1f18:1:200::/56", "Ipv6CidrBlockState": obj{"State": "ASSOCIATED"}},
				obj{"Ipv6CidrBlock": "2600:1f18:1:300::/56", "Ipv6CidrBlockState": obj{"State": "associated"}},
			}}}},
		"subnets.json", obj{"Subnets": list{
			obj{"SubnetId": "subnet-1", "VpcId": "vpc-1", "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "us-east-1-bos-1a",
				"AvailabilityZoneId": "use1-bos1-az1", "SubnetArn": "arn:aws:ec2:us-west-2:111122223333:subnet/subnet-1",
				"Ipv6CidrBlockAssociationSet": list{obj{"Ipv6CidrBlock": "2600:1f18:1:201::/64"}, obj{"Ipv6CidrBlock": "2600:1f18:1:202::/64"}}},
			obj{"SubnetId": "subnet-2", "VpcId": "vpc-1", "CidrBlock": "10.0.1.128/25"},
			obj{"SubnetId": "subnet-3", "VpcId": "vpc-1", "CidrBlock": "10.0.2.0/29"},
			obj{"SubnetId": "subnet-4", "VpcId": "vpc-1", "CidrBlock": "10.1.0.0/24"},
			obj{"SubnetId": "subnet-5", "VpcId": "vpc-1", "CidrBlock": "10.0.5.0/24", "AvailabilityZone": "us-west-2c",
				"Ipv6CidrBlockAssociationSet": list{obj{"Ipv6CidrBlock": "2600:1f18:1:300::/64"}}},
		}})
	l, unsupported, _ := mustImport(t, files, Options{})
	want := lab.VPC{ID: "vpc-1", CIDR: pfx("10.0.0.0/16"), IPv6CIDR: pfx("2600:1f18:1:200::/56"), AccountID: lab.DefaultAccountID, Region: "us-west-2"}
	if l.VPC != want {
		t.Errorf("VPC: got %+v, want %+v", l.VPC, want)
	}
	compare(t, "subnets", l.Subnets, []*lab.Subnet{
		{ID: "subnet-1", CIDR: pfx("10.0.1.0/24"), IPv6CIDR: pfx("2600:1f18:1:201::/64"), NetworkACL: "default"},
		{ID: "subnet-5", CIDR: pfx("10.0.5.0/24"), NetworkACL: "default", AvailabilityZone: "us-west-2c"},
	})
	for _, w := range []string{
		`vpcs.json: vpc-1: OwnerId: "amazon" is not a 12-digit account id`,
		"vpcs.json: vpc-1: Ipv6CidrBlockAssociationSet: IPv6 block 2600:1f18:1:100::/56 is disassociated: not imported",
		"vpcs.json: vpc-1: Ipv6CidrBlockAssociationSet: IPv6 block 2600:1f18:1:300::/56: a lab VPC has one IPv6 block",
		`subnets.json: subnet-1: AvailabilityZone: zone "us-east-1-bos-1a" is not a zone of region us-west-2`,
		`subnets.json: subnet-1: AvailabilityZoneId: zone id "use1-bos1-az1" is not one a lab can hold`,
		"subnets.json: subnet-1: Ipv6CidrBlockAssociationSet: IPv6 block 2600:1f18:1:202::/64 is a lab subnet has one IPv6 block",
		"subnets.json: subnet-2: CidrBlock: 10.0.1.128/25 is overlapping subnet-1's 10.0.1.0/24",
		"subnets.json: subnet-3: CidrBlock: 10.0.2.0/29 is a /29, and a lab subnet is /16 to /28",
		"subnets.json: subnet-4: CidrBlock: 10.1.0.0/24 is outside the VPC's 10.0.0.0/16",
		"subnets.json: subnet-5: Ipv6CidrBlockAssociationSet: IPv6 block 2600:1f18:1:300::/64 is outside the lab VPC's IPv6 block",
	} {
		if !hasItem(unsupported, w) {
			t.Errorf("not reported: %q", w)
		}
	}
	roundTrip(t, l)

	files["vpcs.json"] = js(obj{"Vpcs": list{obj{"VpcId": "vpc-1", "CidrBlock": "169.254.0.0/16"}}})
	if _, _, err := ImportFiles(files); err == nil || !strings.Contains(err.Error(), "Vpcs[0].CidrBlock: 169.254.0.0/16 overlaps 169.254.0.0/16, link-local, where the instance services live: a lab VPC cannot use it") {
		t.Errorf("a link-local VPC: got %v", err)
	}
}
