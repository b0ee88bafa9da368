package broadcast

import (
	"bytes"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/mailru/easygo/netpoll"
	"golang.org/x/sys/unix"
)

// Handshakes run on the poller, not on a goroutine each (see doc.go):
// accept registers the new fd with epoll at once, readable events feed a
// small pooled buffer, a complete request goes to a worker for the
// upgrade, and one sweeper closes what passed its deadline.

// Limits of the handshake.
const (
	// maxRequestBytes caps the request line and headers, terminator
	// included: past it the client gets 431 and is closed.
	maxRequestBytes = 8 << 10
	// hsSmallBuf is the first buffer a handshake gets (most requests are
	// 200-500 bytes); it grows to hsBigBuf only when needed, so 3,000
	// slowloris peers cost 3 MB, not 27.
	hsSmallBuf = 1 << 10
	hsBigBuf   = maxProxyHeader + maxRequestBytes
	// lingerTimeout bounds how long a refused connection is drained
	// after its answer (see hsLinger).
	lingerTimeout = time.Second
	// lingerMaxBytes is the most a refused peer may send while it is
	// drained before it is closed anyway.
	lingerMaxBytes = 256 << 10
	// sweepSlack lets one sweeper wake-up expire every deadline that
	// falls within it: deadlines are coalesced, not met to the µs.
	sweepSlack = 10 * time.Millisecond
)

// Handshake states, guarded by hsTable.mu.
const (
	// hsReading: in hsTable.reading, bytes feed buf on the poller.
	hsReading uint8 = iota
	// hsQueued: the request is complete and a worker owns the conn; the
	// poller ignores its events (they are seen again after the upgrade,
	// when the shard's registration re-checks readiness).
	hsQueued
	// hsLinger: refused with an answer (431, a PROXY 400, a /ws close
	// frame...), write side shut; what the peer still sends is read and
	// discarded until EOF, so close(2) does not turn into an RST that
	// would destroy the answer in flight. Bounded by lingerTimeout.
	hsLinger
	// hsDone: closed, or handed to a shard.
	hsDone
)

// hsConn is one connection whose upgrade is not finished. It costs this
// struct and, once bytes arrived, a pooled buffer; no goroutine, no timer.
type hsConn struct {
	fd     int
	srv    *Server
	peer   netip.Addr // TCP peer
	remote netip.Addr // the client: peer, or a trusted PROXY header's source
	proxy  bool       // peer is a trusted proxy: a PROXY header may come first
	onEv   func(netpoll.EpollEvent)

	// Guarded by hsTable.mu while the conn is not hsQueued; a worker owns
	// it while it is.
	state      uint8
	proxyDone  bool       // the PROXY stage is over (header read, or none)
	ipKey      netip.Addr // counted in hsTable.perIP under this key, if valid
	deadline   int64      // mlog clock: when the sweeper closes it
	prev, next *hsConn    // hsTable.reading or hsTable.linger
	buf        *[]byte    // pooled; nil until bytes arrive
	start      int        // bytes of buf taken by the PROXY header
	scanned    int        // bytes of buf searched for the end of the request
	end        int        // end of the request (after CRLFCRLF) once complete
	drained    int        // bytes discarded while lingering
}

// hsList is a FIFO of hsConns. Every conn of a list gets the same timeout
// when it is pushed, so the list is ordered by deadline and by age at
// once: the sweeper pops expired conns from the head, the global cap
// sheds the head. Push, pop and removal are O(1).
type hsList struct {
	head, tail *hsConn
	n          int
}

func (l *hsList) push(h *hsConn) {
	h.prev, h.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = h
	} else {
		l.head = h
	}
	l.tail = h
	l.n++
}

func (l *hsList) remove(h *hsConn) {
	if h.prev != nil {
		h.prev.next = h.next
	} else {
		l.head = h.next
	}
	if h.next != nil {
		h.next.prev = h.prev
	} else {
		l.tail = h.prev
	}
	h.prev, h.next = nil, nil
	l.n--
}

// hsTable holds every unfinished handshake of a Server. One mutex guards
// it: the poller, the accept loop, the workers and the sweeper each hold
// it for a few µs (a read(2) at most).
type hsTable struct {
	srv        *Server
	max        int   // unfinished handshakes (reading + lingering)
	maxPerIP   int32 // reading handshakes per client IP (an IPv6 /64); 0 = off
	timeout    int64 // handshake deadline, ns
	linger     int64 // lingerTimeout, capped by the handshake timeout, ns
	queue      chan *hsConn
	kick       chan struct{} // wakes the sweeper: a deadline earlier than it knows
	small, big sync.Pool     // *[]byte of hsSmallBuf and hsBigBuf

	// inflight counts conns in the table, queued or on a worker:
	// Shutdown waits for 0.
	inflight atomic.Int64

	mu        sync.Mutex
	reading   hsList
	lingering hsList
	perIP     map[netip.Addr]int32
	closed    bool
	scratch   [4096]byte // drain target for lingering conns
}

func newHSTable(s *Server) *hsTable {
	t := &hsTable{
		srv:     s,
		max:     s.cfg.MaxHandshakes,
		timeout: int64(s.cfg.HandshakeTimeout),
		linger:  int64(min(lingerTimeout, s.cfg.HandshakeTimeout)),
		// Room for a reconnect storm of every client at once (8 bytes a
		// slot): a complete request waits for a worker, not for a 503.
		queue: make(chan *hsConn, max(s.cfg.MaxHandshakes, s.cfg.MaxConns)),
		kick:  make(chan struct{}, 1),
		perIP: make(map[netip.Addr]int32),
	}
	if s.cfg.MaxHandshakesPerIP > 0 {
		t.maxPerIP = int32(s.cfg.MaxHandshakesPerIP)
	}
	t.small.New = func() any { b := make([]byte, 0, hsSmallBuf); return &b }
	t.big.New = func() any { b := make([]byte, 0, hsBigBuf); return &b }
	return t
}

// size is the number of unfinished handshakes (reading, queued,
// upgrading, lingering).
func (t *hsTable) size() int64 { return t.inflight.Load() }

// add registers a freshly accepted fd on the poller. Over the per-IP cap
// the client gets 429 at once; over the global cap the oldest unfinished
// handshake is closed to make room. It never blocks on a peer.
func (t *hsTable) add(fd int, peer netip.Addr, proxy bool) {
	s := t.srv
	h := &hsConn{fd: fd, srv: s, peer: peer, remote: peer, proxy: proxy}
	h.onEv = h.onEvent
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = unix.Close(fd)
		return
	}
	// Behind a trusted proxy the client is known only after its header.
	if !proxy && !t.takeIPLocked(h, peer) {
		s.stats.rejIP.Add(1)
		refuseFD(fd, resp429)
		return
	}
	// Every fd counts: open and upgrading conns shrink the cap, so client
	// sockets never exceed MaxConns (the rest of the process keeps its
	// fds). At least one slot: a full server still answers 503.
	limit := min(t.max, max(1, s.cfg.MaxConns-int(s.active.Load())))
	for t.reading.n+t.lingering.n >= limit && t.shedLocked() {
	}
	h.state = hsReading
	h.deadline = s.mlog.now() + t.timeout
	t.pushLocked(&t.reading, h)
	t.inflight.Add(1)
	if err := s.ep.Add(fd, evRead, h.onEv); err != nil {
		s.log.Warn("broadcast: register handshake", "remote", peer, "err", err)
		t.closeLocked(h)
	}
}

// takeIPLocked counts one reading handshake for ip, or reports the
// per-IP cap reached. An invalid ip (a non-IP listener) is not limited.
func (t *hsTable) takeIPLocked(h *hsConn, ip netip.Addr) bool {
	if t.maxPerIP == 0 || !ip.IsValid() {
		return true
	}
	key := rateKey(ip)
	if t.perIP[key] >= t.maxPerIP {
		return false
	}
	t.perIP[key]++
	h.ipKey = key
	return true
}

func (t *hsTable) releaseIPLocked(h *hsConn) {
	if !h.ipKey.IsValid() {
		return
	}
	if n := t.perIP[h.ipKey] - 1; n > 0 {
		t.perIP[h.ipKey] = n
	} else {
		delete(t.perIP, h.ipKey)
	}
	h.ipKey = netip.Addr{}
}

// pushLocked appends h to l (reading or lingering) and wakes the sweeper
// when h's deadline may be earlier than the one it sleeps until.
func (t *hsTable) pushLocked(l *hsList, h *hsConn) {
	if l.n == 0 || l == &t.lingering {
		select {
		case t.kick <- struct{}{}:
		default:
		}
	}
	l.push(h)
}

// shedLocked closes the oldest unfinished handshake to make room: a
// lingering (already refused) conn first, else the oldest reader. It
// reports false when there was nothing to shed.
func (t *hsTable) shedLocked() bool {
	if h := t.lingering.head; h != nil {
		t.closeLocked(h)
		return true
	}
	if h := t.reading.head; h != nil {
		t.srv.stats.rejShed.Add(1)
		t.closeLocked(h)
		return true
	}
	return false
}

// closeLocked closes a reading or lingering conn for good.
func (t *hsTable) closeLocked(h *hsConn) {
	switch h.state {
	case hsReading:
		t.reading.remove(h)
	case hsLinger:
		t.lingering.remove(h)
	case hsDone:
		return
	}
	t.dropLocked(h)
}

// dropLocked releases and closes h, already out of the lists.
func (t *hsTable) dropLocked(h *hsConn) {
	t.releaseIPLocked(h)
	t.putBuf(h)
	h.state = hsDone
	_ = t.srv.ep.Del(h.fd)
	_ = unix.Close(h.fd)
	t.inflight.Add(-1)
}

func (t *hsTable) putBuf(h *hsConn) {
	if h.buf == nil {
		return
	}
	*h.buf = (*h.buf)[:0]
	if cap(*h.buf) == hsBigBuf {
		t.big.Put(h.buf)
	} else {
		t.small.Put(h.buf)
	}
	h.buf = nil
}

// onEvent is the epoll callback of an unfinished handshake. It runs on the
// poller goroutine: it reads what the socket holds (non-blocking) and
// hands a complete request to a worker; it never waits for a peer.
func (h *hsConn) onEvent(ev netpoll.EpollEvent) {
	if ev&0x20 != 0 { // easygo's _EPOLLCLOSED: the poller is going away
		return
	}
	t := h.srv.hs
	t.mu.Lock()
	switch h.state {
	case hsReading:
		t.readLocked(h)
	case hsLinger:
		t.drainLocked(h)
	}
	t.mu.Unlock()
}

// readLocked reads until EAGAIN (edge-triggered) or a full buffer, then
// moves the handshake on.
func (t *hsTable) readLocked(h *hsConn) {
	eof := false
	for {
		if h.buf == nil {
			h.buf = t.small.Get().(*[]byte)
		}
		b := *h.buf
		if len(b) == cap(b) {
			if cap(b) == hsBigBuf {
				break // full: progress answers 431 or 400
			}
			big := t.big.Get().(*[]byte)
			*big = append((*big)[:0], b...)
			t.putBuf(h)
			h.buf, b = big, *big
		}
		n, err := unix.Read(h.fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil || n <= 0 {
			eof = true
			break
		}
		*h.buf = b[:len(b)+n]
	}
	t.progressLocked(h)
	if eof && h.state == hsReading {
		// The peer left (or half-closed) before a whole request.
		t.srv.stats.rejTimeout.Add(1)
		t.closeLocked(h)
	}
}

// endOfRequest returns the offset just past the blank line that ends the
// request head in b, searching from from, or -1. Like gobwas/ws (and RFC
// 9112 §2.2) it accepts a bare LF as a line end: "\r\n\r\n", "\n\n" and
// "\n\r\n" all end a request.
func endOfRequest(b []byte, from int) int {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

// progressLocked looks at what h has buffered: the PROXY stage, then the
// end of the request. A complete request goes to a worker.
func (t *hsTable) progressLocked(h *hsConn) {
	s := t.srv
	if h.buf == nil {
		return
	}
	b := *h.buf
	if !h.proxyDone {
		if h.proxy {
			n, src, err := parseProxy(b)
			if err == errProxyMore {
				return
			}
			if err != nil {
				t.refuseLocked(h, httpError(http.StatusBadRequest, err.Error()), &s.stats.rejProxy)
				return
			}
			if src.IsValid() {
				h.remote = src
			}
			h.start, h.scanned = n, n
			// The client's own limits, now that it is known.
			if s.rate != nil && !s.rate.allow(h.remote, s.mlog.now()) {
				t.refuseLocked(h, resp429, &s.stats.rejRate)
				return
			}
			if !t.takeIPLocked(h, h.remote) {
				t.refuseLocked(h, resp429, &s.stats.rejIP)
				return
			}
		} else {
			is, undecided := proxyPrefix(b)
			if undecided {
				return
			}
			if is {
				t.refuseLocked(h, resp400Proxy, &s.stats.rejProxy)
				return
			}
		}
		h.proxyDone = true
	}
	end := endOfRequest(b, max(h.start, h.scanned-2))
	if end < 0 {
		h.scanned = len(b)
		if len(b)-h.start >= maxRequestBytes {
			t.refuseLocked(h, resp431, &s.stats.rejLarge)
		}
		return
	}
	if end-h.start > maxRequestBytes {
		t.refuseLocked(h, resp431, &s.stats.rejLarge)
		return
	}
	if len(t.queue) == cap(t.queue) {
		// Workers this far behind: say so rather than wait. (Only this
		// function sends on queue, under mu: the send below cannot block.)
		t.refuseLocked(h, respBusy, &s.stats.rejFull)
		return
	}
	h.end = end
	t.reading.remove(h)
	t.releaseIPLocked(h)
	h.state = hsQueued
	t.queue <- h
}

// refuseLocked answers a reading conn with resp and lingers it.
func (t *hsTable) refuseLocked(h *hsConn, resp string, counter *atomic.Uint64) {
	counter.Add(1)
	// The socket is fresh and the answer tiny: it fits the send buffer.
	_, _ = unix.Write(h.fd, unsafeBytes(resp))
	t.lingerLocked(h)
}

// lingerLocked shuts h's write side and drains it until EOF or the linger
// deadline (see hsLinger). h is reading (in the table) or queued (owned by
// the caller, a worker).
func (t *hsTable) lingerLocked(h *hsConn) {
	switch h.state {
	case hsReading:
		t.reading.remove(h)
	case hsQueued:
		if t.closed {
			t.dropLocked(h)
			return
		}
	default:
		return
	}
	t.releaseIPLocked(h)
	t.putBuf(h)
	h.state = hsLinger
	h.deadline = t.srv.mlog.now() + t.linger
	_ = unix.Shutdown(h.fd, unix.SHUT_WR)
	t.pushLocked(&t.lingering, h)
	// Edge-triggered: what arrived before now raises no new event.
	t.drainLocked(h)
}

// drainLocked discards what a lingering peer sent; EOF, an error or too
// many bytes close it.
func (t *hsTable) drainLocked(h *hsConn) {
	for h.state == hsLinger {
		n, err := unix.Read(h.fd, t.scratch[:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil || n <= 0:
			t.closeLocked(h)
			return
		}
		h.drained += n
		if h.drained > lingerMaxBytes {
			t.closeLocked(h)
		}
	}
}

// sweeper closes handshakes past their deadline and lingering conns past
// theirs. It sleeps until the earliest deadline (the head of each list):
// one timer for the whole table, none per connection.
func (t *hsTable) sweeper(stop <-chan struct{}) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		t.mu.Lock()
		now := t.srv.mlog.now()
		next, more := t.expireLocked(now+int64(sweepSlack), sweepBatch)
		t.mu.Unlock()
		if more {
			continue // let the poller and accept take the lock in between
		}
		wait := time.Hour
		if next != 0 {
			wait = time.Duration(next - now)
		}
		timer.Reset(wait)
		select {
		case <-stop:
			return
		case <-t.kick:
		case <-timer.C:
		}
	}
}

// sweepBatch bounds the conns one hold of the table's lock expires: a
// wave of thousands of deadlines (an attack that connected at once) must
// not stall the poller, which waits on the same lock, for its whole
// length.
const sweepBatch = 128

// expireLocked closes up to limit conns whose deadline is before now.
// It returns the earliest deadline left (0: none), and more when it
// stopped at the limit with expired conns left.
func (t *hsTable) expireLocked(now int64, limit int) (next int64, more bool) {
	for _, l := range [...]*hsList{&t.reading, &t.lingering} {
		for h := l.head; h != nil && h.deadline <= now; h = l.head {
			if limit == 0 {
				return 0, true
			}
			limit--
			if l == &t.reading {
				t.srv.stats.rejTimeout.Add(1)
			}
			t.closeLocked(h)
		}
	}
	for _, h := range [...]*hsConn{t.reading.head, t.lingering.head} {
		if h != nil && (next == 0 || h.deadline < next) {
			next = h.deadline
		}
	}
	return next, false
}

// closeAll closes every reading and lingering conn and refuses new ones
// (Shutdown). Queued conns finish on their worker.
func (t *hsTable) closeAll() {
	t.mu.Lock()
	t.closed = true
	for t.reading.head != nil {
		t.closeLocked(t.reading.head)
	}
	for t.lingering.head != nil {
		t.closeLocked(t.lingering.head)
	}
	t.mu.Unlock()
}

// shedOldest closes the oldest unfinished handshake (the accept loop is
// out of fds). It reports false when there is none.
func (t *hsTable) shedOldest() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shedLocked()
}

// drainQueue closes handshakes still queued after the workers stopped.
func (t *hsTable) drainQueue() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		select {
		case h := <-t.queue:
			t.dropLocked(h)
		default:
			return
		}
	}
}

// Canned answers. 429 and 503 keep the client's retry logic simple; 431
// and the PROXY 400 explain themselves in the body.
var (
	resp431      = httpError(http.StatusRequestHeaderFieldsTooLarge, "request line and headers exceed "+strconv.Itoa(maxRequestBytes)+" bytes")
	resp400Proxy = httpError(http.StatusBadRequest, "PROXY protocol header from an address that is not a trusted proxy")
	respBusy     = httpError(http.StatusServiceUnavailable, "server busy")
	resp400      = httpError(http.StatusBadRequest, "malformed request")
)

// unsafeBytes views a constant string as bytes for write(2), which only
// reads them.
func unsafeBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// httpError is a complete HTTP/1.1 error response that closes the
// connection, with reason as a text body.
func httpError(status int, reason string) string {
	return "HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) +
		"\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + strconv.Itoa(len(reason)) +
		"\r\nConnection: close\r\n\r\n" + reason
}

// refuseFD answers a fresh socket with resp and closes it, on the accept
// loop: the socket is new and non-blocking, so the tiny write fits its
// empty send buffer and cannot block.
func refuseFD(fd int, resp string) {
	_, _ = unix.Write(fd, unsafeBytes(resp))
	_ = unix.Close(fd)
}
