package integration

// The VPC's built-in services, reached from instances whose security groups
// and network ACLs let nothing through: only the exemption of spec §6
// (traffic between an ENI and the VPC's own services) carries these
// packets.
//
//	vpclabit-ID:web          vpclabit-ID:db
//	eth0 10.0.1.10/24        eth0 10.0.2.20/24      sg-none (no rules), acl-none (no entries)
//	 │ TUN                    │ TUN
//	 ▼                        ▼
//	┌──────────── live: readers, engine.Process ────────────┐
//	│ PortService ⇄ services: DNS 10.0.0.2, 169.254.169.253  │
//	│   IMDS 169.254.169.254:80, Time Sync 169.254.169.123   │
//	│   routers 10.0.1.1, 10.0.2.1 (ping)                    │
//	└────────────────────────────────────────────────────────┘

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/tun"
	"github.com/vpclab/vpclab/verdict"
)

const servicesLab = `
vpc: {id: vpc-svc, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-web, cidr: 10.0.1.0/24, network_acl: acl-none}
  - {id: subnet-db, cidr: 10.0.2.0/24, network_acl: acl-none}
network_acls:
  - id: acl-none
security_groups:
  - id: sg-none
    egress: []
instances:
  - {name: web, subnet: subnet-web, ip: 10.0.1.10, security_groups: [sg-none]}
  - {name: db, subnet: subnet-db, ip: 10.0.2.20, security_groups: [sg-none]}
`

const (
	svcWebIP = "10.0.1.10"
	svcDBIP  = "10.0.2.20"
)

// wantServiceTraffic fails the test unless eni-web handed packets to the
// services and the services sent some back, allowed.
func wantServiceTraffic(t *testing.T, x *live.Lab) {
	t.Helper()
	if s := x.Device("eni-web").Counters.Load(); s.ServicePackets == 0 || s.ServiceDropped != 0 {
		t.Errorf("eni-web: %d packets to the services, %d dropped", s.ServicePackets, s.ServiceDropped)
	}
	if s := x.ServiceCounters().Load(); s.AllowedPackets == 0 {
		t.Errorf("the services sent no allowed packet: %+v", s)
	}
}

// udpExchange sends req from instance to server and returns the first
// datagram that comes back from it within 5 s.
func udpExchange(t *testing.T, x *live.Lab, instance, server string, req []byte) ([]byte, error) {
	t.Helper()
	var pc net.PacketConn
	if err := in(t, x, instance, func() (err error) {
		pc, err = net.ListenPacket("udp4", ":0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	to, err := net.ResolveUDPAddr("udp4", server)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.WriteTo(req, to); err != nil {
		return nil, err
	}
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return nil, err
		}
		if from.String() == to.String() {
			return buf[:n], nil
		}
	}
}

// dnsQuery asks server, from instance, for the A record of name and
// returns the response's code and addresses.
func dnsQuery(t *testing.T, x *live.Lab, instance, server, name string, id uint16) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	b.EnableCompression()
	if err := b.StartQuestions(); err != nil {
		t.Fatal(err)
	}
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	req, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := udpExchange(t, x, instance, server, req)
	if err != nil {
		t.Fatalf("asking %s for %s: %v", server, name, err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(resp); err != nil {
		t.Fatalf("the answer from %s for %s: %v", server, name, err)
	}
	if m.Header.ID != id || !m.Header.Response {
		t.Fatalf("the answer from %s for %s: header %+v", server, name, m.Header)
	}
	var addrs []netip.Addr
	for _, a := range m.Answers {
		if r, ok := a.Body.(*dnsmessage.AResource); ok {
			addrs = append(addrs, netip.AddrFrom4(r.A))
		}
	}
	return m.Header.RCode, addrs
}

// TestServiceDNS: web asks both Amazon DNS addresses for db's name and
// gets its address; an unknown name gets NXDOMAIN.
func TestServiceDNS(t *testing.T) {
	x := startLabFile(t, "svc-dns", servicesLab)
	for i, server := range []string{"10.0.0.2:53", "169.254.169.253:53"} {
		for j, name := range []string{"db.", "db.vpc.internal.", "ip-10-0-2-20.ec2.internal."} {
			rc, addrs := dnsQuery(t, x, "web", server, name, uint16(100*i+j+1))
			if rc != dnsmessage.RCodeSuccess || len(addrs) != 1 || addrs[0].String() != svcDBIP {
				t.Errorf("%s for %s: %v %v, want %s", server, name, rc, addrs, svcDBIP)
			}
		}
		if rc, addrs := dnsQuery(t, x, "web", server, "nosuchhost.vpc.internal.", uint16(100*i+99)); rc != dnsmessage.RCodeNameError || len(addrs) != 0 {
			t.Errorf("%s for an unknown name: %v %v, want NXDOMAIN", server, rc, addrs)
		}
	}
	wantServiceTraffic(t, x)
}

// imdsClient returns an HTTP client whose connections are opened inside
// instance's namespace.
func imdsClient(t *testing.T, x *live.Lab, instance string) *http.Client {
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var c net.Conn
			err := in(t, x, instance, func() (err error) {
				d := net.Dialer{Timeout: 5 * time.Second}
				c, err = d.DialContext(ctx, network, addr)
				return err
			})
			return c, err
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// imdsDo sends r with client and returns the status and body.
func imdsDo(t *testing.T, client *http.Client, r *http.Request) (int, string) {
	t.Helper()
	resp, err := client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Method, r.URL, err)
	}
	return resp.StatusCode, string(body)
}

// TestServiceIMDS: from web, IMDSv2 (a token, then a GET with it) and
// IMDSv1 (a GET without) both return web's own address.
func TestServiceIMDS(t *testing.T) {
	x := startLabFile(t, "svc-imds", servicesLab)
	client := imdsClient(t, x, "web")
	const base = "http://169.254.169.254/latest"

	put, _ := http.NewRequest(http.MethodPut, base+"/api/token", nil)
	put.Header.Set("X-aws-ec2-metadata-token-ttl-seconds", "60")
	status, token := imdsDo(t, client, put)
	if status != http.StatusOK || token == "" {
		t.Fatalf("PUT /latest/api/token: %d %q", status, token)
	}

	get, _ := http.NewRequest(http.MethodGet, base+"/meta-data/local-ipv4", nil)
	get.Header.Set("X-aws-ec2-metadata-token", token)
	if status, body := imdsDo(t, client, get); status != http.StatusOK || strings.TrimSpace(body) != svcWebIP {
		t.Errorf("IMDSv2 local-ipv4: %d %q, want %s", status, body, svcWebIP)
	}

	get, _ = http.NewRequest(http.MethodGet, base+"/meta-data/local-ipv4", nil)
	if status, body := imdsDo(t, client, get); status != http.StatusOK || strings.TrimSpace(body) != svcWebIP {
		t.Errorf("IMDSv1 local-ipv4: %d %q, want %s", status, body, svcWebIP)
	}
	wantServiceTraffic(t, x)
}

// TestServiceIMDSLargeRequest: a GET from web with 300 KiB of headers
// leaves web, with TSO, as GSO super-packets, which are cut before the
// services take them; the answer is still web's address.
func TestServiceIMDSLargeRequest(t *testing.T) {
	x := startLabFile(t, "svc-imds-large", servicesLab)
	c, err := dial(t, x, "web", "169.254.169.254:80", 0, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var req strings.Builder
	req.WriteString("GET /latest/meta-data/local-ipv4 HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n")
	for i := range 300 {
		fmt.Fprintf(&req, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 1000))
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(c, req.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != svcWebIP {
		t.Fatalf("local-ipv4: %d %q %v, want %s", resp.StatusCode, body, err, svcWebIP)
	}
	wantServiceTraffic(t, x)
	web := x.Device("eni-web")
	s := web.Counters.Load()
	t.Logf("eni-web: offloads %s; %+v", web.Offloads, s)
	if web.Offloads&tun.OffloadTSO4 != 0 && s.ServiceSuperPackets == 0 {
		t.Errorf("eni-web has TSO but handed the services no super-packet")
	}
}

// TestServiceTimeSync: an SNTP client request (mode 3) from web to
// 169.254.169.123 gets a server reply (mode 4) echoing its transmit time.
func TestServiceTimeSync(t *testing.T) {
	x := startLabFile(t, "svc-ntp", servicesLab)
	req := make([]byte, 48)
	req[0] = 4<<3 | 3 // version 4, client
	binary.BigEndian.PutUint64(req[40:], 0x0123456789abcdef)
	resp, err := udpExchange(t, x, "web", "169.254.169.123:123", req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp) < 48 || resp[0]&7 != 4 {
		t.Fatalf("reply % x, want 48 bytes in mode 4", resp)
	}
	if origin := binary.BigEndian.Uint64(resp[24:]); origin != 0x0123456789abcdef {
		t.Errorf("origin time %#x, want the request's transmit time", origin)
	}
	if resp[1] == 0 {
		t.Errorf("stratum 0 (kiss-o'-death)")
	}
	wantServiceTraffic(t, x)
}

// TestServiceRouterPing: web pings its subnet's router and the reply
// comes back, though sg-none lets no ICMP in or out: a ping to db, an
// instance, is dropped.
func TestServiceRouterPing(t *testing.T) {
	x := startLabFile(t, "svc-ping", servicesLab)
	if err := ping(t, x, "web", svcWebIP, "10.0.1.1", 3, 5*time.Second); err != nil {
		t.Fatalf("web → 10.0.1.1: %v", err)
	}
	wantServiceTraffic(t, x)
	if err := ping(t, x, "web", svcWebIP, svcDBIP, 4, deniedWait); !isTimeout(err) {
		t.Fatalf("web → db: got %v, want a timeout (denied by sg-none)", err)
	}
	wantDenied(t, x, "eni-web", verdict.StageSGEgress)
}
