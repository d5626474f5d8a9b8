// Package control is the control API of a running lab: JSON over HTTP on
// a unix socket that "vpclab up" serves while the lab is up. It must not
// import live: it reaches the running lab through the Lab interface.
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
// GET /v1/lab returns the lab in force as a lab file (labfile.Marshal); PUT
// /v1/lab (body: a lab file) replaces the whole policy with Lab.Apply. Its
// body may be as large as a lab within the running lab's quotas needs
// (labfile.MaxSize: about 128 bytes a rule or entry the quotas allow), at
// most 64 MiB; a larger one is refused (413) and audited, before the API
// reads more of it than the limit (unread when its Content-Length says
// so). A body is read into a buffer of its Content-Length, and parsed in
// at most some 10 times its size (TestLabBodyPeakHeap). A lab that raises its quotas past what
// the running ones allow is applied in two steps, the quotas first. POST /v1/ec2/ACTION (body: EC2's JSON request, at
// most 1 MiB) makes one of EC2's changes (package change) or starts and
// stops instances (StartInstances, StopInstances), and answers EC2's
// response. GET /v1/capture?eni=ID[,ID…][&snaplen=N] streams pcapng with
// each packet's verdict (package capture) until the client goes away.
// Changes are serialised; each is validated whole and applied at once or
// not at all.
//
// # Who may do what
//
// With Options.Principals (package authz) every request carries
// Authorization: Bearer TOKEN: 401 without a known token, 403 when the
// principal's policies do not allow the action on every resource it
// names (ARNs such as arn:aws:ec2:REGION:ACCOUNT:security-group/ID).
// Without principals, the socket's peer (root, by the socket's mode) may
// do everything, as principal "local"; ListenTCP refuses to serve TCP
// without principals. Every change attempt and capture goes to
// Options.Audit first ("allowed", then "applied" or "failed"; or
// "denied", "unauthenticated", "invalid"); if the first line cannot be
// written, nothing changes (503). Files a change names that the running
// lab does not use already go under Options.DataDir, and must be
// relative paths without ".." unless the principal is local.
//
// # Errors
//
// Every error is JSON, {"error": "MESSAGE"}, or for EC2 calls
// {"Error": {"Code": "…", "Message": "…"}} with EC2's codes, with a 4xx or
// 5xx status: 400 for a malformed or refused request, 401, 403, 404 for
// an unknown path, 405 (with an Allow header) for a wrong method, 409 when
// a whole lab would change the running lab's wiring, 413 for an oversized
// body, 503 when the audit log cannot be written. The JSON field names are
// stable: fields may be added, none renamed or removed.
//
// # Client
//
// Client is what the vpclab commands use (status, apply, ec2, capture); it
// sends VPCLAB_TOKEN from the environment and reports ErrNotUp (wrapped)
// when nothing serves the socket.
package control
