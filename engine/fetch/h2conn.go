package fetch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Conn puts x/net's HTTP/2 client frames in Chrome's shape on their way
// out; reads pass through. x/net cannot be told the order of SETTINGS,
// pseudo-headers or headers, and those orders are what the Akamai HTTP/2
// fingerprint and bot walls read. Only order changes, never meaning:
//
//   - the first SETTINGS: the same values in h2Settings' order; the
//     MAX_FRAME_SIZE x/net adds is left out, so the server keeps the
//     16 KiB default, which x/net reads as well as its own larger limit;
//   - HEADERS (+ CONTINUATION): the header block is decoded with a decoder
//     that follows x/net's encoder, the fields are reordered (pseudo-headers
//     as h2PseudoOrder, the rest as chromeOrder) and encoded again with our
//     own encoder, which alone speaks to the server's decoder; the frame
//     gains Chrome's priority (exclusive, on stream 0, weight 256).
//
// Every other frame (DATA, WINDOW_UPDATE, PING, RST_STREAM, SETTINGS ACK,
// GOAWAY) is forwarded as it is written, without buffering.
type h2Conn struct {
	net.Conn

	mu          sync.Mutex
	passLeft    int    // bytes to forward as they are: the preface, a frame's payload
	buf         []byte // the frame being collected (header, then payload)
	out         []byte // what this Write sends
	settingsOut bool   // the first SETTINGS went out

	dec    *hpack.Decoder
	enc    *hpack.Encoder
	encBuf bytes.Buffer
	block  []byte // header block being collected
	stream uint32
	endStr bool
}

func newH2Conn(c net.Conn) *h2Conn {
	h := &h2Conn{Conn: c, passLeft: len(http2.ClientPreface)}
	// x/net's encoder never grows its table past 4096 bytes (its
	// MaxEncoderHeaderTableSize default), so neither does the mirror.
	h.dec = hpack.NewDecoder(4096, nil)
	h.enc = hpack.NewEncoder(&h.encBuf)
	return h
}

const (
	frameHeaderLen = 9
	// maxOutFrame is the frame payload every peer accepts (RFC 9113 §4.2).
	maxOutFrame = 16384
)

// Write consumes p whole or fails: x/net writes through a bufio.Writer
// under its write lock, so frames arrive in order but may be cut anywhere.
func (h *h2Conn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := len(p)
	h.out = h.out[:0]
	for len(p) > 0 {
		if h.passLeft > 0 {
			k := min(h.passLeft, len(p))
			h.out = append(h.out, p[:k]...)
			h.passLeft -= k
			p = p[k:]
			continue
		}
		if len(h.buf) < frameHeaderLen {
			k := min(frameHeaderLen-len(h.buf), len(p))
			h.buf = append(h.buf, p[:k]...)
			p = p[k:]
			if len(h.buf) < frameHeaderLen {
				break
			}
		}
		length := int(h.buf[0])<<16 | int(h.buf[1])<<8 | int(h.buf[2])
		typ := http2.FrameType(h.buf[3])
		if !h.rewrites(typ, http2.Flags(h.buf[4])) {
			h.out = append(h.out, h.buf...)
			h.buf = h.buf[:0]
			h.passLeft = length
			continue
		}
		k := min(frameHeaderLen+length-len(h.buf), len(p))
		h.buf = append(h.buf, p[:k]...)
		p = p[k:]
		if len(h.buf) < frameHeaderLen+length {
			break
		}
		if err := h.frame(h.buf); err != nil {
			return 0, err
		}
		h.buf = h.buf[:0]
	}
	if len(h.out) > 0 {
		if _, err := h.Conn.Write(h.out); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func (h *h2Conn) rewrites(typ http2.FrameType, flags http2.Flags) bool {
	switch typ {
	case http2.FrameHeaders, http2.FrameContinuation:
		return true
	case http2.FrameSettings:
		return !h.settingsOut && flags&http2.FlagSettingsAck == 0
	}
	return false
}

// frame rewrites one whole frame f (header and payload) into h.out.
func (h *h2Conn) frame(f []byte) error {
	typ, flags := http2.FrameType(f[3]), http2.Flags(f[4])
	stream := binary.BigEndian.Uint32(f[5:9]) & (1<<31 - 1)
	payload := f[frameHeaderLen:]
	switch typ {
	case http2.FrameSettings:
		h.settingsOut = true
		h.out = appendSettings(h.out, payload)
		return nil
	case http2.FrameHeaders:
		if flags.Has(http2.FlagHeadersPadded) {
			if len(payload) < 1 || int(payload[0]) >= len(payload) {
				return fmt.Errorf("http2: bad padding in HEADERS")
			}
			payload = payload[1 : len(payload)-int(payload[0])]
		}
		if flags.Has(http2.FlagHeadersPriority) {
			if len(payload) < 5 {
				return fmt.Errorf("http2: short HEADERS priority")
			}
			payload = payload[5:]
		}
		h.block = append(h.block[:0], payload...)
		h.stream, h.endStr = stream, flags.Has(http2.FlagHeadersEndStream)
	case http2.FrameContinuation:
		h.block = append(h.block, payload...)
	}
	if !flags.Has(http2.FlagHeadersEndHeaders) { // same bit for CONTINUATION
		return nil
	}
	return h.headers()
}

// appendSettings appends a SETTINGS frame with payload's values in Chrome's
// order.
func appendSettings(out, payload []byte) []byte {
	vals := map[http2.SettingID]uint32{}
	for i := 0; i+6 <= len(payload); i += 6 {
		vals[http2.SettingID(binary.BigEndian.Uint16(payload[i:]))] = binary.BigEndian.Uint32(payload[i+2:])
	}
	var body []byte
	for _, id := range h2Settings {
		if v, ok := vals[id]; ok {
			body = binary.BigEndian.AppendUint16(body, uint16(id))
			body = binary.BigEndian.AppendUint32(body, v)
			delete(vals, id)
		}
	}
	delete(vals, http2.SettingMaxFrameSize)
	// Anything else x/net may add one day keeps its meaning, after Chrome's.
	for _, id := range slices.Sorted(maps.Keys(vals)) {
		body = binary.BigEndian.AppendUint16(body, uint16(id))
		body = binary.BigEndian.AppendUint32(body, vals[id])
	}
	out = appendFrameHeader(out, len(body), http2.FrameSettings, 0, 0)
	return append(out, body...)
}

// headers re-encodes the collected block in Chrome's order.
func (h *h2Conn) headers() error {
	// Mirror x/net's table size updates (they open a block) on our encoder.
	for b := h.block; len(b) > 0 && b[0]&0xe0 == 0x20; {
		v, rest, ok := readVarInt(5, b)
		if !ok {
			break
		}
		h.enc.SetMaxDynamicTableSize(uint32(v))
		b = rest
	}
	fields, err := h.dec.DecodeFull(h.block)
	if err != nil {
		return fmt.Errorf("http2: decode our own headers: %w", err)
	}
	slices.SortStableFunc(fields, func(a, b hpack.HeaderField) int { return headerRank(a.Name) - headerRank(b.Name) })
	h.encBuf.Reset()
	for _, f := range fields {
		if err := h.enc.WriteField(f); err != nil {
			return err
		}
	}
	block := h.encBuf.Bytes()
	// First frame: priority (exclusive, depends on 0, weight 256) + block.
	first := min(len(block), maxOutFrame-5)
	flags := http2.FlagHeadersPriority
	if h.endStr {
		flags |= http2.FlagHeadersEndStream
	}
	if first == len(block) {
		flags |= http2.FlagHeadersEndHeaders
	}
	h.out = appendFrameHeader(h.out, 5+first, http2.FrameHeaders, flags, h.stream)
	h.out = append(h.out, 0x80, 0, 0, 0, 255)
	h.out = append(h.out, block[:first]...)
	for rest := block[first:]; len(rest) > 0; {
		k := min(len(rest), maxOutFrame)
		var fl http2.Flags
		if k == len(rest) {
			fl = http2.FlagContinuationEndHeaders
		}
		h.out = appendFrameHeader(h.out, k, http2.FrameContinuation, fl, h.stream)
		h.out = append(h.out, rest[:k]...)
		rest = rest[k:]
	}
	h.block = h.block[:0]
	return nil
}

// headerRank orders fields: pseudo-headers as Chrome, then chromeOrder,
// with unknown names where chromeOrder has "".
func headerRank(name string) int {
	if i := slices.Index(h2PseudoOrder, name); i >= 0 {
		return i
	}
	if i := slices.Index(chromeOrder, name); i >= 0 {
		return len(h2PseudoOrder) + i
	}
	return len(h2PseudoOrder) + slices.Index(chromeOrder, "")
}

func appendFrameHeader(b []byte, length int, typ http2.FrameType, flags http2.Flags, stream uint32) []byte {
	b = append(b, byte(length>>16), byte(length>>8), byte(length), byte(typ), byte(flags))
	return binary.BigEndian.AppendUint32(b, stream)
}

// readVarInt reads an HPACK integer with an n-bit prefix (RFC 7541 §5.1).
func readVarInt(n byte, p []byte) (uint64, []byte, bool) {
	if len(p) == 0 {
		return 0, p, false
	}
	v := uint64(p[0] & (1<<n - 1))
	if v < 1<<n-1 {
		return v, p[1:], true
	}
	p = p[1:]
	var m uint
	for len(p) > 0 && m < 63 {
		b := p[0]
		p = p[1:]
		v += uint64(b&127) << m
		if b&128 == 0 {
			return v, p, true
		}
		m += 7
	}
	return 0, p, false
}
