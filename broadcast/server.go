package broadcast

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"github.com/mailru/easygo/netpoll"
	"github.com/panjf2000/ants/v2"
	"github.com/stellarfeed/stellarfeed/internal/wire"
	"golang.org/x/sys/unix"
)

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("broadcast: server closed")

// Config tunes the Server. The zero value is usable: every zero field
// takes the default named in its comment.
type Config struct {
	Workers          int           // shards and fan-out workers; default GOMAXPROCS
	MaxConns         int           // open + upgrading connections; above it 503; default 19,500 (under the 20,000 open-file limit)
	MaxBacklogBytes  int           // pending bytes before a conn is a slow consumer; default 1 MiB
	HandshakeTimeout time.Duration // accept to complete request; default 5 s
	WriteTimeout     time.Duration // a conn stalled this long is a slow consumer; default 10 s
	PingInterval     time.Duration // server WebSocket pings; default 30 s, negative = off
	Logger           *slog.Logger  // default slog.Default()

	ReadLimit int // largest client frame payload; default 4 KiB (above: close 1009)
	LogSize   int // messages kept for lagging conns (rounded up to a power of 2); default 16,384

	// MaxHandshakes caps unfinished handshakes (accepted, request not
	// complete yet, or refused and draining). A new connection beyond it
	// closes the OLDEST unfinished one, never itself: a slow peer loses
	// its slot to a fresh one. Every fd counts: the cap shrinks to
	// MaxConns minus the connections open or upgrading, so the process
	// never holds more than MaxConns client sockets. Default 4,096.
	MaxHandshakes int
	// MaxHandshakesPerIP caps the unfinished handshakes of one client IP
	// (IPv6: one /64); one more is answered "429 Too Many Requests" with
	// "Retry-After: 1" right at accept. Default 256; negative = off.
	MaxHandshakesPerIP int

	// ProxyProtocol reads a PROXY protocol v1 or v2 header before the
	// request from peers in TrustedProxies: the address it names is the
	// client's for rate and handshake limits, the Authenticator and
	// ConnInfo. From a trusted peer the header is optional (a load
	// balancer's health check may send none); from any other peer a
	// PROXY header is refused with 400, whether or not this is on.
	ProxyProtocol  bool
	TrustedProxies []netip.Prefix

	// ConnRatePerIP limits new connections per source IP (IPv6: per /64),
	// in connections per second; 0 = off. It is checked right after
	// accept, before the request is read: over the limit, the client gets
	// "429 Too Many Requests" with "Retry-After: 1" and is closed.
	ConnRatePerIP float64
	// ConnBurstPerIP is how many connections an IP may open at once
	// before ConnRatePerIP applies; default max(1, ceil(ConnRatePerIP)).
	ConnBurstPerIP int

	// OnFanout, if set, is called at the end of every shard pass that
	// wrote at least one message: age is the time from the Publish of the
	// oldest message the pass wrote, to the end of the pass (the slowest
	// shard's report is a message's publish-to-last-byte latency), and
	// delivered the frames the pass completed. It runs on the shard's
	// goroutine: it must be quick and must not block (e.g. update a
	// histogram). Stats.LastFanout keeps the latest age per shard.
	OnFanout func(age time.Duration, delivered int)
}

func (c Config) withDefaults() (Config, error) {
	checks := []struct {
		name string
		bad  bool
	}{
		{"Workers", c.Workers < 0},
		{"MaxConns", c.MaxConns < 0},
		{"MaxBacklogBytes", c.MaxBacklogBytes < 0},
		{"HandshakeTimeout", c.HandshakeTimeout < 0},
		{"WriteTimeout", c.WriteTimeout < 0},
		{"ReadLimit", c.ReadLimit < 0 || c.ReadLimit > 1<<20},
		{"LogSize", c.LogSize < 0 || c.LogSize > 1<<24},
		{"MaxHandshakes", c.MaxHandshakes < 0},
		{"TrustedProxies", c.ProxyProtocol && len(c.TrustedProxies) == 0},
		{"ConnRatePerIP", !(c.ConnRatePerIP >= 0) || math.IsInf(c.ConnRatePerIP, 1)}, // NaN fails >= 0
		{"ConnBurstPerIP", c.ConnBurstPerIP < 0 || c.ConnBurstPerIP > 1<<20},
	}
	for _, ch := range checks {
		if ch.bad {
			return c, fmt.Errorf("broadcast: config: %s out of range", ch.name)
		}
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defd := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Workers, runtime.GOMAXPROCS(0))
	def(&c.MaxConns, 19500)
	def(&c.MaxBacklogBytes, 1<<20)
	def(&c.ReadLimit, 4096)
	def(&c.LogSize, 16384)
	def(&c.MaxHandshakes, 4096)
	def(&c.MaxHandshakesPerIP, 256)
	defd(&c.HandshakeTimeout, 5*time.Second)
	defd(&c.WriteTimeout, 10*time.Second)
	defd(&c.PingInterval, 30*time.Second)
	if c.ConnRatePerIP > 0 && c.ConnBurstPerIP == 0 {
		c.ConnBurstPerIP = max(1, int(math.Ceil(min(c.ConnRatePerIP, 1<<20))))
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}

// Server is the WebSocket broadcaster. Create it with New, run Serve on a
// listener, feed it with Publish, stop it with Shutdown. It is not reusable
// after Shutdown.
type Server struct {
	cfg  Config
	auth Authenticator
	obs  ConnObserver // nil unless auth implements it
	log  *slog.Logger

	ep     *netpoll.Epoll
	pool   *ants.Pool
	shards []*shard
	mlog   *msgLog
	readq  chan *conn
	hs     *hsTable   // unfinished handshakes, on the poller
	rate   *ipLimiter // nil when ConnRatePerIP is 0

	active atomic.Int64 // open + upgrading conns, for MaxConns
	open   atomic.Int64 // registered conns
	wsOpen atomic.Int64 // registered conns of the realtime endpoint (/ws)
	stats  counters

	mu        sync.Mutex
	conns     map[uint64]*conn
	listeners map[net.Listener]struct{}
	serving   int // Serve calls running
	nextID    uint64
	closing   bool
	done      chan struct{} // closed when Shutdown starts
	stop      chan struct{} // closed to stop readers and the sweeper
	bg        sync.WaitGroup
}

// New builds a Server: it creates the epoll instance, the fan-out pool and
// the reader and sweeper goroutines, all stopped by Shutdown.
func New(cfg Config, auth Authenticator) (*Server, error) {
	if auth == nil {
		return nil, errors.New("broadcast: nil Authenticator")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		auth:      auth,
		log:       cfg.Logger,
		mlog:      newMsgLog(cfg.LogSize),
		readq:     make(chan *conn, cfg.MaxConns),
		conns:     make(map[uint64]*conn),
		listeners: make(map[net.Listener]struct{}),
		done:      make(chan struct{}),
		stop:      make(chan struct{}),
	}
	s.obs, _ = auth.(ConnObserver)
	if cfg.ConnRatePerIP > 0 {
		s.rate = newIPLimiter(cfg.ConnRatePerIP, cfg.ConnBurstPerIP, maxRateIPs)
	}
	// One worker per shard: a shard has at most one pass queued or
	// running, so Submit finds a free worker and does not block.
	s.pool, err = ants.NewPool(cfg.Workers, ants.WithPreAlloc(true), ants.WithDisablePurge(true))
	if err != nil {
		return nil, fmt.Errorf("broadcast: worker pool: %w", err)
	}
	s.ep, err = newPoller(s.log)
	if err != nil {
		s.pool.Release()
		return nil, err
	}
	s.shards = make([]*shard, cfg.Workers)
	for i := range s.shards {
		s.shards[i] = newShard(s)
	}
	readers := max(1, cfg.Workers/2)
	for range readers {
		s.bg.Add(1)
		go s.reader()
	}
	s.bg.Add(1)
	go s.sweeper()
	s.hs = newHSTable(s)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.hs.sweeper(s.stop)
	}()
	for range max(2, cfg.Workers) {
		w := newHSWorker(s)
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			w.run(s.hs.queue, s.stop)
		}()
	}
	return s, nil
}

// Publish queues m for every matching connection. It never blocks and
// never copies m.Frame; m must not be modified afterwards.
func (s *Server) Publish(m *wire.Message) {
	if m == nil || len(m.Frame) == 0 {
		return
	}
	s.mlog.append(m, s.mlog.now())
	s.stats.published.Add(1)
	for _, sh := range s.shards {
		sh.schedule()
	}
}

// Serve accepts connections on ln until Shutdown, then returns
// ErrServerClosed. Temporary accept errors (EMFILE, ENFILE...) are
// survived with a 5 ms to 1 s backoff, logged once per episode.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.serving++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.serving--
		s.mu.Unlock()
	}()

	var delay time.Duration
	for {
		fd, peer, err := accept(ln)
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			if !temporary(err) {
				return fmt.Errorf("broadcast: accept: %w", err)
			}
			s.stats.acceptErrors.Add(1)
			if isFDLimit(err) && s.hs.shedOldest() {
				// Out of fds: the oldest unfinished handshake gives its
				// own back, and the new client is accepted at once.
				continue
			}
			if delay == 0 {
				delay = 5 * time.Millisecond
				s.log.Warn("broadcast: accept failing, backing off", "err", err)
			} else {
				delay = min(2*delay, time.Second)
			}
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return ErrServerClosed
			}
			continue
		}
		if delay != 0 {
			s.log.Info("broadcast: accept recovered")
			delay = 0
		}
		s.stats.accepted.Add(1)
		s.admit(fd, peer)
	}
}

// admit puts a fresh connection on the poller, or refuses it at once.
// Behind a trusted proxy the client's limits wait for its PROXY header.
func (s *Server) admit(fd int, peer netip.Addr) {
	proxy := s.cfg.ProxyProtocol && s.trusted(peer)
	if !proxy && s.rate != nil && !s.rate.allow(peer, s.mlog.now()) {
		s.stats.rejRate.Add(1)
		refuseFD(fd, resp429)
		return
	}
	s.hs.add(fd, peer, proxy)
}

// trusted reports whether peer may send a PROXY header.
func (s *Server) trusted(peer netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// temporary reports whether an accept error is worth retrying.
func temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.EAGAIN, syscall.EINTR, syscall.EPROTO} {
		if errors.Is(err, e) {
			return true
		}
	}
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// resp429 is the whole answer to a client over its connection rate or
// its IP's handshake cap.
const resp429 = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

// reject builds the handshake error sent as an HTTP response.
func reject(status int, reason string) error {
	return ws.RejectConnectionError(ws.RejectionStatus(status), ws.RejectionReason(reason))
}

var errFull = reject(http.StatusServiceUnavailable, "server full")

// reserve takes a connection slot, or reports MaxConns reached.
func (s *Server) reserve() bool {
	for {
		n := s.active.Load()
		if n >= int64(s.cfg.MaxConns) {
			return false
		}
		if s.active.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// register hands an upgraded connection to a shard and the poller. On
// error (the server is closing) the fd is closed.
func (s *Server) register(fd int, id Identity, req request, remote netip.Addr) error {
	c := &conn{
		fd:     fd,
		srv:    s,
		ident:  id,
		filt:   newFilter(id, req),
		remote: remote,
		since:  time.Now(),
	}
	c.onEv = c.onEvent
	if req.realtime {
		// First frame on the wire: the shard writes the control queue
		// before any data, and no data matches before a subscribe.
		c.ctrl = appendTextFrame(nil, replyConnected(id.KeyID))
	}

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		// Too late to join: say goodbye the way everyone else hears it.
		// The socket is fresh and non-blocking: the tiny write fits.
		_, _ = unix.Write(fd, appendClose(nil, ws.StatusGoingAway, "going away"))
		_ = unix.Close(fd)
		return ErrServerClosed
	}
	s.nextID++
	c.id = s.nextID
	// The shard is set before the conn is visible in s.conns: DisconnectKey
	// and Kick read it from other goroutines.
	c.sh = s.shards[c.id%uint64(len(s.shards))]
	s.conns[c.id] = c
	s.open.Add(1)
	if req.realtime {
		s.wsOpen.Add(1)
	}
	s.mu.Unlock()

	c.sh.add(c)
	if req.realtime {
		c.sh.schedule() // send the connected message now
	}
	if s.obs != nil {
		s.obs.Connected(id, remote)
	}
	if err := s.ep.Add(fd, evRead, c.onEv); err != nil {
		c.mu.Lock()
		c.state, c.why = stateDrop, reasonWriteError
		c.mu.Unlock()
		c.sh.schedule()
		return nil // the pass finalizes it and reports Disconnected
	}
	return nil
}

// forget drops finalized conns from the registry and tells the observer.
// Called after the shard lock is released.
func (s *Server) forget(gone []*conn) {
	s.mu.Lock()
	for _, c := range gone {
		delete(s.conns, c.id)
	}
	s.open.Add(-int64(len(gone)))
	var rt int64
	for _, c := range gone {
		if c.filt.realtime {
			rt++
		}
	}
	s.wsOpen.Add(-rt)
	s.mu.Unlock()
	s.active.Add(-int64(len(gone)))
	now := time.Now()
	for _, c := range gone {
		// c is dead: no one writes its fields any more.
		s.log.Debug("broadcast: connection closed", "conn", c.id, "key", c.ident.KeyID,
			"remote", c.remote, "reason", c.why, "delivered", c.delivered)
		if s.obs != nil {
			s.obs.Disconnected(c.ident, c.remote, now.Sub(c.since), c.delivered)
		}
	}
}

// reader answers client frames for conns the poller hands over.
func (s *Server) reader() {
	defer s.bg.Done()
	buf := make([]byte, s.cfg.ReadLimit+maxHeaderSize+4096)
	for {
		select {
		case c := <-s.readq:
			c.readAll(buf)
		case <-s.stop:
			return
		}
	}
}

// sweeper runs once a second: closes conns whose key expired, queues the
// periodic WebSocket ping, and starts passes so stalled conns meet their
// write timeout even when nothing is published.
func (s *Server) sweeper() {
	defer s.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	lastPing := time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			ping := s.cfg.PingInterval > 0 && now.Sub(lastPing) >= s.cfg.PingInterval
			if ping {
				lastPing = now
			}
			s.sweep(now, ping)
		}
	}
}

func (s *Server) sweep(now time.Time, ping bool) {
	nano := s.mlog.now()
	if s.rate != nil {
		s.rate.prune(s.mlog.now())
	}
	for _, sh := range s.shards {
		sh.mu.Lock()
		for _, c := range sh.conns {
			c.mu.Lock()
			if !c.ident.Expires.IsZero() && now.After(c.ident.Expires) {
				c.closeLocked(ws.StatusPolicyViolation, "key expired", reasonExpired, nano)
			} else if ping && c.state == stateOpen {
				c.queueCtrl(len(framePing), false, func(b []byte) []byte { return append(b, framePing...) })
			}
			c.mu.Unlock()
		}
		sh.mu.Unlock()
		sh.schedule()
	}
}

// DisconnectKey closes every connection of keyID with a close frame
// (code and reason), as on revocation; it returns how many were closed.
// The frames go out on the shards' next pass, started at once.
func (s *Server) DisconnectKey(keyID string, code ws.StatusCode, reason string) int {
	var list []*conn
	s.mu.Lock()
	for _, c := range s.conns {
		if c.ident.KeyID == keyID {
			list = append(list, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range list {
		if c.close(code, reason, reasonKicked) {
			n++
		}
	}
	return n
}

// Kick closes one connection (ids come from Conns) with a close frame.
func (s *Server) Kick(connID uint64, code ws.StatusCode, reason string) bool {
	s.mu.Lock()
	c := s.conns[connID]
	s.mu.Unlock()
	return c != nil && c.close(code, reason, reasonKicked)
}

// ConnInfo describes one open connection.
type ConnInfo struct {
	ID        uint64
	Endpoint  string // "stellar" (/ and /stellar) or "ws" (/ws)
	KeyID     string
	Label     string
	Remote    netip.Addr
	Since     time.Time
	Delivered uint64
}

// Conns lists the open connections (for an admin view; it allocates).
func (s *Server) Conns() []ConnInfo {
	s.mu.Lock()
	list := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		list = append(list, c)
	}
	s.mu.Unlock()
	out := make([]ConnInfo, 0, len(list))
	for _, c := range list {
		c.mu.Lock()
		ep := "stellar"
		if c.filt.realtime {
			ep = "ws"
		}
		out = append(out, ConnInfo{ID: c.id, Endpoint: ep, KeyID: c.ident.KeyID, Label: c.ident.Label,
			Remote: c.remote, Since: c.since, Delivered: c.delivered})
		c.mu.Unlock()
	}
	return out
}

// Shutdown stops accepting, lets pending pings finish their pass, sends
// close 1001 "going away" to every connection, removes every fd from
// epoll, closes it and stops the pool. If ctx ends first, the remaining
// connections are closed at once and ctx.Err() is returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.closing = true
	close(s.done)
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()

	// 1. No new conns: wait for the Serve loops, close the unfinished
	// handshakes, let the workers finish the ones they hold.
	err := s.waitFor(ctx, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.serving == 0
	})
	s.hs.closeAll()
	if err == nil {
		err = s.waitFor(ctx, func() bool { return s.hs.size() == 0 })
	}
	// 2. Drain: passes for what was published before Shutdown.
	if err == nil {
		for _, sh := range s.shards {
			sh.schedule()
		}
		err = s.waitFor(ctx, s.idle)
	}
	// 3. Going away, to everyone.
	if err == nil {
		s.mu.Lock()
		list := make([]*conn, 0, len(s.conns))
		for _, c := range s.conns {
			list = append(list, c)
		}
		s.mu.Unlock()
		for _, c := range list {
			c.close(ws.StatusGoingAway, "going away", reasonShutdown)
		}
		err = s.waitFor(ctx, func() bool {
			s.mu.Lock()
			n := len(s.conns)
			s.mu.Unlock()
			if n > 0 {
				for _, sh := range s.shards {
					sh.schedule() // enforces the close deadline of stuck conns
				}
			}
			return n == 0 && s.idle()
		})
	}
	// 4. Whatever is left goes now; then the poller, readers and pool.
	s.waitFor(context.Background(), s.idle)
	for _, sh := range s.shards {
		sh.mu.Lock()
		for i := len(sh.conns) - 1; i >= 0; i-- {
			c := sh.conns[i]
			c.mu.Lock()
			c.why = reasonShutdown
			sh.finalize(c)
			c.mu.Unlock()
		}
		gone := sh.gone
		sh.gone = nil
		sh.mu.Unlock()
		s.forget(gone)
	}
	close(s.stop)
	s.bg.Wait()
	s.hs.drainQueue() // handshakes left queued when ctx ended
	if cerr := s.ep.Close(); cerr != nil {
		s.log.Warn("broadcast: close epoll", "err", cerr)
	}
	if perr := s.pool.ReleaseTimeout(5 * time.Second); perr != nil {
		s.log.Warn("broadcast: release pool", "err", perr)
	}
	return err
}

// idle reports whether no shard pass is queued or running.
func (s *Server) idle() bool {
	for _, sh := range s.shards {
		if sh.state.Load() != passIdle {
			return false
		}
	}
	return true
}

// waitFor polls cond with a growing interval until it holds or ctx ends.
func (s *Server) waitFor(ctx context.Context, cond func() bool) error {
	d := time.Millisecond
	for !cond() {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		d = min(2*d, 50*time.Millisecond)
	}
	return nil
}
