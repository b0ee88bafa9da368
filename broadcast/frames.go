package broadcast

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// clientFrame is one parsed client frame. payload is unmasked in place and
// aliases the read buffer: valid until the next read.
type clientFrame struct {
	fin     bool
	op      ws.OpCode
	payload []byte
}

// protoError is a client protocol violation, answered with a close frame
// carrying code and reason.
type protoError struct {
	code   ws.StatusCode
	reason string
}

func (e *protoError) Error() string { return e.reason }

var (
	errReserved  = &protoError{ws.StatusProtocolError, "reserved bits set"}
	errOpCode    = &protoError{ws.StatusProtocolError, "unknown opcode"}
	errUnmasked  = &protoError{ws.StatusProtocolError, "unmasked client frame"}
	errControl   = &protoError{ws.StatusProtocolError, "bad control frame"}
	errLength    = &protoError{ws.StatusProtocolError, "bad frame length"}
	errTooBig    = &protoError{ws.StatusMessageTooBig, "frame too big"}
	errCloseBody = &protoError{ws.StatusProtocolError, "bad close payload"}
	errCloseCode = &protoError{ws.StatusProtocolError, "bad close code"}
)

// maxHeaderSize is the largest client frame header: 2 + 8 (length) + 4 (mask).
const maxHeaderSize = 14

// parseFrame parses one client frame at the start of b, with payloads
// limited to limit bytes. It returns n == 0 and no error when b holds only
// part of a frame. The length is checked from the header alone, so a
// hostile 1 GB length is refused before a byte of it is buffered. The
// payload is unmasked in place (b is modified).
func parseFrame(b []byte, limit int) (f clientFrame, n int, err *protoError) {
	if len(b) < 2 {
		return f, 0, nil
	}
	b0, b1 := b[0], b[1]
	if b0&0x70 != 0 {
		return f, 0, errReserved
	}
	f.fin = b0&0x80 != 0
	f.op = ws.OpCode(b0 & 0x0f)
	switch f.op {
	case ws.OpContinuation, ws.OpText, ws.OpBinary:
	case ws.OpClose, ws.OpPing, ws.OpPong:
		if !f.fin || b1&0x7f > 125 {
			return f, 0, errControl
		}
	default:
		return f, 0, errOpCode
	}
	if b1&0x80 == 0 {
		return f, 0, errUnmasked
	}
	hdr := 2
	var length uint64
	switch l := b1 & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return f, 0, nil
		}
		length = uint64(binary.BigEndian.Uint16(b[2:4]))
		hdr = 4
	case 127:
		if len(b) < 10 {
			return f, 0, nil
		}
		length = binary.BigEndian.Uint64(b[2:10])
		if length>>63 != 0 {
			return f, 0, errLength
		}
		hdr = 10
	default:
		length = uint64(l)
	}
	if length > uint64(limit) {
		return f, 0, errTooBig
	}
	total := hdr + 4 + int(length)
	if len(b) < total {
		return f, 0, nil
	}
	var mask [4]byte
	copy(mask[:], b[hdr:hdr+4])
	f.payload = b[hdr+4 : total]
	ws.Cipher(f.payload, mask, 0)
	return f, total, nil
}

// closeCode validates a client close payload and returns the code to echo
// (0 when the client sent no code).
func closeCode(p []byte) (ws.StatusCode, *protoError) {
	switch {
	case len(p) == 0:
		return 0, nil
	case len(p) == 1:
		return 0, errCloseBody
	}
	code := ws.StatusCode(binary.BigEndian.Uint16(p))
	if code < 1000 || code.IsNotUsed() || code.IsProtocolReserved() || (code >= 1016 && code < 3000) || code >= 5000 {
		return 0, errCloseCode
	}
	return code, nil
}

// isJSONPing reports whether p is the application ping {"type":"ping"},
// ignoring JSON whitespace, without allocating.
func isJSONPing(p []byte) bool {
	const want = `{"type":"ping"}`
	i := 0
	for _, c := range p {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		if i >= len(want) || want[i] != c {
			return false
		}
		i++
	}
	return i == len(want)
}

// appendClose appends a close frame with code and reason (cut to fit the
// 125-byte control payload). Code 0 means an empty close body.
func appendClose(dst []byte, code ws.StatusCode, reason string) []byte {
	if code == 0 {
		return append(dst, 0x88, 0)
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	dst = append(dst, 0x88, byte(2+len(reason)), byte(code>>8), byte(code))
	return append(dst, reason...)
}

// appendControl appends an unmasked control frame (ping/pong) of op with
// payload p (at most 125 bytes, as the parser guarantees).
func appendControl(dst []byte, op ws.OpCode, p []byte) []byte {
	dst = append(dst, 0x80|byte(op), byte(len(p)))
	return append(dst, p...)
}

// Frames compiled once and shared by every connection.
var (
	framePing     = ws.MustCompileFrame(ws.NewPingFrame(nil))
	frameJSONPong = ws.MustCompileFrame(ws.NewTextFrame([]byte(`{"type":"pong"}`)))
)
