package broadcast

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/internal/webhook"
	"github.com/stellarfeed/stellarfeed/internal/wire"
	"github.com/stellarfeed/stellarfeed/stellar"
)

// The realtime endpoint (/ws) speaks a small JSON protocol on top of the
// same connections, shards and log as the Stellar endpoint. This file
// holds its pure parts: the client message parser, channels, subscription
// sets and the reply and envelope encoders.

// Limits of the realtime protocol.
const (
	maxSubs       = 64         // subscriptions per connection
	maxChannelLen = 1 + 64 + 3 // "site:REG", site at most 64 bytes as in stellar's rules
	maxEcho       = 64         // bytes of a client value quoted back in an error
	// replyLimit bounds the replies (connected, acks, errors, pongs)
	// pending on one /ws connection. A client that floods requests without
	// reading the answers is closed with 1008 rather than buffered for.
	replyLimit = 8 << 10
	// StatusTryAgainLater (1013) closes a /ws handshake refused because
	// the server is full: a browser cannot read an HTTP 503.
	statusTryAgainLater ws.StatusCode = 1013
)

// connectedMessage tells a new /ws client what to do next: nothing is
// sent until it subscribes.
const connectedMessage = `connected; send {"type":"subscribe","channel":"amazon:USA"} (or "amazon", "walmart", "*"; on a webhook feed an event name such as "user.signup") to receive pings: nothing is sent until you subscribe`

// clientOp is the type of a realtime client message.
type clientOp uint8

const (
	opPing clientOp = iota + 1
	opSubscribe
	opUnsubscribe
)

// channel is a parsed subscription channel: "*", "site" or "site:REGION".
type channel struct {
	all    bool
	site   string // lower case
	region string // upper case, empty = every region
}

// String is the canonical spelling, echoed in acks.
func (ch channel) String() string {
	switch {
	case ch.all:
		return "*"
	case ch.region != "":
		return ch.site + ":" + ch.region
	}
	return ch.site
}

// clientMsg is one parsed realtime client message.
type clientMsg struct {
	op clientOp
	ch channel // for subscribe and unsubscribe
}

// clientError is a client message the server cannot act on. Its text is
// sent back as {"type":"error","message":...}; the connection stays open.
type clientError string

func (e clientError) Error() string { return string(e) }

// parseClientMessage parses one text message of a /ws client:
//
//	{"type":"ping"}
//	{"type":"subscribe","channel":"amazon:USA"}
//	{"type":"unsubscribe","channel":"amazon"}
//
// Unknown fields are ignored (clients add ids and the like). It is a pure
// function of the bytes; every error is a clientError naming the field.
func parseClientMessage(p []byte) (clientMsg, error) {
	return parseClientMessageAs(p, parseChannel)
}

func parseClientMessageAs(p []byte, parseChannel func(string) (channel, error)) (clientMsg, error) {
	var raw struct {
		Type    *string `json:"type"`
		Channel *string `json:"channel"`
	}
	if err := json.Unmarshal(p, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return clientMsg{}, clientError("message must be a JSON object")
			}
			return clientMsg{}, clientError(te.Field + ": must be a string")
		}
		return clientMsg{}, clientError("invalid JSON")
	}
	if raw.Type == nil {
		return clientMsg{}, clientError("type: required")
	}
	var m clientMsg
	switch *raw.Type {
	case "ping":
		m.op = opPing
		return m, nil
	case "subscribe":
		m.op = opSubscribe
	case "unsubscribe":
		m.op = opUnsubscribe
	default:
		return m, clientError("type: unknown type " + quoteEcho(*raw.Type) + " (want ping, subscribe or unsubscribe)")
	}
	if raw.Channel == nil {
		return clientMsg{}, clientError("channel: required for " + *raw.Type)
	}
	ch, err := parseChannel(*raw.Channel)
	if err != nil {
		return clientMsg{}, err
	}
	m.ch = ch
	return m, nil
}

// parseClientMessage parses a client message for this connection: on a
// webhook feed a channel is an event name, taken as it is.
func (f *filter) parseClientMessage(p []byte) (clientMsg, error) {
	if !f.webhook {
		return parseClientMessage(p)
	}
	return parseClientMessageAs(p, parseEventChannel)
}

// parseEventChannel reads a webhook feed's channel: "*" or an event name
// ("user.signup"), matched exactly against the posted "event" or "type".
func parseEventChannel(s string) (channel, error) {
	switch {
	case s == "*":
		return channel{all: true}, nil
	case s == "" || len(s) > webhook.MaxChannelLen || !utf8.ValidString(s):
		return channel{}, clientError("channel: " + quoteEcho(s) + " must be \"*\" or an event name of 1-128 bytes")
	}
	return channel{site: s}, nil
}

// parseChannel reads "*", "site" or "amazon:REGION". Sites are
// normalised to lower case and regions to upper case, as in the Stellar
// endpoint's filters.
func parseChannel(s string) (channel, error) {
	if s == "*" {
		return channel{all: true}, nil
	}
	if s == "" || len(s) > maxChannelLen {
		return channel{}, clientError("channel: " + quoteEcho(s) + " must be \"*\", a site or site:REGION")
	}
	site, region, hasRegion := strings.Cut(s, ":")
	site = strings.ToLower(site)
	if !stellar.IsSiteName(site) {
		return channel{}, clientError("channel: site " + quoteEcho(site) + " must be lower-case letters, digits, '.', '_' or '-'")
	}
	ch := channel{site: site}
	if hasRegion {
		region = strings.ToUpper(region)
		if !stellar.IsRegion(region) {
			return channel{}, clientError("channel: unknown region " + quoteEcho(region) +
				" (one of " + strings.Join(stellar.Regions(), ", ") + ")")
		}
		if site != stellar.SiteAmazon {
			// Only Amazon pings carry a region: the channel would never match.
			return channel{}, clientError("channel: only amazon has regions (Walmart Canada is site walmartca)")
		}
		ch.region = region
	}
	return ch, nil
}

// quoteEcho quotes a client value for an error message, cut to maxEcho
// bytes so a client cannot make us echo kilobytes.
func quoteEcho(s string) string {
	if len(s) > maxEcho {
		s = s[:maxEcho] + "..."
	}
	return strconv.Quote(s)
}

// allows reports whether the key's scopes permit subscribing to ch. "*"
// is always allowed: it means everything the key may receive, and the
// scopes still filter every delivery.
func (f *filter) allows(ch channel) bool {
	return f.Scopes == nil || ch.all || wire.MatchesAny(f.Scopes, ch.site, ch.region)
}

// subscribe adds ch to the subscription set; it reports false when the
// set is full. Subscribing twice is harmless.
func (f *filter) subscribe(ch channel) bool {
	if ch.all {
		f.subAll = true
		return true
	}
	want := wire.Scope{Site: ch.site, Region: ch.region}
	if slices.Contains(f.subs, want) {
		return true
	}
	if len(f.subs) >= maxSubs {
		return false
	}
	f.subs = append(f.subs, want)
	return true
}

// unsubscribe removes exactly ch ("amazon" does not remove "amazon:USA");
// "*" removes every subscription.
func (f *filter) unsubscribe(ch channel) {
	if ch.all {
		f.subAll, f.subs = false, nil
		return
	}
	if i := slices.Index(f.subs, wire.Scope{Site: ch.site, Region: ch.region}); i >= 0 {
		f.subs = slices.Delete(f.subs, i, i+1)
		if len(f.subs) == 0 {
			f.subs = nil
		}
	}
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes
// U+FFFD, so the reply is always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// Reply payloads of the realtime protocol.

func replyConnected(keyID string) []byte {
	b := append(make([]byte, 0, 256), `{"type":"connected","message":`...)
	b = appendJSONString(b, connectedMessage)
	b = append(b, `,"userId":`...)
	b = appendJSONString(b, keyID)
	return append(b, '}')
}

func replyAck(typ string, ch channel) []byte {
	b := append(make([]byte, 0, 64), `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","channel":`...)
	b = appendJSONString(b, ch.String())
	return append(b, '}')
}

func replyError(msg string) []byte {
	b := append(make([]byte, 0, 64+len(msg)), `{"type":"error","message":`...)
	b = appendJSONString(b, msg)
	return append(b, '}')
}

// appendTextFrame appends an unmasked, final server text frame.
func appendTextFrame(dst, payload []byte) []byte {
	return append(appendTextHeader(dst, len(payload)), payload...)
}

// appendTextHeader appends the header of a final server text frame with
// an n-byte payload (n < 4 GiB).
func appendTextHeader(dst []byte, n int) []byte {
	switch {
	case n <= 125:
		return append(dst, 0x81, byte(n))
	case n <= 0xffff:
		return append(dst, 0x81, 126, byte(n>>8), byte(n))
	}
	return append(dst, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// textFrameSize is the size of appendTextFrame's output for n payload bytes.
func textFrameSize(n int) int {
	switch {
	case n <= 125:
		return 2 + n
	case n <= 0xffff:
		return 4 + n
	}
	return 10 + n
}

// newEnvelope builds the /ws event frame of m, published at at:
// {"event":"ping","data":<m.Payload>,"timestamp":"2026-12-04T14:03:07.123Z"}
// (ISO-8601 UTC with milliseconds, as the realtime API documents; unix
// milliseconds as a number when unix is set). A webhook event is
// {"event":"webhook","channel":"user.signup","data":<event>,...}, the
// channel only when it has one. The payload is already valid JSON
// (encoded once), so it is spliced in unchanged, in one allocation for
// the whole frame.
func newEnvelope(m *wire.Message, at time.Time, unix bool) wire.Message {
	var ts [32]byte
	var tsb []byte
	if unix {
		tsb = strconv.AppendInt(ts[:0], at.UnixMilli(), 10)
	} else {
		tsb = append(webhook.AppendTimestamp(append(ts[:0], '"'), at), '"')
	}
	pre := `{"event":"ping","data":`
	var ch []byte
	if m.Webhook {
		pre = `{"event":"webhook","data":`
		if m.Site != "" {
			pre = `{"event":"webhook","channel":`
			ch = appendJSONString(make([]byte, 0, len(m.Site)+8), m.Site)
			ch = append(ch, `,"data":`...)
		}
	}
	const mid = `,"timestamp":`
	n := len(pre) + len(ch) + len(m.Payload) + len(mid) + len(tsb) + 1
	frame := appendTextHeader(make([]byte, 0, textFrameSize(n)), n)
	hs := len(frame)
	frame = append(frame, pre...)
	frame = append(frame, ch...)
	frame = append(frame, m.Payload...)
	frame = append(frame, mid...)
	frame = append(frame, tsb...)
	frame = append(frame, '}')
	return wire.Message{Site: m.Site, Region: m.Region, Payload: frame[hs:], Frame: frame, Feed: m.Feed, Webhook: m.Webhook}
}
