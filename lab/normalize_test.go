package lab

import "testing"

func TestRegionCode(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "use1", "us-west-2": "usw2", "eu-central-1": "euc1", "ap-southeast-2": "apse2",
		"ap-northeast-1": "apne1", "sa-east-1": "sae1", "us-gov-west-1": "usgw1", "eu-north-1": "eun1",
	} {
		if got := regionCode(region); got != want {
			t.Errorf("regionCode(%s) = %s, want %s", region, got, want)
		}
	}
}
