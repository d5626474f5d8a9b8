package labnet

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Check reports, in one error, everything that keeps a live lab from
// running here: missing privileges (CAP_NET_ADMIN and CAP_SYS_ADMIN, which
// root has) and a missing or unusable /dev/net/tun. It returns nil when
// both are fine.
func Check() error {
	return errors.Join(checkPrivileges(), checkTUN())
}

// checkPrivileges reports the capabilities labnet needs and the process
// lacks: CAP_SYS_ADMIN to make and enter namespaces and mount them,
// CAP_NET_ADMIN to configure links.
func checkPrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("labnet: reading capabilities: %w", err)
	}
	var missing []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{unix.CAP_NET_ADMIN, "CAP_NET_ADMIN"}, {unix.CAP_SYS_ADMIN, "CAP_SYS_ADMIN"}} {
		if data[c.bit/32].Effective&(1<<(c.bit%32)) == 0 {
			missing = append(missing, c.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("labnet: a live lab needs root (running as uid %d, without %s): run it with sudo, or in a container with --privileged",
		os.Geteuid(), strings.Join(missing, " and "))
}

// checkTUN reports a missing or unusable TUN device.
func checkTUN() error {
	const path = "/dev/net/tun"
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		if err == unix.ENOENT {
			return fmt.Errorf("labnet: %s is missing: load the tun module (modprobe tun), or in a container pass --device /dev/net/tun", path)
		}
		return fmt.Errorf("labnet: %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(st.Rdev) != 10 || unix.Minor(st.Rdev) != 200 {
		return fmt.Errorf("labnet: %s is not the TUN device (character device 10:200)", path)
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("labnet: %s cannot be opened (%w): load the tun module (modprobe tun), or run as root", path, err)
	}
	unix.Close(fd)
	return nil
}
