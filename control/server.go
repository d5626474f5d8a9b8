package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vpclab/vpclab/labnet"
)

// SocketMode is the mode of the control socket.
const SocketMode fs.FileMode = 0o600

// SocketPath returns the control socket of the lab planned as p
// (labnet's Plan.SocketPath, next to its lock).
func SocketPath(p *labnet.Plan) string { return p.SocketPath() }

// Server serves the control API of one running lab on a unix socket.
type Server struct {
	path string // the unix socket's; empty on TCP
	ln   net.Listener
	srv  *http.Server
	done chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Listen starts serving the control API of x on the unix socket at path
// (SocketPath of x's plan for "vpclab up"), with mode SocketMode. A
// socket already at path is stale (the lab's lock is held by x) and is
// replaced; anything else there is an error.
func Listen(x Lab, path string, o Options) (*Server, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("control: %s exists and is not a socket", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("control: removing the stale socket: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("control: %w", err)
	}
	// Bind a temporary name, restrict it, then move it into place: the
	// socket never appears at path with the umask's mode.
	tmp := filepath.Join(filepath.Dir(path), fmt.Sprintf(".%s.%d.tmp", filepath.Base(path), os.Getpid()))
	os.Remove(tmp) // a crashed run's, with our pid by chance
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	ln.SetUnlinkOnClose(false) // the socket is renamed; Close removes path
	if err := os.Chmod(tmp, SocketMode); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("control: %w", err)
	}
	return serve(x, ln, path, o), nil
}

// ListenTCP serves the control API of x on a TCP address as well, which
// needs principals: every request must carry a token.
func ListenTCP(x Lab, addr string, o Options) (*Server, error) {
	if o.Principals == nil || o.Principals.Len() == 0 {
		return nil, fmt.Errorf("control: serving on TCP %s needs principals with tokens (--principals or VPCLAB_ADMIN_TOKEN): without them anyone who reaches the port could change the lab", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	return serve(x, ln, "", o), nil
}

// Timeouts of a request: slow clients get an error, not a goroutine
// forever. Variables for the tests.
var (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 60 * time.Second // a 64 MiB lab at 1 MB/s
)

func serve(x Lab, ln net.Listener, path string, o Options) *Server {
	s := &Server{
		path: path,
		ln:   ln,
		srv: &http.Server{Handler: Handler(x, o), ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
			ConnContext: connContext, ErrorLog: log.New(io.Discard, "", 0)},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Path returns the socket's path.
func (s *Server) Path() string { return s.path }

// Close stops the server, giving requests in flight a second to finish,
// and removes the socket. Calling it again returns the same.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := s.srv.Shutdown(ctx)
		if err != nil {
			err = s.srv.Close()
		}
		<-s.done
		if s.path == "" {
			// TCP: nothing to remove.
		} else if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		if err != nil {
			s.closeErr = fmt.Errorf("control: closing %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, Error{Error: msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil { // our types always marshal
		code, b = http.StatusInternalServerError, []byte(`{"error": "encoding the reply failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
