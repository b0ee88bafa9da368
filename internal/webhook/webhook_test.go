package webhook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	tests := []struct {
		body, compact, channel string
		err                    string
	}{
		{`{"event": "user.signup", "email": "test@example.com"}`, `{"event":"user.signup","email":"test@example.com"}`, "user.signup", ""},
		{` {"type":"order.paid","event":7} `, `{"type":"order.paid","event":7}`, "order.paid", ""},
		{`{"event":"a","type":"b"}`, `{"event":"a","type":"b"}`, "a", ""},
		{`{"event":""}`, `{"event":""}`, "", ""},
		{`{"event":"` + strings.Repeat("x", MaxChannelLen+1) + `"}`, "", "", ""},
		{`{"nested":{"event":"no"}}`, `{"nested":{"event":"no"}}`, "", ""},
		{`[{"event":"x"}, 2]`, `[{"event":"x"},2]`, "", ""},
		{`{"event":"\u00e9t\u00e9"}`, `{"event":"\u00e9t\u00e9"}`, "été", ""},
		{`"hello"`, "", "", "body must be a JSON object or array"},
		{``, "", "", "body must be a JSON object or array"},
		{`{"event":`, "", "", "malformed JSON: unexpected end of JSON input at byte 9"},
		{`{"a":1}{"b":2}`, "", "", "malformed JSON: invalid character '{' after top-level value at byte 8"},
	}
	for _, tt := range tests {
		compact, ch, err := Parse([]byte(tt.body))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Parse(%q) error %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || ch != tt.channel || tt.compact != "" && string(compact) != tt.compact {
			t.Errorf("Parse(%q) = %s, %q, %v; want %s, %q", tt.body, compact, ch, err, tt.compact, tt.channel)
		}
	}
	if _, _, err := Parse([]byte(`nope`)); !errors.Is(err, ErrNotJSON) {
		t.Errorf("error %v is not ErrNotJSON", err)
	}
}

func TestEventAndMessage(t *testing.T) {
	at := time.Date(2026, 1, 25, 10, 30, 0, 7_000_000, time.FixedZone("CET", 3600))
	ev := Event("00ff00ff00ff00ff", []byte(`{"event":"user.signup"}`), at)
	want := `{"type":"webhook","id":"00ff00ff00ff00ff","payload":{"event":"user.signup"},"receivedAt":"2026-01-25T09:30:00.007Z"}`
	if string(ev) != want {
		t.Fatalf("Event:\n got %s\nwant %s", ev, want)
	}
	m := Message(3, "user.signup", ev)
	if m.Feed != 3 || !m.Webhook || m.Site != "user.signup" || m.Region != "" || string(m.Payload) != want || m.Frame[0] != 0x81 {
		t.Fatalf("Message %+v", m)
	}
	if a, b := NewID(), NewID(); len(a) != 16 || a == b {
		t.Fatalf("ids %q %q", a, b)
	}
}

// FuzzParse: whatever is posted, Parse either refuses it or returns valid
// JSON of the same value, and the event built from it is valid JSON whose
// payload is that value.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"event": "user.signup", "email": "test@example.com"}`))
	f.Add([]byte(`[1, "two", {"type": "x"}]`))
	f.Add([]byte(`{"event":"\ud800"}`))
	f.Add([]byte(`{"a":`))
	f.Fuzz(func(t *testing.T, body []byte) {
		compact, ch, err := Parse(body)
		if err != nil {
			return
		}
		if !json.Valid(compact) || len(ch) > MaxChannelLen {
			t.Fatalf("Parse(%q) = %q, %q", body, compact, ch)
		}
		var a, b any
		if json.Unmarshal(body, &a) != nil || json.Unmarshal(compact, &b) != nil {
			t.Fatalf("accepted %q", body)
		}
		ev := Event(NewID(), compact, time.Now())
		var got struct {
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(ev, &got); err != nil || string(got.Payload) != string(compact) {
			t.Fatalf("event %q: %v", ev, err)
		}
	})
}
