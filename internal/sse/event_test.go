package sse

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

func TestAppendEvent(t *testing.T) {
	f := func(data, want string) {
		t.Helper()
		got := string(AppendEvent(nil, 42, "ping", []byte(data)))
		if got != want {
			t.Fatalf("AppendEvent(%q)\ngot  %q\nwant %q", data, got, want)
		}
	}
	f(`{"site":"amazon"}`, "id: 42\nevent: ping\ndata: {\"site\":\"amazon\"}\n\n")
	f("", "id: 42\nevent: ping\ndata: \n\n")
	f("a\nb", "id: 42\nevent: ping\ndata: a\ndata: b\n\n")
	f("a\r\nb", "id: 42\nevent: ping\ndata: a\ndata: b\n\n")
	f("a\rb\n", "id: 42\nevent: ping\ndata: a\ndata: b\ndata: \n\n")
	f("\n\nid: 7", "id: 42\nevent: ping\ndata: \ndata: \ndata: id: 7\n\n")

	// Appending to a buffer keeps what was there.
	if got := string(AppendEvent([]byte("x"), 1, "e", []byte("d"))); got != "xid: 1\nevent: e\ndata: d\n\n" {
		t.Fatalf("append: %q", got)
	}
}

func TestAppendComment(t *testing.T) {
	if got := string(appendComment(nil, "a\nb\rc")); got != ": a b c\n\n" {
		t.Fatalf("%q", got)
	}
}

// normalize turns CRLF and CR into LF, as an SSE client sees data lines.
func normalize(b []byte) string {
	s := strings.ReplaceAll(string(b), "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// FuzzAppendEvent: whatever the data, the bytes parse as exactly one event
// with our id and type, and its data is the input up to line-end
// normalisation: no payload can forge a field or a second event.
func FuzzAppendEvent(f *testing.F) {
	f.Add(uint64(1), []byte(`{"site":"amazon","region":"USA","details":{"title":"Echo Dot"}}`))
	f.Add(uint64(1732521600000001), []byte("line1\nline2\r\nline3\rline4"))
	f.Add(uint64(0), []byte("\n\nid: 9\nevent: x\ndata: y\n\n"))
	f.Add(uint64(18446744073709551615), []byte(""))
	f.Fuzz(func(t *testing.T, id uint64, data []byte) {
		out := AppendEvent(nil, id, "ping", data)
		if !bytes.HasSuffix(out, []byte("\n\n")) {
			t.Fatalf("event does not end with a blank line: %q", out)
		}
		evs := parseAll(t, out)
		if len(evs) != 1 {
			t.Fatalf("%d events from %q", len(evs), out)
		}
		ev := evs[0]
		if ev.ID != strconv.FormatUint(id, 10) || ev.Type != "ping" || ev.Data != normalize(data) {
			t.Fatalf("parsed %+v from data %q", ev, data)
		}
	})
}
