package sse

import (
	"bytes"
	"strconv"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// Event is one ping as it goes on the wire. It is immutable once built
// and shared by the ring and every subscriber queue.
type Event struct {
	ID     uint64
	Feed   uint32
	Site   string // a webhook event's channel
	Region string
	// Webhook events are sent without an "event:" field, so a browser's
	// EventSource.onmessage receives them.
	Webhook bool
	// Data is the complete event: "id: N\nevent: ping\ndata: ...\n\n".
	Data []byte
}

// newEvent encodes m once.
func newEvent(id uint64, m *wire.Message) *Event {
	typ := "ping"
	if m.Webhook {
		typ = ""
	}
	return &Event{ID: id, Feed: m.Feed, Site: m.Site, Region: m.Region, Webhook: m.Webhook, Data: AppendEvent(nil, id, typ, m.Payload)}
}

// AppendEvent appends one event with the given id, type and data to dst;
// an empty type leaves the "event:" field out (a "message" event).
// Data is normally compact JSON (one line); if it has line breaks (CR, LF
// or CRLF), each line gets its own "data:" field, which a client joins
// back with "\n", so no byte of data can end the event early or inject a
// field.
func AppendEvent(dst []byte, id uint64, typ string, data []byte) []byte {
	if dst == nil {
		dst = make([]byte, 0, len(data)+48+len(typ))
	}
	dst = append(dst, "id: "...)
	dst = strconv.AppendUint(dst, id, 10)
	dst = append(dst, '\n')
	if typ != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, typ...)
		dst = append(dst, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

// appendComment appends a comment line (ignored by EventSource, but it
// keeps proxies from timing the stream out and tells a human with curl
// what happened). Line breaks in text are replaced by spaces.
func appendComment(dst []byte, text string) []byte {
	dst = append(dst, ": "...)
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, "\n\n"...)
}
