package services

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
)

// IMDS header names.
const (
	tokenHeader    = "X-Aws-Ec2-Metadata-Token"
	tokenTTLHeader = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds"
	maxTokenTTL    = 21600 // seconds, six hours, as AWS
)

// IMDS is the instance metadata service's HTTP handler. It identifies the
// asking instance by the request's source address (http.Request.RemoteAddr)
// among the lab's ENI addresses. It is safe for concurrent use.
//
// Tokens (IMDSv2): PUT /latest/api/token with X-aws-ec2-metadata-token-ttl-seconds
// between 1 and 21600 returns a token valid that long for the asking
// instance only. A GET carrying X-aws-ec2-metadata-token must carry a
// valid one, or gets 401; a GET without one is served (IMDSv1) unless
// the instance's IMDS mode is lab.IMDSv2Only, or Options.IMDSv2Only.
type IMDS struct {
	dir    atomic.Pointer[directory] // swapped by update
	v2Only bool
	now    func() time.Time

	mu        sync.Mutex
	tokens    map[string]token
	nextSweep int // prune expired tokens when len(tokens) reaches this
}

type token struct {
	inst    string
	expires time.Time
}

func newIMDS(d *directory, o *Options) *IMDS {
	m := &IMDS{v2Only: o.IMDSv2Only, now: o.now, tokens: map[string]token{}, nextSweep: 64}
	m.dir.Store(d)
	return m
}

// update makes m answer from d from the next request on.
func (m *IMDS) update(d *directory) { m.dir.Store(d) }

// ServeHTTP answers one metadata request.
func (m *IMDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	d := m.dir.Load()
	var e *eni
	if err == nil {
		e = d.byAddr[ap.Addr().Unmap()]
	}
	if e == nil {
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	h.Set("Server", "EC2ws")
	if r.URL.Path == "/latest/api/token" {
		m.putToken(w, r, e)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if tok, has := r.Header[tokenHeader]; has || m.v2Only || e.inst.IMDS == lab.IMDSv2Only {
		if len(tok) != 1 || !m.valid(tok[0], e.inst.Name) {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
	}
	body, ok := m.lookup(d, e, r.URL.Path)
	if !ok {
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write([]byte(body))
	}
}

// putToken serves PUT /latest/api/token.
func (m *IMDS) putToken(w http.ResponseWriter, r *http.Request, e *eni) {
	if r.Method != http.MethodPut {
		w.Header().Set("Allow", "PUT")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.Header.Get("X-Forwarded-For") != "" {
		// AWS refuses tokens to requests that went through a proxy.
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	ttl, err := strconv.Atoi(r.Header.Get(tokenTTLHeader))
	if err != nil || ttl < 1 || ttl > maxTokenTTL {
		http.Error(w, "Bad Request", http.StatusBadRequest)
		return
	}
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand since Go 1.24)
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	now := m.now()
	m.mu.Lock()
	if len(m.tokens) >= m.nextSweep {
		for k, t := range m.tokens {
			if !now.Before(t.expires) {
				delete(m.tokens, k)
			}
		}
		m.nextSweep = max(64, 2*len(m.tokens))
	}
	m.tokens[tok] = token{inst: e.inst.Name, expires: now.Add(time.Duration(ttl) * time.Second)}
	m.mu.Unlock()
	w.Header().Set(tokenTTLHeader, strconv.Itoa(ttl))
	w.Header().Set("Content-Length", strconv.Itoa(len(tok)))
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(tok))
}

// valid reports whether tok is an unexpired token of instance inst.
func (m *IMDS) valid(tok, inst string) bool {
	now := m.now()
	m.mu.Lock()
	t, ok := m.tokens[tok]
	m.mu.Unlock()
	return ok && t.inst == inst && now.Before(t.expires)
}

// lookup returns the body of a metadata path for the instance owning e:
// a value, or a directory listing (one entry a line, subdirectories with
// a trailing slash). The metadata describes the instance's primary ENI,
// as AWS does, whichever ENI asked.
func (m *IMDS) lookup(d *directory, e *eni, path string) (string, bool) {
	p := d.primary(e.inst.Name)
	rest, ok := strings.CutPrefix(path, "/latest/meta-data")
	switch {
	case path == "/" || path == "":
		return "latest/", true
	case path == "/latest" || path == "/latest/":
		return "meta-data/", true
	case !ok:
		return "", false
	}
	rest = strings.TrimPrefix(rest, "/")
	switch rest {
	case "":
		return "hostname\ninstance-id\nlocal-hostname\nlocal-ipv4\nmac\nnetwork/\nsecurity-groups", true
	case "instance-id":
		return labnet.InstanceID(e.inst.Name), true
	case "local-ipv4":
		return p.IP.String(), true
	case "mac":
		return p.mac, true
	case "hostname", "local-hostname":
		return labnet.Hostname(p.IP), true
	case "security-groups":
		return strings.Join(p.SecurityGroups, "\n"), true
	case "network", "network/":
		return "interfaces/", true
	case "network/interfaces", "network/interfaces/":
		return "macs/", true
	case "network/interfaces/macs", "network/interfaces/macs/":
		var b strings.Builder
		for i, x := range d.byInst[e.inst.Name] {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(x.mac + "/")
		}
		return b.String(), true
	}
	rest, ok = strings.CutPrefix(rest, "network/interfaces/macs/")
	if !ok {
		return "", false
	}
	mac, key, _ := strings.Cut(rest, "/")
	x := d.byMAC[mac]
	if x == nil || x.inst != e.inst {
		return "", false
	}
	return interfaceKey(d, x, key)
}

// interfaceKey returns network/interfaces/macs/<mac>/<key> of ENI x.
func interfaceKey(d *directory, x *eni, key string) (string, bool) {
	switch key {
	case "":
		list := "device-number\ninterface-id\nlocal-hostname\nlocal-ipv4s\nmac\nsecurity-group-ids\nsecurity-groups\nsubnet-id\nsubnet-ipv4-cidr-block\nvpc-id\nvpc-ipv4-cidr-block"
		if len(x.IPv6) > 0 {
			list += "\nipv6s"
		}
		return list, true
	case "device-number":
		return strconv.Itoa(x.index), true
	case "interface-id":
		return x.ID, true
	case "local-hostname":
		return labnet.Hostname(x.IP), true
	case "local-ipv4s":
		return strings.Join(x.v4, "\n"), true
	case "mac":
		return x.mac, true
	case "security-group-ids", "security-groups":
		return strings.Join(x.SecurityGroups, "\n"), true
	case "subnet-id":
		return x.Subnet, true
	case "subnet-ipv4-cidr-block":
		if x.subnet == nil {
			return "", false
		}
		return x.subnet.CIDR.String(), true
	case "vpc-id":
		return d.l.VPC.ID, true
	case "vpc-ipv4-cidr-block":
		return d.l.VPC.CIDR.String(), true
	case "ipv6s":
		if len(x.IPv6) == 0 {
			return "", false
		}
		var b strings.Builder
		for i, a := range x.IPv6 {
			if i > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(a.String())
		}
		return b.String(), true
	}
	return "", false
}
