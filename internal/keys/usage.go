package keys

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/time/rate"
)

// Usage is what a key did, counted in memory and persisted by Flush.
type Usage struct {
	Conns         int               `json:"conns"`         // live now (not restored by Open)
	Connections   uint64            `json:"connections"`   // upgraded connections, ever
	ConnectedTime time.Duration     `json:"connectedTime"` // of ended connections, in ns
	Deliveries    uint64            `json:"deliveries"`    // frames delivered to ended connections
	LastSeen      time.Time         `json:"lastSeen,omitzero"`
	LastIP        netip.Addr        `json:"lastIP,omitzero"`
	Rejected      map[string]uint64 `json:"rejected,omitempty"` // by AuthError code

	// Day (yyyymmdd, UTC) and the distinct IPs seen that day; kept only for
	// keys with MaxIPsPerDay.
	Day    int          `json:"day,omitempty"`
	DayIPs []netip.Addr `json:"dayIPs,omitempty"`

	// Ingest tokens: Month (yyyymm, UTC) and pings accepted that month.
	Month          int    `json:"month,omitempty"`
	MonthPings     int64  `json:"monthPings,omitempty"`
	IngestRequests uint64 `json:"ingestRequests,omitempty"`
	IngestPings    uint64 `json:"ingestPings,omitempty"`

	// Months holds the billing counters by UTC month ("2026-12").
	Months map[string]KeyMonth `json:"months,omitempty"`
}

// pendingTTL bounds how long an authenticated handshake holds a connection
// slot before Connected: longer than any handshake deadline, so a slot
// whose upgrade failed (and so never gets Connected) comes back.
const pendingTTL = 30 * time.Second

type usage struct {
	rejected [numReasons]atomic.Uint64 // lock-free: bumped on every refusal
	dirty    atomic.Bool

	mu      sync.Mutex
	u       Usage // Rejected unused here: see rejected
	pending []time.Time
	limiter *rate.Limiter
}

func newUsage() *usage { return &usage{} }

func (u *usage) reject(r reason) {
	u.rejected[r].Add(1)
	u.dirty.Store(true)
}

// view copies the counters out.
func (u *usage) view() Usage {
	u.mu.Lock()
	v := u.u
	v.DayIPs = slices.Clone(v.DayIPs)
	v.Months = maps.Clone(v.Months)
	u.mu.Unlock()
	for i := range u.rejected {
		if n := u.rejected[i].Load(); n > 0 {
			if v.Rejected == nil {
				v.Rejected = make(map[string]uint64, numReasons)
			}
			v.Rejected[authErrors[i].Code] = n
		}
	}
	return v
}

func (u *usage) load(data []byte) error {
	var v Usage
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	for i, e := range authErrors {
		u.rejected[i].Store(v.Rejected[e.Code])
	}
	v.Rejected, v.Conns = nil, 0
	u.mu.Lock()
	u.u = v
	u.mu.Unlock()
	return nil
}

// Identity is what a subscriber connection is admitted as; it mirrors the
// broadcaster's Identity so an adapter is a field copy.
type Identity struct {
	KeyID   string
	Label   string
	Expires time.Time
	Scopes  []string
	// Feed is the routing number of the key's feed (Feed.Num) and
	// Webhook its kind: the broadcaster delivers only that feed's events.
	Feed    uint32
	Webhook bool
	// Issued stamps the version of the key's secret that authenticated
	// (SecretStamp): a connection whose stamp is older than the key's
	// was opened with a secret rotated away since.
	Issued int64
}

// SecretStamp identifies the current version of k's secret: its rotation
// time, 0 for a key never rotated.
func SecretStamp(k *Key) int64 {
	if k.Rotated.IsZero() {
		return 0
	}
	return k.Rotated.UnixNano()
}

// Authenticate admits a WebSocket handshake: Check as a subscriber key,
// then the key's MaxConns (ErrTooManyConns, 429) and MaxIPsPerDay
// (ErrIPLimit, 403). On success a connection slot is held for the
// handshake until Connected (or pendingTTL).
func (s *Store) Authenticate(key string, remote netip.Addr) (Identity, error) {
	now := s.now()
	rec, err := s.check(key, KindSubscriber, now)
	if err != nil {
		return Identity{}, err
	}
	return s.admit(rec, remote, now)
}

// admit applies a checked subscriber key's connection limits.
func (s *Store) admit(rec *record, remote netip.Addr, now time.Time) (Identity, error) {
	k, u := &rec.key, rec.use
	fr := s.snap.Load().feedOf(k)
	if fr == nil {
		// The key's feed is gone (or not replicated here yet): it
		// opens nothing rather than some other feed.
		u.reject(reasonUnknown)
		return Identity{}, ErrUnknown
	}
	remote = remote.Unmap()
	u.mu.Lock()
	defer u.mu.Unlock()
	if k.MaxConns > 0 {
		u.expirePending(now)
		if u.u.Conns+len(u.pending)+s.peers(k.ID) >= k.MaxConns {
			u.reject(reasonMaxConns)
			return Identity{}, ErrTooManyConns
		}
	}
	if k.MaxIPsPerDay > 0 {
		if d := dayOf(now); u.u.Day != d {
			u.u.Day, u.u.DayIPs = d, u.u.DayIPs[:0]
		}
		if !slices.Contains(u.u.DayIPs, remote) {
			if len(u.u.DayIPs) >= k.MaxIPsPerDay {
				u.reject(reasonIPLimit)
				return Identity{}, ErrIPLimit
			}
			u.u.DayIPs = append(u.u.DayIPs, remote)
		}
	}
	if k.MaxConns > 0 {
		u.pending = append(u.pending, now)
	}
	u.u.LastSeen, u.u.LastIP = now, remote
	u.dirty.Store(true)
	return Identity{KeyID: k.ID, Label: k.Label, Expires: k.Expires, Scopes: k.Scopes, Feed: fr.feed.Num, Webhook: fr.feed.Webhook(), Issued: SecretStamp(k)}, nil
}

// expirePending drops slots of handshakes that never reached Connected.
// Slots are appended in time order, so the stale ones lead.
func (u *usage) expirePending(now time.Time) {
	n := 0
	for n < len(u.pending) && now.Sub(u.pending[n]) > pendingTTL {
		n++
	}
	if n > 0 {
		u.pending = u.pending[:copy(u.pending, u.pending[n:])]
	}
}

// Connected records an upgraded connection of keyID (the broadcaster's
// ConnObserver hook). Unknown IDs are ignored.
func (s *Store) Connected(keyID string, remote netip.Addr) {
	rec := s.snap.Load().byID[keyID]
	if rec == nil {
		return
	}
	now := s.now()
	u := rec.use
	u.mu.Lock()
	if len(u.pending) > 0 {
		u.pending = u.pending[:copy(u.pending, u.pending[1:])]
	}
	u.u.Conns++
	u.u.Connections++
	u.u.LastSeen, u.u.LastIP = now, remote.Unmap()
	m := u.monthOf(now)
	m.Connections++
	u.setMonth(now, m)
	u.mu.Unlock()
	u.dirty.Store(true)
}

// Disconnected records the end of a connection Connected was told about:
// how long it lasted and how many frames it was sent.
func (s *Store) Disconnected(keyID string, remote netip.Addr, dur time.Duration, delivered uint64) {
	rec := s.snap.Load().byID[keyID]
	if rec == nil {
		return
	}
	now := s.now()
	u := rec.use
	u.mu.Lock()
	if u.u.Conns > 0 {
		u.u.Conns--
	}
	u.u.ConnectedTime += dur
	u.u.Deliveries += delivered
	u.u.LastSeen, u.u.LastIP = now, remote.Unmap()
	m := u.monthOf(now)
	m.ConnectedTime += dur
	m.Deliveries += delivered
	u.setMonth(now, m)
	u.mu.Unlock()
	u.dirty.Store(true)
}

// AllowIngest applies the ingest token's RatePerSec to one request
// (ErrRateLimited when over). Burst is one second's worth.
func (s *Store) AllowIngest(keyID string, now time.Time) error {
	rec := s.snap.Load().byID[keyID]
	if rec == nil {
		return fmt.Errorf("allow ingest %q: %w", keyID, ErrNotFound)
	}
	r := rec.key.RatePerSec
	if r <= 0 {
		return nil
	}
	u := rec.use
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.limiter == nil || float64(u.limiter.Limit()) != r {
		u.limiter = rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))
	}
	if !u.limiter.AllowN(now, 1) {
		u.reject(reasonRate)
		return ErrRateLimited
	}
	return nil
}

// ChargeIngest counts pings accepted for an ingest token against its
// MonthlyQuota. Over quota, nothing is counted and ErrQuota is returned,
// so the caller publishes none of them.
func (s *Store) ChargeIngest(keyID string, pings int, now time.Time) error {
	rec := s.snap.Load().byID[keyID]
	if rec == nil {
		return fmt.Errorf("charge ingest %q: %w", keyID, ErrNotFound)
	}
	u := rec.use
	u.mu.Lock()
	defer u.mu.Unlock()
	if m := monthOf(now); u.u.Month != m {
		u.u.Month, u.u.MonthPings = m, 0
	}
	if q := rec.key.MonthlyQuota; q > 0 && u.u.MonthPings+int64(pings) > q {
		u.reject(reasonQuota)
		return ErrQuota
	}
	u.u.MonthPings += int64(pings)
	mo := u.monthOf(now)
	mo.IngestPings += int64(pings)
	u.setMonth(now, mo)
	u.u.IngestRequests++
	u.u.IngestPings += uint64(pings)
	u.dirty.Store(true)
	return nil
}

func dayOf(t time.Time) int {
	y, m, d := t.UTC().Date()
	return y*10000 + int(m)*100 + d
}

func monthOf(t time.Time) int {
	y, m, _ := t.UTC().Date()
	return y*100 + int(m)
}

// Usage returns the counters of the key with that ID.
func (s *Store) Usage(id string) (Usage, error) {
	rec := s.snap.Load().byID[id]
	if rec == nil {
		return Usage{}, fmt.Errorf("usage %q: %w", id, ErrNotFound)
	}
	return rec.use.view(), nil
}

// UnknownRejections counts refusals of secrets that matched no key, by
// code ("missing", "unknown").
func (s *Store) UnknownRejections() map[string]uint64 { return s.anon.view().Rejected }

// Flush writes the usage that changed since the last Flush to bbolt, in
// one transaction.
func (s *Store) Flush() error {
	type item struct {
		id   string
		u    *usage
		data []byte
	}
	var items []item
	add := func(id string, u *usage) error {
		if !u.dirty.Swap(false) {
			return nil
		}
		data, err := json.Marshal(u.view())
		if err != nil {
			u.dirty.Store(true)
			return fmt.Errorf("flush key usage %q: %w", id, err)
		}
		items = append(items, item{id, u, data})
		return nil
	}
	for id, rec := range s.snap.Load().byID {
		if err := add(id, rec.use); err != nil {
			return err
		}
	}
	if err := add(anonID, s.anon); err != nil {
		return err
	}
	snap := s.snap.Load()
	if len(items) == 0 && !snap.feedsDirty() {
		return nil
	}
	var feedsDone []*feedUsage
	at := s.now().UTC()
	stamp, _ := at.MarshalText()
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if feedsDone, err = snap.flushFeeds(tx); err != nil {
			return err
		}
		b := tx.Bucket(bucketUsage)
		if b == nil {
			return fmt.Errorf("bucket %q missing (read-only store?)", bucketUsage)
		}
		for _, it := range items {
			if err := b.Put([]byte(it.id), it.data); err != nil {
				return fmt.Errorf("put %q: %w", it.id, err)
			}
		}
		// Stores from before key_meta get the bucket on their first flush.
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		return m.Put(metaFlushed, stamp)
	})
	s.observe(err)
	if err != nil {
		for _, it := range items {
			it.u.dirty.Store(true) // retried by the next Flush
		}
		for _, u := range feedsDone {
			u.dirty.Store(true)
		}
		return fmt.Errorf("flush key usage: %w: %w", ErrUnwritable, err)
	}
	s.lastFlush.Store(at.UnixNano())
	return nil
}

// LastFlush is when usage was last written to the store, by this process
// or, until its first flush, by the previous one; zero if never. A crash
// loses the usage counted since.
func (s *Store) LastFlush() time.Time {
	if ns := s.lastFlush.Load(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

// RunFlusher calls Flush every interval until ctx ends, then flushes a last
// time and returns that Flush's error. Failures in between are retried on
// the next tick with nothing lost from memory; the first of a run of
// failures is logged, and the flush that succeeds again, not every tick.
func (s *Store) RunFlusher(ctx context.Context, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("run usage flusher: interval must be positive, got %v", interval)
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	var failing time.Time // first failure of the current run
	for {
		select {
		case <-ctx.Done():
			return s.Flush()
		case <-t.C:
			err := s.Flush()
			switch {
			case err != nil && failing.IsZero():
				failing = time.Now()
				s.log.Warn("key usage flush failed; usage is kept in memory and retried every interval", "interval", interval, "err", err)
			case err == nil && !failing.IsZero():
				s.log.Info("key usage flushed again", "failingFor", time.Since(failing).Round(time.Millisecond))
				failing = time.Time{}
			}
		}
	}
}
