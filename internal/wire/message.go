package wire

import (
	"fmt"

	"github.com/bytedance/sonic"
	"github.com/gobwas/ws"

	"github.com/stellarfeed/stellarfeed/stellar"
)

// Message is a validated ping encoded once: the JSON payload and the
// complete WebSocket text frame (header followed by the payload, in one
// buffer) that the broadcaster writes unchanged to every subscriber.
// A Message is immutable once built; share it, never copy it.
type Message struct {
	Site    string
	Region  string
	Payload []byte // JSON text, a sub-slice of Frame
	Frame   []byte // unmasked server-to-client text frame

	// Feed is the routing number of the feed the message belongs to
	// (keys.Feed.Num; 0 is the default feed). Endpoints deliver it only
	// to subscribers of that feed.
	Feed uint32
	// Webhook marks an event of a webhook feed: Payload is
	// {"type":"webhook","id":…,"payload":…,"receivedAt":…}, Site holds
	// its channel (the posted "event" or "type", possibly empty) and
	// Region is empty.
	Webhook bool
}

// encoder writes compact JSON without HTML escaping: Stellar reads the
// payload as JSON, not HTML, and '&' in image URLs should stay readable.
var encoder = sonic.Config{NoNullSliceOrMap: true}.Froze()

// New validates p against r and encodes it once.
func New(r stellar.Rules, p *stellar.Ping) (*Message, error) {
	if err := r.Validate(p); err != nil {
		return nil, err
	}
	return encode(p)
}

// Parse decodes, validates and encodes one ping from JSON, as the ingest
// API receives it: the rules run once, errors are those of r.Parse.
func Parse(r stellar.Rules, data []byte) (*Message, error) {
	p, err := r.Parse(data)
	if err != nil {
		return nil, err
	}
	return encode(&p)
}

// encode serializes a ping that has passed the rules.
func encode(p *stellar.Ping) (*Message, error) {
	payload, err := encoder.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode ping: %w", err)
	}
	return FromPayload(p.Site, p.Region, payload), nil
}

// FromPayload frames an already encoded and validated payload, as a
// node does with pings that arrive encoded from another process. The
// payload is copied once, behind the frame header.
func FromPayload(site, region string, payload []byte) *Message {
	h := ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(len(payload))}
	hs := ws.HeaderSize(h)
	frame := make([]byte, hs+len(payload))
	if err := ws.WriteHeader(&fixedWriter{buf: frame[:0:hs]}, h); err != nil {
		// Unreachable: the buffer has exactly HeaderSize bytes.
		panic(fmt.Sprintf("wire: write frame header: %v", err))
	}
	copy(frame[hs:], payload)
	return &Message{Site: site, Region: region, Payload: frame[hs:], Frame: frame}
}

// fixedWriter appends into a buffer that must not grow.
type fixedWriter struct{ buf []byte }

func (w *fixedWriter) Write(p []byte) (int, error) {
	if len(w.buf)+len(p) > cap(w.buf) {
		return 0, fmt.Errorf("frame header larger than its room")
	}
	w.buf = append(w.buf, p...)
	return len(p), nil
}
