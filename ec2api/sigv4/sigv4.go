// Package sigv4 verifies AWS Signature Version 4 on HTTP requests, as AWS's
// endpoints verify them: the Authorization header form and the presigned
// query form (X-Amz-Signature), the credential scope
// (DATE/REGION/SERVICE/aws4_request, any region), and the clock: a
// request signed more than MaxSkew from now, or a presigned one past its
// X-Amz-Expires, is refused with RequestExpired.
//
// It owns the signature alone: who holds which key is the caller's (a
// lookup function), what the request asks for too. It must not import
// anything of vpclab.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm verified.
const Algorithm = "AWS4-HMAC-SHA256"

// MaxSkew is how far a request's signing time may be from the server's
// clock: AWS's 5 minutes.
const MaxSkew = 5 * time.Minute

// MaxExpires is the longest a presigned request may be valid: 7 days, as
// AWS allows.
const MaxExpires = 7 * 24 * time.Hour

const timeFormat = "20060102T150405Z"

// Error is a refused request. Code is AWS's: AuthFailure (no signature,
// an unknown key, a wrong signature, a malformed one) or RequestExpired.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// The codes of Error.
const (
	AuthFailure    = "AuthFailure"
	RequestExpired = "RequestExpired"
)

func failf(format string, args ...any) *Error {
	return &Error{Code: AuthFailure, Message: fmt.Sprintf(format, args...)}
}

// Credential is who signed a verified request, and for what.
type Credential struct {
	AccessKeyID string
	Date        string // the scope's date, YYYYMMDD
	Region      string // the scope's region, as the client chose it
	Service     string // the scope's service: ec2, sts, …
	Time        time.Time
	Presigned   bool
}

// Verifier checks signatures.
type Verifier struct {
	// Secret returns the secret access key of an access key id, and
	// whether the id is known.
	Secret func(accessKeyID string) (string, bool)
	// Services are the services a scope may name (ec2, sts); empty
	// accepts any.
	Services []string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Verify checks the signature of r, whose body is body (already read;
// r.Body is not touched). It returns the credential of a good signature,
// or an *Error.
func (v *Verifier) Verify(r *http.Request, body []byte) (*Credential, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	query := r.URL.Query()
	if auth := r.Header.Get("Authorization"); auth != "" {
		if query.Has("X-Amz-Signature") {
			return nil, failf("the request has both an Authorization header and X-Amz-Signature: sign it one way")
		}
		return v.verifyHeader(r, body, auth, now())
	}
	if query.Has("X-Amz-Signature") || query.Has("X-Amz-Credential") {
		return v.verifyQuery(r, body, query, now())
	}
	return nil, failf("the request is not signed: sign it with AWS Signature Version 4 (an access key the lab knows)")
}

// parsed is what the two forms have in common once read.
type parsed struct {
	cred          Credential
	signedHeaders []string
	signature     string
	amzDate       string
}

func (v *Verifier) verifyHeader(r *http.Request, body []byte, auth string, now time.Time) (*Credential, error) {
	alg, rest, _ := strings.Cut(auth, " ")
	if alg != Algorithm {
		return nil, failf("unsupported authorization scheme %q: use %s", alg, Algorithm)
	}
	var p parsed
	var haveCred, haveHeaders, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, failf("malformed Authorization header: %q is not KEY=VALUE", strings.TrimSpace(part))
		}
		switch k {
		case "Credential":
			if err := v.scope(val, &p.cred); err != nil {
				return nil, err
			}
			haveCred = true
		case "SignedHeaders":
			p.signedHeaders = strings.Split(val, ";")
			haveHeaders = true
		case "Signature":
			p.signature = val
			haveSig = true
		default:
			return nil, failf("malformed Authorization header: unknown key %q", k)
		}
	}
	if !haveCred || !haveHeaders || !haveSig {
		return nil, failf("malformed Authorization header: it needs Credential, SignedHeaders and Signature")
	}
	p.amzDate = r.Header.Get("X-Amz-Date")
	if p.amzDate == "" {
		return nil, failf("the request has no X-Amz-Date header")
	}
	t, err := v.when(p.amzDate, &p.cred)
	if err != nil {
		return nil, err
	}
	if d := now.Sub(t); d > MaxSkew || d < -MaxSkew {
		return nil, &Error{Code: RequestExpired, Message: fmt.Sprintf("the request was signed at %s, more than %v from the server's time %s", t.Format(time.RFC3339), MaxSkew, now.UTC().Format(time.RFC3339))}
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" || payload == "UNSIGNED-PAYLOAD" && len(body) > 0 {
		payload = hashHex(body)
	} else if payload != "UNSIGNED-PAYLOAD" && payload != hashHex(body) {
		return nil, failf("X-Amz-Content-Sha256 is not the SHA-256 of the body")
	}
	return v.check(r, p, r.URL.Query(), payload)
}

func (v *Verifier) verifyQuery(r *http.Request, body []byte, q url.Values, now time.Time) (*Credential, error) {
	var p parsed
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires"} {
		if len(q[k]) != 1 {
			return nil, failf("a presigned request has exactly one %s", k)
		}
	}
	if q.Get("X-Amz-Algorithm") != Algorithm {
		return nil, failf("unsupported X-Amz-Algorithm %q: use %s", q.Get("X-Amz-Algorithm"), Algorithm)
	}
	if err := v.scope(q.Get("X-Amz-Credential"), &p.cred); err != nil {
		return nil, err
	}
	p.amzDate = q.Get("X-Amz-Date")
	t, err := v.when(p.amzDate, &p.cred)
	if err != nil {
		return nil, err
	}
	secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || secs < 1 || time.Duration(secs)*time.Second > MaxExpires {
		return nil, failf("X-Amz-Expires %q: want 1 to %d seconds", q.Get("X-Amz-Expires"), int(MaxExpires/time.Second))
	}
	if now.After(t.Add(time.Duration(secs) * time.Second)) {
		return nil, &Error{Code: RequestExpired, Message: fmt.Sprintf("the presigned request expired at %s", t.Add(time.Duration(secs)*time.Second).Format(time.RFC3339))}
	}
	if t.Sub(now) > MaxSkew {
		return nil, &Error{Code: RequestExpired, Message: fmt.Sprintf("the request was signed at %s, more than %v after the server's time %s", t.Format(time.RFC3339), MaxSkew, now.UTC().Format(time.RFC3339))}
	}
	p.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	p.signature = q.Get("X-Amz-Signature")
	p.cred.Presigned = true
	rest := url.Values{}
	for k, vs := range q {
		if k != "X-Amz-Signature" {
			rest[k] = vs
		}
	}
	return v.check(r, p, rest, hashHex(body))
}

// scope reads AKID/DATE/REGION/SERVICE/aws4_request into c.
func (v *Verifier) scope(s string, c *Credential) error {
	f := strings.Split(s, "/")
	if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" || f[2] == "" || f[3] == "" {
		return failf("malformed credential %q: want ACCESS_KEY_ID/YYYYMMDD/REGION/SERVICE/aws4_request", s)
	}
	if _, err := time.Parse("20060102", f[1]); err != nil {
		return failf("malformed credential %q: the date %q is not YYYYMMDD", s, f[1])
	}
	if len(v.Services) > 0 && !slices.Contains(v.Services, f[3]) {
		return failf("credential scope names service %q: this endpoint serves %s", f[3], strings.Join(v.Services, ", "))
	}
	c.AccessKeyID, c.Date, c.Region, c.Service = f[0], f[1], f[2], f[3]
	return nil
}

// when parses the signing time and checks it against the scope's date.
func (v *Verifier) when(amzDate string, c *Credential) (time.Time, error) {
	t, err := time.Parse(timeFormat, amzDate)
	if err != nil {
		return time.Time{}, failf("X-Amz-Date %q is not YYYYMMDDTHHMMSSZ", amzDate)
	}
	if amzDate[:8] != c.Date {
		return time.Time{}, failf("the credential's date %s is not the signing date %s", c.Date, amzDate[:8])
	}
	c.Time = t
	return t, nil
}

// check computes the signature over the canonical request and compares
// it in constant time.
func (v *Verifier) check(r *http.Request, p parsed, q url.Values, payload string) (*Credential, error) {
	if !slices.Contains(p.signedHeaders, "host") {
		return nil, failf("SignedHeaders must include host")
	}
	if !slices.IsSorted(p.signedHeaders) {
		return nil, failf("SignedHeaders must be sorted and lower case")
	}
	secret, ok := v.Secret(p.cred.AccessKeyID)
	if !ok {
		return nil, failf("the access key %q is not one of the lab's", p.cred.AccessKeyID)
	}
	canon, err := CanonicalRequest(r, q, p.signedHeaders, payload)
	if err != nil {
		return nil, err
	}
	want := Signature(secret, p.cred.Date, p.cred.Region, p.cred.Service, p.amzDate, canon)
	got, err := hex.DecodeString(p.signature)
	wantB, _ := hex.DecodeString(want)
	if err != nil || !hmac.Equal(got, wantB) {
		return nil, failf("the signature does not match: check the secret access key and the signing method")
	}
	c := p.cred
	return &c, nil
}

// CanonicalRequest is SigV4's canonical form of r with query q (the
// presigned form leaves X-Amz-Signature out), its signed headers and the
// payload's hash.
func CanonicalRequest(r *http.Request, q url.Values, signed []string, payload string) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(q))
	b.WriteByte('\n')
	for _, h := range signed {
		var vals []string
		if h == "host" {
			host := r.Host
			if host == "" {
				host = r.URL.Host
			}
			vals = []string{host}
		} else {
			vals = slices.Clone(r.Header.Values(h))
			if len(vals) == 0 && !(h == "content-length" && r.ContentLength >= 0) {
				return "", failf("signed header %q is not in the request", h)
			}
			if h == "content-length" && len(vals) == 0 {
				vals = []string{strconv.FormatInt(r.ContentLength, 10)}
			}
		}
		for i, val := range vals {
			vals[i] = strings.Join(strings.Fields(val), " ")
		}
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals, ","))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String(), nil
}

// canonicalURI is the path, each segment URI-encoded again (the services
// other than S3 encode twice).
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = encode(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(q url.Values) string {
	type kv struct{ k, v string }
	var all []kv
	for k, vs := range q {
		for _, v := range vs {
			all = append(all, kv{encode(k), encode(v)})
		}
	}
	slices.SortFunc(all, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	parts := make([]string, len(all))
	for i, p := range all {
		parts[i] = p.k + "=" + p.v
	}
	return strings.Join(parts, "&")
}

// encode is SigV4's URI encoding: every byte but A-Z a-z 0-9 - _ . ~ as %XX.
func encode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// Signature is the hex signature of a canonical request.
func Signature(secret, date, region, service, amzDate, canonical string) string {
	scope := date + "/" + region + "/" + service + "/aws4_request"
	toSign := Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hashHex([]byte(canonical))
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
