package ec2api_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/ec2"

	importaws "github.com/vpclab/vpclab/importer/aws"
	"github.com/vpclab/vpclab/lab/labfile"
)

// cliJSON is v as the aws CLI prints it: the SDK's output shapes, whose
// members are named as the CLI's, without the members it leaves out.
func cliJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(dropNulls(x))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func dropNulls(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			if e == nil || k == "ResultMetadata" {
				delete(v, k)
				continue
			}
			v[k] = dropNulls(e)
		}
	case []any:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return x
}

// TestImportRoundTrip: what the describe calls answer, read back by
// vpclab import aws, is the lab that answered them.
func TestImportRoundTrip(t *testing.T) {
	e := start(t)
	c := e.client(viewerKey, viewerSec)
	ctx := context.Background()
	files := map[string][]byte{
		"vpcs.json":         cliJSON(t, must(c.DescribeVpcs(ctx, &sdk.DescribeVpcsInput{}))),
		"subnets.json":      cliJSON(t, must(c.DescribeSubnets(ctx, &sdk.DescribeSubnetsInput{}))),
		"acls.json":         cliJSON(t, must(c.DescribeNetworkAcls(ctx, &sdk.DescribeNetworkAclsInput{}))),
		"routes.json":       cliJSON(t, must(c.DescribeRouteTables(ctx, &sdk.DescribeRouteTablesInput{}))),
		"groups.json":       cliJSON(t, must(c.DescribeSecurityGroups(ctx, &sdk.DescribeSecurityGroupsInput{}))),
		"instances.json":    cliJSON(t, must(c.DescribeInstances(ctx, &sdk.DescribeInstancesInput{}))),
		"enis.json":         cliJSON(t, must(c.DescribeNetworkInterfaces(ctx, &sdk.DescribeNetworkInterfacesInput{}))),
		"prefix-lists.json": cliJSON(t, must(c.DescribeManagedPrefixLists(ctx, &sdk.DescribeManagedPrefixListsInput{}))),
		"pl-office.json":    cliJSON(t, must(c.GetManagedPrefixListEntries(ctx, &sdk.GetManagedPrefixListEntriesInput{PrefixListId: aws.String("pl-office")}))),
	}
	got, rep, err := importaws.ImportFiles(files)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	t.Logf("import report:\n%v", rep)
	// The internet's hosts are no part of a VPC's description: a lab
	// imported from AWS has none of its own.
	want := e.lab.Lab().Clone()
	want.Internet = got.Internet
	wb, _ := labfile.Marshal(want)
	gb, _ := labfile.Marshal(got)
	if string(wb) != string(gb) {
		t.Errorf("the imported lab differs:\n--- served\n%s\n--- imported\n%s", wb, gb)
	}
}
