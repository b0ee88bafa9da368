package cluster

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
	"github.com/stellarfeed/stellarfeed/internal/wire"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(runChildNode())
	}
	if os.Getenv(natsChildEnv) != "" {
		os.Exit(runNATSChild())
	}
	goleak.VerifyTestMain(m,
		// The engines of the tests start ants pools, whose purge and
		// clock goroutines outlive Release by design.
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).purgeStaleWorkers"),
		goleak.IgnoreTopFunction("github.com/panjf2000/ants/v2.(*poolCommon).ticktock"),
	)
}

// checkFor adapts testutil.Eventually to the boolean conditions of these
// tests.
func checkFor(t testing.TB, total, step time.Duration, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, total, step, func() error {
		if cond() {
			return nil
		}
		return errors.New("condition still false")
	})
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("CLUSTER_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fastConfig shortens every period so membership tests take a second.
func fastConfig(id string, roles ...Role) Config {
	return Config{
		NodeID: id, Roles: roles,
		Heartbeat: 100 * time.Millisecond, NodeTTL: 500 * time.Millisecond,
		ConnsInterval: 50 * time.Millisecond, ClaimWindow: time.Minute,
	}
}

// startEmbedded starts the first node: the embedded server on a random
// loopback port with JetStream in a temp dir.
func startEmbedded(t testing.TB, cfg Config) *Cluster {
	t.Helper()
	cfg.NATS = Embedded
	cfg.EmbeddedListen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	c, err := Start(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// join starts another node connected to first's server.
func join(t testing.TB, first *Cluster, cfg Config) *Cluster {
	t.Helper()
	cfg.NATS = first.URL()
	c, err := Start(context.Background(), cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// openStore opens a key store on a fresh bbolt file.
func openStore(t testing.TB) *keys.Store {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "keys.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := keys.Open(db, keys.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// recordingHub is a Hub that keeps what it was given.
type recordingHub struct {
	mu   sync.Mutex
	msgs []*wire.Message
}

func (h *recordingHub) Publish(m *wire.Message) {
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

func (h *recordingHub) all() []*wire.Message {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*wire.Message(nil), h.msgs...)
}

func (h *recordingHub) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.msgs)
}

// crash stops a node the way a kill does: no leave, no count cleanup.
func crash(c *Cluster) {
	c.closeOnce.Do(func() {
		c.nc.Close() // first: the loops' last writes must not reach NATS
		c.cancel()
		c.wg.Wait()
		if c.srv != nil {
			c.srv.Shutdown()
			c.srv.WaitForShutdown()
		}
	})
}
