package pcap

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// benchFrames is the frames of the captures the Next benchmarks read: a
// replay's scale, in memory, so that the reader's own cost is measured.
const benchFrames = 100_000

// benchPcap is a classic pcap of benchFrames small frames (40-byte IP
// packets, raw link type), as the mirror's file targets write them.
func benchPcap(b *testing.B) []byte {
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	w, err := NewWriter(bw, 65535, LinkTypeRaw)
	if err != nil {
		b.Fatal(err)
	}
	pkt := benchPacket()
	for i := range benchFrames {
		if err := w.WritePacket(int64(i)*1000, pkt, len(pkt)); err != nil {
			b.Fatal(err)
		}
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// benchPcapng is a pcapng of benchFrames small frames on two interfaces,
// as capture writes them: each enhanced packet block with its epb_flags
// and a comment.
func benchPcapng(b *testing.B) []byte {
	var buf bytes.Buffer
	w, err := NewNgWriter(&buf, 0, Interface{Name: "eni-a"}, Interface{Name: "eni-b"})
	if err != nil {
		b.Fatal(err)
	}
	pkt := benchPacket()
	comment := []byte("allow sg-ingress SG_RULE_MATCH: sg-web ingress #2 on eni-web1")
	for i := range benchFrames {
		if err := w.WritePacket(i&1, int64(i)*1000, Direction(1+i&1), pkt, len(pkt), comment); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// benchPacket is a TCP SYN of 40 bytes.
func benchPacket() []byte {
	p := make([]byte, 40)
	copy(p, ipv4)
	p[3] = 40
	return p
}

func BenchmarkNext(b *testing.B)   { benchNext(b, benchPcap(b)) }
func BenchmarkNgNext(b *testing.B) { benchNext(b, benchPcapng(b)) }

// benchNext reads capture, benchFrames frames, once an iteration, and
// reports the frames read a second.
func benchNext(b *testing.B, capture []byte) {
	b.SetBytes(int64(len(capture)))
	b.ReportAllocs()
	for b.Loop() {
		c, err := NewReader(bytes.NewReader(capture), "bench")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			if _, err := c.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
			n++
		}
		if n != benchFrames {
			b.Fatalf("read %d frames, want %d", n, benchFrames)
		}
	}
	frames := float64(b.N) * benchFrames
	b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/frames, "ns/frame")
}
