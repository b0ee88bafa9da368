package broadcast

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"github.com/mailru/easygo/netpoll"
	"golang.org/x/sys/unix"

	"github.com/stellarfeed/stellarfeed/internal/wire"
)

// iovMax is the number of frames one writev carries at most; a conn with
// more pending gets another writev in the next pass (scheduled at once).
const iovMax = 256

// Shard pass states.
const (
	passIdle    int32 = iota
	passRunning       // scheduled or running
	passAgain         // running, and something changed since it started
)

// Epoll masks. Edge-triggered: a reader drains the socket until EAGAIN, so
// the poller never spins on a conn waiting for its reader.
const (
	evRead  = netpoll.EPOLLIN | netpoll.EPOLLRDHUP | netpoll.EPOLLET
	evWrite = evRead | netpoll.EPOLLOUT
)

// iov entry kinds.
const (
	kindPartial uint8 = iota
	kindCtrl
	kindMsg
)

// shard owns a subset of the connections and writes to them. Only one pass
// of a shard runs at a time (passIdle/passRunning/passAgain), so the
// preallocated iovec arrays are the shard's alone and every fd write of
// its conns is serialised by the pass.
type shard struct {
	srv   *Server
	state atomic.Int32
	run   func() // bound once: submitting it to the pool does not allocate

	mu    sync.Mutex // guards conns and the pass
	conns []*conn
	gone  []*conn // finalized during a pass, reported after unlock

	iov   [iovMax]unix.Iovec
	kinds [iovMax]uint8
	msgs  [iovMax]*wire.Message
	seqs  [iovMax]uint64

	oldest uint64 // oldest log sequence a pass wrote whole; guarded by the pass

	lastPass   atomic.Int64 // nanoseconds
	lastFanout atomic.Int64 // nanoseconds: Publish to end of pass, oldest message
}

func newShard(s *Server) *shard {
	sh := &shard{srv: s}
	sh.run = sh.loop
	return sh
}

// schedule marks the shard dirty and starts a pass unless one is running,
// in which case that pass runs again: bursts coalesce, nothing blocks.
func (sh *shard) schedule() {
	for {
		switch st := sh.state.Load(); st {
		case passIdle:
			if sh.state.CompareAndSwap(passIdle, passRunning) {
				if err := sh.srv.pool.Submit(sh.run); err != nil {
					// Pool closed: Shutdown runs passes itself from now on.
					sh.state.Store(passIdle)
				}
				return
			}
		case passRunning:
			if sh.state.CompareAndSwap(passRunning, passAgain) {
				return
			}
		default:
			return
		}
	}
}

func (sh *shard) loop() {
	for {
		if sh.pass() {
			continue // a conn had more than iovMax frames pending
		}
		if sh.state.CompareAndSwap(passRunning, passIdle) {
			return
		}
		sh.state.Store(passRunning)
	}
}

// add puts c in the shard; it receives messages published from now on.
func (sh *shard) add(c *conn) {
	sh.mu.Lock()
	c.next = sh.srv.mlog.head.Load()
	c.idx = len(sh.conns)
	sh.conns = append(sh.conns, c)
	sh.mu.Unlock()
}

// pass writes every pending frame to every conn of the shard: one writev
// per conn carrying all its frames. It reports whether a conn still has
// frames left (iovMax reached).
func (sh *shard) pass() (more bool) {
	s := sh.srv
	start := time.Now()
	// Monotonic, like every deadline of a conn: a step of the wall clock
	// must neither drop blocked clients at once nor keep them forever.
	now := s.mlog.now()
	head := s.mlog.head.Load()
	var delivered, writes uint64

	sh.mu.Lock()
	sh.oldest = noSeq
	// Backwards, so finalize's swap-remove only moves visited conns.
	for i := len(sh.conns) - 1; i >= 0; i-- {
		c := sh.conns[i]
		d, w, m := sh.flush(c, head, now)
		delivered += d
		writes += w
		more = more || m
	}
	gone := sh.gone
	oldest := sh.oldest
	sh.gone = sh.gone[:0]
	sh.mu.Unlock()

	if delivered != 0 {
		s.stats.delivered.Add(delivered)
	}
	if writes != 0 {
		s.stats.writes.Add(writes)
	}
	s.stats.passes.Add(1)
	sh.lastPass.Store(int64(time.Since(start)))
	if oldest != noSeq {
		sh.reportFanout(oldest, delivered)
	}
	if len(gone) > 0 {
		s.forget(gone)
		clear(gone)
	}
	return more
}

// noSeq marks "no message written" (sequences start at 1).
const noSeq = ^uint64(0)

// reportFanout records the fan-out latency of a pass: the time from the
// Publish of the oldest message the pass wrote whole to a conn, to the end
// of the pass. With one pass per shard per burst, the slowest shard's
// report for a message is that message's publish-to-last-byte latency.
func (sh *shard) reportFanout(oldest, delivered uint64) {
	s := sh.srv
	at, ok := s.mlog.publishedAt(oldest)
	if !ok {
		return // already overwritten: the age is unknown, and huge anyway
	}
	age := max(0, s.mlog.now()-at)
	sh.lastFanout.Store(age)
	if s.cfg.OnFanout != nil {
		s.cfg.OnFanout(time.Duration(age), int(delivered))
	}
}

// flush writes what c has pending. Called by the pass with sh.mu held.
func (sh *shard) flush(c *conn, head uint64, now int64) (delivered, writes uint64, more bool) {
	s := sh.srv
	c.mu.Lock()
	defer c.mu.Unlock()

	switch {
	case c.dead:
		return 0, 0, false
	case c.state == stateDrop:
		sh.finalize(c)
		return 0, 0, false
	case c.state == stateClosing && now > c.closeBy:
		sh.finalize(c)
		return 0, 0, false
	}
	if c.blocked.Load() {
		if c.state == stateOpen {
			pending, inLog := s.mlog.backlog(c.next, head)
			if !inLog || pending > uint64(s.cfg.MaxBacklogBytes) || now-c.blockedSince > int64(s.cfg.WriteTimeout) {
				sh.slow(c)
			}
		}
		return 0, 0, false
	}

	// Build the iovec: the rest of a cut frame, then control frames (at a
	// frame boundary), then every pending message that passes the filter.
	n := 0
	if c.partial != nil {
		sh.iov[n].Base = &c.partial.Frame[c.off]
		sh.iov[n].SetLen(len(c.partial.Frame) - c.off)
		sh.kinds[n] = kindPartial
		n++
	}
	if len(c.ctrl) > c.ctrlOff {
		sh.iov[n].Base = &c.ctrl[c.ctrlOff]
		sh.iov[n].SetLen(len(c.ctrl) - c.ctrlOff)
		sh.kinds[n] = kindCtrl
		n++
	}
	seq := c.next
	if c.state == stateOpen {
		for ; seq < head && n < iovMax; seq++ {
			m, _ := s.mlog.get(seq)
			if m == nil {
				sh.slow(c) // lagged beyond the log
				return 0, 0, false
			}
			if !c.filt.match(m) || len(m.Frame) == 0 {
				continue
			}
			if c.filt.realtime {
				env, built := s.mlog.envelope(seq, m, c.filt.unixMs)
				if env == nil {
					sh.slow(c) // lagged beyond the log
					return 0, 0, false
				}
				if built {
					s.stats.envelopes.Add(1)
				}
				m = env
			}
			sh.iov[n].Base = &m.Frame[0]
			sh.iov[n].SetLen(len(m.Frame))
			sh.kinds[n] = kindMsg
			sh.msgs[n] = m
			sh.seqs[n] = seq
			n++
		}
		more = seq < head
	}
	if n == 0 {
		c.next = seq
		if c.state == stateClosing {
			sh.finalize(c)
		}
		return 0, 0, more
	}

	written, errno := writev(c.fd, sh.iov[:n])
	writes = 1
	if errno != 0 && errno != unix.EAGAIN && errno != unix.EINTR {
		c.why = reasonWriteError
		sh.finalize(c)
		clear(sh.msgs[:n])
		clear(sh.iov[:n])
		return 0, writes, false
	}

	// Account for what went out; stop at the first entry cut short.
	cut := -1
	for i := 0; i < n; i++ {
		l := int(sh.iov[i].Len)
		if written >= l {
			written -= l
			switch sh.kinds[i] {
			case kindMsg:
				delivered++
				sh.oldest = min(sh.oldest, sh.seqs[i])
			case kindPartial:
				delivered++
			}
			continue
		}
		cut = i
		break
	}
	if cut < 0 {
		c.partial, c.off = nil, 0
		c.ctrl, c.ctrlOff = c.ctrl[:0], 0
		if cap(c.ctrl) > ctrlKeepCap {
			c.ctrl = nil
		}
		c.next = seq
		if c.wantOut {
			c.wantOut = false
			_ = s.ep.Mod(c.fd, evRead)
		}
		if c.state == stateClosing {
			sh.finalize(c)
		}
	} else {
		sh.cut(c, cut, written, n, seq, now)
	}
	c.delivered += delivered
	clear(sh.msgs[:n]) // do not pin frames in the shard's scratch space
	clear(sh.iov[:n])
	return delivered, writes, more
}

// cut records a short write: entry i of n got w bytes. The conn keeps a
// reference to the cut frame and an offset, never a copy, and asks epoll
// for EPOLLOUT.
func (sh *shard) cut(c *conn, i, w, n int, seq uint64, now int64) {
	// Entries are [partial][ctrl][messages...]; all before i went out whole.
	switch sh.kinds[i] {
	case kindPartial:
		c.off += w
	case kindCtrl:
		c.partial, c.off = nil, 0
		c.ctrlOff += w
	case kindMsg:
		c.partial, c.off = sh.msgs[i], w
		c.ctrl, c.ctrlOff = c.ctrl[:0], 0
		seq = sh.seqs[i] + 1
	}
	if sh.kinds[i] != kindMsg {
		// Resume at the first message not written (filtered ones before
		// it are done with).
		for j := i + 1; j < n; j++ {
			if sh.kinds[j] == kindMsg {
				seq = sh.seqs[j]
				break
			}
		}
	}
	c.next = seq
	if !c.blocked.Load() {
		c.blockedSince = now
	}
	c.blocked.Store(true)
	c.wantOut = true
	// Always re-arm: EPOLL_CTL_MOD re-evaluates readiness, so space freed
	// between the EAGAIN and now still produces an event.
	if err := sh.srv.ep.Mod(c.fd, evWrite); err != nil {
		c.why = reasonWriteError
		sh.finalize(c)
	}
}

// slow closes c as a slow consumer: a best-effort close frame when the
// stream is at a frame boundary, then the socket. Call with sh.mu and c.mu held.
func (sh *shard) slow(c *conn) {
	s := sh.srv
	s.stats.slow.Add(1)
	c.why = reasonSlow
	if c.partial == nil && c.ctrlOff == 0 {
		var buf [32]byte
		frame := appendClose(buf[:0], ws.StatusPolicyViolation, "slow consumer")
		iov := [1]unix.Iovec{{Base: &frame[0]}}
		iov[0].SetLen(len(frame))
		_, _ = writev(c.fd, iov[:])
	}
	s.log.Info("broadcast: closing slow consumer", "conn", c.id, "key", c.ident.KeyID, "remote", c.remote)
	sh.finalize(c)
}

// finalize removes c for good: epoll registration, shard slot, socket.
// Call with sh.mu and c.mu held.
func (sh *shard) finalize(c *conn) {
	if c.dead {
		return
	}
	c.dead = true
	_ = sh.srv.ep.Del(c.fd)
	if c.state == stateClosing {
		// Our close frame is out: FIN after it, and read what the peer
		// already sent so close() does not turn into an RST that could
		// destroy the close frame in flight.
		_ = unix.Shutdown(c.fd, unix.SHUT_WR)
		var buf [512]byte
		for range 8 {
			if n, err := unix.Read(c.fd, buf[:]); n <= 0 || err != nil {
				break
			}
		}
	}
	_ = unix.Close(c.fd)
	last := len(sh.conns) - 1
	if c.idx <= last && sh.conns[c.idx] == c {
		sh.conns[c.idx] = sh.conns[last]
		sh.conns[c.idx].idx = c.idx
		sh.conns[last] = nil
		sh.conns = sh.conns[:last]
	}
	c.partial, c.ctrl, c.rbuf = nil, nil, nil
	sh.gone = append(sh.gone, c)
}

// writev writes iov to the non-blocking fd with one syscall. It uses the
// raw syscall: unix.Writev builds a fresh iovec slice per call.
func writev(fd int, iov []unix.Iovec) (int, unix.Errno) {
	for {
		r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), 0
	}
}
