package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// WebSocket opcodes the client reacts to.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// DefaultMaxFrame bounds one frame's payload. Pings are ~600 bytes; a
// server sending megabytes is broken, and the client must not buffer it.
const DefaultMaxFrame = 1 << 20

var (
	errMaskedFrame = errors.New("server frame is masked (RFC 6455 5.1 forbids it)")
	errReserved    = errors.New("reserved bits set without an extension")
	errBadOpcode   = errors.New("reserved opcode")
	errControlSize = errors.New("control frame longer than 125 bytes or fragmented")
)

// Frame is one parsed frame. Payload aliases the scanner's input or its
// carry buffer: valid only during the callback.
type Frame struct {
	Fin     bool
	OpCode  byte
	Payload []byte
}

// FrameScanner splits a server-to-client WebSocket byte stream into frames
// across arbitrary read boundaries. The zero value is ready to use. It
// allocates only when a frame straddles two reads, and then reuses its
// carry buffer, so the steady state is allocation-free.
type FrameScanner struct {
	// MaxPayload bounds one frame's payload; 0 means DefaultMaxFrame.
	MaxPayload int
	carry      []byte
}

// Pending reports how many bytes of an incomplete frame are buffered.
func (s *FrameScanner) Pending() int { return len(s.carry) }

// Feed consumes data (which it does not retain), calling fn for every
// complete frame in order. After an error the stream is unusable: the
// caller closes the connection.
func (s *FrameScanner) Feed(data []byte, fn func(Frame)) error {
	if len(s.carry) > 0 {
		// Complete the straddling frame first, taking only the bytes it
		// needs so that the rest is parsed in place without copying.
		for {
			need, err := s.frameLen(s.carry)
			if err != nil {
				return err
			}
			if need == 0 { // header itself incomplete: take one more byte
				if len(data) == 0 {
					return nil
				}
				s.carry = append(s.carry, data[0])
				data = data[1:]
				continue
			}
			take := need - len(s.carry)
			if take > len(data) {
				s.carry = append(s.carry, data...)
				return nil
			}
			s.carry = append(s.carry, data[:take]...)
			data = data[take:]
			if _, err := s.emit(s.carry, fn); err != nil {
				return err
			}
			s.carry = s.carry[:0]
			break
		}
	}
	for len(data) > 0 {
		n, err := s.emit(data, fn)
		if err != nil {
			return err
		}
		if n == 0 {
			s.carry = append(s.carry[:0], data...)
			return nil
		}
		data = data[n:]
	}
	return nil
}

// emit parses one frame at the start of b and calls fn; it returns the
// frame's length, or 0 when b holds no complete frame.
func (s *FrameScanner) emit(b []byte, fn func(Frame)) (int, error) {
	total, err := s.frameLen(b)
	if err != nil || total == 0 || total > len(b) {
		return 0, err
	}
	hdr := total - payloadLen(b)
	fn(Frame{Fin: b[0]&0x80 != 0, OpCode: b[0] & 0x0f, Payload: b[hdr:total]})
	return total, nil
}

// frameLen returns the full length of the frame starting at b, 0 when the
// header is not complete yet, or a protocol error.
func (s *FrameScanner) frameLen(b []byte) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	if b[0]&0x70 != 0 {
		return 0, errReserved
	}
	op := b[0] & 0x0f
	switch op {
	case opContinuation, opText, opBinary:
	case opClose, opPing, opPong:
		if b[0]&0x80 == 0 || b[1]&0x7f > 125 {
			return 0, errControlSize
		}
	default:
		return 0, errBadOpcode
	}
	if b[1]&0x80 != 0 {
		return 0, errMaskedFrame
	}
	hdr, n := 2, uint64(b[1]&0x7f)
	switch n {
	case 126:
		if len(b) < 4 {
			return 0, nil
		}
		hdr, n = 4, uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		if len(b) < 10 {
			return 0, nil
		}
		hdr, n = 10, binary.BigEndian.Uint64(b[2:10])
	}
	max := s.MaxPayload
	if max <= 0 {
		max = DefaultMaxFrame
	}
	if n > uint64(max) {
		return 0, fmt.Errorf("frame payload of %d bytes exceeds the %d-byte limit", n, max)
	}
	return hdr + int(n), nil
}

// payloadLen reads the payload length of a frame whose header is complete
// and already validated by frameLen.
func payloadLen(b []byte) int {
	switch n := int(b[1] & 0x7f); n {
	case 126:
		return int(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		return int(binary.BigEndian.Uint64(b[2:10]))
	default:
		return n
	}
}

// appendClientFrame appends a masked client frame (pong, close) to dst.
// The mask key is fixed: it guards proxies against cache poisoning, which
// loopback benchmarks have no use for, and a fixed key allocates nothing.
func appendClientFrame(dst []byte, op byte, payload []byte) []byte {
	mask := [4]byte{0x12, 0x34, 0x56, 0x78}
	dst = append(dst, 0x80|op, 0x80|byte(len(payload)))
	dst = append(dst, mask[:]...)
	for i, c := range payload {
		dst = append(dst, c^mask[i&3])
	}
	return dst
}
