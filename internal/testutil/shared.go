package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir is the ../shared directory next to the module root (the
// directory holding go.mod): real pages and fixtures too large or too
// sensitive for the repository live there. It returns "" when there is
// none.
func SharedDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if fi, err := os.Stat(shared); err != nil || !fi.IsDir() {
		return ""
	}
	return shared
}

// SharedFile reads rel under SharedDir. When the file is absent the test
// is skipped with a message naming it, so a run without ../shared says
// what it did not test.
func SharedFile(tb testing.TB, rel string) []byte {
	tb.Helper()
	dir := SharedDir()
	if dir == "" {
		tb.Skipf("../shared (next to the module root) is absent: skipping, this test needs ../shared/%s", rel)
	}
	b, err := os.ReadFile(filepath.Join(dir, rel))
	if os.IsNotExist(err) {
		tb.Skipf("../shared/%s is absent: skipping", rel)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
