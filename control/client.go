package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
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
	// Token, when set, is sent as Authorization: Bearer Token.
	// NewClient sets it from the environment's VPCLAB_TOKEN.
	Token string
}

// TokenEnv is the environment variable clients read their token from.
const TokenEnv = "VPCLAB_TOKEN"

// NewClient returns a client of the server on the socket at path.
func NewClient(path string) *Client {
	d := net.Dialer{Timeout: 2 * time.Second}
	return &Client{path: path, Token: os.Getenv(TokenEnv), http: &http.Client{
		Timeout: 60 * time.Second,
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
	return c.do(ctx, http.MethodGet, u, "", nil)
}

// GetLab returns the lab in force, as a lab file (GET /v1/lab).
func (c *Client) GetLab(ctx context.Context) ([]byte, error) {
	return c.get(ctx, "http://vpclab/v1/lab")
}

// PutLab replaces the running lab's policy with the lab file data, named
// file in messages (PUT /v1/lab).
func (c *Client) PutLab(ctx context.Context, file string, data []byte) error {
	_, err := c.do(ctx, http.MethodPut, "http://vpclab/v1/lab?file="+url.QueryEscape(file), "application/yaml", data)
	return err
}

// EC2 calls an EC2 action (AuthorizeSecurityGroupIngress, …) with its JSON
// request and returns the JSON response. A refused call's error is an
// *EC2CallError with EC2's code.
func (c *Client) EC2(ctx context.Context, action string, body []byte) ([]byte, error) {
	return c.do(ctx, http.MethodPost, "http://vpclab/v1/ec2/"+url.PathEscape(action), "application/json", body)
}

// Capture streams the pcapng capture of the ENIs (GET /v1/capture) to w
// until ctx is done or the server ends it. snaplen 0 means the default.
// It returns nil when ctx ends the capture.
func (c *Client) Capture(ctx context.Context, enis []string, snaplen int, w io.Writer) error {
	q := url.Values{"eni": {strings.Join(enis, ",")}}
	if snaplen > 0 {
		q.Set("snaplen", strconv.Itoa(snaplen))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://vpclab/v1/capture?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	stream := &http.Client{Transport: c.http.Transport} // no timeout: it lasts as long as ctx
	resp, err := stream.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return &NotUpError{Path: c.path}
		}
		return fmt.Errorf("control: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return fmt.Errorf("control: %s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("control: %s", resp.Status)
	}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if f, ok := w.(interface{ Flush() error }); ok {
				if ferr := f.Flush(); ferr != nil {
					return ferr
				}
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control: reading the capture: %w", rerr)
		}
	}
}

// EC2CallError is an EC2 call the server refused.
type EC2CallError struct {
	Status  int
	Code    string
	Message string
}

func (e *EC2CallError) Error() string { return e.Code + ": " + e.Message }

func (c *Client) do(ctx context.Context, method, u, contentType string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return nil, &NotUpError{Path: c.path}
		}
		return nil, fmt.Errorf("control: %w", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("control: reading the reply from %s: %w", c.path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var ec2 EC2Error
		if json.Unmarshal(out, &ec2) == nil && ec2.Error.Code != "" {
			return nil, &EC2CallError{Status: resp.StatusCode, Code: ec2.Error.Code, Message: ec2.Error.Message}
		}
		var e Error
		if json.Unmarshal(out, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("control: %s: %s", resp.Status, e.Error)
		}
		return nil, fmt.Errorf("control: %s", resp.Status)
	}
	return out, nil
}

// NotUpError says that no server answers on the socket at Path. It
// matches ErrNotUp with errors.Is.
type NotUpError struct{ Path string }

func (e *NotUpError) Error() string {
	return fmt.Sprintf("no control socket at %s", e.Path)
}

func (e *NotUpError) Is(target error) bool { return target == ErrNotUp }
