package abuse

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// dialFrom opens a TCP connection to addr from the source address src
// ("" = any). rcvbuf > 0 shrinks the receive buffer before connecting, to
// make a slow reader.
func dialFrom(ctx context.Context, src, addr string, rcvbuf int) (net.Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, serr)
		}
	}
	return d.DialContext(ctx, "tcp", addr)
}

// DialWS upgrades a connection to ws://addr/?key=key from src. The
// returned reader holds any bytes that came with the 101 answer.
func DialWS(ctx context.Context, src, addr, key string) (net.Conn, *bufio.Reader, error) {
	d := ws.Dialer{
		Timeout: 5 * time.Second,
		NetDial: func(ctx context.Context, _, a string) (net.Conn, error) { return dialFrom(ctx, src, a, 0) },
	}
	conn, br, _, err := d.Dial(ctx, "ws://"+addr+"/?key="+key)
	if err != nil {
		return nil, nil, err
	}
	if br == nil {
		br = bufio.NewReader(conn)
	}
	return conn, br, nil
}

// upgradeRequest builds a WebSocket upgrade request for uri with extra
// header lines (each without CRLF).
func upgradeRequest(host, uri string, extra ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n", uri, host)
	for _, h := range extra {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// outcome is how the server answered raw bytes.
type outcome struct {
	status int           // HTTP status, 0 when the server closed without one
	took   time.Duration // from the last byte sent to the answer or close
	err    error         // read error other than a close
}

func (o outcome) String() string {
	if o.status != 0 {
		return fmt.Sprint(o.status)
	}
	if o.err != nil {
		return "err:" + o.err.Error()
	}
	return "closed"
}

// refused is true when the server answered with a 4xx (or 505 HTTP
// Version Not Supported, for an HTTP/1.0 or HTTP/2 request) or closed
// without upgrading. A 5xx other than 505 is a server fault.
func (o outcome) refused() bool {
	return o.err == nil && (o.status == 0 || o.status >= 400 && o.status < 500 || o.status == 505)
}

// sendRaw writes raw to a fresh connection from src and reads the answer
// for up to wait.
func sendRaw(ctx context.Context, src, addr string, raw []byte, wait time.Duration) outcome {
	c, err := dialFrom(ctx, src, addr, 0)
	if err != nil {
		return outcome{err: err}
	}
	defer c.Close()
	_ = c.SetWriteDeadline(time.Now().Add(wait))
	if _, err := c.Write(raw); err != nil && !isClosed(err) {
		return outcome{err: fmt.Errorf("write: %w", err)}
	}
	return readAnswer(c, time.Now(), wait)
}

// readAnswer reads an HTTP status line, or notices the server closing.
func readAnswer(c net.Conn, since time.Time, wait time.Duration) outcome {
	_ = c.SetReadDeadline(since.Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	o := outcome{took: time.Since(since)}
	switch {
	case err == nil:
		resp.Body.Close()
		o.status = resp.StatusCode
	case isClosed(err):
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			o.err = fmt.Errorf("no answer within %s", wait)
		} else {
			o.err = err
		}
	}
	return o
}

// isClosed reports an error meaning the peer closed or reset.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// frame builds one client frame. mask false leaves it unmasked (invalid).
func frame(fin bool, rsv, op byte, payload []byte, mask bool) []byte {
	b0 := op&0x0f | rsv<<4&0x70
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0, 0}
	switch n := len(payload); {
	case n < 126:
		out[1] = byte(n)
	case n < 1<<16:
		out[1] = 126
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out[1] = 127
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !mask {
		return append(out, payload...)
	}
	out[1] |= 0x80
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, payload...)
	ws.Cipher(out[start:], key, 0)
	return out
}

// closeFrame builds a masked close frame with code (0: empty body).
func closeFrame(code uint16, reason string) []byte {
	if code == 0 {
		return frame(true, 0, 0x8, nil, true)
	}
	return frame(true, 0, 0x8, append(binary.BigEndian.AppendUint16(nil, code), reason...), true)
}

// serverEnd is how a server ended (or did not end) a connection.
type serverEnd struct {
	code     int // close code, 0 without a close frame
	closed   bool
	timedOut bool // the wait ran out with the connection open
	pongs    int  // pong frames seen
	texts    int  // text frames seen
	reply    []byte
	err      error
}

// readUntilClose reads server frames until a close frame or EOF, for up
// to wait, counting what it skipped. stopText, when set, ends the read
// at the first text frame it accepts.
func readUntilClose(c net.Conn, br *bufio.Reader, wait time.Duration, stopText func([]byte) bool) serverEnd {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var end serverEnd
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			return ended(end, err, wait)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(br, p); err != nil {
			return ended(end, err, wait)
		}
		switch h.OpCode {
		case ws.OpClose:
			end.closed = true
			if len(p) >= 2 {
				end.code = int(binary.BigEndian.Uint16(p))
			}
			return end
		case ws.OpPong:
			end.pongs++
		case ws.OpText:
			end.texts++
			if stopText != nil && stopText(p) {
				end.reply = p
				return end
			}
		}
	}
}

func ended(end serverEnd, err error, wait time.Duration) serverEnd {
	if isClosed(err) {
		end.closed = true
		return end
	}
	end.err = timeoutOr(err, wait)
	end.timedOut = errors.Is(end.err, errTimedOut)
	return end
}

func timeoutOr(err error, wait time.Duration) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: server did not close within %s", errTimedOut, wait)
	}
	return err
}

var errTimedOut = errors.New("timed out")

// probe measures what a new customer sees: a full upgrade with a good key
// from 127.0.0.1, within limit. It returns the time taken.
func probe(ctx context.Context, addr, key string, limit time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	start := time.Now()
	c, _, err := DialWS(ctx, "127.0.0.1", addr, key)
	took := time.Since(start)
	if err != nil {
		return took, err
	}
	_ = c.Close()
	return took, nil
}

// quantile returns the q-quantile (0..1) of ds, nearest rank.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// WaitClosed waits up to wait for the server to end c (a close frame or
// EOF), skipping the data frames it still sends.
func WaitClosed(c net.Conn, br *bufio.Reader, wait time.Duration) error {
	end := readUntilClose(c, br, wait, nil)
	if !end.closed {
		return end.err
	}
	return nil
}

// DrainFor reads server frames for d and returns how many text frames
// arrived. It stops early, with an error, if the server ends c.
func DrainFor(c net.Conn, br *bufio.Reader, d time.Duration) (int, error) {
	end := readUntilClose(c, br, d, nil)
	if end.timedOut {
		return end.texts, nil // the normal end
	}
	if end.closed {
		return end.texts, fmt.Errorf("server closed the connection (code %d)", end.code)
	}
	return end.texts, end.err
}
