// Package daemon is what "vpclab up" composes around a live lab: the
// state, audit and socket paths, the principals, the audit log, the
// metrics and control servers, and their ordered shutdown. It must not
// import cobra or write the command's output: cmd/vpclab does both.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/control"
	"github.com/vpclab/vpclab/ec2api"
	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
	"github.com/vpclab/vpclab/metrics"
)

// Default roots of the per-lab state and audit files.
const (
	DataRoot  = "/var/lib/vpclab"
	AuditRoot = "/var/log/vpclab"
)

// Off, as Config.AuditLog or Config.MetricsAddr, turns the audit log or
// the metrics server off.
const Off = "off"

// Config is what a daemon is made of.
type Config struct {
	// Lab is the lab to run.
	Lab *lab.Lab
	// Net names the lab's namespaces; the zero value is the default
	// plan. Tests give each lab its own ID and Prefix.
	Net labnet.Options
	// Datapath is live.DatapathTUN (the default) or live.DatapathEBPF.
	Datapath string
	// KeepFlowLogs are flow logs given outside the lab file; see
	// control.Options.KeepFlowLogs.
	KeepFlowLogs []*lab.FlowLog
	// Workers is live.Options.Workers: how many loops forward the
	// devices' frames (0: GOMAXPROCS).
	Workers int

	// PrincipalsFile, if set, is loaded; Getenv, if set, adds the
	// environment's principal (VPCLAB_TOKEN, VPCLAB_ROLE).
	PrincipalsFile string
	Getenv         func(string) string
	// AuditLog is the audit log's path: empty for AuditRoot/<lab id>.audit.log,
	// Off for none.
	AuditLog string
	// DataDir is where files named by changes over the API go: empty for
	// DataRoot/<lab id>.
	DataDir string
	// Socket is the control socket's path: empty for control.SocketPath.
	Socket string
	// ControlAddr, if set, also serves the control API on TCP; it needs
	// principals.
	ControlAddr string
	// EC2Addr is where EC2's Query API is served (package ec2api): empty
	// for ec2api.DefaultAddr, Off for none.
	EC2Addr string
	// MetricsAddr is where Prometheus metrics are served; empty or Off
	// for none. An address that cannot be bound fails New, but for
	// metrics.DefaultAddr, which is replaced by a free port when taken
	// (another lab's), with a warning.
	MetricsAddr string
	// Metrics are the collector's options.
	Metrics metrics.Options
	// Warn, if set, receives the errors the daemon runs on without:
	// a metrics address that cannot be served.
	Warn io.Writer
}

// Paths are where a lab's files go.
type Paths struct {
	Data   string // the data directory
	Audit  string // the audit log; empty for none
	Socket string // the control socket
	// EC2Keys is the administrator key pair of EC2's Query API that up
	// makes for a lab without principals: an AWS credentials file.
	EC2Keys string
}

// ResolvePaths returns the paths of the lab planned as p under c.
func (c *Config) ResolvePaths(p *labnet.Plan) Paths {
	ps := Paths{Data: c.DataDir, Audit: c.AuditLog, Socket: c.Socket}
	if ps.Socket == "" {
		ps.Socket = control.SocketPath(p)
	}
	if ps.Data == "" {
		ps.Data = filepath.Join(DataRoot, p.ID)
	}
	ps.EC2Keys = filepath.Join(ps.Data, EC2KeysFile)
	switch ps.Audit {
	case Off:
		ps.Audit = ""
	case "":
		ps.Audit = filepath.Join(AuditRoot, p.ID+".audit.log")
	}
	return ps
}

// Daemon is a running lab with its servers.
type Daemon struct {
	Paths Paths
	// Principals are the loaded principals; nil when there are none.
	Principals *authz.Principals
	// Audit is the audit log; nil when off.
	Audit *authz.AuditLog
	// Metrics is the metrics server; nil when off or not served.
	Metrics *metrics.Server
	// Servers are the control servers: the unix socket's, then TCP's.
	Servers []*control.Server
	// EC2 is EC2's Query API; nil when off.
	EC2 *ec2api.Server
	// EC2Principals are who may call it: the principals', or the
	// administrator key pair of Paths.EC2Keys.
	EC2Principals *authz.Principals
	// EC2KeysWritten says whether up made the key pair of Paths.EC2Keys.
	EC2KeysWritten bool
	// EC2Endpoint says where EC2's Query API is and with which key, as
	// vpclab status shows it; nil when off.
	EC2Endpoint *control.EC2Endpoint

	lab     *live.Lab
	closers closers
}

// New checks the host (labnet.Check), brings cfg's lab up and starts
// serving it. On error, whatever it
// had started is closed again.
func New(cfg Config) (_ *Daemon, err error) {
	if err := labnet.Check(); err != nil {
		return nil, err
	}
	plan, err := labnet.NewPlan(cfg.Lab, cfg.Net)
	if err != nil {
		return nil, err
	}
	// A lab already up is refused before anything is started or bound.
	if err := labnet.CheckFree(plan); err != nil {
		return nil, err
	}
	d := &Daemon{Paths: cfg.ResolvePaths(plan)}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.closers.close())
		}
	}()
	if d.Principals, err = Principals(cfg.PrincipalsFile, cfg.Getenv); err != nil {
		return nil, err
	}
	if cfg.ControlAddr != "" && d.Principals == nil {
		return nil, errors.New("--control-addr needs principals: give --principals FILE, or set VPCLAB_TOKEN and VPCLAB_ROLE")
	}
	if err := os.MkdirAll(d.Paths.Data, 0o700); err != nil {
		return nil, err
	}
	if d.Paths.Audit != "" {
		if cfg.AuditLog == "" {
			if err := os.MkdirAll(filepath.Dir(d.Paths.Audit), 0o700); err != nil {
				return nil, err
			}
		}
		if d.Audit, err = authz.Open(d.Paths.Audit); err != nil {
			return nil, err
		}
		d.closers.push("audit log", d.Audit.Close)
	}

	var running atomic.Pointer[live.Lab]
	collector := metrics.New(metrics.SourceFunc(func(r *metrics.Reading) {
		if x := running.Load(); x != nil {
			x.ReadMetrics(r)
		}
	}), cfg.Metrics)
	if cfg.MetricsAddr != "" && cfg.MetricsAddr != Off {
		reg, err := metrics.NewRegistry(collector)
		if err != nil {
			return nil, err
		}
		if d.Metrics, err = serveMetrics(cfg, reg); err != nil {
			return nil, err
		}
		d.closers.push("metrics server", d.Metrics.Close)
	}

	x, err := live.Start(cfg.Lab, live.Options{Net: cfg.Net, Workers: cfg.Workers, OnApply: collector.ObserveApply, Datapath: cfg.Datapath})
	if err != nil {
		return nil, err
	}
	if _, note := x.Datapath(); note != "" && cfg.Warn != nil {
		fmt.Fprintf(cfg.Warn, "vpclab: %s\n", note) // said once, at up
	}
	d.lab = x
	running.Store(x)
	d.closers.push("lab", x.Close)

	// Servers close before the lab comes down (they are pushed after it):
	// no change is applied to a lab that is closing.
	copts := control.Options{Principals: d.Principals, Audit: d.Audit, DataDir: d.Paths.Data, KeepFlowLogs: cfg.KeepFlowLogs}
	if d.Metrics != nil {
		copts.Metrics = d.Metrics.URL()
	}
	if cfg.EC2Addr != Off {
		if err := d.serveEC2(cfg, ControlLab(x), copts); err != nil {
			return nil, err
		}
		copts.EC2 = &control.EC2Endpoint{URL: d.EC2.URL(), Region: cfg.Lab.VPC.Region, AccessKeys: d.EC2Principals.AccessKeys()}
		if d.EC2KeysWritten {
			copts.EC2.CredentialsFile, copts.EC2.Profile = d.Paths.EC2Keys, EC2Profile
		}
		d.EC2Endpoint = copts.EC2
	}
	s, err := control.Listen(ControlLab(x), d.Paths.Socket, copts)
	if err != nil {
		return nil, err
	}
	d.Servers = append(d.Servers, s)
	d.closers.push("control socket", s.Close)
	if cfg.ControlAddr != "" {
		t, err := control.ListenTCP(ControlLab(x), cfg.ControlAddr, copts)
		if err != nil {
			return nil, err
		}
		d.Servers = append(d.Servers, t)
		d.closers.push("control API", t.Close)
	}
	return d, nil
}

// serveMetrics serves the metrics at cfg.MetricsAddr. An address given
// that cannot be bound fails up; the default one (metrics.DefaultAddr),
// when taken (another lab's), is replaced by a free port of the
// loopback address, with a warning naming it (status names it too).
func serveMetrics(cfg Config, reg *prometheus.Registry) (*metrics.Server, error) {
	s, err := metrics.Serve(cfg.MetricsAddr, reg)
	if err == nil {
		return s, nil
	}
	if cfg.MetricsAddr != metrics.DefaultAddr {
		return nil, fmt.Errorf("%w (give another --metrics-addr, or off)", err)
	}
	s, ferr := metrics.Serve("127.0.0.1:0", reg)
	if ferr != nil {
		return nil, errors.Join(err, ferr)
	}
	if cfg.Warn != nil {
		fmt.Fprintf(cfg.Warn, "vpclab: %s is taken (another lab?): metrics at %s instead (vpclab status says so)\n", metrics.DefaultAddr, s.URL())
	}
	return s, nil
}

// EC2KeysFile is the name, in the data directory, of the administrator
// key pair of a lab without principals.
const EC2KeysFile = "ec2-credentials"

// EC2Profile is the profile of the key pair in that file.
const EC2Profile = "vpclab"

// EC2Admin is the principal of that key pair: it may do what
// network-admin and instance-operator may.
const EC2Admin = "admin"

// serveEC2 serves EC2's Query API. Without principals it makes one
// administrator key pair and writes it, as an AWS credentials file only
// root may read, to Paths.EC2Keys: the port is open to every local user,
// and every request must be signed.
func (d *Daemon) serveEC2(cfg Config, x control.Lab, copts control.Options) error {
	addr := cfg.EC2Addr
	if addr == "" {
		addr = ec2api.DefaultAddr
	}
	ps := d.Principals
	if ps == nil {
		ps = authz.New()
		id, secret := authz.NewAccessKey()
		if _, err := ps.AddAccessKey(EC2Admin, id, secret, authz.RoleNetworkAdmin, authz.RoleInstanceOperator); err != nil {
			return err
		}
		data := fmt.Sprintf("# vpclab up: the administrator key pair of EC2's Query API of lab %s at http://%s\n[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
			cfg.Lab.VPC.ID, addr, EC2Profile, id, secret)
		if err := writePrivate(d.Paths.EC2Keys, []byte(data)); err != nil {
			return err
		}
		d.EC2KeysWritten = true
		d.closers.push("EC2 key file", func() error {
			if err := os.Remove(d.Paths.EC2Keys); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil
		})
	}
	s, err := ec2api.ListenTCP(EC2Lab(x, copts), addr, ec2api.Options{Principals: ps, Audit: d.Audit})
	if err != nil {
		return fmt.Errorf("%w (give --ec2-addr ADDR, or off)", err)
	}
	d.EC2, d.EC2Principals = s, ps
	d.closers.push("EC2 API", s.Close)
	return nil
}

// writePrivate writes data to path, readable by its owner alone, never
// with a wider mode: a temporary file of mode 0600 renamed into place.
func writePrivate(path string, data []byte) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// Lab is the running lab.
func (d *Daemon) Lab() *live.Lab { return d.lab }

// Wait blocks until ctx is done or the lab fails.
func (d *Daemon) Wait(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-d.lab.Failed():
	}
}

// Close shuts down in the reverse order of New: the control servers,
// the lab, the metrics server, the audit log. It returns every error.
func (d *Daemon) Close() error { return d.closers.close() }

// Run is New, Wait and Close.
func Run(ctx context.Context, cfg Config) error {
	d, err := New(cfg)
	if err != nil {
		return err
	}
	d.Wait(ctx)
	return d.Close()
}

// Principals loads file, if given, and adds the environment's principal
// if getenv is set; nil when there are none.
func Principals(file string, getenv func(string) string) (*authz.Principals, error) {
	ps := authz.New()
	if file != "" {
		var err error
		if ps, err = authz.Load(file); err != nil {
			return nil, err
		}
	}
	if getenv != nil {
		if _, err := ps.AddEnv(getenv); err != nil {
			return nil, err
		}
	}
	if ps.Len() == 0 {
		return nil, nil
	}
	return ps, nil
}

// closers close what was opened, last first, once.
type closers struct {
	names []string
	fns   []func() error
}

func (c *closers) push(name string, fn func() error) {
	c.names = append(c.names, name)
	c.fns = append(c.fns, fn)
}

func (c *closers) close() error {
	var err error
	for i := len(c.fns) - 1; i >= 0; i-- {
		err = errors.Join(err, c.fns[i]())
	}
	c.names, c.fns = nil, nil
	return err
}
