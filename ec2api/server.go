package ec2api

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"
)

// DefaultAddr is where `vpclab up` serves the endpoint unless told
// otherwise: loopback, the port after the control API's example.
const DefaultAddr = "127.0.0.1:8730"

// Server serves the endpoint on TCP.
type Server struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// ListenTCP serves the endpoint of x on addr. Every request must be
// signed with an access key of o.Principals: the port is open to every
// local user.
func ListenTCP(x Lab, addr string, o Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ec2api: %w", err)
	}
	s := &Server{ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: Handler(x, o), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			ErrorLog: log.New(io.Discard, "", 0)}}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr is the address served.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// URL is the endpoint's URL, for --endpoint-url.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server, giving requests in flight a second.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = s.srv.Close()
	}
	<-s.done
	if err != nil {
		return fmt.Errorf("ec2api: closing %s: %w", s.ln.Addr(), err)
	}
	return nil
}
