package sse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// msg builds a message without validation: the hub does not care what the
// payload says, only site and region route it.
func msg(site, region string, n int) *wire.Message {
	return wire.FromPayload(site, region, fmt.Appendf(nil, `{"site":%q,"region":%q,"n":%d}`, site, region, n))
}

// sseEvent is one parsed event, or a comment when Comment is set.
type sseEvent struct {
	ID, Type, Data string
	Comment        string
	Retry          string
}

// readEvents parses an SSE stream per the WHATWG rules we rely on (field
// lines, ":" comments, blank line dispatch; CR, LF and CRLF line ends) and
// sends each event and comment to out until r ends.
func readEvents(r io.Reader, out chan<- sseEvent) error {
	br := bufio.NewReader(r)
	var ev sseEvent
	var data []string
	hasData := false
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		switch {
		case line == "":
			if hasData {
				ev.Data = strings.Join(data, "\n")
				out <- ev
			}
			ev, data, hasData = sseEvent{}, nil, false
		case strings.HasPrefix(line, ":"):
			out <- sseEvent{Comment: strings.TrimPrefix(strings.TrimPrefix(line, ":"), " ")}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID = value
			case "event":
				ev.Type = value
			case "data":
				data, hasData = append(data, value), true
			case "retry":
				out <- sseEvent{Retry: value}
			}
		}
	}
}

// readLine reads up to CR, LF or CRLF.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		c, err := br.ReadByte()
		if err != nil {
			return "", err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if next, err := br.Peek(1); err == nil && next[0] == '\n' {
				br.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

// parseAll parses a complete stream held in memory.
func parseAll(t testing.TB, data []byte) []sseEvent {
	t.Helper()
	out := make(chan sseEvent, 4096)
	err := readEvents(bytes.NewReader(data), out)
	if err != io.EOF {
		t.Fatalf("parse: %v", err)
	}
	close(out)
	var evs []sseEvent
	for ev := range out {
		evs = append(evs, ev)
	}
	return evs
}

// bufWriter is a Writer over memory that counts flushes; it can be made
// to fail.
type bufWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	flushed []byte
	flushes int
	fail    error
}

func (w *bufWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	return w.buf.Write(p)
}

func (w *bufWriter) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return w.fail
	}
	w.flushes++
	w.flushed = append(w.flushed, w.buf.Bytes()...)
	w.buf.Reset()
	return nil
}

func (w *bufWriter) events(t testing.TB) []sseEvent {
	w.mu.Lock()
	data := bytes.Clone(w.flushed)
	w.mu.Unlock()
	return parseAll(t, data)
}

// pings keeps only the events of evs.
func pings(evs []sseEvent) []sseEvent {
	var out []sseEvent
	for _, ev := range evs {
		if ev.Comment == "" && ev.Retry == "" {
			out = append(out, ev)
		}
	}
	return out
}

func comments(evs []sseEvent) []string {
	var out []string
	for _, ev := range evs {
		if ev.Comment != "" {
			out = append(out, ev.Comment)
		}
	}
	return out
}

func ids(evs []sseEvent) []uint64 {
	var out []uint64
	for _, ev := range pings(evs) {
		n, _ := strconv.ParseUint(ev.ID, 10, 64)
		out = append(out, n)
	}
	return out
}

// streamAsync runs sub.Stream into w and returns its result channel.
func streamAsync(sub *Subscription, w Writer) <-chan error {
	done := make(chan error, 1)
	go func() { done <- sub.Stream(w, nil) }()
	return done
}

func wait(t testing.TB, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("stream did not end")
		return nil
	}
}
