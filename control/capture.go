package control

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/vpclab/vpclab/authz"
	"github.com/vpclab/vpclab/capture"
)

// captureHandler serves GET /v1/capture?eni=ID[,ID…][&snaplen=N]: a pcapng
// stream of every packet the ENIs send or are sent, allowed or denied,
// each with its verdict as a comment, until the client goes away.
func (a *api) capture(q *request) {
	query := q.r.URL.Query()
	var ids []string
	for _, v := range query["eni"] {
		for _, id := range strings.Split(v, ",") {
			if id != "" && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		writeError(q.w, http.StatusBadRequest, "name the ENIs to capture: ?eni=ID (several: ?eni=ID,ID)")
		return
	}
	snaplen := 0
	if s := query.Get("snaplen"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > capture.MaxSnaplen {
			writeError(q.w, http.StatusBadRequest, fmt.Sprintf("snaplen=%s: give bytes per packet, 1 to %d", s, capture.MaxSnaplen))
			return
		}
		snaplen = n
	}
	l := a.x.Lab()
	points := make([]capture.Point, 0, len(ids))
	for _, id := range ids {
		p, ok := a.x.Engine().Port(id)
		if !ok {
			writeError(q.w, http.StatusNotFound, fmt.Sprintf("no ENI %q in the lab", id))
			return
		}
		points = append(points, capture.Point{Port: p, Interface: capture.Interface{Name: id, Description: capture.Describe(l, id)}})
	}
	if !a.begin(q, authz.Capture, a.arn(authz.KindNetworkInterface, strings.Join(ids, ","))) {
		return
	}
	// Attach checks its arguments before it writes the file's header,
	// whose first write sends the status line (200): a refusal is still a
	// 400, not an empty stream.
	q.w.Header().Set("Content-Type", "application/x-pcapng")
	s, err := a.x.Tap().Attach(flushWriter{q.w}, points, capture.Options{Snaplen: snaplen})
	if err != nil {
		writeError(q.w, http.StatusBadRequest, err.Error())
		return
	}
	select {
	case <-q.r.Context().Done():
	case <-s.Done():
	}
	s.Close()
}

// flushWriter flushes the response after every write the session flushes,
// so that packets reach the client as they are captured.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(b []byte) (int, error) { return f.w.Write(b) }

func (f flushWriter) Flush() error {
	return http.NewResponseController(f.w).Flush()
}
