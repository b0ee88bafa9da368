package broadcast

import (
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
