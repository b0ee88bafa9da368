package keys

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/time/rate"
)

var bucketFeedUsage = []byte("feed_usage")

// FeedMonth is what a feed took in during one UTC month.
type FeedMonth struct {
	Events      int64 `json:"events"`                // accepted
	Bytes       int64 `json:"bytes"`                 // of the accepted bodies
	OverQuota   int64 `json:"overQuota,omitempty"`   // refused with 402
	RateLimited int64 `json:"rateLimited,omitempty"` // refused with 429
}

// FeedUsage is a feed's counters by month ("2026-12").
type FeedUsage struct {
	Months map[string]FeedMonth `json:"months"`
}

// KeyMonth is what a key did during one UTC month: enough to bill from.
// Connection time and deliveries are counted when a connection ends.
type KeyMonth struct {
	Connections   uint64        `json:"connections"`
	ConnectedTime time.Duration `json:"connectedTime"` // ns
	Deliveries    uint64        `json:"deliveries"`
	IngestPings   int64         `json:"ingestPings,omitempty"`
}

// keepMonths bounds the monthly history of a key or feed.
const keepMonths = 24

// maxIPLimiters bounds the per-IP limiter table of one feed; when full it
// starts over (a burst of new IPs resets everyone's bucket, never refuses
// an honest client for long).
const maxIPLimiters = 16384

type feedUsage struct {
	dirty atomic.Bool

	mu      sync.Mutex
	months  map[string]*FeedMonth
	limiter *rate.Limiter
	ips     map[netip.Addr]*rate.Limiter
}

func newFeedUsage() *feedUsage { return &feedUsage{months: map[string]*FeedMonth{}} }

// MonthKey is the month of t as the usage records name it: "2026-12".
func MonthKey(t time.Time) string { return t.UTC().Format("2006-01") }

func (u *feedUsage) month(now time.Time) *FeedMonth {
	k := MonthKey(now)
	m := u.months[k]
	if m == nil {
		m = &FeedMonth{}
		u.months[k] = m
		trimMonths(u.months)
	}
	return m
}

func trimMonths[V any](m map[string]V) {
	if len(m) <= keepMonths {
		return
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	for _, k := range ks[:len(ks)-keepMonths] {
		delete(m, k)
	}
}

func limiter(l *rate.Limiter, r float64) *rate.Limiter {
	if l == nil || float64(l.Limit()) != r {
		return rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))
	}
	return l
}

// AllowFeed applies the feed's RatePerSec and IPRatePerSec to one ingest
// request from ip (ErrRateLimited when over either).
func (s *Store) AllowFeed(name string, ip netip.Addr, now time.Time) error {
	fr := s.snap.Load().feeds[name]
	if fr == nil {
		return fmt.Errorf("allow feed %q: %w", name, ErrNotFound)
	}
	f, u := &fr.feed, fr.use
	if f.RatePerSec <= 0 && f.IPRatePerSec <= 0 {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if f.IPRatePerSec > 0 {
		if u.ips == nil || len(u.ips) >= maxIPLimiters {
			u.ips = map[netip.Addr]*rate.Limiter{}
		}
		ip = ip.Unmap()
		l := limiter(u.ips[ip], f.IPRatePerSec)
		u.ips[ip] = l
		if !l.AllowN(now, 1) {
			u.month(now).RateLimited++
			u.dirty.Store(true)
			return ErrRateLimited
		}
	}
	if f.RatePerSec > 0 {
		u.limiter = limiter(u.limiter, f.RatePerSec)
		if !u.limiter.AllowN(now, 1) {
			u.month(now).RateLimited++
			u.dirty.Store(true)
			return ErrRateLimited
		}
	}
	return nil
}

// ChargeFeed counts events accepted into the feed (bytes of body) against
// its MonthlyQuota. Over quota nothing is counted and ErrQuota is
// returned; used is the month's count either way.
func (s *Store) ChargeFeed(name string, events, bytes int, now time.Time) (used int64, err error) {
	fr := s.snap.Load().feeds[name]
	if fr == nil {
		return 0, fmt.Errorf("charge feed %q: %w", name, ErrNotFound)
	}
	u := fr.use
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.month(now)
	u.dirty.Store(true)
	if q := fr.feed.MonthlyQuota; q > 0 && m.Events+int64(events) > q {
		m.OverQuota++
		return m.Events, ErrQuota
	}
	m.Events += int64(events)
	m.Bytes += int64(bytes)
	return m.Events, nil
}

// RefundFeed takes back a ChargeFeed whose events were refused after all
// (the posting token's own quota): the feed's month counts what went out.
func (s *Store) RefundFeed(name string, events, bytes int, now time.Time) {
	fr := s.snap.Load().feeds[name]
	if fr == nil {
		return
	}
	u := fr.use
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.month(now)
	m.Events = max(0, m.Events-int64(events))
	m.Bytes = max(0, m.Bytes-int64(bytes))
	u.dirty.Store(true)
}

// FeedUsage returns the counters of the feed with that name.
func (s *Store) FeedUsage(name string) (FeedUsage, error) {
	fr := s.snap.Load().feeds[name]
	if fr == nil {
		return FeedUsage{}, fmt.Errorf("feed usage %q: %w", name, ErrNotFound)
	}
	return fr.use.view(), nil
}

func (u *feedUsage) view() FeedUsage {
	u.mu.Lock()
	defer u.mu.Unlock()
	v := FeedUsage{Months: make(map[string]FeedMonth, len(u.months))}
	for k, m := range u.months {
		v.Months[k] = *m
	}
	return v
}

func (s *Store) loadFeedUsage(snap *snapshot) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketFeedUsage)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			fr := snap.feeds[string(k)]
			if fr == nil {
				return nil // a deleted feed's usage
			}
			var fu FeedUsage
			if err := json.Unmarshal(v, &fu); err != nil {
				return fmt.Errorf("bucket feed_usage: record %q: %w", k, err)
			}
			for mk, m := range fu.Months {
				fr.use.months[mk] = &m
			}
			return nil
		})
	})
}

func (snap *snapshot) feedsDirty() bool {
	for _, fr := range snap.feeds {
		if fr.use.dirty.Load() {
			return true
		}
	}
	return false
}

// flushFeeds writes the feed usage that changed, inside Flush's
// transaction; it returns the usages to mark dirty again if that fails.
func (snap *snapshot) flushFeeds(tx *bolt.Tx) ([]*feedUsage, error) {
	b, err := tx.CreateBucketIfNotExists(bucketFeedUsage)
	if err != nil {
		return nil, err
	}
	var done []*feedUsage
	for name, fr := range snap.feeds {
		if !fr.use.dirty.Swap(false) {
			continue
		}
		done = append(done, fr.use)
		data, err := json.Marshal(fr.use.view())
		if err != nil {
			return done, fmt.Errorf("encode feed usage %q: %w", name, err)
		}
		if err := b.Put([]byte(name), data); err != nil {
			return done, fmt.Errorf("put feed usage %q: %w", name, err)
		}
	}
	return done, nil
}

// monthOfUsage returns the key's record for now's month; u.mu is held.
func (u *usage) monthOf(now time.Time) *KeyMonth {
	k := MonthKey(now)
	if u.u.Months == nil {
		u.u.Months = map[string]KeyMonth{}
	}
	m := u.u.Months[k]
	trimMonths(u.u.Months)
	return &m
}

// setMonth stores m back as now's month; u.mu is held.
func (u *usage) setMonth(now time.Time, m *KeyMonth) { u.u.Months[MonthKey(now)] = *m }
