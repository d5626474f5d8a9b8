package flowlog

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// filePeriod is the span of record end times one log file holds, in
// seconds: AWS delivers a file per flow log every 5 minutes, named after
// the period's start.
const filePeriod = 300

// sink writes one flow log's records to files laid out as AWS lays them
// out in an S3 bucket:
//
//	DEST/AWSLogs/ACCOUNT/vpcflowlogs/REGION/YYYY/MM/DD/
//	  ACCOUNT_vpcflowlogs_REGION_FLOWLOGID_YYYYMMDDTHHMMZ_HASH.log
//
// One file per 5-minute period of record end times, a new one past
// MaxFileBytes. HASH is 8 hex digits of the flow log id, period and file
// number: the same records always go to the same names. AWS compresses its
// files (.log.gz); these are plain text.
type sink struct {
	dest     string
	id       string
	account  string
	region   string
	format   *Format
	header   bool
	maxBytes int64

	f      *os.File
	w      *bufio.Writer
	path   string
	period int64 // Unix seconds at the start of the open file's period
	size   int64
	seqs   map[int64]int // the next file number of each period
	line   []byte
}

func newSink(dest string, s *logState, o Options) *sink {
	return &sink{dest: dest, id: s.def.ID, account: s.account, region: s.region,
		format: s.format, header: o.Header, maxBytes: o.MaxFileBytes, seqs: map[int64]int{}}
}

// prepare makes the destination directory, so that a bad destination is
// reported when the flow log is created.
func (k *sink) prepare() error {
	if err := os.MkdirAll(k.dest, 0o755); err != nil {
		return fmt.Errorf("flow log %s: destination: %w", k.id, err)
	}
	return nil
}

// write sorts recs and writes them, counting them in st.
func (k *sink) write(recs []record, st *Stats) error {
	if len(recs) == 0 {
		return nil
	}
	sortRecords(recs)
	for i := range recs {
		r := &recs[i]
		k.line = k.format.appendRecord(k.line[:0], r, k.account, k.region)
		period := floorDiv(r.end, filePeriod) * filePeriod
		if k.f == nil || period != k.period || (k.size > 0 && k.size+int64(len(k.line)) > k.maxBytes) {
			if err := k.open(period, st); err != nil {
				return err
			}
		}
		if _, err := k.w.Write(k.line); err != nil {
			return fmt.Errorf("flow log %s: %w", k.id, err)
		}
		k.size += int64(len(k.line))
		switch {
		case r.status == statusNoData:
			st.NoData++
		case r.status == statusSkipData:
			st.SkipData++
		default:
			st.Records++
		}
		if r.late {
			st.Late++
		}
	}
	return nil
}

// open closes the open file and begins the next one of period.
func (k *sink) open(period int64, st *Stats) error {
	if err := k.close(); err != nil {
		return err
	}
	t := time.Unix(period, 0).UTC()
	dir := filepath.Join(k.dest, "AWSLogs", k.account, "vpcflowlogs", k.region, t.Format("2006"), t.Format("01"), t.Format("02"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("flow log %s: %w", k.id, err)
	}
	for {
		seq := k.seqs[period]
		k.seqs[period] = seq + 1
		h := fnv.New32a()
		fmt.Fprintf(h, "%s/%d/%d", k.id, period, seq)
		name := fmt.Sprintf("%s_vpcflowlogs_%s_%s_%sZ_%08x.log", k.account, k.region, k.id, t.Format("20060102T1504"), h.Sum32())
		path := filepath.Join(dir, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue // a file of an earlier run: never overwrite one
		}
		if err != nil {
			return fmt.Errorf("flow log %s: %w", k.id, err)
		}
		k.f, k.path, k.period, k.size = f, path, period, 0
		k.w = bufio.NewWriterSize(f, 64<<10)
		st.Files++
		if k.header {
			h := k.format.Header() + "\n"
			if _, err := k.w.WriteString(h); err != nil {
				return fmt.Errorf("flow log %s: %w", k.id, err)
			}
			k.size += int64(len(h))
		}
		return nil
	}
}

// closeBefore closes the open file if its period ends by t (Unix
// seconds): no record of its period is still to come, except late ones,
// which go to a new file.
func (k *sink) closeBefore(t int64) error {
	if k.f != nil && k.period+filePeriod <= t {
		return k.close()
	}
	return nil
}

// flush hands what is buffered to the operating system.
func (k *sink) flush() error {
	if k.f == nil {
		return nil
	}
	if err := k.w.Flush(); err != nil {
		return fmt.Errorf("flow log %s: %w", k.id, err)
	}
	return nil
}

// close flushes, syncs and closes the open file, if any.
func (k *sink) close() error {
	if k.f == nil {
		return nil
	}
	f := k.f
	k.f = nil
	err := k.w.Flush()
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("flow log %s: %s: %w", k.id, k.path, err)
	}
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
