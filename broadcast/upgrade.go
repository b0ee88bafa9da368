package broadcast

import (
	"bytes"
	"errors"
	"sync/atomic"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// hsWorker upgrades the complete requests the poller hands over. Nothing
// here waits for a peer: the request is already in memory and the answer
// (101, or an HTTP error) is written to a fresh, non-blocking socket.
// The Upgrader and its hook are built once per worker.
type hsWorker struct {
	s  *Server
	u  ws.Upgrader
	rd bytes.Reader

	// The handshake in progress.
	h        *hsConn
	r        request      // the request line as parsed
	session  *sessionAuth // a /ws request without ?key=: its cookie decides, after the headers
	id       Identity
	req      request     // r, once admitted
	reserved bool        // a MaxConns slot is taken
	counted  bool        // a rejection counter was bumped
	wrErr    error       // the answer could not be written: the peer is gone
	wrote    bool        // the Upgrader wrote an answer
	refused  *protoError // /ws refusal, sent as a close frame after the upgrade
}

func newHSWorker(s *Server) *hsWorker {
	w := &hsWorker{s: s}
	w.u = ws.Upgrader{OnRequest: w.onRequest, OnHeader: w.onHeader, OnBeforeUpgrade: w.onBeforeUpgrade}
	return w
}

// run upgrades queued handshakes until stop is closed. Shutdown closes
// stop only once no handshake is in flight.
func (w *hsWorker) run(queue <-chan *hsConn, stop <-chan struct{}) {
	for {
		select {
		case h := <-queue:
			w.upgrade(h)
		case <-stop:
			return
		}
	}
}

// Read serves the buffered request to the Upgrader.
func (w *hsWorker) Read(p []byte) (int, error) { return w.rd.Read(p) }

// Write sends the Upgrader's answer. The socket is non-blocking; an
// answer of a few hundred bytes fits the empty send buffer of a fresh
// socket, so EAGAIN (like any error) ends the handshake.
func (w *hsWorker) Write(p []byte) (int, error) {
	w.wrote = true
	n := 0
	for n < len(p) {
		k, err := unix.Write(w.h.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			w.wrErr = err
			return n, err
		}
		n += k
	}
	return n, nil
}

// onRequest authenticates from the request line, before any upgrade. A
// refused Stellar request gets an HTTP error; a refused /ws request is
// upgraded and closed with a close frame (1008, or 1013 when full), which
// a browser can read. A /ws request without a key waits for its session
// cookie (onHeader, onBeforeUpgrade).
func (w *hsWorker) onRequest(uri []byte) error {
	s := w.s
	r, err := parseRequestURI(uri)
	w.r = r
	if w.session = s.sessionFor(r, err); w.session != nil {
		return nil
	}
	if err != nil {
		status, reason := rejection(err)
		counter := &s.stats.rejBad
		if errors.Is(err, ErrMissingKey) {
			counter = &s.stats.rejAuth
		}
		return w.deny(counter, ws.StatusPolicyViolation, reject(status, reason))
	}
	return w.admit(func() (Identity, error) { return s.auth.Authenticate(r.key, w.h.remote) })
}

// onHeader collects the session cookie of a keyless /ws request.
func (w *hsWorker) onHeader(key, value []byte) error {
	if w.session != nil {
		w.session.header(key, value)
	}
	return nil
}

// onBeforeUpgrade admits a keyless /ws request by its session cookie,
// once every header has been read.
func (w *hsWorker) onBeforeUpgrade() (ws.HandshakeHeader, error) {
	if w.session == nil {
		return nil, nil
	}
	return nil, w.admit(func() (Identity, error) { return w.session.authenticate(w.h.remote) })
}

// admit takes a connection slot and authenticates.
func (w *hsWorker) admit(authenticate func() (Identity, error)) error {
	s := w.s
	if !s.reserve() {
		return w.deny(&s.stats.rejFull, statusTryAgainLater, errFull)
	}
	w.reserved = true
	id, err := authenticate()
	if err != nil {
		status, reason := rejection(err)
		return w.deny(&s.stats.rejAuth, ws.StatusPolicyViolation, reject(status, reason))
	}
	w.id, w.req = id, w.r
	return nil
}

// deny counts a refusal; a /ws refusal is answered after the upgrade with
// a close frame instead of an HTTP error.
func (w *hsWorker) deny(counter *atomic.Uint64, code ws.StatusCode, httpErr error) error {
	counter.Add(1)
	w.counted = true
	if w.r.realtime {
		_, reason := rejection(httpErr)
		w.refused = &protoError{code: code, reason: reason}
		return nil
	}
	return httpErr
}

// upgrade runs the WebSocket upgrade on h's buffered request and hands
// the connection to a shard, or answers and closes it.
func (w *hsWorker) upgrade(h *hsConn) {
	s, t := w.s, w.s.hs
	w.h, w.r, w.session, w.id, w.req, w.reserved, w.counted, w.refused, w.wrErr, w.wrote = h, request{}, nil, Identity{}, request{}, false, false, nil, nil, false
	defer func() {
		w.h, w.r, w.session, w.id, w.req, w.refused, w.wrErr = nil, request{}, nil, Identity{}, request{}, nil, nil
	}()

	w.rd.Reset((*h.buf)[h.start:h.end])
	_, err := w.u.Upgrade(w)
	w.rd.Reset(nil)
	t.putBuf(h) // the worker owns h: no lock needed

	if err == nil && w.refused != nil {
		if w.reserved {
			s.active.Add(-1)
		}
		var buf [256]byte
		_, _ = w.Write(appendClose(buf[:0], w.refused.code, w.refused.reason))
		t.mu.Lock()
		t.lingerLocked(h) // wait for the close echo or EOF, on the poller
		t.mu.Unlock()
		return
	}
	if err != nil {
		if w.reserved {
			s.active.Add(-1)
		}
		if !w.counted {
			if w.wrErr != nil {
				s.stats.rejTimeout.Add(1) // the peer vanished under the answer
			} else {
				s.stats.rejBad.Add(1) // the request is all in memory: any other error is the request's
			}
		}
		if !w.wrote {
			// gobwas/ws answers nothing to a request line it cannot parse.
			_, _ = w.Write(unsafeBytes(resp400))
		}
		t.mu.Lock()
		t.dropLocked(h)
		t.mu.Unlock()
		return
	}
	s.stats.upgraded.Add(1)
	// From here on the shard's registration owns the fd; h's callback
	// sees hsQueued and ignores any late event.
	_ = s.ep.Del(h.fd)
	if err := s.register(h.fd, w.id, w.req, h.remote); err != nil {
		s.active.Add(-1) // register closed the fd
	}
	t.inflight.Add(-1)
}
