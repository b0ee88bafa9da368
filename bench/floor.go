package bench

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// floorServer is the physical floor: it accepts WebSocket clients with a
// minimal handshake, then writes each ping's frame to every socket with
// one raw write(2) per socket, sharded over the cores. No queues, no
// epoll, no allocation per delivery: what any broadcaster must at least
// spend, measured in the same run and by the same clients.
type floorServer struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn // kept so the fds stay open
	fds   []int

	passMu sync.Mutex
	passes []time.Duration // sender-side time of each write pass
	stalls int             // writes that hit a full socket buffer
}

func startFloor() (*server, *floorServer, error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("floor listen: %w", err)
	}
	f := &floorServer{ln: ln}
	f.wg.Add(1)
	go f.acceptLoop()
	s := &server{name: KindFloor, kind: KindFloor, keys: []string{"floor"}, pid: os.Getpid(),
		ws: &url.URL{Scheme: "ws", Host: ln.Addr().String(), Path: "/"}, client: newHTTPClient()}
	s.publish = f.publish
	s.stop = f.close
	return s, f, nil
}

func (f *floorServer) acceptLoop() {
	defer f.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(backoff) // EMFILE and friends: back off, do not spin
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		f.wg.Add(1)
		go func() { defer f.wg.Done(); f.handshake(c) }()
	}
}

func (f *floorServer) handshake(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := http.ReadRequest(bufio.NewReaderSize(c, 1024))
	if err != nil || !strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
		c.Close()
		return
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
	if _, err := c.Write([]byte(resp)); err != nil {
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	sc, ok := c.(syscall.Conn)
	if !ok {
		c.Close()
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		c.Close()
		return
	}
	fd := -1
	_ = raw.Control(func(u uintptr) { fd = int(u) })
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.fds = append(f.fds, fd)
	f.mu.Unlock()
}

// publish frames body once and writes it to every socket.
func (f *floorServer) publish(_ context.Context, body []byte) error {
	frame := appendServerFrame(make([]byte, 0, len(body)+10), body)
	f.mu.Lock()
	fds := f.fds
	f.mu.Unlock()
	shards := runtime.NumCPU()
	var wg sync.WaitGroup
	var stalls [64]int
	start := time.Now()
	for s := 0; s < shards && s < 64; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := s; i < len(fds); i += shards {
				if !writeFrame(fds[i], frame) {
					stalls[s]++
				}
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	f.passMu.Lock()
	f.passes = append(f.passes, d)
	for _, n := range stalls {
		f.stalls += n
	}
	f.passMu.Unlock()
	return nil
}

// writeFrame writes the whole frame; it reports false when the socket
// buffer was full at least once (a client not keeping up).
func writeFrame(fd int, b []byte) bool {
	clean := true
	for tries := 0; len(b) > 0 && tries < 1000; {
		n, errno := rawWrite(fd, b)
		switch {
		case errno == syscall.EINTR:
			continue
		case errno == syscall.EAGAIN:
			clean = false
			tries++
			time.Sleep(100 * time.Microsecond)
			continue
		case errno != 0:
			return false
		}
		b = b[n:]
	}
	return clean
}

// passStats returns the median and maximum sender-side pass times since
// the last call, and resets them.
func (f *floorServer) passStats() (p50, maxd time.Duration, n int) {
	f.passMu.Lock()
	ps := append([]time.Duration(nil), f.passes...)
	f.passes = f.passes[:0]
	f.passMu.Unlock()
	if len(ps) == 0 {
		return 0, 0, 0
	}
	sortDurations(ps)
	return ps[len(ps)/2], ps[len(ps)-1], len(ps)
}

func (f *floorServer) close() error {
	err := f.ln.Close()
	f.wg.Wait()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns, f.fds = nil, nil
	f.mu.Unlock()
	return err
}

// appendServerFrame appends an unmasked text frame holding payload.
func appendServerFrame(dst, payload []byte) []byte {
	n := len(payload)
	switch {
	case n <= 125:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x81, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x81, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, payload...)
}
