package replay

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/vpclab/vpclab/pcap"
)

// progress draws a one-line progress bar, redrawn in place.
type progress struct {
	w           io.Writer
	start, last time.Time
	drawn       bool
}

// progressEvery is the shortest time between two redraws.
const progressEvery = 100 * time.Millisecond

// progressWidth is the width of the bar itself, in characters.
const progressWidth = 30

func newProgress(w io.Writer, start time.Time) *progress {
	return &progress{w: w, start: start, last: start}
}

// update redraws the bar if progressEvery has passed since the last draw.
func (p *progress) update(c *pcap.Reader, packets int64) {
	now := time.Now()
	if now.Sub(p.last) < progressEvery {
		return
	}
	p.last = now
	p.drawn = true
	rate := float64(packets) / now.Sub(p.start).Seconds()
	read, size := c.Progress()
	if size <= 0 {
		fmt.Fprintf(p.w, "\r%s  %d packets  %s pps\033[K", filepath.Base(c.Name()), packets, human(rate))
		return
	}
	frac := min(float64(read)/float64(size), 1)
	full := int(frac * progressWidth)
	bar := strings.Repeat("=", full) + strings.Repeat(" ", progressWidth-full)
	fmt.Fprintf(p.w, "\r%s [%s] %3.0f%%  %d packets  %s pps\033[K", filepath.Base(c.Name()), bar, frac*100, packets, human(rate))
}

// done erases the bar, if it was drawn.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// human formats a rate with a k or M suffix.
func human(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.1fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
