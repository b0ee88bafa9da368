package config

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watch calls Loader{}.Watch.
func Watch(ctx context.Context, path string, debounce time.Duration, onChange func(*Config, error)) error {
	return Loader{}.Watch(ctx, path, debounce, onChange)
}

// Watch reloads the config at path whenever it (or the proxy file it
// names) changes, and calls onChange with the new config or with the
// parse error; on error the caller keeps running the old config. It
// watches the directories rather than the files because editors save by
// writing a temporary file and renaming it over the original, which ends a
// watch on the file itself. Events are debounced: onChange runs once
// debounce has passed with no new event, and not at all when the bytes
// are unchanged since the last call or since Watch started (so start Watch
// right after the initial Load: an edit in between is seen with the next).
//
// Watch blocks until ctx ends and returns nil then, or an error if the
// watch cannot be set up. It leaves no goroutine behind.
func (l Loader) Watch(ctx context.Context, path string, debounce time.Duration, onChange func(*Config, error)) error {
	if debounce <= 0 {
		debounce = 250 * time.Millisecond
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config watch %s: %w", path, err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config watch %s: %w", path, err)
	}
	defer w.Close()

	dirs := map[string]bool{}
	files := map[string]bool{}
	// track sets the files that matter: the config, plus the proxy file
	// of the last good load.
	track := func(cfg *Config) error {
		want := []string{abs}
		if cfg != nil && cfg.Engine.ProxyFile != "" {
			pf := cfg.Engine.ProxyFile
			if !filepath.IsAbs(pf) {
				pf = filepath.Join(filepath.Dir(abs), pf)
			}
			want = append(want, filepath.Clean(pf))
		}
		clear(files)
		for _, f := range want {
			files[f] = true
			dir := filepath.Dir(f)
			if !dirs[dir] {
				if err := w.Add(dir); err != nil {
					return err
				}
				dirs[dir] = true
			}
		}
		return nil
	}
	cur, _ := l.Load(path) // only to learn the proxy file; the caller has its own copy
	if err := track(cur); err != nil {
		return fmt.Errorf("config watch %s: %w", path, err)
	}
	last := fingerprint(abs, files)

	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if files[filepath.Clean(ev.Name)] {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			// A watcher error (e.g. queue overflow) says nothing about the
			// config: log it and check the file on the next tick anyway.
			slog.Warn("config watch", "file", path, "err", err)
			timer.Reset(debounce)
		case <-timer.C:
			fp := fingerprint(abs, files)
			if fp == last {
				if l.checked != nil {
					l.checked(false)
				}
				continue
			}
			last = fp
			cfg, err := l.Load(path)
			if err == nil {
				if terr := track(cfg); terr != nil {
					slog.Warn("config watch: cannot watch proxy file", "file", cfg.Engine.ProxyFile, "err", terr)
				}
				// Files may have been added to the set: record their bytes.
				last = fingerprint(abs, files)
			}
			onChange(cfg, err)
			if l.checked != nil {
				l.checked(true)
			}
		}
	}
}

// fingerprint hashes the watched files' contents, config first; a missing
// file hashes as a marker so deleting it counts as a change.
func fingerprint(main string, files map[string]bool) [sha256.Size]byte {
	h := sha256.New()
	names := []string{main}
	for f := range files {
		if f != main {
			names = append(names, f)
		}
	}
	slices.Sort(names[1:])
	for _, f := range names {
		data, err := os.ReadFile(f)
		fmt.Fprintf(h, "%s\x00%d\x00%t\x00", f, len(data), err != nil)
		h.Write(data)
	}
	var out [sha256.Size]byte
	h.Sum(out[:0])
	return out
}
