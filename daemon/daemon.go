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

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/control"
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
	// KeepFlowLogs are flow logs given outside the lab file; see
	// control.Options.KeepFlowLogs.
	KeepFlowLogs []*lab.FlowLog

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
	// MetricsAddr is where Prometheus metrics are served; empty or Off
	// for none.
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
		if d.Metrics, err = metrics.Serve(cfg.MetricsAddr, reg); err != nil {
			// Metrics are not worth refusing the lab for.
			if cfg.Warn != nil {
				fmt.Fprintf(cfg.Warn, "vpclab: no metrics: %v (give --metrics-addr ADDR, or off)\n", err)
			}
			d.Metrics = nil
		} else {
			d.closers.push("metrics server", d.Metrics.Close)
		}
	}

	x, err := live.Start(cfg.Lab, live.Options{Net: cfg.Net, OnApply: collector.ObserveApply})
	if err != nil {
		return nil, err
	}
	d.lab = x
	running.Store(x)
	d.closers.push("lab", x.Close)

	// Servers close before the lab comes down (they are pushed after it):
	// no change is applied to a lab that is closing.
	copts := control.Options{Principals: d.Principals, Audit: d.Audit, DataDir: d.Paths.Data, KeepFlowLogs: cfg.KeepFlowLogs}
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
