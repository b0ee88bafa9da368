package bench

import (
	"bytes"
	"testing"
	"time"
)

var sinkInt int

// BenchmarkFrameScanner feeds 64 KiB reads of ~600-byte ping frames, cut
// at arbitrary boundaries, and extracts each marker: the client's hot path.
func BenchmarkFrameScanner(b *testing.B) {
	tmpl := newPingTemplate(600)
	frame := appendServerFrame(nil, tmpl.stamp(42, time.Now().UnixNano()))
	stream := bytes.Repeat(frame, (64<<10)/len(frame)) // whole frames: the scanner keeps no carry
	var s FrameScanner
	n := 0
	fn := func(f Frame) {
		if seq, _, ok := parseMarker(f.Payload); ok {
			n += seq
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		if err := s.Feed(stream, fn); err != nil {
			b.Fatal(err)
		}
	}
	if n == 0 {
		b.Fatal("no marker parsed")
	}
	sinkInt = n
}

func BenchmarkHistAdd(b *testing.B) {
	var h Hist
	b.ReportAllocs()
	d := time.Duration(0)
	for b.Loop() {
		d += 997 * time.Nanosecond
		h.Add(d % time.Second)
	}
	sinkInt = int(h.N)
}
