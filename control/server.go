package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpclab/vpclab/lab"
	"github.com/vpclab/vpclab/labnet"
	"github.com/vpclab/vpclab/live"
)

// SocketMode is the mode of the control socket.
const SocketMode fs.FileMode = 0o600

// SocketPath returns the control socket of the lab planned as p: next to
// its lock, ".sock" for ".lock".
func SocketPath(p *labnet.Plan) string {
	return strings.TrimSuffix(p.LockPath(), ".lock") + ".sock"
}

// Server serves the control API of one running lab on a unix socket.
type Server struct {
	path string
	ln   *net.UnixListener
	srv  *http.Server
	done chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// Listen starts serving the control API of x, loaded from l, on the unix
// socket at path (SocketPath of x's plan for "vpclab up"), with mode
// SocketMode. A socket already at path is stale (the lab's lock is held
// by x) and is replaced; anything else there is an error.
func Listen(x *live.Lab, l *lab.Lab, path string) (*Server, error) {
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
	s := &Server{
		path: path,
		ln:   ln,
		srv:  &http.Server{Handler: Handler(x, l), ReadHeaderTimeout: 5 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		s.srv.Serve(ln) // returns http.ErrServerClosed on Close
	}()
	return s, nil
}

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
		if rerr := os.Remove(s.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		if err != nil {
			s.closeErr = fmt.Errorf("control: closing %s: %w", s.path, err)
		}
	})
	return s.closeErr
}

// Handler returns the control API of x, loaded from l, as an http.Handler
// (Listen serves it; tests may use it with httptest).
func Handler(x *live.Lab, l *lab.Lab) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/status":
		default:
			writeError(w, http.StatusNotFound, fmt.Sprintf("no such endpoint %s; try GET /v1/status", r.URL.Path))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s; use GET", r.Method, r.URL.Path))
			return
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeError(w, http.StatusBadRequest, "malformed query: "+err.Error())
			return
		}
		var entries bool
		for k, v := range q {
			switch k {
			case "entries":
				if len(v) != 1 {
					writeError(w, http.StatusBadRequest, "give entries once")
					return
				}
				if v[0] != "" { // ?entries alone means yes
					if entries, err = strconv.ParseBool(v[0]); err != nil {
						writeError(w, http.StatusBadRequest, fmt.Sprintf("entries=%s: want 1 or 0 (true or false)", v[0]))
						return
					}
				} else {
					entries = true
				}
			default:
				writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown query parameter %q; /v1/status takes entries", k))
				return
			}
		}
		writeJSON(w, http.StatusOK, Snapshot(x, l, entries))
	})
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
