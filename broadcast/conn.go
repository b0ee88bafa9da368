package broadcast

import (
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/mailru/easygo/netpoll"
	"golang.org/x/sys/unix"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// Connection states, guarded by conn.mu.
const (
	stateOpen    uint8 = iota // receives pings
	stateClosing              // close frame queued: flush it, then finalize
	stateDrop                 // peer gone or broken: finalize without writing
)

// Limits of the per-connection control queue. A close frame always fits;
// pongs beyond the soft limit are dropped (RFC 6455 lets a server answer
// only the latest ping). Realtime (/ws) conns queue their JSON replies
// there too, under replyLimit.
const (
	ctrlSoftLimit = 384
	ctrlHardExtra = 2 + 125
	// ctrlKeepCap: a drained control queue bigger than this is freed, so
	// an idle conn does not keep the buffer of a past burst of replies.
	ctrlKeepCap = 128
)

// conn is one upgraded WebSocket connection. An idle conn costs this
// struct, the fd and its epoll registration: no goroutine, no buffer.
type conn struct {
	id     uint64
	fd     int
	srv    *Server
	sh     *shard
	ident  Identity
	filt   filter
	remote netip.Addr
	since  time.Time
	onEv   func(netpoll.EpollEvent) // built once, handed to epoll

	rq      atomic.Int32 // read requests since the last drain (edge-triggered epoll)
	blocked atomic.Bool  // waiting for EPOLLOUT

	idx int // position in sh.conns, guarded by sh.mu

	// mu guards everything below and every syscall on fd: finalize closes
	// the fd under mu, so a read or write never hits a reused fd number.
	mu           sync.Mutex
	dead         bool
	state        uint8
	wantOut      bool          // EPOLLOUT is in the epoll mask
	next         uint64        // next log sequence to consider
	partial      *wire.Message // frame cut by a short write: finish it first
	off          int           // bytes of partial already written
	ctrl         []byte        // queued control frames, written at a frame boundary
	ctrlOff      int           // bytes of ctrl already written
	blockedSince int64         // msgLog.now() of the first EAGAIN in a row
	closeBy      int64         // msgLog.now(): finalize a closing conn by then
	delivered    uint64
	rbuf         []byte // part of a client frame carried between reads
	why          closeReason
}

// closeReason records why a connection ended, for stats and logs.
type closeReason uint8

const (
	reasonNone closeReason = iota
	reasonPeer
	reasonProtocol
	reasonSlow
	reasonKicked
	reasonExpired
	reasonShutdown
	reasonWriteError
)

var reasonNames = [...]string{"none", "peer", "protocol", "slow consumer", "kicked", "expired", "shutdown", "write error"}

func (r closeReason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// queueCtrl appends a control frame built by add to the control queue.
// Call with mu held.
func (c *conn) queueCtrl(size int, force bool, add func([]byte) []byte) bool {
	limit := ctrlSoftLimit
	if c.filt.realtime {
		limit = replyLimit
	}
	if force {
		limit += ctrlHardExtra
	}
	if len(c.ctrl)+size > limit {
		return false
	}
	if c.ctrl == nil {
		c.ctrl = make([]byte, 0, 64)
	}
	c.ctrl = add(c.ctrl)
	return true
}

// closeLocked queues a close frame and moves the conn to stateClosing; the
// owning shard's next pass flushes it and finalizes. Call with mu held.
func (c *conn) closeLocked(code ws.StatusCode, reason string, why closeReason, now int64) bool {
	if c.dead || c.state != stateOpen {
		return false
	}
	c.state = stateClosing
	c.why = why
	c.closeBy = now + int64(time.Second)
	c.queueCtrl(4+len(reason), true, func(b []byte) []byte { return appendClose(b, code, reason) })
	return true
}

// close starts a close handshake from outside the shard (DisconnectKey,
// Kick, Shutdown, sweeper).
func (c *conn) close(code ws.StatusCode, reason string, why closeReason) bool {
	c.mu.Lock()
	ok := c.closeLocked(code, reason, why, c.srv.mlog.now())
	c.mu.Unlock()
	if ok {
		c.sh.schedule()
	}
	return ok
}

// onEvent is the epoll callback. It runs on the poller goroutine and must
// never block: it only flips flags and hands work to readers and shards.
func (c *conn) onEvent(ev netpoll.EpollEvent) {
	if ev&0x20 != 0 { // easygo's _EPOLLCLOSED: the poller is going away
		return
	}
	if ev&(netpoll.EPOLLOUT|netpoll.EPOLLERR|netpoll.EPOLLHUP) != 0 && c.blocked.Load() {
		c.blocked.Store(false)
		c.sh.schedule()
	}
	if ev&(netpoll.EPOLLIN|netpoll.EPOLLRDHUP|netpoll.EPOLLERR|netpoll.EPOLLHUP) != 0 {
		if c.rq.Add(1) == 1 {
			select {
			case c.srv.readq <- c:
			default:
				// Unreachable while readq holds MaxConns entries (a conn is
				// queued at most once); drop rather than stall the poller.
				c.rq.Store(0)
			}
		}
	}
}

// readAll drains the socket (edge-triggered: until EAGAIN) and answers
// client frames. buf is the reader's own buffer.
func (c *conn) readAll(buf []byte) {
	for {
		n0 := c.rq.Load()
		if c.readOnce(buf) {
			// A peer that keeps sending yields its reader to the others:
			// back of the queue (rq stays > 0, so epoll does not queue it too).
			select {
			case c.srv.readq <- c:
				return
			default:
				continue
			}
		}
		if c.rq.CompareAndSwap(n0, 0) {
			return
		}
	}
}

// maxReadsPerTurn bounds the reads one conn gets before the others.
const maxReadsPerTurn = 16

// readOnce reads until EAGAIN, or reports more when the turn ran out.
func (c *conn) readOnce(buf []byte) (more bool) {
	limit := c.srv.cfg.ReadLimit
	c.mu.Lock()
	schedule := false
	defer func() {
		c.mu.Unlock()
		if schedule {
			c.sh.schedule()
		}
	}()
	for reads := 0; !c.dead && c.state != stateDrop; reads++ {
		if reads == maxReadsPerTurn {
			return true
		}
		k := copy(buf, c.rbuf)
		n, err := unix.Read(c.fd, buf[k:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			return false
		}
		if err != nil || n == 0 {
			if c.state == stateOpen {
				c.why = reasonPeer
			}
			c.state = stateDrop
			schedule = true
			return false
		}
		data := buf[:k+n]
		if c.state != stateOpen {
			// Closing: the peer's close echo and anything else is discarded.
			c.rbuf = c.rbuf[:0]
			continue
		}
		for len(data) > 0 && c.state == stateOpen {
			f, used, perr := parseFrame(data, limit)
			if perr != nil {
				c.closeLocked(perr.code, perr.reason, reasonProtocol, c.srv.mlog.now())
				schedule = true
				break
			}
			if used == 0 {
				break
			}
			data = data[used:]
			if c.handle(f) {
				schedule = true
			}
		}
		if c.state != stateOpen {
			data = nil
		}
		if len(data) > 0 {
			if c.rbuf == nil {
				c.rbuf = make([]byte, 0, limit+maxHeaderSize)
			}
			c.rbuf = append(c.rbuf[:0], data...)
		} else if c.rbuf != nil {
			c.rbuf = nil // idle conns keep no buffer
		}
	}
	return false
}

// handle answers one client frame; it reports whether a reply was queued.
// Call with mu held.
func (c *conn) handle(f clientFrame) bool {
	switch f.op {
	case ws.OpPing:
		return c.queueCtrl(2+len(f.payload), false, func(b []byte) []byte {
			return appendControl(b, ws.OpPong, f.payload)
		})
	case ws.OpClose:
		code, perr := closeCode(f.payload)
		if perr != nil {
			return c.closeLocked(perr.code, perr.reason, reasonProtocol, c.srv.mlog.now())
		}
		return c.closeLocked(code, "", reasonPeer, c.srv.mlog.now())
	case ws.OpText:
		if c.filt.realtime {
			return c.handleRealtime(f)
		}
		if f.fin && isJSONPing(f.payload) {
			return c.queueCtrl(len(frameJSONPong), false, func(b []byte) []byte {
				return append(b, frameJSONPong...)
			})
		}
	case ws.OpBinary:
		if c.filt.realtime {
			return c.reply(replyError("binary messages are not supported: send JSON text"))
		}
	}
	return false // pongs, continuations, Stellar chatter: ignored
}

// handleRealtime answers one text message of a /ws client: pong, ack or
// error. Bad messages get an error reply and the conn stays open.
// Call with mu held.
func (c *conn) handleRealtime(f clientFrame) bool {
	if !f.fin {
		return c.reply(replyError("fragmented messages are not supported"))
	}
	m, err := c.filt.parseClientMessage(f.payload)
	if err != nil {
		return c.reply(replyError(err.Error()))
	}
	switch m.op {
	case opPing:
		return c.queueCtrl(len(frameJSONPong), false, func(b []byte) []byte {
			return append(b, frameJSONPong...)
		})
	case opSubscribe:
		if !c.filt.allows(m.ch) {
			return c.reply(replyError("channel " + quoteEcho(m.ch.String()) + ": outside this key's scopes"))
		}
		if !c.filt.subscribe(m.ch) {
			return c.reply(replyError("channel " + quoteEcho(m.ch.String()) +
				": too many subscriptions (at most " + strconv.Itoa(maxSubs) + ")"))
		}
		return c.reply(replyAck("subscribed", m.ch))
	case opUnsubscribe:
		c.filt.unsubscribe(m.ch)
		return c.reply(replyAck("unsubscribed", m.ch))
	}
	return false
}

// reply queues a JSON text frame on the control queue, so it goes out
// between data frames, never inside one. A client whose replies pile up
// past replyLimit (it sends without reading) is closed with 1008.
// Call with mu held; it reports whether the shard must run.
func (c *conn) reply(payload []byte) bool {
	if c.queueCtrl(textFrameSize(len(payload)), false, func(b []byte) []byte {
		return appendTextFrame(b, payload)
	}) {
		return true
	}
	return c.closeLocked(ws.StatusPolicyViolation, "too many unanswered messages", reasonProtocol, c.srv.mlog.now())
}
