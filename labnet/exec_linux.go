package labnet

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// Start starts cmd (not yet started) inside ns, a namespace of a lab that
// is up, in this process or another. The caller waits for it as usual.
//
// It enters the namespace on a goroutine locked to its OS thread and starts
// cmd from there: the child is cloned from that thread and so begins in
// its network namespace, then the thread switches back. Only the network
// namespace changes: unlike `ip netns exec`, /sys is not remounted (it
// still shows the caller's links; /proc/self/net and netlink show the
// instance's) and /etc/netns is not applied.
func Start(ns *Namespace, cmd *exec.Cmd) error {
	target, err := openNamed(ns.Name)
	if err != nil {
		return fmt.Errorf("%w (is the lab up?)", err)
	}
	defer target.Close()
	var startErr error
	err = onLockedThread(func() (bool, error) {
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return true, err
		}
		defer unix.Close(orig)
		if err := unix.Setns(int(target), unix.CLONE_NEWNET); err != nil {
			return true, err
		}
		startErr = cmd.Start()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			return false, nil // harmless: the thread is retired, cmd started
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("labnet: entering namespace %s: %w", ns.Name, err)
	}
	return startErr
}

// Exec replaces the calling process by argv[0] (looked up in PATH) run with
// argv and env inside ns, for `vpclab exec`: the command's exit status is
// then the process's, and signals reach it directly. It returns only on
// failure. Like Start it changes the network namespace only.
//
// The calling goroutine's thread enters the namespace and calls execve;
// if execve fails, it switches back, or stays locked to the goroutine if
// it cannot.
func Exec(ns *Namespace, argv, env []string) error {
	if len(argv) == 0 {
		return errors.New("labnet: Exec: no command")
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return fmt.Errorf("labnet: %w", err)
	}
	target, err := openNamed(ns.Name)
	if err != nil {
		return fmt.Errorf("%w (is the lab up?)", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("labnet: %w", err)
	}
	defer unix.Close(orig)
	if err := unix.Setns(int(target), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("labnet: entering namespace %s: %w", ns.Name, err)
	}
	err = syscall.Exec(path, argv, env)
	if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
		runtime.UnlockOSThread()
	}
	return fmt.Errorf("labnet: exec %s in namespace %s: %w", path, ns.Name, err)
}
