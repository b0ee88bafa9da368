package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ClientEnv marks a process as a bench client: the harness re-executes its
// own binary with this variable set, and the binary's entry point must
// call ClientMain (bench.Main and the test binaries do it themselves).
const ClientEnv = "STELLARFEED_BENCH_CLIENT"

// IsClientProcess reports whether this process was started as a client.
func IsClientProcess() bool { return os.Getenv(ClientEnv) == "1" }

// clientConfig is what the harness sends a client process on stdin.
type clientConfig struct {
	Addr      string        `json:"addr"`      // ws host:port
	Path      string        `json:"path"`      // request path before ?key=
	Keys      []string      `json:"keys"`      // connection i uses Keys[i%len]
	Conns     int           `json:"conns"`     // connections to open
	First     int           `json:"first"`     // index of the first connection overall
	SrcIPs    []string      `json:"src_ips"`   // local addresses to bind, round robin
	Pings     int           `json:"pings"`     // sequence numbers tracked: 0..Pings-1
	Readers   int           `json:"readers"`   // epoll reader goroutines
	Dialers   int           `json:"dialers"`   // concurrent handshakes
	Handshake time.Duration `json:"handshake"` // per-connection connect+upgrade timeout
	MaxFrame  int           `json:"max_frame"` // payload limit per frame
	Progress  time.Duration `json:"progress"`  // progress report period
}

// clientEvent is one line a client process writes on stdout.
type clientEvent struct {
	Ev          string      `json:"ev"` // connected, progress, mark, result, error
	OK          int         `json:"ok,omitempty"`
	Failed      int         `json:"failed,omitempty"`
	FirstErr    string      `json:"first_err,omitempty"`
	ConnectUS   int64       `json:"connect_us,omitempty"`
	Recv        uint64      `json:"recv"`
	Dups        uint64      `json:"dups,omitempty"`
	Closed      int64       `json:"closed,omitempty"`
	Unparsed    uint64      `json:"unparsed,omitempty"`
	ProtoErrors int64       `json:"proto_errors,omitempty"`
	CPUUS       int64       `json:"cpu_us,omitempty"`
	Pings       []pingCount `json:"pings,omitempty"`
}

// pingCount is one client process's view of one ping.
type pingCount struct {
	Deliveries uint64 `json:"d"`
	Duplicates uint64 `json:"dup,omitempty"`
	Hist       Hist   `json:"h"`
}

// The upgrade request uses one fixed nonce: servers only echo its hash, so
// a fixed key costs nothing and the expected accept value is a constant.
const (
	wsKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	wsAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// ClientMain runs a client process: config on stdin, events on stdout,
// commands ("mark", "result") on stdin; stdin EOF ends it. It returns the
// process exit code.
func ClientMain() int {
	in := bufio.NewReader(os.Stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench client: read config:", err)
		return 2
	}
	var cfg clientConfig
	if err := json.Unmarshal(line, &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench client: decode config:", err)
		return 2
	}
	c := newClient(cfg, os.Stdout)
	if err := c.run(in); err != nil {
		fmt.Fprintln(os.Stderr, "bench client:", err)
		return 1
	}
	return 0
}

// wsConn is one client connection: its fd, its frame scanner and one bit
// per ping to tell duplicates from first deliveries. About 100 bytes each.
type wsConn struct {
	fd     int
	scan   FrameScanner
	seen   []uint64
	pre    []byte // bytes that came with the 101 response
	closed bool
}

type client struct {
	cfg     clientConfig
	out     io.Writer
	outMu   sync.Mutex
	conns   []*wsConn
	readers []*reader
	stop    atomic.Bool
}

func newClient(cfg clientConfig, out io.Writer) *client {
	if cfg.Readers <= 0 {
		cfg.Readers = 2
	}
	if cfg.Dialers <= 0 {
		cfg.Dialers = 32
	}
	if cfg.Handshake <= 0 {
		cfg.Handshake = 10 * time.Second
	}
	if cfg.Progress <= 0 {
		cfg.Progress = 50 * time.Millisecond
	}
	if cfg.Path == "" {
		cfg.Path = "/"
	}
	return &client{cfg: cfg, out: out}
}

func (c *client) emit(ev clientEvent) {
	b, _ := json.Marshal(ev)
	c.outMu.Lock()
	defer c.outMu.Unlock()
	_, _ = c.out.Write(append(b, '\n'))
}

func (c *client) run(in *bufio.Reader) error {
	start := time.Now()
	ok, failed, firstErr := c.connectAll()
	c.emit(clientEvent{Ev: "connected", OK: ok, Failed: failed, FirstErr: firstErr,
		ConnectUS: time.Since(start).Microseconds(), CPUUS: cpuUS()})
	defer c.closeAll()
	if err := c.startReaders(); err != nil {
		return err
	}
	var wg sync.WaitGroup
	defer func() { c.stop.Store(true); wg.Wait() }()
	for _, r := range c.readers {
		wg.Add(1)
		go func() { defer wg.Done(); r.loop() }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.progressLoop() }()
	for {
		line, err := in.ReadString('\n')
		switch strings.TrimSpace(line) {
		case "mark":
			ev := c.totals()
			ev.Ev, ev.CPUUS = "mark", cpuUS()
			c.emit(ev)
		case "result":
			ev := c.totals()
			ev.Ev, ev.CPUUS, ev.Pings = "result", cpuUS(), c.merged()
			c.emit(ev)
		}
		if err != nil { // EOF: the harness is done or gone
			return nil
		}
	}
}

func (c *client) progressLoop() {
	t := time.NewTicker(c.cfg.Progress)
	defer t.Stop()
	var last clientEvent
	for !c.stop.Load() {
		<-t.C
		ev := c.totals()
		ev.Ev = "progress"
		if ev.Recv != last.Recv || ev.Dups != last.Dups || ev.Closed != last.Closed ||
			ev.Unparsed != last.Unparsed || ev.ProtoErrors != last.ProtoErrors {
			c.emit(ev)
			last = ev
		}
	}
}

// totals sums the readers' live counters (atomics: read while they run).
func (c *client) totals() clientEvent {
	var ev clientEvent
	for _, r := range c.readers {
		ev.Recv += r.recv.Load()
		ev.Dups += r.dups.Load()
		ev.Closed += r.closed.Load()
		ev.Unparsed += r.unparsed.Load()
		ev.ProtoErrors += r.protoErrs.Load()
	}
	return ev
}

// merged combines per-reader per-ping stats. Called while readers run, it
// may race with Hist updates; the harness asks only after deliveries stop,
// and the readers' mutex makes the copy consistent.
func (c *client) merged() []pingCount {
	out := make([]pingCount, c.cfg.Pings)
	for _, r := range c.readers {
		r.mu.Lock()
		for i := range r.pings {
			out[i].Deliveries += r.pings[i].Deliveries
			out[i].Duplicates += r.pings[i].Duplicates
			out[i].Hist.Merge(&r.pings[i].Hist)
		}
		r.mu.Unlock()
	}
	for i := range out {
		out[i].Hist.trim()
	}
	return out
}

func (c *client) connectAll() (ok, failed int, firstErr string) {
	c.conns = make([]*wsConn, c.cfg.Conns)
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < min(c.cfg.Dialers, c.cfg.Conns); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= c.cfg.Conns {
					return
				}
				wc, err := c.dial(c.cfg.First + i)
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == "" {
						firstErr = err.Error()
					}
				} else {
					ok++
					c.conns[i] = wc
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ok, failed, firstErr
}

// ipBindAddressNoPort lets connect pick the source port for the full
// 4-tuple, so each source address can reuse ports across destinations.
const ipBindAddressNoPort = 24

// dial opens connection i with blocking syscalls bounded by SO_SNDTIMEO and
// SO_RCVTIMEO (no Go netpoller: one fd per connection, nothing else), then
// performs the upgrade and leaves the socket non-blocking.
func (c *client) dial(i int) (*wsConn, error) {
	dst, err := net.ResolveTCPAddr("tcp4", c.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", c.cfg.Addr, err)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	fail := func(what string, err error) (*wsConn, error) {
		syscall.Close(fd)
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	tv := syscall.NsecToTimeval(c.cfg.Handshake.Nanoseconds())
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	if len(c.cfg.SrcIPs) > 0 {
		src := net.ParseIP(c.cfg.SrcIPs[i%len(c.cfg.SrcIPs)]).To4()
		if src == nil {
			return fail("source address", fmt.Errorf("%q is not IPv4", c.cfg.SrcIPs[i%len(c.cfg.SrcIPs)]))
		}
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		sa := &syscall.SockaddrInet4{}
		copy(sa.Addr[:], src)
		if err := syscall.Bind(fd, sa); err != nil {
			return fail("bind "+src.String(), err)
		}
	}
	sa := &syscall.SockaddrInet4{Port: dst.Port}
	copy(sa.Addr[:], dst.IP.To4())
	if err := retryEINTR(func() error { return syscall.Connect(fd, sa) }); err != nil {
		return fail("connect "+c.cfg.Addr, err)
	}
	key := ""
	if len(c.cfg.Keys) > 0 {
		key = c.cfg.Keys[i%len(c.cfg.Keys)]
	}
	req := "GET " + c.cfg.Path + "?key=" + url.QueryEscape(key) + " HTTP/1.1\r\nHost: " + c.cfg.Addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + wsKey +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if err := writeAll(fd, []byte(req)); err != nil {
		return fail("send upgrade", err)
	}
	buf := make([]byte, 0, 1024)
	tmp := make([]byte, 1024)
	for {
		n, err := syscall.Read(fd, tmp)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail("read upgrade response", err)
		}
		if n == 0 {
			return fail("read upgrade response", io.ErrUnexpectedEOF)
		}
		buf = append(buf, tmp[:n]...)
		if end := bytes.Index(buf, []byte("\r\n\r\n")); end >= 0 {
			if err := checkUpgrade(buf[:end]); err != nil {
				return fail("upgrade", err)
			}
			wc := &wsConn{fd: fd, seen: make([]uint64, (c.cfg.Pings+63)/64)}
			wc.scan.MaxPayload = c.cfg.MaxFrame
			if rest := buf[end+4:]; len(rest) > 0 {
				wc.pre = append([]byte(nil), rest...)
			}
			if err := syscall.SetNonblock(fd, true); err != nil {
				return fail("set non-blocking", err)
			}
			return wc, nil
		}
		if len(buf) > 8<<10 {
			return fail("upgrade", errors.New("response header larger than 8 KiB"))
		}
	}
}

// checkUpgrade validates the server's 101 response head.
func checkUpgrade(head []byte) error {
	lines := strings.Split(string(head), "\r\n")
	if f := strings.Fields(lines[0]); len(f) < 2 || f[1] != "101" {
		return fmt.Errorf("server answered %q, want 101", lines[0])
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "Sec-WebSocket-Accept") {
			if strings.TrimSpace(v) != wsAccept {
				return fmt.Errorf("Sec-WebSocket-Accept %q, want %q", strings.TrimSpace(v), wsAccept)
			}
			return nil
		}
	}
	return errors.New("101 response without Sec-WebSocket-Accept")
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); err != syscall.EINTR {
			return err
		}
	}
}

// writeAll writes b to a blocking or non-blocking fd, waiting out EAGAIN
// briefly (only pongs and close frames are written after the upgrade).
func writeAll(fd int, b []byte) error {
	for tries := 0; len(b) > 0; {
		n, err := syscall.Write(fd, b)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			if tries++; tries > 100 {
				return err
			}
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

func (c *client) startReaders() error {
	c.readers = make([]*reader, c.cfg.Readers)
	for i := range c.readers {
		efd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			for _, r := range c.readers[:i] {
				syscall.Close(r.efd)
			}
			return fmt.Errorf("epoll_create1: %w", err)
		}
		r := &reader{c: c, efd: efd, buf: make([]byte, 64<<10), pings: make([]pingCount, c.cfg.Pings)}
		r.fn = r.onFrame
		c.readers[i] = r
	}
	for i, wc := range c.conns {
		if wc == nil {
			continue
		}
		r := c.readers[i%len(c.readers)]
		if len(wc.pre) > 0 {
			r.now = time.Now().UnixNano()
			r.feed(wc, wc.pre)
			wc.pre = nil
		}
		if wc.closed {
			continue
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(i)}
		if err := syscall.EpollCtl(r.efd, syscall.EPOLL_CTL_ADD, wc.fd, &ev); err != nil {
			return fmt.Errorf("epoll_ctl add: %w", err)
		}
	}
	return nil
}

func (c *client) closeAll() {
	for _, wc := range c.conns {
		if wc != nil && !wc.closed {
			wc.closed = true
			syscall.Close(wc.fd)
		}
	}
	for _, r := range c.readers {
		syscall.Close(r.efd)
	}
}

// reader owns one epoll set and the per-ping stats of its connections.
type reader struct {
	c         *client
	efd       int
	buf       []byte
	fn        func(Frame) // r.onFrame, bound once: no closure per read
	cur       *wsConn
	now       int64
	out       []byte // pong scratch
	mu        sync.Mutex
	pings     []pingCount
	recv      atomic.Uint64
	dups      atomic.Uint64
	unparsed  atomic.Uint64
	closed    atomic.Int64
	protoErrs atomic.Int64
}

func (r *reader) loop() {
	events := make([]syscall.EpollEvent, 256)
	for !r.c.stop.Load() {
		n, err := syscall.EpollWait(r.efd, events, 50)
		if err != nil {
			if err == syscall.EINTR {
				continue // async preemption signals interrupt epoll_wait
			}
			return
		}
		for _, ev := range events[:n] {
			wc := r.c.conns[ev.Fd]
			if wc.closed {
				continue
			}
			m, errno := rawRead(wc.fd, r.buf)
			switch {
			case errno == syscall.EAGAIN || errno == syscall.EINTR:
				continue
			case errno != 0 || m == 0:
				r.drop(wc)
				continue
			}
			r.now = time.Now().UnixNano() // one clock read per read: every frame in it arrived by now
			r.feed(wc, r.buf[:m])
		}
	}
}

func (r *reader) feed(wc *wsConn, b []byte) {
	r.cur = wc
	r.mu.Lock()
	err := wc.scan.Feed(b, r.fn)
	r.mu.Unlock()
	if err != nil {
		r.protoErrs.Add(1)
		r.drop(wc)
		return
	}
	if wc.closed { // a close frame arrived
		r.drop(wc)
	}
}

func (r *reader) drop(wc *wsConn) {
	if wc.fd < 0 {
		return
	}
	_ = syscall.EpollCtl(r.efd, syscall.EPOLL_CTL_DEL, wc.fd, nil)
	syscall.Close(wc.fd)
	wc.fd, wc.closed = -1, true
	r.closed.Add(1)
}

func (r *reader) onFrame(f Frame) {
	wc := r.cur
	switch f.OpCode {
	case opText, opBinary:
		seq, sent, ok := parseMarker(f.Payload)
		if !ok || seq < 0 || seq >= len(r.pings) {
			r.unparsed.Add(1)
			return
		}
		word, bit := seq/64, uint64(1)<<(seq%64)
		p := &r.pings[seq]
		if wc.seen[word]&bit != 0 {
			p.Duplicates++
			r.dups.Add(1)
			return
		}
		wc.seen[word] |= bit
		p.Deliveries++
		p.Hist.Add(time.Duration(r.now - sent))
		r.recv.Add(1)
	case opPing:
		r.out = appendClientFrame(r.out[:0], opPong, f.Payload)
		_ = writeAll(wc.fd, r.out)
	case opClose:
		r.out = appendClientFrame(r.out[:0], opClose, nil)
		_ = writeAll(wc.fd, r.out)
		wc.closed = true
	}
	// Continuation frames carry the rest of a fragmented message whose
	// first frame held the marker; pongs need nothing.
}

// cpuUS is this process's user+system CPU time.
func cpuUS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano()/1000 + ru.Stime.Nano()/1000
}
