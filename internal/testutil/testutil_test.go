package testutil

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a testing.TB that records failures instead of reporting
// them, so the helpers' failure paths can be tested.
type recorder struct {
	testing.TB
	failed  bool
	skipped bool
	msg     string
}

func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msg = format
	if len(args) > 0 {
		r.msg = strings.TrimSpace(fmt.Sprintf(format, args...))
	}
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

// run calls f on a recorder in its own goroutine, as testing does, so
// Fatalf's Goexit ends only f.
func run(f func(tb testing.TB)) *recorder {
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func TestEventually(t *testing.T) {
	n := 0
	r := run(func(tb testing.TB) {
		Eventually(tb, time.Second, time.Millisecond, func() error {
			if n++; n < 3 {
				return errors.New("not yet")
			}
			return nil
		})
	})
	if r.failed || n != 3 {
		t.Fatalf("failed=%v (%s) after %d calls, want success on the third", r.failed, r.msg, n)
	}
	r = run(func(tb testing.TB) {
		Eventually(tb, 5*time.Millisecond, time.Millisecond, func() error { return errors.New("never") })
	})
	if !r.failed || !strings.Contains(r.msg, "never") {
		t.Fatalf("failed=%v msg=%q, want a failure carrying cond's error", r.failed, r.msg)
	}
}

func TestSyncBuffer(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Fatalf("len = %d, want 800", got)
	}
	b.Reset()
	if b.String() != "" {
		t.Fatal("Reset kept data")
	}
}

func TestGolden(t *testing.T) {
	if Updating() {
		t.Skip("-update would rewrite this test's own files")
	}
	path := filepath.Join(t.TempDir(), "x.golden")
	if r := run(func(tb testing.TB) { Golden(tb, path, []byte("a")) }); !r.failed || !strings.Contains(r.msg, "-update") {
		t.Fatalf("missing file: failed=%v msg=%q, want a failure that names -update", r.failed, r.msg)
	}
	if err := os.WriteFile(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := run(func(tb testing.TB) { Golden(tb, path, []byte("abc")) }); r.failed {
		t.Fatalf("equal content failed: %s", r.msg)
	}
	if r := run(func(tb testing.TB) { Golden(tb, path, []byte("abd")) }); !r.failed {
		t.Fatal("different content passed")
	}
	long := strings.Repeat("a", 5000)
	msg := diff([]byte(long+"X"), []byte(long+"Y"))
	if !strings.Contains(msg, "first difference at byte 5000") || len(msg) > 400 {
		t.Fatalf("long diff = %.200q…, want the offset and a short excerpt", msg)
	}
}

func TestSharedDir(t *testing.T) {
	dir := SharedDir()
	if dir == "" {
		r := run(func(tb testing.TB) { SharedFile(tb, "fixtures/none.html") })
		if r.failed || !r.skipped || !strings.Contains(r.msg, "fixtures/none.html") {
			t.Fatalf("SharedFile without ../shared: failed=%v skipped=%v %q, want a skip naming the file", r.failed, r.skipped, r.msg)
		}
		t.Skip("no ../shared next to the module root")
	}
	if filepath.Base(dir) != "shared" {
		t.Fatalf("SharedDir = %q", dir)
	}
	if filepath.Dir(dir) != filepath.Dir(mustModuleDir(t)) {
		t.Fatalf("SharedDir %q is not next to the module root %s", dir, mustModuleDir(t))
	}
	r := run(func(tb testing.TB) { SharedFile(tb, "no/such/file") })
	if r.failed || !r.skipped || !strings.Contains(r.msg, "no/such/file") {
		t.Fatalf("absent file: failed=%v skipped=%v %q, want a skip naming the file", r.failed, r.skipped, r.msg)
	}
}

func mustModuleDir(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(filepath.Dir(wd)) // internal/testutil → module root
}

func TestServe(t *testing.T) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") })}
	url := Serve(t, srv)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "ok" || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("GET %s = %q", url, b)
	}
}
