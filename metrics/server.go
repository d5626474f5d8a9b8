package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultAddr is where Serve listens when given no address: loopback
// only, on a port of the Prometheus exporters' range (which is allocated
// to the last port; change it if another exporter here has it).
const DefaultAddr = "127.0.0.1:9724"

// Path is the URL path of the metrics.
const Path = "/metrics"

// closeGrace bounds how long Close waits for scrapes in progress.
const closeGrace = 5 * time.Second

// NewRegistry returns a registry holding the Go runtime's and the
// process's standard collectors and cs (typically one *Collector).
func NewRegistry(cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	cs = append([]prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	}, cs...)
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: registering %T: %w", c, err)
		}
	}
	return reg, nil
}

// Server serves the metrics of a Gatherer over HTTP.
type Server struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{} // closed when srv.Serve has returned
	err  error         // srv.Serve's failure; read after done

	closeOnce sync.Once
	closeErr  error
}

// Serve listens on addr (host:port; "" means DefaultAddr) and serves g's
// metrics at Path in the background until Close. It returns once the
// address is bound, so that a busy or invalid address is its error.
// addr's port may be 0: Addr tells which one was chosen.
func Serve(addr string, g prometheus.Gatherer) (*Server, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, promhttp.HandlerFor(g, promhttp.HandlerOpts{
		// A scrape that fails says why, in the response and in
		// Prometheus's target page, rather than serving a partial set.
		ErrorHandling:       promhttp.HTTPErrorOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	}))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "vpclab metrics: %s\n", Path)
	})
	s := &Server{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
		},
		ln:   ln,
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("metrics: serving on %s: %w", ln.Addr(), err)
		}
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL returns the URL of the metrics, for a scraper's configuration.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + Path }

// Close stops listening, lets the scrapes in progress finish (for up to 5
// seconds, then cuts them off) and returns why serving stopped early, if
// it did. Calling it again returns the same.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		if s.srv.Shutdown(ctx) != nil {
			s.srv.Close() // the grace ran out: cut the scrapes off
		}
		<-s.done
		s.closeErr = s.err
	})
	return s.closeErr
}
