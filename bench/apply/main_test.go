//go:build linux

package main

import (
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loopback returns the two ends of a TCP connection on 127.0.0.1.
func loopback(t *testing.T) (cli, srv *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// TestStreamIntact: what the sender sends, the receiver checks and counts
// in full; stalls are counted in the phase in force.
func TestStreamIntact(t *testing.T) {
	cli, srv := loopback(t)
	s := newStream(cli, srv)
	s.phase.Store(1)
	go s.send()
	go s.receive()
	time.Sleep(50 * time.Millisecond)
	if _, err := s.retrans(); err != nil {
		t.Errorf("TCP_INFO: %v", err)
	}
	n, err := s.stop()
	if err != nil {
		t.Fatal(err)
	}
	if n < blockSize || s.rx.Load() != n {
		t.Errorf("sent %d, received %d; want the same, over one period", n, s.rx.Load())
	}
	if s.maxGap[1] == 0 || s.maxGap[0] != 0 || s.maxGap[2] != 0 {
		t.Errorf("stalls by phase %v, want phase 1's alone", s.maxGap)
	}
}

// TestStreamDamaged: a byte changed, or a whole period left out, is found
// at its offset.
func TestStreamDamaged(t *testing.T) {
	period := func(k uint64) []byte {
		b := pattern()
		binary.LittleEndian.PutUint64(b, k)
		return b
	}
	for _, tc := range []struct {
		name string
		send [][]byte
		at   string
	}{
		{"corrupted", func() [][]byte {
			b := period(1)
			b[1000] ^= 0x40
			return [][]byte{period(0), b}
		}(), "byte 1049576 "},
		{"period lost", [][]byte{period(0), period(2)}, "byte 1048576 "},
		{"period repeated", [][]byte{period(0), period(0)}, "byte 1048576 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, srv := loopback(t)
			s := newStream(cli, srv)
			go s.receive()
			for _, b := range tc.send {
				if _, err := cli.Write(b); err != nil {
					t.Fatal(err)
				}
			}
			cli.CloseWrite()
			select {
			case <-s.recvDone:
			case <-time.After(10 * time.Second):
				t.Fatal("the receiver did not stop")
			}
			if s.recvErr == nil || !strings.Contains(s.recvErr.Error(), tc.at) {
				t.Errorf("receiver: %v, want an error at %s", s.recvErr, tc.at)
			}
		})
	}
}

func TestProcCounters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snmp")
	data := "Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm MaxConn RetransSegs\nTcp: 1 -1 17\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := procCounters(path, "Tcp:")
	if err != nil {
		t.Fatal(err)
	}
	if m["RetransSegs"] != 17 || m["RtoAlgorithm"] != 1 || len(m) != 3 {
		t.Errorf("got %v", m)
	}
	if _, err := procCounters(path, "Udp:"); err == nil {
		t.Error("a missing table: no error")
	}
}

func TestVary(t *testing.T) {
	rules := make([]string, 100)
	for i := range rules {
		rules[i] = "{protocol: tcp, ports: " + string(rune('0'+i%10)) + ", cidr: 192.0.2.0/24}"
	}
	at, v, err := vary(rules, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(at) != 4 || len(v) != len(rules) {
		t.Fatalf("at %v, %d rules", at, len(v))
	}
	diff := 0
	for i := range rules {
		if rules[i] != v[i] {
			diff++
		}
	}
	if diff != 4 || v[at[0]] != "{protocol: tcp, ports: 6000, cidr: 198.18.0.0/32}" {
		t.Errorf("%d rules differ, first changed %q", diff, v[at[0]])
	}
	if _, _, err := vary(append(rules, "{protocol: tcp, ports: 6000, cidr: 198.18.0.0/32}"), 4); err == nil {
		t.Error("a variant rule already among the rules: no error")
	}
}

func TestMedian(t *testing.T) {
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("odd: %v", got)
	}
	if got := median([]time.Duration{4, 1, 3, 2}); got != 2 {
		t.Errorf("even: %v", got)
	}
}
