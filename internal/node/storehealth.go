package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/engine"
)

// minFreeBytes is the free space the data directory needs before a
// degraded store is declared writable again. bbolt reuses freed pages, so
// a small write can succeed on a full disk; requiring headroom keeps the
// state from flapping with every write that happens to fit.
const minFreeBytes = 1 << 20

// storeHealth tracks whether the data directory can be written. Any failed
// write (key change, usage flush, dedupe save, probe) marks it degraded;
// only a probe, which checks free space and writes for real, marks it
// writable again. Each transition is logged once, never per write.
//
// Degraded, the node keeps authenticating and broadcasting from memory;
// key changes fail with keys.ErrUnwritable (HTTP 507); usage and dedupe
// state stay in memory and their writers retry.
type storeHealth struct {
	log      *slog.Logger
	db       *bolt.DB
	dir      string
	interval time.Duration // probe period while degraded

	writable atomic.Bool
	errors   *metrics.Counter
	wake     chan struct{}

	mu    sync.Mutex
	cause error // first failure of the current outage; nil while writable
	since time.Time
}

func newStoreHealth(log *slog.Logger, db *bolt.DB, dir string, interval time.Duration, set *metrics.Set) *storeHealth {
	h := &storeHealth{log: log, db: db, dir: dir, interval: interval, wake: make(chan struct{}, 1),
		errors: set.NewCounter("stellarfeed_store_write_errors_total")}
	h.writable.Store(true)
	set.NewGauge("stellarfeed_store_writable", func() float64 {
		if h.writable.Load() {
			return 1
		}
		return 0
	})
	return h
}

// report is the result of one write. Successes do not end an outage: see
// storeHealth.
func (h *storeHealth) report(err error) {
	if err == nil {
		return
	}
	h.errors.Inc()
	h.mu.Lock()
	first := h.cause == nil
	if first {
		h.cause, h.since = err, time.Now()
		h.writable.Store(false)
	}
	h.mu.Unlock()
	if !first {
		return
	}
	h.log.Error("data directory not writable: key changes are refused (507), usage and dedupe state are kept in memory and retried, broadcasting continues",
		"dir", h.dir, "err", err)
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// run probes while degraded, until ctx ends.
func (h *storeHealth) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.wake:
		}
		t := time.NewTicker(h.interval)
		for !h.writable.Load() {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if err := h.probe(); err != nil {
				h.errors.Inc()
				continue
			}
			h.mu.Lock()
			since := h.since
			h.cause = nil
			h.writable.Store(true)
			h.mu.Unlock()
			h.log.Info("data directory writable again: key changes accepted, pending usage and dedupe state are written on their next flush",
				"dir", h.dir, "after", time.Since(since).Round(time.Millisecond))
		}
		t.Stop()
	}
}

// probe checks for headroom, then commits a small write.
func (h *storeHealth) probe() error {
	if err := checkSpace(h.dir, minFreeBytes); err != nil {
		return err
	}
	if h.db.IsReadOnly() {
		return errOpenedReadOnly
	}
	return h.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketNode)
		if err != nil {
			return err
		}
		stamp, _ := time.Now().UTC().MarshalText()
		return b.Put(nodeProbe, stamp)
	})
}

// errOpenedReadOnly: the store was opened read-only because the data
// directory could not be written at start; only a restart can write again.
var errOpenedReadOnly = errors.New("opened read-only at start: restart the node once the data directory is writable")

// openReadOnly opens the store read-only when opening it for writing failed
// because the data directory cannot be written (read-only file system, no
// permission): the node then serves the keys it has. It returns the store
// and the cause, or a nil cause (and no store) for any other failure.
func openReadOnly(dir string, err error) (*bolt.DB, error) {
	if !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EPERM) {
		return nil, nil
	}
	db, rerr := OpenDB(dir, true)
	if rerr != nil {
		return nil, nil
	}
	return db, fmt.Errorf("%w (%w)", err, errOpenedReadOnly)
}

// degraded is the /readyz detail: the node stays ready (it serves every
// subscriber), but says what is impaired.
func (h *storeHealth) degraded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cause == nil {
		return nil
	}
	return []string{fmt.Sprintf("store: degraded since %s (data directory not writable: %v)", h.since.UTC().Format(time.RFC3339), h.cause)}
}

// observedState reports every dedupe state write to the store's health.
type observedState struct {
	*engine.BoltState
	report func(error)
}

func (s observedState) Save(key string, st engine.State) error {
	return s.SaveAll(map[string]engine.State{key: st})
}

func (s observedState) SaveAll(batch map[string]engine.State) error {
	err := s.BoltState.SaveAll(batch)
	s.report(err)
	return err
}

func (s observedState) Delete(key string) error {
	err := s.BoltState.Delete(key)
	s.report(err)
	return err
}
