// Package control is the control API of a running lab: JSON over HTTP on
// a unix socket that "vpclab up" serves while the lab is up.
//
// # The socket
//
// The socket sits next to the lab's lock (labnet.Plan.LockPath) under
// labnet.RunDir, named like the lock with ".sock" for ".lock":
// /run/vpclab/vpclab-<lab id>.sock for a lab run with the default prefix
// (SocketPath). Its mode is 0600: only root (the owner) may connect. The
// server binds a temporary name, sets the mode, then renames it into
// place, so the socket never appears with a wider mode; it replaces a
// stale socket a crashed run left behind and removes its socket when it
// stops. A regular file or directory at the path is refused, not removed.
//
// # Endpoints
//
// GET /v1/status returns a Status: the lab id and file, when it started
// and its uptime, and for each ENI (in file order) its instance,
// namespace, device and addresses, what it sent into the dataplane
// (packets and bytes allowed; packets and bytes denied, in total and by
// the name of the stage that dropped them, e.g. "sg-egress"; packets
// handed to the VPC's built-in services), its conntrack table (the number
// of live entries and, with ?entries=1, the entries: key, state, seconds
// until expiry), and its instance's conntrack allowance (used, available,
// exceeded; shared by the instance's ENIs).
//
//	curl --unix-socket /run/vpclab/vpclab-<id>.sock http://vpclab/v1/status
//	curl --unix-socket /run/vpclab/vpclab-<id>.sock 'http://vpclab/v1/status?entries=1'
//
// The host part of the URL is ignored. entries accepts the values of
// strconv.ParseBool (1, true, 0, false, …).
//
// # Errors
//
// Every error is JSON, {"error": "MESSAGE"}, with a 4xx status: 404 for an
// unknown path, 405 (with an Allow header) for a method other than GET or
// HEAD, 400 for a malformed query. The JSON field names of Status and
// Error are stable: fields may be added, none renamed or removed.
//
// # Client
//
// GetStatus is the client "vpclab status" uses; it reports ErrNotUp
// (wrapped) when nothing serves the socket.
package control
