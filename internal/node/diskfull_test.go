package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stellarfeed/stellarfeed/internal/api"
	"github.com/stellarfeed/stellarfeed/internal/keys"
	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

// logRecorder keeps every record's message and level, for tests that
// count log lines.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.recs = append(r.recs, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// count returns how many records' messages start with prefix.
func (r *logRecorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if strings.HasPrefix(rec.Message, prefix) {
			n++
		}
	}
	return n
}

// mountTmpfs mounts a tmpfs of size bytes on a new temporary directory.
// It skips when the test may not mount (not root, no CAP_SYS_ADMIN): the
// CI runs as root on the same kind of machine, where it must run.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	if testing.Short() {
		t.Skip("mounts a tmpfs; skipped with -short")
	}
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		if errors.Is(err, unix.EPERM) {
			t.Skipf("cannot mount a tmpfs here (uid %d: %v); a full or read-only data directory needs a real small file system, so this test needs root or CAP_SYS_ADMIN", os.Geteuid(), err)
		}
		t.Fatalf("mount tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			break
		}
	}
	// Page-sized remainders, too.
	for {
		if _, err := f.Write(buf[:512]); err != nil {
			return path
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor is testutil.Eventually for a boolean condition described by what.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.Eventually(t, within, 10*time.Millisecond, func() error {
		if cond() {
			return nil
		}
		return errors.New(what)
	})
}

// TestDiskFull runs a node on a real 4 MiB tmpfs and fills it. The node
// keeps authenticating and broadcasting; key changes get 507 naming the
// cause; the fault is logged once however many writes fail, shows on
// /readyz (still 200) and /metrics; usage counted meanwhile is not lost;
// and all of it recovers when space returns.
func TestDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, 4<<20)
	rec := &logRecorder{}
	n, err := Start(context.Background(), Config{DataDir: filepath.Join(mnt, "data"), Demo: true, Logger: slog.New(rec),
		WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", UsageFlush: 20 * time.Millisecond, StoreProbe: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return n.Shutdown(ctx)
	}
	t.Cleanup(func() { _ = stop() })
	demo := n.Demo()
	base := fmt.Sprintf("http://%s", n.APIAddr())
	_, tok, err := LocalAPI(filepath.Join(mnt, "data"))
	if err != nil {
		t.Fatal(err)
	}
	admin := api.NewClient(base, tok, nil)
	ctx := context.Background()
	c := dial(t, n, "key="+demo.Subscriber)
	waitConns(t, n, 1)
	spare, err := admin.Create(ctx, api.KeyRequest{Label: "rotated on a full disk"})
	if err != nil {
		t.Fatal(err)
	}

	filler := fill(t, mnt)
	// bbolt reuses freed pages, so the first writes may still fit; keep
	// creating keys until one does not.
	var refused *api.APIError
	for i := 0; refused == nil; i++ {
		if i == 5000 {
			t.Fatal("5000 keys created on a full disk: no write ever failed")
		}
		_, err := admin.Create(ctx, api.KeyRequest{Label: fmt.Sprintf("on a full disk %d", i)})
		if err != nil && !errors.As(err, &refused) {
			t.Fatal(err)
		}
	}
	if refused.Status != http.StatusInsufficientStorage || !strings.Contains(refused.Message, "no space left on device") {
		t.Fatalf("key change on a full disk: %v; want 507 naming ENOSPC", refused)
	}
	t.Logf("refused: %v", refused)
	// A rotation is a rewrite of one record: it too may fit in pages the
	// failed writes freed, but not for long.
	for i := 0; ; i++ {
		_, err := admin.Rotate(ctx, spare.Key.ID)
		if err == nil && i < 100 {
			continue
		}
		var rotRefused *api.APIError
		if !errors.As(err, &rotRefused) || rotRefused.Status != http.StatusInsufficientStorage {
			t.Fatalf("rotation %d on a full disk: %v; want 507", i, err)
		}
		break
	}

	// Still serving: the connected client gets pings, a new one connects,
	// usage keeps counting in memory while flushes fail.
	for i := range 20 {
		if code, body := postPings(t, n, demo.Ingest, fmt.Sprintf(`{"site":"shopify","sku":"full-%d"}`, i)); code != http.StatusAccepted {
			t.Fatalf("ingest on a full disk: %d %s", code, body)
		}
		if got := readPing(t, c); !strings.Contains(string(got), fmt.Sprintf(`"full-%d"`, i)) {
			t.Fatalf("client got %s", got)
		}
	}
	c2 := dial(t, n, "key="+demo.Subscriber)
	waitConns(t, n, 2)
	c2.Close()
	code, body := get(t, base+"/readyz")
	if code != http.StatusOK || !strings.Contains(body, "store: degraded") || !strings.Contains(body, "no space left on device") {
		t.Errorf("/readyz on a full disk: %d %q; want 200 with the store degraded", code, body)
	}
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, "stellarfeed_store_writable 0\n") {
		t.Error("/metrics lacks stellarfeed_store_writable 0")
	}
	// Many failed writes (probes every 20 ms, flushes that do not fit in
	// freed pages), one log line.
	waitFor(t, 5*time.Second, "several failed writes", func() bool {
		return n.metrics.GetOrCreateCounter("stellarfeed_store_write_errors_total").Get() >= 10
	})
	if got := rec.count("data directory not writable"); got != 1 {
		t.Errorf("%d log lines for the outage, want 1", got)
	}
	flushFailed := rec.count("key usage flush failed")
	if flushFailed > 1 {
		t.Errorf("%d usage flush failures logged, want at most 1", flushFailed)
	}
	id := mustKeyID(t, n, demo.Subscriber)
	before, _ := n.Keys().Usage(id)

	// Space returns.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "recovery logged", func() bool { return rec.count("data directory writable again") == 1 })
	_, metrics = get(t, base+"/metrics")
	if !strings.Contains(metrics, "stellarfeed_store_writable 1\n") {
		t.Error("/metrics lacks stellarfeed_store_writable 1 after recovery")
	}
	if code, body := get(t, base+"/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz after recovery: %d %q", code, body)
	}
	if _, err := admin.Create(ctx, api.KeyRequest{Label: "after recovery"}); err != nil {
		t.Fatalf("key change after recovery: %v", err)
	}
	recovered := time.Now()
	dial(t, n, "key="+demo.Subscriber).Close() // usage to flush
	waitFor(t, 5*time.Second, "usage flushed after recovery", func() bool { return n.Keys().LastFlush().After(recovered) })
	if flushFailed == 1 {
		waitFor(t, 5*time.Second, "flusher logs its recovery", func() bool { return rec.count("key usage flushed again") == 1 })
	}
	t.Logf("failed writes during the outage: %d; usage flush failures logged: %d",
		n.metrics.GetOrCreateCounter("stellarfeed_store_write_errors_total").Get(), flushFailed)

	// The usage counted during the outage reached the disk: reopen.
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	st := openKeys(t, filepath.Join(mnt, "data"), true)
	after, _ := st.Usage(id)
	if after.Connections < before.Connections || before.Connections < 2 {
		t.Errorf("connections on disk after recovery %d, counted during the outage %d (want ≥ 2 and kept)", after.Connections, before.Connections)
	}
}

func mustKeyID(t *testing.T, n *Node, secret string) string {
	t.Helper()
	k, err := n.Keys().Check(secret, keys.KindSubscriber, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return k.ID
}

// TestReadOnlyDataDir: a node restarted while its data directory is on a
// read-only file system (after ext4's errors=remount-ro, say) starts
// anyway from a read-only store: it authenticates the keys it has and
// broadcasts, refuses key changes with 507, and says it is degraded and
// why. Linux will not remount a file system read-only while a file on it
// is open for writing, so the remount happens between the two runs.
func TestReadOnlyDataDir(t *testing.T) {
	mnt := mountTmpfs(t, 4<<20)
	dir := filepath.Join(mnt, "data")
	// With the engine on the demo simulator: its dedupe state is loaded
	// and its saves fail without stopping it.
	cfg := Config{DataDir: dir, Demo: true, Sim: true, RunEngine: true, WSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	demo := n.Demo()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", mnt, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount read-only: %v", err)
	}

	rec := &logRecorder{}
	cfg.Logger = slog.New(rec)
	n, err = Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start on a read-only data directory: %v", err)
	}
	defer func() {
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	}()
	if n.Demo() != demo {
		t.Errorf("demo keys %+v, want the stored %+v", n.Demo(), demo)
	}
	c := dial(t, n, "key="+demo.Subscriber)
	waitConns(t, n, 1)
	if code, body := postPings(t, n, demo.Ingest, `{"site":"shopify","sku":"ro-1"}`); code != http.StatusAccepted {
		t.Fatalf("ingest: %d %s", code, body)
	}
	for got := readPing(t, c); !strings.Contains(string(got), `"ro-1"`); got = readPing(t, c) {
		// a restock of the simulator's
	}
	base := "http://" + n.APIAddr().String()
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = api.NewClient(base, strings.TrimSpace(string(tok)), nil).Create(context.Background(), api.KeyRequest{Label: "x"})
	var ae *api.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusInsufficientStorage {
		t.Errorf("key change on a read-only data directory: %v, want 507", err)
	}
	code, body := get(t, base+"/readyz")
	if code != http.StatusOK || !strings.Contains(body, "store: degraded") || !strings.Contains(body, "read-only file system") || !strings.Contains(body, "restart") {
		t.Errorf("/readyz: %d %q", code, body)
	}
	if _, m := get(t, base+"/metrics"); !strings.Contains(m, "stellarfeed_store_writable 0\n") {
		t.Error("/metrics lacks stellarfeed_store_writable 0")
	}
	if got := rec.count("data directory not writable"); got != 1 {
		t.Errorf("%d log lines for the read-only data directory, want 1", got)
	}
}
