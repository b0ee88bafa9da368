package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stellarfeed/stellarfeed/internal/testutil"
)

type reload struct {
	cfg *Config
	err error
}

// saveByRename writes content the way editors do: a temporary file renamed
// over the original, which replaces the inode a file watch would follow.
func saveByRename(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp~"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "m.yaml", "server: {ws: ':9001'}\n")
	writeFile(t, dir, "proxies.txt", "10.0.0.1:8080\n")

	var mu sync.Mutex
	var got []reload
	looked := make(chan struct{}, 100)
	l := testLoader
	l.checked = func(bool) {
		select {
		case looked <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- l.Watch(ctx, path, 20*time.Millisecond, func(c *Config, err error) {
			mu.Lock()
			got = append(got, reload{c, err})
			mu.Unlock()
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch returned %v", err)
		}
	}()
	// waitFor re-saves until the watcher reports (the first save may land
	// before the watch is set up, and then reads as the starting state:
	// each save differs by a comment so a later one counts as a change).
	saves := 0
	waitFor := func(content string, ok func(reload) error) {
		t.Helper()
		testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
			mu.Lock()
			defer mu.Unlock()
			if len(got) > 0 {
				if err := ok(got[len(got)-1]); err == nil {
					return nil
				}
			}
			saves++
			saveByRename(t, path, fmt.Sprintf("%s# save %d\n", content, saves))
			return fmt.Errorf("no matching reload yet (%d reloads)", len(got))
		})
	}

	good := "server: {ws: ':9002'}\nengine: {proxyFile: proxies.txt}\n"
	waitFor(good, func(r reload) error {
		if r.err != nil || r.cfg.Server.WS != ":9002" {
			return fmt.Errorf("got %+v", r)
		}
		return nil
	})

	broken := "server: {ws: ':9003'}\ntargets:\n  - {site: amazon, region: US, sku: B0CHX1W1XY}\n"
	wantErr := path + `:3:28: targets[0].region: "US" is not one of ` + regionList
	waitFor(broken, func(r reload) error {
		var ce *Error
		if r.cfg != nil || !errors.As(r.err, &ce) || r.err.Error() != wantErr {
			return fmt.Errorf("got %+v", r)
		}
		return nil
	})

	// Back to good, then a change to the proxy file alone reloads too.
	waitFor(good, func(r reload) error {
		if r.err != nil {
			return r.err
		}
		return nil
	})
	mu.Lock()
	n := len(got)
	mu.Unlock()
	testutil.Eventually(t, 10*time.Second, 50*time.Millisecond, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) > n {
			last := got[len(got)-1]
			if last.err == nil && strings.Join(last.cfg.Engine.Proxies, ",") == "http://10.0.0.2:8080" {
				return nil
			}
		}
		saves++
		saveByRename(t, filepath.Join(dir, "proxies.txt"), fmt.Sprintf("10.0.0.2:8080\n# save %d\n", saves))
		return errors.New("proxy file change not seen")
	})

	// Identical bytes do not call back.
	mu.Lock()
	n = len(got)
	mu.Unlock()
	current, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for len(looked) > 0 {
		<-looked
	}
	saveByRename(t, path, string(current))
	saveByRename(t, path, string(current))
	// Once the watcher has looked at the files after the saves, a changed
	// save behind them is the marker: when its reload came through, a
	// reload for the identical saves would be before it.
	select {
	case <-looked:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher never looked at the identical saves")
	}
	marker := "server: {ws: ':9004'}\nengine: {proxyFile: proxies.txt}\n"
	waitFor(marker, func(r reload) error {
		if r.err != nil || r.cfg.Server.WS != ":9004" {
			return fmt.Errorf("got %+v", r)
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	for _, r := range got[n:] {
		if r.err != nil || r.cfg.Server.WS != ":9004" {
			t.Errorf("unchanged save reported before the marker: %+v", r)
		}
	}
}

func TestWatchSetupError(t *testing.T) {
	err := testLoader.Watch(context.Background(), filepath.Join(t.TempDir(), "missing-dir", "m.yaml"), 0, func(*Config, error) {})
	if err == nil || !strings.Contains(err.Error(), "config watch") {
		t.Fatalf("got %v", err)
	}
}
