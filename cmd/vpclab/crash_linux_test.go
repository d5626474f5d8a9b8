package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/labnet"
)

// The test binary doubles as vpclab (with envMain set) and as a traffic
// source run inside a lab namespace (with the arguments udp-flood ADDR
// HOSTNS),
// so that the crash test runs the real command line in processes it can
// kill.
const envMain = "VPCLAB_TEST_MAIN"

func TestMain(m *testing.M) {
	switch {
	case len(os.Args) == 4 && os.Args[1] == "udp-flood":
		udpFlood(os.Args[2], os.Args[3])
	case os.Getenv(envMain) != "":
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// udpFlood sends UDP to addr until killed, from inside a lab namespace
// only: it refuses to run in the test's (host, the test's network
// namespace as /proc shows it), so that no test traffic leaves the lab.
func udpFlood(addr, host string) {
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil || self == host {
		fmt.Fprintln(os.Stderr, "udp-flood: not inside a lab namespace: refusing to send")
		os.Exit(1)
	}
	c, err := net.Dial("udp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	payload := make([]byte, 512)
	for {
		c.Write(payload) // refused sends (ICMP errors) are fine: the packets went through vpclab
	}
}

// crashLab is the crash test's lab: two instances, UDP allowed between
// them, a lab id no real lab is likely to have.
const crashLab = `
vpc: {id: vpc-vpclabtest-crash, cidr: 10.0.0.0/16}
subnets:
  - {id: subnet-a, cidr: 10.0.1.0/24}
security_groups:
  - id: sg-a
    ingress: [{protocol: udp, ports: 1-65535, cidr: 10.0.0.0/16}]
instances:
  - {name: a, subnet: subnet-a, ip: 10.0.1.10, security_groups: [sg-a]}
  - {name: b, subnet: subnet-a, ip: 10.0.1.11, security_groups: [sg-a]}
`

const crashStem = "vpclab-vpc-vpclabtest-crash"

// vpclabProc returns the command running vpclab with args.
func vpclabProc(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envMain+"=1")
	return cmd
}

// leftovers lists what of the crash lab exists on the host: namespaces,
// their mounts, files in vpclab's run directory (socket, lock), BPF
// objects.
func leftovers(t *testing.T) []string {
	t.Helper()
	var found []string
	for _, dir := range []string{labnet.NetnsDir, labnet.RunDir, "/sys/fs/bpf"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), crashStem) {
				found = append(found, filepath.Join(dir, e.Name()))
			}
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, crashStem) {
			found = append(found, "mount: "+line)
		}
	}
	return found
}

// startUp starts vpclab up on the lab file and waits until vpclab status
// answers; it returns the running command.
func startUp(t *testing.T, labFile, dir string) *exec.Cmd {
	t.Helper()
	cmd := vpclabProc("up", labFile, "--metrics-addr", "off", "--audit-log", "off", "--data-dir", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) // when the test fails first
	deadline := time.Now().Add(30 * time.Second)
	for vpclabProc("status", labFile).Run() != nil {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("vpclab up did not come up in 30 s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd
}

// TestCrashRecovery kills vpclab up with SIGKILL at three points (while
// it comes up, under traffic, during an apply) and checks that the next
// up of the same lab succeeds, that Ctrl-C (SIGINT) then stops it cleanly,
// that down twice is harmless, and that nothing of the lab is left.
func TestCrashRecovery(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (namespaces, TUN devices): CI runs the tests as root")
	}
	hostNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	labFile := filepath.Join(dir, "crash.yaml")
	if err := os.WriteFile(labFile, []byte(crashLab), 0o644); err != nil {
		t.Fatal(err)
	}
	// A bigger policy for the apply, so that it is in flight a while.
	bigLab := strings.Replace(crashLab, "    ingress: [{protocol: udp, ports: 1-65535, cidr: 10.0.0.0/16}]\n", "", 1)
	bigFile := filepath.Join(dir, "big.yaml")
	var rules strings.Builder
	for i := range 15000 {
		fmt.Fprintf(&rules, "      - {protocol: udp, ports: %d, cidr: 10.%d.%d.0/24}\n", 1+i%60000, i/250, i%250)
	}
	bigSrc := strings.Replace(bigLab, "  - id: sg-a\n", "  - id: sg-a\n    ingress:\n"+rules.String(), 1) +
		"quotas: {sg_rules: 20000, rules_times_sgs: 40000}\n"
	if err := os.WriteFile(bigFile, []byte(bigSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	clean := func() {
		vpclabProc("down", labFile).Run()
	}
	clean()
	t.Cleanup(clean)
	if got := leftovers(t); len(got) > 0 {
		t.Fatalf("leftovers of an earlier run survived vpclab down: %v", got)
	}

	for _, point := range []string{"while coming up", "under traffic", "during an apply"} {
		t.Run(point, func(t *testing.T) {
			var cmd, applyCmd *exec.Cmd
			var applyOut bytes.Buffer
			switch point {
			case "while coming up":
				cmd = vpclabProc("up", labFile, "--metrics-addr", "off", "--audit-log", "off", "--data-dir", dir)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
				time.Sleep(150 * time.Millisecond)
			case "under traffic":
				cmd = startUp(t, labFile, dir)
				flood := vpclabProc("exec", "a", "--lab", labFile, "--", os.Args[0], "udp-flood", "10.0.1.11:9", hostNS)
				var floodOut bytes.Buffer
				flood.Stdout, flood.Stderr = &floodOut, &floodOut
				if err := flood.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { flood.Process.Kill(); flood.Wait() })
				time.Sleep(500 * time.Millisecond)
				out, err := vpclabProc("status", labFile, "-o", "json").Output()
				var st control.Status
				if err != nil || json.Unmarshal(out, &st) != nil || len(st.ENIs) == 0 || st.ENIs[0].Allowed.Packets == 0 {
					t.Fatalf("no traffic through the lab before the kill: status %v\n%s\nthe UDP flood said: %s", err, out, floodOut.String())
				}
			case "during an apply":
				cmd = startUp(t, labFile, dir)
				applyCmd = vpclabProc("apply", bigFile)
				applyCmd.Stdout, applyCmd.Stderr = &applyOut, &applyOut
				if err := applyCmd.Start(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { applyCmd.Process.Kill(); applyCmd.Wait() })
				waitSocket(t, applyCmd.Process.Pid) // the request is on its way
				time.Sleep(50 * time.Millisecond)   // and in the daemon's hands (read, decoded, compiled)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if applyCmd != nil {
				// The apply was in flight: it connected and got no answer.
				err := applyCmd.Wait()
				if out := applyOut.String(); err == nil || strings.Contains(out, "is not up") {
					t.Fatalf("the apply was not in flight when vpclab up was killed: %v: %s", err, out)
				} else {
					t.Logf("the apply, cut off: %v: %s", err, strings.TrimSpace(out))
				}
			}

			again := startUp(t, labFile, dir)
			if err := again.Process.Signal(syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- again.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("vpclab up after SIGINT: %v", err)
				}
			case <-time.After(30 * time.Second):
				again.Process.Kill()
				t.Fatal("vpclab up did not stop within 30 s of SIGINT")
			}
			for i := range 2 {
				if out, err := vpclabProc("down", labFile).CombinedOutput(); err != nil {
					t.Errorf("vpclab down #%d: %v\n%s", i+1, err, out)
				}
			}
			left := leftovers(t)
			if len(left) > 0 {
				t.Errorf("left behind after up, SIGINT and down: %v", left)
			}
		})
	}
}

// waitSocket waits up to 30 s for process pid to hold a socket: the
// control socket of the lab it has connected to.
func waitSocket(t *testing.T, pid int) {
	t.Helper()
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ents, err := os.ReadDir(fds)
		if err != nil {
			t.Fatalf("the apply ended before it connected: %v", err)
		}
		for _, e := range ents {
			if l, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && strings.HasPrefix(l, "socket:") {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the apply did not connect within 30 s")
}
