package keys

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestUnwritableStore: on a store that cannot be written (here a read-only
// bbolt handle; the node's tests use a full tmpfs), changes fail with
// ErrUnwritable and leave memory as it was, usage stays counted for the
// next flush, every write reports to the observer, and the last flush time
// survives a reopen.
func TestUnwritableStore(t *testing.T) {
	c := newClock(t0)
	st, path, reopen := newStore(t, c)
	secret, k := mustCreate(t, st, Options{Kind: KindSubscriber, Label: "bot"})
	st.Connected(k.ID, netip.MustParseAddr("127.0.0.1"))
	if err := st.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := st.LastFlush(); !got.Equal(t0) {
		t.Fatalf("LastFlush %v, want %v", got, t0)
	}
	st = reopen()
	if got := st.LastFlush(); !got.Equal(t0) {
		t.Fatalf("LastFlush after reopen %v, want %v", got, t0)
	}

	// The same file, read-only.
	st.db.Close()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var observed []error
	ro, err := Open(db, WithClock(c.now), WithWriteObserver(func(err error) { observed = append(observed, err) }))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ro.Create(Options{Kind: KindSubscriber}); !errors.Is(err, ErrUnwritable) {
		t.Errorf("Create: %v, want ErrUnwritable", err)
	}
	if _, _, err := ro.Rotate(k.ID); !errors.Is(err, ErrUnwritable) {
		t.Errorf("Rotate: %v, want ErrUnwritable", err)
	}
	if _, err := ro.Check(secret, KindSubscriber, t0); err != nil {
		t.Errorf("the old secret no longer works after a failed rotation: %v", err)
	}
	if n := len(ro.List()); n != 1 {
		t.Errorf("%d keys after failed changes, want 1", n)
	}
	ro.Connected(k.ID, netip.MustParseAddr("127.0.0.1"))
	c.add(time.Minute)
	for range 2 {
		if err := ro.Flush(); !errors.Is(err, ErrUnwritable) {
			t.Fatalf("Flush: %v, want ErrUnwritable", err)
		}
	}
	if u, _ := ro.Usage(k.ID); u.Connections != 2 {
		t.Errorf("usage after failed flushes: %d connections, want 2", u.Connections)
	}
	if got := ro.LastFlush(); !got.Equal(t0) {
		t.Errorf("LastFlush moved to %v on a failed flush", got)
	}
	if len(observed) != 4 {
		t.Errorf("observer saw %d writes, want 4 (create, rotate, 2 flushes)", len(observed))
	}
	for i, err := range observed {
		if err == nil {
			t.Errorf("observed write %d succeeded", i)
		}
	}
}
