package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"syscall"
	"time"
)

// ErrNotUp is what GetStatus reports, wrapped, when no server answers on
// the socket: the lab is not up.
var ErrNotUp = errors.New("lab is not up")

// Client talks to the control server on a unix socket.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client of the server on the socket at path.
func NewClient(path string) *Client {
	d := net.Dialer{Timeout: 2 * time.Second}
	return &Client{path: path, http: &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return d.DialContext(ctx, "unix", path)
		}},
	}}
}

// GetStatus calls GET /v1/status (with ?entries=1 when entries) and
// returns the decoded Status and the body as the server sent it.
func (c *Client) GetStatus(ctx context.Context, entries bool) (*Status, []byte, error) {
	u := "http://vpclab/v1/status"
	if entries {
		u += "?entries=1"
	}
	body, err := c.get(ctx, u)
	if err != nil {
		return nil, nil, err
	}
	var st Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, nil, fmt.Errorf("control: decoding the status from %s: %w", c.path, err)
	}
	return &st, body, nil
}

func (c *Client) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, &NotUpError{Path: c.path}
		}
		return nil, fmt.Errorf("control: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("control: reading the reply from %s: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("control: %s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("control: %s", resp.Status)
	}
	return body, nil
}

// NotUpError says that no server answers on the socket at Path. It
// matches ErrNotUp with errors.Is.
type NotUpError struct{ Path string }

func (e *NotUpError) Error() string {
	return fmt.Sprintf("no control socket at %s", e.Path)
}

func (e *NotUpError) Is(target error) bool { return target == ErrNotUp }
