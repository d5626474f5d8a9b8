package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

func captureCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "capture ENI [ENI...] [-w FILE]",
		Short: "Capture what passes ENIs of a running lab, with each packet's verdict",
		Long: `Record every packet that the ENIs send or are sent, allowed or denied, as
pcapng: one interface per ENI, each packet with a comment giving its verdict,
the stage that decided and the rule (as vpclab explain words it), and its
direction. tcpdump and Wireshark read it (in Wireshark, the comment is
frame.comment: filter with frame.comment contains "deny"). -w - streams to
stdout, for a pipe into tcpdump -r - or wireshark -k -i -.

The capture runs until Ctrl-C or --duration. Packets the capture cannot keep
up with are dropped from the capture (never from the lab) and counted in the
file's interface statistics.`,
		Example: `  sudo vpclab capture eni-web1 -w web1.pcapng
  sudo vpclab capture eni-web1 eni-db1 -w - | tcpdump -nn -r -
  sudo vpclab capture eni-db1 --lab lab.yaml --duration 10s -w db1.pcapng`,
		Args: cobra.MinimumNArgs(1),
	}
	labPath := labFlag(cmd)
	out := cmd.Flags().StringP("write", "w", "", "the pcapng file to write (- for stdout); required")
	snaplen := cmd.Flags().Int("snaplen", 0, "bytes kept of each packet (default 65535)")
	duration := cmd.Flags().Duration("duration", 0, "stop after this long (default: at Ctrl-C)")
	cmd.RunE = work(func(cmd *cobra.Command, args []string) error {
		if *out == "" {
			return usageErrorf("give -w FILE, or -w - for stdout")
		}
		l, err := loadLab(*labPath)
		if err != nil {
			return err
		}
		c, path, err := client(l)
		if err != nil {
			return err
		}
		var w io.Writer = cmd.OutOrStdout()
		if *out != "-" {
			f, err := os.Create(*out)
			if err != nil {
				return err
			}
			defer f.Close()
			w = f
		}
		bw := &flushingWriter{bufio.NewWriterSize(w, 256<<10)}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if *duration > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, *duration)
			defer cancel()
		}
		start := time.Now()
		counter := &countingWriter{w: bw}
		err = c.Capture(ctx, args, *snaplen, counter)
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		if err != nil {
			return notUp(err, l, path)
		}
		if *out != "-" {
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d bytes in %s\n", *out, counter.n, time.Since(start).Round(time.Millisecond))
		}
		return nil
	})
	return cmd
}

// flushingWriter is a bufio.Writer whose Flush returns only an error, for
// the client to flush after each chunk.
type flushingWriter struct{ *bufio.Writer }

type countingWriter struct {
	w *flushingWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() error { return c.w.Flush() }
