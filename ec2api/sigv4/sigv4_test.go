package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/vpclab/vpclab/ec2api/sigv4"
)

const (
	akid   = "AKIAVPCLABTEST000001"
	secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var signedAt = time.Date(2026, 3, 1, 11, 30, 0, 0, time.UTC)

func verifier(now time.Time) *sigv4.Verifier {
	return &sigv4.Verifier{
		Secret: func(id string) (string, bool) {
			if id == akid {
				return secret, true
			}
			return "", false
		},
		Services: []string{"ec2", "sts"},
		Now:      func() time.Time { return now },
	}
}

func hashOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// signed returns a POST request as the SDK's signer signs it and as the
// server receives it.
func signed(t *testing.T, body, region, key, sec string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8730/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("User-Agent", "test  client   1.0")
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: key, SecretAccessKey: sec},
		r, hashOf([]byte(body)), "ec2", region, signedAt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func code(err error) string {
	var e *sigv4.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestHeaderSignature(t *testing.T) {
	body := "Action=DescribeVpcs&Version=2016-11-15&Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-1"
	for _, region := range []string{"us-east-1", "eu-west-3", "lab-1"} {
		r := signed(t, body, region, akid, secret)
		c, err := verifier(signedAt.Add(time.Minute)).Verify(r, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		if c.AccessKeyID != akid || c.Region != region || c.Service != "ec2" || c.Presigned {
			t.Errorf("%s: credential %+v", region, c)
		}
	}
}

func TestHeaderRefusals(t *testing.T) {
	body := "Action=DescribeVpcs&Version=2016-11-15"
	cases := []struct {
		name string
		req  func() (*http.Request, []byte)
		now  time.Time
		want string
	}{
		{"unsigned", func() (*http.Request, []byte) {
			return httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)), []byte(body)
		}, signedAt, sigv4.AuthFailure},
		{"wrong secret", func() (*http.Request, []byte) { return signed(t, body, "us-east-1", akid, secret+"x"), []byte(body) }, signedAt, sigv4.AuthFailure},
		{"unknown key", func() (*http.Request, []byte) {
			return signed(t, body, "us-east-1", "AKIAOTHER00000000000", secret), []byte(body)
		}, signedAt, sigv4.AuthFailure},
		{"body changed", func() (*http.Request, []byte) {
			b := body + "&DryRun=true"
			return signed(t, body, "us-east-1", akid, secret), []byte(b)
		}, signedAt, sigv4.AuthFailure},
		{"header changed", func() (*http.Request, []byte) {
			r := signed(t, body, "us-east-1", akid, secret)
			r.Header.Set("X-Amz-Date", signedAt.Add(time.Second).Format("20060102T150405Z"))
			return r, []byte(body)
		}, signedAt, sigv4.AuthFailure},
		{"signed 6 minutes ago", func() (*http.Request, []byte) { return signed(t, body, "us-east-1", akid, secret), []byte(body) }, signedAt.Add(6 * time.Minute), sigv4.RequestExpired},
		{"signed 6 minutes ahead", func() (*http.Request, []byte) { return signed(t, body, "us-east-1", akid, secret), []byte(body) }, signedAt.Add(-6 * time.Minute), sigv4.RequestExpired},
		{"other scheme", func() (*http.Request, []byte) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Authorization", "AWS AKIA:abc")
			return r, []byte(body)
		}, signedAt, sigv4.AuthFailure},
	}
	for _, c := range cases {
		r, b := c.req()
		_, err := verifier(c.now).Verify(r, b)
		if code(err) != c.want {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
}

func TestPresigned(t *testing.T) {
	u := "http://127.0.0.1:8730/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=300"
	r := httptest.NewRequest(http.MethodGet, u, nil)
	url, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		r, hashOf(nil), "sts", "ap-south-1", signedAt)
	if err != nil {
		t.Fatal(err)
	}
	get := func() *http.Request {
		q := httptest.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			q.Header[k] = v
		}
		return q
	}
	c, err := verifier(signedAt.Add(4*time.Minute)).Verify(get(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Presigned || c.Region != "ap-south-1" || c.Service != "sts" {
		t.Errorf("credential %+v", c)
	}
	if _, err := verifier(signedAt.Add(6*time.Minute)).Verify(get(), nil); code(err) != sigv4.RequestExpired {
		t.Errorf("expired presigned URL: %v", err)
	}
	bad := get()
	bad.URL.RawQuery = strings.Replace(bad.URL.RawQuery, "GetCallerIdentity", "GetCallerIdentitz", 1)
	if _, err := verifier(signedAt).Verify(bad, nil); code(err) != sigv4.AuthFailure {
		t.Errorf("tampered presigned URL: %v", err)
	}
}

// FuzzVerify: any request gets a refusal with a code or a credential,
// never a panic.
func FuzzVerify(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAVPCLABTEST000001/20260301/us-east-1/ec2/aws4_request, SignedHeaders=host;x-amz-date, Signature=00", "20260301T113000Z", "Action=DescribeVpcs")
	f.Add("AWS4-HMAC-SHA256 Credential=/, SignedHeaders=, Signature=", "", "")
	f.Add("", "", "X-Amz-Signature=1&X-Amz-Credential=a/b/c/d/e")
	f.Fuzz(func(t *testing.T, auth, date, query string) {
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/?"+query, bytes.NewReader(nil))
		if err != nil {
			return
		}
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		c, err := verifier(signedAt).Verify(r, nil)
		if err == nil && c == nil || err != nil && code(err) == "" {
			t.Fatalf("Verify: %v, %v", c, err)
		}
	})
}
