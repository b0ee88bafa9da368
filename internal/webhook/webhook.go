// Package webhook turns a JSON body posted to a webhook feed into the
// event its subscribers receive, encoded once:
//
//	{"type":"webhook","id":"6f1c…","payload":<the JSON as posted>,"receivedAt":"2026-12-04T14:03:07.123Z"}
//
// The same bytes are the WebSocket text frame, the SSE data line and the
// "data" of a /ws envelope; no endpoint re-encodes them.
//
// An event's channel is the posted object's top-level "event" field, or
// else its "type" field, when that is a string (at most MaxChannelLen
// bytes); realtime clients subscribe to channels by that name.
package webhook

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// MaxChannelLen bounds a channel name; a longer "event" is no channel.
const MaxChannelLen = 128

// ErrNotJSON is returned for a body that is not one JSON object or array.
var ErrNotJSON = errors.New("body must be a JSON object or array")

// SyntaxError is a body that is not valid JSON, with the byte offset.
type SyntaxError struct {
	Msg    string
	Offset int64
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("malformed JSON: %s at byte %d", e.Msg, e.Offset)
}

// NewID returns a fresh event id: 16 random hex digits, unique across the
// nodes of a cluster without coordination.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on Linux (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// Parse checks that body is one JSON object or array and returns it
// compacted (whitespace removed; same JSON value) and its channel.
func Parse(body []byte) (compact []byte, channel string, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' && body[0] != '[' {
		return nil, "", ErrNotJSON
	}
	var buf bytes.Buffer
	buf.Grow(len(body))
	if err := json.Compact(&buf, body); err != nil {
		// Compact's errors lack the offset; the validator's have it.
		var se *json.SyntaxError
		if errors.As(json.Unmarshal(body, new(json.RawMessage)), &se) {
			return nil, "", &SyntaxError{Msg: se.Error(), Offset: se.Offset}
		}
		return nil, "", &SyntaxError{Msg: err.Error()}
	}
	compact = buf.Bytes()
	if compact[0] == '{' {
		channel = channelOf(compact)
	}
	return compact, channel, nil
}

// channelOf reads the top-level "event", else "type", string of a valid
// JSON object.
func channelOf(obj []byte) string {
	var top struct {
		Event json.RawMessage `json:"event"`
		Type  json.RawMessage `json:"type"`
	}
	if json.Unmarshal(obj, &top) != nil {
		return ""
	}
	for _, raw := range []json.RawMessage{top.Event, top.Type} {
		var s string
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil && s != "" &&
			len(s) <= MaxChannelLen && utf8.ValidString(s) {
			return s
		}
	}
	return ""
}

// AppendTimestamp appends t as ISO-8601 UTC with milliseconds
// ("2026-12-04T14:03:07.123Z"), the realtime API's timestamp format.
func AppendTimestamp(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000Z")
}

// Event encodes the delivered event of a parsed body.
func Event(id string, compact []byte, receivedAt time.Time) []byte {
	b := make([]byte, 0, len(compact)+96+len(id))
	b = append(b, `{"type":"webhook","id":"`...)
	b = append(b, id...) // hex: nothing to escape
	b = append(b, `","payload":`...)
	b = append(b, compact...)
	b = append(b, `,"receivedAt":"`...)
	b = AppendTimestamp(b, receivedAt)
	return append(b, `"}`...)
}

// Message frames an encoded event for the endpoints of feed num.
func Message(feed uint32, channel string, event []byte) *wire.Message {
	m := wire.FromPayload(channel, "", event)
	m.Feed, m.Webhook = feed, true
	return m
}
