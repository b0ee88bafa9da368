package testutil

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Eventually polls cond every step until it returns nil, and fails t with
// cond's last error once total has passed. Tests wait on the event they
// expect instead of sleeping a guessed time.
func Eventually(t testing.TB, total, step time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", total, err)
		}
		time.Sleep(step)
	}
}

// SyncBuffer is a bytes.Buffer that several goroutines may write to (a
// logger's handler, a client's writers) while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns a copy of what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Reset discards what was written so far.
func (s *SyncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

var update = flag.Bool("update", false, "rewrite golden files from the code's current output")

// Updating reports whether the test binary runs with -update.
func Updating() bool { return *update }

// Golden compares got with the file at path. With -update it first writes
// got to path, so the run after an intended change shows the new file in
// review; the comparison still runs, so a write that failed is noticed.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("update %s: %v", path, err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update after checking the change): %s", path, diff(got, want))
	}
}

// diff shows both sides whole when they are short, else the first
// difference with some context: golden pages run to tens of kilobytes.
func diff(got, want []byte) string {
	const whole, context = 2048, 80
	if len(got) <= whole && len(want) <= whole {
		return fmt.Sprintf("\n got: %s\nwant: %s", got, want)
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-context)
	return fmt.Sprintf("%d vs %d bytes, first difference at byte %d:\n got: …%s…\nwant: …%s…",
		len(got), len(want), i, got[from:min(len(got), i+context)], want[from:min(len(want), i+context)])
}

// Testdata reads testdata/name of the package under test.
func Testdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
