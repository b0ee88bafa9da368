package node

import (
	"bytes"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/stellarfeed/stellarfeed/engine"
	"github.com/stellarfeed/stellarfeed/internal/keys"
)

// The node's own bucket: whether a process is running on the data
// directory, and the store-health probe.
var (
	bucketNode  = []byte("node")
	nodeRunning = []byte("running") // start time; deleted by a clean Shutdown
	nodeStopped = []byte("stopped") // time of the last clean Shutdown
	nodeProbe   = []byte("probe")
	nodeSSENext = []byte("sseNext") // first SSE event id for the next run
)

// Recovered is what a start found in the data directory.
type Recovered struct {
	Keys int
	// DedupeStates counts remembered products; DedupeTargets the targets
	// known to be past their first check.
	DedupeStates, DedupeTargets int
	LastUsageFlush              time.Time // zero: never
	// Clean is false when the previous process did not reach the end of
	// Shutdown (killed, crashed, power lost). Everything it committed is
	// there (bbolt fsyncs each commit); lost are the usage counted after
	// LastUsageFlush and the pings it was broadcasting.
	Clean bool
	// PreviousStart is when the previous process started, StoppedAt when
	// it stopped cleanly; zero when unknown.
	PreviousStart, StoppedAt time.Time
	Fresh                    bool // no previous run recorded
	// SSENext is the SSE id after the last one the previous run used, as
	// recorded by a clean Shutdown (0: unknown).
	SSENext uint64
}

// recover reads what the previous run left and marks this one running.
// A failed mark is reported to health, not fatal: a full disk must not keep
// the server from serving the keys it has.
func recoverDataDir(db *bolt.DB, st *keys.Store, health *storeHealth, log *slog.Logger) (Recovered, error) {
	r := Recovered{Keys: len(st.List()), LastUsageFlush: st.LastFlush(), Clean: true}
	err := db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket([]byte(engine.BoltBucket)); b != nil {
			prefix := []byte("target\x00")
			_ = b.ForEach(func(k, _ []byte) error {
				if bytes.HasPrefix(k, prefix) {
					r.DedupeTargets++
				} else {
					r.DedupeStates++
				}
				return nil
			})
		}
		b := tx.Bucket(bucketNode)
		if b == nil {
			r.Fresh = true
			return nil
		}
		var err error
		if v := b.Get(nodeRunning); v != nil {
			r.Clean = false
			err = r.PreviousStart.UnmarshalText(v)
		}
		if v := b.Get(nodeStopped); v != nil && r.Clean {
			err = r.StoppedAt.UnmarshalText(v)
		}
		if v := b.Get(nodeSSENext); v != nil {
			r.SSENext, _ = strconv.ParseUint(string(v), 10, 64)
		}
		return err
	})
	if err != nil {
		return r, fmt.Errorf("read data directory state: %w", err)
	}
	shutdown := "clean"
	switch {
	case r.Fresh && (r.Keys > 0 || r.DedupeStates > 0):
		shutdown = "unknown (data directory from a version without the marker)"
	case r.Fresh:
		shutdown = "none (first start)"
	case !r.Clean:
		shutdown = "unclean (killed or crashed)"
	}
	log.Info("data directory recovered", "keys", r.Keys, "dedupeStates", r.DedupeStates, "dedupeTargets", r.DedupeTargets,
		"lastUsageFlush", timeOrNever(r.LastUsageFlush), "previousShutdown", shutdown)
	health.report(db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketNode)
		if err != nil {
			return err
		}
		stamp, _ := time.Now().UTC().MarshalText()
		return b.Put(nodeRunning, stamp)
	}))
	return r, nil
}

// markStopped records a clean shutdown, the last write before the store
// closes, and the SSE id the next run starts from.
func markStopped(db *bolt.DB, sseNext uint64) error {
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketNode)
		if err != nil {
			return err
		}
		if err := b.Delete(nodeRunning); err != nil {
			return err
		}
		if err := b.Put(nodeSSENext, strconv.AppendUint(nil, sseNext, 10)); err != nil {
			return err
		}
		stamp, _ := time.Now().UTC().MarshalText()
		return b.Put(nodeStopped, stamp)
	})
}

// firstSSEID is where a run's SSE ids start: the clock in Unix
// microseconds (ids keep increasing across restarts, even after a crash),
// but never below where the previous clean run stopped, so a clock that
// went back between runs cannot hand out ids a client already saw.
func firstSSEID(now time.Time, next uint64) uint64 {
	return max(uint64(now.UnixMicro()), next)
}

func timeOrNever(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
