package fetch

import (
	"bytes"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// h1Conn puts the header lines of net/http's HTTP/1.1 request heads in
// Chrome's order (net/http writes Host and User-Agent first, then the rest
// sorted by name); names keep the case they were given. Request bodies
// pass through: after a head with Content-Length that many bytes, and
// after a chunked one everything (the conn then leaves heads as they are;
// monitors send GETs, so this does not happen in practice).
type h1Conn struct {
	net.Conn

	mu       sync.Mutex
	head     []byte // a request head being collected
	passLeft int64  // body bytes to forward as they are
	passAll  bool
	out      []byte
}

func newH1Conn(c net.Conn) *h1Conn { return &h1Conn{Conn: c} }

// maxHead bounds a head in collection; past it the conn stops rewriting
// rather than buffer without end.
const maxHead = 256 << 10

func (c *h1Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.out = c.out[:0]
	for len(p) > 0 {
		if c.passAll {
			c.out = append(c.out, p...)
			break
		}
		if c.passLeft > 0 {
			k := int(min(c.passLeft, int64(len(p))))
			c.out = append(c.out, p[:k]...)
			c.passLeft -= int64(k)
			p = p[k:]
			continue
		}
		from := max(len(c.head)-3, 0)
		c.head = append(c.head, p...)
		p = nil
		end := bytes.Index(c.head[from:], []byte("\r\n\r\n"))
		if end < 0 {
			if len(c.head) > maxHead {
				c.passAll = true
				c.out = append(c.out, c.head...)
				c.head = c.head[:0]
			}
			break
		}
		end += from + 4
		var body int64
		c.out, body, c.passAll = appendChromeHead(c.out, c.head[:end])
		c.passLeft = body
		// What follows the head (its body, the next request) goes round again.
		p = slices.Clone(c.head[end:])
		c.head = c.head[:0]
	}
	if len(c.out) > 0 {
		if _, err := c.Conn.Write(c.out); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// appendChromeHead appends head (request line, header lines, blank line)
// with its header lines reordered, and reports its body length and
// whether the body is chunked.
func appendChromeHead(out, head []byte) ([]byte, int64, bool) {
	lines := strings.Split(strings.TrimSuffix(string(head), "\r\n\r\n"), "\r\n")
	fields := lines[1:]
	var body int64
	chunked := false
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		switch strings.ToLower(name) {
		case "content-length":
			body, _ = strconv.ParseInt(strings.TrimSpace(value), 10, 64)
		case "transfer-encoding":
			chunked = true
		}
	}
	slices.SortStableFunc(fields, func(a, b string) int { return h1Rank(a) - h1Rank(b) })
	out = append(out, lines[0]...)
	for _, f := range fields {
		out = append(out, "\r\n"...)
		out = append(out, f...)
	}
	return append(out, "\r\n\r\n"...), body, chunked
}

// h1Rank: Host and Connection open Chrome's HTTP/1.1 heads; the rest
// follows the HTTP/2 order.
func h1Rank(line string) int {
	name, _, _ := strings.Cut(line, ":")
	switch name = strings.ToLower(name); name {
	case "host":
		return 0
	case "connection":
		return 1
	}
	return 2 + headerRank(name)
}
